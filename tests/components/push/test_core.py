"""push core on real (tiny) artifacts: the blessing gate, a local registry, and Vertex AI
with only google.cloud.aiplatform mocked."""
import json
import os
import shutil
from unittest import mock

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.push import core
from tests.support import aiplatform_mocks


def run_push(inputs, registry_uri, blessing="blessed", model="model", **kwargs):
    return core.push(
        model_dir=inputs[model], blessing_dir=inputs[blessing], schema_dir=inputs["schema"],
        statistics_dir=inputs["statistics"], registry_uri=registry_uri, model_name="penguins",
        dataset_info=core.dataset_info(inputs["dataset"]), **kwargs)


def test_not_blessed_writes_nothing_and_says_why(inputs, tmp_path):
    registry = tmp_path / "registry"
    result = run_push(inputs, str(registry), blessing="not_blessed",
                      output_dir=str(tmp_path / "out"))
    assert result.pushed is False
    assert result.reasons == ["accuracy 0.410 < threshold 0.800"]
    assert result.version == "" and result.model_uri == ""
    assert not registry.exists()
    assert io.read_json(str(tmp_path / "out" / "push.json")) == result.metadata()
    assert result.metadata()["pushed"] is False


def test_not_blessed_without_reasons_still_has_one(inputs, tmp_path):
    blessing = tmp_path / "blessing"
    blessing.mkdir()
    (blessing / "blessing.json").write_text(json.dumps({"blessed": False}))
    result = core.push(inputs["model"], str(blessing), inputs["schema"], inputs["statistics"],
                       str(tmp_path / "registry"), "penguins", None)
    assert not result.pushed and result.reasons == ["evaluate did not bless the model"]


def test_blessed_registers_everything(inputs, tmp_path):
    registry_uri = str(tmp_path / "registry")
    result = run_push(inputs, registry_uri, pipeline_run="training-20240101",
                      output_dir=str(tmp_path / "out"))
    assert result.pushed and result.version == "1" and not result.already_registered
    version = reg.LocalRegistry(registry_uri).resolve("penguins", "champion")
    assert result.model_uri == version.model_dir
    assert result.version_uri == version.uri
    assert result.aliases == ["champion"]
    assert io.sha256_tree(version.model_dir) == io.sha256_tree(inputs["model"])
    assert os.path.isfile(version.schema_path)
    assert io.sha256_tree(version.statistics_dir) == io.sha256_tree(inputs["statistics"])
    assert version.evaluation == io.read_json(os.path.join(inputs["blessed"], "evaluation.json"))
    lineage = version.lineage
    assert lineage["data_content_hash"] == "c0ffee" * 10
    assert lineage["data_source"] == "gs://bucket/penguins.csv"
    assert lineage["pipeline_run"] == "training-20240101"
    assert lineage["reasons"] == ["accuracy 0.930 >= threshold 0.800", "no champion yet"]
    assert lineage["model_info"]["task"] == "classification"
    assert lineage["model_content_hash"] == io.sha256_tree(inputs["model"])
    assert lineage["created"]
    assert io.read_json(str(tmp_path / "out" / "push.json")) == result.metadata()
    meta = result.metadata()
    assert {"pushed", "version", "registry", "model_uri", "reasons", "aliases"} <= set(meta)
    assert meta["registry"] == registry_uri
    assert result.vertex_resource_name == ""  # no Vertex AI model
    assert not set(meta) & {"vertex_resource_name", "serving_image"}


def test_second_model_becomes_champion_and_repush_is_idempotent(inputs, tmp_path):
    registry_uri = f"file://{tmp_path / 'registry'}"
    first = run_push(inputs, registry_uri)
    assert first.version == "1" and first.champion
    assert first.reasons[0] == ("champion=yes: champion moved from no version to 1, the "
                                "version evaluate compared with (compare-and-set)")
    second = run_push(inputs, registry_uri, model="model_b", blessing="blessed_v1")
    assert second.version == "2" and second.aliases == ["champion"] and second.champion
    again = run_push(inputs, registry_uri, model="model", blessing="blessed_v2",
                     aliases=["champion", "stable"])
    assert again.pushed and again.already_registered and again.version == "1"
    assert again.aliases == ["champion", "stable"]
    registry = reg.LocalRegistry(str(tmp_path / "registry"))
    assert [v.version for v in registry.versions("penguins")] == [1, 2]
    assert reg.find_champion(registry_uri, "penguins").version == 1
    # one record per move; the push that found champion where it wanted it adds none
    assert [h["changed"] for h in registry.alias_history("penguins")] == [
        {"champion": {"from": None, "to": 1}}, {"champion": {"from": 1, "to": 2}},
        {"stable": {"from": None, "to": 1}}, {"champion": {"from": 2, "to": 1}}]
    run_push(inputs, registry_uri, model="model", blessing="blessed_v1")
    assert len(registry.alias_history("penguins")) == 4


def test_a_stale_blessing_registers_without_champion_and_says_why(inputs, tmp_path):
    """B was compared with champion 1, but A made version 2 champion meanwhile."""
    registry_uri = str(tmp_path / "registry")
    registry = reg.LocalRegistry(registry_uri)
    run_push(inputs, registry_uri)                                  # 1, champion
    run_push(inputs, registry_uri, model="model_b", blessing="blessed_v1")  # A: 2, champion
    stale = tmp_path / "stale_model"
    shutil.copytree(inputs["model"], stale)
    (stale / "assets.extra" / "extra.txt").write_text("another model")
    b = core.push(str(stale), inputs["blessed_v1"], inputs["schema"], inputs["statistics"],
                  registry_uri, "penguins", aliases=["champion", "candidate"],
                  output_dir=str(tmp_path / "out"))
    assert b.pushed and b.version == "3" and not b.champion
    assert b.aliases == ["candidate"]                   # the other alias moved as before
    assert b.champion_reason == (
        "champion=no: champion moved from version 1 to version 2 since evaluation (another "
        "run); version 3 was compared with version 1 only, so it is registered without the "
        "champion alias and champion stays at version 2; push does not compare again: run "
        "training again to compare with version 2, or promote it with set_alias")
    assert b.reasons[0] == b.champion_reason
    assert b.reasons[1:] == ["passed champion comparison: accuracy vs champion 1"]
    assert registry.aliases("penguins") == {"champion": 2, "candidate": 3}
    meta = io.read_json(str(tmp_path / "out" / "push.json"))
    assert meta["champion"] is False and meta["champion_reason"] == b.champion_reason
    # a first-run blessing (no champion) once a champion exists: the same refusal
    first_run = run_push(inputs, registry_uri, model="model_b")
    assert first_run.already_registered and first_run.version == "2" and first_run.champion
    assert first_run.champion_reason == "champion=yes: version 2 already holds champion"


def test_a_blessing_without_the_champion_version_never_moves_it(inputs, tmp_path):
    registry_uri = str(tmp_path / "registry")
    run_push(inputs, registry_uri)
    blessing = tmp_path / "blessing"
    blessing.mkdir()
    (blessing / "blessing.json").write_text(json.dumps(
        {"blessed": True, "reasons": [], "champion": {"version": None, "model_dir": "/x"}}))
    result = core.push(inputs["model_b"], str(blessing), inputs["schema"],
                       inputs["statistics"], registry_uri, "penguins")
    assert result.version == "2" and not result.champion
    assert "does not name the champion version it compared with" in result.champion_reason
    assert reg.LocalRegistry(registry_uri).aliases("penguins") == {"champion": 1}


@pytest.mark.parametrize("content, message", [
    (None, "holds no blessing.json; expected the blessing artifact of the evaluate"),
    ("{not json", "is not valid JSON"),
    (json.dumps({"blessed": "yes"}), "'blessed' is true or false"),
    (json.dumps({"blessed": True, "reasons": "fine"}), "'reasons' must be a list"),
])
def test_bad_blessing_is_a_clear_error(inputs, tmp_path, content, message):
    blessing = tmp_path / "blessing"
    blessing.mkdir()
    if content is not None:
        (blessing / "blessing.json").write_text(content)
    with pytest.raises(core.PushError, match=message):
        core.push(inputs["model"], str(blessing), inputs["schema"], inputs["statistics"],
                  str(tmp_path / "registry"), "penguins", None,
                  output_dir=str(tmp_path / "out"))
    assert not (tmp_path / "registry").exists() and not (tmp_path / "out").exists()


def test_bad_inputs_name_the_input(inputs, tmp_path):
    stats = tmp_path / "stats"
    shutil.copytree(os.path.join(inputs["statistics"], "Split-eval"), stats / "Split-eval")
    # checked once, by the registry that stores them (registry.check_inputs)
    with pytest.raises(reg.RegistryError,
                       match=r"statistics_dir .* holds no Split-train/FeatureStats"):
        core.push(inputs["model"], inputs["blessed"], inputs["schema"], str(stats),
                  str(tmp_path / "registry"), "penguins", None)
    with pytest.raises(reg.RegistryError, match="schema_dir .* holds no schema.pbtxt"):
        core.push(inputs["model"], inputs["blessed"], inputs["statistics"],
                  inputs["statistics"], str(tmp_path / "registry"), "penguins", None)
    with pytest.raises(reg.RegistryError, match="model_dir .* is not a TF SavedModel"):
        core.push(inputs["schema"], inputs["blessed"], inputs["schema"],
                  inputs["statistics"], str(tmp_path / "registry"), "penguins", None)
    with pytest.raises(reg.RegistryError, match="unsupported scheme.*expected a local path"):
        run_push(inputs, "hdfs://bucket/registry")
    with pytest.raises(reg.RegistryError, match="model_name 'pen/guins' is not valid"):
        core.push(inputs["model"], inputs["blessed"], inputs["schema"], inputs["statistics"],
                  str(tmp_path / "registry"), "pen/guins", None)
    assert not (tmp_path / "registry").exists()


def test_dataset_info_prefers_dataset_json(inputs, tmp_path):
    assert core.dataset_info(inputs["dataset"], {"content_hash": "x"})["content_hash"] == \
        "c0ffee" * 10
    assert core.dataset_info(str(tmp_path), {"content_hash": "x"}) == {"content_hash": "x"}
    assert core.dataset_info("", None) == {}


def test_object_store_registry(inputs, object_store, tmp_path):
    """The same push to s3:// and gs://: the version, its files and a repush that adds none."""
    scheme, _, bucket = object_store
    registry_uri = f"{scheme}://{bucket}/registry"
    result = run_push(inputs, registry_uri, pipeline_run="run-3")
    assert result.pushed and result.version == "1" and not result.already_registered
    assert result.model_uri == f"{registry_uri}/penguins/versions/1/model"
    version = reg.open_registry(registry_uri).resolve("penguins", "champion")
    assert result.version_uri == version.uri
    with io.local_copy(version.model_dir) as model:
        assert io.sha256_tree(model) == io.sha256_tree(inputs["model"])
    assert version.lineage["pipeline_run"] == "run-3"
    # the model card, in the version folder on the store
    assert result.model_card == {"html": f"{version.uri}/model_card.html",
                                 "md": f"{version.uri}/model_card.md"}
    assert io.read_text(result.model_card["md"]).startswith("# Model card: penguins version 1")
    assert "run-3" in io.read_text(result.model_card["html"])
    again = run_push(inputs, registry_uri)
    assert again.already_registered and again.version == "1"


PARENT = "projects/p/locations/r/models/9"


def vertex_versions(model_cls, champion_reads, exists=True, name=PARENT, made=None):
    """Makes the mocked ``aiplatform.Model`` answer as Vertex AI would: ``Model.list`` finds
    the parent model (none before the first upload when ``exists`` is False), and
    ``Model(model_name=..., version="champion")`` names each of ``champion_reads`` in turn
    (None: the alias is not set, a NotFound). Every model it makes is added to
    ``made[version]``, when given."""
    from google.api_core import exceptions

    parent = aiplatform_mocks.parent(name)
    parent.versioning_registry.list_versions.return_value = []  # these bytes are new
    model_cls.upload.return_value = aiplatform_mocks.model()
    model_cls.list.side_effect = lambda **kw: [parent] if exists or model_cls.upload.called \
        else []
    reads = list(champion_reads)

    def get(model_name, version):
        assert model_name == name
        if version == "champion":
            version = reads.pop(0) if len(reads) > 1 else reads[0]
            if version is None:
                raise exceptions.NotFound("alias champion not found")
        model = aiplatform_mocks.model(
            uri=f"gs://b/models/{version}", version_id=str(version), resource_name=name,
            labels={}, version_aliases=["champion"] if version == champion_reads[-1] else [])
        if made is not None:
            made.setdefault(str(version), []).append(model)
        return model

    model_cls.side_effect = get
    return parent


@pytest.mark.parametrize("blessing, reads, moved, reason", [
    # the champion evaluate compared with is still champion when re-read: moved
    ("blessed_v1", [1, 1], True, "champion=yes: champion moved from version 1 to 3, the "
     "version evaluate compared with (re-read just before the move; Vertex AI has no "
     "compare-and-set)"),
    # another run made 2 champion before this push looked: not moved
    ("blessed_v1", [2], False, "champion=no: champion moved from version 1 to version 2"),
    # ... or between push's first look and the re-read right before the move: not moved
    ("blessed_v1", [1, 2], False, "champion=no: champion moved from version 1 to version 2"),
    # a first run, but another first run's version is champion by now
    ("blessed", [2], False, "champion=no: champion moved from no version to version 2"),
])
def test_vertex_champion_is_re_read_right_before_it_moves(inputs, tmp_path, monkeypatch,
                                                         bucket_on, blessing, reads, moved,
                                                         reason):
    _, bucket = bucket_on("gs")
    mount = tmp_path / "gcs"
    run = mount / bucket / "run-2"
    for name in ("model", "schema", "statistics"):
        shutil.copytree(inputs[name], run / name)
    monkeypatch.setattr(io, "GCS_FUSE_ROOT", f"{mount}/")  # where production reads the mount
    with aiplatform_mocks.patched() as vertex:
        model_cls = vertex.Model
        parent = vertex_versions(model_cls, reads)
        model_cls.upload.return_value.configure_mock(version_id="3", resource_name=PARENT)
        result = core.push(str(run / "model"), inputs[blessing], str(run / "schema"),
                           str(run / "statistics"), "vertex://projects/p/locations/r",
                           "penguins", aliases=["champion", "candidate"])
    # the upload names every alias but champion
    kwargs = model_cls.upload.call_args.kwargs
    assert kwargs["parent_model"] == PARENT and kwargs["version_aliases"] == ["candidate"]
    champion_reads = [c for c in model_cls.call_args_list
                      if c == mock.call(model_name=PARENT, version="champion")]
    if moved:
        # read, re-read, then the move: the only alias request
        assert len(champion_reads) == 2
        parent.versioning_registry.add_version_aliases.assert_called_once_with(
            new_aliases=["champion"], version="3")
        assert result.champion and result.aliases == ["candidate", "champion"]
    else:
        parent.versioning_registry.add_version_aliases.assert_not_called()
        assert not result.champion and result.aliases == ["candidate"]
        assert len(champion_reads) == len(reads) + (len(reads) > 1)  # a conflict re-reads
    assert result.pushed and result.version == "3"
    assert result.champion_reason.startswith(reason) and result.reasons[0] == \
        result.champion_reason


def test_vertex_push_uploads_and_deploys(inputs, tmp_path, monkeypatch, bucket_on):
    _, bucket = bucket_on("gs")
    mount = tmp_path / "gcs"
    run = mount / bucket / "root" / "run-1"
    for name in ("model", "schema", "statistics"):
        shutil.copytree(inputs[name], run / name)
    monkeypatch.setattr(io, "GCS_FUSE_ROOT", f"{mount}/")  # where production reads the mount
    made = {}
    with aiplatform_mocks.patched() as vertex:
        init, model_cls, endpoint_cls = vertex.init, vertex.Model, vertex.Endpoint
        parent = vertex_versions(model_cls, [None], exists=False, made=made)
        uploaded = model_cls.upload.return_value
        uploaded.configure_mock(version_id="1", resource_name="projects/p/locations/r/models/9")
        endpoint_cls.list.return_value = []
        endpoint_cls.create.return_value = aiplatform_mocks.endpoint()
        result = core.push(str(run / "model"), inputs["blessed"], str(run / "schema"),
                           str(run / "statistics"), "vertex://projects/p/locations/r",
                           "penguins", core.dataset_info(inputs["dataset"]),
                           pipeline_run="Run 7", endpoint_name="penguins-ep",
                           traffic_percentage=20)
    init.assert_called_with(project="p", location="r")
    kwargs = model_cls.upload.call_args.kwargs
    assert kwargs["artifact_uri"] == f"gs://{bucket}/root/run-1/model"
    assert kwargs["labels"]["pipeline_run"] == "run-7"
    assert kwargs["labels"]["data_hash"] == ("c0ffee" * 10)[:32]
    assert kwargs["serving_container_image_uri"] == reg.DEFAULT_SERVING_IMAGE
    # deployed after registering (push's deploy.py): the version as Vertex AI names it
    endpoint_cls.list.assert_called_once_with(filter='display_name="penguins-ep"')
    endpoint_cls.create.assert_called_once_with(display_name="penguins-ep")
    # (a new endpoint: its first model takes all the traffic, not the 20 asked for)
    assert [m.deploy.call_args for m in made["1"] if m.deploy.called] == [mock.call(
        endpoint=endpoint_cls.create.return_value, traffic_percentage=100,
        machine_type="n1-standard-2", deployed_model_display_name="penguins-v1")]
    uploaded.deploy.assert_not_called()
    # a first upload: no champion, as at evaluation; champion moves after the upload
    assert kwargs["parent_model"] is None and kwargs["version_aliases"] == []
    parent.versioning_registry.add_version_aliases.assert_called_once_with(
        new_aliases=["champion"], version="1")
    assert result.champion and result.aliases == ["champion"]
    assert result.pushed and result.version == "1" and result.endpoint == "penguins-ep"
    assert result.model_uri == f"gs://{bucket}/root/run-1/model"
    # the model card, in the companion folder beside the model in Cloud Storage
    companion = f"gs://{bucket}/root/run-1/model.kfp_mlops"
    assert result.model_card == {"html": f"{companion}/model_card.html",
                                 "md": f"{companion}/model_card.md"}
    md = io.read_text(result.model_card["md"])
    assert md.startswith("# Model card: penguins version 1") and "| training run | Run 7 |" in md
    assert result.version_uri == "projects/p/locations/r/models/9@1"
    # what push's Google Cloud artifacts are built from (component.py)
    assert result.vertex_resource_name == "projects/p/locations/r/models/9@1"
    assert result.serving_image == reg.DEFAULT_SERVING_IMAGE
    # the companion folder is written to Cloud Storage itself, not through the mount
    assert not (run / "model.kfp_mlops").exists()
    lineage = io.read_json(f"gs://{bucket}/root/run-1/model.kfp_mlops/lineage.json")
    assert lineage["pipeline_run"] == "Run 7"
    assert lineage["data_source"] == "gs://bucket/penguins.csv"
