"""Retrain component: the KFP shell around core.py."""
from typing import Dict, NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("retrain"), install_kfp_package=False)
def retrain(
    drift_report: Input[Artifact],
    retraining: Output[Artifact],
    retrain_on_drift: bool = False,
    retrain_target: str = "local",
    retrain_data_uri: str = "",
    label_column: str = "",
    model_name: str = "",
    registry_uri: str = "",
    training_parameters: Dict = {},
    training_template_uri: str = "",
    project: str = "",
    region: str = "",
    pipeline_root: str = "",
    service_account: str = "",
    retrain_run_name: str = "",
    source_run: str = "",
    fail_on_error: bool = True,
) -> NamedTuple("RetrainOutputs", [("started", bool), ("run_name", str)]):
    """Starts the training pipeline when monitoring detected drift and retraining is on.

    The gate is inside the component: without drift, or with retrain_on_drift false, it
    records why it did nothing and succeeds. With both, it starts the training pipeline on
    retrain_data_uri -- locally through kfp.local (the same runner as ``kfp-mlops
    run``; it waits, and records the run summary and the version push registered if the
    new model was blessed), or on Vertex AI by submitting the compiled training template as
    a PipelineJob (it records the job and its dashboard URL and does not wait). A
    misconfigured retraining fails the task even without drift, so it is seen early.

    Args:
        drift_report: The monitor step's drift_report (``report.json``).
        retraining: Output: ``retrain.json`` (started, reason, target, parameters, run name,
            Vertex resource name and dashboard URL, or the local summary path, status and
            new version); a local run also leaves ``summary.json`` and its outputs in
            ``run/``. The same fields are the artifact's metadata.
        retrain_on_drift: Retrain when drift is detected.
        retrain_target: ``local`` (kfp.local on this machine) or ``vertex`` (Vertex AI
            Pipelines).
        retrain_data_uri: Labelled training data: the training pipeline's data_uri (CSV or
            Parquet path, gs:// URI, BigQuery table or query).
        label_column: The label column of retrain_data_uri.
        model_name: Model to retrain; empty: the monitored model.
        registry_uri: Registry the new version is pushed to; empty: the monitored registry.
        training_parameters: More training pipeline arguments, e.g. {"epochs": 50,
            "thresholds": {"accuracy": 0.9}}.
        training_template_uri: Vertex AI: the compiled training pipeline (a path, gs:// URI
            or Artifact Registry https:// URL of training.yaml).
        project: Vertex AI: Google Cloud project of the training run.
        region: Vertex AI: region of the training run.
        pipeline_root: Vertex AI: gs:// folder for the training run's outputs.
        service_account: Vertex AI: service account the training run acts as; empty: the
            project's default.
        retrain_run_name: Vertex AI: job ID of the training run; empty: generated.
        source_run: The monitoring run, recorded with the new run; pass
            ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER`` from the pipeline.
        fail_on_error: Fail the task when a local training run fails (after recording it).

    Returns:
        started: Whether a training run was started.
        run_name: Its name (local run folder or Vertex AI job ID); empty when not started.
    """
    import collections

    from kfp_mlops.components._shared import logs
    from kfp_mlops.components.monitor import report as monitoring_report
    from kfp_mlops.components.retrain import core

    logs.setup()
    result = core.retrain(
        report=monitoring_report.read_report(drift_report.path),
        output_dir=retraining.path,
        retrain_on_drift=retrain_on_drift,
        target=retrain_target,
        retrain_data_uri=retrain_data_uri,
        label_column=label_column,
        model_name=model_name,
        registry_uri=registry_uri,
        extra_parameters=dict(training_parameters),
        training_template_uri=training_template_uri,
        project=project,
        region=region,
        pipeline_root=pipeline_root,
        service_account=service_account,
        run_name=retrain_run_name,
        source_run=source_run,
        fail_on_error=fail_on_error,
    )
    retraining.metadata.update(result.metadata())
    outputs = collections.namedtuple("RetrainOutputs", ["started", "run_name"])
    return outputs(result.started, result.run_name or result.resource_name)
