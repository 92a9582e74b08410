"""retrain core: the gate, settings checks, and the exact Vertex AI PipelineJob request.

The local retraining (a real training pipeline run) is tested end to end in
tests/pipelines/test_monitoring_run.py.
"""
import json
import sys
from unittest import mock

import pytest

from kfp_mlops.components.retrain import core

REPORT = {"kind": "kfp-mlops.monitoring-report", "drift_detected": True,
          "reasons": ["training-serving skew of feature 'island': L_INFTY 0.46 > threshold 0.3"],
          "model": {"name": "penguins", "version": "1", "registry": "/reg"}}
VERTEX = dict(target="vertex", retrain_data_uri="bq://p.d.penguins", label_column="species",
              training_template_uri="https://europe-west4-kfp.pkg.dev/proj-1/kfp/training/v1",
              project="proj-1", region="europe-west4", pipeline_root="gs://bucket/root",
              service_account="runner@proj-1.iam.gserviceaccount.com",
              run_name="retrain-penguins-1", source_run="monitoring-2024")


def saved(tmp_path):
    return json.load(open(tmp_path / "out" / "retrain.json"))


def pipeline_job_class():
    """``aiplatform.PipelineJob`` as an autospec of the real class (a call that does not fit
    its signature fails), patched where the request is sent."""
    from google.cloud import aiplatform

    return mock.patch.object(aiplatform, "PipelineJob",
                             mock.create_autospec(aiplatform.PipelineJob))


def test_no_drift_does_nothing(tmp_path):
    result = core.retrain(dict(REPORT, drift_detected=False, reasons=[]), str(tmp_path / "out"),
                          retrain_on_drift=True, retrain_data_uri="d.csv",
                          label_column="species")
    assert not result.started and result.reason == "no drift detected: nothing to retrain"
    assert saved(tmp_path)["started"] is False


def test_drift_without_switch_records_why(tmp_path):
    result = core.retrain(REPORT, str(tmp_path / "out"))
    assert not result.started
    assert "retrain_on_drift is false" in result.reason and "1 findings" in result.reason


def test_missing_settings_fail_even_without_drift(tmp_path):
    with pytest.raises(core.RetrainError, match="needs retrain_data_uri, label_column"):
        core.retrain(dict(REPORT, drift_detected=False), str(tmp_path / "out"),
                     retrain_on_drift=True)
    with pytest.raises(core.RetrainError, match="needs training_template_uri, project"):
        core.retrain(REPORT, str(tmp_path / "out"), retrain_on_drift=True, target="vertex",
                     retrain_data_uri="bq://p.d.t", label_column="species")
    assert not (tmp_path / "out").exists()


def test_unknown_training_parameter(tmp_path):
    # kfp-mlops run refuses it, naming the pipeline's parameters (pipelines/local.py)
    expected = (r"^training_parameters: pipeline 'training' has no parameter 'epoch' "
                r"\(did you mean 'epochs'\?\); its parameters are: .*data_uri "
                r"\(String, required\)")
    with pytest.raises(core.RetrainError, match=expected):
        core.retrain(REPORT, str(tmp_path / "out"), retrain_on_drift=True,
                     retrain_data_uri="d.csv", label_column="species",
                     extra_parameters={"epoch": 3})
    with pytest.raises(core.RetrainError, match="must not set \\['data_uri'\\]"):
        core.retrain(REPORT, str(tmp_path / "out"), retrain_on_drift=True,
                     retrain_data_uri="d.csv", label_column="species",
                     extra_parameters={"data_uri": "x"})


def test_vertex_submits_the_training_template(tmp_path):
    with pipeline_job_class() as job_class:
        job_class.return_value.resource_name = (
            "projects/123/locations/europe-west4/pipelineJobs/retrain-penguins-1")
        result = core.retrain(REPORT, str(tmp_path / "out"), retrain_on_drift=True,
                              extra_parameters={"epochs": 50}, **VERTEX)
    job_class.assert_called_once_with(
        display_name="training (retrain penguins on drift)",
        template_path="https://europe-west4-kfp.pkg.dev/proj-1/kfp/training/v1",
        job_id="retrain-penguins-1",
        pipeline_root="gs://bucket/root",
        parameter_values={"data_uri": "bq://p.d.penguins", "label_column": "species",
                          "model_name": "penguins", "registry_uri": "/reg", "epochs": 50},
        enable_caching=None,  # the template's compiled per-task caching
        labels={"managed_by": "kfp-mlops", "trigger": "drift", "model_name": "penguins",
                "monitoring_run": "monitoring-2024"},
        project="proj-1",
        location="europe-west4")
    job_class.return_value.submit.assert_called_once_with(
        service_account="runner@proj-1.iam.gserviceaccount.com")
    assert result.started and result.status == "SUBMITTED"
    assert result.dashboard_uri == ("https://console.cloud.google.com/vertex-ai/locations/"
                                    "europe-west4/pipelines/runs/retrain-penguins-1"
                                    "?project=proj-1")
    record = saved(tmp_path)
    assert record["resource_name"].endswith("/pipelineJobs/retrain-penguins-1")
    assert record["parameters"]["registry_uri"] == "/reg"


def test_vertex_generated_job_id(tmp_path):
    settings = dict(VERTEX, run_name="")
    with pipeline_job_class() as job_class:
        job_class.return_value.resource_name = "projects/1/locations/x/pipelineJobs/j"
        core.retrain(REPORT, str(tmp_path / "out"), retrain_on_drift=True, **settings)
    job_id = job_class.call_args.kwargs["job_id"]
    assert job_id.startswith("training-retrain-penguins-") and job_id[-14:].isdigit()


@pytest.mark.parametrize("change,message", [
    ({"project": "P"}, "project 'P': expected a Google Cloud project id"),
    ({"pipeline_root": "/tmp/root"}, "needs a gs:// folder"),
    ({"training_template_uri": "nowhere.yaml"}, "expected a compiled training.yaml"),
    ({"target": "kubeflow"}, "expected one of local, vertex"),
])
def test_bad_vertex_settings(tmp_path, change, message):
    with pytest.raises(core.RetrainError, match=message):
        core.retrain(REPORT, str(tmp_path / "out"), retrain_on_drift=True,
                     **dict(VERTEX, **change))


def test_the_local_run_is_the_kfp_mlops_command(tmp_path):
    """The command a user would type: ``kfp-mlops run training --local --param ...``, every
    value written as ``--param`` takes it (a KFP struct's whole floats as integers)."""
    params = core.training_parameters("d.csv", "species", "penguins", "/reg",
                                      {"epochs": 50.0, "hidden_units": [8.0, 4.0],
                                       "learning_rate": 0.5, "thresholds": {"auc": 0.9},
                                       "fail_on_anomalies": False})
    command = core.cli_command(params, str(tmp_path / "run"), str(tmp_path / "summary.json"))
    assert command == [
        sys.executable, "-m", "kfp_mlops.pipelines.cli", "run", "training",
        "--param", "data_uri=d.csv", "--param", "label_column=species",
        "--param", "model_name=penguins", "--param", "registry_uri=/reg",
        "--param", "epochs=50", "--param", "hidden_units=[8, 4]",
        "--param", "learning_rate=0.5", "--param", 'thresholds={"auc": 0.9}',
        "--param", "fail_on_anomalies=false",
        "--output-dir", str(tmp_path / "run"), "--summary-json", str(tmp_path / "summary.json")]
    assert core.cli_command(params)[-1] == "--dry-run"
    assert "--output-dir" not in core.cli_command(params)
