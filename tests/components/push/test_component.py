"""The push KFP shell, called through python_func with real artifact objects."""
import os

import pytest
from kfp import dsl

from kfp_mlops import images
from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.push.component import push


def artifacts(inputs, tmp_path, blessing="blessed", dataset_metadata=None):
    return dict(
        model=dsl.Model(name="model", uri=inputs["model"], metadata={"task": "classification"}),
        blessing=dsl.Artifact(name="blessing", uri=inputs[blessing], metadata={}),
        schema=dsl.Artifact(name="schema", uri=inputs["schema"], metadata={}),
        statistics=dsl.Artifact(name="statistics", uri=inputs["statistics"], metadata={}),
        dataset=dsl.Dataset(name="dataset", uri=inputs["dataset"],
                            metadata=dataset_metadata or {}),
        pushed_model=dsl.Model(name="pushed_model", uri=str(tmp_path / "task" / "pushed_model"),
                               metadata={}),
    )


def test_shell_pushes_a_blessed_model(inputs, tmp_path):
    registry_uri = str(tmp_path / "registry")
    arts = artifacts(inputs, tmp_path)
    out = push.python_func(**arts, registry_uri=registry_uri, model_name="penguins",
                           pipeline_run="training-abc")
    assert (out.pushed, out.version) == (True, "1")
    meta = arts["pushed_model"].metadata
    version = reg.LocalRegistry(registry_uri).resolve("penguins")
    assert meta["pushed"] is True and meta["version"] == "1"
    assert meta["model_uri"] == version.model_dir and meta["registry"] == registry_uri
    assert meta["aliases"] == ["champion"]
    assert io.read_json(os.path.join(arts["pushed_model"].path, "push.json")) == meta
    assert version.lineage["pipeline_run"] == "training-abc"
    assert version.lineage["data_content_hash"] == "c0ffee" * 10


def test_shell_records_why_it_did_not_push(inputs, tmp_path):
    arts = artifacts(inputs, tmp_path, blessing="not_blessed")
    out = push.python_func(**arts, registry_uri=str(tmp_path / "registry"),
                           model_name="penguins")
    assert (out.pushed, out.version) == (False, "")
    assert arts["pushed_model"].metadata["pushed"] is False
    assert arts["pushed_model"].metadata["reasons"] == ["accuracy 0.410 < threshold 0.800"]
    assert not (tmp_path / "registry").exists()


def test_shell_bad_blessing_leaves_nothing(inputs, tmp_path):
    arts = artifacts(inputs, tmp_path, blessing="schema")  # not a blessing folder
    with pytest.raises(ValueError, match="holds no blessing.json"):
        push.python_func(**arts, registry_uri=str(tmp_path / "registry"), model_name="penguins")
    assert not os.path.exists(arts["pushed_model"].path)
    assert arts["pushed_model"].metadata == {}
    assert not (tmp_path / "registry").exists()


def test_component_interface():
    spec = push.component_spec
    assert list(spec.inputs) == [
        "model", "blessing", "schema", "statistics", "dataset", "registry_uri", "model_name",
        "aliases", "serving_image", "endpoint_name", "traffic_percentage", "machine_type",
        "pipeline_run"]
    assert spec.inputs["model"].type == "system.Model@0.0.1"
    assert spec.inputs["dataset"].type == "system.Dataset@0.0.1"
    assert spec.inputs["aliases"].default == ["champion"]
    assert spec.inputs["serving_image"].default == reg.DEFAULT_SERVING_IMAGE
    assert spec.inputs["traffic_percentage"].default == 0
    assert spec.inputs["machine_type"].default == "n1-standard-2"
    assert spec.outputs["pushed_model"].type == "system.Model@0.0.1"
    assert spec.outputs["pushed"].type == "Boolean"
    assert spec.outputs["version"].type == "String"
    assert "Args:" not in (spec.description or "")
    assert spec.inputs["registry_uri"].description.startswith("A local path or ``file://``")
    assert spec.implementation.container.image == images.component_image("push")
