"""The predict shell through ``python_func`` with real KFP artifact objects: runner
``local`` on the trained model, runner ``vertex`` with only ``google.cloud.aiplatform``
mocked (autospec'd, the exact BatchPredictionJob request asserted)."""
from unittest import mock

import pytest
from kfp.dsl import HTML, Dataset

from kfp_mlops.components._shared.artifact_types import VertexBatchPredictionJob
from kfp_mlops.components.predict import predictions as fmt
from kfp_mlops.components.predict import vertex_batch
from kfp_mlops.components.predict.component import predict
from kfp_mlops.pipelines import launcher_contract
from tests.components.predict.conftest import SERVING_CSV
from tests.support import aiplatform_mocks

PROJECT, REGION = "my-proj", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{REGION}/models/123"
VERTEX = f"vertex://projects/{PROJECT}/locations/{REGION}"


def outputs(tmp_path):
    return {"predictions": Dataset(name="predictions", uri=str(tmp_path / "predictions"),
                                   metadata={}),
            "batch_prediction_job": VertexBatchPredictionJob(
                name="job", uri=str(tmp_path / "job"), metadata={}),
            "summary": HTML(name="summary", uri=str(tmp_path / "summary.html"), metadata={})}


def test_local_runner(registry, tmp_path):
    out = outputs(tmp_path)
    result = predict.python_func(data_uri=SERVING_CSV, registry_uri=registry,
                                 model_name="penguins", **out)
    assert result.rows == 150 and result.model_version == "1"
    meta = out["predictions"].metadata
    assert meta["rows"] == 150 and meta["model_name"] == "penguins"
    assert meta["model_version"] == "1" and meta["runner"] == "local"
    assert len(meta["input_content_hash"]) == 64 and meta["key_column"] == fmt.ROW_KEY
    assert sum(meta["class_counts"].values()) == 150
    frame = fmt.read_pandas(out["predictions"].path)
    assert len(frame) == 150 and set(frame[fmt.MODEL_VERSION]) == {"1"}
    assert out["batch_prediction_job"].metadata["runner"] == "local"
    page = open(out["summary"].path).read()
    assert "Predicted classes" in page and "<svg" in page and "150 rows" in page
    for name, artifact in out.items():
        assert launcher_contract.check_metadata("predict", name, artifact.metadata) == []


def test_an_unknown_runner(registry, tmp_path):
    with pytest.raises(ValueError, match="runner 'cloud': expected 'local' or 'vertex'"):
        predict.python_func(data_uri=SERVING_CSV, registry_uri=registry,
                            model_name="penguins", runner="cloud", **outputs(tmp_path))


@pytest.fixture
def vertex(bucket_on):
    """aiplatform.init / Model mocked (aiplatform_mocks) and BatchPredictionJob autospec'd;
    the registry's companion folder is read from the Cloud Storage emulator (empty)."""
    from google.cloud import aiplatform
    from google.cloud.aiplatform_v1.types import BatchPredictionJob as JobProto

    _, bucket = bucket_on("gs")
    with aiplatform_mocks.patched() as patched, \
            mock.patch.object(aiplatform, "BatchPredictionJob", autospec=True,
                              spec_set=True) as job_class:
        parent = aiplatform_mocks.parent(PARENT)
        patched.Model.list.return_value = [parent]
        patched.Model.return_value.configure_mock(
            uri=f"gs://{bucket}/models/penguins/3", version_id="3", resource_name=PARENT,
            version_aliases=["champion"], labels={"model_hash": "abc"})
        from google.cloud.aiplatform import jobs

        job = mock.create_autospec(jobs.BatchPredictionJob, instance=True)
        job.resource_name = f"projects/{PROJECT}/locations/{REGION}/batchPredictionJobs/77"
        job.output_info = JobProto.OutputInfo(gcs_output_directory="gs://out/preds/prediction-1")
        job.state = JobProto(state="JOB_STATE_SUCCEEDED").state
        job_class.create.return_value = job
        patched.BatchPredictionJob = job_class
        yield patched


def test_vertex_runner_sends_the_batch_prediction_request(vertex, tmp_path):
    out = outputs(tmp_path)
    result = predict.python_func(
        data_uri="gs://data/serving/*.jsonl", registry_uri=VERTEX, model_name="penguins",
        runner="vertex", vertex_destination="gs://out/preds", vertex_machine_type="n1-highmem-2",
        vertex_max_replica_count=3, vertex_service_account="sa@my-proj.iam.gserviceaccount.com",
        **out)
    vertex.BatchPredictionJob.create.assert_called_once_with(
        job_display_name="penguins-v3-batch", model_name=f"{PARENT}@3",
        machine_type="n1-highmem-2", starting_replica_count=1, max_replica_count=3,
        project=PROJECT, location=REGION,
        service_account="sa@my-proj.iam.gserviceaccount.com", sync=True,
        gcs_source=["gs://data/serving/*.jsonl"], instances_format="jsonl",
        gcs_destination_prefix="gs://out/preds", predictions_format="jsonl")
    vertex.Model.assert_called_with(model_name=PARENT, version="champion")
    assert result.rows == 0 and result.model_version == "3"
    job = out["batch_prediction_job"]
    assert job.metadata == {
        "resourceName": f"projects/{PROJECT}/locations/{REGION}/batchPredictionJobs/77",
        "gcsOutputDirectory": "gs://out/preds/prediction-1"}
    assert job.uri == str(tmp_path / "job")  # left as KFP assigned it
    meta = out["predictions"].metadata
    assert meta["output_uri"] == "gs://out/preds/prediction-1"
    assert meta["state"] == "JOB_STATE_SUCCEEDED" and meta["model_uri"] == f"{PARENT}@3"
    assert "gs://out/preds/prediction-1" in open(out["summary"].path).read()
    for name, artifact in out.items():
        assert launcher_contract.check_metadata("predict", name, artifact.metadata) == []


def test_vertex_runner_from_and_to_bigquery(vertex, tmp_path):
    predict.python_func(
        data_uri="bq://my-proj.serving.batch_1", registry_uri=VERTEX, model_name="penguins",
        model_version="3", runner="vertex", vertex_destination="bq://my-proj.predictions",
        **outputs(tmp_path))
    vertex.BatchPredictionJob.create.assert_called_once_with(
        job_display_name="penguins-v3-batch", model_name=f"{PARENT}@3",
        machine_type="n1-standard-4", starting_replica_count=1, max_replica_count=1,
        project=PROJECT, location=REGION, service_account=None, sync=True,
        bigquery_source="bq://my-proj.serving.batch_1", instances_format="bigquery",
        bigquery_destination_prefix="bq://my-proj.predictions", predictions_format="bigquery")


@pytest.mark.parametrize("kwargs, match", [
    ({"registry_uri": "/tmp/registry"}, "runner 'vertex' needs a Vertex AI registry"),
    ({"data_uri": "/local/serving.csv"}, "reads gs:// objects or a bq://"),
    ({"data_uri": "gs://d/serving.parquet"}, "Parquet is not a Vertex AI input format"),
    ({"vertex_destination": ""}, "vertex_destination '': expected a gs://bucket/folder"),
])
def test_vertex_runner_refuses_before_any_request(vertex, tmp_path, kwargs, match):
    arguments = dict(data_uri="gs://d/serving.csv", registry_uri=VERTEX, model_name="penguins",
                     runner="vertex", vertex_destination="gs://out/preds")
    arguments.update(kwargs)
    with pytest.raises(vertex_batch.VertexBatchError, match=match):
        predict.python_func(**arguments, **outputs(tmp_path))
    vertex.BatchPredictionJob.create.assert_not_called()
    vertex.Model.list.assert_not_called()
