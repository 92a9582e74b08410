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
import math
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
            canonical = _canonical_array(column)
            if canonical is None:
                raise TypeError(f"column {name!r} has type {column.type}, which TFDV cannot "
                                "describe; drop it or cast it to a number or a string")
            arrays.append(array_util.ToSingletonListArray(canonical))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names)


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
                 compact_every_rows: int = _COMPACT_EVERY_ROWS):
        import tensorflow_data_validation as tfdv
        from tensorflow_data_validation.statistics import stats_impl

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

    def add(self, batch) -> None:
        """Adds one flat ``pyarrow.RecordBatch`` (canonicalised here)."""
        if batch.num_rows == 0:
            return
        record_batch = canonicalize_batch(batch, self._skip)
        self._accumulators = [gen.add_input(acc, record_batch)
                              for gen, acc in zip(self._generators, self._accumulators)]
        self.num_rows += batch.num_rows
        self._since_compact += batch.num_rows
        if self._since_compact >= self._compact_every:
            self._accumulators = [gen.compact(acc)
                                  for gen, acc in zip(self._generators, self._accumulators)]
            self._since_compact = 0

    def close(self) -> None:
        """Nothing to wait for (the parallel builder's counterpart joins its threads)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def result(self, name: str = ""):
        """The ``DatasetFeatureStatisticsList`` of everything added; its dataset is ``name``."""
        from tensorflow_data_validation.statistics import stats_impl

        stats = stats_impl.extract_statistics_output(self._accumulators, self._generators)
        if not stats.datasets:
            stats.datasets.add()
        stats.datasets[0].name = name
        stats.datasets[0].num_examples = self.num_rows
        return stats


def default_workers() -> int:
    """Threads for statistics: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


class ParallelStatisticsBuilder:
    """A :class:`StatisticsBuilder` spread over ``workers`` threads, one builder each.

    TFDV's sketches (quantiles, top-k, distinct counts) do their work in C++ that releases
    the GIL, so threads scale with cores (1.8x on two). Batch ``i`` always goes to worker
    ``i % workers`` and the workers' accumulators are merged in worker order, so the result
    does not depend on thread timing: the same data gives the same statistics on every run.
    Each worker's queue holds at most ``queue_batches`` batches: memory stays bounded.
    """

    def __init__(self, options=None, skip_columns: Sequence[str] = (), workers: int = 0,
                 queue_batches: int = 2):
        import queue
        import threading

        workers = workers or default_workers()
        self._builders = [StatisticsBuilder(options, skip_columns) for _ in range(workers)]
        self._queues = [queue.Queue(maxsize=queue_batches) for _ in range(workers)]
        self._errors: List[BaseException] = []
        self._threads = [threading.Thread(target=self._work, args=(i,), daemon=True,
                                          name=f"tfdv-statistics-{i}") for i in range(workers)]
        for thread in self._threads:
            thread.start()
        self._next = 0
        self._closed = False
        self.num_rows = 0

    def _work(self, index: int) -> None:
        inbox, builder = self._queues[index], self._builders[index]
        while True:
            batch = inbox.get()
            if batch is None:
                return
            if self._errors:
                continue  # drain after a failure so add() never blocks
            try:
                builder.add(batch)
            except BaseException as e:  # re-raised in the caller's thread
                self._errors.append(e)

    def _raise_error(self) -> None:
        if self._errors:
            raise self._errors[0]

    def add(self, batch) -> None:
        """Queues one flat ``pyarrow.RecordBatch`` for the next worker in turn."""
        self._raise_error()
        if batch.num_rows == 0:
            return
        self._queues[self._next].put(batch)
        self._next = (self._next + 1) % len(self._queues)
        self.num_rows += batch.num_rows

    def close(self) -> None:
        """Waits for every queued batch; re-raises a worker's error."""
        if not self._closed:
            self._closed = True
            for inbox in self._queues:
                inbox.put(None)
            for thread in self._threads:
                thread.join()
        self._raise_error()

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

    def result(self, name: str = ""):
        """The ``DatasetFeatureStatisticsList`` of everything added; its dataset is ``name``."""
        from tensorflow_data_validation.statistics import stats_impl

        self.close()
        first = self._builders[0]
        generators = first._generators
        merged = [gen.merge_accumulators([b._accumulators[k] for b in self._builders])
                  for k, gen in enumerate(generators)]
        stats = stats_impl.extract_statistics_output(merged, generators)
        if not stats.datasets:
            stats.datasets.add()
        stats.datasets[0].name = name
        stats.datasets[0].num_examples = self.num_rows
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
    bad = {k: v for k, v in (thresholds or {}).items()
           if not isinstance(v, (int, float)) or v < 0 or math.isnan(v)}
    if bad:
        raise ValueError(f"{what} must be numbers >= 0, got {bad}")


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
