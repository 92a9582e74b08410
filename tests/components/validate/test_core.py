"""validate core on real TFDV: penguins, known distributions, anomalies, bad inputs, Beam."""
import json
import os

import numpy as np
import pytest
from google.protobuf import text_format

from kfp_mlops.components.validate import core


def _feature(stats, name):
    for f in stats.datasets[0].features:
        if f.path.step[-1] == name:
            return f
    raise AssertionError(f"no feature {name!r} in statistics")


def _common(f):
    return f.num_stats.common_stats if f.HasField("num_stats") else f.string_stats.common_stats


def assert_same_statistics(mine, reference, check_type=True):
    """Counts, missing, mean/std/min/max and unique counts agree (tiny float tolerance)."""
    a, b = mine.datasets[0], reference.datasets[0]
    assert a.num_examples == b.num_examples
    assert sorted(f.path.step[-1] for f in a.features) == \
        sorted(f.path.step[-1] for f in b.features)
    for fb in b.features:
        fa = _feature(mine, fb.path.step[-1])
        if check_type:
            assert fa.type == fb.type, fb.path
        assert _common(fa).num_non_missing == _common(fb).num_non_missing, fb.path
        assert _common(fa).num_missing == _common(fb).num_missing, fb.path
        assert fa.HasField("num_stats") == fb.HasField("num_stats"), fb.path
        if fb.HasField("num_stats"):
            for field in ("mean", "std_dev", "min", "max", "num_zeros"):
                assert getattr(fa.num_stats, field) == pytest.approx(
                    getattr(fb.num_stats, field), rel=1e-9, abs=1e-9), (fb.path, field)
        else:
            assert fa.string_stats.unique == fb.string_stats.unique, fb.path
            assert [(v.value, v.frequency) for v in fa.string_stats.top_values] == \
                [(v.value, v.frequency) for v in fb.string_stats.top_values], fb.path


@pytest.fixture(scope="module")
def penguins_result(penguins_dataset, tmp_path_factory, outputs):
    out = outputs(tmp_path_factory.mktemp("penguins_validate"))
    return core.validate(penguins_dataset, **out), out


def test_penguins_statistics_schema_skew_and_outputs(penguins_dataset, penguins_result):
    import tensorflow_data_validation as tfdv
    from kfp_mlops.components._shared import dataset as ds

    result, out = penguins_result
    columns = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
               "body_mass_g", "sex", "year"]
    assert result.passed, result.reasons
    assert result.rows == {s: ds.num_rows(penguins_dataset, s) for s in ("train", "eval", "test")}
    assert sum(result.rows.values()) == 344

    # Statistics: TFX layout, loadable, equal to TFDV's own DataFrame path.
    for split in ("train", "eval", "test"):
        stats = tfdv.load_stats_binary(
            os.path.join(out["statistics_dir"], f"Split-{split}", "FeatureStats.pb"))
        assert stats.datasets[0].name == split
        frame = ds.read_pandas(penguins_dataset, split)
        reference = tfdv.generate_statistics_from_dataframe(frame)
        # pandas turns int columns with missing values into floats: compare types elsewhere
        assert_same_statistics(stats, reference, check_type=False)
        arrow_ints = [c for c in columns
                      if str(ds.arrow_schema(penguins_dataset).field(c).type) == "int64"]
        for name in arrow_ints:
            assert _feature(stats, name).type == 0  # INT

    # Schema: every column, species is the label and not expected in SERVING.
    schema = tfdv.load_schema_text(os.path.join(out["schema_dir"], "schema.pbtxt"))
    assert sorted(f.name for f in schema.feature) == sorted(columns)
    assert set(schema.default_environment) == {"TRAINING", "SERVING"}
    by_name = {f.name: f for f in schema.feature}
    assert list(by_name["species"].not_in_environment) == ["SERVING"]
    assert not by_name["island"].not_in_environment
    assert by_name["species"].skew_comparator.infinity_norm.threshold == pytest.approx(0.3)
    assert by_name["body_mass_g"].skew_comparator.jensen_shannon_divergence.threshold == \
        pytest.approx(0.3)

    # Skew: every feature has a distance, also those under the threshold.
    skew = json.load(open(os.path.join(out["anomalies_dir"], "skew.json")))
    features = {d["feature"]: d for d in skew["features"]}
    assert sorted(features) == sorted(columns)
    assert all(d["value"] is not None and 0 <= d["value"] < 0.3 for d in features.values())
    assert features["species"]["metric"] == "L_INFTY"
    assert features["bill_length_mm"]["metric"] == "JENSEN_SHANNON_DIVERGENCE"
    assert json.load(open(os.path.join(out["anomalies_dir"], "decision.json"))) == \
        {"passed": True, "reasons": []}
    for split in ("train", "eval", "test"):
        from tensorflow_metadata.proto.v0 import anomalies_pb2
        with open(os.path.join(out["anomalies_dir"], f"Split-{split}", "SchemaDiff.pb"),
                  "rb") as f:
            assert not anomalies_pb2.Anomalies.FromString(f.read()).anomaly_info

    metrics = result.metrics()
    assert metrics["anomaly_count"] == 0 and metrics["skewed_feature_count"] == 0
    assert metrics["max_skew"] == max(d["value"] for d in features.values()) > 0
    assert metrics["max_skew_feature"] in columns
    assert metrics["rows_train"] == result.rows["train"]
    assert result.metadata()["schema_feature_count"] == 8

    page = open(out["report_path"], encoding="utf-8").read()
    for text in ("PASSED", "Splits", "Train/eval skew", "bill_length_mm", "Adelie",
                 f"{result.rows['train']:,}", "JENSEN_SHANNON_DIVERGENCE"):
        assert text in page
    assert "<script src" not in page.split("Facets overview")[0]


def test_statistics_are_the_same_whatever_the_batch_size(make_dataset):
    import tensorflow_data_validation as tfdv
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 1000
    columns = {"x": [None if i % 13 == 0 else float(v) for i, v in enumerate(rng.normal(size=n))],
               "k": [int(v) for v in rng.integers(0, 7, n)],
               "s": [None if i % 11 == 0 else f"v{v}" for i, v in enumerate(rng.integers(0, 5, n))]}
    d = make_dataset({"train": columns}, types={"s": None})
    small = core.compute_statistics(d, "train", batch_rows=37)
    large = core.compute_statistics(d, "train", batch_rows=100_000)
    assert_same_statistics(small, large)
    assert small.datasets[0].num_examples == n
    assert_same_statistics(small, tfdv.generate_statistics_from_dataframe(pd.DataFrame(columns)))


def test_threaded_statistics_are_deterministic_and_equal_one_thread(make_dataset):
    rng = np.random.default_rng(2)
    n = 5000
    columns = {"x": [None if i % 17 == 0 else float(v) for i, v in enumerate(rng.normal(size=n))],
               "s": [f"v{v}" for v in rng.integers(0, 40, n)]}
    d = make_dataset({"train": columns})
    one = core.compute_statistics(d, "train", batch_rows=250, workers=1)
    three = core.compute_statistics(d, "train", batch_rows=250, workers=3)
    again = core.compute_statistics(d, "train", batch_rows=250, workers=3)
    assert three.SerializeToString(deterministic=True) == again.SerializeToString(deterministic=True)
    assert three.datasets[0].num_examples == n
    assert_same_statistics(one, three)


def test_a_worker_error_reaches_the_caller():
    import datetime

    import pyarrow as pa

    from kfp_mlops.components._shared import statistics as tfdv_stats

    good = pa.RecordBatch.from_pydict({"x": [1.0, 2.0]})
    # a time of day: a type TFDV cannot describe (dates and timestamps it can, as integers)
    bad = pa.RecordBatch.from_pydict({"x": [datetime.time(12, 30)] * 2})
    pool = tfdv_stats.StatisticsPool(workers=2)
    with pytest.raises(TypeError, match="column 'x' has type time64"):
        for i in range(20):  # more batches than the queues hold: add() must not block
            pool.add("train", good if i % 2 == 0 else bad)  # worker 1 gets the bad ones
        pool.finish("train")
        pool.results()


def _known(rng, n, x_mean, categories, probabilities):
    return {"x": [float(v) for v in rng.normal(x_mean, 1.0, n)],
            "c": list(rng.choice(categories, n, p=probabilities)),
            "flag": [bool(v) for v in rng.random(n) < 0.5],
            "label": list(rng.choice(["yes", "no"], n))}


def test_known_distances_every_feature_and_overrides(make_dataset, tmp_path, outputs):
    import tensorflow_data_validation as tfdv

    rng = np.random.default_rng(0)
    n = 2000
    train = _known(rng, n, 0.0, ["a", "b"], [0.5, 0.5])
    # c: exactly 800 a, 800 b, 400 new value z -> L-inf = max(|.5-.4|, |.5-.4|, |0-.2|) = 0.2
    train["c"] = ["a", "b"] * (n // 2)
    evaluation = dict(train)
    evaluation["x"] = [v + 3.0 for v in train["x"]]     # shifted: large JSD
    evaluation["c"] = ["a", "b"] * 800 + ["z"] * 400
    d = make_dataset({"train": train, "eval": evaluation}, label_column="label")
    out = outputs(tmp_path)
    result = core.validate(d, **out, skew_thresholds={"c": 0.1, "flag": 0.05})

    distances = {s.feature: s for s in result.skew}
    assert sorted(distances) == ["c", "flag", "label", "x"]
    assert distances["x"].metric == "JENSEN_SHANNON_DIVERGENCE"
    assert distances["x"].value > 0.5 and distances["x"].exceeded
    assert distances["c"].metric == "L_INFTY"
    assert distances["c"].value == pytest.approx(0.2)
    assert distances["c"].threshold == 0.1 and distances["c"].exceeded
    assert distances["flag"].metric == "L_INFTY"   # bool -> INT with bool_domain: categorical
    # identical columns: distance 0, reported anyway, not exceeded
    assert distances["flag"].value == pytest.approx(0.0, abs=1e-12)
    assert distances["label"].value == pytest.approx(0.0, abs=1e-12)
    assert not distances["flag"].exceeded and distances["flag"].threshold == 0.05
    assert distances["label"].threshold == 0.3

    # Our numbers are TFDV's own for the anomalous features, with the real thresholds.
    schema = tfdv.load_schema_text(os.path.join(out["schema_dir"], "schema.pbtxt"))
    train_stats = tfdv.load_stats_binary(
        os.path.join(out["statistics_dir"], "Split-train", "FeatureStats.pb"))
    eval_stats = tfdv.load_stats_binary(
        os.path.join(out["statistics_dir"], "Split-eval", "FeatureStats.pb"))
    tfdv_anomalies = tfdv.validate_statistics(train_stats, schema, serving_statistics=eval_stats)
    for info in tfdv_anomalies.drift_skew_info:
        name = info.path.step[0]
        assert info.skew_measurements[0].value == pytest.approx(distances[name].value, abs=1e-12)
    assert {"x", "c"} <= set(tfdv_anomalies.anomaly_info)

    assert not result.passed
    assert result.metrics()["skewed_feature_count"] == 2
    assert result.metrics()["max_skew_feature"] == "x"
    assert any("skew of feature 'x'" in r for r in result.reasons)
    assert any("skew of feature 'c'" in r for r in result.reasons)
    # the new value z is also a schema anomaly of eval
    assert any(r.startswith("eval: feature 'c'") and "Unexpected string values" in r
               for r in result.reasons)
    by_name = {f.name: f for f in schema.feature}
    assert by_name["flag"].HasField("bool_domain")
    assert by_name["c"].skew_comparator.infinity_norm.threshold == pytest.approx(0.1)
    skew = json.load(open(os.path.join(out["anomalies_dir"], "skew.json")))
    assert {d["feature"] for d in skew["features"] if d["exceeded"]} == {"x", "c"}
    assert "FAILED" in open(out["report_path"]).read()

    # The same data with a high enough threshold on x and c passes.
    out2 = outputs(tmp_path, "high-")
    evaluation["c"] = ["a", "b"] * (n // 2)
    d2 = make_dataset({"train": train, "eval": evaluation}, label_column="label", name="d2")
    result2 = core.validate(d2, **out2, skew_thresholds={"x": 0.99})
    assert result2.passed, result2.reasons
    assert {s.feature: s for s in result2.skew}["x"].value == pytest.approx(distances["x"].value)


def test_eval_with_new_value_or_missing_column_fails_naming_the_feature(make_dataset, tmp_path, outputs):
    train = {"color": ["red", "blue"] * 50, "size": [float(i) for i in range(100)],
             "label": [0, 1] * 50}
    evaluation = {"color": ["red", "green"] * 50, "label": [0, 1] * 50}   # no "size"
    d = make_dataset({"train": train, "eval": evaluation}, label_column="label")
    result = core.validate(d, **outputs(tmp_path))
    assert not result.passed
    assert result.anomalies["train"] == []
    reasons = "\n".join(result.anomalies["eval"])
    assert "'color'" in reasons and "green" in reasons
    assert "'size'" in reasons and "missing" in reasons.lower()
    assert result.metrics()["anomaly_count"] == 2
    size = {s.feature: s for s in result.skew}["size"]
    assert size.value is None and "missing" in size.note and not size.exceeded


def test_serving_data_without_label_is_valid_in_serving_environment(make_dataset, tmp_path, outputs):
    import tensorflow_data_validation as tfdv
    from kfp_mlops.components._shared import statistics as tfdv_stats

    train = {"color": ["red", "blue"] * 50, "label": ["y", "n"] * 50}
    d = make_dataset({"train": train}, label_column="label")
    out = outputs(tmp_path)
    result = core.validate(d, **out)
    assert result.passed and result.skew == []
    schema = tfdv.load_schema_text(os.path.join(out["schema_dir"], "schema.pbtxt"))
    import pyarrow as pa
    serving = tfdv_stats.statistics_from_batches(
        [pa.record_batch([pa.array(["red", "blue", "red"])], names=["color"])], "serving")
    assert not tfdv.validate_statistics(serving, schema, environment="SERVING").anomaly_info
    training = tfdv.validate_statistics(serving, schema, environment="TRAINING")
    assert "label" in training.anomaly_info


def test_curated_schema_is_used(make_dataset, tmp_path, outputs):
    from google.protobuf import text_format
    import tensorflow_data_validation as tfdv

    train = {"color": ["red", "blue"] * 50, "label": ["y", "n"] * 50}
    d = make_dataset({"train": train, "eval": train}, label_column="label")
    curated = tmp_path / "curated" / "schema.pbtxt"
    curated.parent.mkdir()
    curated.write_text("""
        feature { name: "color" type: BYTES domain: "color" presence { min_count: 1 } }
        feature { name: "label" type: BYTES presence { min_count: 1 } }
        string_domain { name: "color" value: "red" }
    """)
    out = outputs(tmp_path)
    result = core.validate(d, **out, schema_path=str(curated.parent))   # a folder works too
    assert result.schema_source == str(curated)
    assert not result.passed
    assert any("'color'" in r and "blue" in r for r in result.anomalies["train"])
    written = tfdv.load_schema_text(os.path.join(out["schema_dir"], "schema.pbtxt"))
    assert list(written.string_domain[0].value) == ["red"]
    assert set(written.default_environment) == {"TRAINING", "SERVING"}
    assert list({f.name: f for f in written.feature}["label"].not_in_environment) == ["SERVING"]
    assert text_format.MessageToString(written).count("skew_comparator") == 2


def _no_outputs(tmp_path, out):
    for path in out.values():
        assert not os.path.exists(path), path
    if os.path.exists(tmp_path):
        leftovers = [p for p in os.listdir(tmp_path) if "partial" in p or p.startswith(".")]
        assert not leftovers


def test_failure_midway_leaves_no_output(make_dataset, tmp_path, outputs, monkeypatch):
    from kfp_mlops.components._shared import statistics as tfdv_stats

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tfdv_stats, "feature_distances", broken)
    d = make_dataset({"train": {"color": ["red", "blue"]}, "eval": {"color": ["red", "blue"]}})
    out = outputs(tmp_path / "out")
    with pytest.raises(RuntimeError, match="boom"):
        core.validate(d, **out)
    assert os.path.isdir(tmp_path / "out")   # statistics were being written there
    _no_outputs(tmp_path / "out", out)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"label_column": "tips"}, ValueError, ["'tips'", "columns are", "color"]),
    ({"schema_path": "/nonexistent/schema.pbtxt"}, FileNotFoundError,
     ["/nonexistent/schema.pbtxt", "does not exist"]),
    ({"skew_thresholds": {"colour": 0.1}}, ValueError, ["colour", "color"]),
    ({"skew_threshold": -1.0}, ValueError, ["skew_threshold", ">= 0"]),
])
def test_bad_inputs_name_the_input_and_leave_nothing(make_dataset, tmp_path, outputs, kwargs, error,
                                                     words):
    d = make_dataset({"train": {"color": ["red", "blue"], "label": [0, 1]}},
                     label_column="label")
    out = outputs(tmp_path / "out")
    with pytest.raises(error) as info:
        core.validate(d, **out, **kwargs)
    for word in words:
        assert word in str(info.value)
    _no_outputs(tmp_path / "out", out)


def test_dataset_label_that_is_gone_and_dir_without_dataset_json(make_dataset, tmp_path, outputs):
    from kfp_mlops.components._shared import dataset as ds

    d = make_dataset({"train": {"color": ["red"]}}, label_column="label")
    out = outputs(tmp_path / "out")
    with pytest.raises(ValueError, match="dataset.json's label_column 'label'"):
        core.validate(d, **out)
    os.remove(os.path.join(d, "dataset.json"))
    with pytest.raises(ds.DatasetError, match="dataset.json is missing"):
        core.validate(d, **out)
    _no_outputs(tmp_path / "out", out)


def test_beam_path_equals_in_process_path(make_dataset, tmp_path, outputs):
    import tensorflow_data_validation as tfdv

    rng = np.random.default_rng(3)
    n = 300
    split = lambda m: {"x": [None if i % 17 == 0 else float(v)
                             for i, v in enumerate(rng.normal(m, 1, n))],
                       "k": [int(v) for v in rng.integers(0, 4, n)],
                       "flag": [bool(v) for v in rng.random(n) < 0.3],
                       "s": list(rng.choice(["a", "b", "c"], n))}
    d = make_dataset({"train": split(0), "eval": split(0.2)}, label_column="s")
    local, beam = outputs(tmp_path, "local-"), outputs(tmp_path, "beam-")
    r1 = core.validate(d, **local)
    r2 = core.validate(d, **beam, beam_pipeline_args=["--runner=DirectRunner"])
    assert r2.statistics_backend == "beam"
    for s in ("train", "eval"):
        a = tfdv.load_stats_binary(os.path.join(local["statistics_dir"], f"Split-{s}",
                                                "FeatureStats.pb"))
        b = tfdv.load_stats_binary(os.path.join(beam["statistics_dir"], f"Split-{s}",
                                                "FeatureStats.pb"))
        assert b.datasets[0].name == s
        assert_same_statistics(b, a)
    assert [(x.feature, x.metric) for x in r1.skew] == [(x.feature, x.metric) for x in r2.skew]
    for x, y in zip(r1.skew, r2.skew):
        assert x.value == pytest.approx(y.value, abs=0.02)
    assert r1.passed == r2.passed
    assert sorted(os.listdir(beam["statistics_dir"])) == ["Split-eval", "Split-train"]


def test_dates_and_timestamps_are_integer_features_with_a_time_domain(make_dataset, tmp_path,
                                                                       outputs):
    """A date column is an INT of days since 1970-01-01, a timestamp one an INT of seconds
    (a zone's instant in UTC), with the schema's time_domain; skew is measured on them."""
    import datetime

    import pyarrow as pa
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kfp_mlops.components._shared import statistics as tfdv_stats

    utc = datetime.timezone.utc
    days = [datetime.date(1970, 1, 1), datetime.date(2020, 2, 29), None,
            datetime.date(1969, 12, 31)]
    stamps = [datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=utc),
              datetime.datetime(2021, 6, 5, 10, 0, tzinfo=datetime.timezone(
                  datetime.timedelta(hours=2))), None,
              datetime.datetime(2000, 1, 1, tzinfo=utc)]
    columns = {"day": days * 25, "stamp": stamps * 25, "y": [1.0, 2.0, 3.0, 4.0] * 25}
    d = make_dataset({"train": columns, "eval": columns}, label_column="y",
                     types={"stamp": pa.timestamp("ms", "UTC")})
    out = outputs(tmp_path)
    result = core.validate(d, **out)
    assert result.passed, result.reasons

    stats = tfdv_stats.load_statistics(os.path.join(
        tfdv_stats.split_dir(out["statistics_dir"], "train"), tfdv_stats.STATS_FILE))
    features = {".".join(f.path.step): f for f in stats.datasets[0].features}
    day, stamp = features["day"], features["stamp"]
    assert day.type == stamp.type == 0  # INT
    assert (day.num_stats.min, day.num_stats.max) == (-1, 18321)  # 2020-02-29
    assert day.num_stats.common_stats.num_missing == 25
    assert (stamp.num_stats.min, stamp.num_stats.max) == (1, 1622880000)  # 08:00 UTC
    assert stamp.num_stats.common_stats.num_non_missing == 75

    with open(os.path.join(out["schema_dir"], core.SCHEMA_FILE)) as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    by_name = {f.name: f for f in schema.feature}
    assert by_name["day"].type == by_name["stamp"].type == schema_pb2.INT
    assert by_name["day"].time_domain.integer_format == schema_pb2.TimeDomain.UNIX_DAYS
    assert by_name["stamp"].time_domain.integer_format == schema_pb2.TimeDomain.UNIX_SECONDS
    assert {s.feature: s.value for s in result.skew}["day"] == pytest.approx(0.0)
