"""In-process statistics builders: TFDV's combiner generators fed record batch by batch.

:class:`StatisticsBuilder` folds one stream into TFDV's accumulators, through the flat path
(:mod:`.flat`) when it applies and TFDV's own ``add_input`` on canonical batches
(:mod:`.reference`) otherwise; :class:`StatisticsPool` runs several streams on a few threads.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

# Accumulators are compacted every this many rows (sketch merges are cheap but not free).
_COMPACT_EVERY_ROWS = 1_000_000


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

        from kfp_mlops.components._shared.statistics import flat

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
        # and generators are the ones the flat path covers (same statistics, less work).
        self._flat = (flat.FlatFeeder.for_generators(self._generators, exact_int_columns)
                      if flat_path else None)
        self._ordered = False

    def add(self, batch) -> None:
        """Adds one flat ``pyarrow.RecordBatch``."""
        if batch.num_rows == 0:
            return
        if self._flat is None:
            from kfp_mlops.components._shared.statistics.reference import canonicalize_batch

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
        """Flat int64/float64/string/binary columns through :mod:`.flat`; any other
        column (booleans, dictionaries, lists...) through TFDV's ``add_input``."""
        import pyarrow as pa

        from kfp_mlops.components._shared.statistics import flat
        from kfp_mlops.components._shared.statistics.reference import canonicalize_batch

        feeder, basic_index, topk_index = self._flat
        flat_columns, other_names, other_arrays = [], [], []
        for name, column in zip(batch.schema.names, batch.columns):
            if name in self._skip:
                continue
            values = flat.flat_values(column)
            if values is None:
                other_names.append(name)
                other_arrays.append(column)
            else:
                flat_columns.append((name, column, values))
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
        for name, column, values in flat_columns:
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

    from kfp_mlops.components._shared.statistics import flat

    with flat.faster_extraction():
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
