"""_shared.schema: one reader for a schema given as a file or a folder, local or on a store,
and the TRAINING/SERVING environments validate and monitor give a schema."""
import os

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared.schema import (SCHEMA_FILE, SERVING, TRAINING, SchemaError,
                                                 SchemaNotFoundError, add_environments,
                                                 read_schema, schema_file)

TEXT = """
    feature { name: "color" type: BYTES domain: "color" presence { min_count: 1 } }
    feature { name: "label" type: BYTES presence { min_count: 1 } }
    string_domain { name: "color" value: "red" }
"""


def _names(schema):
    return [f.name for f in schema.feature]


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "schema"
    path.mkdir()
    (path / SCHEMA_FILE).write_text(TEXT)
    return str(path)


def test_a_file_or_a_folder_holding_one(folder, tmp_path, monkeypatch):
    file = os.path.join(folder, SCHEMA_FILE)
    assert schema_file(folder) == file
    assert schema_file(folder + "/") == file
    assert schema_file(file) == file
    monkeypatch.chdir(tmp_path)
    assert schema_file("schema") == file                 # relative paths made absolute
    for given in (folder, folder + "/", file, "file://" + file, "schema", "schema/schema.pbtxt"):
        assert _names(read_schema(given)) == ["color", "label"], given


def test_a_file_of_another_name(tmp_path):
    path = tmp_path / "reviewed.txt"
    path.write_text(TEXT)
    assert _names(read_schema(str(path))) == ["color", "label"]


def test_missing_schema_is_named(tmp_path):
    missing = str(tmp_path / "nothing")
    with pytest.raises(SchemaNotFoundError, match=(
            f"curated schema '{missing}' does not exist \\(expected a schema.pbtxt file or "
            "a folder holding one\\)")) as raised:
        read_schema(missing, "curated schema")
    assert isinstance(raised.value, FileNotFoundError)
    assert isinstance(raised.value, ValueError)  # a SchemaError, as every reader error is


def test_folder_without_a_schema_is_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SchemaNotFoundError, match=f"schema '{empty}' is a folder without a "
                                                  "schema.pbtxt"):
        read_schema(str(empty))


@pytest.mark.parametrize("content", [b"feature { nme: 'x' }", b"\xff\xfe not text"])
def test_not_a_schema_is_named(tmp_path, content):
    path = tmp_path / SCHEMA_FILE
    path.write_bytes(content)
    with pytest.raises(SchemaError, match=f"schema '{path}' is not a tensorflow_metadata "
                                          "Schema in text format"):
        read_schema(str(tmp_path))


@pytest.mark.parametrize("given,expected", [("", "got an empty value"),
                                            ("http://host/schema.pbtxt", "unsupported scheme"),
                                            ("gs:///schema.pbtxt", "expected gs://BUCKET/PATH")])
def test_malformed_location_is_named(given, expected):
    with pytest.raises(SchemaError, match=f"the registered schema '{given}': .*{expected}"):
        read_schema(given, "the registered schema")


@pytest.mark.parametrize("form", ["file", "folder"])
def test_on_an_object_store(object_store, form):
    scheme, _, bucket = object_store
    folder = f"{scheme}://{bucket}/reviewed/schema"
    io.write_text(io.join(folder, SCHEMA_FILE), TEXT)
    given = io.join(folder, SCHEMA_FILE) if form == "file" else folder + "/"
    assert schema_file(given) == io.join(folder, SCHEMA_FILE)
    assert _names(read_schema(given)) == ["color", "label"]
    missing = f"{scheme}://{bucket}/nothing/{SCHEMA_FILE}"
    with pytest.raises(SchemaNotFoundError, match=f"schema '{missing}' does not exist"):
        read_schema(missing)


def test_gcs_mount_path_is_read_as_gs(bucket_on):
    _, bucket = bucket_on("gs")
    io.write_text(f"gs://{bucket}/s/schema.pbtxt", TEXT)
    assert schema_file(f"/gcs/{bucket}/s") == f"gs://{bucket}/s/schema.pbtxt"
    assert _names(read_schema(f"/gcs/{bucket}/s/schema.pbtxt")) == ["color", "label"]


def _schema(text=TEXT):
    return text_format.Parse(text, schema_pb2.Schema())


def test_environments_keep_the_label_out_of_serving():
    schema = add_environments(_schema(), "label")
    assert list(schema.default_environment) == [TRAINING, SERVING]
    by_name = {f.name: f for f in schema.feature}
    assert list(by_name["label"].not_in_environment) == [SERVING]
    assert not by_name["color"].not_in_environment
    again = add_environments(schema, "label")  # idempotent
    assert list(again.default_environment) == [TRAINING, SERVING]
    assert list(by_name["label"].not_in_environment) == [SERVING]


def test_environments_leave_a_label_that_names_its_own_alone():
    schema = _schema(TEXT + 'default_environment: "SERVING"')
    schema.feature[1].in_environment.append("LABELLED")
    add_environments(schema, "label")
    assert list(schema.default_environment) == [SERVING, TRAINING]
    assert not schema.feature[1].not_in_environment
    assert not add_environments(_schema(), "").feature[1].not_in_environment  # no label
