"""Distances between two statistics, per feature, and the comparators TFDV measures them with.

L-infinity distance for categorical features, Jensen-Shannon divergence for numeric ones, for
EVERY feature of a schema (TFDV reports only the anomalous ones), as TFDV itself computes them.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from kfp_mlops.components._shared.statistics import DEFAULT_THRESHOLD

L_INFTY = "L_INFTY"
JENSEN_SHANNON_DIVERGENCE = "JENSEN_SHANNON_DIVERGENCE"
#: The comparator threshold used to make TFDV measure every feature.
_MEASURE_THRESHOLD = 0.0


def is_categorical(feature) -> bool:
    """True for string features and integer features marked categorical or boolean."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    if feature.type == schema_pb2.BYTES:
        return True
    if feature.type == schema_pb2.INT:
        return (feature.HasField("bool_domain")
                or (feature.HasField("int_domain") and feature.int_domain.is_categorical))
    return False


def metric_for(feature) -> str:
    return L_INFTY if is_categorical(feature) else JENSEN_SHANNON_DIVERGENCE


def set_comparators(schema, default_threshold: float = DEFAULT_THRESHOLD,
                    thresholds: Optional[Mapping[str, float]] = None, mode: str = "skew",
                    features: Optional[Iterable[str]] = None) -> None:
    """Sets a skew (or drift) comparator on every feature of ``schema``, in place.

    Categorical features get ``infinity_norm``, numeric ones ``jensen_shannon_divergence``;
    the threshold is ``thresholds[name]`` when given, else ``default_threshold``.
    """
    thresholds = dict(thresholds or {})
    only = set(features) if features is not None else None
    for feature in schema.feature:
        if only is not None and feature.name not in only:
            continue
        comparator = feature.skew_comparator if mode == "skew" else feature.drift_comparator
        comparator.Clear()
        threshold = float(thresholds.get(feature.name, default_threshold))
        if is_categorical(feature):
            comparator.infinity_norm.threshold = threshold
        else:
            comparator.jensen_shannon_divergence.threshold = threshold


def check_thresholds(features: Iterable[str], thresholds: Optional[Mapping[str, float]],
                     what: str = "skew_thresholds") -> None:
    """Raises ValueError when ``thresholds`` names an unknown feature or is not a number >= 0."""
    names = set(features)
    unknown = sorted(set(thresholds or {}) - names)
    if unknown:
        raise ValueError(f"{what} name features that do not exist: {unknown}; "
                         f"features are {sorted(names)}")
    from kfp_mlops.components._shared import checks

    checks.raise_all(checks.distance_thresholds_problems(what, thresholds))


@dataclasses.dataclass
class FeatureDistance:
    """The distance of one feature's distribution between two datasets."""

    feature: str
    metric: str                 # L_INFTY or JENSEN_SHANNON_DIVERGENCE
    value: Optional[float]      # None when the feature is missing on one side
    threshold: float
    exceeded: bool
    note: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _feature_names(stats) -> set:
    dataset = stats.datasets[0] if stats.datasets else None
    if dataset is None:
        return set()
    return {".".join(f.path.step) if f.path.step else f.name for f in dataset.features}


def _has_values(stats, name: str) -> bool:
    for f in stats.datasets[0].features if stats.datasets else ():
        if (".".join(f.path.step) if f.path.step else f.name) == name:
            common = (f.num_stats.common_stats if f.HasField("num_stats")
                      else f.string_stats.common_stats)
            return common.num_non_missing > 0
    return False


def feature_distances(base_stats, other_stats, schema,
                      default_threshold: float = DEFAULT_THRESHOLD,
                      thresholds: Optional[Mapping[str, float]] = None,
                      mode: str = "skew") -> List[FeatureDistance]:
    """The distance of every schema feature between ``base_stats`` and ``other_stats``.

    TFDV only reports distances of features that raise an anomaly, so this validates with a
    copy of ``schema`` whose comparators all have threshold 0 (every feature is measured),
    reads ``anomalies.drift_skew_info``, and applies the real thresholds here. The numbers are
    exactly those TFDV reports with the real thresholds.

    Args:
        base_stats: statistics of the reference data (training data; or previous batch).
        other_stats: statistics of the data compared with it (eval/serving; current batch).
        schema: the schema; only its feature types/domains matter (comparators are replaced).
        default_threshold: threshold of features not in ``thresholds``.
        thresholds: per-feature thresholds.
        mode: ``"skew"`` (training vs serving) or ``"drift"`` (previous vs current).

    Returns:
        One :class:`FeatureDistance` per schema feature, in schema order. A feature without
        values on one side has ``value=None`` and a note (its absence is a schema anomaly).
    """
    import tensorflow_data_validation as tfdv

    if mode not in ("skew", "drift"):
        raise ValueError(f"mode must be 'skew' or 'drift', got {mode!r}")
    thresholds = dict(thresholds or {})
    measuring = copy.deepcopy(schema)
    for feature in measuring.feature:   # no comparator left over from the given schema
        feature.ClearField("skew_comparator")
        feature.ClearField("drift_comparator")
    set_comparators(measuring, _MEASURE_THRESHOLD, None, mode)
    if mode == "skew":
        anomalies = tfdv.validate_statistics(base_stats, measuring, serving_statistics=other_stats)
    else:
        anomalies = tfdv.validate_statistics(other_stats, measuring, previous_statistics=base_stats)

    measured: Dict[str, Tuple[str, float]] = {}
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for m in (info.skew_measurements if mode == "skew" else info.drift_measurements):
            measured[name] = (_measurement_type_name(m.type), float(m.value))

    base_names, other_names = _feature_names(base_stats), _feature_names(other_stats)
    result = []
    for feature in schema.feature:
        name = feature.name
        threshold = float(thresholds.get(name, default_threshold))
        metric = metric_for(feature)
        if name in measured:
            metric, value = measured[name]
            note = ""
        elif name in base_names and name in other_names:
            value = 0.0
            if not (_has_values(base_stats, name) and _has_values(other_stats, name)):
                note = "no values on one side"
            else:
                note = ""
        else:
            where = "base" if name not in base_names else "compared"
            result.append(FeatureDistance(name, metric, None, threshold, False,
                                          f"missing from the {where} data"))
            continue
        result.append(FeatureDistance(name, metric, value, threshold, value > threshold, note))
    return result


def _measurement_type_name(value: int) -> str:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    name = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(value)
    return {"JENSEN_SHANNON_DIVERGENCE": JENSEN_SHANNON_DIVERGENCE,
            "L_INFTY": L_INFTY}.get(name, name)


# --------------------------------------------------------------------------------------
# More measures: PSI, normalised Wasserstein, and a test (KS / chi-squared), per feature
# --------------------------------------------------------------------------------------
#
# The monitor works from statistics, not rows. A categorical feature's statistics hold the
# exact count of every value (TFDV's rank histogram, up to ``num_rank_histogram_buckets``
# = 1000 values; the rest is one "other" cell), so PSI and the chi-squared test of
# categorical features are exact. A numeric feature's statistics hold its quantiles
# (TFDV's QUANTILES histogram: ``num_quantiles_histogram_buckets`` = 10 by default, the
# deciles, each bucket with its count), its mean and its standard deviation: its
# distribution is taken as the piecewise-linear CDF through those quantiles, and every
# numeric measure below is computed exactly on the two CDFs. The error of that
# approximation is measured against scipy on the raw samples in
# tests/components/_shared/statistics/test_measures.py on the bundled penguins batches:
# the KS statistic within 0.05 of scipy's on the raw values (p-values then differ, but not
# on which side of 0.05 / 7 they fall), the normalised Wasserstein distance within 0.04,
# PSI within 0.02 of the formula on raw counts where there is no drift (PSI < 0.1) and
# within 35 % where there is (the batch's shares in the baseline's bins are interpolated
# from the batch's own deciles, coarse when the batch piles into a few bins). Both sides are described the same way on purpose: the
# empirical CDF of a batch's values against the baseline's interpolated deciles was tried
# and is worse on data with ties (whole grams, whole millimetres), where the step of a
# tied value meets a straight line.

PSI = "PSI"
WASSERSTEIN_NORMED = "WASSERSTEIN_NORMED"
KS = "KS"
CHI_SQUARED = "CHI_SQUARED"
NUMERIC, CATEGORICAL = "numeric", "categorical"
#: Shares of 0 are replaced by this in PSI (log of 0); Evidently uses the same floor
#: (evidently/legacy/calculations/stattests/utils.py, ``get_binned_data``, feel_zeroes).
PSI_FLOOR = 1e-4
#: Evidently's floor of the reference's standard deviation in the normalised Wasserstein
#: distance (evidently/legacy/calculations/stattests/wasserstein_distance_norm.py).
STD_FLOOR = 0.001
_OTHER = object()     # the cell of categorical values beyond the rank histogram


@dataclasses.dataclass
class FeatureMeasures:
    """PSI, normalised Wasserstein and a two-sample test of one feature between two datasets.

    ``test`` is :data:`KS` (two-sample Kolmogorov-Smirnov) for numeric features and
    :data:`CHI_SQUARED` (chi-squared test of homogeneity) for categorical ones;
    ``wasserstein_normed`` is None for categorical features. ``exact`` is False when a
    side was described by its quantiles (numeric features: the measures are then
    approximations).
    """

    feature: str
    kind: str                               # NUMERIC or CATEGORICAL
    base_count: int                         # non-missing values
    other_count: int
    psi: Optional[float] = None
    wasserstein_normed: Optional[float] = None
    test: str = ""
    test_statistic: Optional[float] = None
    p_value: Optional[float] = None
    exact: bool = True
    note: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


class _Numeric:
    """A numeric distribution: the piecewise-linear CDF through its quantiles. ``xs`` are its breakpoints; ``cdf(x)`` is right-continuous, ``cdf_left(x)``
    its left limit."""

    def __init__(self, xs, levels, count: int, std: float):
        self.xs, self.levels, self.count, self.std = xs, levels, count, std

    @classmethod
    def from_statistics(cls, feature) -> Optional["_Numeric"]:
        import numpy as np
        from tensorflow_metadata.proto.v0 import statistics_pb2

        quantiles = statistics_pb2.Histogram.QUANTILES
        num = feature.num_stats
        hist = next((h for h in num.histograms if h.type == quantiles), None)
        if hist is None or not hist.buckets:
            return None
        counts = np.array([b.sample_count for b in hist.buckets], dtype=float)
        if counts.sum() <= 0:
            return None
        xs = np.array([hist.buckets[0].low_value] + [b.high_value for b in hist.buckets])
        levels = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
        return cls(xs, levels, int(num.common_stats.num_non_missing), float(num.std_dev))

    def _eval(self, x, side: str):
        import numpy as np

        x = np.asarray(x, dtype=float)
        xs, q = self.xs, self.levels
        i = np.searchsorted(xs, x, side=side)   # boundaries <= x (right) or < x (left)
        lo = np.clip(i - 1, 0, len(xs) - 1)
        hi = np.clip(i, 0, len(xs) - 1)
        width = xs[hi] - xs[lo]
        frac = np.where(width > 0, (x - xs[lo]) / np.where(width > 0, width, 1.0), 0.0)
        out = q[lo] + (q[hi] - q[lo]) * np.clip(frac, 0.0, 1.0)
        return np.where(i == 0, 0.0, np.where(i >= len(xs), 1.0, out))

    def cdf(self, x):
        return self._eval(x, "right")

    def cdf_left(self, x):
        return self._eval(x, "left")


def _ks_and_wasserstein(a: _Numeric, b: _Numeric) -> Tuple[float, float]:
    """sup |Fa - Fb| and the integral of |Fa - Fb| (the first Wasserstein distance), exact
    for the two CDFs: between consecutive breakpoints of either, each CDF is constant or
    linear, so the difference is linear there."""
    import numpy as np

    grid = np.unique(np.concatenate([a.xs, b.xs]))
    if grid.size == 0:
        return 0.0, 0.0
    at = a.cdf(grid) - b.cdf(grid)                      # at each breakpoint (right value)
    before = a.cdf_left(grid) - b.cdf_left(grid)        # its left limit
    ks = float(max(np.max(np.abs(at)), np.max(np.abs(before))))
    d0, d1, h = at[:-1], before[1:], np.diff(grid)      # just after x_i, just before x_i+1
    same = d0 * d1 >= 0
    total = np.abs(d0) + np.abs(d1)
    area = np.where(same, total / 2.0,
                    (d0 ** 2 + d1 ** 2) / (2.0 * np.where(total > 0, total, 1.0)))
    return ks, float(np.sum(area * h))


def _psi(expected, actual) -> float:
    """sum (a - e) * ln(a / e) over the bins, shares of 0 raised to :data:`PSI_FLOOR`."""
    import numpy as np

    e = np.maximum(np.asarray(expected, dtype=float), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_psi(base: _Numeric, other: _Numeric) -> float:
    """PSI over the bins of the baseline's quantiles (its deciles by default: the classic
    definition, with open-ended first and last bins); repeated quantiles (a value holding
    more than a tenth of the data) make one bin."""
    import numpy as np

    edges = np.unique(base.xs)
    inner = edges[1:-1] if edges.size > 2 else edges[1:]
    if inner.size == 0:                     # a single value: one bin, nothing to compare
        return 0.0

    def shares(d: _Numeric):
        below = np.concatenate([[0.0], d.cdf_left(inner), [1.0]])
        return np.diff(below)

    return _psi(shares(base), shares(other))


def _ks_p_value(d: float, n: int, m: int) -> float:
    """Two-sided p-value of a two-sample KS statistic: Smirnov's asymptotic distribution,
    as ``scipy.stats.ks_2samp(method="asymp")`` computes it (``kstwo.sf(d, round(en))``,
    en = n m / (n + m))."""
    from scipy import stats

    en = round(n * m / (n + m))
    return float(min(1.0, max(0.0, stats.kstwo.sf(d, max(en, 1)))))


def _category_counts(feature) -> Dict[Any, float]:
    stats = feature.string_stats
    buckets = stats.rank_histogram.buckets or stats.top_values
    counts: Dict[Any, float] = {}
    for b in buckets:
        label = b.label if hasattr(b, "label") else b.value
        counts[label] = counts.get(label, 0.0) + float(b.sample_count if hasattr(
            b, "sample_count") else b.frequency)
    rest = float(stats.common_stats.num_non_missing) - sum(counts.values())
    if rest > 0.5:                          # values beyond the rank histogram
        counts[_OTHER] = rest
    return counts


def _categorical(base_f, other_f, name: str) -> FeatureMeasures:
    import numpy as np
    from scipy import stats

    base, other = _category_counts(base_f), _category_counts(other_f)
    keys = [k for k in dict.fromkeys([*base, *other]) if base.get(k, 0) + other.get(k, 0) > 0]
    table = np.array([[base.get(k, 0.0) for k in keys], [other.get(k, 0.0) for k in keys]])
    n, m = table.sum(axis=1)
    out = FeatureMeasures(name, CATEGORICAL, int(n), int(m), test=CHI_SQUARED)
    if n == 0 or m == 0:
        out.note = "no values on one side"
        return out
    out.psi = _psi(table[0] / n, table[1] / m)
    if len(keys) < 2:
        out.test_statistic, out.p_value = 0.0, 1.0
    else:   # homogeneity test; without Yates' correction its 2x2 case is the z-test
        chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        out.test_statistic, out.p_value = float(chi2), float(p)
    return out


def _numeric(base_f, other_f, name: str) -> FeatureMeasures:
    base, other = _Numeric.from_statistics(base_f), _Numeric.from_statistics(other_f)
    out = FeatureMeasures(name, NUMERIC, base.count if base else 0,
                          other.count if other else 0, test=KS)
    if base is None or other is None or not base.count or not other.count:
        out.note = "no values on one side"
        return out
    out.exact = False                       # quantiles, not values
    ks, w1 = _ks_and_wasserstein(base, other)
    out.test_statistic = ks
    out.p_value = _ks_p_value(ks, base.count, other.count)
    out.wasserstein_normed = w1 / max(base.std, STD_FLOOR)
    out.psi = _numeric_psi(base, other)
    return out


def _features_by_name(stats) -> Dict[str, Any]:
    dataset = stats.datasets[0] if stats.datasets else None
    if dataset is None:
        return {}
    return {".".join(f.path.step) if f.path.step else f.name: f for f in dataset.features}


def feature_measures(base_stats, other_stats, schema) -> Dict[str, FeatureMeasures]:
    """PSI, normalised Wasserstein and a KS / chi-squared test of every schema feature.

    Args:
        base_stats: statistics of the reference (training data; or the previous batch).
        other_stats: statistics of the data compared with it.
        schema: the schema (which features are categorical, :func:`is_categorical`).

    Returns:
        feature name -> :class:`FeatureMeasures`, for the schema features present with
        statistics of the right kind on both sides.

    Definitions (Evidently's, from statistics instead of rows):

    * **PSI** = sum over bins of (a - e) ln(a / e), a and e the compared and reference
      shares; bins are the categories, or the reference's quantile buckets (deciles).
      Evidently's ``psi`` (evidently/legacy/calculations/stattests/psi.py) bins numeric
      values by Sturges' rule on both samples instead; its default threshold is 0.1.
    * **normalised Wasserstein** = W1(reference, compared) / max(std(reference), 0.001),
      Evidently's ``wasserstein`` (stattests/wasserstein_distance_norm.py; threshold 0.1):
      scale-free, in units of the reference's standard deviation.
    * **KS**: sup |F_ref - F_cmp| with the two-sided asymptotic p-value of
      ``scipy.stats.ks_2samp(method="asymp")``. From quantiles the statistic is approximate;
      ties (a discrete numeric feature) make the test conservative.
    * **chi-squared**: the test of homogeneity of the 2 x k table of counts
      (``scipy.stats.chi2_contingency``, no continuity correction). Evidently uses a
      goodness-of-fit chi-squared for k > 2 and a two-proportion z-test for k = 2; the
      homogeneity test is the two-sample form of the first and equals the second (z^2 =
      chi^2 on a 2 x 2 table).
    """
    base_by, other_by = _features_by_name(base_stats), _features_by_name(other_stats)
    out: Dict[str, FeatureMeasures] = {}
    for feature in schema.feature:
        name = feature.name
        b, o = base_by.get(name), other_by.get(name)
        if b is None or o is None:
            continue
        if is_categorical(feature):
            if b.HasField("string_stats") and o.HasField("string_stats"):
                out[name] = _categorical(b, o, name)
        elif b.HasField("num_stats") and o.HasField("num_stats"):
            out[name] = _numeric(b, o, name)
    return out
