"""Packaging for kfp-mlops.

The repository's top-level folders are mapped into one namespace, so that a team that
installs us keeps its own ``components/`` and ``pipelines/`` packages:

    components/  ->  kfp_mlops.components
    pipelines/   ->  kfp_mlops.pipelines
    images/      ->  kfp_mlops.images

``pip install kfp-mlops`` needs only kfp: that is enough to import every component and
compile every pipeline. The ``runtime`` extra brings what the component bodies run
(TensorFlow, TFDV, the Google Cloud SDKs); the tested versions are in requirements.lock.
"""
import pathlib
import re

from setuptools import setup

ROOT = pathlib.Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (ROOT / "images" / "version.py").read_text(),
    re.M,
).group(1)

FOLDERS = {"components": "kfp_mlops.components", "pipelines": "kfp_mlops.pipelines",
           "images": "kfp_mlops.images"}


def _packages():
    """Every package under the mapped folders, with the folder each lives in.

    A folder without ``__init__.py`` is no package and is not shipped: ``images/tools`` (the
    developers' and CI's image builds and machine set-up) stays out of the wheel
    (tests/test_wheel.py).
    """
    package_dir = {}
    for folder, namespace in FOLDERS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            name = ".".join([namespace, *rel.parts[1:]])
            package_dir[name] = str(rel)
    return package_dir


PACKAGE_DIR = _packages()

setup(
    name="kfp-mlops",
    version=VERSION,
    description=("Kubeflow Pipelines components and pipelines for tabular ML: ingest, "
                 "validate, train, evaluate, push and monitor"),
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=sorted(PACKAGE_DIR),
    package_dir=PACKAGE_DIR,
    package_data={"kfp_mlops.pipelines": ["data/*.csv", "data/*.md"],
                  "kfp_mlops.components": ["*/component.yaml", "*/README.md", "*/metadata.yaml",
                                           "_shared/templates/*.html.j2",
                                           "_shared/templates/*.md.j2"]},
    install_requires=["kfp>=2.13,<3"],
    extras_require={
        "runtime": [
            "tensorflow>=2.16,<2.17",
            "tensorflow-data-validation>=1.16,<1.17",
            "pandas>=1.5,<2",
            "pyarrow>=10,<11",
            "google-cloud-aiplatform>=1.60",
            "google-cloud-bigquery>=3",
            "google-cloud-storage>=2",
            "google-cloud-pubsub>=2",
            "scikit-learn>=1.3",
            "fsspec>=2024.6",
            "gcsfs>=2024.6",
            "s3fs>=2024.6",
            "jinja2>=3.1",
            "matplotlib>=3.8",
            "tenacity>=8",
            "google-cloud-logging>=3",
            "mlflow>=3,<4",
        ],
        # kfp-mlops run --runner docker: kfp.local's DockerRunner needs the Docker client
        "docker": ["docker>=7"],
    },
    entry_points={"console_scripts": ["kfp-mlops=kfp_mlops.pipelines.cli:main"]},
)
