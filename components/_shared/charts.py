"""The pictures of the HTML reports: matplotlib figures as inline SVG, drawn offline.

Every report draws its charts here and passes them, as markup, to the ``figures`` block of
its template (``templates/base.html.j2``, ``macros.figure_sections``). Nothing is fetched:
an SVG is part of the page, so a report reads with no network, in the KFP and Vertex AI
UIs and from a file.

Drawn deterministically, so reruns of a report are byte-identical: matplotlib's default
style (whatever a ``matplotlibrc`` says), a fixed ``svg.hashsalt`` per figure (the ids of
clip paths are hashes salted with it; a salt of its own per figure keeps ids unique within a
page), no date in the SVG metadata, and text as ``<text>`` (``svg.fonttype: none``: small,
searchable, and a value from the data is XML-escaped by matplotlib's writer). Mathtext is
off, so a ``$`` in a category value is text.

The figures are made with ``matplotlib.figure.Figure`` on an explicit Agg canvas, never
through pyplot: no global backend is chosen, so importing a component in a notebook does
not change the notebook's backend, and no figure is left open.

Light: stdlib only at import time (matplotlib and numpy inside the functions).
"""
from __future__ import annotations

import contextlib
import io as _io
import math
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

#: At most this many per-feature figures in one report (the tables list every feature).
MAX_FEATURE_FIGURES = 48
#: Categorical features: the most frequent values drawn.
MAX_CATEGORIES = 12
#: Points of a curve drawn (curves are thinned beyond).
MAX_CURVE_POINTS = 200
#: Points of a scatter drawn (an evenly spaced sample beyond).
MAX_SCATTER_POINTS = 2000
#: Classes of a multi-class model drawn one curve each (the most frequent ones beyond).
MAX_CLASS_CURVES = 10
#: Rows of a slice bar chart (the most frequent values; the table has them all).
MAX_SLICE_BARS = 30

NUMERIC, CATEGORICAL = "numeric", "categorical"
_SALT = "kfp-mlops"
#: Sizes in inches (100 px each at the SVG's 72 dpi scaled by the browser).
SMALL = (4.2, 2.6)
WIDE = (8.4, 2.8)
SQUARE = (4.6, 4.0)
_RC = {"svg.fonttype": "none", "text.parse_math": False, "figure.dpi": 72,
       "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
       "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False,
       "axes.spines.right": False}


# --------------------------------------------------------------------------------------
# Figures as SVG
# --------------------------------------------------------------------------------------

@contextlib.contextmanager
def _style(key: str):
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()           # not the user's matplotlibrc: the same picture
        matplotlib.rcParams.update(_RC)
        matplotlib.rcParams["svg.hashsalt"] = f"{_SALT}:{key}"
        yield


def new_figure(size: Tuple[float, float] = SMALL, ncols: int = 1):
    """(figure, axes) on an Agg canvas of its own (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=True)
    return fig, axes


_ID = re.compile(r'(id="|url\(#|xlink:href="#)([^")]+)')


def to_svg(fig, key: str = "") -> str:
    """``fig`` as an ``<svg>`` element to put inline in a page (no XML prolog, no date);
    ``key`` prefixes every id in it and every reference to one, so that many figures
    share a page without two elements having the same id (matplotlib names its groups
    ``figure_1``, ``axes_1``, ... in every SVG)."""
    buf = _io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "kfp-mlops"})
    text = buf.getvalue()
    start = text.find("<svg")
    if start < 0:
        raise ValueError("matplotlib wrote no <svg> element")
    text = text[start:]
    if key:
        prefix = slug(key) + "-"
        text = _ID.sub(lambda m: m.group(1) + prefix + m.group(2), text)
    return text


def draw(key: str, fn, *args, **kwargs) -> str:
    """The SVG of the figure ``fn(*args, **kwargs)`` draws and returns, in the house style;
    ``key`` names the figure in its page (it salts and prefixes the figure's ids)."""
    with _style(key):
        return to_svg(fn(*args, **kwargs), key)


def slug(text: str) -> str:
    """A figure key part from any text."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text))[:60]


def _short(text: Any, width: int = 24) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


# --------------------------------------------------------------------------------------
# Distributions from TFDV statistics
# --------------------------------------------------------------------------------------

def _feature_name(f) -> str:
    return ".".join(f.path.step) if f.path.step else f.name


def distributions(stats) -> Dict[str, Dict[str, Any]]:
    """feature -> its distribution in one ``DatasetFeatureStatisticsList`` (first dataset):

    * numeric: ``{"kind": "numeric", "edges": [...], "counts": [...]}`` from TFDV's
      equi-width (``STANDARD``) histogram, finite buckets only;
    * categorical: ``{"kind": "categorical", "values": [(value, count), ...]}`` from the
      top values (most frequent first), and ``"unique"``.

    Both carry ``"total"``: the non-missing values counted.
    """
    from tensorflow_metadata.proto.v0 import statistics_pb2

    standard = statistics_pb2.Histogram.STANDARD
    out: Dict[str, Dict[str, Any]] = {}
    if not stats.datasets:
        return out
    for f in stats.datasets[0].features:
        name = _feature_name(f)
        if f.HasField("num_stats"):
            hist = next((h for h in f.num_stats.histograms if h.type == standard), None)
            buckets = [(b.low_value, b.high_value, b.sample_count) for b in
                       (hist.buckets if hist is not None else [])
                       if math.isfinite(b.low_value) and math.isfinite(b.high_value)]
            edges = [b[0] for b in buckets] + ([buckets[-1][1]] if buckets else [])
            counts = [float(b[2]) for b in buckets]
            out[name] = {"kind": NUMERIC, "edges": edges, "counts": counts,
                         "total": float(sum(counts))}
        elif f.HasField("string_stats"):
            s = f.string_stats
            values = [(v.value, float(v.frequency)) for v in s.top_values]
            if not values and s.rank_histogram.buckets:
                values = [(b.label, float(b.sample_count)) for b in s.rank_histogram.buckets]
            total = float(s.common_stats.num_non_missing *
                          max(s.common_stats.avg_num_values, 1.0))
            out[name] = {"kind": CATEGORICAL, "values": values, "unique": int(s.unique),
                         "total": total or float(sum(c for _, c in values))}
    return out


def _draw_numeric(ax, named: Sequence[Tuple[str, Mapping[str, Any]]]) -> None:
    import numpy as np

    for i, (label, d) in enumerate(named):
        edges, counts = np.asarray(d["edges"], float), np.asarray(d["counts"], float)
        if not len(counts) or not d["total"]:
            continue
        widths = np.diff(edges)
        color = f"C{i}"
        if len(counts) == 1 or not (widths > 0).all():
            # one value (a constant column): a bar at it
            ax.bar([edges[0]], [1.0], width=max(abs(edges[0]) * 0.02, 0.5), color=color,
                   alpha=0.45, label=label, edgecolor=color)
            continue
        density = counts / d["total"] / widths
        ax.stairs(density, edges, fill=True, alpha=0.3, color=color)
        ax.stairs(density, edges, color=color, linewidth=1.2, label=label)
    ax.set_ylabel("density")
    ax.locator_params(axis="x", nbins=6)


def _draw_categorical(ax, named: Sequence[Tuple[str, Mapping[str, Any]]]) -> str:
    import numpy as np

    order: List[str] = []
    for _, d in named:
        for v, _c in d["values"]:
            if v not in order:
                order.append(v)
    first = dict(named[0][1]["values"]) if named else {}
    order.sort(key=lambda v: -first.get(v, 0.0))
    shown = order[:MAX_CATEGORIES]
    y = np.arange(len(shown))
    height = 0.8 / max(len(named), 1)
    for i, (label, d) in enumerate(named):
        counts = dict(d["values"])
        total = d["total"] or 1.0
        share = [counts.get(v, 0.0) / total for v in shown]
        ax.barh(y + (i - (len(named) - 1) / 2) * height, share, height=height, color=f"C{i}",
                alpha=0.8, label=label)
    ax.set_yticks(y, [_short(v) for v in shown])
    ax.invert_yaxis()
    ax.set_xlabel("share of values")
    more = max(max((d.get("unique", 0) for _, d in named), default=0), len(order)) - len(shown)
    return f"{more:,} more values not drawn" if more > 0 else ""


def _distribution_axes(ax, feature: str, named: Sequence[Tuple[str, Mapping[str, Any]]]):
    absent = [label for label, d in named if d is None]
    named = [(label, d) for label, d in named if d is not None]
    kinds = {d["kind"] for _, d in named}
    note = ""
    if not named:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    elif kinds == {NUMERIC}:
        _draw_numeric(ax, named)
    elif kinds == {CATEGORICAL}:
        note = _draw_categorical(ax, named)
    else:
        ax.text(0.5, 0.5, "numeric in one split, categorical in another", ha="center",
                va="center", transform=ax.transAxes)
    if absent:
        note = "; ".join([n for n in (note, f"absent from {', '.join(absent)}") if n])
    ax.set_title(_short(feature, 48) + (f" ({note})" if note else ""), loc="left")
    _legend(ax, loc="best")


def _legend(ax, **kwargs) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, **kwargs)


def distribution_figure(feature: str, named: Sequence[Tuple[str, Optional[Mapping[str, Any]]]],
                        key: str = "") -> str:
    """One feature's distribution in several datasets overlaid (e.g. train and eval):
    ``named`` is ``[(label, distributions()[feature] or None), ...]``. SVG."""
    def make():
        fig, ax = new_figure(SMALL)
        _distribution_axes(ax, feature, named)
        return fig
    return draw(key or f"dist-{slug(feature)}", make)


# --------------------------------------------------------------------------------------
# Monitoring: distribution and distance over time
# --------------------------------------------------------------------------------------

def _history_axes(ax, series: Sequence[Mapping[str, Any]], ylabel: str = "distance",
                  title: str = "distance over the monitoring history") -> None:
    """``series``: ``{"name", "points": [(x label, value or None)], "threshold"}`` each, and
    optionally ``reference``: what the dashed line is called (default "threshold")."""
    labels: List[str] = []
    for s in series:
        for x, _ in s["points"]:
            if str(x) not in labels:
                labels.append(str(x))
    pos = {x: i for i, x in enumerate(labels)}
    for i, s in enumerate(series):
        pts = [(pos[str(x)], v) for x, v in s["points"] if v is not None]
        color = f"C{i}"
        if pts:
            ax.plot([p for p, _ in pts], [v for _, v in pts], marker="o", markersize=3,
                    color=color, linewidth=1.2, label=s["name"])
        if s.get("threshold") is not None:
            ax.axhline(s["threshold"], color=color, linestyle="--", linewidth=1,
                       label=f"{s['name']} {s.get('reference', 'threshold')} "
                             f"{s['threshold']:g}")
    step = max(1, len(labels) // 8)
    ax.set_xticks(range(0, len(labels), step), labels[::step])
    ax.set_xlabel("monitoring entry")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title, loc="left")
    _legend(ax, loc="best")


def history_figure(series: Sequence[Mapping[str, Any]], title: str, ylabel: str,
                   key: str = "") -> str:
    """Values over the monitoring history, one line per series, each with its reference
    (dashed): e.g. a metric of each labelled batch against the registered evaluation.
    SVG."""
    def make():
        fig, ax = new_figure(SMALL)
        _history_axes(ax, series, ylabel=ylabel, title=title)
        return fig
    return draw(key or f"history-{slug(title)}", make)


def monitoring_figure(feature: str, named: Sequence[Tuple[str, Optional[Mapping[str, Any]]]],
                      series: Sequence[Mapping[str, Any]], key: str = "") -> str:
    """One feature of a monitoring report, two panels: its distribution in the baseline and
    the batch overlaid, and each of its distances over the monitoring history with the
    threshold (any number of distances: skew, drift, and whatever else is measured).
    SVG."""
    def make():
        fig, (left, right) = new_figure(WIDE, ncols=2)
        _distribution_axes(left, feature, named)
        _history_axes(right, series)
        return fig
    return draw(key or f"monitor-{slug(feature)}", make)


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------

def _diagonal(ax, *points) -> None:
    ax.plot(*points, color="0.6", linestyle=":", linewidth=1)


def _class_curves(ax, curves: Sequence[Mapping[str, Any]], x: str, y: str, score: str,
                  score_name: str) -> None:
    """One line a class, labelled with the class and its ``score`` (AUC, AP)."""
    for i, c in enumerate(curves):
        value = c.get(score)
        ax.plot(c[x], c[y], color=f"C{i}", linewidth=1.4,
                label=_short(c["class"]) + (f" ({score_name} {value:.3f})"
                                            if value is not None else ""))


def roc_figure(curves: Sequence[Mapping[str, Any]], key: str = "roc") -> str:
    """ROC curves: ``{"class", "fpr", "tpr", "auc"}`` each, labelled with the class. SVG."""
    def make():
        fig, ax = new_figure(SQUARE)
        _class_curves(ax, curves, "fpr", "tpr", "auc", "AUC")
        _diagonal(ax, [0, 1], [0, 1])
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate",
               ylabel="true positive rate")
        ax.set_title("ROC curve" + ("s, one class against the rest" if len(curves) > 1 else
                                    f" of class {_short(curves[0]['class'])}" if curves
                                    else ""), loc="left")
        ax.legend(loc="lower right", frameon=False)
        return fig
    return draw(key, make)


def pr_figure(curves: Sequence[Mapping[str, Any]], key: str = "pr") -> str:
    """Precision-recall curves: ``{"class", "recall", "precision", "ap", "prevalence"}``
    each, labelled with the class; a dotted line at each class's prevalence. SVG."""
    def make():
        fig, ax = new_figure(SQUARE)
        _class_curves(ax, curves, "recall", "precision", "ap", "AP")
        for i, c in enumerate(curves):
            if c.get("prevalence") is not None:
                ax.axhline(c["prevalence"], color=f"C{i}", linestyle=":", linewidth=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision")
        ax.set_title("Precision-recall curve" + ("s" if len(curves) > 1 else ""), loc="left")
        ax.legend(loc="lower left", frameon=False)
        return fig
    return draw(key, make)


def calibration_figure(curves: Sequence[Mapping[str, Any]], key: str = "calibration") -> str:
    """Reliability diagram: ``{"class", "predicted", "observed"}`` each (mean predicted
    probability and fraction of positives per bin). SVG."""
    def make():
        fig, ax = new_figure(SQUARE)
        for i, c in enumerate(curves):
            ax.plot(c["predicted"], c["observed"], marker="o", markersize=3, color=f"C{i}",
                    linewidth=1.2, label=_short(c["class"]))
        _diagonal(ax, [0, 1], [0, 1])
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="mean predicted probability",
               ylabel="fraction of positives")
        ax.set_title("Calibration (reliability)", loc="left")
        ax.legend(loc="upper left", frameon=False)
        return fig
    return draw(key, make)


def confusion_figure(categories: Sequence[str], matrix: Sequence[Sequence[int]],
                     key: str = "confusion") -> str:
    """A confusion-matrix heatmap (rows actual, columns predicted), each cell's count
    written in it; colour is the share of the actual class. SVG."""
    import numpy as np

    def make():
        m = np.asarray(matrix, dtype=float)
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        k = len(categories)
        side = min(3.2 + 0.35 * k, 9.0)
        fig, ax = new_figure((side + 0.8, side))
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        if k <= 20:
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, f"{int(m[i, j]):,}", ha="center", va="center",
                            color="white" if share[i, j] > 0.5 else "black", fontsize=7)
        names = [_short(c, 16) for c in categories]
        ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else
                      "center")
        ax.set_yticks(range(k), names)
        ax.set(xlabel="predicted", ylabel="actual")
        ax.set_title("Confusion matrix", loc="left")
        fig.colorbar(image, ax=ax, label="share of the actual class", shrink=0.8)
        return fig
    return draw(key, make)


def slice_figure(column: str, values: Sequence[Tuple[str, Optional[float], int]], metric: str,
                 overall: Optional[float] = None, key: str = "") -> str:
    """One metric for each value of a slice column: ``(value, metric, count)`` each,
    horizontal bars, the overall value as a dashed line. SVG."""
    def make():
        shown = list(values)[:MAX_SLICE_BARS]
        fig, ax = new_figure((SMALL[0] + 1.0, 0.9 + 0.22 * max(len(shown), 1)))
        ys = range(len(shown))
        ax.barh(list(ys), [v if v is not None else 0.0 for _, v, _ in shown], color="C0",
                alpha=0.8)
        ax.set_yticks(list(ys), [f"{_short(name)} (n={n:,})" for name, _, n in shown])
        ax.invert_yaxis()
        for y, (_, v, _) in zip(ys, shown):
            if v is None:
                ax.text(0, y, " n/a", va="center", fontsize=7)
        if overall is not None:
            ax.axvline(overall, color="C1", linestyle="--", linewidth=1,
                       label=f"all rows {overall:.4g}")
            ax.legend(loc="lower right", frameon=False)
        ax.set_xlabel(metric)
        more = len(values) - len(shown)
        ax.set_title(f"{metric} by {_short(column, 40)}" +
                     (f" ({more} more values in the table)" if more > 0 else ""), loc="left")
        return fig
    return draw(key or f"slice-{slug(column)}-{slug(metric)}", make)


def prediction_figure(actual: Sequence[float], predicted: Sequence[float],
                      key: str = "predictions") -> str:
    """Regression: predicted against actual values, with the identity line. SVG."""
    def make():
        fig, ax = new_figure(SQUARE)
        ax.scatter(actual, predicted, s=16, alpha=0.6, color="C0", linewidths=0)
        if len(actual):
            lo = float(min(min(actual), min(predicted)))
            hi = float(max(max(actual), max(predicted)))
            _diagonal(ax, [lo, hi], [lo, hi])
        ax.set(xlabel="actual", ylabel="predicted")
        ax.set_title("Predicted against actual", loc="left")
        return fig
    return draw(key, make)


def class_count_figure(counts: Mapping[str, int], key: str = "class_counts") -> str:
    """Classification: rows per predicted class, most frequent first (at most
    MAX_SLICE_BARS bars). SVG."""
    def make():
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_SLICE_BARS]
        fig, ax = new_figure((SMALL[0], max(SMALL[1], 0.3 * len(top) + 0.8)))
        labels = [_short(k) for k, _ in top][::-1]
        ax.barh(range(len(top)), [v for _, v in top][::-1], color="C0")
        ax.set_yticks(range(len(top)), labels)
        ax.set(xlabel="rows")
        ax.set_title("Predicted classes", loc="left")
        return fig
    return draw(key, make)


def value_histogram_figure(values: Sequence[float], key: str = "predicted_values") -> str:
    """Regression: a histogram of the predicted values (finite ones). SVG."""
    def make():
        import numpy as np

        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        fig, ax = new_figure(SMALL)
        ax.hist(finite, bins=30 if finite.size else 1, color="C0")
        ax.set(xlabel="predicted value", ylabel="rows")
        ax.set_title("Predicted values", loc="left")
        return fig
    return draw(key, make)


def thin(n: int, limit: int) -> List[int]:
    """At most ``limit`` indices of ``range(n)``, evenly spaced, first and last kept."""
    if n <= limit:
        return list(range(n))
    step = (n - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})
