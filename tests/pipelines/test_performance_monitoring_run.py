"""The performance-monitoring pipeline end to end with kfp.local, after a real training run.

The training pipeline trains ``penguins`` into a temporary registry once (module fixture); the
bundled serving batch is scored with the registered model into a predictions folder; the
pipeline then runs on the true labels (no degradation: nothing is sent, nothing retrained)
and on the shifted labels (degraded: the webhook on 127.0.0.1 receives the alert, and the
training pipeline runs again locally: a new version appears).
"""
import json
import os

import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.pipelines import local
from tests.conftest import PENGUINS_CSV, ROOT
from tests.support.predictions import write_predictions
from tests.support.webhook import failing_server

pytestmark = pytest.mark.slow

DATA = ROOT / "pipelines" / "data"
SERVING_CSV = str(DATA / "penguins_serving.csv")
GOOD_LABELS = str(DATA / "penguins_serving_labels.csv")
SHIFTED_LABELS = str(DATA / "penguins_serving_labels_shifted.csv")
TRAINING = {"epochs": 5, "hidden_units": [16]}
#: The serving batch is a sample of the data the model was trained and tested on; its
#: accuracy moves with the sample, so a few points of slack tell noise from a degradation.
ALLOWED = {"accuracy": 0.1}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("performance_run")
    registry = str(root / "registry")
    summary = local.run("training", {"data_uri": PENGUINS_CSV, "label_column": "species",
                                     "model_name": "penguins", "registry_uri": registry,
                                     **TRAINING}, str(root / "training"))
    assert summary.status == "SUCCESS", local.format_summary(summary)
    version = reg.open_registry(registry).resolve("penguins")
    predictions = write_predictions(version.model_dir, SERVING_CSV, str(root / "predictions"),
                                    "penguins", version.version, version.model_hash)
    return {"root": root, "registry": registry, "predictions": predictions}


def performance_run(scored, name, **params):
    args = {"predictions_uri": scored["predictions"], "registry_uri": scored["registry"],
            "max_degradation": ALLOWED}
    args.update(params)
    return local.run("performance-monitoring", args, str(scored["root"] / name))


def outputs(summary, task):
    return {t.name: t for t in summary.tasks}[task].outputs


def test_good_labels_then_shifted_labels_alert_and_retrain(scored):
    with failing_server(200) as (port, received):
        good = performance_run(scored, "good", labels_uri=GOOD_LABELS,
                               webhook_url=f"http://127.0.0.1:{port}/hook")
    assert good.status == "SUCCESS", local.format_summary(good)
    assert [t.name for t in good.tasks] == ["performance", "alert", "retrain"]
    assert outputs(good, "performance")["degraded"] is False
    assert received == []                                  # nothing to tell
    assert outputs(good, "retrain")["started"] is False

    with failing_server(200) as (port, received):
        shifted = performance_run(
            scored, "shifted", labels_uri=SHIFTED_LABELS,
            webhook_url=f"http://127.0.0.1:{port}/hook", retrain_on_degradation=True,
            retrain_data_uri=PENGUINS_CSV, label_column="species", model_name="penguins",
            training_parameters={"epochs": 3, "hidden_units": [8],
                                 "max_regression": {"accuracy": 1.0}})
    assert shifted.status == "SUCCESS", local.format_summary(shifted)
    checked = outputs(shifted, "performance")
    assert checked["degraded"] is True and checked["model_version"] == "1"
    report_dir = checked["performance_report"]["uri"]
    report = json.load(open(os.path.join(report_dir, "report.json")))
    assert report["check"] == "performance" and report["drift_detected"] is True
    assert [f["feature"] for f in report["findings"]] == ["accuracy"]
    assert checked["metrics"]["metadata"]["accuracy"] < \
        checked["metrics"]["metadata"]["baseline/accuracy"] - ALLOWED["accuracy"]
    assert received == ["/hook"]                            # the alert was delivered
    assert outputs(shifted, "retrain")["started"] is True
    assert reg.open_registry(scored["registry"]).resolve("penguins", "latest").version == 2

    history = reg.monitoring_history(scored["registry"], "penguins", 1)
    assert [(h["kind"], h["degraded"]) for h in history] == [("performance", False),
                                                             ("performance", True)]
