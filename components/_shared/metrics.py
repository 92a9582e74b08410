"""The metrics of a model's predictions against the true labels: one home for evaluate
(scoring a test split) and performance monitoring (scoring served predictions once their
labels arrive), so a monitored metric is the very number evaluate registered.

Metrics:
  * classification: accuracy, ROC AUC, PR AUC (average precision), precision, recall, F1,
    log loss. Binary: of the positive class (the last label value in vocabulary order);
    multi-class: macro averages over classes, plus per-class values.
  * regression: RMSE, MAE, R², MSE.

Stdlib imports only at module top; numpy and scikit-learn inside the functions.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence

from kfp_mlops.components._shared.model_io import CLASSIFICATION, REGRESSION

HIGHER, LOWER = "higher", "lower"
#: metric -> which way is better. Thresholds are minimums for HIGHER, maximums for LOWER.
DIRECTIONS = {
    "accuracy": HIGHER, "auc": HIGHER, "pr_auc": HIGHER, "precision": HIGHER,
    "recall": HIGHER, "f1": HIGHER, "r2": HIGHER,
    "log_loss": LOWER, "rmse": LOWER, "mae": LOWER, "mse": LOWER,
}
METRICS = {CLASSIFICATION: ("accuracy", "auc", "pr_auc", "precision", "recall", "f1", "log_loss"),
           REGRESSION: ("rmse", "mae", "r2", "mse")}
#: Every metric an evaluation of some task computes: what ``thresholds`` and
#: ``max_regression`` may name before the task is known.
ALL_METRICS = tuple(sorted({m for names in METRICS.values() for m in names}))
MAIN_METRIC = {CLASSIFICATION: "accuracy", REGRESSION: "rmse"}
#: ROC curves are thinned to at most this many points.
MAX_ROC_POINTS = 200
_EPS = 1e-15
#: Slack for float rounding when a metric is held against its bound.
TOLERANCE = 1e-12


def defined(value: Any) -> bool:
    """A finite number (an undefined metric is None or NaN)."""
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A metric against a reference value of it (the champion's, or the registered
    evaluation's), allowed to get worse by at most ``allowed``."""
    metric: str
    value: float
    base: float
    allowed: float
    bound: float
    direction: str
    within: bool

    def terms(self) -> str:
        """``(change +0.0100, higher is better, allowed to get worse by at most 0.0000)``."""
        better = "higher" if self.direction == HIGHER else "lower"
        return (f"(change {self.value - self.base:+.4f}, {better} is better, allowed to get "
                f"worse by at most {self.allowed:.4f})")


def compare(metric: str, value: Optional[float], base: Optional[float],
            allowed: float) -> Optional[Comparison]:
    """``value`` of ``metric`` held against ``base``: evaluate's champion comparison and
    performance monitoring's degradation check are this one rule. None when either value is
    undefined (the caller says which).

    Args:
        metric: A key of :data:`DIRECTIONS`.
        value: The new value (the challenger's, or the labelled batch's).
        base: The reference value.
        allowed: How much worse than ``base`` the value may be (a non-negative amount).
    """
    if not defined(value) or not defined(base):
        return None
    direction = DIRECTIONS[metric]
    if direction == HIGHER:
        bound = base - allowed
        within = value >= bound - TOLERANCE
    else:
        bound = base + allowed
        within = value <= bound + TOLERANCE
    return Comparison(metric, float(value), float(base), float(allowed), float(bound),
                      direction, within)


def default_max_regression(task: str) -> Dict[str, float]:
    """The champion comparison used when none is given: the main metric may not get worse."""
    return {MAIN_METRIC[task]: 0.0}


def _safe(fn, *args, **kwargs) -> Optional[float]:
    """A metric value, or None where it is undefined (e.g. AUC with one class present)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(fn(*args, **kwargs))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def classification_metrics(y, probabilities, classes: Sequence[str], full: bool = True):
    """(scalar metrics, per-class metrics) of class ids ``y`` given ``probabilities``."""
    import numpy as np
    from sklearn import metrics as skm

    k = len(classes)
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    out: Dict[str, Optional[float]] = {m: None for m in METRICS[CLASSIFICATION]}
    per_class: Dict[str, Dict[str, Optional[float]]] = {}
    if n == 0:
        return out, per_class
    pred = np.argmax(p, axis=1)
    chosen = np.clip(p[np.arange(n), y], _EPS, 1.0)
    out["accuracy"] = float(np.mean(pred == y))
    out["log_loss"] = float(-np.mean(np.log(chosen)))
    labels = list(range(k))
    prec, rec, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0)
    aucs, pr_aucs = [], []
    for i, name in enumerate(classes):
        positive = y == i
        both = 0 < positive.sum() < n
        auc = _safe(skm.roc_auc_score, positive, p[:, i]) if both else None
        pr_auc = _safe(skm.average_precision_score, positive, p[:, i]) if both else None
        aucs.append(auc)
        pr_aucs.append(pr_auc)
        if full:
            per_class[name] = {"precision": float(prec[i]), "recall": float(rec[i]),
                               "f1": float(f1[i]), "auc": auc, "pr_auc": pr_auc,
                               "support": int(support[i])}
    if k == 2:
        out.update(precision=float(prec[1]), recall=float(rec[1]), f1=float(f1[1]),
                   auc=aucs[1], pr_auc=pr_aucs[1])
    else:
        present = support > 0
        out.update(precision=float(np.mean(prec[present])), recall=float(np.mean(rec[present])),
                   f1=float(np.mean(f1[present])))
        defined = [a for a in aucs if a is not None]
        out["auc"] = float(np.mean(defined)) if defined else None
        defined = [a for a in pr_aucs if a is not None]
        out["pr_auc"] = float(np.mean(defined)) if defined else None
    return out, per_class


def regression_metrics(y, predictions) -> Dict[str, Optional[float]]:
    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if len(y) == 0:
        return {m: None for m in METRICS[REGRESSION]}
    err = pred - y
    mse = float(np.mean(err ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    return {"rmse": math.sqrt(mse), "mae": float(np.mean(np.abs(err))),
            "r2": (1.0 - float(np.sum(err ** 2)) / total) if total > 0 else None, "mse": mse}


def roc_curve(y, probabilities, positive: int) -> Optional[Dict[str, Any]]:
    import numpy as np
    from sklearn import metrics as skm

    truth = np.asarray(y) == positive
    if truth.all() or not truth.any():
        return None
    fpr, tpr, thresholds = skm.roc_curve(truth, np.asarray(probabilities)[:, positive],
                                         drop_intermediate=True)
    thresholds = np.minimum(thresholds, 1.0)  # sklearn's first threshold is +inf
    if len(fpr) > MAX_ROC_POINTS:
        keep = np.unique(np.linspace(0, len(fpr) - 1, MAX_ROC_POINTS).round().astype(int))
        fpr, tpr, thresholds = fpr[keep], tpr[keep], thresholds[keep]
    return {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr],
            "thresholds": [float(v) for v in thresholds]}


def chart_data(task: str, y, scores, classes: Sequence[str] = ()) -> Dict[str, Any]:
    """What the report's charts draw, thinned to what a picture needs.

    Classification (``scores``: probabilities ``[n, k]``): for each class against the rest
    (binary: the positive class only; multi-class: at most ``charts.MAX_CLASS_CURVES``, the
    most frequent), its ROC and precision-recall curves (scikit-learn's ``roc_curve``,
    ``precision_recall_curve``) and its reliability curve (``calibration_curve``, 10
    equal-width bins). Regression (``scores``: predictions): a sample of (actual,
    predicted) pairs.
    """
    import numpy as np
    from sklearn import metrics as skm
    from sklearn.calibration import calibration_curve

    from kfp_mlops.components._shared import charts

    y = np.asarray(y)
    if task != CLASSIFICATION:
        pred = np.asarray(scores, dtype=np.float64).reshape(-1)
        keep = charts.thin(len(y), charts.MAX_SCATTER_POINTS)
        return {"actual": y[keep].tolist(), "predicted": pred[keep].tolist()}
    p = np.asarray(scores, dtype=np.float64)
    if len(classes) == 2:
        drawn = [1]
    else:
        support = np.bincount(y, minlength=len(classes))
        drawn = sorted(sorted(range(len(classes)), key=lambda i: (-support[i], i))
                       [:charts.MAX_CLASS_CURVES])
    roc, pr, calibration = [], [], []
    for i in drawn:
        truth = y == i
        if truth.all() or not truth.any():
            continue   # one class only: no curve
        name = classes[i]
        fpr, tpr, _ = skm.roc_curve(truth, p[:, i])
        keep = charts.thin(len(fpr), charts.MAX_CURVE_POINTS)
        roc.append({"class": name, "fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist(),
                    "auc": _safe(skm.roc_auc_score, truth, p[:, i])})
        precision, recall, _ = skm.precision_recall_curve(truth, p[:, i])
        keep = charts.thin(len(recall), charts.MAX_CURVE_POINTS)
        pr.append({"class": name, "recall": recall[keep].tolist(),
                   "precision": precision[keep].tolist(),
                   "ap": _safe(skm.average_precision_score, truth, p[:, i]),
                   "prevalence": float(truth.mean())})
        observed, predicted = calibration_curve(truth, np.clip(p[:, i], 0.0, 1.0), n_bins=10)
        calibration.append({"class": name, "predicted": predicted.tolist(),
                            "observed": observed.tolist()})
    return {"roc": roc, "pr": pr, "calibration": calibration,
            "classes_drawn": len(drawn), "classes": len(classes)}
