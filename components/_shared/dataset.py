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


# --------------------------------------------------------------------------- non-finite values
#
# NaN in a float column is a missing value (TFDV counts it so); +inf and -inf are not: one of
# them turns a mean, a standardisation and every metric after it into inf or NaN. Ingest
# counts them per split and column as it writes (``dataset.json``'s INFINITE_KEY); validate
# reports them as anomalies; train and evaluate refuse a split that holds any.

INFINITE_KEY = "infinite_values"


def infinite_counts_of(data, columns: Optional[List[str]] = None) -> Dict[str, int]:
    """Column -> number of +inf/-inf values in a ``pyarrow`` batch/table or a pandas frame
    (float columns only; columns without any are left out)."""
    import numpy as np

    counts = {}
    if hasattr(data, "schema") and hasattr(data.schema, "names"):  # pyarrow
        import pyarrow as pa

        for i, field in enumerate(data.schema):
            if (columns is None or field.name in columns) and pa.types.is_floating(field.type):
                column = data.column(i)
                chunks = column.chunks if hasattr(column, "chunks") else [column]
                n = sum(int(np.isinf(c.to_numpy(zero_copy_only=False)).sum()) for c in chunks)
                if n:
                    counts[field.name] = counts.get(field.name, 0) + n
        return counts
    for name in data.columns:  # pandas
        if columns is not None and name not in columns:
            continue
        values = data[name]
        if values.dtype.kind == "f":
            n = int(np.isinf(values.to_numpy(dtype="float64", na_value=np.nan)).sum())
            if n:
                counts[str(name)] = n
    return counts


def infinite_counts(dataset_dir: str, split: str, recorded: bool = True) -> Dict[str, int]:
    """Column -> number of +inf/-inf values in one split: ingest's count from ``dataset.json``
    (``recorded``), or counted from the split's float columns (a dataset whose
    ``dataset.json`` has no count, or ``recorded=False``)."""
    import pyarrow as pa

    counted = read_info(dataset_dir).get(INFINITE_KEY) if recorded else None
    if isinstance(counted, dict) and split in counted:
        return {str(k): int(v) for k, v in counted[split].items() if int(v)}
    floats = [f.name for f in arrow_schema(dataset_dir, split) if pa.types.is_floating(f.type)]
    counts: Dict[str, int] = {}
    if not floats:
        return counts
    for batch in iter_batches(dataset_dir, split, columns=floats):
        for name, n in infinite_counts_of(batch).items():
            counts[name] = counts.get(name, 0) + n
    return counts


def describe_infinite(counts: Dict[str, int], split: str, where: str) -> str:
    """``feature 'x' has 3 infinite values (+inf/-inf) in the train split of <where>; ...``."""
    parts = [f"feature {name!r} has {n:,} infinite value{'s' if n != 1 else ''} (+inf/-inf)"
             for name, n in sorted(counts.items())]
    return (f"{'; '.join(parts)} in the {split} split of {where}: replace them (or leave the "
            "cells empty to make them missing values) before training")
