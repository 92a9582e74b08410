"""Ingest from the S3 and Cloud Storage servers on loopback: every source form, streaming,
and a missing object."""
import gzip
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components.ingest import core


@pytest.fixture
def store_root(object_store):
    scheme, _, bucket = object_store
    return f"{scheme}://{bucket}/data"


def test_csv_gzip_parquet_folder_and_glob_read_as_the_local_file(store_root, penguins_csv,
                                                                  tmp_path):
    from pyarrow import csv as pcsv

    header, *lines = open(penguins_csv).read().splitlines()
    io.put_file(penguins_csv, io.join(store_root, "penguins.csv"))
    io.write_bytes(io.join(store_root, "penguins.csv.gz"),
                   gzip.compress(open(penguins_csv, "rb").read()))
    table = pcsv.read_csv(penguins_csv,
                          convert_options=pcsv.ConvertOptions(strings_can_be_null=True))
    pq.write_table(table, tmp_path / "penguins.parquet", row_group_size=100)
    io.put_file(str(tmp_path / "penguins.parquet"), io.join(store_root, "penguins.parquet"))
    io.write_text(io.join(store_root, "parts", "part-0.csv"),
                  "\n".join([header] + lines[:150]) + "\n")
    io.write_bytes(io.join(store_root, "parts", "part-1.csv.gz"),
                   gzip.compress(("\n".join([header] + lines[150:]) + "\n").encode()))
    io.write_text(io.join(store_root, "parts", "_SUCCESS"), "")

    local = core.ingest(penguins_csv, str(tmp_path / "local"), label_column="species")
    sources = {
        "csv": io.join(store_root, "penguins.csv"),
        "gzip": io.join(store_root, "penguins.csv.gz"),
        "parquet": io.join(store_root, "penguins.parquet"),
        "folder": io.join(store_root, "parts"),
        "glob": io.join(store_root, "parts", "part-*"),
    }
    for name, uri in sources.items():
        result = core.ingest(uri, str(tmp_path / name), label_column="species",
                             batch_rows=64)
        assert result.split_rows == local.split_rows, name
        assert result.content_hash == local.content_hash, name
        assert result.columns == local.columns, name
        assert result.source == uri
    assert core.ingest(sources["glob"], str(tmp_path / "g2")).files == [
        io.join(store_root, "parts", "part-0.csv"), io.join(store_root, "parts", "part-1.csv.gz")]


def test_missing_object_names_the_source(store_root, penguins_csv, tmp_path):
    (tmp_path / "out").mkdir()
    io.put_file(penguins_csv, io.join(store_root, "penguins.csv"))
    with pytest.raises(core.IngestError, match="label_column 'nope' not found"):
        core.ingest(io.join(store_root, "penguins.csv"), str(tmp_path / "out" / "d"),
                    label_column="nope")  # stops after the first batch: nothing left hanging
    missing = io.join(store_root, "nope.csv")
    with pytest.raises(core.IngestError) as e:
        core.ingest(missing, str(tmp_path / "out" / "d"))
    assert str(e.value).startswith(f"data source {missing!r} not found: ")
    with pytest.raises(core.IngestError, match="no file matches"):
        core.ingest(io.join(store_root, "*.parquet"), str(tmp_path / "out" / "d"))
    assert os.listdir(tmp_path / "out") == []


def test_unsupported_scheme_is_named(tmp_path):
    with pytest.raises(core.IngestError, match=r"data source 'hdfs://x/y\.csv'.*unsupported"):
        core.ingest("hdfs://x/y.csv", str(tmp_path / "d"))


def _recording_opens(monkeypatch):
    """Every fsspec file ingest opens, to see how much of an object was fetched."""
    opened = []
    real = io.open_input

    def open_input(uri, block_size=0):
        f = real(uri, block_size=block_size)
        opened.append((f, f.cache))  # a closed file drops its cache
        return f

    monkeypatch.setattr(io, "open_input", open_input)
    return opened


def _random_frame(rows: int):
    rng = np.random.default_rng(7)
    return pd.DataFrame({"x": rng.random(rows), "y": rng.integers(0, 1000, rows),
                         "c": rng.choice(["a", "b", "c"], rows), "z": rng.random(rows)})


def test_gzip_csv_and_parquet_are_streamed_from_the_store(store_root, monkeypatch):
    """The first record batch arrives when only the first ranges of the object were fetched,
    and no more than one range is held."""
    block = 256 << 10
    monkeypatch.setattr(core, "READ_BLOCK_BYTES", block)
    monkeypatch.setattr(core, "CSV_INFER_BYTES", 256 << 10)
    frame = _random_frame(120_000)
    csv_gz = io.join(store_root, "big.csv.gz")
    io.write_bytes(csv_gz, gzip.compress(frame.to_csv(index=False).encode(), compresslevel=1))
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink,
                   row_group_size=10_000, compression="none")
    parquet = io.join(store_root, "big.parquet")
    io.write_bytes(parquet, sink.getvalue().to_pybytes())

    for uri in (csv_gz, parquet):
        size = len(io.read_bytes(uri))
        assert size > 8 * block, (uri, size)
        opened = _recording_opens(monkeypatch)
        _, _, batches = core.iter_source(uri, batch_rows=5_000)
        _, first = next(batches)
        assert first.num_rows > 0
        reader, cache = opened[-1]  # the file the batches come from
        assert reader.blocksize == block
        fetched = cache.total_requested_bytes
        assert 0 < fetched < size / 2, (uri, fetched, size)
        rows = first.num_rows + sum(b.num_rows for _, b in batches)
        assert rows == len(frame)
        assert cache.total_requested_bytes >= size * 0.9  # read to the end, in ranges
        assert cache.miss_count > 4
