"""Performance monitoring: score a batch's predictions against the labels that arrived later.

Plain Python in, plain Python out (no kfp). For one predictions artifact (the predict
component's folder, read through ``predict.predictions`` only) and one labels file:

1. the labels (CSV or Parquet, read by ingest's ``iter_source``) are joined to the
   predictions on the key column (the predictions' ``key_column``: the input's key, or
   ``input_row``, the row's 0-based position, when the input had none);
2. the joined rows are scored with the very metrics evaluate computes
   (``_shared.metrics``): accuracy, AUC, PR AUC, precision, recall, F1 and log loss for
   classification, RMSE, MAE, R² and MSE for regression;
3. each metric named in ``max_degradation`` (default: evaluate's default, the main metric may
   not get worse at all) is compared with the registered evaluation of the version that
   scored the batch (``predictions.json``'s ``model_version``); one worse by more than its
   allowance is a finding, and ``degraded`` is true when there is any;
4. the report (``report.json`` in the monitoring report's format, ``check`` "performance", so
   alert and retrain read it as they read drift), an HTML page, and an entry of kind
   "performance" in the version's monitoring history.

Labels the model cannot score are treated as evaluate treats them: a missing label, or a
class the model does not know, is not scored (its predicted probabilities have no column for
such a class, so log loss and AUC would be undefined) and is counted (``skipped_rows``,
``unknown_labels``). Unlike evaluate, labels of unknown classes are also a finding: a class
the world now has and the model cannot predict is a degradation, whatever the metrics of the
other rows say.

Bad input raises before anything is written (no output, no history entry): a folder that is
not a predictions artifact, a labels file without the key or the label column, duplicate keys,
no key shared with the predictions, fewer than ``min_rows`` scorable joined rows, a version
with no registered evaluation, a model hash that differs from the registry's, bad limits.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from kfp_mlops.components._shared import html_report
from kfp_mlops.components._shared import metrics as shared_metrics
from kfp_mlops.components._shared.metrics import DIRECTIONS, MAIN_METRIC, METRICS
from kfp_mlops.components._shared.model_io import CLASSIFICATION
from kfp_mlops.components.monitor import report as monitoring_report
from kfp_mlops.components.monitor.report import PERFORMANCE, PERFORMANCE_CHECK, Finding

logger = logging.getLogger(__name__)

#: Fewer scorable joined rows than this: no judgement (monitor's ``min_rows`` default).
DEFAULT_MIN_ROWS = 30


class PerformanceError(ValueError):
    """The predictions, the labels or the settings cannot be compared; the message says which."""


@dataclasses.dataclass
class MetricCheck:
    """One metric against the registered evaluation."""

    metric: str
    value: Optional[float]
    baseline: Optional[float]
    allowed: float
    bound: Optional[float]
    direction: str
    degraded: bool
    reason: str

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class PerformanceResult:
    """What :func:`monitor_performance` measured and decided."""

    degraded: bool
    findings: List[Finding]
    model_name: str
    model_ref: str
    model_version: str
    model_uri: str
    registry_uri: str
    task: str
    label_column: str
    key_column: str
    rows: int                               # joined rows scored
    prediction_rows: int
    label_rows: int
    unmatched_predictions: int              # predictions without a label (yet)
    unmatched_labels: int                   # labels of no prediction of this batch
    skipped_rows: int                       # joined rows without a usable label
    unknown_labels: Dict[str, int]          # class the model does not know -> rows
    metrics: Dict[str, Optional[float]]
    per_class: Dict[str, Dict[str, Optional[float]]]
    baseline: Dict[str, Optional[float]]    # the registered evaluation's metrics
    baseline_split: str
    baseline_rows: Optional[int]
    checks: List[MetricCheck]
    max_degradation: Dict[str, float]
    min_rows: int
    confusion_matrix: Optional[Dict[str, Any]] = None
    classes: List[str] = dataclasses.field(default_factory=list)
    curves: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    predictions_uri: str = ""
    labels_uri: str = ""
    monitoring_entry: str = ""
    monitoring_seq: Optional[int] = None
    run_name: str = ""
    monitored_at: str = ""
    seconds: float = 0.0
    #: the report's ``check`` (:func:`monitoring_report.write_report` reads it)
    check: str = PERFORMANCE_CHECK

    @property
    def reasons(self) -> List[str]:
        return [f.message for f in self.findings]

    def performance_json(self) -> Dict[str, Any]:
        """The ``performance`` section of ``report.json``."""
        return {"task": self.task, "metrics": dict(self.metrics),
                "per_class": dict(self.per_class),
                "baseline": {"metrics": dict(self.baseline), "split": self.baseline_split,
                             "rows": self.baseline_rows,
                             "source": f"registered evaluation of version {self.model_version}"},
                "max_degradation": dict(self.max_degradation),
                "checks": [c.to_dict() for c in self.checks],
                "confusion_matrix": self.confusion_matrix,
                "rows": self.rows, "prediction_rows": self.prediction_rows,
                "label_rows": self.label_rows,
                "unmatched_predictions": self.unmatched_predictions,
                "unmatched_labels": self.unmatched_labels,
                "skipped_rows": self.skipped_rows, "unknown_labels": dict(self.unknown_labels),
                "key_column": self.key_column, "predictions_uri": self.predictions_uri,
                "labels_uri": self.labels_uri}

    def to_json(self) -> Dict[str, Any]:
        return monitoring_report.performance_document(self)

    def scalar_metrics(self) -> Dict[str, float]:
        """Numbers for a KFP ``Metrics`` artifact: every defined metric, its registered
        value (``baseline/<metric>``), the rows and the decision."""
        out = {m: float(v) for m, v in self.metrics.items() if _defined(v)}
        out.update({f"baseline/{m}": float(v) for m, v in self.baseline.items()
                    if m in METRICS[self.task] and _defined(v)})
        out.update(rows=float(self.rows), degraded=float(self.degraded),
                   finding_count=float(len(self.findings)))
        return out

    def metadata(self) -> Dict[str, Any]:
        """Metadata for the output artifacts (no null values: the Kubeflow launcher cannot
        record a top-level null, kubeflow/pipelines backend/src/v2/metadata/converter.go,
        StructValueToMLMDValue)."""
        out = {"degraded": self.degraded, "drift_detected": self.degraded,
               "check": PERFORMANCE_CHECK, "reasons": self.reasons,
               "finding_count": len(self.findings), "model_name": self.model_name,
               "model_version": self.model_version, "rows": self.rows,
               "main_metric": MAIN_METRIC[self.task], "monitoring_entry": self.monitoring_entry}
        if self.monitoring_seq is not None:
            out["monitoring_seq"] = self.monitoring_seq
        return out


_defined = shared_metrics.defined
_fmt = shared_metrics.fmt


# --------------------------------------------------------------------------------------
# Settings and inputs
# --------------------------------------------------------------------------------------

def check_settings(max_degradation: Optional[Mapping[str, Any]] = None,
                   min_rows: int = DEFAULT_MIN_ROWS, task: str = "") -> None:
    """Raises :class:`PerformanceError` naming every bad setting: ``max_degradation`` not a
    mapping of metrics ``task``'s evaluation computes (any evaluation's when ``task`` is
    empty) to finite numbers >= 0, ``min_rows`` not a whole number >= 1."""
    from kfp_mlops.components._shared import checks

    problems: List[str] = []
    if max_degradation is not None and not isinstance(max_degradation, Mapping):
        problems.append(f"max_degradation {max_degradation!r}: expected a mapping of metric "
                        'name to number, e.g. {"accuracy": 0.02}')
    else:
        known = METRICS[task] if task else shared_metrics.ALL_METRICS
        unknown = [m for m in (max_degradation or {}) if m not in known]
        if unknown:
            what = (f"a {task} evaluation does not compute" if task
                    else "no evaluation computes")
            problems.append(f"max_degradation names metric(s) {unknown} that {what}; "
                            f"expected some of {list(known)}")
        for metric, value in (max_degradation or {}).items():
            problems.append(checks.number_problem(f"max_degradation[{metric!r}]", value,
                                                  minimum=0))
    problems.append(checks.number_problem("min_rows", min_rows, whole=True, minimum=1))
    checks.raise_all(problems, PerformanceError)


def read_labels(labels_uri: str, columns: Sequence[str], csv_delimiter: str = ""):
    """The labels file (CSV or Parquet: a path, ``gs://`` / ``s3://`` URI, folder or glob) as a
    DataFrame of ``columns``; raises :class:`PerformanceError` naming a missing column."""
    import pyarrow as pa

    from kfp_mlops.components.ingest.core import IngestError, iter_source

    try:
        _, _, batches = iter_source(labels_uri, csv_delimiter=csv_delimiter)
        tables = [pa.Table.from_batches([b]) for _, b in batches]
    except (IngestError, OSError) as e:
        raise PerformanceError(f"labels {labels_uri!r} cannot be read: {e}") from e
    if not tables:
        raise PerformanceError(f"labels {labels_uri!r} hold no rows")
    names = tables[0].column_names
    missing = [c for c in columns if c not in names]
    if missing:
        raise PerformanceError(f"labels {labels_uri!r} have no column(s) {missing}; its columns "
                               f"are {names} (expected the key column and the label column)")
    # one schema: iter_source reads every file with the first file's column types
    return pa.concat_tables([t.select(list(columns)) for t in tables]).to_pandas()


def _keys(values, what: str) -> "Any":
    """Key values as text (``input_row`` 7 and a CSV's "7" are one key), duplicates refused."""
    from kfp_mlops.components._shared import model_io

    keys = model_io.category_strings(values)
    if (keys == "").any():
        raise PerformanceError(f"{what} has {int((keys == '').sum())} row(s) without a key")
    import pandas as pd

    counts = pd.Series(keys).value_counts()
    duplicated = counts[counts > 1]
    if len(duplicated):
        shown = ", ".join(f"{k!r} ({n} rows)" for k, n in list(duplicated.items())[:5])
        raise PerformanceError(f"{what} has {len(duplicated)} duplicate key(s): {shown}; "
                               "expected one row per key")
    return keys


def _resolve(registry_uri: str, model_name: str, model_version: str, model_hash: str):
    from kfp_mlops.components._shared import registry as reg

    registry = reg.open_registry(registry_uri)
    try:
        version = registry.resolve(model_name, model_version)
    except reg.ModelNotFoundError as e:
        raise PerformanceError(f"model {model_name!r} of the predictions is not in the "
                               f"registry {registry_uri!r}: {e}") from e
    except reg.VersionNotFoundError as e:
        raise PerformanceError(f"version {model_version!r} of model {model_name!r} (the "
                               f"predictions' scoring version) is not in the registry "
                               f"{registry_uri!r}: {e}") from e
    if model_hash and version.model_hash and model_hash != version.model_hash:
        raise PerformanceError(f"the predictions were scored by a model with hash {model_hash}, "
                               f"but version {version.version} of {model_name!r} in "
                               f"{registry_uri!r} has hash {version.model_hash}")
    metrics = (version.evaluation or {}).get("metrics") or {}
    if not metrics:
        raise PerformanceError(f"version {version.version} of {model_name!r} in "
                               f"{registry_uri!r} has no registered evaluation to compare "
                               "with (push registers evaluate's evaluation.json)")
    return registry, version


# --------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------

def metric_checks(current: Mapping[str, Optional[float]],
                  baseline: Mapping[str, Optional[float]],
                  max_degradation: Mapping[str, float], version: str) -> List[MetricCheck]:
    """Each metric of ``max_degradation`` against its registered value, in words."""
    out = []
    for metric, allowed in sorted(max_degradation.items()):
        direction = DIRECTIONS[metric]
        value, base = current.get(metric), baseline.get(metric)
        c = shared_metrics.compare(metric, value, base, allowed)
        if c is None:
            out.append(MetricCheck(metric, value if _defined(value) else None,
                                   base if _defined(base) else None, float(allowed), None,
                                   direction, False,
                                   f"{metric} not judged: it could not be computed "
                                   f"(this batch {_fmt(value)}, registered evaluation of "
                                   f"version {version} {_fmt(base)})"))
            continue
        degraded = not c.within
        out.append(MetricCheck(
            metric, c.value, c.base, c.allowed, c.bound, direction, degraded,
            f"{metric} {'DEGRADED' if degraded else 'held'}: {_fmt(value)} on the labelled "
            f"batch vs {_fmt(base)} in the registered evaluation of version {version} "
            f"{c.terms()}"))
    return out


def _history_metrics(history: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    return [h for h in history if isinstance(h, Mapping)
            and h.get("kind") == PERFORMANCE_CHECK]


# --------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------

def monitor_performance(predictions_dir: str, labels_uri: str, registry_uri: str,
                        report_dir: str, report_path: str, label_column: str = "",
                        key_column: str = "",
                        max_degradation: Optional[Mapping[str, float]] = None,
                        min_rows: int = DEFAULT_MIN_ROWS, record_history: bool = True,
                        run_name: str = "", csv_delimiter: str = "",
                        predictions_uri: str = "", model_name: str = "") -> PerformanceResult:
    """Scores a batch's predictions against its labels and compares with the registry.

    Args:
        predictions_dir: a local predictions folder (``predict.predictions``'s layout).
        labels_uri: the labels: CSV or Parquet (path, ``gs://`` / ``s3://`` URI, folder or
            glob) holding the key column and the label column.
        registry_uri: the registry holding the scoring version (``predictions.json``'s
            ``model_name`` / ``model_version``) and its registered evaluation.
        report_dir: output directory: ``report.json`` (the monitoring report's format).
        report_path: output HTML file.
        label_column: the labels' label column; "" takes the predictions' ``label_column``.
        key_column: the labels' key column; "" takes the predictions' ``key_column``.
        max_degradation: metric -> how much worse than the registered evaluation it may be
            (absolute). None or empty: evaluate's default (the main metric may not get worse).
        min_rows: fewer scorable joined rows than this is an error, nothing is judged.
        record_history: record the result in the version's monitoring history.
        run_name: the pipeline run, recorded in the history.
        csv_delimiter: the labels' CSV field separator; "" detects it (as ingest does).
        predictions_uri: where the predictions live (recorded); "" records predictions_dir.
        model_name: the model the predictions must be of; "" takes ``predictions.json``'s.

    Returns:
        A :class:`PerformanceResult`.

    Raises:
        PerformanceError: bad input, naming which; nothing is written then.
    """
    import numpy as np

    from kfp_mlops.components._shared import io
    from kfp_mlops.components.predict import predictions as preds

    started = time.time()
    check_settings(max_degradation, min_rows)
    try:
        meta = preds.read_metadata(predictions_dir)
    except preds.PredictionsError as e:
        raise PerformanceError(str(e)) from e
    task, classes = meta["task"], [str(c) for c in meta.get("classes") or []]
    check_settings(max_degradation, min_rows, task)
    limits = ({k: float(v) for k, v in (max_degradation or {}).items()}
              or shared_metrics.default_max_regression(task))
    key = key_column or meta["key_column"]
    label = label_column or meta["label_column"]
    if not label:
        raise PerformanceError("no label_column given and the predictions name none")
    if model_name and model_name != str(meta["model_name"]):
        raise PerformanceError(f"model_name {model_name!r}: the predictions "
                               f"{predictions_dir!r} were scored by model "
                               f"{meta['model_name']!r}")
    model_name, ref = str(meta["model_name"]), str(meta["model_version"])
    registry, version = _resolve(registry_uri, model_name, ref, meta.get("model_hash", ""))
    baseline = dict(version.evaluation.get("metrics") or {})

    # the join
    columns = [meta["key_column"], preds.PREDICTION] + (
        [preds.probability_column(c) for c in classes] if task == CLASSIFICATION else [])
    try:
        predicted = preds.read_pandas(predictions_dir, columns)
    except preds.PredictionsError as e:
        raise PerformanceError(str(e)) from e
    except (KeyError, ValueError) as e:   # pyarrow: a column the folder does not have
        raise PerformanceError(f"predictions {predictions_dir!r} lack column(s) of {columns}: "
                               f"{e}") from e
    labels = read_labels(labels_uri, [key, label], csv_delimiter)
    pred_keys = _keys(predicted[meta["key_column"]], f"predictions {predictions_dir!r}")
    label_keys = _keys(labels[key], f"labels {labels_uri!r} (key column {key!r})")
    position = {k: i for i, k in enumerate(label_keys)}
    joined = np.asarray([position.get(k, -1) for k in pred_keys], dtype=np.int64)
    matched = joined >= 0
    if not matched.any():
        raise PerformanceError(
            f"no key of labels {labels_uri!r} (column {key!r}, e.g. {list(label_keys[:3])}) "
            f"matches a key of predictions {predictions_dir!r} (column "
            f"{meta['key_column']!r}, e.g. {list(pred_keys[:3])})")
    predicted = predicted.loc[matched].reset_index(drop=True)
    truth = labels[label].iloc[joined[matched]].reset_index(drop=True)

    from kfp_mlops.components._shared import model_io

    unknown: Dict[str, int] = {}
    if task == CLASSIFICATION:
        text = model_io.category_strings(truth)
        index = {c: i for i, c in enumerate(classes)}
        y = np.asarray([index.get(s, -1) for s in text], dtype=np.int64)
        keep = y >= 0
        for s in text[(~keep) & (text != "")]:
            unknown[str(s)] = unknown.get(str(s), 0) + 1
    else:
        y = model_io.numeric_values(truth).astype(np.float64)
        keep = ~np.isnan(y)
    skipped = int((~keep).sum())
    rows = int(keep.sum())
    if rows < min_rows:
        raise PerformanceError(
            f"only {rows} joined row(s) of predictions {predictions_dir!r} and labels "
            f"{labels_uri!r} have a usable {label!r} label ({int(matched.sum())} keys matched, "
            f"{skipped} without a label or of a class the model does not know); at least "
            f"{min_rows} needed (min_rows)")
    predicted, y = predicted.loc[keep].reset_index(drop=True), y[keep]

    # the metrics, as evaluate computes them
    confusion, per_class = None, {}
    if task == CLASSIFICATION:
        p = predicted[[preds.probability_column(c) for c in classes]].to_numpy(np.float64)
        metrics, per_class = shared_metrics.classification_metrics(y, p, classes)
        from sklearn.metrics import confusion_matrix

        matrix = confusion_matrix(y, np.argmax(p, axis=1), labels=list(range(len(classes))))
        confusion = {"categories": list(classes), "matrix": matrix.astype(int).tolist()}
        curves = shared_metrics.chart_data(task, y, p, classes)
    else:
        pred = predicted[preds.PREDICTION].to_numpy(np.float64)
        metrics = shared_metrics.regression_metrics(y, pred)
        curves = shared_metrics.chart_data(task, y, pred)
    checks = metric_checks(metrics, baseline, limits, str(version.version))
    findings = [Finding(PERFORMANCE, c.metric, c.reason, c.metric, c.value, c.bound)
                for c in checks if c.degraded]
    if unknown:
        findings.append(Finding(
            PERFORMANCE, label,
            f"{sum(unknown.values())} label(s) of class(es) the model does not know: "
            + ", ".join(f"{k!r} ({n})" for k, n in sorted(unknown.items()))
            + f"; the model predicts only {classes} (these rows are not scored)",
            "unknown_labels", float(sum(unknown.values())), 0.0))
    result = PerformanceResult(
        degraded=bool(findings), findings=findings, model_name=model_name, model_ref=ref,
        model_version=str(version.version), model_uri=version.uri, registry_uri=registry_uri,
        task=task, label_column=label, key_column=key, rows=rows,
        prediction_rows=int(len(pred_keys)), label_rows=int(len(label_keys)),
        unmatched_predictions=int((~matched).sum()),
        unmatched_labels=int(len(label_keys) - matched.sum()), skipped_rows=skipped,
        unknown_labels=unknown, metrics=metrics, per_class=per_class, baseline=baseline,
        baseline_split=str(version.evaluation.get("split", "")),
        baseline_rows=version.evaluation.get("rows"), checks=checks, max_degradation=limits,
        min_rows=int(min_rows), confusion_matrix=confusion, classes=classes, curves=curves,
        predictions_uri=predictions_uri or predictions_dir, labels_uri=labels_uri,
        run_name=run_name,
        monitored_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    history = registry.monitoring_history(model_name, version.version)

    # outputs, with the registry entry (recorded before the report, which names it; a
    # failure before it leaves no entry)
    with contextlib.ExitStack() as stack:
        report_out = stack.enter_context(io.output_dir(report_dir))
        if record_history:
            record = {"kind": PERFORMANCE_CHECK, "run_name": run_name, "rows": rows,
                      "model_ref": ref, "drift_detected": result.degraded,
                      "degraded": result.degraded, "reasons": result.reasons,
                      "metrics": dict(metrics), "baseline_metrics": baseline,
                      "max_degradation": limits, "unknown_labels": unknown,
                      "predictions_uri": result.predictions_uri, "labels_uri": labels_uri,
                      "predictions_content_hash": meta.get("input_content_hash", "")}
            result.monitoring_entry = registry.record_monitoring(
                model_name, version.version, record, statistics_path="")
            result.monitoring_seq = _seq_of(result.monitoring_entry)
        result.seconds = time.time() - started
        monitoring_report.write_report(report_out, result)
        io.write_text(report_path, render_report(result, history))
    for reason in result.reasons:
        logger.warning("finding: %s", reason)
    logger.info("performance of %r version %s on %d labelled rows: %s", model_name,
                version.version, rows, "DEGRADED" if result.degraded else "held")
    return result


def _seq_of(entry: str) -> Optional[int]:
    import re

    m = re.match(r"^(\d+)-", os.path.basename(entry.rstrip("/")))
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------------------
# HTML report
# --------------------------------------------------------------------------------------

def report_figures(result: PerformanceResult,
                   history: Sequence[Mapping[str, Any]] = ()) -> List[Dict[str, Any]]:
    """The charts: evaluate's (ROC, precision-recall, confusion matrix; predicted against
    actual for regression) on the labelled batch, and each metric over the version's
    performance history (earlier entries, then this batch) with the registered value
    (dashed)."""
    from kfp_mlops.components._shared import charts

    curves = result.curves or {}
    model = []
    if curves.get("roc"):
        model.append({"svg": charts.roc_figure(curves["roc"]),
                      "caption": "ROC: " + ", ".join(c["class"] for c in curves["roc"])})
    if curves.get("pr"):
        model.append({"svg": charts.pr_figure(curves["pr"]),
                      "caption": "precision-recall; dotted: each class's share of the rows"})
    if result.confusion_matrix:
        model.append({"svg": charts.confusion_figure(result.confusion_matrix["categories"],
                                                     result.confusion_matrix["matrix"]),
                      "caption": "rows: actual (the labels), columns: predicted"})
    if curves.get("actual"):
        model.append({"svg": charts.prediction_figure(curves["actual"], curves["predicted"]),
                      "caption": f"{len(curves['actual']):,} of {result.rows:,} rows drawn"})
    records = _history_metrics(history)
    this = str(result.monitoring_seq) if result.monitoring_seq is not None else "this batch"
    over_time = []
    for i, metric in enumerate(METRICS[result.task]):
        points = [(h.get("seq", j + 1), (h.get("metrics") or {}).get(metric))
                  for j, h in enumerate(records)]
        points.append((this, result.metrics.get(metric)))
        if not any(_defined(v) for _, v in points):
            continue
        base = result.baseline.get(metric)
        series = [{"name": metric, "points": [(x, v if _defined(v) else None)
                                              for x, v in points],
                   "threshold": base if _defined(base) else None,
                   "reference": "registered"}]
        over_time.append({"svg": charts.history_figure(
            series, title=f"{metric} over the monitoring history", ylabel=metric,
            key=f"perf-history-{i}"),
            "caption": metric + (" (degraded)" if any(c.metric == metric and c.degraded
                                                     for c in result.checks) else "")})
    sections = []
    if model:
        sections.append({"title": "Charts", "note": "The labelled batch, drawn as evaluate "
                         "draws the test split.", "figures": model})
    if over_time:
        sections.append({"title": "Metrics over time", "note": (
            f"Each metric over the labelled batches of version {result.model_version} "
            f"({len(records) + 1} so far); dashed: its registered evaluation."),
            "figures": over_time})
    return sections


def report_data(result: PerformanceResult,
                history: Sequence[Mapping[str, Any]] = ()) -> Dict[str, Any]:
    """What the HTML report shows, as plain data (``templates/performance.html.j2``)."""
    checked = {c.metric: c for c in result.checks}
    rows = []
    for m in METRICS[result.task]:
        c = checked.get(m)
        rows.append([m, result.metrics.get(m), result.baseline.get(m),
                     c.allowed if c else None,
                     ("DEGRADED" if c.degraded else "held") if c else "not checked",
                     DIRECTIONS[m]])
    per_class = None
    if result.per_class:
        keys = ["precision", "recall", "f1", "auc", "pr_auc", "support"]
        per_class = {"header": ["class"] + keys,
                     "rows": [[c] + [m.get(k) for k in keys]
                              for c, m in result.per_class.items()]}
    return {"model_name": result.model_name, "model_version": result.model_version,
            "registry_uri": result.registry_uri, "task": result.task,
            "label": result.label_column, "key": result.key_column, "rows": result.rows,
            "prediction_rows": result.prediction_rows, "label_rows": result.label_rows,
            "unmatched_predictions": result.unmatched_predictions,
            "unmatched_labels": result.unmatched_labels,
            "skipped_rows": result.skipped_rows, "degraded": result.degraded,
            "findings": result.reasons, "checks": [c.reason for c in result.checks],
            "metrics": {"header": ["metric", "this batch", "registered", "allowed drop",
                                   "verdict", "better"], "rows": rows},
            "per_class": per_class, "predictions_uri": result.predictions_uri,
            "labels_uri": result.labels_uri, "monitored_at": result.monitored_at,
            "monitoring_entry": result.monitoring_entry,
            "figures": report_figures(result, history)}


def render_report(result: PerformanceResult,
                  history: Sequence[Mapping[str, Any]] = ()) -> str:
    """A self-contained HTML page: the decision, each metric against the registry, charts."""
    return html_report.render("performance.html.j2", **report_data(result, history))
