"""Running a pipeline on this machine with ``kfp.local``, with a summary of every task.

``kfp.local`` (kfp 2.13) runs lightweight Python components with the current interpreter
(``SubprocessRunner(use_venv=False)``) or in their images (``DockerRunner``). It does not run
``dsl.Condition`` / ``ParallelFor``, which is why our gates live inside the components.

The summary records, per task, its status, wall time and every output (artifact URI and
metadata, or parameter value). It is gathered by wrapping kfp.local's task dispatcher, the
one place every task passes through (that wrapping, and every other reach into kfp.local's
private modules, is :mod:`kfp_mlops.pipelines.kfp_local_adapter`). The same wrapper holds
each task's executor output to the rules of the Kubeflow launcher
(:mod:`kfp_mlops.pipelines.launcher_contract`), which kfp.local does not apply: an output
Kubeflow could not record fails the task here too.

Each task process is started by our own version of kfp.local's ``run_local_subprocess``
(:func:`_run_task_process`): in a session and process group of its own, with
``PR_SET_PDEATHSIG`` so it dies with the run (:mod:`kfp_mlops.components._shared.processes`),
and with its streamed log scrubbed of the run's secrets (kfp's executor prints the whole
executor input, every argument included; :mod:`kfp_mlops.components._shared.redact`). A
``SIGINT`` or ``SIGTERM`` ends the running task's group and the run (status
``INTERRUPTED``); no further task starts.

Like Vertex AI Pipelines (whose default failure policy lets the tasks that do not depend on a
failed one run on), a failed task that no other task needs does not stop the run: kfp.local
alone would stop at the first failure, so an alert that could not be delivered would keep
retraining from starting. The run still ends ``FAILURE``.
"""
import collections
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import re
import sys
import time
from typing import Any, Dict, Iterator, List, Optional

logger = logging.getLogger(__name__)

RUNNERS = ("subprocess", "docker")


@dataclasses.dataclass
class TaskRecord:
    name: str
    status: str = "RUNNING"
    seconds: float = 0.0
    outputs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str = ""


@dataclasses.dataclass
class RunSummary:
    pipeline: str
    status: str
    pipeline_root: str
    started: str
    seconds: float
    parameters: Dict[str, Any]
    tasks: List[TaskRecord]
    error: str = ""
    warnings: List[str] = dataclasses.field(default_factory=list)
    interrupted_by: str = ""       # SIGINT or SIGTERM, when status is INTERRUPTED

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def artifacts(self) -> Dict[str, Dict[str, Any]]:
        """``{"task.output": {"uri":..., "metadata":...}}`` for every artifact output."""
        found = {}
        for task in self.tasks:
            for name, value in task.outputs.items():
                if isinstance(value, dict) and "uri" in value:
                    found[f"{task.name}.{name}"] = value
        return found


def _plain(value: Any) -> Any:
    """Metadata as JSON, with the whole numbers that protobuf Structs turn into floats restored."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _describe(value: Any, secrets: List[str] = ()) -> Any:
    """An output as the summary shows it: the run's secrets and URL credentials scrubbed."""
    from kfp import dsl

    from kfp_mlops.components._shared import redact

    if isinstance(value, dsl.Artifact):
        return {"type": type(value).__name__, "uri": redact.text(value.uri, secrets, False),
                "metadata": redact.value(
                    _plain(json.loads(json.dumps(value.metadata, default=str))), secrets,
                    queries=False)}
    if isinstance(value, list) and value and all(isinstance(v, dsl.Artifact) for v in value):
        return [_describe(v, secrets) for v in value]
    return redact.value(value, secrets, queries=False)


class RunInterrupted(BaseException):
    """The run got SIGINT or SIGTERM: the running task is ended and no other starts.

    A BaseException, so that no ``except Exception`` of kfp.local or a component swallows it."""

    def __init__(self, signum: int):
        import signal

        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


#: Task processes running now (each leads its own process group), for the signal handler.
_RUNNING: List[Any] = []
#: The secrets of the run under way, for the streamed task logs (:func:`scrub_log_line`).
_SECRETS: List[str] = []
#: The last lines of the running task's log (scrubbed), for its one-line error
#: (:func:`task_error`); tasks run one at a time.
_TASK_LOG: "collections.deque[str]" = collections.deque(maxlen=400)


def scrub_log_line(line: str) -> str:
    """A line of a task's log as it may be printed: URL credentials and queries, and the
    secrets of the run under way, replaced (the docker runner's stream uses it too)."""
    from kfp_mlops.components._shared import redact

    return redact.text(line, _SECRETS)


def task_log_line(line: str) -> None:
    """Prints a line of the running task's log, scrubbed (:func:`scrub_log_line`), and keeps
    it for the task's one-line error (both runners stream through here)."""
    line = scrub_log_line(line)
    _TASK_LOG.append(line)
    print(line, end="")


# The last line of a Python traceback: ``ValueError: ...``, ``module.SomethingError: ...``.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|"
                             r"Interrupt|Failure|Invalid|Changed)(?::\s.*)?$")


def task_error(lines: List[str]) -> str:
    """A failed task's error in one line, from its log: the last exception line of the last
    traceback (the message the component raised, which names the input), else the log's last
    non-empty line."""
    text = [line.strip() for line in lines if line.strip()]
    for line in reversed(text):
        if _EXCEPTION_LINE.match(line):
            name, _, message = line.partition(":")
            # kfp_mlops.components.ingest.core.IngestError -> IngestError
            return name.rsplit(".", 1)[-1] + (f":{message}" if message else "")
    return f"failed; the last line of its log: {text[-1]}" if text else "failed with no log"


def _run_task_process(full_command: List[str],
                      env_vars: Optional[Dict[str, str]] = None) -> int:
    """kfp.local 2.13's ``subprocess_task_handler.run_local_subprocess`` (run the task, print
    its log line by line, return its exit code), with three changes: the task gets a session
    of its own and dies with this process (:func:`processes.popen_options`), every printed
    line is scrubbed (:func:`scrub_log_line`), and an interruption ends the task's
    whole group (SIGTERM, SIGKILL after a grace) before it propagates.

    The hook sits here, in the parent, rather than at the start of each task: the pdeath
    signal is set between fork and exec, so it covers every task -- ours, a test's, a
    reused component's -- from its first line, and the executor's own log of its input
    (printed before any component code runs) passes through the scrubbing."""
    import subprocess

    from kfp_mlops.components._shared import processes
    from kfp_mlops.pipelines import kfp_local_adapter, warm_tasks

    # --warm-tasks: the executor is forked from the run's warm task server (unchanged when
    # there is none)
    full_command = warm_tasks.through_server(kfp_local_adapter.exec_the_executor(full_command))
    env = {**os.environ, **env_vars} if env_vars else None  # as newer kfp.local does
    with subprocess.Popen(full_command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1, env=env,
                          **processes.popen_options()) as process:
        _RUNNING.append(process)
        try:
            if process.stdout:
                for line in iter(process.stdout.readline, ""):
                    task_log_line(line)
                print("\n")
            return process.wait()
        except BaseException:
            processes.end_group(process)
            raise
        finally:
            _RUNNING.remove(process)


@contextlib.contextmanager
def _signals_end_the_run() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`RunInterrupted` in the run (main thread only; a run in
    another thread keeps the process's handlers). A second signal while the first is being
    handled kills the running task groups at once."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: List[int] = []

    def handler(signum, frame):
        if got:
            from kfp_mlops.components._shared import processes
            for process in list(_RUNNING):
                processes._signal_group(process.pid, signal.SIGKILL)
            return
        got.append(signum)
        logger.error("%s: ending the running task and the run", signal.Signals(signum).name)
        raise RunInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _parameter_types(component_spec) -> Dict[str, str]:
    """The component's declared parameter outputs, ``{name: "STRING" | "NUMBER_INTEGER" ...}``."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    names = pipeline_spec_pb2.ParameterType.ParameterTypeEnum
    return {name: names.Name(spec.parameter_type)
            for name, spec in component_spec.output_definitions.parameters.items()}


def _leaves(pipeline) -> set:
    """Component names (``comp-alert``) of the root DAG's tasks that no other task needs and
    no pipeline output comes from: the tasks whose failure need not stop the others."""
    spec = getattr(pipeline, "pipeline_spec", None)
    if spec is None:
        return set()
    dag = spec.root.dag
    if dag.outputs.parameters or dag.outputs.artifacts:
        return set()
    needed = {up for task in dag.tasks.values() for up in task.dependent_tasks}
    names = [task.component_ref.name for name, task in dag.tasks.items() if name not in needed]
    # A component used by two tasks is a leaf only if every task using it is one.
    used = [task.component_ref.name for task in dag.tasks.values()]
    return {n for n in names if used.count(n) == names.count(n)}


@contextlib.contextmanager
def _recording(records: List[TaskRecord], secrets: List[str] = (),
               leaves: set = frozenset()) -> Iterator[None]:
    """Sees every task kfp.local runs (:func:`kfp_local_adapter.every_task`) so each task's
    status, time and outputs are kept, and each successful task's executor output is held to
    the Kubeflow launcher's rules (:mod:`kfp_mlops.pipelines.launcher_contract`): a violation
    fails the task, as it would fail on Kubeflow. Task processes are started by
    :func:`_run_task_process`; a failed task among ``leaves`` lets the run go on (fail-slow).

    Raises:
        kfp_local_adapter.KfpLocalChanged: this kfp.local is not the one the adapter knows.
    """
    from kfp_mlops.pipelines import kfp_local_adapter, launcher_contract

    def handle(task: kfp_local_adapter.TaskCall):
        name = task.component_name
        record = TaskRecord(name=name.replace("comp-", "", 1))
        records.append(record)
        started = time.monotonic()
        _TASK_LOG.clear()

        def violations():
            return launcher_contract.check_file(record.name, task.executor_output_path(),
                                                _parameter_types(task.component_spec))

        try:
            try:
                outputs, succeeded = task.run()
            except Exception:
                # kfp.local itself cannot read some of what the launcher refuses (a NaN in
                # metadata fails its MessageToDict): name the violation, not its symptom.
                found = violations()
                if not found:
                    raise
                outputs, succeeded = {}, True
            else:
                found = violations() if succeeded else []
        except RunInterrupted as e:
            record.status = "INTERRUPTED"
            record.error = str(e)
            raise
        except BaseException:
            record.status = "FAILURE"
            raise
        finally:
            record.seconds = round(time.monotonic() - started, 2)
        record.outputs = {k: _describe(v, secrets) for k, v in (outputs or {}).items()}
        if found:
            record.error = launcher_contract.describe(found)
            logger.error("Task %s: %s", record.name, record.error)
            if task.raise_on_error:
                record.status = "FAILURE"
                raise RuntimeError(f"Task {record.name}: {record.error}")
            outputs, succeeded = {}, False
        elif not succeeded:
            record.error = task_error(list(_TASK_LOG))
        record.status = "SUCCESS" if succeeded else "FAILURE"
        if not succeeded and name in leaves:
            # No task needs this one's outputs: the others run on (Vertex AI's default
            # failure policy, PIPELINE_FAILURE_POLICY_FAIL_SLOW); the run ends FAILURE.
            logger.error("Task %s failed; the tasks that do not need it run on, and the run "
                         "will end FAILURE", record.name)
            return {}, True
        return outputs, succeeded

    kept_secrets = list(_SECRETS)
    with kfp_local_adapter.every_task(handle), \
            kfp_local_adapter.task_processes(_run_task_process):
        _SECRETS[:] = sorted(set(kept_secrets) | set(secrets), key=len, reverse=True)
        try:
            yield
        finally:
            _SECRETS[:] = kept_secrets


#: What the component bodies import, by module, with the ``runtime`` extra that brings it
#: (setup.py ``extras_require["runtime"]``): a task run by the subprocess runner imports
#: them in this Python environment.
RUNTIME_MODULES = ("tensorflow", "tensorflow_data_validation", "pandas", "pyarrow", "sklearn",
                   "fsspec", "jinja2", "matplotlib", "tenacity", "mlflow")


def missing_runtime() -> List[str]:
    """The :data:`RUNTIME_MODULES` this Python environment cannot import (found without
    importing them: ``importlib.util.find_spec``)."""
    import importlib.util

    missing = []
    for module in RUNTIME_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def check_runtime(runner: str) -> None:
    """Refuses, before any task starts, a subprocess run in a Python environment without the
    ``runtime`` extra: every task would fail inside with an ImportError.

    Raises:
        ValueError: naming the missing modules and how to install them.
    """
    if runner != "subprocess":
        return
    missing = missing_runtime()
    if missing:
        raise ValueError(
            f"--runner subprocess runs every task in this Python environment ({sys.executable}"
            f"), which cannot import {', '.join(missing)}: install the runtime extra with "
            "pip install 'kfp-mlops[runtime]' (from a clone: pip install '.[runtime]', or "
            "pip install -r requirements.lock), or run the tasks in their images with "
            "--runner docker")


def make_runner(runner: str):
    from kfp import local

    if runner == "subprocess":
        return local.SubprocessRunner(use_venv=False)
    if runner == "docker":
        return local.DockerRunner()
    raise ValueError(f"unknown runner {runner!r}; runners are {', '.join(RUNNERS)}")


def run(pipeline_name: str, parameters: Dict[str, Any], output_dir: str,
        runner: str = "subprocess", warm: bool = False) -> RunSummary:
    """Runs a catalogue pipeline with kfp.local; never raises for a failed task.

    Args:
        pipeline_name: A name from ``kfp_mlops.pipelines.catalog``.
        parameters: Pipeline arguments, already of the pipeline's types.
        output_dir: kfp.local's pipeline root: every task's outputs land below it.
        runner: ``subprocess`` (this interpreter) or ``docker`` (the component images).
        warm: With the subprocess runner, fork every task from one server process that
            imported the tasks' libraries once (:mod:`kfp_mlops.pipelines.warm_tasks`).

    Raises:
        preflight.PreflightError: a parameter is invalid whatever the data (checked before
            any task starts or any output folder is made; every problem is listed).
    """
    from kfp_mlops.pipelines import catalog, preflight

    parameters = with_local_tracking(pipeline_name, parameters, output_dir)
    preflight.check(pipeline_name, parameters)
    return run_pipeline(catalog.get(pipeline_name), parameters, output_dir, runner,
                        name=pipeline_name, warm=warm)


#: The file, in a local run's output folder, of the runs' embedded MLflow store.
TRACKING_DB = "mlflow.db"


def with_local_tracking(pipeline_name: str, parameters: Dict[str, Any],
                        output_dir: str) -> Dict[str, Any]:
    """``parameters`` with ``tracking_uri`` set to the output folder's embedded MLflow
    store, ``sqlite:///<output_dir>/mlflow.db``, when the pipeline takes one and none was
    given: every local run is recorded, and ``kfp-mlops runs --output-dir`` finds them.

    A monitoring pipeline that retrains locally passes the same store to the training run
    it starts (in ``training_parameters``, unless they name one), so the retrained model's
    run is listed beside the others of the folder."""
    names = pipeline_parameters(pipeline_name)
    uri = f"sqlite:///{os.path.join(os.path.abspath(output_dir), TRACKING_DB)}"
    found = dict(parameters)
    if "tracking_uri" in names and not found.get("tracking_uri"):
        found["tracking_uri"] = uri
    if "training_parameters" in names and found.get(
            "retrain_target", names.get("retrain_target", {}).get("default", "local")) == "local":
        training = dict(found.get("training_parameters") or {})
        if not training.get("tracking_uri"):
            found["training_parameters"] = {**training, "tracking_uri": uri}
    return found


def run_pipeline(pipeline, parameters: Dict[str, Any], output_dir: str,
                 runner: str = "subprocess", name: str = "", warm: bool = False) -> RunSummary:
    """:func:`run` for any ``@dsl.pipeline`` (``name``: how the summary calls it)."""
    if warm and runner != "subprocess":
        raise ValueError(f"warm tasks are forked from a process of this Python environment; "
                         f"they need --runner subprocess, not {runner!r}")
    import warnings

    from kfp import local

    pipeline_name = name or pipeline.name
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    local.init(runner=make_runner(runner), pipeline_root=output_dir, raise_on_error=False)
    from kfp_mlops.components._shared import redact
    from kfp_mlops.pipelines import kfp_local_adapter

    records: List[TaskRecord] = []
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.monotonic()
    error = ""
    interrupted = ""
    secrets = run_secrets(parameters)
    shown_parameters = redact.value(redact.parameters(parameters), secrets)
    with _signals_end_the_run(), _recording(records, secrets, _leaves(pipeline)), \
            warnings.catch_warnings(), contextlib.ExitStack() as session:
        # kfp.local warns that our images are not plain Python images; they are.
        warnings.filterwarnings("ignore", message=".*custom or non-Python base image.*")
        try:
            if runner == "docker":  # the engine's API, path mounts, outputs uid 1000 can write
                from kfp_mlops.pipelines import docker_runner
                parameters = session.enter_context(
                    docker_runner.docker_session(parameters, output_dir))
            if warm:
                from kfp_mlops.pipelines import warm_tasks
                session.enter_context(warm_tasks.server())
            pipeline(**parameters)
        except kfp_local_adapter.KfpLocalChanged:
            raise  # every run would be wrong: stop, loudly, rather than report a failed run
        except RunInterrupted as e:
            import signal
            interrupted = signal.Signals(e.signum).name
            error = f"{e}; the running task was ended and no other started"
            logger.error("Pipeline %s %s", pipeline_name, error)
        except Exception as e:  # kfp.local raises for set-up errors, not task failures
            error = redact.text(f"{type(e).__name__}: {e}", secrets)
            logger.error("Pipeline %s could not run: %s", pipeline_name, error)
    failed = error or any(r.status != "SUCCESS" for r in records)
    if not error:
        error = "; ".join(r.error for r in records if r.error)
    return RunSummary(
        pipeline=pipeline_name,
        status="INTERRUPTED" if interrupted else "FAILURE" if failed else "SUCCESS",
        pipeline_root=output_dir,
        started=started.isoformat(timespec="seconds"),
        seconds=round(time.monotonic() - clock, 2),
        parameters=shown_parameters,
        tasks=records,
        error=error,
        warnings=_warnings(records),
        interrupted_by=interrupted,
    )


def run_secrets(parameters: Dict[str, Any]) -> List[str]:
    """What no record of a run with these parameters may show: the secret parts of every URL
    among them, and of the URL in every environment variable a ``*_env`` parameter names
    (``webhook_url_env``)."""
    from kfp_mlops.components._shared import redact

    found = list(redact.url_secrets(parameters))
    for name, value in parameters.items():
        if name.endswith("_env") and isinstance(value, str) and value:
            found.extend(redact.url_secrets(os.environ.get(value, "")))
    return sorted(set(found), key=len, reverse=True)


def _warnings(records: List[TaskRecord]) -> List[str]:
    """What went wrong without failing a task: a delivery that did not arrive."""
    found = []
    for task in records:
        for name, value in task.outputs.items():
            meta = value.get("metadata", {}) if isinstance(value, dict) else {}
            if meta.get("delivered") is False:
                failed = ", ".join(meta.get("failed_channels") or []) or "a channel"
                found.append(f"{task.name}: delivery failed ({failed}): "
                             + "; ".join(meta.get("delivery_errors") or [meta.get("reason", "")]))
    return found


# Metadata keys worth a line in the printed summary, by artifact.
_KEY_METADATA = ("splits", "num_rows", "content_hash", "passed", "reasons", "blessed",
                 "pushed", "version", "registry", "model_uri", "drift_detected", "task",
                 "schema_features", "started", "new_version", "dashboard_uri", "delivered",
                 "published_to", "degraded")


def format_summary(summary: RunSummary) -> str:
    """A human-readable account: each task's status and time, where outputs landed, metrics,
    then the decisions in words, and last what failed (each failed task's one-line error)."""
    lines = [f"Pipeline {summary.pipeline}: {summary.status} in {summary.seconds:.1f} s",
             f"Outputs under {summary.pipeline_root}"]
    lines.extend(f"Warning: {warning}" for warning in summary.warnings)
    for task in summary.tasks:
        lines.append(f"  {task.name:<12} {task.status:<8} {task.seconds:7.1f} s")
        if task.error:
            lines.append(f"      error: {task.error}")
        for name, value in task.outputs.items():
            if isinstance(value, dict) and "uri" in value:
                lines.append(f"      {name} ({value['type']}): {value['uri']}")
                meta = value.get("metadata") or {}
                if value["type"] in ("Metrics", "ClassificationMetrics"):
                    for key, metric in sorted(meta.items()):
                        if isinstance(metric, (int, float)) and not isinstance(metric, bool):
                            lines.append(f"          {key} = {metric:.6g}")
                for key in _KEY_METADATA:
                    if key in meta and meta[key] not in ("", None, []):
                        lines.append(f"          {key}: {_short(meta[key])}")
            else:
                lines.append(f"      {name} = {_short(value)}")
    lines.extend(_decisions(summary))
    lines.extend(_failures(summary))
    return "\n".join(lines)


def _failures(summary: RunSummary) -> List[str]:
    """The run's last lines: ``Error: ingest: IngestError: label_column 'tips' not found in
    ...`` for every failed task, or the error that kept the run from starting."""
    failed = [f"Error: {task.name}: {task.error}" for task in summary.tasks
              if task.error and task.status != "SUCCESS"]
    if failed:
        return failed
    return [f"Error: {summary.error}"] if summary.error else []


_DECISION_KEYS = ("passed", "blessed", "pushed", "champion", "drift_detected", "delivered",
                  "started")


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


def _verdict(task: str, meta: Dict[str, Any]) -> str:
    """One decision in words: ``alert: drift_detected=yes, delivered=no (no webhook_url or
    pubsub_topic: findings are only logged)``, ``retrain: started=no (no drift detected:
    nothing to retrain)``, ``push: pushed=yes, champion=yes (version 2 of penguins in ...)``.
    Each line says what happened and, where the component recorded it, why."""
    found = [k for k in _DECISION_KEYS if isinstance(meta.get(k), bool)]
    flags = {k: meta[k] for k in found}
    performance = meta.get("check") == "performance"
    if performance and "drift_detected" in flags:
        # a performance report's drift_detected means the model degraded: say so
        flags = {("degraded" if k == "drift_detected" else k): v for k, v in flags.items()}
    why = ""
    if "delivered" in flags and "notified" in meta:
        # alert: "delivered" is vacuously true when nothing was sent; say what happened.
        flags["delivered"] = bool(meta["notified"]) and meta["delivered"]
        if meta["notified"] and not meta["delivered"]:
            why = "delivery failed: " + "; ".join(meta.get("delivery_errors") or []) \
                if meta.get("delivery_errors") else "delivery failed"
        else:
            why = str(meta.get("reason") or "")
    elif "started" in flags:
        # retrain: why it did (not) start, and how the run it started ended
        flags = {"started": meta["started"]}
        why = str(meta.get("reason") or "")
        if meta["started"]:
            how = [f"{meta.get('target', '')} run {meta.get('run_name') or '?'}".strip(),
                   str(meta.get("status") or "")]
            if isinstance(meta.get("pushed"), bool):
                how.append(f"new model pushed={_yes(meta['pushed'])}"
                           + (f" as version {meta['new_version']}"
                              if meta.get("new_version") not in (None, "") else ""))
            if meta.get("error"):
                how.append(f"error: {meta['error']}")
            if meta.get("dashboard_uri"):
                how.append(meta["dashboard_uri"])
            why = "; ".join(p for p in [why, ", ".join(p for p in how if p)] if p)
    elif meta.get("pushed") and meta.get("version") not in (None, ""):
        why = f"version {meta['version']} of {meta.get('model_name', 'the model')} in " \
              f"{meta.get('registry', '?')}"
        if meta.get("aliases"):
            why += f", aliases {', '.join(meta['aliases'])}"
        if meta.get("already_registered"):
            why += "; the same model was already registered, so no new version"
    elif "degraded" in flags and not flags["degraded"] and not meta.get("reasons"):
        why = (f"every metric within its limit of version {meta.get('model_version', '?')}'s "
               "registered evaluation")
    elif "drift_detected" in flags and not flags["drift_detected"] \
            and not meta.get("reasons"):
        why = "no feature over its skew or drift threshold"
    verdict = ", ".join(f"{k}={_yes(v)}" for k, v in flags.items())
    return f"  {task}: {verdict}" + (f" ({why})" if why else "")


def _decisions(summary: RunSummary) -> List[str]:
    """The gates' decisions with their reasons: what a person wants to read last."""
    lines: List[str] = []
    shown: List[str] = []
    kept_shown: set = set()
    for task in summary.tasks:
        for value in task.outputs.values():
            meta = value.get("metadata", {}) if isinstance(value, dict) else {}
            if not any(isinstance(meta.get(k), bool) for k in _DECISION_KEYS):
                continue
            lines.append(_verdict(task.name, meta))
            reasons = list(meta.get("reasons") or [])
            # push repeats the blessing's reasons after its own: say those once
            repeated = bool(shown) and reasons[len(reasons) - len(shown):] == shown
            own = reasons[:len(reasons) - len(shown)] if repeated else reasons
            lines.extend(f"      - {reason}" for reason in own)
            if repeated:
                lines.append(f"      - {'and ' if own else ''}for the reasons above")
            shown = reasons
            break
        lines.extend(_kept_out_lines(task, kept_shown))
    return ["Decisions:", *lines] if lines else []


def _kept_out_lines(task: TaskRecord, shown: set) -> List[str]:
    """``validate: kept out of the model: 'name'`` and each column's reason, from the first
    output of ``task`` whose metadata has ``kept_out_features``; columns an earlier task
    already named are not repeated."""
    for value in task.outputs.values():
        meta = value.get("metadata", {}) if isinstance(value, dict) else {}
        kept = meta.get("kept_out_features")
        if not isinstance(kept, dict) or not kept:
            continue
        new = {k: v for k, v in kept.items() if k not in shown}
        shown.update(kept)
        if not new:
            return []
        return [f"  {task.name}: kept out of the model: {', '.join(repr(k) for k in new)}",
                *(f"      - {name}: {reason}" for name, reason in new.items())]
    return []


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + " ..."


def write_summary(summary: RunSummary, path: str) -> None:
    from kfp_mlops.components._shared import io

    io.write_json(path, summary.to_dict())


def pipeline_parameters(pipeline_name: str) -> Dict[str, Dict[str, Any]]:
    """``{name: {"type": KFP type, "default": value, "required": bool, "description": str}}``."""
    from kfp_mlops.pipelines import catalog

    spec = catalog.get(pipeline_name).component_spec
    params = {}
    for name, input_spec in (spec.inputs or {}).items():
        params[name] = {
            "type": _type_name(input_spec.type),
            "default": input_spec.default,
            "required": not input_spec.optional,
            "description": input_spec.description or "",
        }
    return params


def _type_name(kfp_type: str) -> str:
    """``typing.List[float]`` -> ``List``: the family a parameter's value must belong to."""
    for family in ("List", "Dict"):
        if kfp_type.lower() == family.lower() or kfp_type.startswith(f"typing.{family}"):
            return family
    return kfp_type


def parse_parameters(pipeline_name: str, pairs: Optional[List[str]]) -> Dict[str, Any]:
    """Turns ``NAME=VALUE`` strings into typed pipeline arguments.

    Raises:
        ValueError: an unknown name, a value not of the parameter's type, or a required
            parameter left out; the message lists the pipeline's parameters.
    """
    known = pipeline_parameters(pipeline_name)

    def listing() -> str:
        return "; ".join(f"{n} ({p['type']}{', required' if p['required'] else ''})"
                         for n, p in sorted(known.items()))

    values: Dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE")
        name, raw = pair.split("=", 1)
        name = name.strip()
        if name not in known:
            from kfp_mlops.pipelines.suggest import did_you_mean

            raise ValueError(f"pipeline {pipeline_name!r} has no parameter {name!r}"
                             f"{did_you_mean(name, known)}; its parameters are: {listing()}")
        values[name] = _convert(name, raw, known[name]["type"])
    missing = [n for n, p in known.items() if p["required"] and n not in values]
    if missing:
        raise ValueError(f"pipeline {pipeline_name!r} needs --param for {', '.join(missing)}; "
                         f"its parameters are: {listing()}")
    return values


def _convert(name: str, raw: str, kfp_type: str) -> Any:
    try:
        if kfp_type == "String":
            return raw
        if kfp_type == "Integer":
            return int(raw)
        if kfp_type == "Float":
            return float(raw)
        if kfp_type == "Boolean":
            lowered = raw.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        if kfp_type in ("List", "Dict"):
            value = json.loads(raw)
            expected = list if kfp_type == "List" else dict
            if not isinstance(value, expected):
                raise ValueError(raw)
            return value
    except ValueError:
        example = {"Integer": "10", "Float": "0.5", "Boolean": "true", "List": '["a", "b"]',
                   "Dict": '{"auc": 0.8}'}.get(kfp_type, "text")
        raise ValueError(f"--param {name}={raw!r}: expected a {kfp_type} value, "
                         f"for example {name}={example}") from None
    return raw
