"""kfp-mlops pipelines: the pipelines composed from the components, and the CLI.

Importing this package needs only kfp.
"""
from kfp_mlops.images.version import __version__

__all__ = ["__version__"]
