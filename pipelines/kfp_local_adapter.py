"""Every place kfp-mlops reaches into kfp.local's private modules, in one module.

``kfp.local`` offers no hooks: no callback per task, no way to choose how a task process or
a container is started. What a local run of ours needs beyond it is added here by replacing
module attributes of ``kfp.local`` for the length of one run (each context manager below
restores them on exit), and nowhere else:

1. ``task_dispatcher.run_single_task_implementation`` is wrapped (:func:`every_task`): it is
   the one function every task of a pipeline passes through (kfp 2.13
   ``kfp/local/dag_orchestrator.py`` and kfp 2.17 ``kfp/local/orchestrator/task_executor.py``
   both call it as ``task_dispatcher.run_single_task_implementation(...)``, so a replaced
   module attribute is what they call). Needed for the run summary (each task's status, time
   and outputs), for holding each executor output to the Kubeflow launcher's rules, and for
   the fail-slow policy; kfp.local has none of these.
2. ``subprocess_task_handler.run_local_subprocess`` is replaced (:func:`task_processes`):
   ``SubprocessTaskHandler.run`` starts every task process with it. Needed so a task runs in
   a session of its own that dies with the run, its log is scrubbed of the run's secrets,
   and an interruption ends its whole process group.
3. ``docker_task_handler.DockerTaskHandler.get_volumes_to_mount`` and
   ``docker_task_handler.run_docker_container`` are replaced (:func:`docker_tasks`): kfp.local
   mounts only the pipeline root, pulls any image it does not find, and leaves the container
   on the bridge network. Needed so every local path a parameter names is mounted, a missing
   ``localhost/`` image is an error naming how to build it, and containers use the host
   network and are removed.

:func:`exec_the_executor` also relies on the shape of the command kfp builds for a
lightweight component (``kfp/dsl/component_factory.py``), and :class:`TaskCall` on
``kfp.local.executor_input_utils`` to find a task's ``executor_output.json``.

Written against kfp 2.13.0 (the runtime lock) and checked on kfp 2.17.3 (``.ci/newer_kfp.sh``
runs a pipeline there). Every entry point checks first that the internals it replaces still
have the shape it expects, and raises :class:`KfpLocalChanged`, naming the kfp version, when
they do not: a run then stops before any task starts instead of running unchecked.
"""
import contextlib
import dataclasses
import inspect
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

#: The kfp releases this module was written against and checked on.
WRITTEN_AGAINST = ("2.13.0", "2.17.3")


class KfpLocalChanged(RuntimeError):
    """kfp.local no longer has the shape this module patches; the message says what changed."""


def _changed(problem: str) -> KfpLocalChanged:
    import kfp

    return KfpLocalChanged(
        f"kfp {kfp.__version__}: {problem}; kfp_mlops.pipelines.kfp_local_adapter is written "
        f"against kfp.local {' and '.join(WRITTEN_AGAINST)} and needs updating for this kfp")


def _parameters(function) -> List[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def _require(problem: str) -> None:
    if problem:
        raise _changed(problem)


@contextlib.contextmanager
def _patched(*replacements: Tuple[Any, str, Any]) -> Iterator[None]:
    """Sets each ``(owner, attribute, value)`` for the length of the context."""
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in replacements]
    for owner, name, value in replacements:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)


def _source_calls(function, call: str) -> bool:
    try:
        return call in inspect.getsource(function)
    except (OSError, TypeError):
        return False


# ---------------------------------------------------------------- 1. the task dispatcher

# kfp 2.13 and 2.17 ``run_single_task_implementation(pipeline_resource_name, component_name,
# component_spec, executor_spec, arguments, pipeline_root, runner, raise_on_error,
# block_input_artifact, unique_pipeline_id)``: the arguments read here.
_DISPATCH_ARGUMENTS = ("pipeline_resource_name", "component_name", "component_spec",
                       "arguments", "pipeline_root", "raise_on_error", "block_input_artifact")
_EXECUTOR_INPUT_HELPERS = ("get_local_task_resource_name", "construct_local_task_root",
                           "construct_executor_input")


def dispatcher_problem() -> str:
    """What is missing from the dispatcher :func:`every_task` wraps; empty when nothing."""
    from kfp.local import executor_input_utils, task_dispatcher

    original = getattr(task_dispatcher, "run_single_task_implementation", None)
    if original is None:
        return "kfp.local.task_dispatcher has no run_single_task_implementation"
    names = set(_parameters(original))
    missing = [n for n in _DISPATCH_ARGUMENTS if n not in names]
    if missing:
        return (f"kfp.local.task_dispatcher.run_single_task_implementation takes no "
                f"{', '.join(missing)} (it takes {', '.join(sorted(names))})")
    absent = [n for n in _EXECUTOR_INPUT_HELPERS if not hasattr(executor_input_utils, n)]
    if absent:
        return f"kfp.local.executor_input_utils has no {', '.join(absent)}"
    return ""


@dataclasses.dataclass
class TaskCall:
    """One task as kfp.local's dispatcher was asked to run it."""

    component_name: str            # comp-<name>, the key of its ComponentSpec
    component_spec: Any            # pipeline_spec_pb2.ComponentSpec
    arguments: Dict[str, Any]
    pipeline_root: str
    pipeline_resource_name: str
    raise_on_error: bool
    _run: Callable[[], Tuple[Dict[str, Any], Any]] = dataclasses.field(repr=False)

    def run(self) -> Tuple[Dict[str, Any], bool]:
        """Runs the task with kfp.local: ``(outputs, succeeded)``."""
        from kfp.local import status

        outputs, task_status = self._run()
        return outputs, task_status == status.Status.SUCCESS

    def executor_output_path(self) -> str:
        """Where the task wrote ``executor_output.json``: its executor input's
        ``outputs.outputFile``, rebuilt with kfp.local's own helpers from the call."""
        from kfp.local import executor_input_utils

        task_root = executor_input_utils.construct_local_task_root(
            pipeline_root=self.pipeline_root,
            pipeline_resource_name=self.pipeline_resource_name,
            task_resource_name=executor_input_utils.get_local_task_resource_name(
                self.component_name))
        executor_input = executor_input_utils.construct_executor_input(
            component_spec=self.component_spec, arguments=self.arguments,
            task_root=task_root, block_input_artifact=False)
        path = executor_input.outputs.output_file
        if not path:
            raise _changed("kfp.local's executor input names no outputs.outputFile, so the "
                           "launcher contract cannot be checked")
        return path


@contextlib.contextmanager
def every_task(handle: Callable[[TaskCall], Tuple[Dict[str, Any], bool]]) -> Iterator[None]:
    """Sends every task kfp.local runs through ``handle``, which calls ``task.run()`` (or not)
    and returns ``(outputs, succeeded)`` as kfp.local should see them.

    Raises:
        KfpLocalChanged: the dispatcher is not the one this was written against.
    """
    _require(dispatcher_problem())
    from kfp.local import status, task_dispatcher

    original = task_dispatcher.run_single_task_implementation
    signature = inspect.signature(original)

    def wrapped(*args, **kwargs):
        call = signature.bind(*args, **kwargs).arguments
        task = TaskCall(component_name=call["component_name"],
                        component_spec=call["component_spec"], arguments=call["arguments"],
                        pipeline_root=call["pipeline_root"],
                        pipeline_resource_name=call["pipeline_resource_name"],
                        raise_on_error=call["raise_on_error"],
                        _run=lambda: original(*args, **kwargs))
        outputs, succeeded = handle(task)
        return outputs, status.Status.SUCCESS if succeeded else status.Status.FAILURE

    with _patched((task_dispatcher, "run_single_task_implementation", wrapped)):
        yield


# ---------------------------------------------------------------- 2. task processes

# kfp 2.13: run_local_subprocess(full_command); 2.17 adds env_vars (extra variables for the
# task, merged over os.environ), which a ``start`` given to task_processes must apply.
_STARTER_ARGUMENTS = ["full_command", "env_vars"]


def subprocess_problem() -> str:
    """What is missing from the process starter :func:`task_processes` replaces."""
    from kfp.local import subprocess_task_handler as handler

    starter = getattr(handler, "run_local_subprocess", None)
    params = _parameters(starter) if starter is not None else []
    if not params or params[0] != "full_command" or any(
            p not in _STARTER_ARGUMENTS for p in params):
        return ("kfp.local.subprocess_task_handler has no run_local_subprocess(full_command"
                "[, env_vars]) (the place every task process is started); it takes "
                f"({', '.join(params)})")
    if not _source_calls(getattr(handler.SubprocessTaskHandler, "run", None),
                         "run_local_subprocess("):
        return ("kfp.local's SubprocessTaskHandler.run no longer starts its task with "
                "run_local_subprocess")
    return ""


@contextlib.contextmanager
def task_processes(start: Callable[[List[str], Optional[Dict[str, str]]], int]
                   ) -> Iterator[None]:
    """Every task process of the subprocess runner is started by ``start(full_command,
    env_vars)``, which returns its exit code.

    Raises:
        KfpLocalChanged: the starter is not the one this was written against.
    """
    _require(subprocess_problem())
    from kfp.local import subprocess_task_handler

    def replaced(full_command, env_vars=None):
        return start(full_command, env_vars)

    with _patched((subprocess_task_handler, "run_local_subprocess", replaced)):
        yield


# kfp 2.13's lightweight component command (``kfp/dsl/component_factory.py``, unchanged in
# 2.17): ``sh -ec`` writes the function's source to a file and runs the executor as its
# child; with a kfp install step, an outer ``sh -c`` runs ``pip install ... && "$0" "$@"``.
_EXECUTOR_LINE = re.compile(r"(_KFP_RUNTIME=true )(\S+ -m kfp\.dsl\.executor_main\b)")
_PIP_THEN = '&& "$0" "$@"'


def exec_the_executor(full_command: List[str]) -> List[str]:
    """The task's command with ``exec`` before the executor (and the inner shell), so the
    Python process running the component *is* the process started: it keeps a pdeath signal
    (which survives exec but not fork) and leads the process group.

    Raises:
        KfpLocalChanged: the command is not the one kfp builds; without the change the
            executor would be a shell's child and outlive a killed run.
    """
    changed = []
    found = False
    for part in full_command:
        if _EXECUTOR_LINE.search(part):
            found = True
            part = _EXECUTOR_LINE.sub(r"\1exec \2", part, count=1)
        if part.rstrip().endswith(_PIP_THEN):
            part = part.rstrip()[:-len(_PIP_THEN)] + '&& exec "$0" "$@"\n'
        changed.append(part)
    if not found:
        raise _changed("the task command has no '_KFP_RUNTIME=true <python> -m "
                       "kfp.dsl.executor_main' line, so its tasks could not be made to die "
                       "with the run")
    return changed


# ---------------------------------------------------------------- 3. docker tasks

# kfp 2.13: get_volumes_to_mount(self) and run_docker_container(client, image, command,
# volumes); 2.17 adds get_volumes_to_mount(self, client=None) (SELinux relabelling, the
# workspace mount) and run_docker_container(..., **container_run_args).
_VOLUMES_ARGUMENTS = ["self", "client"]
_RUN_ARGUMENTS = ["client", "image", "command", "volumes"]


def docker_problem() -> str:
    """What is missing from the Docker task handler :func:`docker_tasks` patches."""
    from kfp.local import docker_task_handler as module

    handler = getattr(module, "DockerTaskHandler", None)
    if handler is None or not hasattr(handler, "get_volumes_to_mount"):
        return "kfp.local.docker_task_handler has no DockerTaskHandler.get_volumes_to_mount"
    params = _parameters(handler.get_volumes_to_mount)
    if params[:1] != ["self"] or any(p not in _VOLUMES_ARGUMENTS for p in params):
        return (f"DockerTaskHandler.get_volumes_to_mount takes ({', '.join(params)}); "
                "expected (self[, client])")
    if "pipeline_root" not in _parameters(handler.__init__):
        return "DockerTaskHandler no longer takes a pipeline_root"
    runner = getattr(module, "run_docker_container", None)
    params = _parameters(runner) if runner is not None else []
    if params[:4] != _RUN_ARGUMENTS:
        return ("kfp.local.docker_task_handler has no run_docker_container(client, image, "
                f"command, volumes, ...); it takes ({', '.join(params)})")
    run = getattr(handler, "run", None)
    if not (_source_calls(run, "run_docker_container(")
            and _source_calls(run, "self.get_volumes_to_mount(")):
        return ("DockerTaskHandler.run no longer mounts get_volumes_to_mount() and starts "
                "its container with run_docker_container")
    return ""


@contextlib.contextmanager
def docker_tasks(extra_volumes: Callable[[str], Dict[str, Dict[str, str]]],
                 run_container: Callable[..., int]) -> Iterator[None]:
    """Each container of the Docker runner mounts ``extra_volumes(pipeline_root)`` beside
    what kfp.local mounts itself, and is run by ``run_container(client, image, command,
    volumes, **container_run_args)``, which returns its exit code.

    Raises:
        KfpLocalChanged: the Docker task handler is not the one this was written against.
    """
    _require(docker_problem())
    from kfp.local import docker_task_handler

    handler = docker_task_handler.DockerTaskHandler
    original_volumes = handler.get_volumes_to_mount

    def get_volumes_to_mount(self, *args, **kwargs):
        # kfp's own mounts (the pipeline root, a workspace) win over ours for the same folder
        return {**extra_volumes(self.pipeline_root),
                **original_volumes(self, *args, **kwargs)}

    with _patched((handler, "get_volumes_to_mount", get_volumes_to_mount),
                  (docker_task_handler, "run_docker_container", run_container)):
        yield
