"""Train's input: a split streamed from its Parquet file, never held whole in memory.

A dataset artifact holds one Parquet file per split with row groups of at most one batch
(``_shared.dataset``). Everything train reads goes through :func:`labelled_batches`, one
Arrow record batch at a time, turned into the serving signature's raw inputs
(``_shared.model_io.raw_inputs``), rows without a (known) label dropped:

* :func:`label_info` and :func:`fit_statistics`: one streaming pass each for the label
  (task, vocabulary, labelled rows) and for what the built-in model's preprocessing is
  fitted on (running mean / variance of numeric features and years, bounded counts of
  categorical values: the most frequent ``max_vocabulary`` values, as TFT's
  ``vocabulary(top_k=...)``);
* :func:`make_dataset`: a ``tf.data.Dataset`` of ``(raw feature dict, label)`` batches,
  shuffled through a bounded buffer (the row groups in a new random order every epoch, then
  rows mixed in a buffer of ``shuffle_rows``), rebatched to ``batch_size`` and prefetched.

Memory is bounded by the buffer, a few record batches and the statistics (one number per
numeric feature, at most :data:`MAX_TRACKED_VALUES` counters per categorical feature),
whatever the number of rows.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import model_io
from kfp_mlops.components._shared.model_io import (CATEGORICAL, CLASSIFICATION, NUMERIC,
                                                   REGRESSION, TIME_KINDS, TIMESTAMP)

logger = logging.getLogger(__name__)

#: Rows read from Parquet at a time (one record batch; a split's row groups are no larger).
BATCH_ROWS = ds.DEFAULT_BATCH_ROWS
#: Rows of the shuffle buffer: rows are drawn at random from this many.
SHUFFLE_ROWS = 2 * ds.DEFAULT_BATCH_ROWS
#: Rows the generator hands to TensorFlow at a time, before rebatching to ``batch_size``
#: (large enough that the Python side costs little per row).
CHUNK_ROWS = 8_192
#: Distinct values counted per categorical feature before the rarest are dropped (a
#: feature with more distinct values gets an approximate top-k: a value is dropped only when
#: it is rarer than those kept).
MAX_TRACKED_VALUES = 200_000


# --- reading a split ------------------------------------------------------------------------

def encode_labels(values, task: str, vocabulary: Sequence[str]):
    """Class ids (int64, -1 for missing or unknown) or float32 values (NaN for missing)."""
    import numpy as np

    if task == REGRESSION:
        if hasattr(values, "to_pandas"):  # an Arrow column
            values = values.to_pandas()
        return model_io.numeric_values(values)
    index = {v: i for i, v in enumerate(vocabulary)}
    return np.asarray([index.get(s, -1) for s in _label_strings(values)], dtype=np.int64)


def _label_strings(values):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, (pa.Array, pa.ChunkedArray)) and (
            pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return np.asarray(pc.fill_null(values, "").to_numpy(zero_copy_only=False), dtype=object)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = values.to_pandas()
    return model_io.category_strings(values)


def missing_label(labels, task: str):
    import numpy as np

    return np.isnan(labels) if task == REGRESSION else labels < 0


def labelled_batches(dataset_dir: str, split: str, features: Mapping[str, str], label: str,
                     task: str, vocabulary: Sequence[str], batch_rows: int = BATCH_ROWS,
                     row_groups: Optional[Sequence[int]] = None
                     ) -> Iterator[Tuple[Dict[str, Any], Any]]:
    """Yields ``(raw inputs, labels)`` of one split, one record batch at a time; rows without
    a (known) label are dropped. ``features``: name -> kind; ``row_groups``: which row groups
    of the Parquet file, in this order (all, in file order, by default)."""
    import pyarrow.parquet as pq

    columns = list(features) + ([label] if label not in features else [])
    parquet = pq.ParquetFile(ds.split_path(dataset_dir, split))
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns,
                                      row_groups=row_groups):
        labels = encode_labels(batch.column(batch.schema.get_field_index(label)), task,
                               vocabulary)
        keep = ~missing_label(labels, task)
        if not keep.any():
            continue
        raw = model_io.raw_inputs(batch, dict(features))
        if keep.all():
            yield raw, labels
        else:
            yield {k: v[keep] for k, v in raw.items()}, labels[keep]


def labelled_rows(dataset_dir: str, split: str, label: str, task: str,
                  vocabulary: Sequence[str]) -> int:
    """Rows of a split with a (known) label, streamed over the label column."""
    rows = 0
    for batch in ds.iter_batches(dataset_dir, split, [label]):
        rows += int((~missing_label(encode_labels(batch.column(0), task, vocabulary),
                                    task)).sum())
    return rows


def num_row_groups(dataset_dir: str, split: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(ds.split_path(dataset_dir, split)).metadata.num_row_groups


# --- the label -----------------------------------------------------------------------------

@dataclasses.dataclass
class LabelInfo:
    task: str
    vocabulary: List[str]
    labelled_rows: int


def label_info(dataset_dir: str, label: str, task: str, max_inferred_classes: int,
               error) -> LabelInfo:
    """Task (inferred when ""), label vocabulary and labelled train rows, in one streaming
    pass over the train split's label column. ``error``: the exception class to raise."""
    import numpy as np
    import pyarrow as pa

    arrow_type = ds.arrow_schema(dataset_dir, "train").field(label).type
    inferred = task
    if not inferred:
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or \
                pa.types.is_boolean(arrow_type) or pa.types.is_dictionary(arrow_type) or \
                pa.types.is_binary(arrow_type):
            inferred = CLASSIFICATION
        elif pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
            inferred = REGRESSION
    present = named = 0
    strings: set = set()
    numbers: set = set()          # distinct numbers while the task is still open
    fractional = non_numeric = False
    numeric_rows = 0
    for batch in ds.iter_batches(dataset_dir, "train", [label]):
        column = batch.column(0)
        present += len(column) - column.null_count
        if inferred != REGRESSION:
            found = _label_strings(column)
            named += int((found != "").sum())
            strings.update(found.tolist())
        values = model_io.numeric_values(column.to_pandas()) if inferred != CLASSIFICATION \
            else None
        if values is not None:
            finite = values[~np.isnan(values)]
            numeric_rows += int(finite.size)
            if not inferred:
                if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
                    fractional |= bool(np.any(np.mod(finite, 1) != 0))
                    if len(numbers) <= max_inferred_classes:
                        numbers.update(np.unique(finite).tolist())
                else:
                    non_numeric = True
        del column, batch
    strings.discard("")
    if present == 0:
        raise error(f"label_column {label!r} has no values in the train split")
    if not inferred:
        inferred = (CLASSIFICATION if non_numeric else REGRESSION if fractional
                    else CLASSIFICATION if len(numbers) <= max_inferred_classes else REGRESSION)
        logger.info("task inferred from label %r (%s): %s", label, arrow_type, inferred)
    vocabulary: List[str] = []
    if inferred == CLASSIFICATION:
        vocabulary = model_io.sort_labels(sorted(strings))
        if len(vocabulary) < 2:
            raise error(f"label_column {label!r} has {len(vocabulary)} distinct value(s) "
                        f"{vocabulary} in the train split; classification needs at least 2")
        labelled = named
    else:
        labelled = numeric_rows
    if labelled == 0:
        raise error(f"label_column {label!r} has no numeric values in the train split; "
                    f"task {inferred!r} needs numbers")
    return LabelInfo(inferred, vocabulary, labelled)


# --- the statistics the built-in model's preprocessing is fitted on ------------------------

class RunningMoments:
    """Count, mean and (population) variance of a stream of numbers, merged batch by batch
    (Chan et al.'s parallel update, in float64); NaN is missing and not counted."""

    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, values) -> None:
        import numpy as np

        x = np.asarray(values, dtype=np.float64)
        x = x[~np.isnan(x)]
        if x.size == 0:
            return
        n_b, mean_b = int(x.size), float(x.mean())
        m2_b = float(((x - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    def stats(self) -> Dict[str, float]:
        """``{"mean", "std"}`` as the built-in model standardises with (std 1 when constant
        or empty, mean 0 when empty)."""
        if self.n == 0:
            return {"mean": 0.0, "std": 1.0}
        std = (self.m2 / self.n) ** 0.5
        return {"mean": float(self.mean), "std": float(std) if std > 1e-12 else 1.0}


class TopValues:
    """Counts of the non-empty values of a categorical feature, bounded: past
    ``max_tracked`` distinct values the rarest half are dropped (an approximate top-k for
    features with that many values, exact otherwise)."""

    def __init__(self, max_tracked: int = MAX_TRACKED_VALUES):
        self.counts: Counter = Counter()
        self.max_tracked = max_tracked
        self.pruned = False

    def add(self, values) -> None:
        import numpy as np

        values = np.asarray(values, dtype=object)
        values = values[values != ""]
        if values.size == 0:
            return
        names, counts = np.unique(values.astype(str), return_counts=True)
        self.counts.update(dict(zip(names.tolist(), counts.tolist())))
        if len(self.counts) > self.max_tracked:
            self.counts = Counter(dict(self.counts.most_common(self.max_tracked // 2)))
            self.pruned = True

    def top(self, k: int) -> List[str]:
        """The ``k`` most frequent values, ties broken by the value (as ``_vocabulary``)."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [v for v, _ in ranked[:k]]


def years(values, kind: str):
    """Float64 calendar years (NaN for missing) of float64 days / seconds since the epoch,
    as :func:`core.civil_from_days` counts them."""
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    missing = np.isnan(x)
    x = np.where(missing, 0.0, x)
    days = np.floor(x / 86_400) if kind == TIMESTAMP else np.floor(x)
    out = days.astype(np.int64).astype("datetime64[D]").astype("datetime64[Y]").astype(
        np.int64).astype(np.float64) + 1970.0
    out[missing] = np.nan
    return out


@dataclasses.dataclass
class FitStatistics:
    """What the built-in model's preprocessing needs, from the labelled train rows."""
    numeric: Dict[str, Dict[str, float]]           # feature -> {"mean", "std"}
    years: Dict[str, Dict[str, float]]             # date / timestamp feature -> year {"mean", "std"}
    vocabularies: Dict[str, List[str]]             # categorical feature -> values, most frequent first
    label: Dict[str, float]                        # regression: the label's {"mean", "std"}
    rows: int


def fit_statistics(batches, features: Mapping[str, str], task: str,
                   max_vocabulary: int) -> FitStatistics:
    """One pass over ``(raw inputs, labels)`` batches (:func:`labelled_batches`)."""
    moments = {n: RunningMoments() for n, k in features.items() if k == NUMERIC}
    year_moments = {n: RunningMoments() for n, k in features.items() if k in TIME_KINDS}
    counts = {n: TopValues() for n, k in features.items() if k == CATEGORICAL}
    label = RunningMoments()
    rows = 0
    for raw, labels in batches:
        rows += len(labels)
        for name, m in moments.items():
            m.add(raw[name])
        for name, m in year_moments.items():
            m.add(years(raw[name], features[name]))
        for name, c in counts.items():
            c.add(raw[name])
        if task == REGRESSION:
            label.add(labels)
    for name, c in counts.items():
        if c.pruned:
            logger.warning("categorical feature %r has more than %d distinct values: its "
                           "vocabulary is the approximate top %d", name, c.max_tracked,
                           max_vocabulary)
    return FitStatistics(numeric={n: m.stats() for n, m in moments.items()},
                         years={n: m.stats() for n, m in year_moments.items()},
                         vocabularies={n: c.top(max_vocabulary) for n, c in counts.items()},
                         label=label.stats(), rows=rows)


# --- tf.data --------------------------------------------------------------------------------

class _Shuffler:
    """A bounded shuffle buffer over numpy column dicts: holds at most ``buffer_rows`` plus
    one batch; each time it is full, hands out a random half of it."""

    def __init__(self, buffer_rows: int, rng):
        self.buffer_rows = buffer_rows
        self.rng = rng
        self.parts: List[Tuple[Dict[str, Any], Any]] = []
        self.rows = 0

    def _merge(self):
        import numpy as np

        raw = {k: np.concatenate([p[0][k] for p in self.parts]) for k in self.parts[0][0]}
        labels = np.concatenate([p[1] for p in self.parts])
        return raw, labels

    def add(self, raw, labels):
        self.parts.append((raw, labels))
        self.rows += len(labels)
        if self.rows < self.buffer_rows:
            return None
        raw, labels = self._merge()
        order = self.rng.permutation(len(labels))
        out, keep = order[: len(order) // 2], order[len(order) // 2:]
        self.parts = [({k: v[keep] for k, v in raw.items()}, labels[keep])]
        self.rows = len(keep)
        return {k: v[out] for k, v in raw.items()}, labels[out]

    def rest(self):
        if not self.parts:
            return None
        raw, labels = self._merge()
        order = self.rng.permutation(len(labels))
        self.parts, self.rows = [], 0
        return {k: v[order] for k, v in raw.items()}, labels[order]


def _chunks(raw, labels, size: int):
    for start in range(0, len(labels), size):
        yield {k: v[start:start + size] for k, v in raw.items()}, labels[start:start + size]


def make_dataset(dataset_dir: str, split: str, features: Mapping[str, str], label: str,
                 task: str, vocabulary: Sequence[str], batch_size: int, shuffle: bool = False,
                 seed: int = 0, shuffle_rows: int = SHUFFLE_ROWS, chunk_rows: int = CHUNK_ROWS,
                 batch_rows: int = BATCH_ROWS, rows: Optional[int] = None):
    """A ``tf.data.Dataset`` of ``(raw feature dict, label)`` batches of ``batch_size`` rows,
    streamed from the split (rows without a known label dropped).

    ``shuffle``: every pass (epoch) reads the row groups in a new random order (from
    ``seed`` and the pass number, so a run is repeatable) and mixes rows in a buffer of
    ``shuffle_rows`` rows; memory stays bounded by that buffer. Labels are int64 class ids
    (classification) or float32 values. ``rows``: the labelled rows, when known (then the
    dataset knows its number of batches, as Keras likes; counted here otherwise).
    """
    import numpy as np
    import tensorflow as tf

    specs = model_io.tensor_specs(features)
    label_spec = tf.TensorSpec([None], tf.float32 if task == REGRESSION else tf.int64)
    groups = num_row_groups(dataset_dir, split)
    passes = [0]

    def generate():
        rng = np.random.default_rng([int(seed), passes[0]])
        passes[0] += 1
        order = rng.permutation(groups).tolist() if shuffle else None
        batches = labelled_batches(dataset_dir, split, features, label, task, vocabulary,
                                   batch_rows=batch_rows, row_groups=order)
        if not shuffle:
            for raw, labels in batches:
                yield from _chunks(raw, labels, chunk_rows)
            return
        buffer = _Shuffler(shuffle_rows, rng)
        for raw, labels in batches:
            out = buffer.add(raw, labels)
            if out is not None:
                yield from _chunks(*out, chunk_rows)
        out = buffer.rest()
        if out is not None:
            yield from _chunks(*out, chunk_rows)

    data = tf.data.Dataset.from_generator(
        generate, output_signature=({name: tf.TensorSpec([None], spec.dtype)
                                     for name, spec in specs.items()}, label_spec))
    if rows is None:
        rows = labelled_rows(dataset_dir, split, label, task, vocabulary)
    data = data.rebatch(int(batch_size))
    return data.apply(tf.data.experimental.assert_cardinality(-(-int(rows) // int(batch_size))))
