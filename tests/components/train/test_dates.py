"""Dates and timestamps as features of the built-in model, with real ingest, validate and
TensorFlow: the calendar parts derived inside the SavedModel, the raw value served, and a
seasonal signal the model finds only through the date."""
import datetime
import os

import numpy as np
import pandas as pd
import pytest

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import model_io
from kfp_mlops.components.train import core
from tests.components.schemas import seasonal_csv


def test_civil_from_days_matches_the_calendar():
    import tensorflow as tf

    first, last = datetime.date(1600, 1, 1), datetime.date(2400, 12, 31)
    dates = [first + datetime.timedelta(days=int(d))
             for d in np.linspace(0, (last - first).days, 5000).astype(int)]
    dates += [datetime.date(1970, 1, 1), datetime.date(1969, 12, 31), datetime.date(2000, 2, 29),
              datetime.date(2100, 3, 1), datetime.date(2024, 12, 31)]
    epoch = datetime.date(1970, 1, 1)
    days = tf.constant([(d - epoch).days for d in dates], tf.int64)
    year, month, day, doy, weekday = (t.numpy().tolist() for t in core.civil_from_days(days))
    assert year == [d.year for d in dates]
    assert month == [d.month for d in dates]
    assert day == [d.day for d in dates]
    assert doy == [d.timetuple().tm_yday for d in dates]
    assert weekday == [d.weekday() for d in dates]


def test_schema_time_domains_are_date_and_timestamp_kinds():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse("""
        feature { name: "y" type: FLOAT not_in_environment: "SERVING" }
        feature { name: "day" type: INT time_domain { integer_format: UNIX_DAYS } }
        feature { name: "at" type: INT time_domain { integer_format: UNIX_SECONDS } }
        feature { name: "n" type: INT }
    """, schema_pb2.Schema())
    kinds = {f.name: f.kind for f in core.schema_features(schema, "y")}
    assert kinds == {"day": "date", "at": "timestamp", "n": "numeric"}


@pytest.fixture(scope="module")
def seasonal(tmp_path_factory):
    """The seasonal CSV ingested (``day`` a date32 column, ``at`` a UTC timestamp) and
    validated: (dataset dir, schema dir, validation result)."""
    from kfp_mlops.components.ingest import core as ingest
    from kfp_mlops.components.validate import core as validate

    root = tmp_path_factory.mktemp("seasonal")
    dataset = str(root / "dataset")
    ingest.ingest(seasonal_csv(root / "sales.csv"), dataset, label_column="y")
    out = {"statistics_dir": str(root / "statistics"), "schema_dir": str(root / "schema"),
           "anomalies_dir": str(root / "anomalies"),
           "report_path": str(root / "report" / "report.html")}
    result = validate.validate(dataset, **out)
    return dataset, out["schema_dir"], result


def _without(schema_dir, names, out_dir):
    """The schema without features ``names``: the same model without those columns."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kfp_mlops.components._shared.schema import SCHEMA_FILE, read_schema

    schema = read_schema(schema_dir)
    kept = [f for f in schema.feature if f.name not in names]
    del schema.feature[:]
    schema.feature.extend(kept)
    os.makedirs(out_dir)
    with open(os.path.join(out_dir, SCHEMA_FILE), "w") as f:
        f.write(text_format.MessageToString(schema))
    assert isinstance(schema, schema_pb2.Schema)
    return out_dir


def _test_rmse(model_dir, dataset):
    frame = ds.read_pandas(dataset, "test")
    pred = model_io.load(model_dir).predict(frame)["predictions"]
    return float(np.sqrt(np.mean((pred - frame["y"].to_numpy()) ** 2)))


@pytest.mark.slow
def test_the_date_carries_the_season_and_the_model_uses_it(seasonal, tmp_path):
    dataset, schema_dir, validation = seasonal
    assert validation.passed, validation.reasons
    arrow = ds.arrow_schema(dataset)
    assert str(arrow.field("day").type) == "date32[day]"
    assert str(arrow.field("at").type).startswith("timestamp[") and arrow.field("at").type.tz
    settings = dict(label_column="y", epochs=40, seed=7, hidden_units=(32, 16))
    with_dates = core.train(dataset, schema_dir, str(tmp_path / "with"), "", **settings)
    without = core.train(dataset, _without(schema_dir, {"day", "at"}, str(tmp_path / "s")),
                         str(tmp_path / "without"), "", **settings)
    assert {f.name: f.kind for f in with_dates.features} == {
        "day": "date", "at": "timestamp", "x": "numeric", "shop": "categorical"}
    assert {f.name for f in without.features} == {"x", "shop"}
    rmse_with = _test_rmse(with_dates.model_dir, dataset)
    rmse_without = _test_rmse(without.model_dir, dataset)
    print(f"held-out RMSE with the dates {rmse_with:.3f}, without {rmse_without:.3f}")
    # measured: with 1.16, without 4.48 (noise sd 1.0, season amplitude 6)
    assert rmse_with < 0.5 * rmse_without, (rmse_with, rmse_without)
    assert rmse_with < 2.0

    meta = model_io.read_metadata(with_dates.model_dir)
    assert meta["preprocessing"]["day"]["encoding"] == "date"
    assert meta["preprocessing"]["at"]["derived"][-3:] == list(core.TIME_PARTS)
    assert 2016 < meta["preprocessing"]["day"]["year_mean"] < 2019


@pytest.mark.slow
def test_the_serving_signature_takes_the_raw_date_and_timestamp(seasonal, tmp_path):
    import tensorflow as tf

    dataset, schema_dir, _ = seasonal
    result = core.train(dataset, schema_dir, str(tmp_path / "m"), "", label_column="y",
                        epochs=2, hidden_units=(8,))
    serving = model_io.load(result.model_dir)
    assert serving.dtypes["day"] == serving.dtypes["at"] == tf.float64
    assert serving.features["day"] == "date" and serving.features["at"] == "timestamp"

    # the raw signature: days / seconds since the epoch as float64, NaN = missing
    signature = tf.saved_model.load(result.model_dir).signatures[model_io.SIGNATURE_KEY]
    day = (datetime.date(2019, 7, 1) - datetime.date(1970, 1, 1)).days
    feed = {"day": tf.constant([day, day, float("nan")], tf.float64),
            "at": tf.constant([day * 86400.0 + 3600, float("nan"), day * 86400.0], tf.float64),
            "x": tf.constant([0.0, 0.0, 0.0]), "shop": tf.constant(["a", "a", ""])}
    raw = signature(**feed)["predictions"].numpy()
    assert raw.shape == (3,) and np.all(np.isfinite(raw))

    # the same rows as a table of dates / datetimes / ISO strings give the same predictions
    tables = [pd.DataFrame({"day": [datetime.date(2019, 7, 1)] * 2 + [None],
                            "at": [datetime.datetime(2019, 7, 1, 1), None,
                                   datetime.datetime(2019, 7, 1)],
                            "x": [0.0] * 3, "shop": ["a", "a", None]}),
              pd.DataFrame({"day": ["2019-07-01", "2019-07-01", ""],
                            "at": ["2019-07-01T03:00:00+02:00", "", "2019-07-01 00:00:00"],
                            "x": [0.0] * 3, "shop": ["a", "a", ""]})]
    for table in tables:
        np.testing.assert_allclose(serving.predict(table)["predictions"], raw, rtol=1e-6)
