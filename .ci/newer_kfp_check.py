"""Reuse check run by .ci/newer_kfp.sh in a virtualenv holding only the newest kfp and
google-cloud-pipeline-components (GCPC), with kfp-mlops installed without its dependencies.

    python .ci/newer_kfp_check.py sources   # every pipeline compiles from its Python source
    python .ci/newer_kfp_check.py specs     # every components/*/component.yaml loads, and
                                            # every pipeline compiles from those specs
    python .ci/newer_kfp_check.py gcpc      # push's outputs feed GCPC's components, and
                                            # GCPC's own code reads them into valid requests
    python .ci/newer_kfp_check.py local-run RUNTIME_PYTHON
                                            # the data-validation pipeline runs on this kfp's
                                            # kfp.local, its tasks in RUNTIME_PYTHON

``specs`` swaps each ``kfp_mlops.components.<name>.component.<name>`` for the component
loaded from its YAML *before* the pipeline modules are imported, so the pipelines are
rebuilt from the committed specs alone, exactly as a team reusing them would.
"""
import glob
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _compile_every_pipeline(label: str) -> None:
    from kfp_mlops.pipelines import catalog, compiling

    with tempfile.TemporaryDirectory() as out:
        for name in catalog.names():
            compiling.compile_pipeline(name, out)
            compiling.compile_pipeline(name, out, "europe-docker.pkg.dev/p/r", "check")
            print(f"  {label}: {name} compiles")


def sources() -> None:
    _compile_every_pipeline("from source")


def specs() -> None:
    import importlib

    from kfp import components

    paths = sorted(glob.glob(os.path.join(ROOT, "components", "*", "component.yaml")))
    if not paths:
        raise SystemExit("no components/*/component.yaml found; run `kfp-mlops components`")
    for path in paths:
        name = os.path.basename(os.path.dirname(path))
        loaded = components.load_component_from_file(path)
        # kfp names a component after its function, with '_' written as '-'
        if loaded.name != name.replace("_", "-"):
            raise SystemExit(f"{path} names component {loaded.name!r}, expected "
                             f"{name.replace('_', '-')!r}")
        module = importlib.import_module(f"kfp_mlops.components.{name}.component")
        setattr(module, name, loaded)
        print(f"  {os.path.relpath(path, ROOT)} loads")
    _compile_every_pipeline("from component.yaml")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def _compile_with_gcpc(push, label: str) -> None:
    """push -> EndpointCreateOp + ModelDeployOp, ModelBatchPredictOp, ModelUploadOp."""
    import yaml
    from google_cloud_pipeline_components.v1.batch_predict_job import ModelBatchPredictOp
    from google_cloud_pipeline_components.v1.endpoint import EndpointCreateOp, ModelDeployOp
    from google_cloud_pipeline_components.v1.model import ModelUploadOp
    from kfp import compiler, dsl

    def imported(name, cls):
        return dsl.importer(artifact_uri=f"gs://bucket/run/{name}", artifact_class=cls,
                            reimport=False).output

    @dsl.pipeline(name="push-to-google-cloud")
    def wiring(project: str = "p", location: str = "europe-west4"):
        pushed = push(model=imported("model", dsl.Model),
                      blessing=imported("blessing", dsl.Artifact),
                      schema=imported("schema", dsl.Artifact),
                      statistics=imported("statistics", dsl.Artifact),
                      dataset=imported("dataset", dsl.Dataset),
                      registry_uri="vertex://projects/p/locations/europe-west4",
                      model_name="penguins")
        endpoint = EndpointCreateOp(display_name="penguins", project=project, location=location)
        ModelDeployOp(model=pushed.outputs["vertex_model"], endpoint=endpoint.outputs["endpoint"],
                      dedicated_resources_machine_type="n1-standard-2",
                      dedicated_resources_min_replica_count=1,
                      dedicated_resources_max_replica_count=1)
        ModelBatchPredictOp(job_display_name="penguins-batch", project=project, location=location,
                            unmanaged_container_model=pushed.outputs["unmanaged_container_model"],
                            gcs_source_uris=["gs://bucket/serving/*.jsonl"],
                            gcs_destination_output_uri_prefix="gs://bucket/predictions",
                            machine_type="n1-standard-2", starting_replica_count=1,
                            max_replica_count=1)
        ModelUploadOp(display_name="penguins", project=project, location=location,
                      unmanaged_container_model=pushed.outputs["unmanaged_container_model"],
                      parent_model=pushed.outputs["vertex_model"])

    with tempfile.TemporaryDirectory() as out:
        path = os.path.join(out, "wiring.yaml")
        compiler.Compiler().compile(wiring, path)
        spec = yaml.safe_load(open(path))
    tasks = spec["root"]["dag"]["tasks"]
    for task, name, key in (("model-deploy", "model", "vertex_model"),
                            ("model-batch-predict", "unmanaged_container_model",
                             "unmanaged_container_model"),
                            ("model-upload", "unmanaged_container_model",
                             "unmanaged_container_model"),
                            ("model-upload", "parent_model", "vertex_model")):
        wired = tasks[task]["inputs"]["artifacts"][name]["taskOutputArtifact"]
        _check(wired == {"outputArtifactKey": key, "producerTask": "push"},
               f"{label}: {task}.{name} is wired to {wired}, expected push.{key}")
    print(f"  {label}: push -> ModelDeployOp, ModelBatchPredictOp, ModelUploadOp compiles")


def _gcpc_reads_push_artifacts() -> None:
    """Our artifacts, read by GCPC's own launcher code, make valid Vertex AI requests."""
    from google.cloud.aiplatform_v1.types import BatchPredictionJob, Model
    from google_cloud_pipeline_components.container.v1.batch_prediction_job import (
        remote_runner as batch_runner)
    from google_cloud_pipeline_components.container.v1.gcp_launcher.utils import json_util
    from google_cloud_pipeline_components.container.v1.model.upload_model import (
        remote_runner as upload_runner)
    from google_cloud_pipeline_components.types import artifact_types as gcpc

    from kfp_mlops.components._shared import artifact_types as ours

    resource = "projects/p/locations/europe-west4/models/9@3"
    image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-16:latest"
    vertex = ours.VertexModel(name="vertex_model", uri="gs://root/run/push/vertex_model")
    ours.fill_vertex_model(vertex, resource)
    # as container/v1/model/upload_model/remote_runner.py upload_model builds its output
    theirs = gcpc.VertexModel.create("model", "https://europe-west4-aiplatform.googleapis.com"
                                     f"/v1/{resource}", resource)
    _check((vertex.uri, vertex.metadata) == (theirs.uri, theirs.metadata),
           f"VertexModel {vertex.uri} {vertex.metadata} != GCPC's {theirs.uri} {theirs.metadata}")
    _check((ours.VertexModel.schema_title, ours.VertexModel.schema_version)
           == (gcpc.VertexModel.schema_title, gcpc.VertexModel.schema_version),
           "VertexModel schema differs from GCPC's")

    saved_model = tempfile.mkdtemp()
    open(os.path.join(saved_model, "saved_model.pb"), "wb").close()
    container = ours.UnmanagedContainerModel(name="unmanaged_container_model",
                                             uri=os.path.join(tempfile.mkdtemp(), "model"))
    ours.fill_unmanaged_container_model(container, saved_model, image)
    _check(os.path.isfile(os.path.join(container.path, "saved_model.pb")),
           "the UnmanagedContainerModel does not hold the SavedModel")
    container.uri = "gs://bucket/run/model"  # where the launcher uploads it on Vertex AI
    theirs = gcpc.UnmanagedContainerModel.create(predict_schemata={},
                                                 container_spec={"imageUri": image})
    _check(container.metadata == theirs.metadata,
           f"UnmanagedContainerModel {container.metadata} != GCPC's {theirs.metadata}")
    _check((ours.UnmanagedContainerModel.schema_title,
            ours.UnmanagedContainerModel.schema_version)
           == (gcpc.UnmanagedContainerModel.schema_title,
               gcpc.UnmanagedContainerModel.schema_version),
           "UnmanagedContainerModel schema differs from GCPC's")

    def executor_input(artifact):
        return json.dumps({"inputs": {"artifacts": {"unmanaged_container_model": {
            "artifacts": [{"name": artifact.name, "uri": artifact.uri,
                           "metadata": artifact.metadata}]}}}})

    def batch_request(artifact):
        payload = json.dumps({"display_name": "penguins-batch", "input_config": {
            "instances_format": "jsonl", "gcs_source": {"uris": ["gs://bucket/serving/a.jsonl"]}},
            "model_parameters": {}})
        spec = json.loads(batch_runner.insert_artifact_into_payload(executor_input(artifact),
                                                                    payload))
        # as JobRemoteRunner.create_job then create_batch_prediction_job_with_client do
        spec = batch_runner.sanitize_job_spec(json_util.recursive_remove_empty(spec))
        return BatchPredictionJob(**spec)

    job = batch_request(container)
    _check(job.unmanaged_container_model.artifact_uri == "gs://bucket/run/model"
           and job.unmanaged_container_model.container_spec.image_uri == image,
           f"batch prediction request holds {job.unmanaged_container_model}")
    model_spec = json_util.recursive_remove_empty(
        upload_runner.append_unmanaged_model_artifact_into_payload(
            executor_input(container), {"display_name": "penguins"}))
    model = Model(**model_spec)
    _check(model.artifact_uri == "gs://bucket/run/model"
           and model.container_spec.image_uri == image, f"upload request holds {model}")
    print("  GCPC's batch-predict and upload runners read push's artifacts into valid "
          "BatchPredictionJob / Model requests")

    # A model that was not pushed must not become a request.
    empty = ours.UnmanagedContainerModel(name="unmanaged_container_model",
                                         uri="gs://root/run/push/unmanaged_container_model")
    ours.mark_empty(empty, {"available": False, "reason": "not pushed: accuracy too low"})
    try:
        batch_request(empty)
    except ValueError as e:
        print(f"  a not-pushed model is refused before any request: {e}")
    else:
        raise SystemExit("FAILED: a not-pushed UnmanagedContainerModel made a batch prediction "
                         "request")


def gcpc() -> None:
    from kfp import components

    from kfp_mlops.components.push.component import push

    import google_cloud_pipeline_components
    print(f"  google-cloud-pipeline-components {google_cloud_pipeline_components.__version__}")
    _compile_with_gcpc(push, "from source")
    _compile_with_gcpc(components.load_component_from_file(
        os.path.join(ROOT, "components", "push", "component.yaml")), "from component.yaml")
    _gcpc_reads_push_artifacts()


def adapter() -> None:
    """kfp_mlops.pipelines.kfp_local_adapter finds every internal it patches in this kfp, and
    its Docker patches (which the local run below does not reach) apply and are undone."""
    from kfp.local import docker_task_handler

    from kfp_mlops.pipelines import kfp_local_adapter

    for name in ("dispatcher_problem", "subprocess_problem", "docker_problem"):
        problem = getattr(kfp_local_adapter, name)()
        _check(problem == "", f"kfp_local_adapter.{name}: {problem}")
    handler_class = docker_task_handler.DockerTaskHandler
    original = (handler_class.get_volumes_to_mount, docker_task_handler.run_docker_container)

    def run(client, image, command, volumes, **container_run_args):
        return 0

    with tempfile.TemporaryDirectory() as root:
        with kfp_local_adapter.docker_tasks(
                lambda pipeline_root: {"/data": {"bind": "/data", "mode": "ro"}}, run):
            handler = handler_class("img", [], root, None)
            volumes = handler.get_volumes_to_mount()
            _check(volumes.get("/data") == {"bind": "/data", "mode": "ro"}
                   and volumes.get(root, {}).get("bind") == root,
                   f"volumes under the adapter: {volumes}")
            _check(docker_task_handler.run_docker_container is run,
                   "run_docker_container is not replaced")
    _check((handler_class.get_volumes_to_mount, docker_task_handler.run_docker_container)
           == original, "the Docker patches were not undone")
    print("  kfp_local_adapter: every internal it patches has the shape it expects")


def local_run(runtime_python: str) -> None:
    """Runs data-validation with ``kfp_mlops.pipelines.local`` on this venv's kfp.local.

    The task bodies need TFDV, which does not install beside the newest kfp (protobuf), so
    the tasks run in ``runtime_python`` (the locked .venv): kfp.local's
    ``SubprocessRunner(use_venv=False)`` starts each task as ``sys.executable -m
    kfp.dsl.executor_main`` (kfp/local/subprocess_task_handler.py: ``environment`` yields
    ``sys.executable``, ``replace_python_executable`` puts it in place of ``python3``). The
    orchestration -- the task dispatcher pipelines/local.py wraps, the executor input, the
    outputs read back -- is this kfp's.
    """
    import importlib.util

    from kfp_mlops.pipelines import local

    _check(os.path.isfile(runtime_python) and os.access(runtime_python, os.X_OK),
           f"runtime python {runtime_python!r} is not an executable (make setup creates .venv)")
    for heavy in ("tensorflow_data_validation", "tensorflow"):
        _check(importlib.util.find_spec(heavy) is None,
               f"{heavy} is importable in the checking venv; the tasks must get it from "
               f"{runtime_python} only, or this run proves nothing about where they ran")
    sys.executable = runtime_python
    # The checkout's copy, not the venv's: replace_python_executable rewrites "python3" in
    # every argument, and a site-packages path (lib/python3.11/...) holds that string.
    data = os.path.join(ROOT, "pipelines", "data", "penguins.csv")
    with tempfile.TemporaryDirectory() as out:
        summary = local.run("data-validation", {"data_uri": data, "label_column": "species"},
                            out)
        print(local.format_summary(summary))
        _check(summary.status == "SUCCESS" and not summary.error,
               f"data-validation run: {summary.status} {summary.error}")
        # The records come from the wrapper around task_dispatcher.run_single_task_implementation:
        # no records means this kfp no longer sends tasks through it.
        names = [t.name for t in summary.tasks]
        _check(names == ["ingest", "validate"],
               f"recorded tasks {names}; the task dispatcher wrapper did not see both tasks")
        _check(all(t.status == "SUCCESS" and t.seconds > 0 for t in summary.tasks),
               f"task records {[(t.name, t.status, t.seconds) for t in summary.tasks]}")
        tasks = {t.name: t.outputs for t in summary.tasks}
        dataset = tasks["ingest"].get("dataset") or {}
        _check(dataset.get("type") == "Dataset" and dataset["metadata"].get("num_rows") == 344,
               f"ingest's dataset as recorded: {dataset}")
        _check(os.path.isfile(os.path.join(dataset["uri"], "train", "data.parquet")),
               f"no train split under {dataset['uri']}")
        statistics = tasks["validate"].get("statistics") or {}
        _check(os.path.isfile(os.path.join(statistics.get("uri", ""), "Split-train",
                                           "FeatureStats.pb")),
               f"validate's statistics as recorded: {statistics}")
        _check(tasks["validate"].get("passed") is True,
               f"validate's passed output: {tasks['validate'].get('passed')!r}")
    print(f"  data-validation ran on kfp.local, tasks in {runtime_python}")


if __name__ == "__main__":
    import kfp

    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    modes = {"sources": sources, "specs": specs, "gcpc": gcpc, "adapter": adapter}
    if mode == "local-run" and len(sys.argv) == 3:
        print(f"kfp {kfp.__version__}: {mode}")
        local_run(sys.argv[2])
    elif mode in modes and len(sys.argv) == 2:
        print(f"kfp {kfp.__version__}: {mode}")
        modes[mode]()
    else:
        raise SystemExit("usage: newer_kfp_check.py sources|specs|gcpc|adapter|"
                         "local-run RUNTIME_PYTHON")
