"""Slice gaps: how far apart the best and the worst slice value of a column are, per metric.

Evaluate's blessing may require a largest gap (``max_slice_gap``, :func:`core.slice_gap_checks`)
and push's model card shows every gap; both read evaluate's per-slice metrics
(``evaluation.json``'s ``slices``: ``{column: {value: {"count": n, metric: value}}}``) through
this module, the producer's reader (STYLE.md habit 8).

A gap is never negative: for a higher-is-better metric (accuracy, AUC, R², ...) it is the best
slice minus the worst, for a loss or an error (log loss, RMSE, MAE, MSE) the worst minus the
best. Slices with fewer than ``min_rows`` rows are left out of the comparison (and named):
three rows measure a metric too roughly to veto a model. A slice whose metric is undefined
(an AUC on a slice of one class) is left out too.

Stdlib only.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

#: Slices with fewer rows than this are not compared (``min_slice_rows`` of evaluate).
DEFAULT_MIN_SLICE_ROWS = 10
HIGHER, LOWER = "higher", "lower"
#: metric -> which way is better (``core.DIRECTIONS``: thresholds are minimums for HIGHER,
#: maximums for LOWER). Here, not in core, so that push's model card reads it without
#: evaluate's core.
DIRECTIONS = {
    "accuracy": HIGHER, "auc": HIGHER, "pr_auc": HIGHER, "precision": HIGHER,
    "recall": HIGHER, "f1": HIGHER, "r2": HIGHER,
    "log_loss": LOWER, "rmse": LOWER, "mae": LOWER, "mse": LOWER,
}


def direction(metric: str) -> str:
    """``"higher"`` or ``"lower"``: which way ``metric`` is better.

    Raises:
        KeyError: no evaluation computes ``metric``.
    """
    return DIRECTIONS[metric]


def _defined(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclasses.dataclass
class SliceGap:
    """The gap of one metric across the values of one slice column."""

    column: str
    metric: str
    direction: str
    #: The best and the worst slice value compared, their metric and row count ("" / None
    #: when fewer than two slices could be compared).
    best: str = ""
    best_value: Optional[float] = None
    best_rows: int = 0
    worst: str = ""
    worst_value: Optional[float] = None
    worst_rows: int = 0
    gap: Optional[float] = None
    #: How many slice values were compared.
    compared: int = 0
    #: Slice values left out: ``(value, rows)`` with fewer than ``min_rows`` rows ...
    small: List[Tuple[str, int]] = dataclasses.field(default_factory=list)
    #: ... and those where the metric is undefined.
    undefined: List[str] = dataclasses.field(default_factory=list)
    min_rows: int = DEFAULT_MIN_SLICE_ROWS

    def to_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["small"] = [list(s) for s in self.small]
        return out

    def left_out(self) -> str:
        """The slices left out, in words ("" when none)."""
        parts = []
        if self.small:
            parts.append(f"fewer than {self.min_rows} rows: " +
                         ", ".join(f"{v!r} (n={n})" for v, n in self.small))
        if self.undefined:
            parts.append(f"{self.metric} undefined: " + ", ".join(map(repr, self.undefined)))
        return "; ".join(parts)


def column_gap(column: str, values: Mapping[str, Mapping[str, Any]], metric: str,
               min_rows: int = DEFAULT_MIN_SLICE_ROWS) -> SliceGap:
    """The gap of ``metric`` across the slice values of ``column`` (see the module doc)."""
    better = direction(metric)
    out = SliceGap(column=column, metric=metric, direction=better, min_rows=int(min_rows))
    compared = []
    for value, m in values.items():
        rows = int(m.get("count") or 0)
        if rows < min_rows:
            out.small.append((str(value), rows))
        elif not _defined(m.get(metric)):
            out.undefined.append(str(value))
        else:
            compared.append((float(m[metric]), str(value), rows))
    out.compared = len(compared)
    if len(compared) < 2:
        return out
    ordered = sorted(compared, key=lambda t: (t[0], t[1]), reverse=(better == HIGHER))
    (bv, bn, br), (wv, wn, wr) = ordered[0], ordered[-1]
    out.best, out.best_value, out.best_rows = bn, bv, br
    out.worst, out.worst_value, out.worst_rows = wn, wv, wr
    out.gap = abs(bv - wv)
    return out


def slice_gaps(slices: Mapping[str, Mapping[str, Mapping[str, Any]]], metrics: Sequence[str],
               min_rows: int = DEFAULT_MIN_SLICE_ROWS) -> List[SliceGap]:
    """Every (column, metric) gap of ``slices`` (evaluation.json's), columns in order."""
    return [column_gap(column, values, metric, min_rows)
            for column, values in (slices or {}).items() for metric in metrics]
