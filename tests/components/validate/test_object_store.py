"""A curated schema_uri on the S3 and Cloud Storage servers on loopback, through the shell."""
import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components.validate import core
from kfp_mlops.components.validate.component import validate
from tests.components.validate.test_component import _artifacts

CURATED = """
    feature { name: "color" type: BYTES domain: "color" presence { min_count: 1 } }
    feature { name: "label" type: BYTES presence { min_count: 1 } }
    string_domain { name: "color" value: "red" }
"""


@pytest.mark.parametrize("form", ["file", "folder"])
def test_schema_uri_on_a_store_is_used(object_store, form, make_dataset, tmp_path):
    scheme, _, bucket = object_store
    train = {"color": ["red", "blue"] * 50, "label": ["y", "n"] * 50}
    d = make_dataset({"train": train, "eval": train}, label_column="label")
    folder = f"{scheme}://{bucket}/reviewed/schema"
    io.write_text(io.join(folder, core.SCHEMA_FILE), CURATED)
    uri = io.join(folder, core.SCHEMA_FILE) if form == "file" else folder + "/"
    a = _artifacts(tmp_path, d)
    out = validate.python_func(**a, schema_uri=uri, fail_on_anomalies=False)
    assert out.passed is False  # "blue" is outside the curated domain
    assert a["schema"].metadata["source"] == io.join(folder, core.SCHEMA_FILE)
    anomalies = a["anomalies"].metadata["reasons"]
    assert any("'color'" in r and "blue" in r for r in anomalies), anomalies


def test_missing_schema_uri_on_a_store_is_named(object_store, make_dataset, tmp_path):
    scheme, _, bucket = object_store
    train = {"color": ["red"] * 10, "label": ["y"] * 10}
    d = make_dataset({"train": train, "eval": train}, label_column="label")
    missing = f"{scheme}://{bucket}/nothing/schema.pbtxt"
    with pytest.raises(FileNotFoundError, match=f"curated schema '{missing}' does not exist"):
        validate.python_func(**_artifacts(tmp_path, d), schema_uri=missing)
