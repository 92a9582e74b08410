"""The one PipelineJob request builder (components/_shared/vertex_pipelines.py): the exact
``aiplatform.PipelineJob(**job).submit(**submit)`` calls, the client class an autospec."""
from unittest import mock

from kfp_mlops.components._shared import vertex_pipelines

COMMON = dict(display_name="training", template_path="gs://b/training.yaml",
              pipeline_root="gs://b/root", parameter_values={"epochs": 3},
              labels={"managed_by": "kfp-mlops"}, project="proj-1", location="europe-west4")


def test_request_holds_exactly_the_arguments_given():
    request = vertex_pipelines.job_request(**COMMON)
    assert request == {"job": {**COMMON, "enable_caching": None},
                       "submit": {"service_account": None}}
    request = vertex_pipelines.job_request(**COMMON, enable_caching=False, job_id="r-1",
                                           service_account="sa@p.iam.gserviceaccount.com",
                                           experiment="e-1")
    assert request["job"] == {**COMMON, "enable_caching": False, "job_id": "r-1"}
    assert request["submit"] == {"service_account": "sa@p.iam.gserviceaccount.com",
                                 "experiment": "e-1"}


def test_submit_makes_the_call_the_request_describes():
    from google.cloud import aiplatform

    request = vertex_pipelines.job_request(**COMMON, job_id="r-1")
    with mock.patch.object(aiplatform, "PipelineJob",
                           mock.create_autospec(aiplatform.PipelineJob)) as job_class:
        job = vertex_pipelines.submit(request)
    job_class.assert_called_once_with(**COMMON, enable_caching=None, job_id="r-1")
    assert job is job_class.return_value
    job.submit.assert_called_once_with(service_account=None)
