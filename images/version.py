"""The version of kfp-mlops, held once.

It sits at the bottom of the package, beside the module that turns it into every image's
tag (``kfp_mlops.images.DEFAULT_TAG``): components import ``kfp_mlops.images`` for their
image, so the version is readable without importing the pipelines package above them (as
GCPC keeps ``google_cloud_pipeline_components/version.py`` for its ``_image.py``).
``setup.py`` reads it from this file, and the pipelines package re-exports it.
"""
__version__ = "0.1.0"
