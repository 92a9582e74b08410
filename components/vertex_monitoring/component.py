"""Vertex monitoring component: the KFP shell around core.py."""
from typing import Dict, List

from kfp import dsl
from kfp.dsl import Artifact, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("vertex_monitoring"), install_kfp_package=False)
def vertex_monitoring(
    monitoring_job: Output[Artifact],
    project: str,
    region: str,
    endpoint: str,
    registry_uri: str,
    model_name: str,
    model_version: str = "champion",
    training_data_uri: str = "",
    label_column: str = "",
    skew_threshold: float = 0.3,
    skew_thresholds: Dict[str, float] = {},
    drift_threshold: float = 0.3,
    drift_thresholds: Dict[str, float] = {},
    sample_rate: float = 0.8,
    monitor_interval_hours: int = 1,
    alert_emails: List[str] = [],
    enable_logging: bool = True,
    display_name: str = "",
    labels: Dict[str, str] = {},
):
    """Sets up Vertex AI Model Monitoring for a model version deployed to an endpoint.

    Creates a ModelDeploymentMonitoringJob on the endpoint's deployments of the registered
    model version: a sample of the prediction requests is compared every
    monitor_interval_hours with the training data (skew) and with the previous window
    (drift), per feature, and features beyond their thresholds are e-mailed (and logged to
    Cloud Logging). Every feature of the registered schema except the label is monitored,
    with its override or the default threshold.

    Args:
        monitoring_job: Output: ``monitoring_job.json`` -- the job's resource name, dashboard
            URL, endpoint, deployed model IDs, features and thresholds (also metadata).
        project: Google Cloud project of the endpoint.
        region: Region of the endpoint, e.g. europe-west4.
        endpoint: The endpoint: display name, numeric ID or
            ``projects/.../locations/.../endpoints/...``.
        registry_uri: The registry push wrote, normally
            ``vertex://projects/<project>/locations/<region>``; the version's schema gives
            the features and label.
        model_name: The registered (and deployed) model.
        model_version: A version, an alias (``champion``) or ``latest``.
        training_data_uri: The skew baseline: ``bq://project.dataset.table`` or a gs:// CSV,
            JSONL or TFRecord file; empty: the data source in the version's lineage.
        label_column: The label (target field, left out of skew); empty: the model's label.
        skew_threshold: Default skew threshold of every feature.
        skew_thresholds: Per-feature skew thresholds.
        drift_threshold: Default drift threshold of every feature.
        drift_thresholds: Per-feature drift thresholds.
        sample_rate: Share of prediction requests logged for monitoring, in (0, 1].
        monitor_interval_hours: Hours between monitoring runs (at least 1).
        alert_emails: Addresses that receive Vertex AI's alert e-mails.
        enable_logging: Also stream anomalies to Cloud Logging.
        display_name: Name of the monitoring job; empty: ``<model_name>-monitoring``.
        labels: Extra labels of the monitoring job.
    """
    from kfp_mlops.components._shared import logs
    from kfp_mlops.components.vertex_monitoring import core

    logs.setup()
    job = core.set_up(
        output_dir=monitoring_job.path,
        project=project, region=region, endpoint=endpoint, registry_uri=registry_uri,
        model_name=model_name, model_version=model_version,
        training_data_uri=training_data_uri, label_column=label_column,
        skew_threshold=skew_threshold, skew_thresholds=dict(skew_thresholds),
        drift_threshold=drift_threshold, drift_thresholds=dict(drift_thresholds),
        sample_rate=sample_rate, monitor_interval_hours=monitor_interval_hours,
        alert_emails=list(alert_emails), enable_logging=enable_logging,
        display_name=display_name, labels=dict(labels))
    monitoring_job.metadata.update(job.metadata())
