"""The performance monitoring pipeline: performance -> (alert, retrain).

When the labels of a scored batch arrive, its predictions (the predict component's folder)
are joined with them on the key column, scored with evaluate's metrics and compared with the
registered evaluation of the version that scored them; a metric worse than
``max_degradation`` allows is a finding. The report has the monitoring report's format
(``check`` "performance"), so alert delivers it and retrain acts on it exactly as they do
for drift (``pipelines/monitoring.py``); with ``retrain_on_degradation``, a degradation
starts the training pipeline (locally or on Vertex AI).

The gates live in the components (``dsl.If`` does not run under kfp.local). No task is ever
cached (``pipelines/caching.py``): labels keep arriving at the same ``labels_uri``.
"""
from typing import Dict

from kfp import dsl

from kfp_mlops.components.alert.component import alert
from kfp_mlops.components.performance.component import performance
from kfp_mlops.components.retrain.component import retrain
from kfp_mlops.pipelines import caching

NAME = "performance-monitoring"


@dsl.pipeline(
    name=NAME,
    description=("Scores a batch's predictions against the labels that arrived later, "
                 "compares the metrics with the scoring version's registered evaluation, "
                 "alerts on a degradation, and optionally retrains."),
)
def performance_monitoring(
    predictions_uri: str,
    labels_uri: str,
    registry_uri: str,
    model_name: str = "",
    label_column: str = "",
    key_column: str = "",
    max_degradation: Dict[str, float] = {},
    min_rows: int = 30,
    record_history: bool = True,
    webhook_url: str = "",
    webhook_url_env: str = "",
    pubsub_topic: str = "",
    notify_always: bool = False,
    alert_labels: Dict[str, str] = {},
    fail_on_delivery_error: bool = False,
    retrain_on_degradation: bool = False,
    retrain_target: str = "local",
    retrain_data_uri: str = "",
    training_parameters: Dict = {},
    training_template_uri: str = "",
    project: str = "",
    region: str = "",
    pipeline_root: str = "",
    service_account: str = "",
    csv_delimiter: str = "",
):
    """Score predictions against late labels, alert on a degradation, and retrain.

    Args:
        predictions_uri: The predictions folder of a scored batch (path, gs:// or s3:// URI),
            as the predict component writes it; it names the model and version that scored.
        labels_uri: The labels that arrived: CSV or Parquet (path, URI, folder or glob) with
            the key column and the label column.
        registry_uri: The registry holding the scoring version and its evaluation.
        model_name: The model the predictions must be of; empty: the one they name. Needed
            for retraining.
        label_column: The label column of the labels (and of retrain_data_uri); empty: the
            predictions' label column. Needed for retraining.
        key_column: The key column of the labels; empty: the predictions' key column
            (``input_row``, the row's 0-based position, when the scored input had none).
        max_degradation: How much worse than the registered evaluation each metric may get,
            as an absolute amount, e.g. {"accuracy": 0.05}; empty: the main metric may not
            get worse at all (evaluate's default).
        min_rows: Fewer joined rows with a usable label fail the run.
        record_history: Record the result in the version's monitoring history.
        webhook_url: http(s) URL that receives the alert as a JSON POST; empty: none.
        webhook_url_env: Name of an environment variable of the alert task holding the
            webhook URL (prefer it to webhook_url: the run records only the name).
        pubsub_topic: ``projects/P/topics/T`` the alert is published to; empty: none.
        notify_always: Deliver to the webhook/topic also when nothing degraded.
        alert_labels: Extra Cloud Logging labels and Pub/Sub attributes.
        fail_on_delivery_error: Fail the alert task when the webhook or topic cannot be
            reached; retraining does not wait for the alert.
        retrain_on_degradation: Start the training pipeline when performance degraded.
        retrain_target: ``local`` (kfp.local) or ``vertex`` (Vertex AI Pipelines).
        retrain_data_uri: Labelled data the retraining trains on.
        training_parameters: More training pipeline arguments, e.g. ``{"epochs": 50}``.
        training_template_uri: Vertex AI: the compiled training.yaml.
        project: Vertex AI: project of the retraining run.
        region: Vertex AI: region of the retraining run.
        pipeline_root: Vertex AI: gs:// folder for the retraining run's outputs.
        service_account: Vertex AI: service account of the retraining run.
        csv_delimiter: The labels' CSV field separator; empty: detected as ingest does.
    """
    checked = performance(
        predictions_uri=predictions_uri, labels_uri=labels_uri, registry_uri=registry_uri,
        model_name=model_name, label_column=label_column, key_column=key_column,
        max_degradation=max_degradation, min_rows=min_rows, record_history=record_history,
        run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        csv_delimiter=csv_delimiter).set_display_name("performance")
    alerted = alert(
        drift_report=checked.outputs["performance_report"], report=checked.outputs["report"],
        webhook_url=webhook_url, webhook_url_env=webhook_url_env,
        pubsub_topic=pubsub_topic, notify_always=notify_always,
        labels=alert_labels, fail_on_delivery_error=fail_on_delivery_error,
        run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER).set_display_name("alert")
    retrained = retrain(
        drift_report=checked.outputs["performance_report"],
        retrain_on_drift=retrain_on_degradation, retrain_target=retrain_target,
        retrain_data_uri=retrain_data_uri, label_column=label_column, model_name=model_name,
        registry_uri=registry_uri, training_parameters=training_parameters,
        training_template_uri=training_template_uri, project=project, region=region,
        pipeline_root=pipeline_root, service_account=service_account,
        source_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
    ).set_display_name("retrain")
    # As in pipelines/monitoring.py: retrain does not wait for alert, and nothing is reused.
    caching.apply(checked, alerted, retrained, reuse=False)
