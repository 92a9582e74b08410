"""Set up Vertex AI Model Monitoring for a model deployed to an endpoint.

Plain Python, no kfp; ``google.cloud.aiplatform`` is imported inside :func:`create`.

The batch ``monitor`` component checks data you hand it; a deployed endpoint gets its
requests checked by Vertex AI itself: a ``ModelDeploymentMonitoringJob`` samples the
prediction requests (``RandomSampleConfig``), and every ``monitor_interval_hours``
compares them with the training data (skew) and with the previous window (drift), and
e-mails (and logs) the features beyond their thresholds.

Thresholds follow ``monitor``'s conventions: a default and per-feature overrides. Vertex's
``skew_thresholds``/``drift_thresholds`` monitor only the features they name, so the
registered schema's features (the label left out) are expanded into one entry each: every
feature is monitored, with its override or the default.

The training data (the skew baseline) must be in BigQuery (``bq://project.dataset.table``)
or Cloud Storage (``gs://...``; CSV, JSONL or TFRecord): ``training_data_uri``, or the data
source push recorded in the version's lineage.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from kfp_mlops.components._shared.statistics import DEFAULT_THRESHOLD

logger = logging.getLogger(__name__)

JOB_FILE = "monitoring_job.json"
_ENDPOINT_NAME = re.compile(r"^projects/[^/]+/locations/[^/]+/endpoints/[^/]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".tfrecord": "tf-record",
            ".tfrecords": "tf-record"}


class VertexMonitoringError(ValueError):
    """A setting cannot configure Vertex AI Model Monitoring."""


@dataclasses.dataclass
class MonitoringPlan:
    """Everything the ``ModelDeploymentMonitoringJob.create`` call is built from."""

    project: str
    region: str
    endpoint: str                    # as given: display name, ID or resource name
    display_name: str
    model_name: str
    model_version: str
    model_resource: str              # the registered model (Vertex resource name, or URI)
    features: List[str]
    label_column: str
    training_data_uri: str
    data_format: Optional[str]
    skew_thresholds: Dict[str, float]
    drift_thresholds: Dict[str, float]
    sample_rate: float
    monitor_interval_hours: int
    alert_emails: List[str]
    enable_logging: bool
    labels: Dict[str, str]

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class MonitoringJob:
    plan: MonitoringPlan
    resource_name: str
    endpoint_resource_name: str
    deployed_model_ids: List[str]
    dashboard_uri: str

    def metadata(self) -> Dict[str, Any]:
        return {"resource_name": self.resource_name,
                "endpoint": self.endpoint_resource_name,
                "deployed_model_ids": list(self.deployed_model_ids),
                "dashboard_uri": self.dashboard_uri,
                "model_name": self.plan.model_name, "model_version": self.plan.model_version,
                "features": list(self.plan.features),
                "training_data_uri": self.plan.training_data_uri,
                "skew_thresholds": dict(self.plan.skew_thresholds),
                "drift_thresholds": dict(self.plan.drift_thresholds),
                "sample_rate": self.plan.sample_rate,
                "monitor_interval_hours": self.plan.monitor_interval_hours,
                "alert_emails": list(self.plan.alert_emails)}


def _threshold(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not 0 <= value <= 1:
        raise VertexMonitoringError(f"{name} must be a number from 0 to 1, got {value!r}")
    return float(value)


def expand_thresholds(features: Sequence[str], default: float,
                      overrides: Optional[Mapping[str, float]], what: str) -> Dict[str, float]:
    """``{feature: threshold}`` for every feature: its override, else ``default``."""
    default = _threshold(f"{what[:-1]}", default)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(features))
    if unknown:
        raise VertexMonitoringError(f"{what} name features the model does not have: "
                                    f"{unknown}; its features are {list(features)}")
    return {f: _threshold(f"{what}[{f!r}]", overrides.get(f, default)) for f in features}


def data_format_of(uri: str) -> Optional[str]:
    """Vertex's ``data_format`` for a Cloud Storage source (None for BigQuery)."""
    if uri.startswith("bq://"):
        return None
    ext = os.path.splitext(uri.rstrip("/"))[1].lower()
    if ext not in _FORMATS:
        raise VertexMonitoringError(
            f"training data {uri!r}: Vertex AI Model Monitoring reads CSV, JSONL or TFRecord "
            "files in Cloud Storage (name ending .csv, .jsonl or .tfrecord) or a BigQuery "
            "table bq://project.dataset.table")
    return _FORMATS[ext]


def plan(project: str, region: str, endpoint: str, registry_uri: str, model_name: str,
         model_version: str = "champion", training_data_uri: str = "", label_column: str = "",
         skew_threshold: float = DEFAULT_THRESHOLD,
         skew_thresholds: Optional[Mapping[str, float]] = None,
         drift_threshold: float = DEFAULT_THRESHOLD,
         drift_thresholds: Optional[Mapping[str, float]] = None, sample_rate: float = 0.8,
         monitor_interval_hours: int = 1, alert_emails: Sequence[str] = (),
         enable_logging: bool = True, display_name: str = "",
         labels: Optional[Mapping[str, str]] = None) -> MonitoringPlan:
    """Checks the settings and reads the model's features; nothing is called yet."""
    from kfp_mlops.components._shared import gcp, registry as reg, schema as schema_io

    gcp.check_project_region(project, region, error=VertexMonitoringError)
    if not endpoint:
        raise VertexMonitoringError("endpoint is empty: expected the endpoint's display name, "
                                    "ID or projects/.../endpoints/... resource name")
    if not 0 < sample_rate <= 1:
        raise VertexMonitoringError(f"sample_rate must be in (0, 1], got {sample_rate!r}")
    if not isinstance(monitor_interval_hours, int) or monitor_interval_hours < 1:
        raise VertexMonitoringError("monitor_interval_hours must be a whole number of hours "
                                    f">= 1 (Vertex AI's minimum), got {monitor_interval_hours!r}")
    bad = [e for e in alert_emails if not _EMAIL.match(e)]
    if bad:
        raise VertexMonitoringError(f"alert_emails {bad} are not e-mail addresses")

    registry = reg.open_registry(registry_uri)
    try:
        version = registry.resolve(model_name, model_version or "champion")
    except (reg.ModelNotFoundError, reg.VersionNotFoundError) as e:
        raise VertexMonitoringError(f"model {model_name!r} ({model_version}) is not in the "
                                    f"registry {registry_uri!r}: {e}") from e
    try:
        schema = schema_io.read_schema(version.schema_path, "the registered schema")
    except schema_io.SchemaError as e:  # local, gs:// or s3://
        raise VertexMonitoringError(str(e)) from e
    label = label_column or schema_io.label_of(schema, version.lineage)
    features = [f.name for f in schema.feature  # the model's inputs: not the label, not
                if f.name != label and not schema_io.is_kept_out(f)]  # an ID-like column
    source = training_data_uri or str((version.lineage or {}).get("data_source", ""))
    if not (source.startswith("bq://") or source.startswith("gs://")):
        raise VertexMonitoringError(
            f"skew detection needs the training data in BigQuery or Cloud Storage; the "
            f"version was trained on {source or '(unknown)'!r}: pass training_data_uri "
            "(bq://project.dataset.table or gs://.../data.csv)")
    return MonitoringPlan(
        project=project, region=region, endpoint=endpoint,
        display_name=display_name or f"{model_name}-monitoring",
        model_name=model_name, model_version=str(version.version),
        model_resource=str(version.uri).split("@", 1)[0], features=features,
        label_column=label, training_data_uri=source, data_format=data_format_of(source),
        skew_thresholds=expand_thresholds(features, skew_threshold, skew_thresholds,
                                          "skew_thresholds"),
        drift_thresholds=expand_thresholds(features, drift_threshold, drift_thresholds,
                                           "drift_thresholds"),
        sample_rate=float(sample_rate), monitor_interval_hours=int(monitor_interval_hours),
        alert_emails=list(alert_emails), enable_logging=bool(enable_logging),
        labels={"managed_by": "kfp-mlops", "model_name": gcp.label_value(model_name, default=""),
                "model_version": gcp.label_value(version.version, default=""),
                **{str(k): str(v) for k, v in (labels or {}).items()}})


def _find_endpoint(aiplatform, plan_: MonitoringPlan):
    if _ENDPOINT_NAME.match(plan_.endpoint) or plan_.endpoint.isdigit():
        return aiplatform.Endpoint(plan_.endpoint, project=plan_.project,
                                   location=plan_.region)
    found = aiplatform.Endpoint.list(filter=f'display_name="{plan_.endpoint}"',
                                     project=plan_.project, location=plan_.region)
    if not found:
        raise VertexMonitoringError(f"no Vertex AI endpoint named {plan_.endpoint!r} in "
                                    f"{plan_.project}/{plan_.region}")
    return found[0]


def _deployed_ids(endpoint, plan_: MonitoringPlan) -> List[str]:
    """IDs of the endpoint's deployments of the monitored model version."""
    ids = []
    for deployed in endpoint.list_models():
        model = str(getattr(deployed, "model", ""))
        version = str(getattr(deployed, "model_version_id", ""))
        name = str(getattr(deployed, "display_name", ""))
        if (model == plan_.model_resource and version == plan_.model_version) \
                or name == f"{plan_.model_name}-v{plan_.model_version}":
            ids.append(str(deployed.id))
    return ids


def create(plan_: MonitoringPlan) -> MonitoringJob:
    """``aiplatform.ModelDeploymentMonitoringJob.create`` for the plan."""
    from google.cloud import aiplatform
    from google.cloud.aiplatform import model_monitoring

    endpoint = _find_endpoint(aiplatform, plan_)
    deployed = _deployed_ids(endpoint, plan_)
    if not deployed:
        raise VertexMonitoringError(
            f"endpoint {endpoint.resource_name} serves no deployment of {plan_.model_name!r} "
            f"version {plan_.model_version}; deploy it first (push with endpoint_name)")
    objective = model_monitoring.ObjectiveConfig(
        skew_detection_config=model_monitoring.SkewDetectionConfig(
            data_source=plan_.training_data_uri,
            skew_thresholds=dict(plan_.skew_thresholds),
            target_field=plan_.label_column or None,
            data_format=plan_.data_format),
        drift_detection_config=model_monitoring.DriftDetectionConfig(
            drift_thresholds=dict(plan_.drift_thresholds)))
    job = aiplatform.ModelDeploymentMonitoringJob.create(
        display_name=plan_.display_name,
        endpoint=endpoint.resource_name,
        deployed_model_ids=deployed,
        objective_configs=objective,
        logging_sampling_strategy=model_monitoring.RandomSampleConfig(
            sample_rate=plan_.sample_rate),
        schedule_config=model_monitoring.ScheduleConfig(
            monitor_interval=plan_.monitor_interval_hours),
        alert_config=model_monitoring.EmailAlertConfig(
            user_emails=list(plan_.alert_emails), enable_logging=plan_.enable_logging),
        labels=dict(plan_.labels),
        project=plan_.project,
        location=plan_.region,
    )
    job_id = str(job.resource_name).rsplit("/", 1)[-1]
    dashboard = (f"https://console.cloud.google.com/vertex-ai/locations/{plan_.region}/"
                 f"model-monitoring/model-deployment-monitoring-jobs/{job_id}?project="
                 f"{plan_.project}")
    logger.info("created Vertex AI Model Monitoring job %s on endpoint %s for deployments %s",
                job.resource_name, endpoint.resource_name, deployed)
    return MonitoringJob(plan_, str(job.resource_name), str(endpoint.resource_name), deployed,
                         dashboard)


def set_up(output_dir: str, **settings) -> MonitoringJob:
    """:func:`plan` then :func:`create`; writes ``monitoring_job.json`` to ``output_dir``."""
    from kfp_mlops.components._shared import io

    plan_ = plan(**settings)
    job = create(plan_)
    with io.output_dir(output_dir) as out:
        io.write_json(os.path.join(out, JOB_FILE), {"plan": plan_.to_dict(), **job.metadata()})
    return job
