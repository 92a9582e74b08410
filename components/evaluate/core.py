"""Evaluate: score a model on the test split through its serving signature, and bless it.

The model is loaded with ``tf.saved_model.load`` and called through ``serving_default``
exactly as a serving endpoint would call it (see ``_shared.model_io``), so what is measured
is what will be served, preprocessing included.

Metrics:
  * classification: accuracy, ROC AUC, PR AUC (average precision), precision, recall, F1,
    log loss. Binary: of the positive class (the last label value in vocabulary order,
    e.g. ``"1"``, ``"true"`` or ``"male"``); multi-class: macro averages over classes, plus
    per-class precision / recall / F1 / AUC / PR AUC / support. A confusion matrix and a ROC
    curve (binary: positive class; multi-class: the first class against the rest).
  * regression: RMSE, MAE, R², MSE.
  * sliced: the same scalar metrics, with ``count``, for each value of each slice column.

Blessing: every check is recorded with its numbers, passed or failed:
  * absolute thresholds: ``{"accuracy": 0.9, "rmse": 400}``; a minimum for higher-is-better
    metrics, a maximum for lower-is-better ones (see :data:`DIRECTIONS`);
  * champion comparison, when a champion model is given: both are evaluated on the same
    rows, and the challenger may not be worse than the champion by more than
    ``max_regression[metric]`` (an absolute amount). Default: the main metric (accuracy for
    classification, RMSE for regression) may not get worse at all.
  * slice gaps, when ``max_slice_gap`` is given: for each slice column, the best slice value
    may be better than the worst by at most ``max_slice_gap[metric]`` (best minus worst;
    worst minus best for losses and errors). Slices with fewer than ``min_slice_rows`` rows
    are left out of the comparison, so a 3-row slice does not veto a model (``slices.py``).
The model is blessed when every check passes.

Stdlib imports only at module top; numpy, pandas, sklearn and TensorFlow inside functions.
This module knows nothing of registries: the champion arrives as a model directory.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

from kfp_mlops.components._shared import checks
from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import html_report
from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import metrics as shared_metrics
from kfp_mlops.components._shared import model_io
# The metrics live in _shared.metrics (performance monitoring computes the same ones on
# served predictions); evaluate's names are kept for the code that imports them from here.
from kfp_mlops.components._shared.metrics import (  # noqa: F401 (re-exported)
    _EPS, ALL_METRICS, DIRECTIONS, HIGHER, LOWER, MAIN_METRIC, MAX_ROC_POINTS, METRICS, _safe,
    chart_data, classification_metrics, default_max_regression, regression_metrics)
from kfp_mlops.components._shared.metrics import roc_curve as _roc_curve
from kfp_mlops.components._shared.model_io import CLASSIFICATION, REGRESSION
from kfp_mlops.components.evaluate import slices as slice_gaps

logger = logging.getLogger(__name__)

BLESSING_FILE = "blessing.json"
EVALUATION_FILE = "evaluation.json"
#: At most this many values of one slice column are reported (the most frequent).
MAX_SLICE_VALUES = 100
MISSING_SLICE = "(missing)"


class EvaluateError(ValueError):
    """Evaluation cannot run on these inputs; the message names the input and what was expected."""


@dataclasses.dataclass
class Check:
    """One blessing check: a threshold, a comparison with the champion or a slice gap."""
    kind: str              # "threshold" | "champion" | "slice_gap"
    metric: str
    value: Optional[float]
    bound: Optional[float]
    direction: str
    passed: bool
    reason: str
    column: str = ""       # the slice column of a "slice_gap" check

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Evaluation:
    """The metrics of one model on one set of rows."""
    model_dir: str
    task: str
    label: str
    rows: int
    skipped_rows: int
    metrics: Dict[str, Optional[float]]
    per_class: Dict[str, Dict[str, Optional[float]]]
    slices: Dict[str, Dict[str, Dict[str, Optional[float]]]]
    confusion_matrix: Optional[Dict[str, Any]]
    roc_curve: Optional[Dict[str, Any]]
    label_vocabulary: List[str]
    predictions: Dict[str, Any] = dataclasses.field(default=None, repr=False)
    #: What the report's charts draw (:func:`chart_data`); not in evaluation.json.
    curves: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        return {"model_dir": self.model_dir, "task": self.task, "label": self.label,
                "rows": self.rows, "skipped_rows": self.skipped_rows,
                "metrics": self.metrics, "per_class": self.per_class, "slices": self.slices,
                "confusion_matrix": self.confusion_matrix, "roc_curve": self.roc_curve,
                "label_vocabulary": self.label_vocabulary}


@dataclasses.dataclass
class EvaluateResult:
    evaluation: Evaluation
    champion: Optional[Dict[str, Any]]       # {"version", "model_dir", "metrics"} or None
    checks: List[Check]
    blessed: bool
    reasons: List[str]
    thresholds: Dict[str, float]
    max_regression: Dict[str, float]
    split: str
    max_slice_gap: Dict[str, float] = dataclasses.field(default_factory=dict)
    min_slice_rows: int = slice_gaps.DEFAULT_MIN_SLICE_ROWS

    @property
    def metrics(self) -> Dict[str, Optional[float]]:
        return self.evaluation.metrics

    def scalar_metrics(self) -> Dict[str, float]:
        """Every defined scalar metric, with the row count (for ``Metrics.log_metric``)."""
        out = {k: float(v) for k, v in self.metrics.items() if _defined(v)}
        out["count"] = float(self.evaluation.rows)
        return out

    def blessing_json(self) -> Dict[str, Any]:
        return {"blessed": self.blessed, "reasons": list(self.reasons),
                "checks": [c.to_dict() for c in self.checks],
                "metrics": dict(self.metrics), "task": self.evaluation.task,
                "main_metric": MAIN_METRIC[self.evaluation.task],
                "thresholds": dict(self.thresholds), "max_regression": dict(self.max_regression),
                "max_slice_gap": dict(self.max_slice_gap), "min_slice_rows": self.min_slice_rows,
                "champion": self.champion, "model_dir": self.evaluation.model_dir}

    def evaluation_json(self) -> Dict[str, Any]:
        out = self.evaluation.to_dict()
        out["split"] = self.split
        out["champion"] = self.champion
        return out

    def metadata(self) -> Dict[str, Any]:
        """Metadata for the blessing artifact."""
        out = {"blessed": self.blessed, "reasons": list(self.reasons),
               "task": self.evaluation.task, "main_metric": MAIN_METRIC[self.evaluation.task],
               "evaluated_rows": self.evaluation.rows}
        # No champion (a first run), no key: the Kubeflow launcher cannot record a top-level
        # null (kubeflow/pipelines backend/src/v2/metadata/converter.go,
        # StructValueToMLMDValue); see kfp_mlops.pipelines.launcher_contract.
        version = (self.champion or {}).get("version")
        if version is not None:
            out["champion_version"] = version
        return out


_defined = shared_metrics.defined
_fmt = shared_metrics.fmt


class SplitBatches:
    """One split of a dataset artifact as a re-iterable stream of Arrow record batches
    (``_shared.dataset.iter_batches``): what :func:`evaluate_model` scores without holding
    the split in memory."""

    def __init__(self, dataset_dir: str, split: str):
        self.dataset_dir = dataset_dir
        self.split = split
        self.columns = list(ds.arrow_schema(dataset_dir, split).names)
        self.rows = ds.num_rows(dataset_dir, split)

    def batches(self, columns: Sequence[str]):
        return ds.iter_batches(self.dataset_dir, self.split, list(columns))


def _column(batch, name: str):
    """A column of a pandas frame or an Arrow batch, as pandas (for the model_io helpers)."""
    if hasattr(batch, "schema") and hasattr(batch.schema, "get_field_index"):
        return batch.column(batch.schema.get_field_index(name)).to_pandas()
    return batch[name].reset_index(drop=True)


def evaluate_model(model_dir: str, frame, label: str = "", slice_columns: Sequence[str] = (),
                   serving: Optional["model_io.ServingModel"] = None) -> Evaluation:
    """Scores one model on a DataFrame holding its features, the label and slice columns,
    or on a :class:`SplitBatches` (a split streamed batch by batch).

    Batch by batch, only what the metrics need is kept: the labels and the model's scores
    as numpy arrays (int64 / float64 per row, plus one float32 per class per row) and one
    int32 code per row per slice column. That is a few dozen bytes a row, against the
    hundreds the rows themselves take in pandas, and it does not grow with the number of
    features.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    try:
        serving = serving or model_io.load(model_dir)
    except model_io.ModelError as e:
        raise EvaluateError(str(e)) from e
    task = serving.task
    label = label or serving.label
    if not label:
        raise EvaluateError(f"no label_column given and model {model_dir!r} names none")
    columns = list(frame.columns)
    if label not in columns:
        raise EvaluateError(f"label_column {label!r} is not a column of the evaluation data; "
                            f"columns are {columns}")
    absent = [c for c in slice_columns if c not in columns]
    if absent:
        raise EvaluateError(f"slice_columns {absent} are not columns of the evaluation data; "
                            f"columns are {columns}")
    vocabulary = list(serving.label_vocabulary)
    if task == CLASSIFICATION:
        if not vocabulary:
            raise EvaluateError(f"classification model {model_dir!r} has no label_vocabulary in "
                                f"{model_io.METADATA_PATH}")
        index = {v: i for i, v in enumerate(vocabulary)}
    if isinstance(frame, pd.DataFrame):
        batches = [frame]
    else:
        needed = [c for c in dict.fromkeys(list(serving.features) + [label] +
                                           list(slice_columns)) if c in columns]
        batches = frame.batches(needed)
    ys: List[Any] = []
    outs: Dict[str, List[Any]] = {}
    codes: Dict[str, List[Any]] = {c: [] for c in slice_columns}
    names: Dict[str, Dict[str, int]] = {c: {} for c in slice_columns}
    total = 0
    for batch in batches:
        values = _column(batch, label)
        total += len(values)
        if task == CLASSIFICATION:
            y = np.asarray([index.get(s, -1) for s in model_io.category_strings(values)],
                           dtype=np.int64)
            keep = y >= 0
        else:
            y = model_io.numeric_values(values).astype(np.float64)
            keep = ~np.isnan(y)
        if not keep.any():
            continue
        if not keep.all():
            batch = (batch.loc[keep].reset_index(drop=True) if isinstance(batch, pd.DataFrame)
                     else batch.filter(pa.array(keep)))
        try:
            out = serving.predict(batch)
        except model_io.ModelError as e:
            raise EvaluateError(f"model {model_dir!r} cannot score the evaluation data: "
                                f"{e}") from e
        ys.append(y[keep])
        for key in ("probabilities", "class_ids", "predictions"):
            if key in out:
                outs.setdefault(key, []).append(out[key])
        for column in slice_columns:
            strings = model_io.category_strings(_column(batch, column))
            known = names[column]
            codes[column].append(np.asarray([known.setdefault(v or MISSING_SLICE, len(known))
                                             for v in strings], dtype=np.int32))
    rows = int(sum(len(y) for y in ys))
    skipped = total - rows
    if skipped:
        logger.warning("%d of %d rows have a missing label%s and are not scored", skipped,
                       total, " or one the model does not know" if task == CLASSIFICATION
                       else "")
    if rows == 0:
        raise EvaluateError(f"no row of the evaluation data has a usable {label!r} label")
    y = np.concatenate(ys)
    out = {key: np.concatenate(parts, axis=0) for key, parts in outs.items()}
    del ys, outs

    confusion = roc = None
    per_class: Dict[str, Dict[str, Optional[float]]] = {}
    if task == CLASSIFICATION:
        p = np.asarray(out["probabilities"], dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != len(vocabulary):
            raise EvaluateError(f"model {model_dir!r}: 'probabilities' has shape {p.shape}; "
                                f"expected [n, {len(vocabulary)}] for labels {vocabulary}")
        metrics, per_class = classification_metrics(y, p, vocabulary)
        from sklearn.metrics import confusion_matrix

        pred = np.argmax(p, axis=1)
        matrix = confusion_matrix(y, pred, labels=list(range(len(vocabulary))))
        confusion = {"categories": list(vocabulary), "matrix": matrix.astype(int).tolist()}
        positive = 1 if len(vocabulary) == 2 else 0
        roc = _roc_curve(y, p, positive)
        if roc is not None:
            roc["class"] = vocabulary[positive]
    else:
        pred = np.asarray(out["predictions"], dtype=np.float64).reshape(-1)
        metrics = regression_metrics(y, pred)
    curves = chart_data(task, y, p if task == CLASSIFICATION else pred, vocabulary)

    slices: Dict[str, Dict[str, Dict[str, Optional[float]]]] = {}
    for column in slice_columns:
        values = np.concatenate(codes[column])
        labels = {code: name for name, code in names[column].items()}
        found, counts = np.unique(values, return_counts=True)
        order = sorted(((labels[int(c)], n, int(c)) for c, n in zip(found, counts)),
                       key=lambda nc: (-nc[1], str(nc[0])))
        if len(order) > MAX_SLICE_VALUES:
            logger.warning("slice column %r has %d values; reporting the %d most frequent",
                           column, len(order), MAX_SLICE_VALUES)
        slices[column] = {}
        for name, count, code in order[:MAX_SLICE_VALUES]:
            chosen = values == code
            if task == CLASSIFICATION:
                m, _ = classification_metrics(y[chosen], p[chosen], vocabulary, full=False)
            else:
                m = regression_metrics(y[chosen], pred[chosen])
            slices[column][str(name)] = {"count": int(count), **m}
    return Evaluation(model_dir=model_dir, task=task, label=label, rows=rows,
                      skipped_rows=skipped, metrics=metrics, per_class=per_class, slices=slices,
                      confusion_matrix=confusion, roc_curve=roc, label_vocabulary=vocabulary,
                      predictions=out, curves=curves)


# --- blessing ---------------------------------------------------------------------------

def _name_problems(names: Mapping[str, Any], task: str, what: str) -> List[str]:
    known = METRICS[task] if task else ALL_METRICS
    unknown = [k for k in names if k not in known]
    if not unknown:
        return []
    kind = f"a {task} evaluation does not compute" if task else "no evaluation computes"
    return [f"{what} names metric(s) {unknown} that {kind}; expected some of {list(known)}"]


def check_limits(thresholds: Optional[Mapping[str, Any]] = None,
                 max_regression: Optional[Mapping[str, Any]] = None,
                 task: str = "", max_slice_gap: Optional[Mapping[str, Any]] = None,
                 min_slice_rows: Any = slice_gaps.DEFAULT_MIN_SLICE_ROWS,
                 slice_columns: Optional[Sequence[str]] = None) -> None:
    """Raises :class:`EvaluateError` naming every problem of ``thresholds``,
    ``max_regression`` and ``max_slice_gap``: not a mapping, a metric that ``task``'s
    evaluation (any evaluation when ``task`` is empty) does not compute, a value that is not
    a finite number (a string, a bool, NaN, infinity), an allowed drop or gap below 0; a
    ``min_slice_rows`` that is not a whole number >= 1; a ``max_slice_gap`` without slice
    columns (when ``slice_columns`` is given: None does not check it)."""
    problems: List[str] = []
    problems.append(checks.number_problem("min_slice_rows", min_slice_rows, whole=True,
                                          minimum=1))
    if max_slice_gap and slice_columns is not None and not list(slice_columns):
        problems.append(f"max_slice_gap {dict(max_slice_gap)!r} needs slice_columns: a gap is "
                        "measured between the slices of a column, and none is given")
    for what, limits in (("thresholds", thresholds), ("max_regression", max_regression),
                         ("max_slice_gap", max_slice_gap)):
        if limits is None:
            continue
        if not isinstance(limits, Mapping):
            problems.append(f"{what} {limits!r}: expected a mapping of metric name to number, "
                            'e.g. {"accuracy": 0.9}')
            continue
        problems += _name_problems(limits, task, what)
        for metric, value in limits.items():
            if what in ("max_regression", "max_slice_gap"):
                problems.append(checks.number_problem(f"{what}[{metric!r}]", value, minimum=0))
            else:
                problems.append(checks.number_problem(f"{what}[{metric!r}]", value))
    checks.raise_all(problems, EvaluateError)


def threshold_checks(metrics: Mapping[str, Optional[float]],
                     thresholds: Mapping[str, float]) -> List[Check]:
    checks = []
    for metric, bound in sorted(thresholds.items()):
        direction = DIRECTIONS[metric]
        value = metrics.get(metric)
        word = ">=" if direction == HIGHER else "<="
        if not _defined(value):
            checks.append(Check("threshold", metric, None, float(bound), direction, False,
                                f"FAILED threshold: {metric} could not be computed on this "
                                f"data (needed {word} {bound:.4f})"))
            continue
        passed = value >= bound if direction == HIGHER else value <= bound
        checks.append(Check("threshold", metric, float(value), float(bound), direction, passed,
                            f"{'passed' if passed else 'FAILED'} threshold: {metric} "
                            f"{_fmt(value)} {'' if passed else 'not '}{word} {bound:.4f} "
                            f"({'minimum' if direction == HIGHER else 'maximum'})"))
    return checks


def champion_checks(challenger: Mapping[str, Optional[float]],
                    champion: Mapping[str, Optional[float]],
                    max_regression: Mapping[str, float], champion_name: str) -> List[Check]:
    checks = []
    for metric, allowed in sorted(max_regression.items()):
        direction = DIRECTIONS[metric]
        value, base = challenger.get(metric), champion.get(metric)
        c = shared_metrics.compare(metric, value, base, allowed)
        if c is None:
            checks.append(Check("champion", metric, value if _defined(value) else None, None,
                                direction, False,
                                f"FAILED champion comparison: {metric} could not be computed "
                                f"(challenger {_fmt(value)}, champion {champion_name} "
                                f"{_fmt(base)})"))
            continue
        checks.append(Check("champion", metric, c.value, c.bound, direction, c.within,
                            f"{'passed' if c.within else 'FAILED'} champion comparison: "
                            f"{metric} {_fmt(value)} vs champion {champion_name} {_fmt(base)} "
                            f"{c.terms()}"))
    return checks


def slice_gap_checks(slices: Mapping[str, Mapping[str, Mapping[str, Any]]],
                     max_slice_gap: Mapping[str, float],
                     min_slice_rows: int = slice_gaps.DEFAULT_MIN_SLICE_ROWS) -> List[Check]:
    """One check per slice column and metric of ``max_slice_gap``: the best slice value may
    be better than the worst by at most the bound (``slices.py`` measures the gap; slices
    with fewer than ``min_slice_rows`` rows are left out). A gap that cannot be measured
    (fewer than two slices large enough, or the metric undefined) fails, as a threshold on
    a metric that cannot be computed does."""
    checks = []
    for metric, bound in sorted(max_slice_gap.items()):
        for column, values in slices.items():
            g = slice_gaps.column_gap(column, values, metric, min_slice_rows)
            left_out = g.left_out()
            left_out = f"; left out ({left_out})" if left_out else ""
            if g.gap is None:
                checks.append(Check(
                    "slice_gap", metric, None, float(bound), g.direction, False,
                    f"FAILED slice gap: {metric} by {column} could not be compared: "
                    f"{g.compared} slice value(s) with at least {min_slice_rows} rows and a "
                    f"defined {metric} (needed 2; lower min_slice_rows or slice by another "
                    f"column){left_out}", column=column))
                continue
            passed = g.gap <= bound + 1e-12
            what = "best minus worst" if g.direction == HIGHER else "worst minus best"
            checks.append(Check(
                "slice_gap", metric, float(g.gap), float(bound), g.direction, passed,
                f"{'passed' if passed else 'FAILED'} slice gap: {metric} by {column} differs "
                f"by {g.gap:.4f} ({what}) between the best slice {g.best!r} "
                f"({_fmt(g.best_value)}, n={g.best_rows}) and the worst {g.worst!r} "
                f"({_fmt(g.worst_value)}, n={g.worst_rows}); "
                f"{'within' if passed else 'more than'} the {bound:.4f} allowed"
                f"{left_out}", column=column))
    return checks


def evaluate(dataset_dir: str, model_dir: str, blessing_dir: str = "", report_path: str = "",
             label_column: str = "", thresholds: Optional[Mapping[str, float]] = None,
             max_regression: Optional[Mapping[str, float]] = None,
             slice_columns: Sequence[str] = (), champion_model_dir: Optional[str] = None,
             champion_version: str = "", split: str = "test",
             champion_uri: str = "", max_slice_gap: Optional[Mapping[str, float]] = None,
             min_slice_rows: int = slice_gaps.DEFAULT_MIN_SLICE_ROWS) -> EvaluateResult:
    """Evaluates ``model_dir`` on one split of ``dataset_dir`` and decides the blessing.

    Args:
      dataset_dir: dataset artifact directory (see ``_shared.dataset``).
      model_dir: the challenger: a kfp-mlops model directory (local or ``gs://``).
      blessing_dir: output: ``blessing.json`` and ``evaluation.json`` (atomic); "" to skip.
      report_path: output: the HTML report file; "" to skip.
      label_column: the label; "" takes the model's label (then the dataset's).
      thresholds: metric -> bound: a minimum for higher-is-better metrics, a maximum for
        lower-is-better ones (:data:`DIRECTIONS`).
      max_regression: metric -> how much worse than the champion the challenger may be
        (absolute). None or empty: :func:`default_max_regression`.
      slice_columns: columns to slice metrics by (each value; at most 100 per column).
      champion_model_dir: the current champion's model directory, or None/"" for none.
      champion_version: how reasons name the champion (e.g. its registry version).
      champion_uri: where the champion lives in the registry, recorded in the blessing
        (``champion_model_dir`` may be a temporary local copy of it); "" records
        ``champion_model_dir``.
      split: the split to evaluate on.
      max_slice_gap: metric -> the largest allowed difference between the best and the worst
        slice value of each slice column (best minus worst; worst minus best for losses and
        errors); needs ``slice_columns``. None or empty: no slice gap check.
      min_slice_rows: slices with fewer rows are left out of the slice gap comparison.

    Raises:
      EvaluateError: bad inputs, naming which; nothing is written then.
    """
    check_limits(thresholds, max_regression, max_slice_gap=max_slice_gap,
                 min_slice_rows=min_slice_rows, slice_columns=slice_columns)
    thresholds = {k: float(v) for k, v in (thresholds or {}).items()}
    max_slice_gap = {k: float(v) for k, v in (max_slice_gap or {}).items()}
    min_slice_rows = int(min_slice_rows)
    info = ds.read_info(dataset_dir)
    # Streamed: the split is read batch by batch, never whole (see evaluate_model).
    frame = SplitBatches(dataset_dir, split)
    infinite = ds.infinite_counts(dataset_dir, split, recorded=False)
    if infinite:
        raise EvaluateError(ds.describe_infinite(infinite, split, f"dataset {dataset_dir!r}"))
    try:
        serving = model_io.load(model_dir)
    except model_io.ModelError as e:
        raise EvaluateError(f"model: {e}") from e
    task = serving.task
    label = label_column or serving.label or info.get("label_column", "")
    check_limits(thresholds, max_regression, task, max_slice_gap=max_slice_gap,
                 min_slice_rows=min_slice_rows)
    max_regression = {k: float(v) for k, v in (max_regression or {}).items()} or \
        default_max_regression(task)

    logger.info("evaluating %s model %r on %d %s rows", task, model_dir, frame.rows, split)
    evaluation = evaluate_model(model_dir, frame, label, slice_columns, serving=serving)
    logger.info("metrics: %s", {k: _fmt(v) for k, v in evaluation.metrics.items()})

    checks = threshold_checks(evaluation.metrics, thresholds)
    checks += slice_gap_checks(evaluation.slices, max_slice_gap, min_slice_rows)
    reasons = [] if thresholds else ["no thresholds given"]
    champion = None
    if champion_model_dir:
        name = champion_version or champion_uri or champion_model_dir
        recorded_dir = champion_uri or champion_model_dir
        try:
            champion_eval = evaluate_model(champion_model_dir, frame, label)
        except (EvaluateError, model_io.ModelError, OSError) as e:
            logger.error("champion %s could not be evaluated: %s", name, e)
            champion = {"version": champion_version or None, "model_dir": recorded_dir,
                        "metrics": None, "error": str(e)}
            checks.append(Check("champion", ",".join(sorted(max_regression)), None, None, "",
                                False, f"FAILED champion comparison: champion {name} could not "
                                f"be evaluated on the same data: {e}"))
        else:
            if champion_eval.task != task:
                raise EvaluateError(f"champion {name!r} is a {champion_eval.task} model; the "
                                    f"challenger is a {task} model")
            champion = {"version": champion_version or None, "model_dir": recorded_dir,
                        "metrics": champion_eval.metrics, "rows": champion_eval.rows}
            checks += champion_checks(evaluation.metrics, champion_eval.metrics,
                                      max_regression, name)
    else:
        reasons.append("no champion: only thresholds apply")
    reasons += [c.reason for c in checks]
    blessed = all(c.passed for c in checks)
    reasons.insert(0, f"{'BLESSED' if blessed else 'NOT BLESSED'}: "
                      f"{sum(c.passed for c in checks)} of {len(checks)} checks passed")
    result = EvaluateResult(evaluation=evaluation, champion=champion, checks=checks,
                            blessed=blessed, reasons=reasons, thresholds=thresholds,
                            max_regression=max_regression, split=split,
                            max_slice_gap=max_slice_gap, min_slice_rows=min_slice_rows)
    for reason in reasons:
        logger.info("%s", reason)
    if blessing_dir:
        with io.output_dir(blessing_dir) as out:
            io.write_json(os.path.join(out, BLESSING_FILE), result.blessing_json())
            io.write_json(os.path.join(out, EVALUATION_FILE), result.evaluation_json())
    if report_path:
        io.write_text(report_path, render_report(result))
    return result


# --- the HTML report --------------------------------------------------------------------

def _report_cell(v: Any) -> str:
    """A table cell of the report: floats as :func:`_fmt` writes them, None as n/a."""
    if isinstance(v, float):
        return _fmt(v)
    return "n/a" if v is None else str(v)


def _report_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Dict[str, Any]:
    return {"header": list(header), "rows": [list(row) for row in rows]}


def report_data(result: EvaluateResult) -> Dict[str, Any]:
    """What the HTML report shows, as plain data (``templates/evaluate.html.j2``)."""
    ev = result.evaluation
    champion_metrics = (result.champion or {}).get("metrics") or {}
    header = ["metric", "value"] + (["champion"] if champion_metrics else []) + ["better"]
    metrics = [[m, ev.metrics.get(m)] + ([champion_metrics.get(m)] if champion_metrics else [])
               + [DIRECTIONS[m]] for m in METRICS[ev.task]]
    per_class = None
    if ev.per_class:
        keys = ["precision", "recall", "f1", "auc", "pr_auc", "support"]
        per_class = _report_table(["class"] + keys,
                                  [[c] + [m.get(k) for k in keys] for c, m in ev.per_class.items()])
    confusion = None
    if ev.confusion_matrix:
        cats = ev.confusion_matrix["categories"]
        confusion = _report_table([""] + cats, [[c] + row for c, row in
                                                zip(cats, ev.confusion_matrix["matrix"])])
    keys = ["count"] + list(METRICS[ev.task])
    slices = [{"column": column, **_report_table([column] + keys, [[v] + [m.get(k) for k in keys]
                                                                   for v, m in values.items()])}
              for column, values in ev.slices.items()]
    champion = None
    if result.champion:
        champion = {"version": result.champion.get("version"),
                    "model_dir": result.champion.get("model_dir")}
    return {"task": ev.task, "model_dir": ev.model_dir, "label": ev.label, "rows": ev.rows,
            "split": result.split, "skipped_rows": ev.skipped_rows, "blessed": result.blessed,
            "reasons": list(result.reasons), "metrics": _report_table(header, metrics),
            "champion": champion, "per_class": per_class, "confusion_matrix": confusion,
            "slices": slices, "cell": _report_cell,
            "roc_class": (ev.roc_curve or {}).get("class"),
            "figures": report_figures(result)}


def report_figures(result: EvaluateResult) -> List[Dict[str, Any]]:
    """The report's charts: ROC, precision-recall and calibration curves (one per class,
    labelled), the confusion-matrix heatmap (classification) or predicted against actual
    (regression), and the main metric of each slice value."""
    from kfp_mlops.components._shared import charts

    ev = result.evaluation
    curves = ev.curves or {}
    sections = []
    model = []
    if curves.get("roc"):
        model.append({"svg": charts.roc_figure(curves["roc"]),
                      "caption": "ROC: " + ", ".join(c["class"] for c in curves["roc"])})
    if curves.get("pr"):
        model.append({"svg": charts.pr_figure(curves["pr"]),
                      "caption": "precision-recall; dotted: each class's share of the rows"})
    if curves.get("calibration"):
        model.append({"svg": charts.calibration_figure(curves["calibration"]),
                      "caption": "predicted probability against the observed frequency, "
                                 "10 equal-width bins; dotted: perfect calibration"})
    if ev.confusion_matrix:
        model.append({"svg": charts.confusion_figure(ev.confusion_matrix["categories"],
                                                     ev.confusion_matrix["matrix"]),
                      "caption": "rows: actual, columns: predicted"})
    if curves.get("actual"):
        model.append({"svg": charts.prediction_figure(curves["actual"], curves["predicted"]),
                      "caption": f"{len(curves['actual']):,} of {ev.rows:,} rows drawn"})
    if model:
        note = ""
        if ev.task == CLASSIFICATION:
            note = ("Binary: curves of the positive class "
                    f"{ev.label_vocabulary[-1]!r}." if len(ev.label_vocabulary) == 2 else
                    "Each class against the rest.")
            if curves.get("classes_drawn", 0) < curves.get("classes", 0):
                note += (f" The {curves['classes_drawn']} most frequent of "
                         f"{curves['classes']} classes are drawn.")
        sections.append({"title": "Charts", "note": note, "figures": model})
    main = MAIN_METRIC[ev.task]
    sliced = [{"svg": charts.slice_figure(column, [(v, m.get(main), m["count"])
                                                   for v, m in values.items()], main,
                                          ev.metrics.get(main), key=f"slice-{i}"),
               "caption": f"{main} by {column}"} for i, (column, values) in
              enumerate(ev.slices.items())]
    if sliced:
        sections.append({"title": "Slices", "note": f"{main} of each slice value (at most "
                         f"{charts.MAX_SLICE_BARS} bars, the most frequent values); dashed: "
                         "all rows.", "figures": sliced})
    return sections


def render_report(result: EvaluateResult) -> str:
    """A standalone HTML page: blessing, metrics, champion, per-class, confusion, slices."""
    return html_report.render("evaluate.html.j2", **report_data(result))
