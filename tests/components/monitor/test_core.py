"""monitor core on real data with real TFDV: known distances, anomalies, history, bad input."""
import os
import re

import numpy as np
import pandas as pd
import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.monitor import core
from kfp_mlops.components.monitor import report as report_module
from kfp_mlops.pipelines import launcher_contract
from tests.components.monitor.conftest import DRIFTED_CSV, SERVING_CSV, register_version

FEATURES = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
            "body_mass_g", "sex", "year"]


def run(dataset, registry, outputs, prefix="out", **kwargs):
    return core.monitor(dataset, registry, "penguins", **outputs(prefix), **kwargs)


def left_behind(tmp_path, prefix="out"):
    return [p for p in os.listdir(tmp_path) if p.startswith(prefix)]


# ------------------------------------------------------------------ known distances

@pytest.fixture(scope="module")
def synthetic_registry(tmp_path_factory):
    """x ~ U[0, 1), c: a/b half and half, label y; 2000 rows."""
    work = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(7)
    n = 2000
    frame = pd.DataFrame({"x": rng.random(n), "c": np.where(np.arange(n) % 2 == 0, "a", "b"),
                          "y": rng.integers(0, 2, n).astype(str)})
    frame["y"] = np.where(frame["y"] == "1", "yes", "no")
    path = str(work / "train.csv")
    frame.to_csv(path, index=False)
    return register_version(str(work / "registry"), str(work), path, "y", "synthetic")


def test_known_distances(synthetic_registry, batch, outputs, tmp_path):
    n = 1000
    serving = pd.DataFrame({"x": 10 + np.random.default_rng(8).random(n),   # disjoint support
                            "c": np.where(np.arange(n) % 10 == 0, "b", "a")})  # a 90 %, b 10 %
    result = core.monitor(batch(serving), synthetic_registry, "synthetic", **outputs(),
                          record_history=False)
    skew = {d.feature: d for d in result.skew}
    assert skew["x"].metric == "JENSEN_SHANNON_DIVERGENCE"
    assert skew["x"].value == pytest.approx(1.0, abs=1e-6)      # disjoint: the maximum
    assert skew["c"].metric == "L_INFTY"
    assert skew["c"].value == pytest.approx(0.4, abs=0.01)      # |0.9 - 0.5|
    assert skew["y"].value is None and "label" in skew["y"].note
    assert result.drift_detected
    assert {(f.kind, f.feature) for f in result.findings} == {("skew", "x"), ("skew", "c")}
    assert result.anomalies == []     # the label is missing, and that is expected
    # a feature with no distance (the label) leaves no null or NaN in what Kubeflow records
    assert launcher_contract.check_metadata("monitor", "drift_report", result.metadata()) == []
    assert launcher_contract.check_metadata("monitor", "metrics", result.metrics()) == []


def test_same_distribution_is_not_drift(synthetic_registry, batch, outputs):
    n = 1000
    serving = pd.DataFrame({"x": np.random.default_rng(9).random(n),
                            "c": np.where(np.arange(n) % 2 == 0, "b", "a")})
    result = core.monitor(batch(serving), synthetic_registry, "synthetic", **outputs(),
                          record_history=False)
    skew = {d.feature: d.value for d in result.skew}
    assert skew["x"] < 0.05 and skew["c"] < 0.01
    assert not result.drift_detected and result.reasons == []


# ------------------------------------------------------------------ penguins

def test_undrifted_batch_every_feature_reported(registry, batch, outputs, tmp_path):
    result = run(batch(SERVING_CSV), registry, outputs)
    assert not result.drift_detected, result.reasons
    assert [d.feature for d in result.skew] == FEATURES       # every feature, under threshold
    measured = [d for d in result.skew if d.value is not None]
    assert len(measured) == 7 and all(d.value < 0.1 for d in measured)
    assert result.anomalies == []                             # no label: not an anomaly
    assert result.drift == [] and result.drift_baseline is None   # nothing to compare with

    metrics = result.metrics()
    assert {f"skew/{f}" for f in FEATURES[1:]} <= set(metrics)
    assert metrics["drift_detected"] == 0 and metrics["rows"] == 150
    report = report_module.read_report(str(tmp_path / "out" / "drift_report"))
    assert report["drift_detected"] is False
    assert len(report["skew"]["features"]) == 8
    import tensorflow_data_validation as tfdv
    stats = tfdv.load_stats_binary(str(tmp_path / "out" / "statistics" / "Split-serving"
                                       / "FeatureStats.pb"))
    assert stats.datasets[0].num_examples == 150
    html = open(tmp_path / "out" / "report.html").read()
    assert "NO DRIFT" in html and "body_mass_g" in html


def test_drifted_batch_and_history(registry, batch, outputs, tmp_path):
    first = run(batch(SERVING_CSV, "serving"), registry, outputs, "first", run_name="run-1")
    second = run(batch(DRIFTED_CSV, "drifted"), registry, outputs, "second", run_name="run-2")
    assert not first.drift_detected
    assert second.drift_detected
    flagged = {(f.kind, f.feature) for f in second.findings}
    for feature in ("island", "body_mass_g", "flipper_length_mm"):
        assert ("skew", feature) in flagged and ("drift", feature) in flagged
    # 150 rows: the KS / chi-squared tests decide. Reweighting the islands moved the bills
    # too (Torgersen's penguins are all Adelie, short bills: KS D 0.29 against training),
    # and the tests see it; what did not move is left alone.
    assert ("skew", "bill_length_mm") in flagged
    for feature in ("sex", "year"):
        assert ("skew", feature) not in flagged and ("drift", feature) not in flagged
    # the distances alone (the decision before the tests) flag only what was changed
    by_distance = run(batch(DRIFTED_CSV, "drifted-again"), registry, outputs, "third",
                      record_history=False, decide_by="distance")
    assert {f.feature for f in by_distance.findings if f.kind == "skew"} == {
        "island", "body_mass_g", "flipper_length_mm"}

    history = reg.monitoring_history(registry, "penguins", "champion")
    assert [h["seq"] for h in history] == [1, 2]
    assert [h["run_name"] for h in history] == ["run-1", "run-2"]
    assert history[0]["drift_compared_with"] is None
    assert history[1]["drift_compared_with"] == 1          # drift against the first batch
    assert history[1]["drift"]["island"] == pytest.approx(
        {d.feature: d.value for d in second.drift}["island"])
    assert second.drift_baseline["seq"] == 1 and second.monitoring_seq == 2
    assert os.path.isfile(os.path.join(history[1]["statistics_path"], "Split-serving",
                                       "FeatureStats.pb"))
    report = report_module.read_report(str(tmp_path / "second" / "drift_report"))
    assert report["drift"]["measured"] and report["drift"]["baseline"]["seq"] == 1
    assert second.metrics()["drift/island"] > 0.3


def test_registry_on_an_object_store(penguins_registry, object_store, batch, outputs):
    """The registered schema, baseline and history read from s3:// and gs:// (copies)."""
    scheme, _, bucket = object_store
    from kfp_mlops.components._shared import io

    registry = f"{scheme}://{bucket}/registry"
    io.put_dir(penguins_registry, registry)
    first = run(batch(SERVING_CSV, "serving"), registry, outputs, "first", run_name="run-1")
    second = run(batch(DRIFTED_CSV, "drifted"), registry, outputs, "second", run_name="run-2")
    assert not first.drift_detected and second.drift_detected
    assert ("drift", "island") in {(f.kind, f.feature) for f in second.findings}
    assert second.drift_baseline["seq"] == 1 and second.monitoring_seq == 2
    history = reg.monitoring_history(registry, "penguins", "champion")
    assert [h["run_name"] for h in history] == ["run-1", "run-2"]
    assert history[1]["statistics_path"].startswith(
        f"{registry}/penguins/versions/1/monitoring/000002-")
    assert io.isfile(f"{history[1]['statistics_path']}/Split-serving/FeatureStats.pb")


def test_new_categorical_value_and_dropped_column(registry, batch, outputs, serving_frame):
    frame = serving_frame.drop(columns=["bill_length_mm"])
    frame.loc[frame.index[:75], "island"] = "Atlantis"
    result = run(batch(frame), registry, outputs, record_history=False)
    anomalies = {f.feature: f.message for f in result.findings if f.kind == "anomaly"}
    assert "island" in anomalies and "Atlantis" in anomalies["island"]
    assert "bill_length_mm" in anomalies
    skew = {d.feature: d for d in result.skew}
    assert skew["bill_length_mm"].value is None
    assert skew["bill_length_mm"].note == "missing from the compared data"
    assert skew["island"].exceeded and skew["island"].value >= 0.45   # half the rows moved
    assert result.drift_detected


def test_label_present_in_serving_is_fine(registry, batch, outputs, penguins_csv):
    result = run(batch(penguins_csv), registry, outputs, record_history=False)
    assert result.anomalies == [] and not result.drift_detected


def test_per_feature_thresholds(registry, batch, outputs):
    result = run(batch(SERVING_CSV), registry, outputs, record_history=False,
                 skew_thresholds={"island": 0.001}, skew_threshold=0.5)
    assert [(f.kind, f.feature) for f in result.findings] == [("skew", "island")]
    assert {d.feature: d.threshold for d in result.skew}["sex"] == 0.5


def test_record_history_off_leaves_no_entry(registry, batch, outputs):
    result = run(batch(SERVING_CSV), registry, outputs, record_history=False)
    assert reg.monitoring_history(registry, "penguins", 1) == []
    # nothing recorded, nothing compared: the keys are absent (the launcher refuses a null)
    meta = result.metadata()
    assert "monitoring_seq" not in meta and "drift_compared_with" not in meta
    assert meta["monitoring_entry"] == ""
    assert launcher_contract.check_metadata("monitor", "drift_report", meta) == []
    assert launcher_contract.check_metadata("monitor", "metrics", result.metrics()) == []


# ------------------------------------------------------------------ bad input

def _nothing_written(registry, tmp_path):
    assert reg.monitoring_history(registry, "penguins", 1) == []
    assert left_behind(tmp_path) == [] or all(
        not os.listdir(tmp_path / p) for p in left_behind(tmp_path))


def test_unknown_model(registry, batch, outputs, tmp_path):
    with pytest.raises(core.MonitorError, match=r"model_name 'pelicans' is not in the registry"):
        core.monitor(batch(SERVING_CSV), registry, "pelicans", **outputs())
    _nothing_written(registry, tmp_path)


def test_unknown_version(registry, batch, outputs, tmp_path):
    with pytest.raises(core.MonitorError, match=r"model_version 'staging' of model 'penguins'"):
        run(batch(SERVING_CSV), registry, outputs, model_version="staging")
    _nothing_written(registry, tmp_path)


def test_registered_schema_missing_or_broken(tmp_path):
    missing = str(tmp_path / "gone" / "schema.pbtxt")
    with pytest.raises(core.MonitorError, match=f"the registered schema '{missing}' does not "
                                                "exist"):
        core.load_schema(missing)
    broken = tmp_path / "schema.pbtxt"
    broken.write_text("feature { nme: 'x' }")
    with pytest.raises(core.MonitorError, match="the registered schema .* is not a "
                                                "tensorflow_metadata Schema in text format"):
        core.load_schema(str(broken))


def test_batch_without_model_features(registry, batch, outputs, tmp_path):
    frame = pd.DataFrame({"colour": ["red", "blue"], "weight": [1.0, 2.0]})
    with pytest.raises(core.MonitorError, match=r"has none of the features of model "
                                                r"'penguins'.*'colour', 'weight'"):
        run(batch(frame), registry, outputs)
    _nothing_written(registry, tmp_path)


def test_empty_batch(registry, outputs, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    pq.write_table(pa.table({"island": pa.array([], pa.string())}),
                   str(empty / "train" / "data.parquet"))
    (empty / "dataset.json").write_text('{"splits": {"train": 0}}')
    with pytest.raises(core.MonitorError, match=r"serving batch .* is empty"):
        run(str(empty), registry, outputs)
    _nothing_written(registry, tmp_path)


@pytest.mark.parametrize("kwargs,message", [
    ({"skew_threshold": -1}, "skew_threshold must be a number >= 0"),
    ({"drift_thresholds": {"wingspan": 0.2}}, "drift_thresholds name features that do not"),
])
def test_bad_thresholds(registry, batch, outputs, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(batch(SERVING_CSV), registry, outputs, **kwargs)
    _nothing_written(registry, tmp_path)


# ------------------------------------------------------------------ how features are judged

def test_defaults_on_the_bundled_batches(registry, batch, outputs, tmp_path):
    """150 rows: every feature is judged by its test (KS / chi-squared, Bonferroni over
    the 7 features); the undrifted batch raises nothing, the drifted one names its shifted
    features, and report.json shows every measure, which decided and why."""
    first = run(batch(SERVING_CSV, "serving"), registry, outputs, "first")
    second = run(batch(DRIFTED_CSV, "drifted"), registry, outputs, "second")
    assert not first.drift_detected and first.findings == []
    judged = [c for c in first.skew if c.value is not None]
    assert len(judged) == 7 and all(c.decided_by == "test" for c in judged)
    for c in judged:
        assert c.p_value_threshold == pytest.approx(0.05 / 7) and c.p_value > 0.3, c
        assert re.match(r"1[45]\d values <= 1000: the (KS|CHI_SQUARED) test decides, "
                        r"p-value [\d.e-]+ >= 0.00714 = 0.05 / 7 features tested", c.reason)
        assert not c.drifted
    numeric = {c.feature: c for c in judged if c.test == "KS"}
    assert set(numeric) == {"bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                            "body_mass_g", "year"}
    for c in numeric.values():
        assert set(c.measures) == {"JENSEN_SHANNON_DIVERGENCE", "PSI", "WASSERSTEIN_NORMED",
                                   "KS"}
        assert c.approximate and c.measures["PSI"] < 0.1 and c.measures[
            "WASSERSTEIN_NORMED"] < 0.1
    island = {c.feature: c for c in judged}["island"]
    assert island.test == "CHI_SQUARED" and set(island.measures) == {"L_INFTY", "PSI",
                                                                      "CHI_SQUARED"}

    assert second.drift_detected
    named = {f.feature for f in second.findings if f.kind == "skew"}
    assert {"island", "body_mass_g", "flipper_length_mm"} <= named
    finding = next(f for f in second.findings if (f.kind, f.feature) == ("skew", "island"))
    assert finding.metric == "CHI_SQUARED" and finding.value < 1e-10
    assert finding.threshold == pytest.approx(0.05 / 7)
    assert finding.message.startswith("training-serving skew of feature 'island': "
                                      "CHI_SQUARED test p-value ")
    report = report_module.read_report(str(tmp_path / "second" / "drift_report"))
    assert report["version"] == 2
    assert report["decision"] == {"decide_by": "auto", "p_value": 0.05, "min_rows": 30,
                                  "test_max_rows": 1000}
    mass = {f["feature"]: f for f in report["skew"]["features"]}["body_mass_g"]
    assert mass["decided_by"] == "test" and mass["drifted"] is True and mass["test"] == "KS"
    assert mass["measures"]["WASSERSTEIN_NORMED"] > 1 and mass["measures"]["PSI"] > 1
    for key in ("feature", "metric", "value", "threshold", "exceeded", "note"):  # version 1
        assert key in mass
    drift = {f["feature"]: f for f in report["drift"]["features"]}
    assert drift["island"]["drifted"] and not drift["year"]["drifted"]
    history = reg.monitoring_history(registry, "penguins", "champion")
    assert history[1]["skew_checks"]["island"]["decided_by"] == "test"
    assert history[1]["skew_checks"]["body_mass_g"]["measures"]["PSI"] > 1


def test_ten_rows_are_not_enough(registry, batch, outputs, serving_frame):
    shifted = serving_frame.head(10).copy()
    shifted["body_mass_g"] = (shifted["body_mass_g"] * 1.4).round().astype("Int64")
    result = run(batch(shifted), registry, outputs, record_history=False)
    assert not result.drift_detected, result.reasons
    assert result.findings == [] and result.anomalies == []
    for c in result.skew:
        if c.value is not None:
            assert c.decided_by == "" and not c.drifted
            assert c.reason.startswith("not enough rows to judge: ")
            assert "at least 30 needed" in c.reason
    # the same ten rows judged anyway (min_rows=0): the distances are noise at this size
    anyway = run(batch(shifted, "again"), registry, outputs, "again", record_history=False,
                 min_rows=0, decide_by="distance")
    assert {d.feature for d in anyway.skew if d.drifted} >= {"body_mass_g"}


def test_own_threshold_is_judged_by_the_distance(registry, batch, outputs):
    result = run(batch(SERVING_CSV), registry, outputs, record_history=False,
                 skew_thresholds={"island": 0.001})
    island = {c.feature: c for c in result.skew}["island"]
    assert island.decided_by == "distance" and island.drifted
    assert island.reason.startswith("its own threshold (skew_thresholds): L_INFTY ")
    assert [(f.kind, f.feature, f.metric) for f in result.findings] == [
        ("skew", "island", "L_INFTY")]
    others = [c for c in result.skew if c.feature != "island" and c.value is not None]
    assert all(c.decided_by == "test" for c in others)


def test_large_batches_are_judged_by_the_distance(synthetic_registry, batch, outputs):
    n = 1500
    rng = np.random.default_rng(11)
    shifted = pd.DataFrame({"x": rng.random(n) * 1.1,             # a 10 % stretch
                            "c": np.where(np.arange(n) % 2 == 0, "b", "a")})
    result = core.monitor(batch(shifted), synthetic_registry, "synthetic", **outputs(),
                          record_history=False)
    x = {c.feature: c for c in result.skew}["x"]
    assert x.decided_by == "distance" and x.reason.startswith("1500 values > 1000")
    assert not result.drift_detected          # JS far below 0.3
    # the test alone sees the stretch at this size: why large samples use the distance
    tested = core.monitor(batch(shifted, "tested"), synthetic_registry, "synthetic",
                          **outputs("tested"), record_history=False, decide_by="test")
    assert {c.feature: c for c in tested.skew}["x"].p_value < 0.05 / 2


@pytest.mark.parametrize("kwargs,message", [
    ({"decide_by": "vote"}, "decide_by must be one of \\['auto', 'distance', 'test'\\], "
                            "got 'vote'"),
    ({"p_value": 1.5}, "p_value must be a number strictly between 0 and 1, got 1.5"),
    ({"min_rows": -1}, "min_rows must be a whole number >= 0, got -1"),
])
def test_bad_decision_settings(registry, batch, outputs, tmp_path, kwargs, message):
    with pytest.raises(core.MonitorError, match=message):
        run(batch(SERVING_CSV), registry, outputs, **kwargs)
    _nothing_written(registry, tmp_path)


def test_a_column_kept_out_of_the_model_raises_no_alarm(registry, batch, outputs):
    """validate keeps an ID-like column out of the model (``lifecycle_stage: DISABLED``); its
    change in a batch is shown, not an alarm -- here body_mass_g, which the drifted batch moves
    by 40 %, marked so in the registered schema."""
    import pathlib

    from google.protobuf import text_format

    from kfp_mlops.components._shared import schema as schema_io

    (path,) = pathlib.Path(registry).rglob("schema.pbtxt")
    schema = schema_io.read_schema(str(path))
    schema_io.keep_out(next(f for f in schema.feature if f.name == "body_mass_g"), "a test")
    path.write_text(text_format.MessageToString(schema))

    result = run(batch(DRIFTED_CSV, "drifted"), registry, outputs, "kept")
    check = {c.feature: c for c in result.skew}["body_mass_g"]
    assert check.value is not None and not check.drifted
    assert check.reason.startswith("kept out of the model, so it is measured, not judged")
    flagged = {f.feature for f in result.findings}
    assert "body_mass_g" not in flagged and "flipper_length_mm" in flagged
