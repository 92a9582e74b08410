"""The flat path gives byte-identical statistics to TFDV's own path on canonical lists.

The reference converts every column with tfx_bsl's ``ToSingletonListArray`` (what TFDV's
DataFrame and CSV paths do) and calls each TFDV generator's ``add_input``; the flat path
feeds the same generators' accumulators from flat columns, with grouped (value, count)
input for narrow integer columns and for top-k sketches while they are exact.
"""
import numpy as np
import pyarrow as pa
import pytest

from kfp_mlops.components._shared import statistics as tfdv_stats
from kfp_mlops.components._shared.statistics import flat, reference
from kfp_mlops.components._shared.statistics.builder import StatisticsBuilder


def _reference_statistics(batches, options=None, workers=1):
    """TFDV's path: canonical list batches through each generator, workers merged in order."""
    from tensorflow_data_validation.statistics import stats_impl
    from tfx_bsl.arrow import array_util

    builders = [StatisticsBuilder(options, flat_path=False) for _ in range(workers)]
    for i, batch in enumerate(batches):
        canonical = pa.RecordBatch.from_arrays(
            [array_util.ToSingletonListArray(reference.canonical_array(c))
             for c in batch.columns], batch.schema.names)
        b = builders[i % workers]
        b._accumulators = [g.add_input(a, canonical)
                           for g, a in zip(b._generators, b._accumulators)]
        b.num_rows += batch.num_rows
    generators = builders[0]._generators
    merged = [g.merge_accumulators([b._accumulators[k] for b in builders])
              for k, g in enumerate(generators)]
    stats = stats_impl.extract_statistics_output(merged, generators)
    stats.datasets[0].name = "data"
    stats.datasets[0].num_examples = sum(b.num_rows for b in builders)
    return stats


def _flat_statistics(batches, options=None, workers=1, exact_ints=()):
    with tfdv_stats.StatisticsPool(options, workers=workers,
                                   exact_int_columns={"data": exact_ints}) as pool:
        for batch in batches:
            pool.add("data", batch)
        pool.finish("data")
        return pool.results()["data"]


def _without_tied_tail(stats, buckets=1000):
    """``stats`` with the labels of the lowest-count entries of truncated top-k lists blanked.

    A feature with more distinct values than TFDV's Misra-Gries sketch has buckets (1,000)
    reports its 1,000 largest counts; which of the values tied at the smallest of those
    counts are named differs from run to run, on TFDV's own path too (its sketch is not
    deterministic there). Everything else, the counts included, must be identical.
    """
    stats = type(stats).FromString(stats.SerializeToString(deterministic=True))
    for feature in stats.datasets[0].features:
        if not feature.HasField("string_stats"):
            continue
        ranks = feature.string_stats.rank_histogram.buckets
        if len(ranks) < buckets:
            continue
        lowest = min(b.sample_count for b in ranks)
        for bucket in ranks:
            if bucket.sample_count == lowest:
                bucket.label = ""
        for top in feature.string_stats.top_values:
            if top.frequency == lowest:
                top.value = ""
    return stats


def _assert_identical(fast, expected):
    assert _without_tied_tail(fast).SerializeToString(deterministic=True) == \
        _without_tied_tail(expected).SerializeToString(deterministic=True)


def _mixed_batches(n=30_000, batch_rows=4_096, seed=3):
    """Every column type ingest writes, with the awkward values of each."""
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=n)
    floats[rng.random(n) < 0.01] = np.nan
    floats[rng.random(n) < 0.001] = np.inf
    floats[rng.random(n) < 0.001] = -np.inf
    long_text = "x" * 1500                       # over top-k's large-string threshold
    vocabulary = np.array(["a", "", "ünïcode ✓", long_text] + [f"v{i}" for i in range(60)])
    columns = {
        "float": pa.array(floats, mask=rng.random(n) < 0.05),
        "float_zeros": pa.array(np.where(rng.random(n) < 0.3, 0.0, rng.random(n))),
        "int_narrow": pa.array(rng.integers(-20, 40, n), mask=rng.random(n) < 0.1),
        "int_wide": pa.array(rng.integers(-5_000, 5_000, n) * 10 ** 8),  # 10,000 distinct
        "int_big": pa.array(np.full(n, 2 ** 62, dtype=np.int64)),
        "text": pa.array(vocabulary[rng.integers(0, len(vocabulary), n)],
                         mask=rng.random(n) < 0.07),
        "text_high_card": pa.array([f"id-{v}" for v in rng.integers(0, 5000, n)]),
        "large_text": pa.array(list(vocabulary[rng.integers(0, 10, n)]), type=pa.large_string()),
        "raw_bytes": pa.array([bytes([v, 0xff]) if v % 3 else b"ok" for v in
                               rng.integers(0, 200, n)], type=pa.binary()),
        "all_null": pa.array([None] * n, type=pa.float64()),
        "all_null_text": pa.array([None] * n, type=pa.string()),
        "flag": pa.array(rng.random(n) < 0.4),   # takes TFDV's path (bool -> int8)
        "small_int": pa.array(rng.integers(0, 5, n), type=pa.int32()),
    }
    table = pa.table(columns)
    return [b for b in table.to_batches(max_chunksize=batch_rows)]


@pytest.mark.parametrize("workers", [1, 3])
def test_mixed_columns_byte_identical(workers):
    batches = _mixed_batches()
    options = tfdv_stats.stats_options(["flag"])
    expected = _reference_statistics(batches, options, workers)
    fast = _flat_statistics(batches, options, workers, exact_ints=["int_narrow", "int_big"])
    _assert_identical(fast, expected)
    names = [f.path.step[0] for f in fast.datasets[0].features]
    assert names == list(batches[0].schema.names)  # column order kept


def test_top_k_overflowing_its_buckets_mid_stream_is_identical():
    """Few distinct values at first (grouped input), then thousands (value by value)."""
    rng = np.random.default_rng(11)
    first = [f"common-{v}" for v in rng.integers(0, 50, 20_000)]
    later = [f"rare-{v}" for v in rng.integers(0, 20_000, 40_000)]
    table = pa.table({"s": pa.array(first + later),
                      "k": pa.array(rng.integers(0, 3, 60_000))})
    batches = table.to_batches(max_chunksize=5_000)
    _assert_identical(_flat_statistics(batches, workers=2),
                      _reference_statistics(batches, workers=2))


def test_curated_schema_categorical_int_and_bytes_feature():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse("""
        feature { name: "code" type: INT int_domain { is_categorical: true } }
        feature { name: "blob" type: BYTES image_domain { } }
    """, schema_pb2.Schema())
    rng = np.random.default_rng(5)
    n = 12_000
    table = pa.table({"code": pa.array(rng.integers(0, 30, n), mask=rng.random(n) < 0.1),
                      "blob": pa.array([bytes(int(v)) for v in rng.integers(0, 40, n)]),
                      "x": pa.array(rng.random(n))})
    batches = table.to_batches(max_chunksize=2_500)
    options = tfdv_stats.stats_options(schema=schema)
    _assert_identical(_flat_statistics(batches, options, 2, exact_ints=["code"]),
                      _reference_statistics(batches, options, 2))


def test_exact_int_columns_from_parquet_metadata(tmp_path):
    import pyarrow.parquet as pq

    block = flat.sketch_block_size(0.01)
    assert 5_000 < block < 7_000  # about 6,000 at TFDV's default epsilon
    assert flat.sketch_block_size(0.1) < block
    n = 10_000
    table = pa.table({
        "narrow": pa.array(np.arange(n) % 100 + 10 ** 15),
        "edge": pa.array(np.arange(n) % (block // 2)),          # span block // 2 - 1: in
        "too_wide": pa.array(np.arange(n) % (block // 2 + 1)),  # span block // 2: out
        "with_nulls": pa.array([None if i % 2 else i % 7 for i in range(n)], pa.int64()),
        "no_values": pa.array([None] * n, pa.int64()),
        "floats": pa.array(np.zeros(n)),
        "text": pa.array(["a"] * n)})
    path = str(tmp_path / "data.parquet")
    pq.write_table(table, path, row_group_size=3_000)
    assert flat.exact_int_columns(path) == {"narrow", "edge", "with_nulls", "no_values"}
    unsummarised = str(tmp_path / "plain.parquet")
    pq.write_table(table, unsummarised, write_statistics=False)
    assert flat.exact_int_columns(unsummarised) == set()


def test_narrow_int_statistics_from_a_dataset_are_identical(tmp_path):
    """End to end through validate's reader: Parquet metadata decides, result unchanged."""
    import pyarrow.parquet as pq

    from kfp_mlops.components.validate import core

    rng = np.random.default_rng(8)
    n = 50_000
    table = pa.table({"age": pa.array(rng.integers(18, 90, n), mask=rng.random(n) < 0.02),
                      "visits": pa.array(rng.poisson(4, n)),
                      "income": pa.array(rng.integers(0, 10 ** 7, n))})
    os_dir = tmp_path / "dataset" / "train"
    os_dir.mkdir(parents=True)
    pq.write_table(table, str(os_dir / "data.parquet"), row_group_size=16_384)
    (tmp_path / "dataset" / "dataset.json").write_text('{"label_column": ""}')
    dataset = str(tmp_path / "dataset")
    assert flat.exact_int_columns(str(os_dir / "data.parquet")) == {"age", "visits"}
    mine = core.compute_statistics(dataset, "train", batch_rows=8_192, workers=2)
    batches = pq.ParquetFile(str(os_dir / "data.parquet")).iter_batches(batch_size=8_192)
    expected = _reference_statistics(list(batches), workers=2)
    expected.datasets[0].name = "train"
    _assert_identical(mine, expected)


def test_other_tfdv_versions_take_the_general_path(monkeypatch):
    import importlib.metadata

    from tensorflow_data_validation.utils import quantiles_util

    real = importlib.metadata.version
    flat.fast_path_available.cache_clear()
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "9.9.9" if name == "tensorflow-data-validation"
                        else real(name))
    try:
        assert tfdv_stats.fast_path_available() is False
        assert StatisticsBuilder()._flat is None
        with flat.faster_extraction():
            assert quantiles_util.generate_equi_width_histogram is not \
                flat.equi_width_histogram
    finally:
        monkeypatch.undo()
        flat.fast_path_available.cache_clear()
    assert tfdv_stats.TESTED_TFDV == ("1.16.1",)  # the locked version takes the flat path
    assert tfdv_stats.fast_path_available() is True
    assert StatisticsBuilder()._flat is not None


def _sketch_inputs(rng, trial):
    """A quantiles sketch's (quantiles, counts) and finite range, of awkward data."""
    from tensorflow_data_validation.statistics.generators import basic_stats_generator
    from tfx_bsl import sketches

    size = int(rng.integers(1, 3_000))
    kind = trial % 6
    if kind == 0:
        values = rng.normal(size=size)
    elif kind == 1:
        values = rng.integers(0, 5, size).astype(float)     # point masses
    elif kind == 2:
        values = np.round(rng.lognormal(size=size), 1)       # many ties
    elif kind == 3:
        values = np.concatenate([rng.normal(size=size), [np.inf] * int(rng.integers(0, 20)),
                                 [-np.inf] * int(rng.integers(0, 20))])
    elif kind == 4:
        values = np.full(size, rng.normal())                 # one value
    else:
        values = np.array([-np.inf] * int(rng.integers(1, 5)) + [np.inf] * int(rng.integers(0, 5)))
    sketch = sketches.QuantilesSketch(0.01, 1 << 32, 1)
    weights = rng.random(values.size) * 3 if trial % 5 == 0 else None
    if weights is None:
        sketch.AddValues(pa.array(values))
    else:
        sketch.AddValues(pa.array(values), pa.array(weights))
    quantiles, counts = basic_stats_generator._get_quantiles_counts(
        sketch, 1000 if trial % 2 else 10)
    finite = values[np.isfinite(values)]
    low = finite.min() if finite.size else float("inf")
    high = finite.max() if finite.size else float("-inf")
    pos_inf = float((np.isposinf(values) * (1 if weights is None else weights)).sum())
    return quantiles, counts, low, high, pos_inf


def test_equi_width_histogram_is_tfdv_s_bit_for_bit():
    from tensorflow_data_validation.utils import quantiles_util

    rng = np.random.default_rng(0)
    for trial in range(600):
        quantiles, counts, low, high, pos_inf = _sketch_inputs(rng, trial)
        for buckets in (10, 3):
            expected = quantiles_util.generate_equi_width_histogram(
                quantiles, counts, low, high, buckets, pos_inf)
            got = flat.equi_width_histogram(quantiles, counts, low, high, buckets,
                                                  pos_inf)
            assert got.SerializeToString() == expected.SerializeToString(), (trial, buckets)


def test_faster_extraction_is_undone_on_exit():
    from tensorflow_data_validation.utils import quantiles_util

    original = quantiles_util.generate_equi_width_histogram
    with pytest.raises(RuntimeError):
        with flat.faster_extraction():
            assert quantiles_util.generate_equi_width_histogram is \
                flat.equi_width_histogram
            raise RuntimeError("extraction failed")
    assert quantiles_util.generate_equi_width_histogram is original


def test_identical_across_compactions():
    """Accumulators compacted along the way (every million rows in use) stay identical."""
    batches = _mixed_batches(n=24_000, batch_rows=3_000, seed=9)
    options = tfdv_stats.stats_options(["flag"])
    built = []
    for flat_path in (True, False):
        builder = StatisticsBuilder(
            options, compact_every_rows=7_000, flat_path=flat_path,
            exact_int_columns=["int_narrow", "int_big"] if flat_path else ())
        for batch in batches:
            builder.add(batch)
        built.append(builder.result("data"))
    _assert_identical(*built)
