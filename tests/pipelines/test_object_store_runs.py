"""The training pipeline, then the monitoring pipeline, with kfp.local, with the data and
the model registry on the S3 and the Cloud Storage servers started on loopback.

Each pipeline runs twice: the second training run finds the first's model as champion and
reports its version as already registered; the second monitoring run measures drift
against the first batch. The tasks are processes kfp.local starts: they reach the store
only through the environment (AWS_ENDPOINT_URL..., STORAGE_EMULATOR_HOST, NO_GCE_CHECK)
they inherit from this process, where the ``bucket_on`` fixture set it.
"""
import os

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.pipelines import local
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

DATA = ROOT / "pipelines" / "data"
TRAINING = {"epochs": 3, "hidden_units": [16]}


def outputs(summary, task):
    return {t.name: t for t in summary.tasks}[task].outputs


def _nothing_local_named(root, name: str) -> None:
    for folder, dirs, _ in os.walk(root):
        assert name not in dirs, f"a local {name!r} folder appeared in {folder}"


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_training_then_monitoring_twice_with_data_and_registry_on_a_store(scheme, bucket_on,
                                                                          tmp_path):
    env, bucket = bucket_on(scheme)
    assert {k: os.environ.get(k) for k in env} == env  # what the task processes inherit
    data = f"{scheme}://{bucket}/data"
    for name in ("penguins.csv", "penguins_serving.csv", "penguins_drifted.csv"):
        io.put_file(str(DATA / name), io.join(data, name))
    registry = f"{scheme}://{bucket}/registry"
    training = {"data_uri": io.join(data, "penguins.csv"), "label_column": "species",
                "model_name": "penguins", "registry_uri": registry, **TRAINING}

    first = local.run("training", training, str(tmp_path / "training-1"))
    assert first.status == "SUCCESS", local.format_summary(first)
    dataset = outputs(first, "ingest")["dataset"]["metadata"]
    assert dataset["source_files"] == [training["data_uri"]] and dataset["num_rows"] == 344
    assert outputs(first, "push")["pushed"] is True
    assert outputs(first, "push")["version"] == "1"
    assert io.exists(io.join(registry, "penguins"))  # the registry is on the store

    second = local.run("training", training, str(tmp_path / "training-2"))
    assert second.status == "SUCCESS", local.format_summary(second)
    reasons = outputs(second, "evaluate")["blessing"]["metadata"]["reasons"]
    assert any(r.startswith("passed champion comparison") for r in reasons), reasons
    pushed = outputs(second, "push")
    assert pushed["version"] == "1"  # the same data and seed: the same model, no new version
    assert pushed["pushed_model"]["metadata"]["already_registered"] is True

    monitoring = {"model_name": "penguins", "registry_uri": registry}
    batch_1 = local.run("monitoring", {**monitoring,
                                       "data_uri": io.join(data, "penguins_serving.csv")},
                        str(tmp_path / "monitoring-1"))
    assert batch_1.status == "SUCCESS", local.format_summary(batch_1)
    report_1 = outputs(batch_1, "monitor")["drift_report"]["metadata"]
    assert outputs(batch_1, "monitor")["drift_detected"] is False
    assert report_1["model_version"] == "1" and "drift_compared_with" not in report_1
    assert outputs(batch_1, "ingest")["dataset"]["metadata"]["source"] == io.join(
        data, "penguins_serving.csv")

    batch_2 = local.run("monitoring", {**monitoring,
                                       "data_uri": io.join(data, "penguins_drifted.csv")},
                        str(tmp_path / "monitoring-2"))
    assert batch_2.status == "SUCCESS", local.format_summary(batch_2)
    report_2 = outputs(batch_2, "monitor")["drift_report"]["metadata"]
    assert outputs(batch_2, "monitor")["drift_detected"] is True
    assert report_2["drift_compared_with"] == report_1["monitoring_seq"]
    assert report_2["monitoring_seq"] == report_1["monitoring_seq"] + 1
    _nothing_local_named(tmp_path, "registry")
