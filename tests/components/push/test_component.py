"""The push KFP shell, called through python_func with real artifact objects."""
import json
import math
import os
import shutil
from unittest import mock

import pytest
from kfp import dsl

from kfp_mlops import images
from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components._shared.artifact_types import UnmanagedContainerModel, VertexModel
from kfp_mlops.components.push.component import push
from tests.support import aiplatform_mocks


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
        vertex_model=VertexModel(name="vertex_model", uri=str(tmp_path / "task" / "vertex_model"),
                                 metadata={}),
        unmanaged_container_model=UnmanagedContainerModel(
            name="unmanaged_container_model",
            uri=str(tmp_path / "task" / "unmanaged_container_model"), metadata={}),
        model_card=dsl.HTML(name="model_card", uri=str(tmp_path / "task" / "model_card.html"),
                            metadata={}),
    )


def assert_launcher_safe(metadata):
    """No null (the Kubeflow launcher refuses it) and no NaN anywhere in the metadata."""
    def walk(value):
        assert value is not None
        if isinstance(value, float):
            assert not math.isnan(value)
        for child in (value.values() if isinstance(value, dict) else
                      value if isinstance(value, list) else []):
            walk(child)
    walk(metadata)
    json.dumps(metadata, allow_nan=False)


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
    assert meta["aliases"] == ["champion"] and meta["champion"] is True
    assert meta["champion_reason"].startswith("champion=yes: champion moved from no version")
    assert io.read_json(os.path.join(arts["pushed_model"].path, "push.json")) == meta
    assert version.lineage["pipeline_run"] == "training-abc"
    assert version.lineage["data_content_hash"] == "c0ffee" * 10
    # the model card: push's HTML artifact is the card stored with the version
    card = arts["model_card"]
    assert card.metadata == {"registry_uri": os.path.join(version.uri, "model_card.html")}
    assert meta["model_card"] == card.metadata["registry_uri"]
    with open(card.path, encoding="utf-8") as f, \
            open(card.metadata["registry_uri"], encoding="utf-8") as stored:
        assert f.read() == stored.read()

    # Google Cloud's types: the registered SavedModel inside the artifact, whose uri stays
    # the one KFP assigned (under the pipeline root, as the Kubeflow launcher requires); no
    # Vertex AI model, so no resourceName.
    container = arts["unmanaged_container_model"]
    assert container.uri == str(tmp_path / "task" / "unmanaged_container_model")
    assert io.sha256_tree(container.path) == version.model_hash == \
        io.sha256_tree(arts["model"].path)
    assert container.metadata == {"predictSchemata": {},
                                  "containerSpec": {"imageUri": reg.DEFAULT_SERVING_IMAGE}}
    vertex = arts["vertex_model"]
    assert vertex.uri == str(tmp_path / "task" / "vertex_model")
    assert vertex.metadata == {"available": False, "reason": (
        f"registry {registry_uri!r} is not Vertex AI Model Registry; no Vertex AI model to "
        "name")}
    for art in arts.values():
        assert_launcher_safe(art.metadata)


def test_shell_keeps_the_container_model_under_the_pipeline_root(inputs, tmp_path,
                                                                 bucket_on):
    """A registry in another bucket: the output still holds the model itself, at the uri KFP
    assigned (the Kubeflow launcher fails a task whose output uri leaves the pipeline
    root's bucket), not a pointer into the registry."""
    _, bucket = bucket_on("s3")
    arts = artifacts(inputs, tmp_path)
    push.python_func(**arts, registry_uri=f"s3://{bucket}/registry", model_name="penguins",
                     serving_image="europe-docker.pkg.dev/p/r/serve:1")
    container = arts["unmanaged_container_model"]
    assert container.uri == str(tmp_path / "task" / "unmanaged_container_model")
    assert io.sha256_tree(container.path) == io.sha256_tree(arts["model"].path)
    assert container.metadata == {"predictSchemata": {}, "containerSpec": {
        "imageUri": "europe-docker.pkg.dev/p/r/serve:1"}}


def test_shell_records_why_it_did_not_push(inputs, tmp_path):
    arts = artifacts(inputs, tmp_path, blessing="not_blessed")
    out = push.python_func(**arts, registry_uri=str(tmp_path / "registry"),
                           model_name="penguins")
    assert (out.pushed, out.version) == (False, "")
    assert arts["pushed_model"].metadata["pushed"] is False
    assert arts["pushed_model"].metadata["reasons"] == ["accuracy 0.410 < threshold 0.800"]
    assert not (tmp_path / "registry").exists()
    # the outputs KFP requires exist, say nothing was pushed, and name no resource
    for name in ("vertex_model", "unmanaged_container_model"):
        assert arts[name].uri == str(tmp_path / "task" / name)
        assert arts[name].metadata == {
            "available": False, "reason": "not pushed: accuracy 0.410 < threshold 0.800"}
        assert_launcher_safe(arts[name].metadata)
    with open(arts["model_card"].path, encoding="utf-8") as f:
        page = f.read()
    assert "no model card" in page and "accuracy 0.410 &lt; threshold 0.800" in page
    assert arts["model_card"].metadata == {}


def test_shell_bad_blessing_leaves_nothing(inputs, tmp_path):
    arts = artifacts(inputs, tmp_path, blessing="schema")  # not a blessing folder
    with pytest.raises(ValueError, match="holds no blessing.json"):
        push.python_func(**arts, registry_uri=str(tmp_path / "registry"), model_name="penguins")
    assert not os.path.exists(arts["pushed_model"].path)
    for name in ("pushed_model", "vertex_model", "unmanaged_container_model"):
        assert arts[name].metadata == {}
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
    assert spec.outputs["vertex_model"].type == "google.VertexModel@0.0.1"
    assert spec.outputs["unmanaged_container_model"].type == \
        "google.UnmanagedContainerModel@0.0.1"
    assert spec.outputs["pushed"].type == "Boolean"
    assert spec.outputs["version"].type == "String"
    assert "Args:" not in (spec.description or "")
    assert spec.inputs["registry_uri"].description.startswith("A local path or ``file://``")
    assert spec.implementation.container.image == images.component_image("push")


def test_shell_vertex_push_names_the_version_for_google_cloud_components(
        inputs, tmp_path, monkeypatch, bucket_on):
    """Vertex AI Model Registry, with only google.cloud.aiplatform mocked (autospec,
    spec_set); the companion files go to the Cloud Storage emulator."""
    _, bucket = bucket_on("gs")
    mount = tmp_path / "gcs"
    run = mount / bucket / "root" / "run-1"
    for name in ("model", "schema", "statistics"):
        shutil.copytree(inputs[name], run / name)
    monkeypatch.setattr(io, "GCS_FUSE_ROOT", f"{mount}/")  # where production reads the mount
    arts = artifacts(inputs, run)  # outputs on the mount too, where Vertex AI puts them
    for name in ("model", "schema", "statistics"):
        arts[name].uri = str(run / name)
    image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    from tests.components.push.test_core import vertex_versions

    with aiplatform_mocks.patched() as vertex:
        init, model_cls = vertex.init, vertex.Model
        parent = vertex_versions(model_cls, [None], exists=False,
                                 name="projects/p/locations/europe-west4/models/9")
        uploaded = model_cls.upload.return_value
        uploaded.configure_mock(version_id="3",
                                resource_name="projects/p/locations/europe-west4/models/9")
        out = push.python_func(**arts, registry_uri="vertex://projects/p/locations/europe-west4",
                               model_name="penguins", pipeline_run="Run 7",
                               serving_image=image)
    init.assert_called_with(project="p", location="europe-west4")
    # the first look finds no model; after the upload, champion is read and moved
    assert model_cls.list.call_args_list[0] == mock.call(filter='display_name="penguins"',
                                                         order_by="update_time desc")
    parent.versioning_registry.add_version_aliases.assert_called_once_with(
        new_aliases=["champion"], version="3")
    companion = f"gs://{bucket}/root/run-1/model.kfp_mlops"
    model_cls.upload.assert_called_once_with(
        display_name="penguins",
        artifact_uri=f"gs://{bucket}/root/run-1/model",
        serving_container_image_uri=image,
        parent_model=None,
        is_default_version=True,
        version_aliases=[],
        labels={"managed_by": "kfp-mlops",
                "model_hash": io.sha256_tree(str(run / "model"))[:32],
                "data_hash": ("c0ffee" * 10)[:32],
                "pipeline_run": "run-7"},
        description="penguins: TensorFlow SavedModel registered by kfp-mlops",
        version_description=("kfp-mlops push from pipeline run Run 7; schema, statistics "
                             f"and lineage in {companion}"))
    uploaded.deploy.assert_not_called()
    assert (out.pushed, out.version) == (True, "3")

    # what GCPC's upload_model remote runner would output for this version
    resource = "projects/p/locations/europe-west4/models/9@3"
    assert arts["vertex_model"].uri == \
        f"https://europe-west4-aiplatform.googleapis.com/v1/{resource}"
    assert arts["vertex_model"].metadata == {"resourceName": resource}
    assert arts["unmanaged_container_model"].uri == \
        str(run / "task" / "unmanaged_container_model")  # as KFP assigned
    assert arts["unmanaged_container_model"].metadata == {
        "predictSchemata": {}, "containerSpec": {"imageUri": image}}
    assert arts["pushed_model"].metadata["version_uri"] == resource
    for art in arts.values():
        assert_launcher_safe(art.metadata)
