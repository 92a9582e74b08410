"""Promote, roll back and the audit log on Vertex AI Model Registry, with only
``google.cloud.aiplatform`` mocked (autospec'd, spec_set): the exact ModelRegistry alias
requests, the audit log in the Cloud Storage emulator on loopback, and ``kfp-mlops registry
rollback --endpoint`` sending the endpoint's traffic back (Endpoint.update)."""
from unittest import mock

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components._shared.registry import operations as ops
from kfp_mlops.pipelines import cli
from tests.support import aiplatform_mocks

PROJECT, REGION = "my-proj", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{REGION}/models/123"
URI = f"vertex://projects/{PROJECT}/locations/{REGION}"


@pytest.fixture
def vertex(bucket_on):
    """Vertex AI as the mocks answer it: versions 1-3 of 'penguins' in a bucket of the
    Cloud Storage emulator, aliases kept as Vertex AI keeps them (add_version_aliases moves
    an alias from wherever it was)."""
    from google.api_core import exceptions

    _, bucket = bucket_on("gs")
    versions = ["1", "2", "3"]
    aliases = {"champion": "3"}
    with aiplatform_mocks.patched() as patched:
        parent = aiplatform_mocks.parent(PARENT)
        patched.Model.list.return_value = [parent]
        parent.versioning_registry.list_versions.side_effect = lambda **kw: [
            aiplatform_mocks.version_info(v, [a for a, x in aliases.items() if x == v])
            for v in versions]
        parent.versioning_registry.add_version_aliases.side_effect = \
            lambda new_aliases, version: aliases.update({a: version for a in new_aliases})

        def get(model_name, version):
            assert model_name == PARENT
            found = version if version in versions else aliases.get(version)
            if found is None:
                raise exceptions.NotFound(f"no version or alias {version}")
            return aiplatform_mocks.model(
                uri=f"gs://{bucket}/root/run-{found}/train/model", version_id=found,
                resource_name=PARENT, labels={},
                version_aliases=sorted(a for a, x in aliases.items() if x == found))

        patched.Model.side_effect = get
        patched.parent, patched.aliases, patched.bucket = parent, aliases, bucket
        # history as pushes left it: 1 -> 2 -> 3
        registry = reg.VertexRegistry(PROJECT, REGION)
        folder = registry.audit_folder("penguins")
        for before, after in ((None, "1"), ("1", "2"), ("2", "3")):
            reg.audit.append(folder, reg.audit.entry(
                "champion", before, after, reg.audit.check_audit(f"run-{after}", "blessed",
                                                                  "push")))
        patched.Model.reset_mock()
        yield patched


def alias_calls(vertex):
    return vertex.parent.versioning_registry.add_version_aliases.call_args_list


def test_vertex_rollback_and_promote_requests(vertex):
    registry = reg.open_registry(URI)
    done = ops.rollback(registry, "penguins", reason="v3 is worse", by="ana@laptop")
    assert (done["from"], done["to"]) == ("3", "2")
    assert alias_calls(vertex) == [mock.call(new_aliases=["champion"], version="2")]
    vertex.parent.versioning_registry.remove_version_aliases.assert_not_called()
    # a second rollback goes further back
    assert ops.rollback(registry, "penguins", reason="v2 too", by="ana@laptop")["to"] == "1"
    done = ops.promote(registry, "penguins", "3", "champion", reason="fixed", by="bo@desk")
    assert (done["from"], done["to"]) == ("1", "3")
    assert alias_calls(vertex) == [mock.call(new_aliases=["champion"], version="2"),
                                   mock.call(new_aliases=["champion"], version="1"),
                                   mock.call(new_aliases=["champion"], version="3")]
    assert vertex.aliases == {"champion": "3"}
    log = registry.audit_log("penguins")
    assert [(e["from"], e["to"], e["by"], e["reason"], e["operation"]) for e in log] == [
        (None, "1", "run-1", "blessed", "push"), ("1", "2", "run-2", "blessed", "push"),
        ("2", "3", "run-3", "blessed", "push"),
        ("3", "2", "ana@laptop", "v3 is worse", "rollback"),
        ("2", "1", "ana@laptop", "v2 too", "rollback"),
        ("1", "3", "bo@desk", "fixed", "promote")]
    # create-only, one file a move, beside the companion folders in the versions' bucket
    folder = f"gs://{vertex.bucket}/kfp_mlops_audit/{PARENT}/aliases"
    assert io.listdir(folder) == [f"{n:06d}.json" for n in range(1, 7)]
    assert io.read_json(f"{folder}/000006.json")["by"] == "bo@desk"


def test_vertex_promote_conflict_moves_nothing(vertex):
    """The alias moved between promote's read and its compare-and-set re-read."""
    registry = reg.open_registry(URI)
    read = ops._current

    def read_then_someone_moves_it(*args):
        found = read(*args)
        vertex.aliases["champion"] = "1"
        return found

    with mock.patch.object(ops, "_current", read_then_someone_moves_it):
        with pytest.raises(reg.AliasConflictError, match="points at 1, not at 3 as expected"):
            ops.promote(registry, "penguins", "2", "champion", reason="r", by="me")
    assert alias_calls(vertex) == []
    assert len(registry.audit_log("penguins")) == 3


def test_cli_rollback_moves_the_endpoint_traffic_back(vertex, capsys):
    endpoint = aiplatform_mocks.endpoint([(PARENT, "3", "303"), (PARENT, "2", "202")])
    vertex.Endpoint.list.return_value = [endpoint]
    code = cli.main(["registry", "rollback", "--registry-uri", URI, "penguins", "--reason",
                     "v3 5xx on the endpoint", "--by", "oncall", "--endpoint", "penguins-ep"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert alias_calls(vertex) == [mock.call(new_aliases=["champion"], version="2")]
    vertex.Endpoint.list.assert_called_once_with(filter='display_name="penguins-ep"')
    endpoint.update.assert_called_once_with(traffic_split={"202": 100})
    assert out.splitlines() == [
        "penguins: alias champion moved from version 3 to version 2 by oncall: v3 5xx on the "
        "endpoint",
        "penguins: endpoint penguins-ep now sends deployed model 202 100%"]


def test_vertex_list_models_and_versions(vertex, capsys):
    vertex.parent.configure_mock(display_name="penguins")
    assert cli.main(["registry", "list", "--registry-uri", URI, "--json"]) == 0
    vertex.Model.list.assert_called_with(filter='labels.managed_by="kfp-mlops"')
    assert capsys.readouterr().out == '[\n  "penguins"\n]\n'
    assert cli.main(["registry", "list", "--registry-uri", URI, "penguins", "--json"]) == 0
    rows = __import__("json").loads(capsys.readouterr().out)
    assert [(r["version"], r["aliases"]) for r in rows] == [("1", []), ("2", []),
                                                            ("3", ["champion"])]
    vertex.Model.list.assert_called_with(filter='display_name="penguins"',
                                         order_by="update_time desc")
