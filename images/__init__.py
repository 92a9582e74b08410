"""Every container image kfp-mlops uses, named once.

Each folder under ``images/`` holds the Dockerfile of one image. Components name their
image through :func:`uri` at the default registry and tag; ``kfp-mlops compile
--image-registry R --image-tag T`` rewrites every such reference in the compiled specs to
``R/<image>:T`` (the pipelines' compile helpers do). The default tag is the package
version (:mod:`kfp_mlops.images.version`), so a released package and its images always match.
"""
from kfp_mlops.images.version import __version__

#: Registry used when none is given: images built on this machine (podman names them so).
DEFAULT_REGISTRY = "localhost/kfp-mlops"
#: Tag used when none is given: the package version.
DEFAULT_TAG = __version__

#: TensorFlow, TFDV, pandas, pyarrow and the package: the data and model components.
PYTHON = "kfp-mlops-python"
#: The package and the Google Cloud SDKs, no TensorFlow: steps that only move files or call APIs.
PYTHON_SLIM = "kfp-mlops-python-slim"

#: image name -> folder under images/ holding its Dockerfile
IMAGES = {PYTHON: "python", PYTHON_SLIM: "python-slim"}

#: component name -> image it runs in
COMPONENT_IMAGES = {
    "ingest": PYTHON,
    "validate": PYTHON,
    "train": PYTHON,
    "evaluate": PYTHON,
    "push": PYTHON,   # the model card: Jinja2, matplotlib, the TFDV protos
    "monitor": PYTHON,
    "alert": PYTHON_SLIM,
    "retrain": PYTHON,
    "vertex_monitoring": PYTHON,
    "registry_alias": PYTHON_SLIM,
    "performance": PYTHON,
    "track": PYTHON,        # mlflow and google-cloud-aiplatform are in requirements.lock
    "predict": PYTHON,
}


def uri(image: str, registry: str = DEFAULT_REGISTRY, tag: str = DEFAULT_TAG) -> str:
    """``registry/image:tag`` for one of :data:`IMAGES`."""
    if image not in IMAGES:
        raise ValueError(f"unknown image {image!r}; images are {sorted(IMAGES)}")
    if not tag or tag == "latest":
        raise ValueError(f"image tag must be a fixed version, not {tag!r}")
    return f"{registry.rstrip('/')}/{image}:{tag}"


def component_image(component: str) -> str:
    """The default URI of the image a component runs in."""
    return uri(COMPONENT_IMAGES[component])
