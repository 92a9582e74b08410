"""The model registry: a local folder registry on real files, and Vertex AI with only
``google.cloud.aiplatform`` mocked (asserting the exact requests)."""
import os
import shutil
import threading
from unittest import mock

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg

EVALUATION = {"metrics": {"accuracy": 0.9}, "slices": {}}


def lineage(run="run-1"):
    return {"data_content_hash": "d" * 64, "data_source": "penguins.csv", "pipeline_run": run}


def register(registry, parts, model="model_a", name="penguins", **kwargs):
    return registry.register(name, parts[model], parts["schema"], parts["statistics"],
                             EVALUATION, lineage(), **kwargs)


# --------------------------------------------------------------------------- URIs

def test_parse_registry_uri(tmp_path):
    assert reg.parse_registry_uri(str(tmp_path)) == reg.RegistryLocation("local", str(tmp_path))
    assert reg.parse_registry_uri(f"file://{tmp_path}/r").root == f"{tmp_path}/r"
    assert reg.parse_registry_uri("vertex://projects/my-proj/locations/us-central1") == \
        reg.RegistryLocation("vertex", project="my-proj", location="us-central1")
    assert isinstance(reg.open_registry(str(tmp_path)), reg.LocalRegistry)
    vertex = reg.open_registry("vertex://projects/p/locations/europe-west4")
    assert (vertex.project, vertex.location) == ("p", "europe-west4")


@pytest.mark.parametrize("uri, message", [
    ("", "registry_uri is empty"),
    ("gs://bucket/registry", "use Vertex AI .* /gcs/bucket/registry"),
    ("s3://bucket/registry", "unknown scheme"),
    ("vertex://projects/p", "expected vertex://projects/<project>/locations/<region>"),
    ("file://relative/path", "absolute path"),
])
def test_parse_registry_uri_rejects(uri, message):
    with pytest.raises(reg.RegistryError, match=message):
        reg.parse_registry_uri(uri)


def test_gcs_path_conversion(tmp_path):
    assert reg.to_gcs_uri("/gcs/bucket/a/model") == "gs://bucket/a/model"
    assert reg.to_gcs_uri("gs://bucket/a") == "gs://bucket/a"
    assert io.to_mount_path("gs://bucket/a/model") == "/gcs/bucket/a/model"
    assert io.to_mount_path(str(tmp_path)) == str(tmp_path)
    assert io.from_mount_path("/gcs/bucket/a") == "gs://bucket/a"
    assert io.from_mount_path(str(tmp_path)) == str(tmp_path)  # off the mount: as is
    assert reg.to_gcs_uri(f"{tmp_path}/b/m", mount=str(tmp_path)) == "gs://b/m"
    with pytest.raises(reg.RegistryError, match="not in Cloud Storage"):
        reg.to_gcs_uri(str(tmp_path / "model"))


def test_label_value_follows_vertex_rules():
    assert reg.label_value("Training-Pipeline 2024/01.x") == "training-pipeline-2024-01-x"
    long = reg.label_value("R" * 100)
    assert long == "r" * 63


# --------------------------------------------------------------------------- local

def test_versions_are_numbered_and_champion_moves(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path / "registry"))
    v1 = register(registry, parts, "model_a")
    v2 = register(registry, parts, "model_b")
    assert (v1.version, v2.version) == (1, 2)
    assert not v1.reused and not v2.reused
    assert v2.aliases == ["champion"]
    assert registry.resolve("penguins").version == 2
    assert registry.resolve("penguins", 1).aliases == []
    assert [v.version for v in registry.versions("penguins")] == [1, 2]
    assert io.read_json(str(tmp_path / "registry" / "penguins" / "aliases.json")) == {"champion": 2}

    folder = tmp_path / "registry" / "penguins" / "versions" / "2"
    assert v2.uri == str(folder)
    assert io.sha256_tree(v2.model_dir) == io.sha256_tree(parts["model_b"])
    assert v2.model_hash == io.sha256_tree(parts["model_b"])
    assert os.path.isfile(folder / "model" / "saved_model.pb")
    with open(v2.schema_path) as got, open(os.path.join(parts["schema"], "schema.pbtxt")) as want:
        assert got.read() == want.read()
    assert io.sha256_tree(v2.statistics_dir) == io.sha256_tree(parts["statistics"])
    assert os.path.isfile(folder / "statistics" / "Split-train" / "FeatureStats.pb")
    assert v2.evaluation == EVALUATION
    assert v2.lineage["data_content_hash"] == "d" * 64
    assert v2.lineage["data_source"] == "penguins.csv"
    assert v2.lineage["pipeline_run"] == "run-1"
    assert v2.lineage["model_content_hash"] == v2.model_hash
    assert v2.lineage["version"] == 2 and v2.lineage["created"] == v2.created
    info = io.read_json(str(folder / "version.json"))
    assert info["model_content_hash"] == v2.model_hash and info["version"] == 2


def test_resolve_by_alias_number_and_latest(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path))
    register(registry, parts, "model_a")
    register(registry, parts, "model_b", aliases=("candidate",))
    assert registry.resolve("penguins", "champion").version == 1
    assert registry.resolve("penguins", "candidate").version == 2
    assert registry.resolve("penguins", "latest").version == 2
    assert registry.resolve("penguins", "1").version == 1
    assert registry.resolve("penguins", 2).aliases == ["candidate"]
    moved = registry.set_alias("penguins", "champion", 2)
    assert moved.version == 2 and moved.aliases == ["candidate", "champion"]
    assert registry.resolve("penguins", 1).aliases == []


def test_unknown_refs_give_clear_errors(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path))
    with pytest.raises(reg.ModelNotFoundError, match="holds no model 'penguins'"):
        registry.resolve("penguins")
    register(registry, parts, "model_a")
    with pytest.raises(reg.VersionNotFoundError,
                       match=r"no version aliased 'staging'; aliases are \['champion'\], "
                             r"versions are \[1\]"):
        registry.resolve("penguins", "staging")
    with pytest.raises(reg.VersionNotFoundError, match=r"has no version 7; versions are \[1\]"):
        registry.resolve("penguins", 7)
    with pytest.raises(reg.VersionNotFoundError, match="has no version 3"):
        registry.set_alias("penguins", "champion", 3)


@pytest.mark.parametrize("name", ["", "a/b", "../up", "-dash", "has space", ".hidden", "x" * 129])
def test_bad_model_names(tmp_path, parts, name):
    registry = reg.LocalRegistry(str(tmp_path))
    with pytest.raises(reg.RegistryError, match="model_name .* is not valid"):
        register(registry, parts, name=name)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("alias", ["Champion", "latest", "default", "has_underscore", "9lives", ""])
def test_bad_aliases(tmp_path, parts, alias):
    registry = reg.LocalRegistry(str(tmp_path))
    with pytest.raises(reg.RegistryError, match="alias .* is not valid"):
        register(registry, parts, aliases=[alias])
    assert not os.path.exists(tmp_path / "penguins" / "versions" / "1")


def test_bad_inputs_name_the_input(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path / "r"))
    with pytest.raises(reg.RegistryError, match="model_dir .* saved_model.pb is missing"):
        registry.register("m", parts["schema"], parts["schema"], parts["statistics"], {}, {})
    with pytest.raises(reg.RegistryError, match="schema_dir .* holds no schema.pbtxt"):
        registry.register("m", parts["model_a"], parts["statistics"], parts["statistics"], {}, {})
    assert registry.versions("m") == []


def test_same_model_twice_is_one_version(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path))
    first = register(registry, parts, "model_a", aliases=())
    register(registry, parts, "model_b")
    again = register(registry, parts, "model_a")  # same bytes: no new version, alias moves
    assert again.version == first.version == 1
    assert again.reused
    assert again.aliases == ["champion"]
    assert [v.version for v in registry.versions("penguins")] == [1, 2]
    assert registry.resolve("penguins").version == 1


def test_crash_mid_copy_leaves_no_version(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path))
    register(registry, parts, "model_a")
    broken = tmp_path / "broken_stats"
    shutil.copytree(parts["statistics"], broken)
    os.symlink(tmp_path / "nowhere", broken / "dangling")  # copying it fails mid-copy
    with pytest.raises(shutil.Error):
        registry.register("penguins", parts["model_b"], parts["schema"], str(broken),
                          EVALUATION, lineage())
    model_root = tmp_path / "penguins"
    assert sorted(os.listdir(model_root / "versions")) == ["1"]
    assert not [n for n in os.listdir(model_root) if n.startswith(".partial")]
    assert registry.resolve("penguins").version == 1  # the champion did not move
    assert register(registry, parts, "model_b").version == 2


def test_crash_in_place_leaves_no_version(tmp_path, parts):
    """On a FUSE mount versions are written in place; a failure removes the folder."""
    registry = reg.LocalRegistry(str(tmp_path), in_place=True)
    broken = tmp_path / "broken_stats"
    shutil.copytree(parts["statistics"], broken)
    os.symlink(tmp_path / "nowhere", broken / "dangling")
    with pytest.raises(shutil.Error):
        registry.register("penguins", parts["model_a"], parts["schema"], str(broken),
                          EVALUATION, lineage())
    assert os.listdir(tmp_path / "penguins" / "versions") == []
    assert register(registry, parts, "model_a").version == 1


def test_listing_ignores_partial_and_incomplete_folders(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path))
    register(registry, parts, "model_a")
    os.makedirs(tmp_path / "penguins" / ".partial-2-abc" / "model")
    os.makedirs(tmp_path / "penguins" / "versions" / "2" / "model")  # no version.json
    assert [v.version for v in registry.versions("penguins")] == [1]
    assert registry.resolve("penguins", "latest").version == 1
    assert register(registry, parts, "model_b").version == 3  # never reuses folder 2


def test_concurrent_registers_get_distinct_numbers(tmp_path, parts):
    registry = reg.LocalRegistry(str(tmp_path))
    start = threading.Barrier(3)
    results, errors = [], []

    def push(model):
        start.wait()
        try:
            results.append(register(reg.LocalRegistry(str(tmp_path)), parts, model))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=push, args=(m,)) for m in ("model_a", "model_b", "model_c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(v.version for v in results) == [1, 2, 3]
    by_version = {v.version: v.model_hash for v in registry.versions("penguins")}
    assert sorted(by_version) == [1, 2, 3]
    assert len(set(by_version.values())) == 3


def test_find_champion(tmp_path, parts):
    root = str(tmp_path / "registry")
    assert reg.find_champion(root, "penguins") is None  # no registry yet
    registry = reg.LocalRegistry(root)
    register(registry, parts, "model_a", aliases=())
    assert reg.find_champion(root, "penguins") is None  # no champion yet
    register(registry, parts, "model_b")
    champion = reg.find_champion(f"file://{root}", "penguins")
    assert champion.version == 2 and champion.evaluation == EVALUATION
    assert reg.find_champion(root, "other-model") is None
    with pytest.raises(reg.RegistryError, match="model_name"):
        reg.find_champion(root, "bad/name")


def test_monitoring_history(tmp_path, parts):
    root = str(tmp_path / "registry")
    registry = reg.LocalRegistry(root)
    register(registry, parts, "model_a")
    stats_file = os.path.join(parts["statistics"], "Split-eval", "FeatureStats.pb")
    first = registry.record_monitoring("penguins", 1, {"drift": False, "anomalies": []},
                                       stats_file)
    second = reg.record_monitoring(root, "penguins", "champion",
                                   {"drift": True, "anomalies": ["x"]}, parts["statistics"])
    third = registry.record_monitoring("penguins", 1, {"drift": False}, "")
    assert first.startswith(os.path.join(root, "penguins", "versions", "1", "monitoring"))
    history = registry.monitoring_history("penguins", 1)
    assert [h["seq"] for h in history] == [1, 2, 3]
    assert [h["drift"] for h in history] == [False, True, False]
    assert [h["entry"] for h in history] == [first, second, third]
    assert os.path.isfile(os.path.join(history[0]["statistics_path"], "FeatureStats.pb"))
    assert os.path.isfile(os.path.join(history[1]["statistics_path"], "Split-train",
                                       "FeatureStats.pb"))
    assert history[2]["statistics_path"] == ""
    assert history[0]["recorded_at"] < history[1]["recorded_at"]
    with pytest.raises(reg.RegistryError, match="statistics_path .* does not exist"):
        registry.record_monitoring("penguins", 1, {}, str(tmp_path / "missing.pb"))
    assert len(reg.monitoring_history(root, "penguins", 1)) == 3


# --------------------------------------------------------------------------- Vertex AI

PROJECT, REGION = "my-proj", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{REGION}/models/123"


@pytest.fixture
def gcs(tmp_path, parts):
    """A stand-in for the /gcs mount with a pipeline run's artifacts in it."""
    mount = tmp_path / "gcs"
    run = mount / "bucket" / "root" / "run-7"
    shutil.copytree(parts["model_a"], run / "train" / "model")
    shutil.copytree(parts["model_b"], run / "train2" / "model")
    shutil.copytree(parts["schema"], run / "validate" / "schema")
    shutil.copytree(parts["statistics"], run / "validate" / "statistics")
    return {"mount": str(mount), "model": str(run / "train" / "model"),
            "model2": str(run / "train2" / "model"), "schema": str(run / "validate" / "schema"),
            "statistics": str(run / "validate" / "statistics")}


@pytest.fixture
def vertex():
    """google.cloud.aiplatform with init, Model and Endpoint mocked (nothing else)."""
    from google.cloud import aiplatform

    with mock.patch.object(aiplatform, "init") as init, \
            mock.patch.object(aiplatform, "Model") as model, \
            mock.patch.object(aiplatform, "Endpoint") as endpoint:
        yield mock.Mock(init=init, Model=model, Endpoint=endpoint)


def vertex_register(gcs, model="model", **kwargs):
    registry = reg.VertexRegistry(PROJECT, REGION, gcs_mount=gcs["mount"])
    return registry.register("penguins", gcs[model], gcs["schema"], gcs["statistics"],
                             EVALUATION, lineage("Training-Run 42"), **kwargs)


def uploaded(vertex, version_id):
    model = mock.MagicMock(version_id=version_id, resource_name=PARENT)
    vertex.Model.upload.return_value = model
    return model


def test_vertex_first_upload_request(vertex, gcs):
    vertex.Model.list.return_value = []
    uploaded(vertex, "1")
    version = vertex_register(gcs)
    model_hash = io.sha256_tree(gcs["model"])
    vertex.init.assert_called_with(project=PROJECT, location=REGION)
    vertex.Model.list.assert_called_once_with(filter='display_name="penguins"',
                                              order_by="update_time desc")
    companion = "gs://bucket/root/run-7/train/model.kfp_mlops"
    vertex.Model.upload.assert_called_once_with(
        display_name="penguins",
        artifact_uri="gs://bucket/root/run-7/train/model",
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
    assert version.model_dir == "gs://bucket/root/run-7/train/model"
    assert version.schema_path == f"{companion}/schema/schema.pbtxt"
    assert version.statistics_dir == f"{companion}/statistics"
    local = gcs["model"] + ".kfp_mlops"
    assert io.sha256_tree(os.path.join(local, "statistics")) == io.sha256_tree(gcs["statistics"])
    assert os.path.isfile(os.path.join(local, "schema", "schema.pbtxt"))
    assert io.read_json(os.path.join(local, "evaluation.json")) == EVALUATION
    assert io.read_json(os.path.join(local, "lineage.json"))["model_content_hash"] == model_hash
    assert io.read_json(os.path.join(local, "kfp_mlops.json"))["statistics"] == \
        f"{companion}/statistics"


def test_vertex_second_version_has_parent(vertex, gcs):
    parent = mock.MagicMock(resource_name=PARENT)
    parent.versioning_registry.list_versions.return_value = []
    vertex.Model.list.return_value = [parent]
    uploaded(vertex, "2")
    image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    version = vertex_register(gcs, "model2", aliases=["champion", "blue"], serving_image=image)
    model_hash = io.sha256_tree(gcs["model2"])
    parent.versioning_registry.list_versions.assert_called_once_with(
        filter=f'labels.model_hash="{model_hash[:32]}"')
    kwargs = vertex.Model.upload.call_args.kwargs
    assert kwargs["parent_model"] == PARENT
    assert kwargs["version_aliases"] == ["champion", "blue"]
    assert kwargs["artifact_uri"] == "gs://bucket/root/run-7/train2/model"
    assert kwargs["serving_container_image_uri"].endswith("tf2-cpu.2-15:latest")
    assert kwargs["labels"]["model_hash"] == model_hash[:32]
    assert version.version == "2" and version.aliases == ["blue", "champion"]


def test_vertex_same_model_is_not_uploaded_again(vertex, gcs):
    parent = mock.MagicMock(resource_name=PARENT)
    hit = mock.Mock(version_id="3", version_aliases=["blue"])
    parent.versioning_registry.list_versions.return_value = [hit]
    vertex.Model.list.return_value = [parent]
    existing = vertex.Model.return_value
    existing.configure_mock(uri="gs://bucket/root/run-7/train/model", version_id="3",
                            resource_name=PARENT, version_aliases=["blue", "champion"],
                            labels={"model_hash": "h"})
    version = vertex_register(gcs)
    vertex.Model.upload.assert_not_called()
    parent.versioning_registry.add_version_aliases.assert_called_once_with(
        new_aliases=["champion"], version="3")
    vertex.Model.assert_called_with(model_name=PARENT, version="3")
    assert version.reused and version.version == "3" and version.uri == f"{PARENT}@3"
    assert not os.path.exists(gcs["model"] + ".kfp_mlops")  # nothing written either


def test_vertex_deploy_canary_to_new_endpoint(vertex, gcs):
    vertex.Model.list.return_value = []
    model = uploaded(vertex, "1")
    vertex.Endpoint.list.return_value = []
    vertex_register(gcs, endpoint_name="penguins-ep", traffic_percentage=10,
                    machine_type="n1-standard-4")
    vertex.Endpoint.list.assert_called_once_with(filter='display_name="penguins-ep"')
    vertex.Endpoint.create.assert_called_once_with(display_name="penguins-ep")
    model.deploy.assert_called_once_with(
        endpoint=vertex.Endpoint.create.return_value, traffic_percentage=10,
        machine_type="n1-standard-4", deployed_model_display_name="penguins-v1")


def test_vertex_deploy_to_existing_endpoint_once(vertex, gcs):
    vertex.Model.list.return_value = []
    model = uploaded(vertex, "1")
    endpoint = mock.MagicMock()
    endpoint.list_models.return_value = []
    vertex.Endpoint.list.return_value = [endpoint]
    vertex_register(gcs, endpoint_name="ep", traffic_percentage=100)
    vertex.Endpoint.create.assert_not_called()
    model.deploy.assert_called_once_with(endpoint=endpoint, traffic_percentage=100,
                                         machine_type="n1-standard-2",
                                         deployed_model_display_name="penguins-v1")
    # already deployed there: no second deployment
    endpoint.list_models.return_value = [mock.Mock(model=PARENT, model_version_id="1")]
    shutil.rmtree(gcs["model"] + ".kfp_mlops")
    model.deploy.reset_mock()
    vertex_register(gcs, endpoint_name="ep", traffic_percentage=100)
    model.deploy.assert_not_called()


def test_vertex_rejects_bad_requests(vertex, gcs, tmp_path, parts):
    with pytest.raises(reg.RegistryError, match="traffic_percentage must be 0-100"):
        vertex_register(gcs, traffic_percentage=120)
    registry = reg.VertexRegistry(PROJECT, REGION, gcs_mount=gcs["mount"])
    with pytest.raises(reg.RegistryError, match="not in Cloud Storage"):
        registry.register("penguins", parts["model_a"], gcs["schema"], gcs["statistics"], {}, {})
    vertex.Model.upload.assert_not_called()


def test_vertex_resolve_and_find_champion(vertex, gcs):
    from google.api_core import exceptions

    vertex.Model.list.return_value = []
    uploaded(vertex, "1")
    vertex_register(gcs)  # writes the companion folder
    uri = "vertex://projects/my-proj/locations/us-central1"
    with mock.patch.object(reg, "GCS_MOUNT", gcs["mount"]):
        assert reg.find_champion(uri, "penguins") is None  # Model.list -> [] : no model
        parent = mock.MagicMock(resource_name=PARENT)
        vertex.Model.list.return_value = [parent]
        vertex.Model.return_value.configure_mock(
            uri="gs://bucket/root/run-7/train/model", version_id="1", resource_name=PARENT,
            version_aliases=["champion"], labels={"model_hash": "abc"})
        champion = reg.find_champion(uri, "penguins")
        vertex.Model.assert_called_with(model_name=PARENT, version="champion")
        assert champion.version == "1" and champion.model_hash == "abc"
        assert champion.model_dir == "gs://bucket/root/run-7/train/model"
        assert champion.evaluation == EVALUATION
        assert champion.lineage["pipeline_run"] == "Training-Run 42"
        assert champion.schema_path.endswith("model.kfp_mlops/schema/schema.pbtxt")

        parent.versioning_registry.list_versions.return_value = [
            mock.Mock(version_id="2"), mock.Mock(version_id="10")]
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
    vertex.Model.list.return_value = [mock.MagicMock(resource_name=PARENT)]
    vertex.Model.return_value.configure_mock(
        uri="gs://bucket/root/run-7/train/model", version_id="1", resource_name=PARENT,
        version_aliases=["champion"], labels={})
    entry = registry.record_monitoring("penguins", "1", {"drift": True},
                                       "gs://bucket/root/run-7/validate/statistics")
    assert entry.startswith(gcs["model"] + ".kfp_mlops/monitoring/000001-")
    history = registry.monitoring_history("penguins", "champion")
    assert [h["drift"] for h in history] == [True]
    assert os.path.isdir(os.path.join(history[0]["statistics_path"], "Split-train"))
