"""The train task as a Vertex AI custom job: N machines of one type, with accelerators.

Why a custom job built at compile time, and not a train component that submits one itself:
a Vertex user who trains on several machines from a pipeline reaches for GCPC's
``create_custom_training_job_from_component`` (google_cloud_pipeline_components
``v1/custom_job/utils.py``): the task *is* the CustomJob -- the console links it, cancelling
the run cancels the job (the launcher's ``gcp_resources`` output), and the component's own
inputs and outputs are kept, so evaluate and push read ``model`` as before. GCPC is not a
dependency of ours (it pins its own kfp), so :func:`custom_job_component` builds the same
component the same way, from the compiled train component:

* ``worker_pool_specs`` as that function builds them: pool 0, the chief, ``replica_count`` 1;
  pool 1, the other ``workers - 1`` replicas, a copy of pool 0 (Vertex's rule:
  ``workerPoolSpecs[0]`` is the primary replica and must have one replica, ``[1]`` the
  workers -- https://cloud.google.com/vertex-ai/docs/training/distributed-training); each
  runs the train component's own image, command and arguments, with the executor input
  ``{{$}}`` JSON-escaped (``{{$.json_escape[1]}}``, GCPC's ``_replace_executor_placeholder``)
  because it lands inside the JSON payload; machine spec (type, accelerator type -- GCPC's
  ``ACCELERATOR_TYPE_UNSPECIFIED`` when none -- and count, 0 without a type) and disk spec
  (``pd-ssd``, 100 GB: GCPC's defaults);
* the launcher: GCPC's image running ``google_cloud_pipeline_components.container.v1.
  custom_job.launcher --type CustomJob --payload {"display_name", "job_spec":
  {"worker_pool_specs"}} --project --location --gcp_resources`` (GCPC ``v1/custom_job/
  component.py``), the project and region of the pipeline run by default
  (``{{$.pipeline_google_cloud_project_id}}``, ``{{$.pipeline_google_cloud_location}}``,
  GCPC ``_placeholders.py``);
* the merge: the train component's input parameters and artifacts and its output artifacts
  join the custom job component's (GCPC's three-way merge), so the task takes and gives what
  train does.

Every replica gets ``TF_CONFIG`` from Vertex; train's ``distributed`` module makes the
``chief`` (pool 0) the only one that writes the model. This runs on Vertex AI Pipelines only:
Kubeflow has no custom jobs.
"""
import copy
import dataclasses
import json
from typing import Any, Dict, List

#: GCPC's launcher image, pinned (the newest GCPC release we compared the spec with).
GCPC_VERSION = "2.22.0"
LAUNCHER_IMAGE = f"gcr.io/ml-pipeline/google-cloud-pipeline-components:{GCPC_VERSION}"
LAUNCHER_MODULE = "google_cloud_pipeline_components.container.v1.custom_job.launcher"
PROJECT_PLACEHOLDER = "{{$.pipeline_google_cloud_project_id}}"
LOCATION_PLACEHOLDER = "{{$.pipeline_google_cloud_location}}"
EXECUTOR_INPUT = "{{$}}"
JSON_ESCAPED_EXECUTOR_INPUT = "{{$.json_escape[1]}}"
DEFAULT_MACHINE_TYPE = "n1-standard-4"          # GCPC's default
UNSPECIFIED_ACCELERATOR = "ACCELERATOR_TYPE_UNSPECIFIED"
BOOT_DISK_TYPE, BOOT_DISK_SIZE_GB = "pd-ssd", 100  # GCPC's defaults


@dataclasses.dataclass(frozen=True)
class CustomJob:
    """Where the train task runs on Vertex AI: ``workers`` machines of ``machine_type``."""

    workers: int = 1
    machine_type: str = DEFAULT_MACHINE_TYPE
    accelerator_type: str = ""
    accelerator_count: int = 0

    def __post_init__(self):
        check(self.workers, self.machine_type, self.accelerator_type, self.accelerator_count)


def check(workers: int, machine_type: str, accelerator_type: str = "",
          accelerator_count: int = 0) -> None:
    """Raises ValueError naming the compile option that is wrong."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"--train-workers {workers!r}: expected a whole number >= 1 (the "
                         "machines of the train task's Vertex AI custom job, chief included)")
    if not machine_type or "/" in machine_type or " " in machine_type:
        raise ValueError(f"--train-machine-type {machine_type!r}: expected a Compute Engine "
                         "machine type such as n1-standard-8")
    if accelerator_count and not accelerator_type:
        raise ValueError(f"--train-accelerator-count {accelerator_count}: needs "
                         "--train-accelerator (a Vertex AI accelerator type such as "
                         "NVIDIA_TESLA_T4)")
    if accelerator_type and ("/" in accelerator_type or accelerator_type != accelerator_type.upper()):
        raise ValueError(f"--train-accelerator {accelerator_type!r} is not a Vertex AI "
                         "accelerator type (such as NVIDIA_TESLA_T4); a Vertex AI custom job "
                         "(--train-workers / --train-machine-type) runs on Vertex AI only, "
                         "not on Kubeflow")
    if accelerator_type and accelerator_count < 1:
        raise ValueError(f"--train-accelerator-count {accelerator_count}: expected >= 1 with "
                         f"--train-accelerator {accelerator_type}")


def from_options(workers, machine_type: str = "", accelerator: str = "",
                 accelerator_count: int = 1) -> CustomJob:
    """The :class:`CustomJob` of ``kfp-mlops compile``'s options; ``accelerator`` is a
    Vertex AI accelerator type, optionally with its count (``NVIDIA_TESLA_T4:2``).

    Raises:
        ValueError: naming the option and what was expected, before anything is written.
    """
    workers = 1 if workers is None else workers
    # --train-accelerator-count defaults to 1; any other count without a type is refused
    count = accelerator_count if accelerator or accelerator_count != 1 else 0
    if accelerator and ":" in accelerator:
        accelerator, _, raw = accelerator.partition(":")
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"--train-accelerator {accelerator}:{raw}: expected TYPE or "
                             "TYPE:COUNT with COUNT a whole number >= 1 (NVIDIA_TESLA_T4:1)")
        count = int(raw)
    return CustomJob(workers=workers, machine_type=machine_type or DEFAULT_MACHINE_TYPE,
                     accelerator_type=accelerator, accelerator_count=count)


def worker_pool_specs(container: Dict[str, Any], job: CustomJob) -> List[Dict[str, Any]]:
    """The CustomJob's ``worker_pool_specs`` for a component's ``container`` (its
    ``image``, ``command`` and ``args`` in the compiled spec)."""
    def escaped(parts):
        return [JSON_ESCAPED_EXECUTOR_INPUT if p == EXECUTOR_INPUT else p for p in parts]

    chief = {
        "machine_spec": {
            "machine_type": job.machine_type,
            "accelerator_type": job.accelerator_type or UNSPECIFIED_ACCELERATOR,
            "accelerator_count": job.accelerator_count if job.accelerator_type else 0,
        },
        "replica_count": 1,
        "container_spec": {
            "image_uri": container["image"],
            "command": escaped(container.get("command", [])),
            "args": escaped(container.get("args", [])),
            "env": [],
        },
        "disk_spec": {"boot_disk_type": BOOT_DISK_TYPE, "boot_disk_size_gb": BOOT_DISK_SIZE_GB},
    }
    pools = [chief]
    if job.workers > 1:
        workers = copy.deepcopy(chief)
        workers["replica_count"] = job.workers - 1
        pools.append(workers)
    return pools


def _launcher():
    from kfp import dsl

    @dsl.container_component
    def custom_training_job(gcp_resources: dsl.OutputPath(str), display_name: str = "",
                            worker_pool_specs: List[Dict[str, Any]] = [],
                            project: str = PROJECT_PLACEHOLDER,
                            location: str = LOCATION_PLACEHOLDER):
        return dsl.ContainerSpec(
            image=LAUNCHER_IMAGE,
            command=["python3", "-u", "-m", LAUNCHER_MODULE],
            args=["--type", "CustomJob",
                  "--payload", dsl.ConcatPlaceholder([
                      '{"display_name": "', display_name,
                      '", "job_spec": {"worker_pool_specs": ', worker_pool_specs, "}}"]),
                  "--project", project, "--location", location,
                  "--gcp_resources", gcp_resources])

    return custom_training_job


#: Inputs of the launcher a wrapped component must not take itself.
LAUNCHER_INPUTS = ("display_name", "worker_pool_specs", "project", "location")


def custom_job_component(component, job: CustomJob):
    """``component`` (a ``@dsl.component``) as a Vertex AI custom job of ``job``'s machines:
    the same inputs and outputs, plus ``gcp_resources``."""
    import yaml
    from google.protobuf import json_format
    from kfp import components

    user = json_format.MessageToDict(component.pipeline_spec)
    launcher = json_format.MessageToDict(_launcher().pipeline_spec)
    container = list(user["deploymentSpec"]["executors"].values())[0]["container"]
    (cj_key, cj), = launcher["components"].items()
    (_, spec), = user["components"].items()
    name = component.component_spec.name
    params = cj["inputDefinitions"]["parameters"]
    params["display_name"]["defaultValue"] = name
    params["worker_pool_specs"]["defaultValue"] = worker_pool_specs(container, job)
    user_params = spec.get("inputDefinitions", {}).get("parameters", {})
    clash = sorted(set(user_params) & set(params))
    if clash:
        raise ValueError(f"component {name!r} takes inputs {clash}, which the custom job "
                         "launcher takes too")
    params.update(user_params)
    cj["inputDefinitions"]["artifacts"] = spec.get("inputDefinitions", {}).get("artifacts", {})
    cj.setdefault("outputDefinitions", {}).setdefault("artifacts", {}).update(
        spec.get("outputDefinitions", {}).get("artifacts", {}))
    cj["outputDefinitions"].setdefault("parameters", {}).update(
        spec.get("outputDefinitions", {}).get("parameters", {}))
    launcher["root"]["inputDefinitions"] = copy.deepcopy(cj["inputDefinitions"])
    launcher["root"]["outputDefinitions"] = copy.deepcopy(cj["outputDefinitions"])
    (task_key, task), = launcher["root"]["dag"]["tasks"].items()
    (_, user_task), = user["root"]["dag"]["tasks"].items()
    for kind, found in user_task.get("inputs", {}).items():
        task.setdefault("inputs", {}).setdefault(kind, {}).update(found)
    # the outputs of the single task are the outputs of the component
    outputs = launcher["root"].setdefault("dag", {}).setdefault("outputs", {})
    for artifact in spec.get("outputDefinitions", {}).get("artifacts", {}):
        outputs.setdefault("artifacts", {})[artifact] = {"artifactSelectors": [
            {"outputArtifactKey": artifact, "producerSubtask": task_key}]}
    wrapped = components.load_component_from_text(yaml.safe_dump(launcher, sort_keys=True))
    wrapped.component_spec.name = name
    wrapped.description = (f"{name} as a Vertex AI custom job of {job.workers} "
                           f"{job.machine_type} machine(s).\n\n{component.description or ''}")
    return wrapped


def payload_worker_pool_specs(spec: Dict[str, Any], task: str = "train") -> List[Dict]:
    """The ``worker_pool_specs`` the launcher of ``task`` sends, read from a compiled
    pipeline spec (a dict): the default of its ``worker_pool_specs`` input."""
    ref = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    found = spec["components"][ref]["inputDefinitions"]["parameters"]["worker_pool_specs"]
    return json.loads(json.dumps(found["defaultValue"]))
