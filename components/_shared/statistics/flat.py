"""Feeds TFDV's basic and top-k statistics combiners straight from flat Arrow columns.

TFDV's combiners take every column as a ``large_list`` (one value per row, a null list for
a missing value) and, per batch and feature, recover from the lists what a flat column
already says: which rows are present (a null bitmap turned into bytes), how many values each
row has (all ones), and a ``value_counts`` of those ones for the valency sketch; then they
flatten the lists again. For flat columns this module skips the round trip: it fills the
same accumulators (TFDV's own ``_PartialBasicStats`` and top-k sketches) with the same
numbers, calling TFDV's own per-type update code on the column's non-null values. Merging,
compaction and extraction stay TFDV's, so the statistics are byte-identical to those of
TFDV's ``add_input`` on the canonical lists (the tests check this on every supported type).

Three further savings leave the statistics unchanged too: each one gives a sketch, while
that sketch is exact, the very state it would reach value by value:

* an integer column whose Parquet min/max span fewer values than half the quantiles
  sketch's block (about 6,000 entries at TFDV's default epsilon) is summarised exactly by
  that sketch whatever the order and grouping of its values, so it gets (value, count)
  pairs, as TFDV already does for its valency sketch;
* a top-k (Misra-Gries) sketch gets (value, count) pairs while its feature's distinct values
  fit in its buckets (its counts are exact until then), and values one by one from the first
  batch that would overflow them; the distinct-count (KMV) sketch gets each batch's distinct
  values, which leave it in the same state as all of them; the string statistics (total
  length, invalid UTF-8) come from the same counts;
* extraction builds TFDV's equi-width histograms on arrays rather than by walking a
  protobuf one bucket pair at a time (:func:`equi_width_histogram`: the same protobuf).

Everything here relies on TFDV's internals, so it is used only with the TFDV versions it was
tested with (:func:`fast_path_available`, reading the package's ``TESTED_TFDV``); with any
other version, or for generators, options and column types it does not cover, the builder
takes TFDV's general path (:mod:`.reference`). :func:`singleton_list`, the fast conversion to
TFDV's canonical lists, relies only on Arrow's layout and is equal to tfx_bsl's on any version.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Dict, FrozenSet, Iterable, Optional, Sequence, Tuple

#: Counts up to this are exact as the float32 weights Misra-Gries sketches take.
_MAX_EXACT_FLOAT32 = 1 << 24
#: ``max_num_elements`` of the quantiles sketches TFDV's basic generator makes.
_MAX_SKETCH_ELEMENTS = 1 << 32


@functools.lru_cache(maxsize=None)
def fast_path_available() -> bool:
    """True when the installed TFDV is one of ``statistics.TESTED_TFDV``, whose internals this
    module was tested with: only then do statistics take the flat path."""
    import importlib.metadata

    from kfp_mlops.components._shared.statistics import TESTED_TFDV

    try:
        return importlib.metadata.version("tensorflow-data-validation") in TESTED_TFDV
    except importlib.metadata.PackageNotFoundError:
        return False


def flat_values(array):
    """The non-null values of a flat column, in the type TFDV's combiners expect.

    int64 and float64 columns as they are; strings and binaries as ``large_binary``, with the
    character data shared rather than copied. None for other types.
    """
    import numpy as np
    import pyarrow as pa

    t = array.type
    narrow_bytes = pa.types.is_string(t) or pa.types.is_binary(t)
    wide_bytes = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
    if not (narrow_bytes or wide_bytes or t == pa.int64() or t == pa.float64()):
        return None
    values = array.drop_null() if array.null_count else array
    if narrow_bytes:
        buffers = values.buffers()
        if buffers[1] is None:  # an empty array may have no offsets buffer
            offsets = np.zeros(1, dtype=np.int64)
        else:
            offsets = np.frombuffer(buffers[1], dtype=np.int32, count=len(values) + 1,
                                    offset=values.offset * 4).astype(np.int64)
        values = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(values), [None, pa.py_buffer(offsets), buffers[2]], 0)
    elif pa.types.is_large_string(t):
        values = values.view(pa.large_binary())
    return values


def singleton_list(array):
    """``ToSingletonListArray(reference.canonical_array(array))``, faster, for common types.

    Covers int64, float64, string, large string, binary and large binary columns (what
    ingest writes); returns None for any other type, which takes the general path. The result
    is equal to tfx_bsl's: a ``large_list`` whose non-null rows hold one value and whose null
    rows are null, empty lists; the child holds the non-null values only. tfx_bsl casts
    strings to ``large_binary`` by copying every byte; here the offsets are widened to 64
    bits and the character data is shared, which makes the conversion several times faster.
    """
    import numpy as np
    import pyarrow as pa

    values = flat_values(array)
    if values is None:
        return None
    n = len(array)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
        offsets = np.empty(n + 1, dtype=np.int64)
        offsets[0] = 0
        np.cumsum(valid, out=offsets[1:])
        validity = pa.array(valid, type=pa.bool_()).buffers()[1]
    else:
        offsets = np.arange(n + 1, dtype=np.int64)
        validity = None
    return pa.LargeListArray.from_buffers(pa.large_list(values.type), n,
                                          [validity, pa.py_buffer(offsets)],
                                          array.null_count, children=[values])


def sketch_block_size(epsilon: float) -> int:
    """Entries the quantiles sketch keeps per summary before it approximates.

    tfx_bsl's ``QuantilesSketch(eps, 2**32, 1)`` runs its streams with ``eps / 3`` and sizes
    their blocks as ``WeightedQuantilesStream::GetQuantileSpecs`` does; a summary of at most
    this many distinct values is never compressed, so it is exact.
    """
    eps = epsilon / 3
    level, block = 1, 2
    while (1 << level) * block < _MAX_SKETCH_ELEMENTS:
        block = int(math.ceil(level / eps)) + 1
        level += 1
    return max(block, 2)


def exact_int_columns(parquet_path: str, epsilon: float = 0.01) -> FrozenSet[str]:
    """int64 columns of a Parquet file whose values span fewer than half a sketch block.

    Read from the row groups' min/max statistics; a column without statistics in some row
    group that holds values does not qualify.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    limit = sketch_block_size(epsilon) // 2
    parquet = pq.ParquetFile(parquet_path)
    arrow_schema = parquet.schema_arrow
    metadata = parquet.metadata
    names = [f.name for f in arrow_schema if f.type == pa.int64()]
    index = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    result = set()
    for name in names:
        i = index.get(name)
        if i is None:
            continue
        low, high, ok = None, None, True
        for g in range(metadata.num_row_groups):
            column = metadata.row_group(g).column(i)
            stats = column.statistics
            if stats is None:
                ok = False
                break
            if not stats.has_min_max:
                if stats.has_null_count and stats.null_count == column.num_values:
                    continue  # no values in this row group
                ok = False
                break
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
        if ok and (low is None or high - low < limit):
            result.add(name)
    return frozenset(result)


class _GroupedSketch:
    """Stands in for a numeric feature's quantiles sketch during one TFDV update, feeding
    the real sketch (value, count) pairs instead of one entry per value."""

    __slots__ = ("sketch",)

    def __init__(self, sketch):
        self.sketch = sketch

    def AddValues(self, values, weights=None):  # noqa: N802 (tfx_bsl's name)
        if weights is not None:  # weighted features never take the flat path
            raise AssertionError("grouped quantiles take unweighted values only")
        grouped = values.value_counts()
        self.sketch.AddValues(grouped.field(0), grouped.field(1))


def _add_grouped_string_stats(string_stats, grouped) -> bool:
    """What ``_PartialStringStats.update`` adds for the values counted in ``grouped`` (a
    ``value_counts`` result): their total byte length and their invalid UTF-8 count, here
    from each distinct value times its count. False (nothing added) when some distinct value
    is not UTF-8; TFDV's own update then counts them."""
    import numpy as np
    import pyarrow.compute as pc
    from tfx_bsl.arrow import array_util

    distinct, counts = grouped.field(0), grouped.field(1)
    if array_util.CountInvalidUTF8(distinct):
        return False
    lengths = pc.binary_length(distinct).to_numpy(zero_copy_only=False).astype(np.int64)
    string_stats.total_bytes_length += int(np.dot(lengths, counts.to_numpy()))
    return True


def _plain(values) -> bool:
    """True when no value is one the Misra-Gries sketch replaces by a placeholder (over
    TFDV's large-string threshold, or not UTF-8): weighted input does not get them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from tensorflow_data_validation.statistics.generators import \
        top_k_uniques_sketch_stats_generator as topk_module
    from tfx_bsl.arrow import array_util

    if not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        return True  # numbers: no placeholders
    longest = pc.max(pc.binary_length(values)).as_py() or 0
    return (longest <= topk_module._LARGE_STRING_THRESHOLD
            and array_util.CountInvalidUTF8(values) == 0)


class FlatFeeder:
    """Adds flat columns to the accumulators of TFDV's basic and top-k generators.

    Use :meth:`for_generators` to get one, or None when the generators, their options or
    the TFDV version are not the ones covered; then every column takes TFDV's general path.
    """

    def __init__(self, basic, topk, exact_ints: Iterable[str] = ()):
        self._basic = basic
        self._topk = topk
        self._exact_ints = frozenset(exact_ints)
        self._paths: Dict[str, Any] = {}
        # Per feature: the distinct values its Misra-Gries sketch holds exactly, or None once
        # they outgrew its buckets (TFDV sizes the sketch as below).
        self._top_k_seen: Dict[Any, Optional[set]] = {}
        self._top_k_buckets = (max(topk._num_misragries_buckets, topk._num_top_values,
                                   topk._num_rank_histogram_buckets)
                               if topk is not None else 0)

    @classmethod
    def for_generators(cls, generators: Sequence, exact_ints: Iterable[str] = ()
                       ) -> Optional[Tuple["FlatFeeder", int, Optional[int]]]:
        """(feeder, index of the basic generator, index of the top-k generator or None),
        or None when the fast path does not apply."""
        from tensorflow_data_validation.statistics.generators import basic_stats_generator
        from tensorflow_data_validation.statistics.generators import \
            top_k_uniques_sketch_stats_generator as topk_module

        if not fast_path_available():
            return None
        basic_index = topk_index = None
        for i, gen in enumerate(generators):
            kind = type(gen)
            if kind is basic_stats_generator.BasicStatsGenerator and basic_index is None:
                basic_index = i
            elif (kind is topk_module.TopKUniquesSketchStatsGenerator
                  and topk_index is None):
                topk_index = i
            else:
                return None  # another generator needs the canonical batch anyway
        if basic_index is None:
            return None
        basic = generators[basic_index]
        if basic._example_weight_map.all_weight_features() or basic._column_hasher is not None:
            return None
        topk = generators[topk_index] if topk_index is not None else None
        if topk is not None and topk._example_weight_map.all_weight_features():
            return None
        return cls(basic, topk, exact_ints), basic_index, topk_index

    def _path(self, name: str):
        path = self._paths.get(name)
        if path is None:
            from tensorflow_data_validation import types

            path = self._paths[name] = types.FeaturePath([name])
        return path

    def _sketch_fn(self, path):
        gen = self._basic
        if gen._feature_config.should_compute_histograms(path):
            return gen._make_quantiles_sketch_fn
        return lambda: None  # as TFDV does

    def reserve(self, basic_acc, names: Sequence[str]) -> None:
        """Creates the basic accumulator's entries of ``names`` in that order (the order of
        the features in the statistics), as TFDV's ``add_input`` would on its first batch."""
        from tensorflow_data_validation.statistics.generators import basic_stats_generator as b

        for name in names:
            path = self._path(name)
            if path not in basic_acc:
                basic_acc[path] = b._PartialBasicStats(False, self._sketch_fn(path))

    def add(self, basic_acc, topk_acc, name: str, column, values) -> None:
        """Adds one flat column (``values`` = :func:`flat_values` of it) to both accumulators."""
        import pyarrow as pa
        from tensorflow_data_validation.statistics.generators import basic_stats_generator as b
        from tensorflow_data_validation.utils import stats_util
        from tensorflow_data_validation.utils import top_k_uniques_stats_util

        path = self._path(name)
        gen = self._basic
        feature_type = stats_util.get_feature_type_from_arrow_type(
            path, pa.large_list(values.type))
        sketch_fn = self._sketch_fn(path)
        stats = basic_acc.get(path)
        if stats is None:
            stats = basic_acc[path] = b._PartialBasicStats(False, sketch_fn)

        # Common statistics: what _PartialCommonStats.update finds for one level of lists
        # holding one value per present row.
        common = stats.common_stats
        if common.type is None:
            common.type = feature_type
        elif feature_type is not None and common.type != feature_type:
            raise TypeError("Cannot determine the type of feature %s. Found values of types "
                            "%s and %s." % (path, common.type, feature_type))
        if common.presence_and_valency_stats is None:
            common.presence_and_valency_stats = [b._PresenceAndValencyStats(sketch_fn, False)]
        elif len(common.presence_and_valency_stats) != 1:
            raise ValueError("Inconsistent nestedness in feature {}: {} vs {}".format(
                path, 1, len(common.presence_and_valency_stats)))
        present = len(values)
        level = common.presence_and_valency_stats[0]
        level.num_non_missing += len(column) - column.null_count
        if present:
            level.max_num_values = max(level.max_num_values, 1)
            level.min_num_values = min(level.min_num_values, 1)
            level.total_num_values += present
            if level.num_values_summary is not None:
                level.num_values_summary.AddValues(pa.array([1], pa.int64()),
                                                   pa.array([present], pa.int64()))

        # Type-specific statistics, with TFDV's own update code on the flat values.
        from tensorflow_metadata.proto.v0 import statistics_pb2

        kinds = statistics_pb2.FeatureNameStatistics
        topk = self._topk
        top_k = topk is not None and topk._should_run(path, feature_type)
        grouped = values.value_counts() if top_k and len(values) else None
        if feature_type == kinds.STRING:
            if path in gen._bytes_features:
                stats.bytes_stats.update(values)
            elif grouped is None or not _add_grouped_string_stats(stats.string_stats, grouped):
                stats.string_stats.update(values)
        elif top_k_uniques_stats_util.output_categorical_numeric(
                gen._categorical_numeric_types, path, feature_type):
            stats.string_stats.update(values)
        elif feature_type in (kinds.FLOAT, kinds.INT):
            numeric = stats.numeric_stats
            sketch = numeric.quantiles_summary
            if name in self._exact_ints and feature_type == kinds.INT and sketch is not None:
                numeric.quantiles_summary = _GroupedSketch(sketch)
                try:
                    numeric.update(values)
                finally:
                    numeric.quantiles_summary = sketch
            else:
                numeric.update(values)

        if top_k:
            self._add_top_k(topk_acc, path, values, grouped)

    def _add_top_k(self, topk_acc, path, values, grouped) -> None:
        """Feeds the feature's distinct-count (KMV) and top-k (Misra-Gries) sketches.

        KMV keeps the smallest hashes of the distinct values, so each batch's distinct values
        give it the same state as every value. Misra-Gries keeps exact counts until it sees
        more distinct values than it has buckets, and only then starts to approximate; while
        the feature's distinct values seen so far fit in its buckets, (value, count) pairs give
        it the same exact counts as one value at a time. From the first batch that would
        overflow them, that batch and every later one go in value by value, from that same
        exact state, as on TFDV's path.
        """
        import pyarrow as pa

        sketch = topk_acc.get(path)
        if sketch is None:  # TFDV makes the sketches, with its options
            self._topk._update_combined_sketch_for_feature(path, values.slice(0, 0), None,
                                                           topk_acc)
            sketch = topk_acc[path]
        if not len(values):
            return
        distinct, counts = grouped.field(0), grouped.field(1)
        sketch._distinct.AddValues(distinct)
        seen = self._top_k_seen.get(path, set())
        if seen is not None and len(values) < _MAX_EXACT_FLOAT32 and _plain(distinct):
            batch_values = distinct.to_pylist()
            if len(seen) + len(batch_values) > self._top_k_buckets:
                seen = seen.union(batch_values)
            else:
                seen.update(batch_values)
            if len(seen) <= self._top_k_buckets:
                self._top_k_seen[path] = seen
                sketch._topk_unweighted.AddValues(distinct, counts.cast(pa.float32()))
                return
        self._top_k_seen[path] = None  # approximating from here on: value by value
        sketch._topk_unweighted.AddValues(values)


# --------------------------------------------------------------------------------------
# Extraction: TFDV's equi-width histogram, computed on arrays
# --------------------------------------------------------------------------------------

def _bin_weights(boundaries, cumulative_counts):
    """``quantiles_util._get_bin_weights`` of TFDV 1.16, with its loops over bins replaced
    by array operations (the same sums, over the same slices, in the same order)."""
    import numpy as np

    cumulative = cumulative_counts.astype(np.float64)
    lows, highs = boundaries[:-1], boundaries[1:]
    counts = np.diff(cumulative)
    size = lows.size
    if size > 1:
        # Runs of bins sharing their upper bound share their weight evenly.
        starts = np.flatnonzero(np.concatenate([[True], highs[1:] != highs[:-1]]))
        ends = np.append(starts[1:], size)
        for a, b in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist()):
            counts[a:b] = counts[a:b].sum() / (b - a)
    if size:
        # The weight of the minimum goes to the bins identical to the first one.
        same = (lows == lows[0]) & (highs == highs[0])
        first_other = size if same.all() else int(np.argmin(same))
        if first_other > 0:
            counts[0:first_other] += cumulative[0] / first_other
    return lows, highs, counts


def equi_width_histogram(quantiles, cumulative_counts, finite_min: float, finite_max: float,
                         num_buckets: int, num_pos_inf: float):
    """``quantiles_util.generate_equi_width_histogram`` of TFDV 1.16, on numpy arrays.

    TFDV builds a protobuf histogram of the ~1,000 quantile buckets and walks it with one
    Python call per (output bucket, quantile bucket) pair; this walks the same pairs in the
    same order, with the same arithmetic, over arrays: the result is the same protobuf, bit
    for bit (the tests compare the two on thousands of sketches), several times faster.
    Extraction calls it three times per numeric feature.
    """
    import numpy as np
    from tensorflow_data_validation.utils import quantiles_util
    from tensorflow_metadata.proto.v0 import statistics_pb2

    result = statistics_pb2.Histogram()
    result.type = statistics_pb2.Histogram.STANDARD
    if not np.isfinite(finite_min) and not np.isfinite(finite_max):
        result.buckets.add(low_value=finite_min, high_value=finite_max,
                           sample_count=cumulative_counts[-1])
        return result
    assert np.isfinite(finite_min)
    assert np.isfinite(finite_max)
    assert np.all(quantiles[:-1] <= quantiles[1:])
    quantiles, cumulative_counts, num_neg_inf = quantiles_util._strip_infinities(
        quantiles, cumulative_counts, finite_max, num_pos_inf)
    # TFDV walks a protobuf of these, which stores them as doubles: the same values.
    lows, highs, counts = (np.asarray(a, dtype=np.float64)
                           for a in _bin_weights(quantiles, cumulative_counts))
    if finite_min == finite_max:
        boundaries = np.array([finite_min, finite_max])
    else:
        boundaries = np.linspace(finite_min, finite_max, num_buckets + 1)
        if not np.isfinite(boundaries).all():
            return result
    if num_neg_inf:
        result.buckets.add(low_value=float("-inf"), high_value=float("-inf"),
                           sample_count=num_neg_inf)
    start, size = 0, lows.size
    point = highs == lows
    for i in range(boundaries.size - 1):
        low, high = boundaries[i], boundaries[i + 1]
        sample_count = 0
        if start < size:
            lo, hi = lows[start:], highs[start:]
            point_at_low = point[start:] & (lo == low)
            # TFDV's _overlap, case by case and in its order: a point bucket on the low edge
            # is inside the first interval and before any other; a bucket below the interval
            # precedes it; the first bucket above it ends the walk.
            precedes = (hi < low) | point_at_low if i else (hi < low) & ~point_at_low
            follows = (lo > high) & ~precedes & ~point_at_low
            stop = int(np.argmax(follows)) if follows.any() else lo.size
            lo, hi, precedes = lo[:stop], hi[:stop], precedes[:stop]
            inside = ~precedes & (point_at_low[:stop] if i == 0 else False)
            partial = ~precedes & ~inside
            contained = partial & (low <= lo) & (high >= hi)
            left = partial & ~contained & (low <= lo)
            right = partial & ~contained & ~left & (high >= hi)
            within = partial & ~contained & ~left & ~right & (low > lo) & (high < hi)
            if (partial & ~(contained | left | right | within)).any():
                raise ValueError("Unable to compute overlap between (%f, %f) and a "
                                 "quantiles bucket" % (low, high))
            overlap = np.zeros(stop)
            overlap[inside | contained] = 1.0
            with np.errstate(divide="ignore", invalid="ignore"):
                width = hi - lo
                overlap[left] = ((high - lo) / width)[left]
                overlap[right] = ((hi - low) / width)[right]
                overlap[within] = ((high - low) / width)[within]
            products = overlap * counts[start:start + stop]
            if stop:
                sample_count = 0 + np.add.accumulate(products)[-1]  # TFDV's order of sums
            preceding = np.flatnonzero(precedes)
            if preceding.size:
                start += int(preceding[-1])
        result.buckets.add(low_value=low, high_value=high, sample_count=sample_count)
    if num_pos_inf:
        result.buckets.add(low_value=float("inf"), high_value=float("inf"),
                           sample_count=num_pos_inf)
    return result


class faster_extraction:  # noqa: N801 (used as a context manager, like a function)
    """Within the block, TFDV's extraction builds equi-width histograms with
    :func:`equi_width_histogram` (the same protobufs, faster); restored on exit. Nothing is
    swapped unless :func:`fast_path_available`."""

    def __enter__(self):
        from tensorflow_data_validation.utils import quantiles_util

        self._module = None
        if not fast_path_available():
            return self
        self._module = quantiles_util
        self._original = quantiles_util.generate_equi_width_histogram
        quantiles_util.generate_equi_width_histogram = equi_width_histogram
        return self

    def __exit__(self, *exc) -> None:
        if self._module is not None:
            self._module.generate_equi_width_histogram = self._original
