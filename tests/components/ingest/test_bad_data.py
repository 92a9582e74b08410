"""Hostile input to ingest: every case ends in an error that names the file, the line and the
column, or in data read as it is meant, never in a crash or a silently wrong dataset."""
import gzip
import json
import logging
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components.ingest import core


def _fails(source, tmp_path, **kwargs) -> str:
    """Ingests ``source`` into tmp_path/out/d expecting an IngestError; nothing may be left."""
    (tmp_path / "out").mkdir(exist_ok=True)
    with pytest.raises(core.IngestError) as err:
        core.ingest(str(source), str(tmp_path / "out" / "d"), **kwargs)
    assert os.listdir(tmp_path / "out") == [], os.listdir(tmp_path / "out")
    return str(err.value)


# ------------------------------------------------------------------ column names

def test_duplicate_csv_columns_are_named_with_positions(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,c,d,a\n1,2,3,4,5\n")
    message = _fails(path, tmp_path)
    assert "data.csv" in message and "'a' appears 2 times (columns 1 and 5)" in message


def test_duplicated_label_column_is_named(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("x,label,label\n1,0,1\n2,1,0\n")
    message = _fails(path, tmp_path, label_column="label")
    assert "'label' appears 2 times (columns 2 and 3)" in message and "data.csv" in message


def test_duplicate_parquet_columns_are_named(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4]), pa.array([5, 6])],
                                        names=["k", "v", "k"]), path)
    message = _fails(path, tmp_path)
    assert "data.parquet" in message and "'k' appears 2 times (columns 1 and 3)" in message


def test_unnamed_csv_column_is_named_by_position(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,,c\n1,2,3\n")
    message = _fails(path, tmp_path)
    assert "column 2 of" in message and "no name" in message and "data.csv" in message


@pytest.mark.parametrize("column,kind", [
    (pa.array([[1, 2], [3]]), "list"),
    (pa.array([{"x": 1}, {"x": 2}]), "struct"),
    (pa.array([[("k", 1)], [("j", 2)]], type=pa.map_(pa.string(), pa.int64())), "map"),
])
def test_nested_parquet_columns_are_named_with_their_type(tmp_path, column, kind):
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"a": [1, 2], "nested": column}), path)
    message = _fails(path, tmp_path)
    assert "column 'nested'" in message and "nested.parquet" in message and kind in message


# ------------------------------------------------------------------ delimiters

@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected_from_the_header(tmp_path, delimiter, caplog):
    path = tmp_path / "data.csv"
    rows = [["a", "b", "label"]] + [[str(i), f"{i / 2}", "x" if i % 2 else "y"] for i in range(40)]
    path.write_text("".join(delimiter.join(r) + "\n" for r in rows))
    with caplog.at_level(logging.INFO, logger="kfp_mlops.components.ingest.core"):
        result = core.ingest(str(path), str(tmp_path / "d"), label_column="label")
    assert result.columns == {"a": "int64", "b": "double", "label": "string"}
    assert result.total_rows == 40
    assert f"detected {delimiter!r}" in caplog.text


def test_comma_files_stay_comma_even_with_other_characters_in_text(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,note,label\n" + "".join(f'{i},"a;b|c {i}",{i % 2}\n' for i in range(30)))
    result = core.ingest(str(path), str(tmp_path / "d"), label_column="label")
    assert set(result.columns) == {"id", "note", "label"}


def test_given_delimiter_wins_and_missing_label_suggests_the_right_one(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b;label\n1;2;x\n3;4;y\n")
    message = _fails(path, tmp_path, label_column="label", csv_delimiter=",")
    assert "label_column 'label' not found in" in message and "semi.csv" in message
    assert "a;b;label" in message
    assert "the file looks ';'-delimited; pass csv_delimiter=';'" in message


@pytest.mark.parametrize("bad", [";;", "\n", '"'])
def test_bad_csv_delimiter_is_refused_before_reading(tmp_path, bad):
    message = _fails(tmp_path / "absent.csv", tmp_path, csv_delimiter=bad)
    assert "csv_delimiter" in message and repr(bad) in message


def test_semicolon_file_with_delimiter_given_reads_columns(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b;label\n1;2,5;x\n3;4,5;y\n")
    result = core.ingest(str(path), str(tmp_path / "d"), csv_delimiter=";")
    assert list(result.columns) == ["a", "b", "label"]


# ------------------------------------------------------------------ huge cells

def test_cell_larger_than_the_block_is_read(tmp_path):
    path = tmp_path / "big.csv.gz"
    big = "y" * (core.CSV_BLOCK_BYTES * 3)
    with gzip.open(path, "wt") as f:
        f.write("a,b\n" + "".join(f"{i},x{i}\n" for i in range(5000)) + f"5000,{big}\n6,z\n")
    result = core.ingest(str(path), str(tmp_path / "d"))
    assert result.total_rows == 5002
    values = [v for s in ds.SPLITS for v in ds.read_pandas(str(tmp_path / "d"), s)["b"]]
    assert len(values) == 5002 and big in values and "z" in values and len(set(values)) == 5002


def test_cell_larger_than_the_largest_block_names_line_and_column(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "CSV_MAX_BLOCK_BYTES", core.CSV_BLOCK_BYTES)
    monkeypatch.setattr(core, "CSV_INFER_BYTES", core.CSV_BLOCK_BYTES)
    path = tmp_path / "big.csv"
    path.write_text("a,text\n1,x\n2," + "y" * (core.CSV_BLOCK_BYTES * 2) + "\n3,z\n")
    message = _fails(path, tmp_path)
    assert "big.csv" in message and "line 3" in message and "column 'text'" in message
    assert f"{core.CSV_BLOCK_BYTES * 2:,} bytes" in message


# ------------------------------------------------------------------ type flips

def test_number_column_turning_to_text_after_inference_names_line_value_and_fix(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setattr(core, "CSV_INFER_BYTES", 1 << 16)
    path = tmp_path / "flip.csv"
    rows = "".join(f"{i},{i * 0.5}\n" for i in range(20000))
    path.write_text("id,amount\n" + rows + "20000,n/a-yet\n")
    message = _fails(path, tmp_path)
    assert "flip.csv" in message and "line 20002" in message and "column 'amount'" in message
    assert "'n/a-yet'" in message and "double" in message
    assert "fix or empty that cell" in message


def test_number_column_turning_to_text_in_a_later_file_is_named(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-1.csv").write_text("id,amount\n1,2.5\n2,3.5\n")
    (folder / "part-2.csv").write_text("id,amount\n3,4.5\n4,lots\n")
    message = _fails(str(folder / "part-*.csv"), tmp_path)
    assert "part-2.csv" in message and "line 3" in message and "'lots'" in message


# ------------------------------------------------------------------ infinite values

def test_infinite_values_are_counted_per_split_and_column(tmp_path):
    path = tmp_path / "inf.csv"
    values = ["inf" if i % 50 == 0 else ("-inf" if i % 77 == 0 else ("nan" if i % 9 == 0
              else str(i / 3))) for i in range(400)]
    path.write_text("k,x,y\n" + "".join(f"{i},{v},{i / 7}\n" for i, v in enumerate(values)))
    out = str(tmp_path / "d")
    result = core.ingest(str(path), out)
    counted = {s: ds.infinite_counts_of(ds.read_table(out, s)) for s in ds.SPLITS}
    assert sum(c.get("x", 0) for c in counted.values()) == \
        sum(v in ("inf", "-inf") for v in values) > 0
    info = json.load(open(os.path.join(out, ds.INFO_FILE)))
    assert info[ds.INFINITE_KEY] == counted == result.metadata()[ds.INFINITE_KEY]
    assert ds.infinite_counts(out, "train") == counted["train"]
    assert ds.infinite_counts(out, "train", recorded=False) == counted["train"]


def test_number_column_with_a_stray_word_in_the_first_block_is_named(tmp_path, caplog):
    path = tmp_path / "mixed.csv"
    rows = [f"{i},{i * 1.5}" for i in range(200)]
    rows[120] = "120,unknown"
    path.write_text("id,amount\n" + "\n".join(rows) + "\n")
    with caplog.at_level(logging.WARNING, logger="kfp_mlops.components.ingest.core"):
        result = core.ingest(str(path), str(tmp_path / "d"))
    assert result.columns["amount"] == "string"
    assert "column 'amount' is read as text (categorical) although 199 of its first 200" \
        in caplog.text and "line 122 holds 'unknown'" in caplog.text and "mixed.csv" in caplog.text


def test_text_column_is_not_warned_about(tmp_path, caplog):
    path = tmp_path / "text.csv"
    path.write_text("id,colour\n" + "".join(f"{i},{'red' if i % 2 else 'blue'}\n" for i in range(50)))
    with caplog.at_level(logging.WARNING, logger="kfp_mlops.components.ingest.core"):
        core.ingest(str(path), str(tmp_path / "d"))
    assert "read as text" not in caplog.text


def test_gz_file_that_is_not_gzip_is_named(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_text("a,b\n1,2\n")
    message = _fails(path, tmp_path)
    assert "data.csv.gz" in message
