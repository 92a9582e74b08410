"""Monitor component: the KFP shell around core.py."""
from typing import Dict, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("monitor"), install_kfp_package=False)
def monitor(
    dataset: Input[Dataset],
    statistics: Output[Artifact],
    drift_report: Output[Artifact],
    report: Output[HTML],
    metrics: Output[Metrics],
    registry_uri: str,
    model_name: str,
    model_version: str = "champion",
    skew_threshold: float = 0.3,
    skew_thresholds: Dict[str, float] = {},
    drift_threshold: float = 0.3,
    drift_thresholds: Dict[str, float] = {},
    record_history: bool = True,
    run_name: str = "",
    batch_rows: int = 65536,
    decide_by: str = "auto",
    p_value: float = 0.05,
    min_rows: int = 30,
) -> NamedTuple("MonitorOutputs", [("drift_detected", bool), ("model_version", str)]):
    """Checks a serving batch against a registered model's schema and baseline statistics.

    Computes TFDV statistics of every row of the batch, validates them against the model
    version's schema in the SERVING environment (the label is not expected), and measures
    every feature's training-serving skew against the version's baseline statistics and its
    drift against the previous batch monitored for the same version (L-infinity distance for
    categorical features, Jensen-Shannon divergence for numeric ones; also PSI, normalised
    Wasserstein distance and a KS / chi-squared test). A feature is judged by the test on
    small samples and by its distance on large ones (decide_by); drift_detected is true
    when any feature is judged skewed or drifted or the batch has a schema anomaly;
    the reasons are in the report and the artifacts' metadata. The batch statistics are
    recorded in the version's monitoring history in the registry. The task fails, writing
    nothing to the registry, for an unknown model or version, an empty batch, or a batch
    with none of the model's features.

    Args:
        dataset: The serving batch, a Dataset from ingest; every row of every split is
            monitored (ingest it with split_ratios [1.0, 0.0, 0.0]). The label may be absent.
        statistics: Output: the batch statistics, ``Split-serving/FeatureStats.pb`` (binary
            DatasetFeatureStatisticsList, TFX layout).
        drift_report: Output: ``report.json`` -- the decision, findings, schema anomalies
            and every feature's skew and drift with metric and threshold. Metadata:
            drift_detected, reasons, model_name, model_version, monitoring_entry, ...
        report: Output: an HTML page with the decision and every feature's distances.
        metrics: Output: ``skew/<feature>`` and ``drift/<feature>`` for every measured
            feature, max_skew, max_drift, rows, anomaly, skewed and drifted feature counts.
        registry_uri: The registry push wrote: a local path or ``file://`` URI, a
            ``gs://`` / ``s3://`` / ``/gcs/`` folder, or
            ``vertex://projects/<project>/locations/<region>``.
        model_name: The registered model the batch is served to.
        model_version: A version number, an alias (``champion``) or ``latest``.
        skew_threshold: Default training-serving skew threshold of every feature (Vertex AI
            Model Monitoring's default is 0.3).
        skew_thresholds: Per-feature skew thresholds overriding skew_threshold.
        drift_threshold: Default drift threshold (against the previous monitored batch).
        drift_thresholds: Per-feature drift thresholds overriding drift_threshold.
        record_history: Record the batch statistics in the version's monitoring history (the
            next run's drift baseline). False monitors without leaving a trace.
        run_name: Pipeline run name recorded in the history; pass
            ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER`` from the pipeline.
        batch_rows: Rows per batch of the statistics computation.
        decide_by: How a feature without a threshold of its own is judged: ``auto`` (the
            KS / chi-squared test when both sides have at most 1000 values, the distance
            beyond), ``distance`` (L-infinity / Jensen-Shannon against the thresholds) or
            ``test``. A feature named in skew_thresholds / drift_thresholds is judged by
            its distance.
        p_value: Family-wise significance level of the tests: a tested feature drifts when
            its p-value is below p_value divided by the number of features tested.
        min_rows: A feature with fewer values on a side is not judged ("not enough rows
            to judge"); 0 judges every feature.

    Returns:
        drift_detected: Whether there is any finding (skew, drift or schema anomaly).
        model_version: The version the model reference resolved to.
    """
    import collections
    import logging

    from kfp_mlops.components._shared import logs
    from kfp_mlops.components.monitor import core

    logs.setup()
    log = logging.getLogger("kfp_mlops.monitor")
    result = core.monitor(
        dataset_dir=dataset.path,
        registry_uri=registry_uri,
        model_name=model_name,
        statistics_dir=statistics.path,
        report_dir=drift_report.path,
        report_path=report.path,
        model_version=model_version,
        skew_threshold=skew_threshold,
        skew_thresholds=dict(skew_thresholds),
        drift_threshold=drift_threshold,
        drift_thresholds=dict(drift_thresholds),
        record_history=record_history,
        run_name=run_name,
        batch_rows=batch_rows,
        decide_by=decide_by,
        p_value=p_value,
        min_rows=min_rows,
    )
    metadata = result.metadata()
    drift_report.metadata.update(metadata)
    statistics.metadata.update({"split_names": [core.SERVING_SPLIT], "rows": result.rows,
                                "layout": "Split-<split>/FeatureStats.pb",
                                "model_name": result.model_name,
                                "model_version": result.model_version})
    report.metadata.update({"drift_detected": result.drift_detected,
                            "model_version": result.model_version})
    for name, value in result.metrics().items():
        metrics.log_metric(name, value)
    for reason in result.reasons:
        log.warning("finding: %s", reason)
    outputs = collections.namedtuple("MonitorOutputs", ["drift_detected", "model_version"])
    return outputs(result.drift_detected, result.model_version)
