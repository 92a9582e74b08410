"""reference.canonicalize_batch: its fast conversion to TFDV's list-array form
(flat.singleton_list) equals tfx_bsl's own, and so do the statistics of both."""
import pyarrow as pa
import pytest

from kfp_mlops.components._shared.statistics import flat, reference
from kfp_mlops.components._shared.statistics.builder import StatisticsBuilder


def _reference(array):
    """tfx_bsl's conversion, the one ``tfdv.generate_statistics_from_dataframe`` relies on."""
    from tfx_bsl.arrow import array_util

    return array_util.ToSingletonListArray(reference.canonical_array(array))


def _arrays():
    values = {
        pa.int64(): [3, None, -7, 0, None, 2 ** 40],
        pa.float64(): [0.5, float("nan"), None, -1e300, 0.0, None],
        pa.string(): ["a", None, "", "ünïcode ✓", None, "z" * 300],
        pa.large_string(): ["a", None, "", "ünïcode ✓", None, "long" * 50],
        pa.binary(): [b"\x00\xff", None, b"", b"abc", None, b"x"],
        pa.large_binary(): [b"\x00\xff", None, b"", b"abc", None, b"x"],
    }
    for type_, items in values.items():
        full = pa.array(items, type=type_)
        yield f"{type_}-nulls", full
        yield f"{type_}-no-nulls", pa.array([v for v in items if v is not None], type=type_)
        yield f"{type_}-all-null", pa.array([None, None, None], type=type_)
        yield f"{type_}-empty", pa.array([], type=type_)
        yield f"{type_}-sliced", full.slice(1, 4)
        yield f"{type_}-sliced-no-nulls", full.slice(2, 2)


@pytest.mark.parametrize("case,array", list(_arrays()), ids=[c for c, _ in _arrays()])
def test_singleton_list_equals_tfx_bsl(case, array):
    fast = flat.singleton_list(array)
    assert fast is not None, case
    fast.validate(full=True)
    _assert_same_lists(fast, _reference(array))


def _assert_same_lists(a, b):
    """Equal list arrays, NaN equal to NaN (``Array.equals`` says NaN != NaN)."""
    import numpy as np

    assert a.type == b.type
    assert a.null_count == b.null_count
    assert a.is_valid().equals(b.is_valid())
    assert a.offsets.equals(b.offsets)
    if pa.types.is_floating(a.type.value_type):
        np.testing.assert_array_equal(a.flatten().to_numpy(zero_copy_only=False),
                                      b.flatten().to_numpy(zero_copy_only=False))
    else:
        assert a.flatten().equals(b.flatten())


def test_other_types_take_the_general_path():
    for array in (pa.array([1, 2], type=pa.int32()), pa.array([True, None]),
                  pa.array([1.5], type=pa.float32()), pa.array(["a", "b"]).dictionary_encode(),
                  pa.nulls(3)):
        assert flat.singleton_list(array) is None
        batch = reference.canonicalize_batch(pa.RecordBatch.from_arrays([array], ["c"]))
        _assert_same_lists(batch.column(0), _reference(array))


def test_statistics_of_the_fast_form_are_byte_identical():
    """The same batch, converted by tfx_bsl or here, gives byte-identical statistics."""
    import numpy as np
    from tfx_bsl.arrow import array_util

    rng = np.random.default_rng(7)
    n = 20_000
    batch = pa.RecordBatch.from_arrays(
        [pa.array(rng.normal(size=n), mask=rng.random(n) < 0.1),
         pa.array(rng.integers(0, 50, n), mask=rng.random(n) < 0.05),
         pa.array(np.array([f"v{i}" for i in range(300)])[rng.integers(0, 300, n)],
                  mask=rng.random(n) < 0.2)],
        ["x", "k", "s"]).slice(123, 15_000)

    def statistics(record_batch):
        builder = StatisticsBuilder()
        builder._accumulators = [g.add_input(a, record_batch) for g, a in
                                 zip(builder._generators, builder._accumulators)]
        builder.num_rows = record_batch.num_rows
        return builder.result("x").SerializeToString(deterministic=True)

    expected = pa.RecordBatch.from_arrays(
        [_reference(column) for column in batch.columns], batch.schema.names)
    fast = reference.canonicalize_batch(batch)
    for a, b in zip(fast.columns, expected.columns):
        _assert_same_lists(a, b)
    assert statistics(fast) == statistics(expected)
