"""The serving contract of kfp-mlops models, shared by train, evaluate and push.

A model artifact is a TensorFlow SavedModel directory (``saved_model.pb`` at its root, as
Vertex AI's prebuilt TensorFlow serving containers expect) whose ``serving_default``
signature takes raw features the way serving data carries them:

* inputs: one 1-D tensor per feature, keyed by the feature's column name (names that are
  not plain identifiers are rewritten, see :func:`input_key`);
  numeric features as ``tf.float32`` (``NaN`` = missing); categorical features as
  ``tf.string`` (``""`` = missing). Categorical integer and boolean features are passed as
  decimal strings (``3`` -> ``"3"``, ``True`` -> ``"1"``, ``False`` -> ``"0"``), the same
  strings their vocabulary was built from. Date features as ``tf.float64`` days since
  1970-01-01 and timestamp features as ``tf.float64`` seconds since 1970-01-01T00:00:00Z
  (``NaN`` = missing): the integers the statistics and schema describe them with
  (``time_domain { integer_format: UNIX_DAYS / UNIX_SECONDS }``, see
  ``_shared.statistics.reference``); float64 holds every such integer exactly and has NaN.
  :func:`raw_inputs` turns dates, datetimes and ISO 8601 strings into them.
* outputs, classification: ``probabilities`` float32 ``[n, k]`` (columns in the order of
  the label vocabulary), ``class_ids`` int64 ``[n]``, ``classes`` string ``[n]``
  (the predicted label values as strings); regression: ``predictions`` float32 ``[n]``.

Next to it, ``assets.extra/kfp_mlops_model.json`` describes the model (framework, task,
label, label vocabulary, features and kinds, training rows, content hash): see
:func:`read_metadata`.

Pure Python at import time: numpy, pandas and TensorFlow are imported inside functions.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from typing import Any, Dict, List, Mapping, Optional

SIGNATURE_KEY = "serving_default"
SAVED_MODEL_FILE = "saved_model.pb"
METADATA_PATH = os.path.join("assets.extra", "kfp_mlops_model.json")
NUMERIC = "numeric"
CATEGORICAL = "categorical"
#: A date: days since 1970-01-01 (the schema's UNIX_DAYS).
DATE = "date"
#: A timestamp: seconds since 1970-01-01T00:00:00Z (the schema's UNIX_SECONDS).
TIMESTAMP = "timestamp"
TIME_KINDS = (DATE, TIMESTAMP)
KINDS = (NUMERIC, CATEGORICAL) + TIME_KINDS
CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
#: Signature outputs each task must have.
OUTPUTS = {CLASSIFICATION: ("probabilities", "class_ids", "classes"),
           REGRESSION: ("predictions",)}


class ModelError(ValueError):
    """A model directory does not follow the kfp-mlops serving contract."""


def has_saved_model(model_dir: str) -> bool:
    """Whether the local model directory ``model_dir`` holds ``saved_model.pb`` at its root."""
    return os.path.isfile(os.path.join(model_dir, SAVED_MODEL_FILE))


def write_metadata(model_dir: str, metadata: Mapping[str, Any]) -> str:
    """Writes ``assets.extra/kfp_mlops_model.json`` into a local model directory."""
    from kfp_mlops.components._shared import io

    path = os.path.join(model_dir, METADATA_PATH)
    io.write_json(path, dict(metadata))
    return path


def read_metadata(model_dir: str) -> Dict[str, Any]:
    """Reads ``assets.extra/kfp_mlops_model.json`` of a local model directory.

    Raises:
        ModelError: the file is missing (the directory was not written by kfp-mlops train).
    """
    path = os.path.join(model_dir, METADATA_PATH)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise ModelError(f"model {model_dir!r} has no {METADATA_PATH} (expected a model "
                         f"written by kfp-mlops train): {e}") from e


def content_hash(model_dir: str) -> str:
    """The content hash of a local model directory, leaving out its metadata file.

    Same algorithm as ``io.sha256_tree`` (relative names and file hashes, in order) but
    without ``assets.extra/kfp_mlops_model.json``, which itself records this hash.
    """
    from kfp_mlops.components._shared import io

    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(model_dir):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, model_dir)
            if rel == METADATA_PATH:
                continue
            digest.update(rel.encode() + b"\0")
            digest.update(io.sha256_file(full).encode() + b"\0")
    return digest.hexdigest()


# --- turning tabular data into raw serving inputs -------------------------------------------

def _to_pandas(data):
    """A pandas DataFrame from a DataFrame, an Arrow Table / RecordBatch or a dict of lists."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):
        return data.to_pandas()
    return pd.DataFrame(dict(data))


def _category_string(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    try:
        import numpy as np

        if isinstance(value, (bool, np.bool_)):
            return "1" if value else "0"
        if isinstance(value, (float, np.floating)):
            if math.isnan(value):
                return ""
            if float(value).is_integer():
                return str(int(value))
            return repr(float(value))
        if isinstance(value, (int, np.integer)):
            return str(int(value))
    except ImportError:  # pragma: no cover
        pass
    if value != value:  # NaN-like (pandas.NA raises on bool(), NaT compares unequal)
        return ""
    return str(value)


def category_strings(values) -> "Any":
    """Values of one column as a numpy array of ``str`` (missing -> ``""``).

    Integers, and floats holding integers (an integer column with nulls read by pandas),
    become their decimal form; booleans become ``"1"``/``"0"``; bytes are decoded.
    """
    import numpy as np
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    out = []
    for v in series.astype(object).tolist():
        try:
            missing = v is None or v is pd.NA or (not isinstance(v, (str, bytes)) and pd.isna(v))
        except (TypeError, ValueError):
            missing = False
        out.append("" if missing else _category_string(v))
    return np.asarray(out, dtype=object)


def numeric_values(values) -> "Any":
    """Values of one column as float32 (missing or non-numeric -> ``NaN``)."""
    import numpy as np
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    if series.dtype == bool:
        series = series.astype("float64")
    return pd.to_numeric(series.astype(object).where(series.notna(), None),
                         errors="coerce").astype("float64").to_numpy(dtype=np.float32)


def time_values(values, kind: str) -> "Any":
    """Values of a date (``kind="date"``) or timestamp column as float64 days / seconds
    since the epoch (missing or unreadable -> ``NaN``).

    Takes ``datetime.date`` / ``datetime`` objects (what a Parquet date column reads as),
    pandas datetimes, ISO 8601 strings (``"2021-03-04"``, ``"2021-03-04T10:00:00+02:00"``),
    or numbers, taken as already counted in days / seconds. A time zone's instant is counted
    in UTC, a zone-less time as if it were UTC (as the statistics count an Arrow timestamp);
    timestamps are counted in whole seconds (floored), dates in whole days.
    """
    import numpy as np
    import pandas as pd

    if kind not in TIME_KINDS:
        raise ModelError(f"time kind {kind!r}: expected one of {TIME_KINDS}")
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if series.dtype != bool and (pd.api.types.is_numeric_dtype(series.dtype) or
                                 pd.api.types.infer_dtype(series, skipna=True) in (
                                     "integer", "floating", "mixed-integer-float", "empty")):
        return pd.to_numeric(series.astype(object).where(series.notna(), None),
                             errors="coerce").astype("float64").to_numpy()
    stamps = pd.to_datetime(series, errors="coerce", utc=True)
    missing = stamps.isna().to_numpy()
    nanos = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    unit = 86_400 * 10 ** 9 if kind == DATE else 10 ** 9
    out = np.floor_divide(nanos, unit).astype(np.float64)
    out[missing] = np.nan
    return out


def raw_inputs(data, features: Mapping[str, str]) -> Dict[str, Any]:
    """Turns a DataFrame / Arrow batch into the serving signature's raw inputs.

    Args:
      data: pandas DataFrame, pyarrow Table or RecordBatch, or a dict of column lists.
      features: feature name -> kind (``"numeric"`` or ``"categorical"``).

    Returns:
      feature name -> 1-D numpy array: float32 for numeric (``NaN`` = missing), object
      array of ``str`` for categorical (``""`` = missing), float64 days / seconds since the
      epoch for date / timestamp (``NaN`` = missing, see :func:`time_values`).

    Raises:
      ModelError: a feature is not a column of ``data``.
    """
    if _is_arrow(data):
        names = list(data.schema.names)
        absent = [name for name in features if name not in names]
        if not absent:
            fast = {name: _arrow_values(data.column(names.index(name)), kind)
                    for name, kind in features.items()}
            if all(v is not None for v in fast.values()):
                return fast
    frame = _to_pandas(data)
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ModelError(f"the data has no column for model feature(s) {missing}; its columns "
                         f"are {list(frame.columns)}")
    out = {}
    for name, kind in features.items():
        if kind == NUMERIC:
            out[name] = numeric_values(frame[name])
        elif kind == CATEGORICAL:
            out[name] = category_strings(frame[name])
        elif kind in TIME_KINDS:
            out[name] = time_values(frame[name], kind)
        else:
            raise ModelError(f"feature {name!r} has kind {kind!r}; expected one of {KINDS}")
    return out


def _is_arrow(data) -> bool:
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover
        return False
    return isinstance(data, (pa.RecordBatch, pa.Table))


def _arrow_values(column, kind: str):
    """The raw input of one Arrow column without going through pandas, for the common
    types (string, float, int, date32, timestamp), or None to take the general path.

    Gives exactly what :func:`numeric_values`, :func:`category_strings` and
    :func:`time_values` give for these types; only faster (a streamed split converts one
    record batch at a time, and Python loops per value dominate that otherwise).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):  # a Table's column; pyarrow 10's
        column = column.combine_chunks()      # ChunkedArray.to_numpy takes no options
    t = column.type
    if kind == CATEGORICAL and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return np.asarray(pc.fill_null(column, "").to_numpy(zero_copy_only=False), dtype=object)
    if kind == NUMERIC and (pa.types.is_floating(t) or pa.types.is_integer(t)):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64).astype(np.float32)
    if kind == DATE and pa.types.is_date32(t):
        days = pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False)
        return np.asarray(days, dtype=np.float64)
    if kind in TIME_KINDS and pa.types.is_timestamp(t):
        ticks = pc.cast(pc.cast(column, pa.timestamp("ns", tz=t.tz)), pa.int64())
        nanos = pc.fill_null(ticks, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        unit = 86_400 * 10 ** 9 if kind == DATE else 10 ** 9
        out = np.floor_divide(nanos, unit).astype(np.float64)
        out[pc.is_null(column).to_numpy(zero_copy_only=False)] = np.nan
        return out
    return None


def sort_labels(values: List[str]) -> List[str]:
    """Label values in vocabulary order: numerically when all are numbers, else as text."""
    def number(v):
        try:
            return float(v)
        except ValueError:
            return None

    nums = [number(v) for v in values]
    if values and all(n is not None and not math.isnan(n) for n in nums):
        return [v for _, v in sorted(zip(nums, values))]
    return sorted(values)


def input_key(name: str) -> str:
    """The serving signature's key for a feature column.

    The column name itself when it is a plain identifier starting with a letter (as
    TensorFlow requires of signature keys); otherwise every other character becomes ``_``
    and ``f_`` is put in front when needed (``"bill length (mm)"`` -> ``"bill_length__mm_"``).
    The model metadata records each feature's key (``features[].input``).
    """
    import keyword
    import re

    key = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not re.match(r"[A-Za-z]", key):
        key = "f_" + key
    if keyword.iskeyword(key):
        key += "_"
    return key


def input_dtype(kind: str):
    """The serving input's dtype of a feature kind: float32, string, or float64 (time)."""
    import tensorflow as tf

    dtypes = {NUMERIC: tf.float32, CATEGORICAL: tf.string, DATE: tf.float64,
              TIMESTAMP: tf.float64}
    if kind not in dtypes:
        raise ModelError(f"feature kind {kind!r}: expected one of {KINDS}")
    return dtypes[kind]


def tensor_specs(features: Mapping[str, str]) -> Dict[str, Any]:
    """Input specs for a serving function: feature name -> 1-D ``tf.TensorSpec`` (float32,
    string or float64, see :func:`input_dtype`) named :func:`input_key` of the feature, which
    becomes the signature's key.

    Use as ``tf.function(fn, input_signature=[tensor_specs(...)])``; ``fn`` receives one dict
    keyed by feature (column) name.
    """
    import tensorflow as tf

    keys = {}
    for name in features:
        key = input_key(name)
        if key in keys:
            raise ModelError(f"features {keys[key]!r} and {name!r} both map to serving input "
                             f"{key!r}; rename one of the columns")
        keys[key] = name
    return {name: tf.TensorSpec([None], input_dtype(kind), name=input_key(name))
            for name, kind in features.items()}


# --- loading and calling a SavedModel -------------------------------------------------------

class ServingModel:
    """A kfp-mlops SavedModel loaded with ``tf.saved_model.load``, called on tabular data."""

    def __init__(self, model_dir: str, loaded, metadata: Dict[str, Any]):
        import tensorflow as tf

        self.model_dir = model_dir
        self.loaded = loaded
        self.metadata = metadata
        if SIGNATURE_KEY not in loaded.signatures:
            raise ModelError(f"model {model_dir!r} has no {SIGNATURE_KEY!r} signature; it has "
                             f"{sorted(loaded.signatures)}")
        self.signature = loaded.signatures[SIGNATURE_KEY]
        specs = self.signature.structured_input_signature[1]
        described = [f for f in metadata.get("features") or [] if "name" in f]
        columns = {f.get("input") or input_key(f["name"]): f["name"] for f in described}
        time_kinds = {f["name"]: f.get("kind") for f in described
                      if f.get("kind") in TIME_KINDS}
        #: feature column -> serving input key (the same but for unusual column names)
        self.inputs: Dict[str, str] = {}
        #: feature column -> kind
        self.features: Dict[str, str] = {}
        for key, spec in sorted(specs.items()):
            column = columns.get(key, key)
            self.inputs[column] = key
            if spec.dtype == tf.string:
                self.features[column] = CATEGORICAL
            elif spec.dtype == tf.float64 and column in time_kinds:
                self.features[column] = time_kinds[column]
            elif spec.dtype == tf.float64:
                raise ModelError(f"model {model_dir!r}: serving input {key!r} is float64, a "
                                 "date or timestamp, but the model's metadata does not say "
                                 f"which (expected features[].kind in {TIME_KINDS})")
            elif spec.dtype.is_floating:
                self.features[column] = NUMERIC
            else:
                raise ModelError(f"model {model_dir!r}: serving input {key!r} has dtype "
                                 f"{spec.dtype.name}; expected float32 (numeric), string "
                                 "(categorical) or float64 (date / timestamp)")
        #: serving input key -> dtype
        self.dtypes = {key: spec.dtype for key, spec in specs.items()}
        self.task = metadata.get("task", "")
        outputs = set(self.signature.structured_outputs)
        if self.task not in TASKS:
            self.task = CLASSIFICATION if "probabilities" in outputs else REGRESSION
        need = [o for o in OUTPUTS[self.task] if o not in outputs]
        if need:
            raise ModelError(f"model {model_dir!r} ({self.task}): serving signature lacks "
                             f"output(s) {need}; it has {sorted(outputs)}")
        self.label = metadata.get("label", "")
        self.label_vocabulary: List[str] = list(metadata.get("label_vocabulary") or [])

    def predict(self, data, batch_rows: int = 8192) -> Dict[str, Any]:
        """Calls the serving signature on a DataFrame / Arrow batch; numpy outputs by name."""
        import numpy as np
        import tensorflow as tf

        inputs = raw_inputs(data, self.features)
        n = len(next(iter(inputs.values()))) if inputs else len(_to_pandas(data))
        parts: Dict[str, List[Any]] = {}
        for start in range(0, max(n, 1), batch_rows):
            feed = {}
            for name, values in inputs.items():
                key = self.inputs[name]
                feed[key] = tf.constant(values[start:start + batch_rows], dtype=self.dtypes[key])
            result = self.signature(**feed)
            for key, value in result.items():
                parts.setdefault(key, []).append(value.numpy())
        out = {key: np.concatenate(values, axis=0) for key, values in parts.items()}
        if "classes" in out:
            out["classes"] = np.asarray([c.decode("utf-8") if isinstance(c, bytes) else c
                                         for c in out["classes"]], dtype=object)
        return out


def load(model_dir: str, require_metadata: bool = True,
         metadata: Optional[Mapping[str, Any]] = None) -> ServingModel:
    """Loads a model directory for prediction: a local folder, or a ``gs://`` / ``s3://``
    one, copied to a temporary folder by the I/O layer for the load (``tf.saved_model.load``
    reads every variable and asset while loading).

    ``metadata`` stands in for the directory's metadata file (train uses it to check a
    model before writing that file).

    Raises:
        ModelError: no SavedModel, no ``serving_default`` signature, inputs or outputs
            that do not follow the contract, or (when ``require_metadata``) no metadata file.
    """
    import tensorflow as tf

    from kfp_mlops.components._shared import io

    with contextlib.ExitStack() as stack:
        local = model_dir
        if io.is_remote(model_dir):
            try:
                local = stack.enter_context(io.local_copy(model_dir))
            except FileNotFoundError as e:
                raise ModelError(f"model {model_dir!r} holds no {SAVED_MODEL_FILE}: expected "
                                 f"a TensorFlow SavedModel directory ({e})") from e
        if not has_saved_model(local):
            raise ModelError(f"model {model_dir!r} holds no {SAVED_MODEL_FILE}: expected a "
                             "TensorFlow SavedModel directory")
        if metadata is None:
            try:
                metadata = read_metadata(local)
            except ModelError:
                if require_metadata:
                    raise
                metadata = {}
        loaded = tf.saved_model.load(local)
    return ServingModel(model_dir, loaded, dict(metadata))
