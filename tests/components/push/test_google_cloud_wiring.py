"""push's outputs compose with Google Cloud's components, checked by KFP's own type check.

google-cloud-pipeline-components is not in our lock (.ci/newer_kfp.sh composes the real
ones on the newest kfp). Here stand-ins declare GCPC's signatures with a class of their own
per artifact type, matching by schema title and version as GCPC's classes do
(types/artifact_types.py), and read the artifacts the way GCPC's components do:
``model_deploy`` puts ``model.metadata['resourceName']`` in its payload
(v1/endpoint/deploy_model/component.py); ``model_batch_predict`` and ``model_upload`` get
the unmanaged model through ``{{$}}`` (the executor input) and read its uri and metadata
(v1/batch_predict_job/component.py, v1/model/upload_model/component.py).
"""
import pathlib

import pytest
import yaml
from kfp import compiler, components, dsl
from kfp.dsl import Input, Output, OutputPath
from kfp.dsl.types import type_utils

from kfp_mlops.components.push.component import push as push_from_source

ROOT = pathlib.Path(__file__).resolve().parents[3]
STAND_IN_IMAGE = "gcpc-stand-in:0"


class GcpcVertexModel(dsl.Artifact):
    schema_title = "google.VertexModel"
    schema_version = "0.0.1"


class GcpcUnmanagedContainerModel(dsl.Artifact):
    schema_title = "google.UnmanagedContainerModel"
    schema_version = "0.0.1"


@dsl.container_component
def model_deploy(model: Input[GcpcVertexModel], gcp_resources: OutputPath(str)):
    return dsl.ContainerSpec(image=STAND_IN_IMAGE, command=["deploy"], args=[
        "--payload", dsl.ConcatPlaceholder(
            ['{"deployed_model": {"model": "', model.metadata["resourceName"], '"}}']),
        "--gcp_resources", gcp_resources])


@dsl.container_component
def model_batch_predict(gcp_resources: OutputPath(str),
                        model: Input[GcpcVertexModel] = None,
                        unmanaged_container_model: Input[GcpcUnmanagedContainerModel] = None):
    return dsl.ContainerSpec(image=STAND_IN_IMAGE, command=["batch-predict"], args=[
        "--gcp_resources", gcp_resources,
        "--executor_input", dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


@dsl.container_component
def model_upload(model: Output[GcpcVertexModel], gcp_resources: OutputPath(str),
                 parent_model: Input[GcpcVertexModel] = None,
                 unmanaged_container_model: Input[GcpcUnmanagedContainerModel] = None):
    return dsl.ContainerSpec(image=STAND_IN_IMAGE, command=["upload"], args=[
        "--gcp_resources", gcp_resources,
        "--executor_input", dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER])


def push_task(push):
    def imported(name, cls):
        return dsl.importer(artifact_uri=f"gs://bucket/run/{name}", artifact_class=cls,
                            reimport=False).output

    return push(model=imported("model", dsl.Model),
                blessing=imported("blessing", dsl.Artifact),
                schema=imported("schema", dsl.Artifact),
                statistics=imported("statistics", dsl.Artifact),
                dataset=imported("dataset", dsl.Dataset),
                registry_uri="vertex://projects/p/locations/europe-west4",
                model_name="penguins")


def compile_wiring(push, path):
    @dsl.pipeline(name="push-to-google-cloud")
    def wiring():
        pushed = push_task(push)
        with dsl.If(pushed.outputs["pushed"] == True):  # noqa: E712 (a KFP condition)
            model_deploy(model=pushed.outputs["vertex_model"])
            model_batch_predict(
                unmanaged_container_model=pushed.outputs["unmanaged_container_model"])
        model_upload(unmanaged_container_model=pushed.outputs["unmanaged_container_model"],
                     parent_model=pushed.outputs["vertex_model"])

    compiler.Compiler().compile(wiring, str(path))
    return yaml.safe_load(path.read_text())


@pytest.fixture(params=["source", "component.yaml"])
def push(request):
    if request.param == "source":
        return push_from_source
    return components.load_component_from_file(str(ROOT / "components" / "push" /
                                                   "component.yaml"))


def test_push_outputs_feed_google_cloud_components(push, tmp_path):
    spec = compile_wiring(push, tmp_path / "wiring.yaml")
    tasks = dict(spec["root"]["dag"]["tasks"])
    (gate,) = [name for name in tasks if name.startswith("condition-")]
    tasks.update(spec["components"][f"comp-{gate}"]["dag"]["tasks"])

    def wired(task, name):
        source = tasks[task]["inputs"]["artifacts"][name]
        if "componentInputArtifact" in source:  # inside the gate: the gate's input
            outer = tasks[gate]["inputs"]["artifacts"][source["componentInputArtifact"]]
            return outer["taskOutputArtifact"]
        return source["taskOutputArtifact"]

    assert wired("model-deploy", "model") == {"outputArtifactKey": "vertex_model",
                                              "producerTask": "push"}
    assert wired("model-batch-predict", "unmanaged_container_model") == {
        "outputArtifactKey": "unmanaged_container_model", "producerTask": "push"}
    assert wired("model-upload", "unmanaged_container_model")["outputArtifactKey"] == \
        "unmanaged_container_model"
    assert wired("model-upload", "parent_model")["outputArtifactKey"] == "vertex_model"

    outputs = spec["components"]["comp-push"]["outputDefinitions"]["artifacts"]
    assert outputs["vertex_model"]["artifactType"] == {"schemaTitle": "google.VertexModel",
                                                       "schemaVersion": "0.0.1"}
    assert outputs["unmanaged_container_model"]["artifactType"] == {
        "schemaTitle": "google.UnmanagedContainerModel", "schemaVersion": "0.0.1"}
    deploy_args = spec["deploymentSpec"]["executors"]["exec-model-deploy"]["container"]["args"]
    assert "{{$.inputs.artifacts['model'].metadata['resourceName']}}" in deploy_args[1]


def test_the_type_check_is_real(push):
    """push's system.Model output is refused where GCPC wants a google.VertexModel."""
    with pytest.raises(type_utils.InconsistentTypeException,
                       match="system.Model.*google.VertexModel"):
        @dsl.pipeline(name="wrong-type")
        def wrong():
            model_deploy(model=push_task(push).outputs["pushed_model"])


def test_component_imports_our_types_only():
    """The task imports the types from our package (installed in the images), not GCPC."""
    spec = yaml.safe_load((ROOT / "components" / "push" / "component.yaml").read_text())
    source = spec["deploymentSpec"]["executors"]["exec-push"]["container"]["command"][-1]
    assert "from kfp_mlops.components._shared.artifact_types import VertexModel" in source
    assert ("from kfp_mlops.components._shared.artifact_types import UnmanagedContainerModel"
            in source)
    assert "google_cloud_pipeline_components" not in source
