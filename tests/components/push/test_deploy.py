"""push's deployment to a Vertex AI endpoint (``components/push/deploy.py``), with only
``google.cloud.aiplatform`` mocked (autospec'd, spec_set), asserting the exact requests."""
import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.push import core, deploy
from tests.support import aiplatform_mocks

PROJECT, REGION = "my-proj", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{REGION}/models/123"


def registered(version_id="1"):
    """A version as VertexRegistry.register returns it."""
    return reg.ModelVersion(
        model_name="penguins", version=version_id, model_dir="gs://b/run/model",
        schema_path="gs://b/run/model.kfp_mlops/schema/schema.pbtxt",
        statistics_dir="gs://b/run/model.kfp_mlops/statistics", evaluation={}, lineage={},
        aliases=[], uri=f"{PARENT}@{version_id}")


@pytest.fixture
def vertex():
    with aiplatform_mocks.patched() as patched:
        patched.Model.return_value = aiplatform_mocks.model(resource_name=PARENT,
                                                            version_id="1")
        yield patched


def test_deploy_to_new_endpoint_takes_all_traffic(vertex, caplog):
    """A canary share on an endpoint that serves nothing: the SDK would refuse it
    (Endpoint._deploy_call: an endpoint without traffic takes a first model at 100 only)."""
    vertex.Endpoint.list.return_value = []
    vertex.Endpoint.create.return_value = aiplatform_mocks.endpoint()
    assert deploy.deploy(registered(), "penguins-ep", PROJECT, REGION, traffic_percentage=10,
                         machine_type="n1-standard-4")
    assert "gets 100% of the traffic, not 10%" in caplog.text
    vertex.init.assert_called_once_with(project=PROJECT, location=REGION)
    vertex.Model.assert_called_once_with(model_name=PARENT, version="1")
    vertex.Endpoint.list.assert_called_once_with(filter='display_name="penguins-ep"')
    vertex.Endpoint.create.assert_called_once_with(display_name="penguins-ep")
    vertex.Model.return_value.deploy.assert_called_once_with(
        endpoint=vertex.Endpoint.create.return_value, traffic_percentage=100,
        machine_type="n1-standard-4", deployed_model_display_name="penguins-v1")


def test_deploy_to_existing_endpoint_once(vertex):
    model = vertex.Model.return_value
    endpoint = aiplatform_mocks.endpoint([("projects/my-proj/locations/us-central1/models/7",
                                           "4")])
    vertex.Endpoint.list.return_value = [endpoint]
    assert deploy.deploy(registered(), "ep", PROJECT, REGION, traffic_percentage=100)
    vertex.Endpoint.create.assert_not_called()
    model.deploy.assert_called_once_with(endpoint=endpoint, traffic_percentage=100,
                                         machine_type="n1-standard-2",
                                         deployed_model_display_name="penguins-v1")
    # already deployed there: no second deployment
    vertex.Endpoint.list.return_value = [aiplatform_mocks.endpoint([(PARENT, "1")])]
    model.deploy.reset_mock()
    assert not deploy.deploy(registered(), "ep", PROJECT, REGION, traffic_percentage=100)
    model.deploy.assert_not_called()
    # another version of the model there: this one is deployed beside it
    vertex.Endpoint.list.return_value = [aiplatform_mocks.endpoint([(PARENT, "2")])]
    assert deploy.deploy(registered(), "ep", PROJECT, REGION, traffic_percentage=10)
    assert model.deploy.call_args.kwargs["traffic_percentage"] == 10


@pytest.mark.parametrize("share", [120, -1, 10.5, True, float("nan"), "10"])
def test_bad_traffic_percentage_sends_no_request(vertex, share):
    with pytest.raises(deploy.DeployError, match="traffic_percentage must be 0-100"):
        deploy.deploy(registered(), "ep", PROJECT, REGION, traffic_percentage=share)
    vertex.init.assert_not_called()
    vertex.Model.assert_not_called()
    assert deploy.check_traffic_percentage(20.0) == 20


def test_not_a_vertex_version(vertex, tmp_path):
    folder_version = registered()
    folder_version.uri = str(tmp_path / "registry" / "penguins" / "versions" / "1")
    with pytest.raises(deploy.DeployError, match="is not a Vertex AI model version"):
        deploy.deploy(folder_version, "ep", PROJECT, REGION)
    vertex.Endpoint.list.assert_not_called()


def test_push_checks_the_traffic_share_before_anything(inputs, tmp_path, vertex):
    with pytest.raises(deploy.DeployError, match="traffic_percentage must be 0-100"):
        core.push(inputs["model"], inputs["blessed"], inputs["schema"], inputs["statistics"],
                  f"vertex://projects/{PROJECT}/locations/{REGION}", "penguins",
                  endpoint_name="ep", traffic_percentage=120,
                  output_dir=str(tmp_path / "out"))
    assert vertex.Model.mock_calls == [] and vertex.init.mock_calls == []
    assert not (tmp_path / "out").exists()


def test_route_traffic_sends_all_traffic_to_the_version(vertex):
    """A rollback's endpoint half: the exact UpdateEndpoint the SDK is asked for."""
    endpoint = aiplatform_mocks.endpoint([(PARENT, "2", "555"), (PARENT, "1", "444"),
                                          ("projects/my-proj/locations/us-central1/models/7",
                                           "1", "333")])
    vertex.Endpoint.list.return_value = [endpoint]
    assert deploy.route_traffic(registered("1"), "penguins-ep", PROJECT, REGION) == {"444": 100}
    vertex.init.assert_called_once_with(project=PROJECT, location=REGION)
    vertex.Endpoint.list.assert_called_once_with(filter='display_name="penguins-ep"')
    endpoint.update.assert_called_once_with(traffic_split={"444": 100})
    vertex.Endpoint.create.assert_not_called()
    vertex.Model.return_value.deploy.assert_not_called()


def test_route_traffic_refuses_what_it_cannot_do(vertex):
    vertex.Endpoint.list.return_value = []
    with pytest.raises(deploy.DeployError, match="endpoint 'gone': no Vertex AI endpoint"):
        deploy.route_traffic(registered("1"), "gone", PROJECT, REGION)
    endpoint = aiplatform_mocks.endpoint([(PARENT, "2", "555")])
    vertex.Endpoint.list.return_value = [endpoint]
    with pytest.raises(deploy.DeployError, match="does not serve 'penguins' version 1; "
                                                 "deploy it first"):
        deploy.route_traffic(registered("1"), "ep", PROJECT, REGION)
    endpoint.update.assert_not_called()
    with pytest.raises(deploy.DeployError, match="is not a Vertex AI model version"):
        deploy.route_traffic(reg.ModelVersion("penguins", 1, "/r/m", "", "", {}, {}, [],
                                              "/r/penguins/versions/1"), "ep", PROJECT, REGION)
