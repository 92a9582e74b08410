"""Test helpers shared by the component tests: schemas as validate writes them, tiny models."""
import json
import os


def write_schema(dataset_dir: str, label: str, out_dir: str, categorical_ints=(),
                 skip=()) -> str:
    """Writes ``<out_dir>/schema.pbtxt`` the way TFDV infers it from the dataset's columns:
    strings BYTES, integers INT, floats FLOAT; the label kept out of SERVING."""
    import pyarrow as pa
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kfp_mlops.components._shared import dataset as ds

    schema = schema_pb2.Schema()
    schema.default_environment.extend(["TRAINING", "SERVING"])
    for field in ds.arrow_schema(dataset_dir):
        if field.name in skip:
            continue
        feature = schema.feature.add()
        feature.name = field.name
        if pa.types.is_string(field.type):
            feature.type = schema_pb2.BYTES
        elif pa.types.is_integer(field.type):
            feature.type = schema_pb2.INT
            if field.name in categorical_ints:
                feature.int_domain.is_categorical = True
        else:
            feature.type = schema_pb2.FLOAT
        if field.name == label:
            feature.not_in_environment.append("SERVING")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(schema))
    return out_dir


def save_tiny_model(path: str, model_info=None) -> str:
    """A real (tiny) TF SavedModel, y = w * x; with ``model_info`` also the kfp-mlops model
    info train writes beside it (``assets.extra/kfp_mlops_model.json``)."""
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([2.0])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return x * self.w

    tf.saved_model.save(Tiny(), path)
    if model_info is not None:
        os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
        with open(os.path.join(path, "assets.extra", "kfp_mlops_model.json"), "w") as f:
            json.dump(model_info, f)
    return path


def seasonal_csv(path, rows=4000, seed=0, first_year=2015):
    """A CSV of rows over six years from ``first_year``: ``y`` follows the day of the year
    (and a weekend bump) plus two ordinary features ``x``, ``shop`` and noise; ``day`` is an
    ISO date (every 97th missing), ``at`` an ISO UTC timestamp whose hour moves ``y`` a
    little."""
    import datetime
    import math

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = datetime.date(first_year, 1, 1)
    offsets = rng.integers(0, 6 * 365, rows)
    day = pd.to_datetime([start + datetime.timedelta(days=int(o)) for o in offsets])
    hour = rng.integers(0, 24, rows)
    x = rng.normal(0, 1, rows)
    shop = rng.choice(["a", "b", "c"], rows)
    season = 6.0 * np.sin(2 * math.pi * (day.dayofyear.to_numpy() - 80) / 365.25)
    weekend = 2.0 * (day.dayofweek.to_numpy() >= 5)
    y = (20 + season + weekend + 1.5 * x + np.where(shop == "b", 2.0, 0.0)
         + 0.5 * np.cos(2 * math.pi * hour / 24) + rng.normal(0, 1.0, rows))
    frame = pd.DataFrame({
        "day": day.strftime("%Y-%m-%d"),
        "at": (day + pd.to_timedelta(hour, unit="h")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x": x.round(4), "shop": shop, "y": y.round(4)})
    frame.loc[::97, "day"] = ""  # a few missing dates
    frame.to_csv(path, index=False)
    return str(path)
