"""Train: fit a TensorFlow model on a dataset artifact and export it as a SavedModel.

Two ways to get a model:

* the built-in tabular model, derived from the TFDV schema: numeric features standardised
  with train-split statistics (missing values imputed with the mean, plus a missing
  indicator), categorical features looked up in a train-split vocabulary (index 0 for
  missing, 1 for out-of-vocabulary) and one-hot encoded (small vocabularies) or embedded;
  date and timestamp features (days / seconds since the epoch, see ``_shared.model_io``)
  turned into what a data scientist would derive: the year (standardised), month and day
  of week (one-hot), day of year, sin/cos encodings of month, day of year and day of week
  (and the hour of day for timestamps), plus a missing indicator (:data:`DATE_PARTS`);
  then dense ReLU layers (``hidden_units``), optional dropout, and a softmax (classification)
  or linear (regression, on the standardised label) output;
* the user's own code: ``trainer_module`` names a module with
  ``run_fn(args: TrainerArgs) -> Optional[dict]`` (as TFX's Trainer), which must write a
  SavedModel following the serving contract of ``_shared.model_io`` to ``args.model_dir``.

Either way the preprocessing is inside the exported model: its ``serving_default``
signature takes raw features (see ``_shared.model_io``), and ``train`` checks the exported
model by scoring the train and eval splits through that signature; the training metrics
come from that check.

Imports here are stdlib only; TensorFlow, numpy, pandas and the tensorflow_metadata protos
are imported inside functions. Neither TFDV nor Beam is imported: TensorFlow's autograph
scans every loaded module when it converts a function, and those make it crawl.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import math
import os
import sys
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import model_io
from kfp_mlops.components._shared.model_io import (CATEGORICAL, CLASSIFICATION, DATE, NUMERIC,
                                                   REGRESSION, TIME_KINDS, TIMESTAMP)
from kfp_mlops.components._shared.schema import (SERVING, SchemaError, is_kept_out,
                                                 kept_out_reason, read_schema)
from kfp_mlops.components.train import data as train_data
from kfp_mlops.components.train import distributed

logger = logging.getLogger(__name__)

RUN_FN = "run_fn"
#: An integer label with at most this many distinct values is taken as classes.
MAX_INFERRED_CLASSES = 20
#: Categorical features with at most this many indices (vocabulary + missing + OOV) are
#: one-hot encoded; larger ones are embedded.
MAX_ONE_HOT = 32
#: Vocabulary entries kept per categorical feature (most frequent first).
MAX_VOCABULARY = 10_000


class TrainError(ValueError):
    """Training cannot run on these inputs; the message names the input and what was expected."""


class TrainerModuleError(TrainError):
    """The user's trainer module cannot be loaded, or did not write a usable model."""


@dataclasses.dataclass(frozen=True)
class Feature:
    """A model input: its column name, kind (numeric / categorical) and schema type."""
    name: str
    kind: str
    schema_type: str

    def to_dict(self) -> Dict[str, str]:
        return {"name": self.name, "kind": self.kind, "schema_type": self.schema_type,
                "input": model_io.input_key(self.name)}


# --- schema -----------------------------------------------------------------------------

def schema_features(schema, label: str, exclude: Sequence[str] = ()) -> List[Feature]:
    """The model's features from the schema: every feature but the label, ``exclude`` and
    those kept out of serving (``not_in_environment: "SERVING"``) or of models (deprecated,
    or a lifecycle stage such as DISABLED: ``_shared.schema.is_kept_out``, validate's mark
    of an ID-like column).

    BYTES -> categorical; INT with ``int_domain.is_categorical`` or a ``bool_domain`` ->
    categorical; INT with ``time_domain { integer_format: UNIX_DAYS }`` -> date,
    ``UNIX_SECONDS`` -> timestamp (how validate describes date and timestamp columns);
    other INT and FLOAT -> numeric. STRUCT features are skipped.
    """
    from tensorflow_metadata.proto.v0 import schema_pb2

    features = []
    for f in schema.feature:
        if f.name == label or f.name in exclude:
            continue
        if is_kept_out(f):
            logger.info("feature %r is not used: %s", f.name, kept_out_reason(f))
            continue
        if SERVING in f.not_in_environment:
            logger.info("feature %r is not used: kept out of serving by the schema", f.name)
            continue
        type_name = schema_pb2.FeatureType.Name(f.type)
        if f.type == schema_pb2.BYTES:
            kind = CATEGORICAL
        elif f.type == schema_pb2.INT:
            categorical = (f.WhichOneof("domain_info") == "bool_domain"
                           or (f.HasField("int_domain") and f.int_domain.is_categorical))
            time_kind = {schema_pb2.TimeDomain.UNIX_DAYS: DATE,
                         schema_pb2.TimeDomain.UNIX_SECONDS: TIMESTAMP}.get(
                f.time_domain.integer_format) if f.HasField("time_domain") else None
            kind = CATEGORICAL if categorical else time_kind or NUMERIC
        elif f.type == schema_pb2.FLOAT:
            kind = NUMERIC
        else:
            logger.warning("feature %r of type %s is not used by the built-in model",
                           f.name, type_name)
            continue
        features.append(Feature(f.name, kind, type_name))
    if not features:
        raise TrainError(f"the schema has no usable feature besides the label {label!r}")
    return features


def infer_task(labels, arrow_type=None) -> str:
    """``classification`` for string / bool labels or integers with few distinct values,
    ``regression`` for floats and many-valued integers."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if arrow_type is not None:
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or \
                pa.types.is_boolean(arrow_type) or pa.types.is_dictionary(arrow_type) or \
                pa.types.is_binary(arrow_type):
            return CLASSIFICATION
        if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
            return REGRESSION
    values = pd.Series(labels).dropna()
    if values.dtype == object or values.dtype == bool:
        return CLASSIFICATION
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.mod(values, 1) == 0):
        return REGRESSION
    return CLASSIFICATION if values.nunique() <= MAX_INFERRED_CLASSES else REGRESSION


# --- what a trainer gets ------------------------------------------------------------------

@dataclasses.dataclass
class TrainerArgs:
    """Everything a ``run_fn`` needs. A user module's ``run_fn(args)`` receives one.

    Attributes:
      dataset_dir: the dataset artifact directory (``{train,eval,test}/data.parquet``).
      train_path / eval_path: the Parquet files of the train and eval splits.
      schema: the ``tensorflow_metadata`` ``Schema`` proto; schema_path: its file.
      label: the label column; task: ``"classification"`` or ``"regression"``.
      label_vocabulary: classification only: the label values (as strings, see
        ``model_io.category_strings``) in the order of the ``probabilities`` columns.
      features: the model inputs (name, kind, schema type) the serving signature must take.
      hyperparameters: epochs, batch_size, learning_rate, hidden_units,
        early_stopping_patience, dropout.
      seed: the random seed (already applied with ``keras.utils.set_random_seed``).
      model_dir: where to write the SavedModel (``saved_model.pb`` at its root).
      tensorboard_dir: where to write TensorBoard logs (optional).
    """
    dataset_dir: str
    train_path: str
    eval_path: str
    schema_path: str
    schema: Any
    label: str
    task: str
    label_vocabulary: List[str]
    features: List[Feature]
    hyperparameters: Dict[str, Any]
    seed: int
    model_dir: str
    tensorboard_dir: str

    @property
    def feature_kinds(self) -> Dict[str, str]:
        return {f.name: f.kind for f in self.features}

    def read_pandas(self, split: str = "train"):
        """One split as a DataFrame (feature columns and the label).

        This loads the whole split into memory; on large data use :meth:`make_dataset`
        (a streamed ``tf.data.Dataset``) or :meth:`batches` (numpy, one record batch at a
        time), which the built-in model trains from.
        """
        columns = [f.name for f in self.features] + [self.label]
        return ds.read_pandas(self.dataset_dir, split, columns)

    def raw_inputs(self, data) -> Dict[str, Any]:
        """Feature columns of a DataFrame / Arrow batch as the serving signature's inputs."""
        return model_io.raw_inputs(data, self.feature_kinds)

    def label_values(self, data):
        """The label column as class ids (classification; -1: missing or unknown) or floats."""
        import pandas as pd

        frame = data if isinstance(data, pd.DataFrame) else data.to_pandas()
        return encode_labels(frame[self.label], self.task, self.label_vocabulary)

    def input_signature(self) -> Dict[str, Any]:
        """``{feature: tf.TensorSpec([None], float32 | string | float64)}`` for the serving
        function (float64: dates and timestamps, see ``model_io.input_dtype``)."""
        return model_io.tensor_specs(self.feature_kinds)

    def batches(self, split: str = "train"):
        """Yields ``(raw inputs, labels)`` numpy batches of one split, one Parquet record
        batch at a time (rows without a known label dropped): the whole split is never in
        memory."""
        return train_data.labelled_batches(self.dataset_dir, split, self.feature_kinds,
                                           self.label, self.task, self.label_vocabulary)

    def make_dataset(self, split: str = "train", batch_size: int = 32, shuffle: bool = False,
                     rows: Optional[int] = None):
        """A ``tf.data.Dataset`` of ``(raw feature dict, label)`` batches of ``batch_size``
        rows, streamed from the split's Parquet file (see ``train.data.make_dataset``); rows
        without a (known) label are dropped. ``shuffle``: a new order every pass (epoch),
        through a bounded buffer. Labels: int64 class ids or float32 values. ``rows``: the
        split's labelled rows if known (else counted: one pass over the label column)."""
        return train_data.make_dataset(self.dataset_dir, split, self.feature_kinds, self.label,
                                       self.task, self.label_vocabulary, batch_size,
                                       shuffle=shuffle, seed=self.seed, rows=rows)

    def train_dataset(self, batch_size: Optional[int] = None):
        """The shuffled, streamed train split (:meth:`make_dataset`), at the
        hyperparameters' ``batch_size`` unless given."""
        return self.make_dataset("train", int(batch_size or self.hyperparameters["batch_size"]),
                                 shuffle=True)

    def eval_dataset(self, batch_size: Optional[int] = None):
        """The streamed eval split in file order (:meth:`make_dataset`)."""
        return self.make_dataset("eval", int(batch_size or self.hyperparameters["batch_size"]))


encode_labels = train_data.encode_labels
_missing_label = train_data.missing_label


# --- results ---------------------------------------------------------------------------

@dataclasses.dataclass
class TrainResult:
    model_dir: str
    tensorboard_dir: str
    task: str
    label: str
    label_vocabulary: List[str]
    features: List[Feature]
    trainer: str
    training_rows: int
    eval_rows: int
    epochs_run: int
    metrics: Dict[str, float]
    hyperparameters: Dict[str, Any]
    content_hash: str
    tf_version: str
    seconds: float
    #: column -> why it is not a feature (the schema's decision, the key column).
    kept_out: Dict[str, str] = dataclasses.field(default_factory=dict)
    #: False on a worker of a cluster other than the chief: it wrote no output.
    chief: bool = True

    @property
    def main_metric(self) -> str:
        return "accuracy" if self.task == CLASSIFICATION else "rmse"

    def model_metadata(self) -> Dict[str, Any]:
        """What ``assets.extra/kfp_mlops_model.json`` holds."""
        return {
            "framework": "tensorflow",
            "framework_version": self.tf_version,
            "format": "saved_model",
            "signature": model_io.SIGNATURE_KEY,
            "task": self.task,
            "label": self.label,
            "label_vocabulary": list(self.label_vocabulary),
            "positive_class": (self.label_vocabulary[-1]
                               if self.task == CLASSIFICATION and len(self.label_vocabulary) == 2
                               else None),
            "features": [f.to_dict() for f in self.features],
            "trainer": self.trainer,
            "training_rows": self.training_rows,
            "eval_rows": self.eval_rows,
            "epochs_run": self.epochs_run,
            "hyperparameters": dict(self.hyperparameters),
            "metrics": dict(self.metrics),
            "content_hash": self.content_hash,
            "kept_out_features": dict(self.kept_out),
        }

    def metadata(self) -> Dict[str, Any]:
        """Metadata for the Model artifact."""
        return {
            "framework": "tensorflow",
            "framework_version": self.tf_version,
            "tf_version": self.tf_version,
            "format": "saved_model",
            "task": self.task,
            "label": self.label,
            "label_vocabulary": list(self.label_vocabulary),
            "features": {f.name: f.kind for f in self.features},
            "trainer": self.trainer,
            "training_rows": self.training_rows,
            "content_hash": self.content_hash,
            "kept_out_features": dict(self.kept_out),
        }

    def tensorboard_metadata(self) -> Dict[str, Any]:
        return {"kind": "tensorboard_logs", "tensorboard": True, "format": "tfevents",
                "epochs_run": self.epochs_run}


# --- the built-in model -----------------------------------------------------------------

def _numeric_stats(values) -> Dict[str, float]:
    import numpy as np

    present = values[~np.isnan(values)]
    if present.size == 0:
        return {"mean": 0.0, "std": 1.0}
    mean = float(present.mean())
    std = float(present.std())
    return {"mean": mean, "std": std if std > 1e-12 else 1.0}


def _vocabulary(values) -> List[str]:
    from collections import Counter

    counts = Counter(v for v in values if v != "")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [v for v, _ in ranked[:MAX_VOCABULARY]]


def civil_from_days(days):
    """(year, month 1-12, day 1-31, day of year 1-366, day of week 0=Monday) of int64 days
    since 1970-01-01, in TensorFlow ops (works in a graph, any proleptic Gregorian date).

    Howard Hinnant's ``civil_from_days`` (http://howardhinnant.github.io/date_algorithms.html),
    in floor-division integer arithmetic; 1970-01-01 was a Thursday.
    """
    import tensorflow as tf

    z = days + 719468
    era = tf.math.floordiv(z, 146097)
    doe = z - era * 146097                                         # [0, 146096]
    yoe = tf.math.floordiv(doe - tf.math.floordiv(doe, 1460) + tf.math.floordiv(doe, 36524)
                           - tf.math.floordiv(doe, 146096), 365)   # [0, 399]
    doy_march = doe - (365 * yoe + tf.math.floordiv(yoe, 4) - tf.math.floordiv(yoe, 100))
    mp = tf.math.floordiv(5 * doy_march + 2, 153)                  # March = 0
    day = doy_march - tf.math.floordiv(153 * mp + 2, 5) + 1
    month = tf.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + tf.cast(month <= 2, tf.int64)
    # days since the epoch of January 1st of ``year`` (the same algorithm the other way)
    y = year - 1
    era1 = tf.math.floordiv(y, 400)
    yoe1 = y - era1 * 400
    jan1 = (era1 * 146097 + yoe1 * 365 + tf.math.floordiv(yoe1, 4)
            - tf.math.floordiv(yoe1, 100) + 306 - 719468)
    weekday = tf.math.floormod(days + 3, 7)
    return year, month, day, days - jan1 + 1, weekday


#: What the built-in model derives from a date feature (a timestamp adds the TIME_PARTS).
DATE_PARTS = ("year", "month_one_hot[12]", "day_of_week_one_hot[7]", "day_of_year",
              "month_sin", "month_cos", "day_of_year_sin", "day_of_year_cos",
              "day_of_week_sin", "day_of_week_cos", "missing")
TIME_PARTS = ("hour", "hour_sin", "hour_cos")
_SECONDS_PER_DAY = 86_400


def _time_parts(values, kind: str):
    """(civil parts of :func:`civil_from_days`, fraction of the day, missing) of float64
    days / seconds since the epoch; missing values are read as day 0."""
    import tensorflow as tf

    x = tf.cast(values, tf.float64)
    missing = tf.math.is_nan(x)
    x = tf.where(missing, tf.zeros_like(x), x)
    if kind == TIMESTAMP:
        days = tf.floor(x / _SECONDS_PER_DAY)
        day_fraction = (x - days * _SECONDS_PER_DAY) / _SECONDS_PER_DAY
    else:
        days = tf.floor(x)
        day_fraction = tf.zeros_like(x)
    return civil_from_days(tf.cast(days, tf.int64)), day_fraction, missing


def _build_preprocessor(features: List[Feature], statistics):
    """A ``tf.Module`` mapping raw serving inputs to model inputs, fitted on ``statistics``:
    a ``train.data.FitStatistics`` (streamed from the split), or raw inputs in memory
    (feature -> numpy array), from which those are computed."""
    import tensorflow as tf

    if not isinstance(statistics, train_data.FitStatistics):
        kinds = {f.name: f.kind for f in features}
        n = len(next(iter(statistics.values()))) if statistics else 0
        statistics = train_data.fit_statistics([(statistics, [0] * n)], kinds, CLASSIFICATION,
                                               MAX_VOCABULARY)

    class Preprocessor(tf.Module):
        """Raw features -> {"dense": float32 [n, d], "embed_<i>": int64 [n, 1]}."""

        def __init__(self):
            super().__init__(name="preprocessor")
            self.numeric = []          # (name, mean, std)
            self.one_hot = []          # (name, table, size)
            self.embedded = []         # (name, table, size)
            self.times = []            # (name, kind, year mean, year std)
            self.tables = []
            self.stats: Dict[str, Any] = {}
            for f in features:
                if f.kind in TIME_KINDS:
                    s = statistics.years[f.name]
                    self.times.append((f.name, f.kind, s["mean"], s["std"]))
                    parts = DATE_PARTS + (TIME_PARTS if f.kind == TIMESTAMP else ())
                    self.stats[f.name] = {"encoding": f.kind, "year_mean": s["mean"],
                                          "year_std": s["std"], "derived": list(parts)}
                elif f.kind == NUMERIC:
                    s = dict(statistics.numeric[f.name])
                    self.numeric.append((f.name, s["mean"], s["std"]))
                    self.stats[f.name] = s
                else:
                    vocab = list(statistics.vocabularies[f.name])
                    keys = tf.constant(vocab or ["\x00"], dtype=tf.string)
                    values = tf.range(2, len(vocab or ["\x00"]) + 2, dtype=tf.int64)
                    table = tf.lookup.StaticHashTable(
                        tf.lookup.KeyValueTensorInitializer(keys, values), default_value=1)
                    self.tables.append(table)
                    size = len(vocab) + 2
                    (self.one_hot if size <= MAX_ONE_HOT else self.embedded).append(
                        (f.name, table, size))
                    self.stats[f.name] = {"vocabulary_size": len(vocab),
                                          "encoding": "one_hot" if size <= MAX_ONE_HOT
                                          else "embedding"}

        def dense_width(self) -> int:
            return (2 * len(self.numeric) + sum(size for _, _, size in self.one_hot)
                    + sum(_time_width(kind) for _, kind, _, _ in self.times))

        def _index(self, table, values):
            return tf.where(tf.equal(values, ""), tf.constant(0, tf.int64), table.lookup(values))

        def __call__(self, raw):
            columns = []
            for name, mean, std in self.numeric:
                x = tf.cast(raw[name], tf.float32)
                missing = tf.math.is_nan(x)
                z = tf.where(missing, tf.zeros_like(x), (x - mean) / std)
                columns += [z[:, None], tf.cast(missing, tf.float32)[:, None]]
            for name, table, size in self.one_hot:
                columns.append(tf.one_hot(self._index(table, raw[name]), size, dtype=tf.float32))
            for name, kind, year_mean, year_std in self.times:
                columns.append(_time_columns(raw[name], kind, year_mean, year_std))
            out = {}
            if columns:
                out["dense"] = tf.concat(columns, axis=1)
            for i, (name, table, _) in enumerate(self.embedded):
                out[f"embed_{i}"] = self._index(table, raw[name])[:, None]
            return out

    return Preprocessor()


def _time_width(kind: str) -> int:
    """Columns :func:`_time_columns` gives a date (28) or a timestamp (31)."""
    return 1 + 12 + 7 + 1 + 6 + 1 + (3 if kind == TIMESTAMP else 0)


def _time_columns(values, kind: str, year_mean: float, year_std: float):
    """The :data:`DATE_PARTS` (+ :data:`TIME_PARTS`) of one date / timestamp input, as
    float32 ``[n, _time_width(kind)]``; a missing value is all zeros but its indicator."""
    import tensorflow as tf

    (year, month, _, doy, weekday), day_fraction, missing = _time_parts(values, kind)
    present = 1.0 - tf.cast(missing, tf.float32)[:, None]

    def column(t):
        return tf.cast(t, tf.float32)[:, None]

    tau = 2.0 * math.pi
    angle_m = column(month - 1) * (tau / 12.0)
    angle_y = column(doy - 1) * (tau / 365.25)
    angle_w = column(weekday) * (tau / 7.0)
    parts = [column((tf.cast(year, tf.float64) - year_mean) / year_std),
             tf.one_hot(month - 1, 12, dtype=tf.float32),
             tf.one_hot(weekday, 7, dtype=tf.float32),
             column(doy - 1) / 365.0,
             tf.sin(angle_m), tf.cos(angle_m), tf.sin(angle_y), tf.cos(angle_y),
             tf.sin(angle_w), tf.cos(angle_w)]
    if kind == TIMESTAMP:
        angle_h = column(day_fraction) * tau
        parts += [column(day_fraction), tf.sin(angle_h), tf.cos(angle_h)]
    return tf.concat([p * present for p in parts] + [1.0 - present], axis=1)


def _build_keras_model(preprocessor, task: str, n_classes: int, hidden_units: Sequence[int],
                       dropout: float):
    import keras

    inputs, parts = {}, []
    width = preprocessor.dense_width()
    if width:
        inputs["dense"] = keras.Input(shape=(width,), name="dense", dtype="float32")
        parts.append(inputs["dense"])
    for i, (name, _, size) in enumerate(preprocessor.embedded):
        key = f"embed_{i}"
        inputs[key] = keras.Input(shape=(1,), name=key, dtype="int64")
        dim = int(min(16, max(2, round(1.6 * size ** 0.56))))
        emb = keras.layers.Embedding(size, dim, name=f"{key}_embedding")(inputs[key])
        parts.append(keras.layers.Flatten()(emb))
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate()(parts)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(int(units), activation="relu", name=f"hidden_{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout)(x)
    if task == CLASSIFICATION:
        out = keras.layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    else:
        out = keras.layers.Dense(1, name="prediction")(x)
    return keras.Model(inputs=inputs, outputs=out, name="kfp_mlops_tabular")


def _export_builtin(model_dir: str, preprocessor, keras_model, features: List[Feature],
                    task: str, label_vocabulary: List[str], label_stats: Dict[str, float]):
    """Saves preprocessing + Keras model as one SavedModel with a raw-feature signature."""
    import tensorflow as tf

    class Serving(tf.Module):
        def __init__(self):
            super().__init__(name="kfp_mlops_model")
            self.preprocessor = preprocessor
            self.model = keras_model

    module = Serving()
    specs = model_io.tensor_specs({f.name: f.kind for f in features})
    vocab = tf.constant(label_vocabulary or [""], dtype=tf.string)

    def serve(raw):
        x = preprocessor(raw)
        y = keras_model(x, training=False)
        if task == CLASSIFICATION:
            probabilities = tf.cast(y, tf.float32)
            class_ids = tf.argmax(probabilities, axis=1, output_type=tf.int64)
            return {"probabilities": probabilities, "class_ids": class_ids,
                    "classes": tf.gather(vocab, class_ids)}
        predictions = tf.reshape(tf.cast(y, tf.float32), [-1])
        return {"predictions": predictions * label_stats["std"] + label_stats["mean"]}

    module.serve = tf.function(serve, input_signature=[specs], autograph=False)
    signature = module.serve.get_concrete_function()
    tf.saved_model.save(module, model_dir, signatures={model_io.SIGNATURE_KEY: signature})


def _fit_builtin(args: TrainerArgs) -> Dict[str, Any]:
    """Trains and exports the built-in model; returns what happened (epochs run, ...).

    Nothing here holds a split in memory: the preprocessing is fitted on statistics of one
    streaming pass over the train split, and Keras is fed streamed, preprocessed batches
    (:func:`training_inputs`).
    """
    import keras

    hp = args.hyperparameters
    statistics = train_data.fit_statistics(args.batches("train"), args.feature_kinds,
                                           args.task, MAX_VOCABULARY)
    preprocessor = _build_preprocessor(args.features, statistics)
    label_stats = {"mean": 0.0, "std": 1.0}
    if args.task == REGRESSION:
        label_stats = statistics.label
    x_train = training_inputs(args, preprocessor, label_stats, "train", shuffle=True,
                              rows=statistics.rows)
    validation = None
    if os.path.exists(args.eval_path):
        eval_rows = train_data.labelled_rows(args.dataset_dir, "eval", args.label, args.task,
                                             args.label_vocabulary)
        if eval_rows:
            validation = training_inputs(args, preprocessor, label_stats, "eval",
                                         shuffle=False, rows=eval_rows)

    keras.utils.set_random_seed(args.seed)
    with distributed.scope():  # [multi-worker] variables mirrored on every worker
        model = _build_keras_model(preprocessor, args.task, len(args.label_vocabulary),
                                   hp["hidden_units"], hp["dropout"])
        if args.task == CLASSIFICATION:
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        else:
            loss, metrics = "mean_squared_error", [keras.metrics.RootMeanSquaredError(name="rmse")]
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=hp["learning_rate"]),
                      loss=loss, metrics=metrics, jit_compile=False)

    callbacks: List[Any] = [_ProgressLogger(hp["epochs"])]
    patience = int(hp["early_stopping_patience"])
    if validation is not None and patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, restore_best_weights=True))
    if args.tensorboard_dir:
        callbacks.append(keras.callbacks.TensorBoard(
            log_dir=args.tensorboard_dir, histogram_freq=0, write_graph=False,
            profile_batch=0))
    # [multi-worker] a cluster: each worker takes its own share of the streamed batches
    history = model.fit(distributed.shard(x_train),
                        validation_data=None if validation is None
                        else distributed.shard(validation),
                        epochs=int(hp["epochs"]), verbose=0, callbacks=callbacks)
    epochs_run = len(history.history.get("loss", []))
    best_epoch = None
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.EarlyStopping) and cb.best_epoch is not None:
            best_epoch = int(cb.best_epoch) + 1
    _export_builtin(args.model_dir, preprocessor, model, args.features, args.task,
                    args.label_vocabulary, label_stats)
    return {"epochs_run": epochs_run, "best_epoch": best_epoch or epochs_run,
            "preprocessing": preprocessor.stats, "label_stats": label_stats}


def training_inputs(args: TrainerArgs, preprocessor, label_stats: Mapping[str, float],
                    split: str, shuffle: bool, rows: Optional[int] = None):
    """``(model inputs, target)`` batches of ``split`` for Keras: the streamed raw batches
    (:meth:`TrainerArgs.make_dataset`) through the preprocessor (regression: the label
    standardised), prefetched."""
    import tensorflow as tf

    mean, std = float(label_stats["mean"]), float(label_stats["std"])
    regression = args.task == REGRESSION

    def prepare(raw, y):
        if regression:
            y = (y - mean) / std
        return preprocessor(raw), y

    data = args.make_dataset(split, int(args.hyperparameters["batch_size"]), shuffle=shuffle,
                             rows=rows)
    return data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _progress_logger_class():
    import keras

    class ProgressLogger(keras.callbacks.Callback):
        def __init__(self, epochs: int):
            super().__init__()
            self.epochs = epochs

        def on_epoch_end(self, epoch, logs=None):
            shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted((logs or {}).items())
                              if isinstance(v, (int, float)))
            logger.info("epoch %d/%d: %s", epoch + 1, self.epochs, shown)

    return ProgressLogger


def _ProgressLogger(epochs: int):  # noqa: N802 - a class made on demand (keras is lazy)
    return _progress_logger_class()(epochs)


# --- the user's module ------------------------------------------------------------------

def load_trainer_module(trainer_module: str):
    """Imports ``trainer_module``: a dotted name, or a ``.py`` file as a local path, a
    ``gs://`` or ``s3://`` URI (a ``/gcs/`` path is read as ``gs://``)."""
    is_path = (trainer_module.endswith(".py") or "/" in trainer_module
               or os.sep in trainer_module)
    try:
        if not is_path:
            return importlib.import_module(trainer_module)
        local = io.canonical_uri(trainer_module)
        if io.is_remote(local):
            # A copy that stays for the process: tracebacks and autograph read the source.
            data = io.read_bytes(local)
            fd, local = tempfile.mkstemp(suffix=".py", prefix="kfp_mlops_trainer_")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        if not os.path.isfile(local):
            raise FileNotFoundError(f"no such file: {local!r}")
        name = "kfp_mlops_trainer_" + uuid.uuid4().hex[:8]
        spec = importlib.util.spec_from_file_location(name, local)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {local!r} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    except Exception as e:  # any error raised while importing the user's code
        raise TrainerModuleError(
            f"trainer_module {trainer_module!r} cannot be imported "
            f"({type(e).__name__}: {e}); expected an importable module name, a .py file or "
            f"a gs:// or s3:// URI of one, defining {RUN_FN}(args: TrainerArgs)") from e


def _run_fn(trainer_module: str) -> Callable:
    module = load_trainer_module(trainer_module)
    fn = getattr(module, RUN_FN, None)
    if not callable(fn):
        raise TrainerModuleError(
            f"trainer_module {trainer_module!r} defines no function {RUN_FN}(args: TrainerArgs); "
            f"it defines {sorted(n for n in vars(module) if not n.startswith('_'))}")
    return fn


# --- checking the exported model --------------------------------------------------------

def score_split(serving: "model_io.ServingModel", args: TrainerArgs,
                split: str) -> Dict[str, float]:
    """Loss and main metric of the exported model on one split, through its signature,
    streamed one record batch at a time (only sums are kept)."""
    import numpy as np
    import pyarrow as pa

    columns = list(dict.fromkeys(list(serving.features) + [args.label]))
    n = 0
    sums = {"loss": 0.0, "hits": 0.0, "abs": 0.0}
    for batch in ds.iter_batches(args.dataset_dir, split, columns):
        y = encode_labels(batch.column(batch.schema.get_field_index(args.label)), args.task,
                          args.label_vocabulary)
        keep = ~_missing_label(y, args.task)
        if not keep.any():
            continue
        out = serving.predict(batch if keep.all() else batch.filter(pa.array(keep)))
        y = y[keep]
        n += len(y)
        if args.task == CLASSIFICATION:
            p = np.asarray(out["probabilities"], dtype=np.float64)
            if p.ndim != 2 or p.shape[1] != len(args.label_vocabulary):
                raise TrainError(f"the model's 'probabilities' output has shape {p.shape}; "
                                 f"expected [n, {len(args.label_vocabulary)}] (one column per "
                                 f"label value {args.label_vocabulary})")
            chosen = np.clip(p[np.arange(len(y)), y], 1e-7, 1.0)
            sums["loss"] += float(-np.sum(np.log(chosen)))
            sums["hits"] += float(np.sum(np.argmax(p, axis=1) == y))
        else:
            err = np.asarray(out["predictions"], dtype=np.float64).reshape(-1) - y
            sums["loss"] += float(np.sum(err ** 2))
            sums["abs"] += float(np.sum(np.abs(err)))
    if n == 0:
        return {}
    if args.task == CLASSIFICATION:
        return {"loss": sums["loss"] / n, "accuracy": sums["hits"] / n}
    mse = sums["loss"] / n
    return {"loss": mse, "rmse": float(np.sqrt(mse)), "mae": sums["abs"] / n}


# --- the entry point --------------------------------------------------------------------

def _label_info(dataset_dir: str, label: str, task: str):
    """(task, label vocabulary, labelled train rows) from the train split's label column,
    streamed."""
    info = train_data.label_info(dataset_dir, label, task, MAX_INFERRED_CLASSES, TrainError)
    return info.task, info.vocabulary, info.labelled_rows


def check_settings(task: str = "", epochs: int = 30, batch_size: int = 32,
                   learning_rate: float = 0.005, hidden_units: Sequence[int] = (64, 32),
                   early_stopping_patience: int = 5, seed: int = 42,
                   dropout: float = 0.0) -> None:
    """Raises :class:`TrainError` naming every setting out of range, whatever the data."""
    from kfp_mlops.components._shared import checks

    problems = []
    if task not in ("",) + model_io.TASKS:
        problems.append(f"task {task!r} is not one of {model_io.TASKS} (or '' to infer)")
    problems += [checks.number_problem("epochs", epochs, whole=True, minimum=1),
                 checks.number_problem("batch_size", batch_size, whole=True, minimum=1),
                 checks.number_problem("learning_rate", learning_rate, above=0),
                 checks.number_problem("early_stopping_patience", early_stopping_patience,
                                       whole=True),
                 checks.number_problem("seed", seed, whole=True, minimum=0),
                 checks.number_problem("dropout", dropout, minimum=0, below=1)]
    if isinstance(hidden_units, (str, bytes)) or not isinstance(hidden_units, Sequence) \
            or not all(checks.is_whole(u) and u >= 1 for u in hidden_units):
        problems.append(f"hidden_units={hidden_units!r}: expected a list of whole numbers "
                        ">= 1 (layer sizes; empty for a linear model)")
    checks.raise_all(problems, TrainError)


def train(dataset_dir: str, schema_path: str, model_dir: str, tensorboard_dir: str = "",
          label_column: str = "", task: str = "", trainer_module: str = "", epochs: int = 30,
          batch_size: int = 32, learning_rate: float = 0.005,
          hidden_units: Sequence[int] = (64, 32), early_stopping_patience: int = 5,
          seed: int = 42, dropout: float = 0.0) -> TrainResult:
    """Trains a model on the train split (early stopping on eval) and exports a SavedModel.

    Args:
      dataset_dir: dataset artifact directory (see ``_shared.dataset``).
      schema_path: the schema directory of validate (``schema.pbtxt`` inside) or the file.
      model_dir: output: the SavedModel directory (created atomically; must not hold files).
      tensorboard_dir: output: TensorBoard logs (created atomically); "" to skip.
      label_column: label; "" takes ``label_column`` from ``dataset.json``.
      task: ``"classification"``, ``"regression"`` or "" to infer from the label.
      trainer_module: "" for the built-in model, else the user's module with ``run_fn``.
      epochs, batch_size, learning_rate, hidden_units, early_stopping_patience, dropout:
        hyperparameters (``early_stopping_patience`` <= 0 turns early stopping off).
      seed: random seed; the same seed and data give the same model.

    Raises:
      TrainError: bad inputs (the message names which); TrainerModuleError: the user's module
        could not be imported or did not write a model. No output is left behind on error.
    """
    import tensorflow as tf

    check_settings(task, epochs, batch_size, learning_rate, hidden_units,
                   early_stopping_patience, seed, dropout)
    distributed.from_environment()  # [multi-worker] TF_CONFIG; before any other TF op
    started = time.time()
    info = ds.read_info(dataset_dir)
    label = label_column or info.get("label_column", "")
    if not label:
        raise TrainError(f"no label_column given and dataset {dataset_dir!r} names none in "
                         f"{ds.INFO_FILE}")
    arrow_schema = ds.arrow_schema(dataset_dir, "train")
    if label not in arrow_schema.names:
        raise TrainError(f"label_column {label!r} is not a column of dataset {dataset_dir!r}; "
                         f"columns are {arrow_schema.names}")
    try:
        schema = read_schema(schema_path)  # validate's schema artifact, or its schema.pbtxt
    except SchemaError as e:
        raise TrainError(str(e)) from e
    exclude = [c for c in [info.get("key_column", "")] if c]
    features = schema_features(schema, label, exclude)
    kept_out = _kept_out(schema, label, exclude)
    keys: Dict[str, str] = {}
    for f in features:
        other = keys.setdefault(model_io.input_key(f.name), f.name)
        if other != f.name:
            raise TrainError(f"features {other!r} and {f.name!r} would both be served as input "
                             f"{model_io.input_key(f.name)!r}; rename one of the columns")
    absent = [f.name for f in features if f.name not in arrow_schema.names]
    if absent:
        raise TrainError(f"schema features {absent} are not columns of dataset {dataset_dir!r}; "
                         f"columns are {arrow_schema.names}")
    features = [_time_kind_from_data(f, arrow_schema.field(f.name).type) for f in features]
    for split in ("train", "eval"):
        if os.path.exists(ds.split_path(dataset_dir, split)):
            infinite = {k: v for k, v in ds.infinite_counts(dataset_dir, split, recorded=False).items()
                        if k in {f.name for f in features} | {label}}
            if infinite:
                raise TrainError(ds.describe_infinite(infinite, split, f"dataset {dataset_dir!r}"))
    if not hidden_units and trainer_module == "":
        logger.info("hidden_units is empty: the built-in model is linear")
    task, vocabulary, labelled_rows = _label_info(dataset_dir, label, task)
    hyperparameters = {"epochs": int(epochs), "batch_size": int(batch_size),
                       "learning_rate": float(learning_rate),
                       "hidden_units": [int(u) for u in hidden_units],
                       "early_stopping_patience": int(early_stopping_patience),
                       "dropout": float(dropout)}
    run_fn = _run_fn(trainer_module) if trainer_module else None

    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    # [multi-worker] a worker other than the chief writes to a temporary folder, then removes it
    with distributed.output_paths(model_dir, tensorboard_dir) as (model_path, tensorboard_path), \
            io.output_dir(model_path) as model_out, _maybe_output_dir(tensorboard_path) as tb_out:
        args = TrainerArgs(
            dataset_dir=dataset_dir, train_path=ds.split_path(dataset_dir, "train"),
            eval_path=ds.split_path(dataset_dir, "eval"), schema_path=schema_path,
            schema=schema, label=label, task=task, label_vocabulary=vocabulary,
            features=features, hyperparameters=hyperparameters, seed=seed,
            model_dir=model_out, tensorboard_dir=tb_out)
        logger.info("training a %s model of %r on %d features (%s) with %s", task, label,
                    len(features), trainer_module or "built-in model", hyperparameters)
        if run_fn is None:
            details = _fit_builtin(args)
            trainer = "builtin"
        else:
            try:
                returned = run_fn(args)
            except Exception as e:
                raise TrainerModuleError(f"trainer_module {trainer_module!r}: {RUN_FN} failed "
                                         f"({type(e).__name__}: {e})") from e
            if not model_io.has_saved_model(model_out):
                raise TrainerModuleError(
                    f"trainer_module {trainer_module!r}: {RUN_FN} wrote no SavedModel to "
                    f"args.model_dir (expected {model_io.SAVED_MODEL_FILE} at its root, e.g. "
                    f"with tf.saved_model.save(module, args.model_dir, signatures=...))")
            details = dict(returned) if isinstance(returned, Mapping) else {}
            trainer = f"module:{trainer_module}"
        try:
            serving = model_io.load(model_out, metadata={
                "task": task, "label": label, "label_vocabulary": vocabulary,
                "features": [f.to_dict() for f in features]})
        except model_io.ModelError as e:
            who = f"trainer_module {trainer_module!r}" if trainer_module else "the built-in model"
            raise TrainError(f"{who}: the exported model does not follow the serving "
                             f"contract: {e}") from e
        _check_inputs(serving, features, trainer_module)
        metrics: Dict[str, float] = {}
        for split in ("train", "eval"):
            if split == "eval" and not os.path.exists(args.eval_path):
                continue
            for key, value in score_split(serving, args, split).items():
                metrics[f"{split}_{key}"] = value
        del serving
        epochs_run = int(details.get("epochs_run", 0) or 0)
        metrics["epochs_run"] = float(epochs_run)
        for key, value in details.items():
            if key.startswith(("train_", "eval_")) and isinstance(value, (int, float)):
                metrics.setdefault(key, float(value))
        # A diverged model (or a trainer module) can score NaN or Infinity; those cannot be
        # recorded on Kubeflow (protobuf JSON has no such numbers; see
        # kfp_mlops.pipelines.launcher_contract): undefined, so left out, and said so.
        undefined = sorted(k for k, v in metrics.items() if not math.isfinite(v))
        if undefined:
            logger.warning("metrics %s are not finite numbers (%s), so they are left out; a "
                           "model that diverged scores NaN", ", ".join(undefined),
                           {k: metrics[k] for k in undefined})
            metrics = {k: v for k, v in metrics.items() if k not in undefined}
        result = TrainResult(
            model_dir=model_dir, tensorboard_dir=tensorboard_dir, task=task, label=label,
            label_vocabulary=vocabulary, features=features, trainer=trainer,
            training_rows=labelled_rows,
            eval_rows=ds.num_rows(dataset_dir, "eval") if os.path.exists(args.eval_path) else 0,
            epochs_run=epochs_run, metrics=metrics, hyperparameters=hyperparameters,
            content_hash=io.sha256_tree(model_out), tf_version=tf.__version__,
            seconds=round(time.time() - started, 3), kept_out=kept_out)
        meta = result.model_metadata()
        if "preprocessing" in details:
            meta["preprocessing"] = details["preprocessing"]
            meta["best_epoch"] = details.get("best_epoch")
        model_io.write_metadata(model_out, meta)
    if not distributed.is_chief():  # [multi-worker] its copy is removed: it reports no output
        result = dataclasses.replace(result, model_dir="", tensorboard_dir="", chief=False)
    logger.info("trained %s model in %.1fs: %s", task, result.seconds,
                {k: round(v, 4) for k, v in metrics.items()})
    return result


def _time_kind_from_data(feature: Feature, arrow_type) -> Feature:
    """A date / timestamp column the schema calls a plain number (a curated schema without
    its ``time_domain``) is still a date / timestamp: its values are dates, not numbers."""
    import pyarrow as pa

    if feature.kind != NUMERIC:
        return feature
    kind = (DATE if pa.types.is_date(arrow_type)
            else TIMESTAMP if pa.types.is_timestamp(arrow_type) else None)
    if kind is None:
        return feature
    logger.info("feature %r: the schema has no time_domain, the data holds %s: a %s",
                feature.name, arrow_type, kind)
    return dataclasses.replace(feature, kind=kind)


def _kept_out(schema, label: str, exclude: Sequence[str]) -> Dict[str, str]:
    """``{column: reason}`` of the schema features that are not model features because the
    schema keeps them out of models, or because they are the dataset's key column."""
    found = {}
    for f in schema.feature:
        if f.name == label:
            continue
        if is_kept_out(f):
            found[f.name] = kept_out_reason(f)
        elif f.name in exclude:
            found[f.name] = "the dataset's key_column: it decides each row's split"
    return found


def _check_inputs(serving, features: List[Feature], trainer_module: str) -> None:
    known = {model_io.input_key(f.name): f.kind for f in features}
    wrong = {serving.inputs[name]: kind for name, kind in serving.features.items()
             if known.get(serving.inputs[name]) != kind}
    if wrong:
        who = f"trainer_module {trainer_module!r}" if trainer_module else "the built-in model"
        raise TrainError(
            f"{who}: serving inputs {wrong} are not schema features of that kind; expected a "
            f"subset of {known} (numeric -> float32, categorical -> string)")


class _NoOutput:
    def __enter__(self):
        return ""

    def __exit__(self, *exc):
        return False


def _maybe_output_dir(path: str):
    return io.output_dir(path) if path else _NoOutput()
