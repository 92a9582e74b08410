"""TensorFlow Data Validation helpers shared by ``validate`` and ``monitor``.

* statistics of a stream of Arrow record batches, in process, with TFDV's own combiner
  generators (the code TFDV's Beam pipeline runs, without Beam's per-element overhead), or
  with a Beam pipeline when the data is beyond one machine;
* per-feature distances between two statistics (L-infinity for categorical features,
  Jensen-Shannon divergence for numeric ones) for EVERY feature, not only the anomalous ones;
* readable views of statistics and anomalies (summaries and reasons).

Module top imports only the standard library; TFDV, TensorFlow and pyarrow are imported
inside the functions that need them.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

TRAINING = "TRAINING"
SERVING = "SERVING"
L_INFTY = "L_INFTY"
JENSEN_SHANNON_DIVERGENCE = "JENSEN_SHANNON_DIVERGENCE"
#: Vertex AI Model Monitoring's default skew/drift threshold.
DEFAULT_THRESHOLD = 0.3
#: Statistics file name and folder prefix of TFX's StatisticsGen/ExampleValidator layout.
STATS_FILE = "FeatureStats.pb"
ANOMALIES_FILE = "SchemaDiff.pb"
SPLIT_PREFIX = "Split-"
#: The comparator threshold used to make TFDV measure every feature.
_MEASURE_THRESHOLD = 0.0
# Accumulators are compacted every this many rows (sketch merges are cheap but not free).
_COMPACT_EVERY_ROWS = 1_000_000


def split_dir(root: str, split: str) -> str:
    """``<root>/Split-<split>``: TFX's folder for one split of a statistics/anomalies artifact."""
    return os.path.join(root, SPLIT_PREFIX + split)


# --------------------------------------------------------------------------------------
# Arrow -> TFDV canonical record batches
# --------------------------------------------------------------------------------------

def _canonical_array(array):
    """Returns ``array`` cast to the primitive type TFDV expects, or None if unsupported."""
    import pyarrow as pa

    t = array.type
    if pa.types.is_dictionary(t):
        array = array.cast(t.value_type)
        t = array.type
    if pa.types.is_large_binary(t):
        return array
    if (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_fixed_size_binary(t)):
        return array.cast(pa.large_binary())
    if pa.types.is_boolean(t):
        return array.cast(pa.int8())
    if pa.types.is_unsigned_integer(t):
        return array if t == pa.uint64() else array.cast(pa.uint64())
    if pa.types.is_integer(t):
        return array if t == pa.int64() else array.cast(pa.int64())
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return array if t == pa.float64() else array.cast(pa.float64())
    if pa.types.is_null(t):
        return array
    return None


def unsupported_columns(arrow_schema) -> List[str]:
    """Columns TFDV cannot describe (dates, timestamps, nested types): they are skipped."""
    import pyarrow as pa

    return [f.name for f in arrow_schema
            if _canonical_array(pa.nulls(0, type=f.type)) is None]


def bool_columns(arrow_schema) -> List[str]:
    import pyarrow as pa

    return [f.name for f in arrow_schema if pa.types.is_boolean(f.type)]


def canonicalize_batch(batch, skip: Sequence[str] = ()):
    """Converts a flat ``pyarrow.RecordBatch`` to TFDV's form: one ``large_list`` per column.

    Strings become ``large_binary``, integers ``int64``, floats ``float64``, booleans ``int8``
    (describe them with :func:`stats_options` so TFDV treats them as categorical); a null
    becomes a null list (a missing value), as ``tfdv.generate_statistics_from_dataframe`` does
    through ``table_util.CanonicalizeRecordBatch``. Columns in ``skip`` are dropped.
    """
    import pyarrow as pa
    from tfx_bsl.arrow import array_util

    arrays, names = [], []
    for name, column in zip(batch.schema.names, batch.columns):
        if name in skip:
            continue
        if pa.types.is_large_list(column.type):
            arrays.append(column)
        elif pa.types.is_list(column.type):
            arrays.append(column.cast(pa.large_list(column.type.value_type)))
        else:
            fast = _singleton_list(column)
            if fast is not None:
                arrays.append(fast)
            else:
                canonical = _canonical_array(column)
                if canonical is None:
                    raise TypeError(f"column {name!r} has type {column.type}, which TFDV "
                                    "cannot describe; drop it or cast it to a number or a string")
                arrays.append(array_util.ToSingletonListArray(canonical))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names)


def _singleton_list(array):
    """``ToSingletonListArray(_canonical_array(array))`` for the common column types, faster.

    Covers int64, float64, string, large string, binary and large binary columns (what
    ingest writes); returns None for any other type, which takes the general path. The result
    is equal to tfx_bsl's: a ``large_list`` whose non-null rows hold one value and whose null
    rows are null, empty lists; the child holds the non-null values only. tfx_bsl casts
    strings to ``large_binary`` by copying every byte; here the offsets are widened to 64
    bits and the character data is shared, which makes the conversion several times faster.
    """
    import numpy as np
    import pyarrow as pa

    from kfp_mlops.components._shared import flat_stats

    values = flat_stats.flat_values(array)
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


def stats_options(bool_features: Sequence[str] = (), schema=None):
    """``tfdv.StatsOptions`` for data whose boolean columns are ``bool_features``.

    Booleans are INT features with a ``bool_domain`` (categorical, like TFDV does for pandas
    booleans). ``schema`` (a curated schema) is used when given, so its categorical integer
    features get string statistics.
    """
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    options = tfdv.StatsOptions()
    stats_schema = copy.deepcopy(schema) if schema is not None else schema_pb2.Schema()
    known = {f.name: f for f in stats_schema.feature}
    for name in bool_features:
        feature = known.get(name) or stats_schema.feature.add(name=name)
        feature.type = schema_pb2.INT
        if not feature.HasField("bool_domain"):
            feature.bool_domain.SetInParent()
    if stats_schema.feature:
        options.schema = stats_schema
    return options


class StatisticsBuilder:
    """Folds record batches into TFDV statistics in process, with constant memory.

    One accumulator per TFDV combiner generator (``stats_impl.get_generators(options,
    in_memory=True)``), created once; every batch goes through ``add_input``; accumulators
    are compacted every ``compact_every_rows`` rows; :meth:`result` extracts the
    ``DatasetFeatureStatisticsList``. Sketches (quantiles, top-k, distinct counts) keep the
    state bounded, so memory does not grow with the number of rows.
    """

    def __init__(self, options=None, skip_columns: Sequence[str] = (),
                 compact_every_rows: int = _COMPACT_EVERY_ROWS,
                 exact_int_columns: Iterable[str] = (), flat_path: bool = True):
        import tensorflow_data_validation as tfdv
        from tensorflow_data_validation.statistics import stats_impl

        from kfp_mlops.components._shared import flat_stats

        self._options = options if options is not None else tfdv.StatsOptions()
        self._generators = stats_impl.get_generators(self._options, in_memory=True)
        for gen in self._generators:
            gen.setup()
            # The top-k generator samples 1% of (batch, feature) pairs to feed Beam metric
            # counters of string lengths with a per-value Python loop; outside Beam those
            # counters go nowhere, so skip that work (the statistics do not use it).
            if hasattr(gen, "_length_counter_sampling_rate"):
                gen._length_counter_sampling_rate = 0.0
        self._accumulators = [gen.create_accumulator() for gen in self._generators]
        self._skip = tuple(skip_columns)
        self._compact_every = compact_every_rows
        self._since_compact = 0
        self.num_rows = 0
        # Flat columns go straight into the basic and top-k accumulators when TFDV's version
        # and generators are the ones flat_stats covers (same statistics, less work).
        self._flat = (flat_stats.FlatFeeder.for_generators(self._generators, exact_int_columns)
                      if flat_path else None)
        self._ordered = False

    def add(self, batch) -> None:
        """Adds one flat ``pyarrow.RecordBatch``."""
        if batch.num_rows == 0:
            return
        if self._flat is None:
            record_batch = canonicalize_batch(batch, self._skip)
            self._accumulators = [gen.add_input(acc, record_batch)
                                  for gen, acc in zip(self._generators, self._accumulators)]
        else:
            self._add_flat(batch)
        self.num_rows += batch.num_rows
        self._since_compact += batch.num_rows
        if self._since_compact >= self._compact_every:
            self._accumulators = [gen.compact(acc)
                                  for gen, acc in zip(self._generators, self._accumulators)]
            self._since_compact = 0

    def _add_flat(self, batch) -> None:
        """Flat int64/float64/string/binary columns through :mod:`flat_stats`; any other
        column (booleans, dictionaries, lists...) through TFDV's ``add_input``."""
        import pyarrow as pa

        from kfp_mlops.components._shared import flat_stats

        feeder, basic_index, topk_index = self._flat
        flat, other_names, other_arrays = [], [], []
        for name, column in zip(batch.schema.names, batch.columns):
            if name in self._skip:
                continue
            values = flat_stats.flat_values(column)
            if values is None:
                other_names.append(name)
                other_arrays.append(column)
            else:
                flat.append((name, column, values))
        if not self._ordered:  # features keep the batch's column order, as on TFDV's path
            feeder.reserve(self._accumulators[basic_index],
                           [n for n in batch.schema.names if n not in self._skip])
            self._ordered = True
        if other_names:
            rest = canonicalize_batch(pa.RecordBatch.from_arrays(other_arrays, other_names))
            self._accumulators = [gen.add_input(acc, rest)
                                  for gen, acc in zip(self._generators, self._accumulators)]
        else:
            self._accumulators[basic_index].num_examples += batch.num_rows
        basic_acc = self._accumulators[basic_index]
        topk_acc = self._accumulators[topk_index] if topk_index is not None else None
        for name, column, values in flat:
            feeder.add(basic_acc, topk_acc, name, column, values)

    def close(self) -> None:
        """Nothing to wait for (the parallel builder's counterpart joins its threads)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def result(self, name: str = ""):
        """The ``DatasetFeatureStatisticsList`` of everything added; its dataset is ``name``."""
        return _extract_statistics(self._accumulators, self._generators, name, self.num_rows)


def _extract_statistics(accumulators, generators, name: str, num_rows: int):
    """TFDV's extraction of ``accumulators`` into a ``DatasetFeatureStatisticsList`` whose
    single dataset is ``name`` with ``num_rows`` examples."""
    from tensorflow_data_validation.statistics import stats_impl

    from kfp_mlops.components._shared import flat_stats

    with flat_stats.faster_extraction():
        stats = stats_impl.extract_statistics_output(accumulators, generators)
    if not stats.datasets:
        stats.datasets.add()
    stats.datasets[0].name = name
    stats.datasets[0].num_examples = num_rows
    return stats


def default_workers() -> int:
    """Threads for statistics: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


class StatisticsPool:
    """Statistics of several streams of record batches (say, the splits of a dataset) on
    ``workers`` threads, one :class:`StatisticsBuilder` per stream and worker.

    TFDV's sketches (quantiles, top-k, distinct counts) do their work in C++ that releases
    the GIL, so threads scale with cores. Batch ``i`` of a stream belongs to part
    ``i % workers``; a stream's parts go to the workers in turn, its first part to the
    worker given the fewest rows so far, and are merged in part order. So a stream's
    statistics depend neither on thread timing nor on the streams before it: the same data
    gives the same statistics on every run (but for what TFDV's own top-k sketch varies:
    which of the values tied at the cut-off of a feature with more distinct values than its
    1,000 buckets are named).
    When all parts of a finished stream (:meth:`finish`) are in, the caller's thread merges
    and extracts its statistics at its next :meth:`add` or in :meth:`results`, while the
    workers go on with the next stream's batches: a stream's fixed costs overlap the next
    one's work and never hold up a worker. Each worker's queue holds at most
    ``queue_batches`` batches: memory stays bounded.
    """

    def __init__(self, options=None, skip_columns: Sequence[str] = (), workers: int = 0,
                 queue_batches: int = 3,
                 exact_int_columns: Optional[Mapping[Any, Iterable[str]]] = None,
                 flat_path: bool = True):
        import queue
        import threading

        self._options = options
        self._flat_path = flat_path
        self._skip = tuple(skip_columns)
        self._exact_ints = {k: tuple(v) for k, v in (exact_int_columns or {}).items()}
        self._workers = workers or default_workers()
        self._queues = [queue.Queue(maxsize=queue_batches) for _ in range(self._workers)]
        self._lock = threading.Lock()
        self._errors: List[BaseException] = []
        self._parts: Dict[Any, Dict[int, StatisticsBuilder]] = {}
        self._ready: "queue.Queue" = queue.Queue()  # streams whose parts are all in
        self._results: Dict[Any, Any] = {}
        self._names: Dict[Any, str] = {}
        self._next: Dict[Any, int] = {}
        self._offset: Dict[Any, int] = {}
        self._loads = [0] * self._workers  # rows given to each worker
        self.num_rows: Dict[Any, int] = {}
        self._threads = [threading.Thread(target=self._work, args=(i,), daemon=True,
                                          name=f"tfdv-statistics-{i}")
                         for i in range(self._workers)]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def _work(self, index: int) -> None:
        inbox = self._queues[index]
        builders: Dict[Any, StatisticsBuilder] = {}
        while True:
            message = inbox.get()
            if message is None:
                return
            if self._errors:
                continue  # drain after a failure so add() never blocks
            kind, key, batch = message
            try:
                if kind == "add":
                    if key not in builders:
                        builders[key] = self._builder(key)
                    builders[key].add(batch)
                else:
                    part = (index - self._offset[key]) % self._workers
                    self._finish_part(key, part, builders.pop(key, None) or self._builder(key))
            except BaseException as e:  # re-raised in the caller's thread
                self._errors.append(e)

    def _builder(self, key) -> "StatisticsBuilder":
        return StatisticsBuilder(self._options, self._skip,
                                 exact_int_columns=self._exact_ints.get(key, ()),
                                 flat_path=self._flat_path)

    def _finish_part(self, key, part: int, builder: "StatisticsBuilder") -> None:
        """Files one part of ``key``; when all are in, ``key`` is ready to extract."""
        with self._lock:
            parts = self._parts.setdefault(key, {})
            parts[part] = builder
            if len(parts) < self._workers:
                return
        self._ready.put(key)

    def _extract(self, key) -> None:
        """Merges ``key``'s parts in part order and extracts its statistics (caller's thread:
        the workers go on with other streams' batches meanwhile)."""
        with self._lock:
            parts = self._parts.pop(key)
        ordered = [parts[i] for i in range(self._workers)]
        generators = ordered[0]._generators
        merged = [gen.merge_accumulators([b._accumulators[k] for b in ordered])
                  for k, gen in enumerate(generators)]
        self._results[key] = _extract_statistics(merged, generators, self._names[key],
                                                  self.num_rows[key])

    def _extract_ready(self, wait: bool) -> None:
        """Extracts the streams whose parts are all in; with ``wait``, every finished one."""
        import queue

        while len(self._results) < len(self._names):
            self._raise_error()
            try:
                key = self._ready.get(timeout=0.05) if wait else self._ready.get_nowait()
            except queue.Empty:
                if wait:
                    continue
                return
            self._extract(key)

    def _raise_error(self) -> None:
        if self._errors:
            raise self._errors[0]

    def add(self, key, batch) -> None:
        """Queues one flat ``pyarrow.RecordBatch`` of stream ``key`` for its next worker."""
        self._raise_error()
        if key in self._names:
            raise ValueError(f"statistics of {key!r} are already finished")
        self.num_rows.setdefault(key, 0)
        if batch.num_rows == 0:
            return
        i = self._next.get(key, 0)
        if key not in self._offset:  # a stream's first part goes to the least loaded worker
            self._offset[key] = self._loads.index(min(self._loads))
        worker = (i + self._offset[key]) % self._workers
        self._queues[worker].put(("add", key, batch))
        self._next[key] = i + 1
        self._loads[worker] += batch.num_rows
        self.num_rows[key] += batch.num_rows
        self._extract_ready(wait=False)

    def finish(self, key, name: str = "") -> None:
        """Ends stream ``key``; its statistics' dataset is named ``name`` (default: key)."""
        self._raise_error()
        self._names[key] = name or str(key)
        self.num_rows.setdefault(key, 0)
        self._offset.setdefault(key, 0)
        for inbox in self._queues:
            inbox.put(("finish", key, None))

    def close(self) -> None:
        """Waits for every queued batch; re-raises a worker's error."""
        if not self._closed:
            self._closed = True
            for inbox in self._queues:
                inbox.put(None)
            for thread in self._threads:
                thread.join()
        self._raise_error()

    def results(self) -> Dict[Any, Any]:
        """Key -> ``DatasetFeatureStatisticsList`` of every finished stream (waits for all)."""
        self._extract_ready(wait=True)
        self.close()
        return dict(self._results)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:  # stop the workers; the error in flight is the one to report
            self._errors.append(RuntimeError("statistics interrupted"))
            try:
                self.close()
            except BaseException:
                pass


class ParallelStatisticsBuilder:
    """One stream of a :class:`StatisticsPool`, with :class:`StatisticsBuilder`'s interface."""

    _KEY = "statistics"

    def __init__(self, options=None, skip_columns: Sequence[str] = (), workers: int = 0,
                 queue_batches: int = 3):
        self._pool = StatisticsPool(options, skip_columns, workers, queue_batches)

    @property
    def num_rows(self) -> int:
        return self._pool.num_rows.get(self._KEY, 0)

    def add(self, batch) -> None:
        """Queues one flat ``pyarrow.RecordBatch`` for the next worker in turn."""
        self._pool.add(self._KEY, batch)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._pool.__exit__(*exc)

    def result(self, name: str = ""):
        """The ``DatasetFeatureStatisticsList`` of everything added; its dataset is ``name``."""
        self._pool.finish(self._KEY, name)
        stats = self._pool.results()[self._KEY]
        stats.datasets[0].name = name
        return stats


def statistics_builder(options=None, skip_columns: Sequence[str] = (), workers: int = 0):
    """A statistics builder: threaded when more than one worker is asked for or available."""
    workers = workers or default_workers()
    if workers == 1:
        return StatisticsBuilder(options, skip_columns)
    return ParallelStatisticsBuilder(options, skip_columns, workers)


def statistics_from_batches(batches: Iterable, name: str = "", options=None,
                            skip_columns: Sequence[str] = (), workers: int = 0):
    """Statistics (a ``DatasetFeatureStatisticsList`` named ``name``) of record batches."""
    with statistics_builder(options, skip_columns, workers) as builder:
        for batch in batches:
            builder.add(batch)
        return builder.result(name)


def statistics_with_beam(inputs: Mapping[str, str], output_paths: Mapping[str, str],
                         pipeline_args: Sequence[str], options=None,
                         skip_columns: Sequence[str] = ()) -> None:
    """Computes statistics of Parquet files with one Beam pipeline (e.g. on Dataflow).

    Args:
        inputs: name -> Parquet file or pattern; each becomes one statistics file.
        output_paths: name -> where to write its binary ``DatasetFeatureStatisticsList``.
        pipeline_args: Beam pipeline options, e.g. ``["--runner=DataflowRunner", ...]``.
        options: ``tfdv.StatsOptions``.
        skip_columns: columns left out of the statistics.
    """
    import apache_beam as beam
    import tensorflow_data_validation as tfdv
    from apache_beam.options.pipeline_options import PipelineOptions

    from kfp_mlops.components._shared import io

    options = options if options is not None else tfdv.StatsOptions()
    skip = tuple(skip_columns)

    def to_batches(table):
        for batch in table.to_batches():
            if batch.num_rows:
                yield canonicalize_batch(batch, skip)

    # These paths are artifact folders: local, or on Vertex AI's /gcs/ mount. Beam opens them
    # with its own file systems, in workers (Dataflow) that have no such mount but read
    # gs:// themselves, so a mount path is handed over as its gs:// URI rather than through
    # the I/O layer (fsspec cannot give Beam a file system).
    with beam.Pipeline(options=PipelineOptions(list(pipeline_args))) as pipeline:
        for name, pattern in inputs.items():
            _ = (pipeline
                 | f"Read[{name}]" >> beam.io.ReadFromParquetBatched(io.from_mount_path(pattern))
                 | f"ToRecordBatches[{name}]" >> beam.FlatMap(to_batches)
                 | f"GenerateStatistics[{name}]" >> tfdv.GenerateStatistics(options)
                 | f"Write[{name}]" >> tfdv.WriteStatisticsToBinaryFile(
                     io.from_mount_path(output_paths[name])))


def load_statistics(path: str, name: str = ""):
    """Loads a binary statistics file; renames its single dataset to ``name`` when given."""
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(path)
    if name and len(stats.datasets) == 1:
        stats.datasets[0].name = name
    return stats


# --------------------------------------------------------------------------------------
# Schema helpers
# --------------------------------------------------------------------------------------

def is_categorical(feature) -> bool:
    """True for string features and integer features marked categorical or boolean."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    if feature.type == schema_pb2.BYTES:
        return True
    if feature.type == schema_pb2.INT:
        return (feature.HasField("bool_domain")
                or (feature.HasField("int_domain") and feature.int_domain.is_categorical))
    return False


def metric_for(feature) -> str:
    return L_INFTY if is_categorical(feature) else JENSEN_SHANNON_DIVERGENCE


def set_comparators(schema, default_threshold: float = DEFAULT_THRESHOLD,
                    thresholds: Optional[Mapping[str, float]] = None, mode: str = "skew",
                    features: Optional[Iterable[str]] = None) -> None:
    """Sets a skew (or drift) comparator on every feature of ``schema``, in place.

    Categorical features get ``infinity_norm``, numeric ones ``jensen_shannon_divergence``;
    the threshold is ``thresholds[name]`` when given, else ``default_threshold``.
    """
    thresholds = dict(thresholds or {})
    only = set(features) if features is not None else None
    for feature in schema.feature:
        if only is not None and feature.name not in only:
            continue
        comparator = feature.skew_comparator if mode == "skew" else feature.drift_comparator
        comparator.Clear()
        threshold = float(thresholds.get(feature.name, default_threshold))
        if is_categorical(feature):
            comparator.infinity_norm.threshold = threshold
        else:
            comparator.jensen_shannon_divergence.threshold = threshold


def check_thresholds(features: Iterable[str], thresholds: Optional[Mapping[str, float]],
                     what: str = "skew_thresholds") -> None:
    """Raises ValueError when ``thresholds`` names an unknown feature or is not a number >= 0."""
    names = set(features)
    unknown = sorted(set(thresholds or {}) - names)
    if unknown:
        raise ValueError(f"{what} name features that do not exist: {unknown}; "
                         f"features are {sorted(names)}")
    from kfp_mlops.components._shared import checks

    checks.raise_all(checks.distance_thresholds_problems(what, thresholds))


# --------------------------------------------------------------------------------------
# Distances between two statistics
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class FeatureDistance:
    """The distance of one feature's distribution between two datasets."""

    feature: str
    metric: str                 # L_INFTY or JENSEN_SHANNON_DIVERGENCE
    value: Optional[float]      # None when the feature is missing on one side
    threshold: float
    exceeded: bool
    note: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _feature_names(stats) -> set:
    dataset = stats.datasets[0] if stats.datasets else None
    if dataset is None:
        return set()
    return {".".join(f.path.step) if f.path.step else f.name for f in dataset.features}


def _has_values(stats, name: str) -> bool:
    for f in stats.datasets[0].features if stats.datasets else ():
        if (".".join(f.path.step) if f.path.step else f.name) == name:
            common = (f.num_stats.common_stats if f.HasField("num_stats")
                      else f.string_stats.common_stats)
            return common.num_non_missing > 0
    return False


def feature_distances(base_stats, other_stats, schema,
                      default_threshold: float = DEFAULT_THRESHOLD,
                      thresholds: Optional[Mapping[str, float]] = None,
                      mode: str = "skew") -> List[FeatureDistance]:
    """The distance of every schema feature between ``base_stats`` and ``other_stats``.

    TFDV only reports distances of features that raise an anomaly, so this validates with a
    copy of ``schema`` whose comparators all have threshold 0 (every feature is measured),
    reads ``anomalies.drift_skew_info``, and applies the real thresholds here. The numbers are
    exactly those TFDV reports with the real thresholds.

    Args:
        base_stats: statistics of the reference data (training data; or previous batch).
        other_stats: statistics of the data compared with it (eval/serving; current batch).
        schema: the schema; only its feature types/domains matter (comparators are replaced).
        default_threshold: threshold of features not in ``thresholds``.
        thresholds: per-feature thresholds.
        mode: ``"skew"`` (training vs serving) or ``"drift"`` (previous vs current).

    Returns:
        One :class:`FeatureDistance` per schema feature, in schema order. A feature without
        values on one side has ``value=None`` and a note (its absence is a schema anomaly).
    """
    import tensorflow_data_validation as tfdv

    if mode not in ("skew", "drift"):
        raise ValueError(f"mode must be 'skew' or 'drift', got {mode!r}")
    thresholds = dict(thresholds or {})
    measuring = copy.deepcopy(schema)
    for feature in measuring.feature:   # no comparator left over from the given schema
        feature.ClearField("skew_comparator")
        feature.ClearField("drift_comparator")
    set_comparators(measuring, _MEASURE_THRESHOLD, None, mode)
    if mode == "skew":
        anomalies = tfdv.validate_statistics(base_stats, measuring, serving_statistics=other_stats)
    else:
        anomalies = tfdv.validate_statistics(other_stats, measuring, previous_statistics=base_stats)

    measured: Dict[str, Tuple[str, float]] = {}
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for m in (info.skew_measurements if mode == "skew" else info.drift_measurements):
            measured[name] = (_measurement_type_name(m.type), float(m.value))

    base_names, other_names = _feature_names(base_stats), _feature_names(other_stats)
    result = []
    for feature in schema.feature:
        name = feature.name
        threshold = float(thresholds.get(name, default_threshold))
        metric = metric_for(feature)
        if name in measured:
            metric, value = measured[name]
            note = ""
        elif name in base_names and name in other_names:
            value = 0.0
            if not (_has_values(base_stats, name) and _has_values(other_stats, name)):
                note = "no values on one side"
            else:
                note = ""
        else:
            where = "base" if name not in base_names else "compared"
            result.append(FeatureDistance(name, metric, None, threshold, False,
                                          f"missing from the {where} data"))
            continue
        result.append(FeatureDistance(name, metric, value, threshold, value > threshold, note))
    return result


def _measurement_type_name(value: int) -> str:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    name = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(value)
    return {"JENSEN_SHANNON_DIVERGENCE": JENSEN_SHANNON_DIVERGENCE,
            "L_INFTY": L_INFTY}.get(name, name)


# --------------------------------------------------------------------------------------
# Readable views
# --------------------------------------------------------------------------------------

def anomaly_reasons(anomalies, label: str = "") -> List[str]:
    """One human-readable line per anomalous feature (TFDV's short and long descriptions)."""
    prefix = f"{label}: " if label else ""
    reasons = []
    for name in sorted(anomalies.anomaly_info):
        info = anomalies.anomaly_info[name]
        short = info.short_description or "anomaly"
        detail = info.description or "; ".join(r.description for r in info.reason)
        reasons.append(f"{prefix}feature {name!r}: {short}" + (f" ({detail})" if detail else ""))
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        reasons.append(f"{prefix}dataset: {info.short_description} ({info.description})")
    return reasons


def feature_summaries(stats) -> List[Dict[str, Any]]:
    """A flat per-feature summary of one dataset's statistics (for reports and logs)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if not stats.datasets:
        return []
    dataset = stats.datasets[0]
    n = dataset.num_examples
    rows = []
    for f in dataset.features:
        name = ".".join(f.path.step) if f.path.step else f.name
        row: Dict[str, Any] = {
            "feature": name,
            "type": statistics_pb2.FeatureNameStatistics.Type.Name(f.type)}
        if f.HasField("num_stats"):
            s = f.num_stats
            common = s.common_stats
            row.update(kind="numeric", mean=s.mean, std_dev=s.std_dev, min=s.min, max=s.max,
                       median=s.median, zeros=s.num_zeros)
        else:
            s = f.string_stats
            common = s.common_stats
            row.update(kind="categorical", unique=s.unique,
                       top_values=[(v.value, v.frequency) for v in s.top_values[:5]])
        row["missing"] = common.num_missing
        row["missing_pct"] = (100.0 * common.num_missing / n) if n else 0.0
        rows.append(row)
    return rows
