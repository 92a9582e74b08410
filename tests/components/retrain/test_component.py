"""The retrain shell through ``python_func`` with real KFP artifacts."""
import json

from kfp.dsl import Artifact

from kfp_mlops.components.retrain.component import retrain
from tests.components.retrain.test_core import REPORT, pipeline_job_class


def _report(tmp_path, report):
    (tmp_path / "drift_report").mkdir()
    (tmp_path / "drift_report" / "report.json").write_text(json.dumps(report))
    return Artifact(name="drift_report", uri=str(tmp_path / "drift_report"), metadata={})


def test_shell_gate_off(tmp_path):
    out = Artifact(name="retraining", uri=str(tmp_path / "retraining"), metadata={})
    result = retrain.python_func(drift_report=_report(tmp_path, REPORT), retraining=out)
    assert result.started is False and result.run_name == ""
    assert "retrain_on_drift is false" in out.metadata["reason"]


def test_shell_vertex(tmp_path):
    out = Artifact(name="retraining", uri=str(tmp_path / "retraining"), metadata={})
    with pipeline_job_class() as job_class:
        job_class.return_value.resource_name = "projects/1/locations/europe-west4/pipelineJobs/r1"
        result = retrain.python_func(
            drift_report=_report(tmp_path, REPORT), retraining=out, retrain_on_drift=True,
            retrain_target="vertex", retrain_data_uri="gs://b/penguins.csv",
            label_column="species", training_template_uri="gs://b/training.yaml",
            project="proj-1", region="europe-west4", pipeline_root="gs://b/root",
            retrain_run_name="r1", training_parameters={"epochs": 5})
    assert result.started is True and result.run_name == "r1"
    assert out.metadata["dashboard_uri"].endswith("/pipelines/runs/r1?project=proj-1")
    job_class.assert_called_once_with(
        display_name="training (retrain penguins on drift)",
        template_path="gs://b/training.yaml", job_id="r1", pipeline_root="gs://b/root",
        parameter_values={"data_uri": "gs://b/penguins.csv", "label_column": "species",
                          "model_name": "penguins", "registry_uri": "/reg", "epochs": 5},
        enable_caching=None,
        labels={"managed_by": "kfp-mlops", "trigger": "drift", "model_name": "penguins"},
        project="proj-1", location="europe-west4")
    job_class.return_value.submit.assert_called_once_with(service_account=None)
