"""vertex_monitoring: the exact ModelDeploymentMonitoringJob.create call, aiplatform mocked
at the API boundary (Endpoint and ModelDeploymentMonitoringJob, as autospecs of the real
classes: a call that does not fit their signatures fails); the model_monitoring config
classes and the DeployedModel protos are the real ones."""
import contextlib
import json
from unittest import mock

import pytest
from kfp.dsl import Artifact

from kfp_mlops.components.vertex_monitoring import core
from kfp_mlops.components.vertex_monitoring.component import vertex_monitoring
from tests.components.monitor.conftest import register_version

ENDPOINT = "projects/proj-1/locations/europe-west4/endpoints/555"
FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
            "sex", "year"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory, penguins_csv):
    work = tmp_path_factory.mktemp("vertex_monitoring")
    return register_version(str(work / "registry"), str(work), penguins_csv, "species",
                            "penguins")


def settings(registry, **change):
    base = dict(project="proj-1", region="europe-west4", endpoint="penguins-endpoint",
                registry_uri=registry, model_name="penguins",
                training_data_uri="bq://proj-1.ml.penguins_train",
                skew_thresholds={"island": 0.2}, drift_threshold=0.25,
                drift_thresholds={"body_mass_g": 0.1}, sample_rate=0.5,
                monitor_interval_hours=6, alert_emails=["ml-team@example.com"])
    base.update(change)
    return base


def endpoint_mock():
    """An ``aiplatform.Endpoint`` serving two deployments (the second is penguins v1)."""
    from google.cloud.aiplatform import models  # the real class: only aiplatform.* is patched
    from google.cloud.aiplatform.compat.types import endpoint as gca_endpoint

    endpoint = mock.create_autospec(models.Endpoint, instance=True)
    endpoint.resource_name = ENDPOINT
    endpoint.list_models.return_value = [
        gca_endpoint.DeployedModel(id="111", model="projects/1/models/other",
                                   model_version_id="1", display_name="other-v1"),
        gca_endpoint.DeployedModel(id="222", model="x", model_version_id="1",
                                   display_name="penguins-v1")]
    return endpoint


@contextlib.contextmanager
def aiplatform_classes():
    """``(Endpoint, ModelDeploymentMonitoringJob)``: autospecs patched into aiplatform."""
    from google.cloud import aiplatform

    endpoint_class = mock.create_autospec(aiplatform.Endpoint)
    job_class = mock.create_autospec(aiplatform.ModelDeploymentMonitoringJob)
    with mock.patch.object(aiplatform, "Endpoint", endpoint_class), \
            mock.patch.object(aiplatform, "ModelDeploymentMonitoringJob", job_class):
        yield endpoint_class, job_class


def test_create_call(registry, tmp_path):
    from google.cloud.aiplatform import model_monitoring

    with aiplatform_classes() as (endpoint_class, job_class):
        endpoint_class.list.return_value = [endpoint_mock()]
        job_class.create.return_value.resource_name = (
            "projects/123/locations/europe-west4/modelDeploymentMonitoringJobs/987")
        job = core.set_up(str(tmp_path / "job"), **settings(registry))

    endpoint_class.list.assert_called_once_with(filter='display_name="penguins-endpoint"',
                                                project="proj-1", location="europe-west4")
    kwargs = job_class.create.call_args.kwargs
    assert sorted(kwargs) == sorted([
        "display_name", "endpoint", "deployed_model_ids", "objective_configs",
        "logging_sampling_strategy", "schedule_config", "alert_config", "labels", "project",
        "location"])
    assert kwargs["display_name"] == "penguins-monitoring"
    assert kwargs["endpoint"] == ENDPOINT
    assert kwargs["deployed_model_ids"] == ["222"]
    assert kwargs["project"] == "proj-1" and kwargs["location"] == "europe-west4"
    assert kwargs["labels"] == {"managed_by": "kfp-mlops", "model_name": "penguins",
                                "model_version": "1"}
    objective = kwargs["objective_configs"]
    assert isinstance(objective, model_monitoring.ObjectiveConfig)
    skew = objective.skew_detection_config
    assert isinstance(skew, model_monitoring.SkewDetectionConfig)
    assert skew.data_source == "bq://proj-1.ml.penguins_train"
    assert skew.target_field == "species" and skew.data_format is None
    assert skew.skew_thresholds == {f: (0.2 if f == "island" else 0.3) for f in FEATURES}
    drift = objective.drift_detection_config
    assert drift.drift_thresholds == {f: (0.1 if f == "body_mass_g" else 0.25)
                                      for f in FEATURES}
    assert kwargs["logging_sampling_strategy"].sample_rate == 0.5
    assert kwargs["schedule_config"].monitor_interval == 6
    assert kwargs["alert_config"].user_emails == ["ml-team@example.com"]
    assert kwargs["alert_config"].enable_logging is True
    # the configs turn into the request protos the API receives
    proto = objective.as_proto()
    assert proto.training_dataset.bigquery_source.input_uri == "bq://proj-1.ml.penguins_train"
    assert proto.training_prediction_skew_detection_config.skew_thresholds["island"].value \
        == pytest.approx(0.2)

    saved = json.load(open(tmp_path / "job" / "monitoring_job.json"))
    assert saved["resource_name"].endswith("/987") and saved["deployed_model_ids"] == ["222"]
    assert job.dashboard_uri.endswith("model-deployment-monitoring-jobs/987?project=proj-1")


def test_gcs_training_data_and_resource_name_endpoint(registry, tmp_path):
    with aiplatform_classes() as (endpoint_class, job_class):
        endpoint_class.return_value = endpoint_mock()
        job_class.create.return_value.resource_name = "projects/1/locations/r/x/9"
        core.set_up(str(tmp_path / "job"), **settings(
            registry, endpoint=ENDPOINT, training_data_uri="gs://b/train/penguins.csv"))
    endpoint_class.assert_called_once_with(ENDPOINT, project="proj-1", location="europe-west4")
    skew = job_class.create.call_args.kwargs["objective_configs"].skew_detection_config
    assert skew.data_source == "gs://b/train/penguins.csv" and skew.data_format == "csv"


@pytest.mark.parametrize("change,message", [
    ({"training_data_uri": ""}, "needs the training data in BigQuery or Cloud Storage"),
    ({"training_data_uri": "gs://b/data.parquet"}, "reads CSV, JSONL or TFRecord"),
    ({"skew_thresholds": {"wingspan": 0.1}}, "name features the model does not have"),
    ({"monitor_interval_hours": 0}, "at least|>= 1"),
    ({"alert_emails": ["nobody"]}, "not e-mail addresses"),
    ({"model_name": "gulls"}, "model 'gulls' .* is not in the registry"),
    ({"project": "P"}, "project 'P': expected a Google Cloud project id"),
    ({"region": "europe"}, "region 'europe': expected a Google Cloud region"),
])
def test_bad_settings_call_nothing(registry, tmp_path, change, message):
    with aiplatform_classes() as (endpoint_class, job_class):
        with pytest.raises(core.VertexMonitoringError, match=message):
            core.set_up(str(tmp_path / "job"), **settings(registry, **change))
    job_class.create.assert_not_called()
    assert not (tmp_path / "job").exists()


def test_project_and_region_follow_the_shared_rules(registry):
    """The same names as ``kfp-mlops submit`` accepts (components/_shared/gcp.py), a
    domain-scoped project id included."""
    planned = core.plan(**settings(registry, project="example.com:my-project",
                                   region="us-central1"))
    assert (planned.project, planned.region) == ("example.com:my-project", "us-central1")


def test_endpoint_without_the_model(registry, tmp_path):
    endpoint = endpoint_mock()
    endpoint.list_models.return_value = endpoint.list_models.return_value[:1]
    with aiplatform_classes() as (endpoint_class, job_class):
        endpoint_class.list.return_value = [endpoint]
        with pytest.raises(core.VertexMonitoringError, match="serves no deployment of "
                                                             "'penguins' version 1"):
            core.set_up(str(tmp_path / "job"), **settings(registry))
    job_class.create.assert_not_called()


def test_shell(registry, tmp_path):
    out = Artifact(name="monitoring_job", uri=str(tmp_path / "job"), metadata={})
    with aiplatform_classes() as (endpoint_class, job_class):
        endpoint_class.list.return_value = [endpoint_mock()]
        job_class.create.return_value.resource_name = "projects/1/locations/r/jobs/42"
        vertex_monitoring.python_func(monitoring_job=out, **settings(registry))
    assert out.metadata["resource_name"] == "projects/1/locations/r/jobs/42"
    assert out.metadata["skew_thresholds"]["island"] == 0.2


def test_a_column_the_schema_keeps_out_of_the_model_is_not_monitored(registry, tmp_path):
    """validate marks an ID-like column DISABLED; the model does not take it, so Vertex AI
    must not be asked to watch it."""
    import pathlib
    import shutil

    from google.protobuf import text_format

    from kfp_mlops.components._shared import schema as schema_io

    copy = tmp_path / "registry"
    shutil.copytree(registry, copy)
    (path,) = [p for p in pathlib.Path(copy).rglob("schema.pbtxt")]
    schema = schema_io.read_schema(str(path))
    schema_io.keep_out(next(f for f in schema.feature if f.name == "year"), "ID-like (a test)")
    path.write_text(text_format.MessageToString(schema))

    plan = core.plan(**settings(str(copy), skew_thresholds={}, drift_thresholds={}))
    assert plan.features == [f for f in FEATURES if f != "year"]
    assert "year" not in plan.skew_thresholds and "year" not in plan.drift_thresholds
