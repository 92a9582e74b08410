"""The monitoring pipeline: ingest -> monitor -> (alert, retrain).

A batch of serving data is read into one split (``split_ratios`` [1.0, 0.0, 0.0]), compared
with the registered model version's schema and baseline statistics (skew), and with the
previous batch monitored for that version (drift); the findings are logged for Cloud
Logging and optionally sent to a webhook and a Pub/Sub topic; with ``retrain_on_drift``, a
detected drift starts the training pipeline (locally or on Vertex AI).

The gates live in the components (``dsl.If`` does not run under kfp.local): alert and
retrain always run and record what they did and why. No task is ever cached
(``pipelines/caching.py``), so a scheduled run on the same ``data_uri`` reads the new batch.
"""
from typing import Dict

from kfp import dsl

from kfp_mlops.components.alert.component import alert
from kfp_mlops.components.ingest.component import ingest
from kfp_mlops.components.monitor.component import monitor
from kfp_mlops.components.retrain.component import retrain
from kfp_mlops.pipelines import caching

NAME = "monitoring"


@dsl.pipeline(
    name=NAME,
    description=("Checks a batch of serving data against a registered model's schema and "
                 "baseline statistics with TFDV (skew, drift, anomalies), alerts on findings, "
                 "and optionally retrains on drift."),
)
def monitoring(
    data_uri: str,
    model_name: str,
    registry_uri: str,
    model_version: str = "champion",
    skew_threshold: float = 0.3,
    skew_thresholds: Dict[str, float] = {},
    drift_threshold: float = 0.3,
    drift_thresholds: Dict[str, float] = {},
    record_history: bool = True,
    decide_by: str = "auto",
    p_value: float = 0.05,
    min_rows: int = 30,
    webhook_url: str = "",
    webhook_url_env: str = "",
    pubsub_topic: str = "",
    notify_always: bool = False,
    alert_labels: Dict[str, str] = {},
    fail_on_delivery_error: bool = False,
    retrain_on_drift: bool = False,
    retrain_target: str = "local",
    retrain_data_uri: str = "",
    label_column: str = "",
    training_parameters: Dict = {},
    training_template_uri: str = "",
    project: str = "",
    region: str = "",
    pipeline_root: str = "",
    service_account: str = "",
    csv_delimiter: str = "",
):
    """Ingest a serving batch, monitor it, alert, and retrain on drift.

    Args:
        data_uri: The serving batch: CSV or Parquet (path, gs:// URI, folder or glob), a
            BigQuery table ``bq://project.dataset.table`` or a SQL query. The label may be
            absent.
        model_name: The registered model the batch is served to.
        registry_uri: The registry push wrote: a local directory (or ``file://`` URI), or
            ``vertex://projects/PROJECT/locations/REGION``.
        model_version: A version number, an alias (``champion``) or ``latest``.
        skew_threshold: Largest training-serving distance allowed for any feature
            (L-infinity for categorical, Jensen-Shannon divergence for numeric features).
        skew_thresholds: Per-feature overrides of skew_threshold.
        drift_threshold: Largest distance to the previous monitored batch for any feature.
        drift_thresholds: Per-feature overrides of drift_threshold.
        record_history: Record this batch in the version's monitoring history (the next
            run's drift baseline).
        decide_by: How a feature without a threshold of its own is judged: ``auto`` (KS /
            chi-squared test up to 1000 values, the distance beyond), ``distance`` or
            ``test``.
        p_value: Family-wise significance level of the tests (divided by the number of
            features tested).
        min_rows: A feature with fewer values is not judged ("not enough rows to judge").
        webhook_url: http(s) URL that receives the alert as a JSON POST; empty: none. The
            URL is stored with the run as an argument: prefer webhook_url_env.
        webhook_url_env: Name of an environment variable of the alert task holding the
            webhook URL (set from a Secret on Vertex AI / Kubeflow); the spec and the run
            hold only the name.
        pubsub_topic: ``projects/P/topics/T`` the alert is published to; empty: none.
        notify_always: Deliver to the webhook/topic also when nothing was found.
        alert_labels: Extra Cloud Logging labels and Pub/Sub attributes.
        fail_on_delivery_error: Fail the alert task, and so the run, when the webhook or
            topic cannot be reached (the report is kept either way); retraining does not
            wait for the alert and starts either way.
        retrain_on_drift: Start the training pipeline when drift is detected.
        retrain_target: ``local`` (kfp.local) or ``vertex`` (Vertex AI Pipelines).
        retrain_data_uri: Labelled data the retraining trains on.
        label_column: The label column of retrain_data_uri.
        training_parameters: More training pipeline arguments, e.g. ``{"epochs": 50}``.
        training_template_uri: Vertex AI: the compiled training.yaml (path, gs:// URI or
            Artifact Registry https:// URL).
        project: Vertex AI: project of the retraining run.
        region: Vertex AI: region of the retraining run.
        pipeline_root: Vertex AI: gs:// folder for the retraining run's outputs.
        service_account: Vertex AI: service account of the retraining run.
        csv_delimiter: CSV field separator; empty: tab for .tsv files, else detected from
            each file's header and first lines (one of , ; tab |; "," when unclear).
    """
    batch = ingest(data_uri=data_uri, split_ratios=[1.0, 0.0, 0.0],
                   csv_delimiter=csv_delimiter).set_display_name("ingest")
    checked = monitor(
        dataset=batch.outputs["dataset"], registry_uri=registry_uri, model_name=model_name,
        model_version=model_version, skew_threshold=skew_threshold,
        skew_thresholds=skew_thresholds, drift_threshold=drift_threshold,
        drift_thresholds=drift_thresholds, record_history=record_history,
        decide_by=decide_by, p_value=p_value, min_rows=min_rows,
        run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER).set_display_name("monitor")
    alerted = alert(
        drift_report=checked.outputs["drift_report"], report=checked.outputs["report"],
        webhook_url=webhook_url, webhook_url_env=webhook_url_env,
        pubsub_topic=pubsub_topic, notify_always=notify_always,
        labels=alert_labels, fail_on_delivery_error=fail_on_delivery_error,
        run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER).set_display_name("alert")
    retrained = retrain(
        drift_report=checked.outputs["drift_report"], retrain_on_drift=retrain_on_drift,
        retrain_target=retrain_target, retrain_data_uri=retrain_data_uri,
        label_column=label_column, model_name=model_name, registry_uri=registry_uri,
        training_parameters=training_parameters,
        training_template_uri=training_template_uri, project=project, region=region,
        pipeline_root=pipeline_root, service_account=service_account,
        source_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
    ).set_display_name("retrain")
    # retrain does not wait for alert: a webhook that is down (or a bad webhook_url) must
    # never keep the retraining that drift called for from starting. On Vertex AI and
    # Kubeflow both start once monitor is done; locally kfp.local runs them in turn, and
    # pipelines/local.py lets a failed alert (no task needs its outputs) go on to retrain.
    # Nothing of a monitoring run is reused: it is about the data and the registry as they
    # are now (a scheduled run on the same data_uri must read the new batch, add to the
    # history and alert again).
    caching.apply(batch, checked, alerted, retrained, reuse=False)
