"""Ingest core on real data: splits, determinism, metadata, streaming and bad input."""
import gzip
import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components.ingest import core


def _read_all(out):
    return {s: ds.read_pandas(out, s) for s in ds.SPLITS}


def _assert_nothing_left(parent):
    """No output and no hidden staging directory may survive a failed ingest."""
    assert os.listdir(parent) == [], os.listdir(parent)


def test_penguins_splits_cover_every_row_once(penguins_csv, tmp_path):
    out = str(tmp_path / "dataset")
    result = core.ingest(penguins_csv, out, label_column="species")

    source = pd.read_csv(penguins_csv)
    splits = _read_all(out)
    assert result.split_rows == {s: len(f) for s, f in splits.items()}
    assert result.total_rows == len(source) == 344
    combined = pd.concat(splits.values()).sort_values(list(source.columns)).reset_index(drop=True)
    expected = source.sort_values(list(source.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(combined, expected, check_dtype=False)
    # 80/10/10 within sampling noise on 344 rows
    assert 0.7 < result.split_rows["train"] / 344 < 0.9
    assert result.split_rows["eval"] > 10 and result.split_rows["test"] > 10
    # missing values survive as nulls, not as the string "NA"
    assert splits["train"]["sex"].isna().sum() + splits["eval"]["sex"].isna().sum() \
        + splits["test"]["sex"].isna().sum() == source["sex"].isna().sum() == 11


def test_metadata_and_dataset_json(penguins_csv, tmp_path):
    out = str(tmp_path / "dataset")
    result = core.ingest(penguins_csv, out, label_column="species")
    meta = result.metadata()
    assert meta == ds.read_info(out)
    assert meta["source"] == penguins_csv
    assert meta["label_column"] == "species"
    assert meta["splits"] == result.split_rows
    assert meta["columns"]["species"] == "string"
    assert meta["columns"]["bill_length_mm"] == "double"
    assert meta["columns"]["year"] == "int64"
    assert len(meta["content_hash"]) == 64
    json.dumps(meta)  # artifact metadata must be JSON


def test_same_input_same_split_and_hash(penguins_csv, tmp_path):
    a = core.ingest(penguins_csv, str(tmp_path / "a"))
    b = core.ingest(penguins_csv, str(tmp_path / "b"))
    assert a.content_hash == b.content_hash
    for split in ds.SPLITS:
        pd.testing.assert_frame_equal(ds.read_pandas(str(tmp_path / "a"), split),
                                      ds.read_pandas(str(tmp_path / "b"), split))


def test_split_does_not_depend_on_row_order_or_batching(penguins_csv, tmp_path):
    frame = pd.read_csv(penguins_csv)
    header, *lines = open(penguins_csv).read().splitlines()
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([header] + lines[::-1]) + "\n")  # same text, rows reversed
    a = core.ingest(penguins_csv, str(tmp_path / "a"))
    b = core.ingest(str(shuffled), str(tmp_path / "b"), batch_rows=7)
    assert a.split_rows == b.split_rows
    assert a.content_hash == b.content_hash
    for split in ds.SPLITS:
        cols = list(frame.columns)
        left = ds.read_pandas(str(tmp_path / "a"), split).sort_values(cols).reset_index(drop=True)
        right = ds.read_pandas(str(tmp_path / "b"), split).sort_values(cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right)


def test_changed_content_changes_hash(penguins_csv, tmp_path):
    frame = pd.read_csv(penguins_csv)
    frame.loc[0, "body_mass_g"] = 9999
    changed = tmp_path / "changed.csv"
    frame.to_csv(changed, index=False)
    a = core.ingest(penguins_csv, str(tmp_path / "a"))
    b = core.ingest(str(changed), str(tmp_path / "b"))
    assert a.content_hash != b.content_hash


def test_key_column_keeps_rows_of_a_key_together(tmp_path):
    frame = pd.DataFrame({"user": [f"u{i % 40}" for i in range(2000)],
                          "x": range(2000), "y": [i % 2 for i in range(2000)]})
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    out = str(tmp_path / "dataset")
    core.ingest(str(path), out, label_column="y", key_column="user")
    owners = {}
    for split in ds.SPLITS:
        for user in ds.read_pandas(out, split)["user"].unique():
            assert owners.setdefault(user, split) == split, f"{user} in two splits"
    assert len(owners) == 40


def test_custom_ratios(penguins_csv, tmp_path):
    result = core.ingest(penguins_csv, str(tmp_path / "d"), split_ratios=[0.5, 0.5, 0.0])
    assert result.split_rows["test"] == 0
    assert 120 < result.split_rows["train"] < 224
    assert ds.num_rows(str(tmp_path / "d"), "test") == 0  # the split exists, empty


def test_glob_and_directory_of_csv_and_gzip(penguins_csv, tmp_path):
    header, *lines = open(penguins_csv).read().splitlines()
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-0.csv").write_text("\n".join([header] + lines[:150]) + "\n")
    with gzip.open(folder / "part-1.csv.gz", "wt") as f:
        f.write("\n".join([header] + lines[150:]) + "\n")
    (folder / "_SUCCESS").write_text("")
    whole = core.ingest(penguins_csv, str(tmp_path / "whole"))
    by_dir = core.ingest(str(folder), str(tmp_path / "by_dir"))
    by_glob = core.ingest(str(folder / "part-*"), str(tmp_path / "by_glob"))
    assert by_dir.total_rows == by_glob.total_rows == 344
    assert by_dir.content_hash == by_glob.content_hash == whole.content_hash
    assert len(by_glob.files) == 2


def test_parquet_source_gives_same_splits_as_csv(penguins_csv, tmp_path):
    from pyarrow import csv as pcsv

    table = pcsv.read_csv(penguins_csv,
                          convert_options=pcsv.ConvertOptions(strings_can_be_null=True))
    pq.write_table(table, tmp_path / "penguins.parquet")
    a = core.ingest(penguins_csv, str(tmp_path / "a"))
    b = core.ingest(str(tmp_path / "penguins.parquet"), str(tmp_path / "b"), batch_rows=50)
    assert a.split_rows == b.split_rows and a.content_hash == b.content_hash
    assert b.source_kind == "parquet"


def test_streams_in_batches_with_bounded_row_groups(tmp_path):
    frame = pd.DataFrame({"a": range(10_000), "b": [f"v{i % 7}" for i in range(10_000)]})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "in.parquet",
                   row_group_size=1000)
    out = str(tmp_path / "d")
    result = core.ingest(str(tmp_path / "in.parquet"), out, batch_rows=500)
    assert result.total_rows == 10_000
    meta = pq.ParquetFile(ds.split_path(out, "train")).metadata
    assert meta.num_row_groups >= 10  # written batch by batch, never as one table
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 500


# --------------------------------------------------------------------------- bad input

def test_missing_file(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(core.IngestError, match=r"not found.*nope\.csv"):
        core.ingest(str(tmp_path / "nope.csv"), str(tmp_path / "out" / "d"))
    _assert_nothing_left(tmp_path / "out")


def test_glob_matching_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(core.IngestError, match="no file matches"):
        core.ingest(str(tmp_path / "*.csv"), str(tmp_path / "out" / "d"))
    _assert_nothing_left(tmp_path / "out")


def test_empty_file(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(core.IngestError, match=r"empty\.csv' is empty"):
        core.ingest(str(tmp_path / "empty.csv"), str(tmp_path / "out" / "d"))
    _assert_nothing_left(tmp_path / "out")


def test_header_only(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "header.csv").write_text("a,b,label\n")
    with pytest.raises(core.IngestError, match="holds no rows"):
        core.ingest(str(tmp_path / "header.csv"), str(tmp_path / "out" / "d"), label_column="label")
    _assert_nothing_left(tmp_path / "out")


def test_missing_label_column_lists_columns(penguins_csv, tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(core.IngestError) as err:
        core.ingest(penguins_csv, str(tmp_path / "out" / "d"), label_column="tips")
    message = str(err.value)
    assert "label_column 'tips' not found in" in message and "penguins.csv" in message
    assert "species, island, bill_length_mm" in message
    _assert_nothing_left(tmp_path / "out")


def test_label_column_without_any_value(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "d.csv").write_text("a,label\n1,\n2,\n3,NA\n")
    with pytest.raises(core.IngestError, match="label_column 'label'.*has no values"):
        core.ingest(str(tmp_path / "d.csv"), str(tmp_path / "out" / "d"), label_column="label")
    _assert_nothing_left(tmp_path / "out")


def test_unreadable_csv_names_the_line(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n")
    with pytest.raises(core.IngestError, match=r"bad\.csv'.*line 4 has 2 fields, expected 3"):
        core.ingest(str(tmp_path / "bad.csv"), str(tmp_path / "out" / "d"))
    _assert_nothing_left(tmp_path / "out")


def test_bad_value_in_a_later_block_names_line_and_column(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "CSV_BLOCK_BYTES", 1 << 12)  # many small blocks, and types
    monkeypatch.setattr(core, "CSV_INFER_BYTES", 1 << 12)  # inferred from the first only
    rows = "".join(f"{i},{i * 2}\n" for i in range(3000))
    (tmp_path / "out").mkdir()
    (tmp_path / "late.csv").write_text("a,b\n" + rows + "12,oops\n")
    with pytest.raises(core.IngestError, match=r"line 3002, column 'b': 'oops' is not an integer"):
        core.ingest(str(tmp_path / "late.csv"), str(tmp_path / "out" / "d"))
    _assert_nothing_left(tmp_path / "out")


def test_unsupported_format(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "data.json").write_text('{"a": 1}\n')
    with pytest.raises(core.IngestError, match=r"data\.json'.*unsupported format.*CSV.*Parquet"):
        core.ingest(str(tmp_path / "data.json"), str(tmp_path / "out" / "d"))
    with pytest.raises(core.IngestError, match="file_format 'json' is not supported"):
        core.ingest(str(tmp_path / "data.json"), str(tmp_path / "out" / "d"), file_format="json")
    _assert_nothing_left(tmp_path / "out")


def test_corrupt_parquet(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "x.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(core.IngestError, match=r"cannot read Parquet .*x\.parquet"):
        core.ingest(str(tmp_path / "x.parquet"), str(tmp_path / "out" / "d"))
    _assert_nothing_left(tmp_path / "out")


def test_files_with_different_columns(penguins_csv, tmp_path):
    frame = pd.read_csv(penguins_csv)
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:100].to_csv(folder / "a.csv", index=False)
    frame.iloc[100:].drop(columns=["year"]).to_csv(folder / "b.csv", index=False)
    (tmp_path / "out").mkdir()
    with pytest.raises(core.IngestError, match=r"b\.csv.*missing \['year'\]"):
        core.ingest(str(folder), str(tmp_path / "out" / "d"))
    _assert_nothing_left(tmp_path / "out")


@pytest.mark.parametrize("ratios", [[0.8, 0.1], [0.8, 0.3, 0.1], [0.0, 0.5, 0.5], [1.2, -0.1, -0.1]])
def test_bad_split_ratios(penguins_csv, tmp_path, ratios):
    with pytest.raises(core.IngestError, match="split_ratios"):
        core.ingest(penguins_csv, str(tmp_path / "d"), split_ratios=ratios)
    assert not (tmp_path / "d").exists()


def test_existing_output_is_not_overwritten(penguins_csv, tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        core.ingest(penguins_csv, str(out))
    assert (out / "keep.txt").read_text() == "mine"


# --------------------------------------------------------------------------- BigQuery

class _FakeRows:
    """What the BigQuery client returns: something with to_arrow_iterable()."""

    def __init__(self, table):
        self.table = table

    def to_arrow_iterable(self):
        yield from self.table.to_batches(max_chunksize=100)


def _bigquery_client(monkeypatch, penguins_csv):
    from unittest import mock

    from google.cloud import bigquery
    from pyarrow import csv as pcsv

    table = pcsv.read_csv(penguins_csv,
                          convert_options=pcsv.ConvertOptions(strings_can_be_null=True))
    client = mock.create_autospec(bigquery.Client, instance=True)
    client.list_rows.return_value = _FakeRows(table)
    client.query.return_value.result.return_value = _FakeRows(table)
    factory = mock.Mock(return_value=client)
    monkeypatch.setattr(bigquery, "Client", factory)
    return factory, client


def test_bigquery_table(monkeypatch, penguins_csv, tmp_path):
    factory, client = _bigquery_client(monkeypatch, penguins_csv)
    result = core.ingest("bq://my-project.zoo.penguins", str(tmp_path / "d"),
                         label_column="species", bigquery_project="billing-project",
                         batch_rows=1000)
    factory.assert_called_once_with(project="billing-project")
    client.list_rows.assert_called_once_with("my-project.zoo.penguins", page_size=1000)
    client.query.assert_not_called()
    assert result.total_rows == 344 and result.source_kind == "bigquery"
    assert result.content_hash == core.ingest(penguins_csv, str(tmp_path / "csv")).content_hash


def test_bigquery_query(monkeypatch, penguins_csv, tmp_path):
    factory, client = _bigquery_client(monkeypatch, penguins_csv)
    sql = "SELECT * FROM `my-project.zoo.penguins` WHERE year > 2006"
    result = core.ingest(sql, str(tmp_path / "d"), batch_rows=500)
    factory.assert_called_once_with(project=None)
    client.query.assert_called_once_with(sql)
    client.query.return_value.result.assert_called_once_with(page_size=500)
    assert result.total_rows == 344


def test_bigquery_bad_table_reference(monkeypatch, penguins_csv, tmp_path):
    _bigquery_client(monkeypatch, penguins_csv)
    with pytest.raises(core.IngestError, match="expected bq://project.dataset.table"):
        core.ingest("bq://just_a_table", str(tmp_path / "d"))
    assert not (tmp_path / "d").exists()
