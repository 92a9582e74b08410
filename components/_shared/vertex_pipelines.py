"""A Vertex AI Pipelines run as one plain request: ``aiplatform.PipelineJob(**job)
.submit(**submit)``.

One builder for every caller that starts a pipeline run on Vertex AI: ``kfp-mlops submit``
and ``schedule`` (``pipelines/cloud.py``; a schedule wraps the same ``job``) and the
``retrain`` component. Building a request needs neither credentials nor the Google Cloud SDK
(it is a JSON-ready dict, what ``--dry-run`` prints); ``google.cloud.aiplatform`` is imported
inside :func:`pipeline_job` and :func:`submit` only.

``enable_caching=None`` keeps the caching compiled into the template: "If this is not set,
defaults to the compile time settings ... If this is set, the setting applies to all tasks
in the pipeline" (``google/cloud/aiplatform/pipeline_jobs.py``, ``PipelineJob.__init__``,
which rewrites every task's ``cachingOptions`` only when it is not None).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional


def job_request(*, display_name: str, template_path: str, pipeline_root: str,
                parameter_values: Mapping[str, Any], labels: Mapping[str, str],
                project: str, location: str, enable_caching: Optional[bool] = None,
                job_id: Optional[str] = None, service_account: Optional[str] = None,
                **submit_options: Any) -> Dict[str, Any]:
    """``{"job": PipelineJob arguments, "submit": PipelineJob.submit arguments}``.

    Args:
        display_name / template_path / pipeline_root / parameter_values / labels / project /
            location / enable_caching: ``aiplatform.PipelineJob``'s arguments of those names
            (``template_path``: a local file, ``gs://`` URI or Artifact Registry URL).
        job_id: the run's ID; None: left out, so Vertex AI derives one from the pipeline name.
        service_account: ``PipelineJob.submit``'s; None is the project's default.
        submit_options: further ``PipelineJob.submit`` arguments (``experiment``), passed as
            given.
    """
    job: Dict[str, Any] = {
        "display_name": display_name,
        "template_path": template_path,
        "pipeline_root": pipeline_root,
        "parameter_values": dict(parameter_values),
        "enable_caching": enable_caching,
        "labels": dict(labels),
        "project": project,
        "location": location,
    }
    if job_id is not None:
        job["job_id"] = job_id
    return {"job": job, "submit": {"service_account": service_account, **submit_options}}


def pipeline_job(job: Mapping[str, Any]):
    """``aiplatform.PipelineJob(**job)`` (the ``job`` of :func:`job_request`)."""
    from google.cloud import aiplatform

    return aiplatform.PipelineJob(**job)


def submit(request: Mapping[str, Any]):
    """Submits a :func:`job_request` (it does not wait for the run); the ``PipelineJob``."""
    job = pipeline_job(request["job"])
    job.submit(**request["submit"])
    return job
