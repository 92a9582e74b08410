"""Vertex AI Model Registry (``registry/vertex.py``) with only ``google.cloud.aiplatform``
mocked -- autospec'd on the real classes with ``spec_set``, answers built from the SDK's own
types -- asserting the exact requests; the companion folder goes to the Cloud Storage
emulator on loopback."""
import os
import shutil
from unittest import mock

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from tests.components._shared.registry.conftest import EVALUATION, lineage, tree_hash
from tests.support import aiplatform_mocks



PROJECT, REGION = "my-proj", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{REGION}/models/123"


@pytest.fixture
def gcs(tmp_path, parts, bucket_on):
    """A pipeline run's artifacts in a bucket of the Cloud Storage emulator, as a Vertex AI
    task sees them: through a stand-in for the /gcs mount (the push's inputs), while the
    registry writes and reads the bucket itself."""
    _, bucket = bucket_on("gs")
    mount = tmp_path / "gcs"
    run = mount / bucket / "root" / "run-7"
    shutil.copytree(parts["model_a"], run / "train" / "model")
    shutil.copytree(parts["model_b"], run / "train2" / "model")
    shutil.copytree(parts["schema"], run / "validate" / "schema")
    shutil.copytree(parts["statistics"], run / "validate" / "statistics")
    io.put_dir(str(mount / bucket), f"gs://{bucket}")  # the mount shows the bucket
    return {"mount": str(mount), "model": str(run / "train" / "model"),
            "model2": str(run / "train2" / "model"), "schema": str(run / "validate" / "schema"),
            "statistics": str(run / "validate" / "statistics"),
            "run": f"gs://{bucket}/root/run-7", "bucket": bucket}


@pytest.fixture
def vertex():
    """google.cloud.aiplatform with init, Model and Endpoint mocked (nothing else)."""
    with aiplatform_mocks.patched() as patched:
        yield patched


def vertex_register(gcs, model="model", **kwargs):
    registry = reg.VertexRegistry(PROJECT, REGION, gcs_mount=gcs["mount"])
    return registry.register("penguins", gcs[model], gcs["schema"], gcs["statistics"],
                             EVALUATION, lineage("Training-Run 42"), **kwargs)


def uploaded(vertex, version_id):
    model = aiplatform_mocks.model(version_id=version_id, resource_name=PARENT)
    vertex.Model.upload.return_value = model
    return model


def parent_model(**attributes):
    return aiplatform_mocks.parent(PARENT, **attributes)


def test_vertex_first_upload_request(vertex, gcs):
    vertex.Model.list.return_value = []
    uploaded(vertex, "1")
    version = vertex_register(gcs)
    model_hash = io.sha256_tree(gcs["model"])
    vertex.init.assert_called_with(project=PROJECT, location=REGION)
    vertex.Model.list.assert_called_once_with(filter='display_name="penguins"',
                                              order_by="update_time desc")
    companion = gcs["run"] + "/train/model.kfp_mlops"
    vertex.Model.upload.assert_called_once_with(
        display_name="penguins",
        artifact_uri=gcs["run"] + "/train/model",
        serving_container_image_uri="us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-16:latest",
        parent_model=None,
        is_default_version=True,
        version_aliases=["champion"],
        labels={"managed_by": "kfp-mlops", "model_hash": model_hash[:32],
                "data_hash": "d" * 32, "pipeline_run": "training-run-42"},
        description="penguins: TensorFlow SavedModel registered by kfp-mlops",
        version_description=("kfp-mlops push from pipeline run Training-Run 42; schema, "
                             f"statistics and lineage in {companion}"),
    )
    vertex.Endpoint.list.assert_not_called()
    assert version.version == "1" and version.uri == f"{PARENT}@1"
    assert version.model_dir == gcs["run"] + "/train/model"
    assert version.schema_path == f"{companion}/schema/schema.pbtxt"
    assert version.statistics_dir == f"{companion}/statistics"
    # written to Cloud Storage itself, not through the mount
    assert not os.path.exists(gcs["model"] + ".kfp_mlops")
    assert tree_hash(f"{companion}/statistics") == io.sha256_tree(gcs["statistics"])
    assert io.isfile(f"{companion}/schema/schema.pbtxt")
    assert io.read_json(f"{companion}/evaluation.json") == EVALUATION
    assert io.read_json(f"{companion}/lineage.json")["model_content_hash"] == model_hash
    assert io.read_json(f"{companion}/kfp_mlops.json")["statistics"] == \
        f"{companion}/statistics"


def test_vertex_second_version_has_parent(vertex, gcs):
    parent = parent_model()
    parent.versioning_registry.list_versions.return_value = []
    vertex.Model.list.return_value = [parent]
    uploaded(vertex, "2")
    image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    version = vertex_register(gcs, "model2", aliases=["champion", "blue"], serving_image=image)
    model_hash = io.sha256_tree(gcs["model2"])
    # the hash look-up, then (for the audit log's bucket) the versions: none listed here,
    # so the log goes to the bucket of the version just uploaded
    assert parent.versioning_registry.list_versions.call_args_list == [
        mock.call(filter=f'labels.model_hash="{model_hash[:32]}"'), mock.call()]
    log = reg.VertexRegistry(PROJECT, REGION, audit_root=f"gs://{gcs['bucket']}/kfp_mlops_audit"
                             ).audit_log("penguins")
    assert [(e["alias"], e["from"], e["to"], e["by"], e["operation"]) for e in log] == [
        ("champion", None, "2", "Training-Run 42", "register"),
        ("blue", None, "2", "Training-Run 42", "register")]
    assert io.isfile(f"gs://{gcs['bucket']}/kfp_mlops_audit/{PARENT}/aliases/000001.json")
    kwargs = vertex.Model.upload.call_args.kwargs
    assert kwargs["parent_model"] == PARENT
    assert kwargs["version_aliases"] == ["champion", "blue"]
    assert kwargs["artifact_uri"] == gcs["run"] + "/train2/model"
    assert kwargs["serving_container_image_uri"].endswith("tf2-cpu.2-15:latest")
    assert kwargs["labels"]["model_hash"] == model_hash[:32]
    assert version.version == "2" and version.aliases == ["blue", "champion"]


def test_vertex_same_model_is_not_uploaded_again(vertex, gcs):
    parent = parent_model()
    hit = aiplatform_mocks.version_info("3", aliases=["blue"])
    parent.versioning_registry.list_versions.return_value = [hit]
    vertex.Model.list.return_value = [parent]
    existing = vertex.Model.return_value
    existing.configure_mock(uri=gcs["run"] + "/train/model", version_id="3",
                            resource_name=PARENT, version_aliases=["blue", "champion"],
                            labels={"model_hash": "h"})
    version = vertex_register(gcs)
    vertex.Model.upload.assert_not_called()
    parent.versioning_registry.add_version_aliases.assert_called_once_with(
        new_aliases=["champion"], version="3")
    vertex.Model.assert_called_with(model_name=PARENT, version="3")
    assert version.reused and version.version == "3" and version.uri == f"{PARENT}@3"
    assert io.listdir(gcs["run"] + "/train") == ["model"]  # nothing written either


def test_vertex_rejects_bad_requests(vertex, gcs, tmp_path, parts):
    registry = reg.VertexRegistry(PROJECT, REGION, gcs_mount=gcs["mount"])
    # the same input check as a folder registry's (registry.check_inputs), through the mount
    with pytest.raises(reg.RegistryError, match="model_dir .* is not a TF SavedModel"):
        registry.register("penguins", gcs["schema"], gcs["schema"], gcs["statistics"], {}, {})
    with pytest.raises(reg.RegistryError, match="statistics_dir .* holds no Split-train"):
        registry.register("penguins", gcs["model"], gcs["schema"], gcs["schema"], {}, {})
    with pytest.raises(reg.RegistryError, match="not in Cloud Storage"):
        registry.register("penguins", parts["model_a"], gcs["schema"], gcs["statistics"], {}, {})
    vertex.Model.upload.assert_not_called()
    vertex.Model.list.assert_not_called()  # checked before any request
    assert io.listdir(gcs["run"] + "/train") == ["model"]  # nothing written


def test_vertex_resolve_and_find_champion(vertex, gcs):
    from google.api_core import exceptions

    vertex.Model.list.return_value = []
    uploaded(vertex, "1")
    vertex_register(gcs)  # writes the companion folder
    uri = "vertex://projects/my-proj/locations/us-central1"
    with mock.patch.object(io, "GCS_FUSE_ROOT", gcs["mount"] + "/"):
        assert reg.find_champion(uri, "penguins") is None  # Model.list -> [] : no model
        parent = parent_model()
        vertex.Model.list.return_value = [parent]
        vertex.Model.return_value.configure_mock(
            uri=gcs["run"] + "/train/model", version_id="1", resource_name=PARENT,
            version_aliases=["champion"], labels={"model_hash": "abc"})
        champion = reg.find_champion(uri, "penguins")
        vertex.Model.assert_called_with(model_name=PARENT, version="champion")
        assert champion.version == "1" and champion.model_hash == "abc"
        assert champion.model_dir == gcs["run"] + "/train/model"
        assert champion.evaluation == EVALUATION
        assert champion.lineage["pipeline_run"] == "Training-Run 42"
        assert champion.schema_path.endswith("model.kfp_mlops/schema/schema.pbtxt")

        parent.versioning_registry.list_versions.return_value = [
            aiplatform_mocks.version_info("2"), aiplatform_mocks.version_info("10")]
        reg.open_registry(uri).resolve("penguins", "latest")
        vertex.Model.assert_called_with(model_name=PARENT, version="10")

        vertex.Model.side_effect = exceptions.NotFound("alias champion not found")
        assert reg.find_champion(uri, "penguins") is None
        with pytest.raises(reg.VersionNotFoundError, match="no version 'staging'"):
            reg.open_registry(uri).resolve("penguins", "staging")


def test_vertex_monitoring_history(vertex, gcs):
    vertex.Model.list.return_value = []
    uploaded(vertex, "1")
    registry = reg.VertexRegistry(PROJECT, REGION, gcs_mount=gcs["mount"])
    registry.register("penguins", gcs["model"], gcs["schema"], gcs["statistics"], EVALUATION,
                      lineage())
    vertex.Model.list.return_value = [parent_model()]
    vertex.Model.return_value.configure_mock(
        uri=gcs["run"] + "/train/model", version_id="1", resource_name=PARENT,
        version_aliases=["champion"], labels={})
    entry = registry.record_monitoring("penguins", "1", {"drift": True},
                                       gcs["run"] + "/validate/statistics")
    companion = gcs["run"] + "/train/model.kfp_mlops"
    assert entry.startswith(f"{companion}/monitoring/000001-")
    assert io.isfile(f"{companion}/monitoring/claims/000001.json")
    second = registry.record_monitoring("penguins", "1", {"drift": False}, gcs["statistics"])
    history = registry.monitoring_history("penguins", "champion")
    assert [h["drift"] for h in history] == [True, False]
    assert [h["entry"] for h in history] == [entry, second]
    for h in history:
        assert tree_hash(h["statistics_path"]) == io.sha256_tree(gcs["statistics"])
