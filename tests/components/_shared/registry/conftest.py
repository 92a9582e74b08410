"""What the registry tests share: a fresh registry on every store, and registering the
real artifacts of ``tests/components/_shared/conftest.py`` into it."""
import os

import pytest

from kfp_mlops.components._shared import io

EVALUATION = {"metrics": {"accuracy": 0.9}, "slices": {}}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))


def lineage(run="run-1"):
    return {"data_content_hash": "d" * 64, "data_source": "penguins.csv", "pipeline_run": run}


def register(registry, parts, model="model_a", name="penguins", **kwargs):
    return registry.register(name, parts[model], parts["schema"], parts["statistics"],
                             EVALUATION, lineage(), **kwargs)


@pytest.fixture
def store(store_root):
    """A fresh registry on each back end (``store_root``: local, s3://, gs://)."""
    return store_root.rstrip("/") + "/registry"


def tree_hash(uri: str) -> str:
    with io.local_copy(uri) as local:
        return io.sha256_tree(local)
