"""registry_alias core on a local registry of stand-in SavedModels, and on Vertex AI with
only google.cloud.aiplatform mocked (rollback with the endpoint's traffic)."""
from unittest import mock

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.registry_alias import core
from tests.components._shared.registry.test_operations import add, fake_parts
from tests.components._shared.registry.test_vertex_operations import (  # noqa: F401
    PARENT, URI, alias_calls, vertex)
from tests.support import aiplatform_mocks


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    return fake_parts(tmp_path_factory.mktemp("alias_parts"))


@pytest.fixture
def three(tmp_path, parts):
    uri = str(tmp_path / "registry")
    registry = reg.open_registry(uri)
    for tag, run in zip("abc", ("run-1", "run-2", "run-3")):
        add(registry, parts, tag, run)
    return uri


def test_rollback_then_promote_records_the_run(three, tmp_path):
    done = core.move_alias(three, "penguins", "rollback", reason="v3 regressed",
                           by="retrain-20261202", output_dir=str(tmp_path / "out"))
    assert (done["from"], done["to"], done["moved"], done["operation"]) == (
        "3", "2", True, "rollback")
    assert done["registry"] == three and done["endpoint"] == "" and done["skipped"] == []
    assert io.read_json(str(tmp_path / "out" / "alias.json")) == done
    done = core.move_alias(three, "penguins", "promote", version="latest", alias="champion",
                           reason="fixed", by="promote-run")
    assert (done["from"], done["to"]) == ("2", "3")
    log = reg.open_registry(three).audit_log("penguins")
    assert [(e["by"], e["reason"], e["operation"]) for e in log[-2:]] == [
        ("retrain-20261202", "v3 regressed", "rollback"), ("promote-run", "fixed", "promote")]


@pytest.mark.parametrize("kwargs, message", [
    (dict(action="demote", reason="r"), "action 'demote' is not one of promote, rollback"),
    (dict(action="promote", reason="r"), "version is empty: promote needs the version"),
    (dict(action="rollback", reason="r", version="2"), "version '2': rollback finds the "
                                                       "version in the audit log"),
    (dict(action="rollback", reason=""), "reason is required"),
    (dict(action="rollback", reason="r", endpoint_name="ep"),
     "endpoint_name 'ep' is for a rollback on a vertex:// registry"),
])
def test_bad_inputs_move_nothing(three, kwargs, message):
    with pytest.raises(ValueError, match=message):
        core.move_alias(three, "penguins", **kwargs)
    assert len(reg.open_registry(three).audit_log("penguins")) == 3


def test_vertex_rollback_with_endpoint(vertex):  # noqa: F811
    endpoint = aiplatform_mocks.endpoint([(PARENT, "2", "202"), (PARENT, "3", "303")])
    vertex.Endpoint.list.return_value = [endpoint]
    done = core.move_alias(URI, "penguins", "rollback", reason="5xx", by="run-9",
                           endpoint_name="penguins-ep")
    assert (done["from"], done["to"], done["traffic_split"]) == ("3", "2", {"202": 100})
    assert alias_calls(vertex) == [mock.call(new_aliases=["champion"], version="2")]
    endpoint.update.assert_called_once_with(traffic_split={"202": 100})
