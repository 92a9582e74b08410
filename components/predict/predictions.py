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
``format_version`` (:data:`FORMAT_VERSION`); the predict component also writes
``input_files`` (the files read, in order; empty for BigQuery).

Stdlib only at import time; pyarrow is imported by the functions that need it.

Writing: :func:`prediction_table` builds a chunk's columns and :func:`writer` writes the
folder chunk by chunk (a part file per ``rows_per_file`` rows, ``predictions.json`` last,
in a staging folder that appears at its path only when complete).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence

FORMAT_VERSION = 1
METADATA_FILE = "predictions.json"
PART_PATTERN = re.compile(r"^part-\d{5}\.parquet$")
ROW_KEY = "input_row"
PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
#: Rows per part file the writer starts a new part after.
DEFAULT_ROWS_PER_FILE = 100_000
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


# --------------------------------------------------------------------------- writing

def prediction_table(key_column: str, keys, predictions, probabilities, classes: Sequence[str],
                     model_name: str, model_version: str):
    """One chunk of predictions as a ``pyarrow.Table`` with the columns of the format.

    Args:
        key_column: The key column's name (:data:`ROW_KEY` when the input had none).
        keys: Its values (a pyarrow array as read, or int64 row positions).
        predictions: The predicted classes (strings) or values (floats), one per row.
        probabilities: ``[rows, len(classes)]`` class probabilities, or None (regression).
        classes: The classes, in the order of the probabilities' columns ([] for regression).
        model_name: The registered model that scored.
        model_version: Its version.
    """
    import numpy as np
    import pyarrow as pa

    n = len(predictions)
    keys = keys if isinstance(keys, (pa.Array, pa.ChunkedArray)) else pa.array(
        np.asarray(keys, dtype=np.int64) if key_column == ROW_KEY else keys)
    if probabilities is None:
        prediction = pa.array(np.asarray(predictions, dtype=np.float64), pa.float64())
    else:
        prediction = pa.array([str(p) for p in predictions], pa.string())
    columns = {key_column: keys, PREDICTION: prediction}
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.shape != (n, len(classes)):
            raise PredictionsError(f"probabilities of shape {probabilities.shape}: expected "
                                   f"{(n, len(classes))} (rows, classes {list(classes)})")
        for i, label in enumerate(classes):
            columns[probability_column(label)] = pa.array(probabilities[:, i], pa.float64())
    columns[MODEL_NAME] = pa.array([model_name] * n, pa.string())
    columns[MODEL_VERSION] = pa.array([str(model_version)] * n, pa.string())
    return pa.table(columns)


class PredictionsWriter:
    """Appends prediction chunks to part files of at most ``rows_per_file`` rows each.

    One part file is open at a time, and each chunk is written as it comes: memory holds a
    chunk, not the predictions. Use through :func:`writer`.
    """

    def __init__(self, folder: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE):
        if rows_per_file <= 0:
            raise PredictionsError(f"rows_per_file must be a positive number of rows, not "
                                   f"{rows_per_file}")
        self.folder = folder
        self.rows_per_file = rows_per_file
        self.rows = 0
        self.files: List[str] = []
        self.schema = None
        self._part = None
        self._part_rows = 0
        self.finished = False

    def write(self, table) -> None:
        """Appends a chunk (a ``pyarrow.Table`` from :func:`prediction_table`)."""
        import pyarrow.parquet as pq

        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            raise PredictionsError(f"a chunk's columns {table.schema} differ from the first "
                                   f"chunk's {self.schema}")
        start = 0
        while start < table.num_rows:
            if self._part is None:
                name = part_name(len(self.files))
                self._part = pq.ParquetWriter(os.path.join(self.folder, name), self.schema,
                                              compression="snappy")
                self.files.append(name)
            take = min(table.num_rows - start, self.rows_per_file - self._part_rows)
            self._part.write_table(table.slice(start, take))
            start += take
            self._part_rows += take
            self.rows += take
            if self._part_rows >= self.rows_per_file:
                self._close_part()

    def _close_part(self) -> None:
        if self._part is not None:
            self._part.close()
            self._part = None
            self._part_rows = 0

    def finish(self, metadata: Dict[str, Any]) -> Dict[str, Any]:
        """Closes the last part and writes ``predictions.json`` (``rows``, ``files``,
        ``created`` and ``format_version`` filled in); returns what it wrote."""
        import datetime

        self._close_part()
        if not self.files and self.schema is not None:  # no rows: one empty part, typed
            import pyarrow.parquet as pq

            self.files.append(part_name(0))
            pq.write_table(self.schema.empty_table(), os.path.join(self.folder, self.files[0]))
        written = dict(metadata, rows=self.rows, files=list(self.files),
                       format_version=FORMAT_VERSION)
        written.setdefault("created", datetime.datetime.now(datetime.timezone.utc)
                           .isoformat(timespec="seconds"))
        missing = [k for k in REQUIRED_METADATA if k not in written]
        if missing:
            raise PredictionsError(f"predictions metadata lacks {', '.join(missing)}")
        with open(os.path.join(self.folder, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(written, f, indent=2, sort_keys=True)
        self.finished = True
        return written


@contextlib.contextmanager
def writer(folder: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE) -> Iterator[PredictionsWriter]:
    """A :class:`PredictionsWriter` into a staging folder that appears at ``folder`` only
    when the block ends after :meth:`PredictionsWriter.finish` (``_shared.io.output_dir``:
    renamed into place locally; on a FUSE mount written in place, ``predictions.json`` last,
    and removed on failure). A run killed half way leaves nothing that reads as predictions.

    Raises:
        PredictionsError: the block ended without calling ``finish``.
    """
    from kfp_mlops.components._shared import io

    with io.output_dir(folder) as staging:
        out = PredictionsWriter(staging, rows_per_file)
        try:
            yield out
        finally:
            out._close_part()
        if not out.finished:
            raise PredictionsError(f"predictions for {folder!r} were not finished")


def check_destination(uri: str) -> None:
    """Refuses a destination that already holds predictions (before anything is scored).

    Raises:
        PredictionsError: ``uri`` holds a ``predictions.json``.
    """
    from kfp_mlops.components._shared import io

    if io.exists(io.join(uri, METADATA_FILE)):
        raise PredictionsError(f"output_uri {uri!r} already holds predictions "
                               f"({METADATA_FILE}); choose a new folder for each batch")


def publish(folder: str, uri: str) -> str:
    """Copies a finished predictions folder to ``uri`` (a local path, ``gs://`` or ``s3://``
    folder): the part files first, then ``predictions.json`` create-only, so the copy reads
    as complete only once it is, and of two runs publishing to one folder one wins.

    Returns:
        ``uri``'s ``predictions.json``.

    Raises:
        PredictionsError: ``uri`` already holds predictions.
    """
    from kfp_mlops.components._shared import io

    metadata = read_metadata(folder)
    check_destination(uri)
    for path in part_files(folder, metadata):
        io.put_file(path, io.join(uri, os.path.basename(path)))
    target = io.join(uri, METADATA_FILE)
    with open(os.path.join(folder, METADATA_FILE), "rb") as f:
        if not io.create_exclusive(target, f.read()):
            raise PredictionsError(f"output_uri {uri!r} already holds predictions "
                                   f"({METADATA_FILE}); choose a new folder for each batch")
    return target
