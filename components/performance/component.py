"""Performance component: the KFP shell around core.py."""
from typing import Dict, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Metrics, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("performance"), install_kfp_package=False)
def performance(
    predictions_uri: str,
    labels_uri: str,
    registry_uri: str,
    performance_report: Output[Artifact],
    report: Output[HTML],
    metrics: Output[Metrics],
    model_name: str = "",
    label_column: str = "",
    key_column: str = "",
    max_degradation: Dict[str, float] = {},
    min_rows: int = 30,
    record_history: bool = True,
    run_name: str = "",
    csv_delimiter: str = "",
) -> NamedTuple("PerformanceOutputs", [("degraded", bool), ("model_version", str)]):
    """Scores a batch's predictions against the labels that arrived later.

    The labels are joined to the predictions on the key column (the predictions'
    ``key_column``: the input's key, or ``input_row``, the row's 0-based position), scored with
    the metrics evaluate computes, and compared with the registered evaluation of the version
    that scored the batch (named in ``predictions.json``). A metric worse than it by more than
    max_degradation allows, or labels of classes the model does not know, set degraded; the
    result is recorded in the version's monitoring history (kind ``performance``). Bad input
    (no key or label column, duplicate keys, no overlap, fewer than min_rows labelled rows)
    fails the task before anything is written.

    Args:
        predictions_uri: The predictions folder the predict component wrote (a local path,
            ``gs://`` or ``s3://`` URI).
        labels_uri: The labels: CSV or Parquet (path, URI, folder or glob) with the key column
            and the label column.
        registry_uri: The registry holding the scoring version and its evaluation.
        performance_report: Output: ``report.json`` in the monitoring report's format (check
            ``performance``), read by alert and retrain as their ``drift_report``. Metadata:
            degraded, drift_detected, reasons, model_version, monitoring_entry, ...
        report: Output: an HTML page with the decision, each metric against the registered
            one, ROC / precision-recall / confusion charts (predicted against actual for
            regression) and each metric over the version's history.
        metrics: Output: every metric, ``baseline/<metric>``, rows, degraded.
        model_name: The model the predictions must be of; empty: the one they name.
        label_column: The labels' label column; empty takes the predictions' label column.
        key_column: The labels' key column; empty takes the predictions' key column.
        max_degradation: How much worse than the registered evaluation each metric may be,
            as an absolute amount, e.g. {"accuracy": 0.05}. Empty: the main metric
            (accuracy / rmse) may not get worse at all (evaluate's default).
        min_rows: Fewer joined rows with a usable label fail the task.
        record_history: Record the result in the version's monitoring history.
        run_name: The pipeline run, recorded; pass ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER``.
        csv_delimiter: The labels' CSV separator; empty detects it as ingest does.

    Returns:
        degraded: Whether there is any finding.
        model_version: The version that scored the predictions.
    """
    import collections

    from kfp_mlops.components._shared import io, logs
    from kfp_mlops.components.performance import core

    logs.setup()
    with io.local_copy(predictions_uri) as predictions_dir:
        result = core.monitor_performance(
            predictions_dir=predictions_dir, labels_uri=labels_uri, registry_uri=registry_uri,
            report_dir=performance_report.path, report_path=report.path,
            label_column=label_column, key_column=key_column,
            max_degradation=dict(max_degradation), min_rows=min_rows,
            record_history=record_history, run_name=run_name, csv_delimiter=csv_delimiter,
            predictions_uri=predictions_uri, model_name=model_name)
    performance_report.metadata.update(result.metadata())
    report.metadata.update({"degraded": result.degraded,
                            "model_version": result.model_version})
    for name, value in sorted(result.scalar_metrics().items()):
        metrics.log_metric(name, value)
    outputs = collections.namedtuple("PerformanceOutputs", ["degraded", "model_version"])
    return outputs(result.degraded, result.model_version)
