"""The on-disk layout of a kfp-mlops ``Dataset`` artifact, and readers for it.

A dataset artifact is a directory::

    <dataset>/
      dataset.json              the artifact's metadata (see ``ingest``), also on the artifact
      train/data.parquet        one Parquet file per split, row groups of at most one batch
      eval/data.parquet
      test/data.parquet

Readers stream record batches, so a consumer's memory does not grow with the data.
"""
from __future__ import annotations

import os
from typing import Dict, Iterator, List, Optional

SPLITS = ("train", "eval", "test")
INFO_FILE = "dataset.json"
SPLIT_FILE = "data.parquet"
DEFAULT_BATCH_ROWS = 65_536


class DatasetError(ValueError):
    """A dataset artifact is missing a part or does not hold what was asked for."""


def split_path(dataset_dir: str, split: str) -> str:
    return os.path.join(dataset_dir, split, SPLIT_FILE)


def read_info(dataset_dir: str) -> Dict:
    from kfp_mlops.components._shared import io

    path = os.path.join(dataset_dir, INFO_FILE)
    if not os.path.exists(path):
        raise DatasetError(f"{dataset_dir!r} is not a kfp-mlops dataset: {INFO_FILE} is missing")
    return io.read_json(path)


def available_splits(dataset_dir: str) -> List[str]:
    return [s for s in SPLITS if os.path.exists(split_path(dataset_dir, s))]


def _check_split(dataset_dir: str, split: str) -> str:
    path = split_path(dataset_dir, split)
    if not os.path.exists(path):
        raise DatasetError(
            f"dataset {dataset_dir!r} has no {split!r} split; it has "
            f"{available_splits(dataset_dir) or 'no splits'}")
    return path


def iter_batches(dataset_dir: str, split: str, columns: Optional[List[str]] = None,
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator:
    """Yields ``pyarrow.RecordBatch`` objects of one split, at most ``batch_rows`` rows each."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(_check_split(dataset_dir, split))
    yield from parquet.iter_batches(batch_size=batch_rows, columns=columns)


def read_table(dataset_dir: str, split: str, columns: Optional[List[str]] = None):
    """Reads one whole split as a ``pyarrow.Table`` (for splits known to fit in memory)."""
    import pyarrow.parquet as pq

    return pq.read_table(_check_split(dataset_dir, split), columns=columns)


def read_pandas(dataset_dir: str, split: str, columns: Optional[List[str]] = None):
    """Reads one whole split as a pandas DataFrame."""
    return read_table(dataset_dir, split, columns).to_pandas()


def num_rows(dataset_dir: str, split: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(_check_split(dataset_dir, split)).metadata.num_rows


def arrow_schema(dataset_dir: str, split: str = "train"):
    import pyarrow.parquet as pq

    return pq.read_schema(_check_split(dataset_dir, split))
