"""kfp-mlops pipelines: the pipelines composed from the components, and the CLI.

Importing this package needs only kfp.
"""
__version__ = "0.1.0"
