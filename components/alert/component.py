"""Alert component: the KFP shell around core.py."""
from typing import Dict, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("alert"), install_kfp_package=False)
def alert(
    drift_report: Input[Artifact],
    report: Input[HTML],
    alert: Output[Artifact],
    webhook_url: str = "",
    pubsub_topic: str = "",
    notify_always: bool = False,
    labels: Dict[str, str] = {},
    max_attempts: int = 3,
    backoff_seconds: float = 2.0,
    timeout_seconds: float = 10.0,
    fail_on_delivery_error: bool = False,
    run_name: str = "",
    webhook_url_env: str = "",
) -> NamedTuple("AlertOutputs", [("delivered", bool)]):
    """Reports monitoring findings to Cloud Logging and, optionally, a webhook and Pub/Sub.

    Writes one structured Cloud Logging entry (a JSON line with severity, message,
    ``logging.googleapis.com/labels`` and the findings as jsonPayload fields) summarising
    the report, plus one per finding. When the report has findings (or notify_always), the
    alert -- decision, reasons, findings, model, report URIs -- is POSTed as JSON to the
    webhook and published to the Pub/Sub topic, each retried with exponential backoff at
    most max_attempts times. The report was written by monitor before this step, so a
    failed delivery never loses it; a failed delivery (or a webhook URL that cannot be used)
    is logged and recorded in the alert artifact (delivered false, the reason), and fails
    the task only with fail_on_delivery_error. The webhook URL is never recorded: logs,
    metadata and alert.json show it as ``scheme://host/…``.

    Args:
        drift_report: The monitor step's drift_report (``report.json``).
        alert: Output: ``alert.json`` -- the payload sent, each channel's outcome and every
            try's error. Metadata: drift_detected, notified, delivered, deliveries,
            failed_channels, delivery_errors.
        report: The monitor step's HTML report; its URI is sent with the alert.
        webhook_url: An http(s) URL that receives the alert as a JSON POST (Slack/Chat
            incoming webhooks, an alert router, ...); empty: no webhook. It is a pipeline
            argument, so it is stored with the run: prefer webhook_url_env.
        pubsub_topic: ``projects/<project>/topics/<topic>`` to publish the alert to (JSON
            data; attributes model_name, model_version, drift_detected, finding_count and
            labels); empty: no Pub/Sub.
        notify_always: Deliver also when there is no finding (a heartbeat).
        labels: Extra Cloud Logging labels and Pub/Sub attributes, e.g. {"team": "ml"}.
        max_attempts: Tries per channel, 1-10.
        backoff_seconds: Wait before the second try, doubled before each next one.
        timeout_seconds: Timeout of each try.
        fail_on_delivery_error: Fail the task (after writing ``alert.json``) when a channel
            could not deliver.
        run_name: The pipeline run, sent with the alert; pass
            ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER`` from the pipeline.
        webhook_url_env: The name of an environment variable of the task holding the
            webhook URL (instead of webhook_url), e.g. ``ALERT_WEBHOOK_URL``: on Vertex AI
            and Kubeflow set it from a Secret (see the component README).

    Returns:
        delivered: Whether every attempted delivery arrived (true when none was needed).
    """
    import collections

    from kfp_mlops.components._shared import logs
    from kfp_mlops.components.alert import core
    from kfp_mlops.components.monitor import report as monitoring_report

    logs.setup()
    result = core.alert(
        report=monitoring_report.read_report(drift_report.path),
        output_dir=alert.path,
        webhook_url=webhook_url,
        pubsub_topic=pubsub_topic,
        notify_always=notify_always,
        labels=dict(labels),
        max_attempts=max_attempts,
        backoff_seconds=backoff_seconds,
        timeout_seconds=timeout_seconds,
        fail_on_delivery_error=fail_on_delivery_error,
        report_uri=drift_report.uri,
        html_uri=report.uri,
        run_name=run_name,
        webhook_url_env=webhook_url_env,
    )
    alert.metadata.update(result.metadata())
    return collections.namedtuple("AlertOutputs", ["delivered"])(result.delivered)
