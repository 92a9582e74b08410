"""ID-like columns on real TFDV statistics: recognised, kept out of the schema's model features
with a reason, shown in the report; keep_columns / drop_columns; bad names refused early."""
import os

import numpy as np
import pytest

from kfp_mlops.components.validate import columns, core


def _columns(rows: int, rng, start: int = 0):
    ids = np.arange(start, start + rows)
    return {
        "name": [f"customer {i:05d} {rng.choice(['ann', 'bob', 'eve'])}" for i in ids],
        "row_id": [int(i) for i in ids],
        "color": [str(rng.choice(["red", "green", "blue"])) for _ in ids],
        # high-cardinality, but every value repeats: 40 values over the rows
        "shop": [f"shop-{int(v):02d}" for v in rng.integers(0, 40, rows)],
        # unique per row, but spread over a range far wider than the rows: a real amount
        "amount_cents": [int(v) for v in rng.choice(10_000_000, rows, replace=False)],
        # dense integers that repeat: an age, a year
        "age": [int(v) for v in rng.integers(18, 90, rows)],
        "x": [float(v) for v in rng.normal(size=rows)],
        "label": [str(rng.choice(["a", "b"])) for _ in ids],
    }


@pytest.fixture(scope="module")
def id_dataset(tmp_path_factory):
    from tests.components.validate.conftest import write_dataset

    rng = np.random.default_rng(7)
    everything = _columns(500, rng)
    order = rng.permutation(500)   # the split takes rows in any order: ids are not sorted
    train, eval_ = order[:400], order[400:]
    pick = lambda idx: {k: [v[i] for i in sorted(idx)] for k, v in everything.items()}  # noqa
    return write_dataset(str(tmp_path_factory.mktemp("ids") / "dataset"),
                         {"train": pick(train), "eval": pick(eval_)}, "label")


@pytest.fixture(scope="module")
def id_result(id_dataset, tmp_path_factory, outputs):
    out = outputs(tmp_path_factory.mktemp("ids_validate"))
    return core.validate(id_dataset, **out), out


def _schema(out):
    import tensorflow_data_validation as tfdv

    return {f.name: f for f in tfdv.load_schema_text(
        os.path.join(out["schema_dir"], "schema.pbtxt")).feature}


def test_a_unique_name_and_a_row_number_are_kept_out_with_their_reasons(id_result):
    from tensorflow_metadata.proto.v0 import schema_pb2

    result, out = id_result
    assert result.passed, result.reasons
    assert sorted(result.kept_out) == ["name", "row_id"]
    assert result.kept_out["name"].startswith("ID-like: 400 distinct values in 400 train rows")
    assert "keep_columns keeps it" in result.kept_out["name"]
    assert result.kept_out["row_id"].startswith("ID-like: 400 train rows hold 400 different "
                                                "integers, filling 80% of the range 0..499")
    schema = _schema(out)
    for name in ("name", "row_id"):
        assert schema[name].lifecycle_stage == schema_pb2.DISABLED
        assert schema[name].annotation.comment == [
            f"kfp-mlops:kept-out: {result.kept_out[name]}"]
    # a few values, repeating high-cardinality strings, unique-but-sparse and dense-repeating
    # integers, floats and the label stay
    for name in ("color", "shop", "amount_cents", "age", "x", "label"):
        assert schema[name].lifecycle_stage == schema_pb2.UNKNOWN_STAGE, name
        assert not schema[name].HasField("annotation"), name
    assert result.metadata()["kept_out_features"] == result.kept_out
    # the kept-out features are not compared for skew (TFDV does not measure them)
    assert {d.feature for d in result.skew} == {"color", "shop", "amount_cents", "age", "x",
                                               "label"}


def test_the_report_shows_the_columns_kept_out_and_why(id_result):
    result, out = id_result
    with open(out["report_path"]) as f:
        html = f.read()
    block = html[html.index("Columns kept out of the model"):html.index("<h2>Splits")]
    assert "<b>name</b>" in block and "<b>row_id</b>" in block
    assert "ID-like: 400 distinct values in 400 train rows" in block
    assert "kept-in" not in block


def test_the_train_component_reads_the_decision_from_the_schema(id_result):
    """train's feature selection: the kept-out columns are no features, each with its reason."""
    import tensorflow_data_validation as tfdv

    from kfp_mlops.components.train import core as train

    result, out = id_result
    schema = tfdv.load_schema_text(os.path.join(out["schema_dir"], "schema.pbtxt"))
    names = [f.name for f in train.schema_features(schema, "label")]
    assert names == ["color", "shop", "amount_cents", "age", "x"]
    assert train._kept_out(schema, "label", ["shop"]) == {
        **result.kept_out, "shop": "the dataset's key_column: it decides each row's split"}


def test_keep_and_drop_columns_are_honoured(id_dataset, tmp_path, outputs):
    from tensorflow_metadata.proto.v0 import schema_pb2

    out = outputs(tmp_path)
    result = core.validate(id_dataset, **out, keep_columns=["name"], drop_columns=["color"])
    assert sorted(result.kept_out) == ["color", "row_id"]
    assert result.kept_out["color"] == "drop_columns names it"
    assert list(result.kept_in) == ["name"]
    assert result.kept_in["name"].startswith("keep_columns keeps it (ID-like: 400 distinct")
    schema = _schema(out)
    assert schema["name"].lifecycle_stage == schema_pb2.PRODUCTION
    assert schema["color"].lifecycle_stage == schema_pb2.DISABLED
    with open(out["report_path"]) as f:
        html = f.read()
    assert "Kept in the model by keep_columns" in html and "drop_columns names it" in html


def test_a_curated_schema_keeps_its_own_stages_and_keep_columns_overrides_them(
        id_dataset, id_result, tmp_path, outputs):
    """validate's schema used again as a curated one: the marks stay; a stage set by a
    person is not judged again; keep_columns still wins."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    _, first = id_result
    curated = tmp_path / "curated.pbtxt"
    schema = schema_pb2.Schema()
    with open(os.path.join(first["schema_dir"], "schema.pbtxt")) as f:
        text_format.Parse(f.read(), schema)
    next(f for f in schema.feature if f.name == "x").lifecycle_stage = schema_pb2.DEPRECATED
    curated.write_text(text_format.MessageToString(schema))

    again = core.validate(id_dataset, **outputs(tmp_path, "a"), schema_path=str(curated))
    assert sorted(again.kept_out) == ["name", "row_id", "x"]
    assert again.kept_out["x"] == "the schema's lifecycle_stage DEPRECATED"
    assert again.kept_out["name"].startswith("ID-like: 400 distinct")

    kept = core.validate(id_dataset, **outputs(tmp_path, "b"), schema_path=str(curated),
                         keep_columns=["x", "row_id"])
    assert sorted(kept.kept_out) == ["name"]
    assert kept.kept_in["x"] == "keep_columns keeps it (the schema's lifecycle_stage DEPRECATED)"


@pytest.mark.parametrize("kwargs, message", [
    ({"keep_columns": ["nmae"]},
     "keep_columns names ['nmae'], which are not columns of dataset"),
    ({"drop_columns": ["x", "colour"]},
     "drop_columns names ['colour'], which are not columns of dataset"),
    ({"drop_columns": ["label"]}, "drop_columns names the label 'label'; the label is never "
                                  "dropped"),
    ({"keep_columns": ["x"], "drop_columns": ["x"]},
     "keep_columns and drop_columns both name ['x']"),
    ({"keep_columns": "x"}, "keep_columns='x': expected a list of column names"),
])
def test_bad_column_names_are_refused_before_anything_is_written(id_dataset, tmp_path, outputs,
                                                                kwargs, message):
    out = outputs(tmp_path)
    with pytest.raises(ValueError) as e:
        core.validate(id_dataset, **out, **kwargs)
    assert message in str(e.value)
    if "not columns" in message:
        assert "columns are: ['name', 'row_id', 'color', 'shop'" in str(e.value)
    assert not any(os.path.exists(p) for p in out.values())


def test_thresholds_at_their_edges():
    """The rule's numbers: MIN_ROWS values, MIN_DISTINCT_RATIO distinct, MIN_INTEGER_DENSITY."""
    from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

    def stats(**features):
        s = statistics_pb2.DatasetFeatureStatisticsList()
        d = s.datasets.add(num_examples=1000)
        for name, (kind, n, a, b) in features.items():
            f = d.features.add()
            f.path.step.append(name)
            if kind == "s":
                f.type = statistics_pb2.FeatureNameStatistics.STRING
                f.string_stats.common_stats.num_non_missing = n
                f.string_stats.unique = a
            else:
                f.type = statistics_pb2.FeatureNameStatistics.INT
                f.num_stats.common_stats.num_non_missing = n
                f.num_stats.min, f.num_stats.max = a, b
        return s

    schema = schema_pb2.Schema()
    for name in ("s90", "s89", "s_few", "label"):
        schema.feature.add(name=name, type=schema_pb2.BYTES)
    for name in ("i50", "i49", "i_few", "i_sparse", "day"):
        schema.feature.add(name=name, type=schema_pb2.INT)
    # a daily series: one row a day is unique and dense, and is a date, not an id
    schema.feature[-1].time_domain.integer_format = schema_pb2.TimeDomain.UNIX_DAYS
    train = stats(s90=("s", 100, 90, 0), s89=("s", 100, 89, 0), s_few=("s", 49, 49, 0),
                  label=("s", 100, 100, 0),
                  i50=("i", 100, 1, 200), i49=("i", 98, 1, 200), i_few=("i", 49, 1, 49),
                  i_sparse=("i", 100, 0, 10**6), day=("i", 100, 19000, 19099))
    assert list(columns.integer_candidates(train, schema, "label")) == ["i50"]
    found = columns.id_like(train, schema, "label", {"i50": (1, 200, 100)})
    assert sorted(found) == ["i50", "s90"]
    assert "filling 50% of the range 1..200" in found["i50"]
