"""The on-disk layout of a kfp-mlops ``predictions`` artifact, and its reader.

The predict component writes it; performance monitoring (and anyone scoring with us) reads
it through this module only -- the producer owns its artifact's reader. A predictions
artifact is a folder::

    <predictions>/
      predictions.json          what was scored, with what (:data:`METADATA_FILE`)
      part-00000.parquet        the rows, in input order, one file per written chunk
      part-00001.parquet        (``part-<5 digits>.parquet``; read them in name order)

Columns of every part file:

* the key column -- the input's ``key_column`` with its values as read, or, when the input
  has none, :data:`ROW_KEY` (``input_row``, int64): the row's 0-based position in the input
  as read (files in name order, rows in file order);
* :data:`PREDICTION` (``prediction``): the predicted class (string) for classification, the
  predicted value (float64) for regression;
* for classification, one float64 ``probability_<class>`` per class (:func:`probability_column`),
  in the order of ``classes`` in the metadata;
* :data:`MODEL_NAME` and :data:`MODEL_VERSION` (strings), the registry version that scored.

``predictions.json`` holds ``model_name``, ``model_version``, ``model_uri``, ``model_hash``,
``task`` (``classification`` / ``regression``), ``label_column``, ``classes`` (empty for
regression), ``key_column`` (the column name actually written, :data:`ROW_KEY` when the input
had none), ``input_uri``, ``input_content_hash`` (sha256 of the rows read), ``rows``,
``files`` (the part files, in order), ``created`` (UTC ISO time) and
``format_version`` (:data:`FORMAT_VERSION`).

Stdlib only at import time; pyarrow is imported by the functions that need it.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, Iterator, List, Optional

FORMAT_VERSION = 1
METADATA_FILE = "predictions.json"
PART_PATTERN = re.compile(r"^part-\d{5}\.parquet$")
ROW_KEY = "input_row"
PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
REQUIRED_METADATA = ("model_name", "model_version", "task", "label_column", "classes",
                     "key_column", "input_content_hash", "rows", "files")


class PredictionsError(ValueError):
    """A folder is not a predictions artifact, or does not hold what was asked for."""


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def probability_column(label: str) -> str:
    """The column holding the probability of class ``label``."""
    return f"{PROBABILITY_PREFIX}{label}"


def read_metadata(folder: str) -> Dict[str, Any]:
    """``predictions.json`` of a predictions folder, checked for every required key.

    Raises:
        PredictionsError: the folder has no ``predictions.json`` or it lacks a key.
    """
    path = os.path.join(folder, METADATA_FILE)
    if not os.path.isfile(path):
        raise PredictionsError(f"{folder!r} is not a kfp-mlops predictions folder: "
                               f"{METADATA_FILE} is missing")
    with open(path, encoding="utf-8") as f:
        metadata = json.load(f)
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise PredictionsError(f"{path!r} lacks {', '.join(missing)}; expected the keys "
                               f"{', '.join(REQUIRED_METADATA)}")
    return metadata


def part_files(folder: str, metadata: Optional[Dict[str, Any]] = None) -> List[str]:
    """The part files of a predictions folder, in order (as the metadata lists them)."""
    metadata = metadata if metadata is not None else read_metadata(folder)
    paths = [os.path.join(folder, name) for name in metadata["files"]]
    absent = [p for p in paths if not os.path.isfile(p)]
    if absent:
        raise PredictionsError(f"predictions folder {folder!r} lacks {', '.join(absent)}, "
                               f"which {METADATA_FILE} lists")
    return paths


def iter_batches(folder: str, columns: Optional[List[str]] = None,
                 batch_rows: int = 65_536) -> Iterator:
    """Yields ``pyarrow.RecordBatch`` objects of the predictions, in input order."""
    import pyarrow.parquet as pq

    for path in part_files(folder):
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns)


def read_pandas(folder: str, columns: Optional[List[str]] = None):
    """Reads every prediction as one pandas DataFrame (for batches known to fit in memory)."""
    import pyarrow as pa

    batches = list(iter_batches(folder, columns))
    if not batches:
        import pyarrow.parquet as pq

        files = part_files(folder)
        return pq.read_table(files[0], columns=columns).to_pandas() if files else None
    return pa.Table.from_batches(batches).to_pandas()
