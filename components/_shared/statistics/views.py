"""Readable views of TFDV statistics and anomalies, for reports, reasons and logs."""
from __future__ import annotations

from typing import Any, Dict, List


def anomaly_reasons(anomalies, label: str = "") -> List[str]:
    """One human-readable line per anomalous feature (TFDV's short and long descriptions)."""
    prefix = f"{label}: " if label else ""
    reasons = []
    for name in sorted(anomalies.anomaly_info):
        info = anomalies.anomaly_info[name]
        short = info.short_description or "anomaly"
        detail = info.description or "; ".join(r.description for r in info.reason)
        reasons.append(f"{prefix}feature {name!r}: {short}" + (f" ({detail})" if detail else ""))
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        reasons.append(f"{prefix}dataset: {info.short_description} ({info.description})")
    return reasons


def feature_summaries(stats) -> List[Dict[str, Any]]:
    """A flat per-feature summary of one dataset's statistics (for reports and logs)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if not stats.datasets:
        return []
    dataset = stats.datasets[0]
    n = dataset.num_examples
    rows = []
    for f in dataset.features:
        name = ".".join(f.path.step) if f.path.step else f.name
        row: Dict[str, Any] = {
            "feature": name,
            "type": statistics_pb2.FeatureNameStatistics.Type.Name(f.type)}
        if f.HasField("num_stats"):
            s = f.num_stats
            common = s.common_stats
            row.update(kind="numeric", mean=s.mean, std_dev=s.std_dev, min=s.min, max=s.max,
                       median=s.median, zeros=s.num_zeros)
        else:
            s = f.string_stats
            common = s.common_stats
            row.update(kind="categorical", unique=s.unique,
                       top_values=[(v.value, v.frequency) for v in s.top_values[:5]])
        row["missing"] = common.num_missing
        row["missing_pct"] = (100.0 * common.num_missing / n) if n else 0.0
        rows.append(row)
    return rows
