"""Registries and serving batches for the monitor tests, built from real data with TFDV.

A registered version here holds a real schema and real baseline statistics (validate's
outputs on the data); its model folder is a placeholder, since monitoring never loads the
model (the training pipeline end to end is in tests/pipelines/test_monitoring_run.py).
"""
import os
import shutil

import pytest

from tests.conftest import ROOT

SERVING_CSV = str(ROOT / "pipelines" / "data" / "penguins_serving.csv")
DRIFTED_CSV = str(ROOT / "pipelines" / "data" / "penguins_drifted.csv")


def register_version(root: str, work: str, source: str, label: str, model_name: str) -> str:
    """Ingest + validate ``source`` and register the schema/statistics as a version."""
    from kfp_mlops.components._shared import registry as reg
    from kfp_mlops.components.ingest import core as ingest
    from kfp_mlops.components.validate import core as validate

    dataset = os.path.join(work, "train_dataset")
    ingest.ingest(source, dataset, label_column=label)
    validate.validate(dataset, os.path.join(work, "statistics"), os.path.join(work, "schema"),
                      os.path.join(work, "anomalies"), os.path.join(work, "report.html"),
                      label_column=label)
    model = os.path.join(work, "model")
    os.makedirs(model)
    with open(os.path.join(model, "saved_model.pb"), "wb") as f:
        f.write(b"placeholder: monitoring reads the schema and statistics, not the model")
    reg.LocalRegistry(root).register(
        model_name, model, os.path.join(work, "schema"), os.path.join(work, "statistics"),
        evaluation={}, lineage={"data_source": source, "model_info": {"label": label}})
    return root


@pytest.fixture(scope="session")
def penguins_registry(tmp_path_factory, penguins_csv):
    """A registry holding ``penguins`` version 1 (champion) trained on penguins.csv."""
    work = tmp_path_factory.mktemp("penguins_registry")
    return register_version(str(work / "registry"), str(work), penguins_csv, "species",
                            "penguins")


@pytest.fixture
def registry(penguins_registry, tmp_path):
    """A private copy of :func:`penguins_registry` a test may add monitoring entries to."""
    copy = str(tmp_path / "registry")
    shutil.copytree(penguins_registry, copy)
    return copy


@pytest.fixture
def batch(tmp_path):
    """``batch(source_or_frame, name) -> dataset dir``: every row in one split, by ingest."""
    from kfp_mlops.components.ingest import core as ingest

    def make(source, name="batch"):
        if not isinstance(source, str):   # a pandas DataFrame
            path = str(tmp_path / f"{name}.csv")
            source.to_csv(path, index=False)
            source = path
        out = str(tmp_path / name)
        ingest.ingest(source, out, split_ratios=(1.0, 0.0, 0.0))
        return out
    return make


@pytest.fixture
def outputs(tmp_path):
    """``outputs(prefix)`` -> the output keyword arguments of ``core.monitor``."""
    def make(prefix="out"):
        return {"statistics_dir": str(tmp_path / prefix / "statistics"),
                "report_dir": str(tmp_path / prefix / "drift_report"),
                "report_path": str(tmp_path / prefix / "report.html")}
    return make


@pytest.fixture
def serving_frame():
    import pandas as pd

    return pd.read_csv(SERVING_CSV)
