"""The ingest KFP shell, called through python_func with real artifact objects."""
import os

import pytest
from kfp import dsl

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components.ingest.component import ingest


def test_shell_writes_dataset_and_metadata(penguins_csv, tmp_path):
    artifact = dsl.Dataset(name="dataset", uri=str(tmp_path / "dataset"), metadata={})
    ingest.python_func(data_uri=penguins_csv, dataset=artifact, label_column="species",
                       split_ratios=[0.8, 0.1, 0.1])
    assert artifact.metadata["num_rows"] == 344
    assert artifact.metadata["label_column"] == "species"
    assert sum(artifact.metadata["splits"].values()) == 344
    assert artifact.metadata == ds.read_info(artifact.path)
    assert ds.available_splits(artifact.path) == list(ds.SPLITS)


def test_shell_bad_input_leaves_nothing(penguins_csv, tmp_path):
    artifact = dsl.Dataset(name="dataset", uri=str(tmp_path / "out" / "dataset"), metadata={})
    os.makedirs(tmp_path / "out")
    with pytest.raises(ValueError, match="label_column 'tips' not found"):
        ingest.python_func(data_uri=penguins_csv, dataset=artifact, label_column="tips")
    assert os.listdir(tmp_path / "out") == []
    assert artifact.metadata == {}


def test_component_interface():
    spec = ingest.component_spec
    assert set(spec.inputs) == {"data_uri", "label_column", "key_column", "split_ratios",
                                "file_format", "bigquery_project", "csv_delimiter", "batch_rows"}
    assert spec.inputs["split_ratios"].default == [0.8, 0.1, 0.1]
    assert spec.outputs["dataset"].type == "system.Dataset@0.0.1"
    assert "Args:" not in (spec.description or "")  # kfp moved the Args into the inputs
    assert spec.inputs["data_uri"].description.startswith("Local path, gs:// or s3:// URI")
