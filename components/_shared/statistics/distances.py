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
