"""Skew and drift of date and timestamp features, on a registry built by real ingest and
validate from the seasonal data (dates as ISO text in CSV, ingested as date32 / timestamp).

They are measured like any integer feature (days / seconds since the epoch). Every batch
served after training is later, so by default their distances are shown, not judged; with a
threshold of their own, a batch from another period is drift. A change of season within the
same years is not seen by the equi-width histogram of a six-year range (the model's calendar
parts are not monitored)."""
import os

import pytest

from kfp_mlops.components.monitor import core
from tests.components.monitor.conftest import register_version
from tests.components.schemas import seasonal_csv


@pytest.fixture(scope="module")
def seasonal_registry(tmp_path_factory):
    work = tmp_path_factory.mktemp("seasonal_registry")
    return register_version(str(work / "registry"), str(work),
                            seasonal_csv(work / "sales.csv"), "y", "sales")


def test_date_features_have_skew_and_drift(seasonal_registry, batch, outputs, tmp_path):
    # a serving batch like the training data (no label), then one from the summer only
    same = batch(seasonal_csv(tmp_path / "same.csv", rows=1500, seed=1), "same")
    first = core.monitor(same, seasonal_registry, "sales", **outputs("first"))
    skew = {d.feature: d for d in first.skew}
    for name in ("day", "at"):
        assert skew[name].metric == "JENSEN_SHANNON_DIVERGENCE"
        assert skew[name].value is not None and skew[name].value < 0.1, skew[name]
    assert not first.drift_detected, first.findings
    assert first.anomalies == []
    from kfp_mlops.components._shared import statistics as tfdv_stats

    stats = tfdv_stats.load_statistics(os.path.join(tfdv_stats.split_dir(
        outputs("first")["statistics_dir"], "serving"), tfdv_stats.STATS_FILE))
    features = {".".join(f.path.step): f for f in stats.datasets[0].features}
    assert features["day"].num_stats.min >= 16436        # 2015-01-01 in days

    # the same data six years on: the dates moved, nothing else did
    later = batch(seasonal_csv(tmp_path / "later.csv", rows=1500, seed=2, first_year=2021),
                  "later")
    second = core.monitor(later, seasonal_registry, "sales", **outputs("second"))
    drift = {d.feature: d for d in second.drift}
    assert drift["day"].value > 0.9 and drift["at"].value > 0.9, drift   # disjoint: ~1
    assert drift["x"].value < 0.1 and drift["shop"].value < 0.1
    assert not second.findings, second.findings   # dates move on: shown, not an alarm
    assert "measured, not judged" in drift["day"].reason

    # dates watched on purpose: thresholds of their own. Skew is against training; drift
    # against the previous batch, which is the same later batch (recorded by the second run)
    own = {"day": 0.3, "at": 0.3}
    third = core.monitor(later, seasonal_registry, "sales", skew_thresholds=own,
                         drift_thresholds=own, **outputs("third"))
    assert {(f.kind, f.feature) for f in third.findings} == {("skew", "day"), ("skew", "at")}
