"""Retrain on drift: start the training pipeline when monitoring detected drift.

Plain Python, no kfp. The gate is here, not in ``dsl.If`` (kfp.local does not run
conditions): with ``retrain_on_drift`` and a report whose ``drift_detected`` is true, the
``training`` pipeline is started on ``retrain_data_uri``

* **locally** (``target="local"``) by the command ``kfp-mlops run training`` in a
  child process (``python -m kfp_mlops.pipelines.cli``, whose tasks are subprocesses, so
  this works from inside a component); it waits for the run and records its summary and the
  version push registered (if the new model was blessed);
* **on Vertex AI** (``target="vertex"``) by submitting the compiled training template
  (a path, ``gs://`` URI or Artifact Registry ``https://`` URL) as an
  ``aiplatform.PipelineJob``; it records the job's resource name and dashboard URL and
  does not wait.

Otherwise it records why it did nothing. Every outcome is written to ``retrain.json``.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import re
from typing import Any, Dict, Mapping, Optional

from kfp_mlops.components._shared import gcp, vertex_pipelines

logger = logging.getLogger(__name__)

RETRAIN_FILE = "retrain.json"
SUMMARY_FILE = "summary.json"
RUN_DIR = "run"
TRAINING = "training"
TARGETS = ("local", "vertex")
#: Training parameters this component sets itself.
_OWN = ("data_uri", "label_column", "model_name", "registry_uri")


class RetrainError(ValueError):
    """The retraining settings cannot start a training run."""


@dataclasses.dataclass
class RetrainResult:
    started: bool
    reason: str
    target: str = ""
    status: str = ""                 # local: SUCCESS/FAILURE; vertex: SUBMITTED
    parameters: Dict[str, Any] = dataclasses.field(default_factory=dict)
    run_name: str = ""
    resource_name: str = ""          # vertex
    dashboard_uri: str = ""          # vertex
    summary_path: str = ""           # local: the run summary (JSON)
    output_dir: str = ""             # local: the run's pipeline root
    pushed: Optional[bool] = None    # local: whether the new model was registered
    new_version: str = ""            # local: the version push registered
    push_reasons: list = dataclasses.field(default_factory=list)
    error: str = ""

    def metadata(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["parameters"] = {k: v for k, v in self.parameters.items()}
        return {k: v for k, v in out.items() if v not in (None,)}


def training_parameters(retrain_data_uri: str, label_column: str, model_name: str,
                        registry_uri: str, extra: Optional[Mapping[str, Any]] = None
                        ) -> Dict[str, Any]:
    """The training pipeline's arguments: the four this component owns plus ``extra``."""
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(_OWN))
    if clash:
        raise RetrainError(f"training_parameters must not set {clash}: they are this "
                           "component's own parameters (retrain_data_uri, label_column, "
                           "model_name, registry_uri)")
    params = {"data_uri": retrain_data_uri, "label_column": label_column,
              "model_name": model_name, "registry_uri": registry_uri}
    params.update(extra)
    return params


def check_settings(target: str, retrain_data_uri: str, label_column: str, model_name: str,
                   registry_uri: str, training_template_uri: str = "", project: str = "",
                   region: str = "", pipeline_root: str = "") -> None:
    """Raises :class:`RetrainError` naming every setting retraining would need and lacks."""
    if target not in TARGETS:
        raise RetrainError(f"retrain_target {target!r}: expected one of {', '.join(TARGETS)}")
    needed = {"retrain_data_uri": retrain_data_uri, "label_column": label_column,
              "model_name": model_name, "registry_uri": registry_uri}
    if target == "vertex":
        needed.update({"training_template_uri": training_template_uri, "project": project,
                       "region": region, "pipeline_root": pipeline_root})
    missing = [k for k, v in needed.items() if not v]
    if missing:
        raise RetrainError(f"retrain_on_drift with retrain_target={target!r} needs "
                           f"{', '.join(missing)}")
    if target == "vertex":
        gcp.check_project_region(project, region, error=RetrainError)
        if not pipeline_root.startswith("gs://"):
            raise RetrainError(f"pipeline_root {pipeline_root!r}: Vertex AI needs a gs:// "
                               "folder")
        # Not read here: aiplatform's PipelineJob reads template_path itself, from a local
        # file, gs:// or https:// only (google/cloud/aiplatform/utils/yaml_utils.py,
        # load_yaml), so this location does not go through the I/O layer and s3:// is refused.
        if not re.match(r"^(gs://|https://)", training_template_uri) \
                and not os.path.isfile(training_template_uri):
            raise RetrainError(f"training_template_uri {training_template_uri!r}: expected a "
                               "compiled training.yaml (a file, gs:// URI or Artifact Registry "
                               "https:// URL)")


#: The command that runs a catalogue pipeline locally, as a user types it (``kfp-mlops``).
#: It runs in a child process: a KFP task process (``_KFP_RUNTIME=true``) has a kfp.dsl
#: without the decorators the pipeline modules need, and kfp.local's settings are global.
#: The command parses ``--param NAME=VALUE`` against the pipeline's parameters and checks
#: them (``pipelines/preflight.py``) before any task starts; ``--dry-run`` stops there.
CLI = ("-m", "kfp_mlops.pipelines.cli")
#: What the command prints before an error (``pipelines/cli.py`` ``main``), and the line that
#: starts each problem of a ``PreflightError`` (``pipelines/preflight.py``).
_CLI_ERROR, _PROBLEM = "kfp-mlops: error: ", "  - "
#: ``kfp-mlops`` exits with 2 for arguments it refuses before any task runs.
_USAGE_ERROR = 2


def _cli_value(value: Any) -> str:
    """``value`` as ``--param NAME=VALUE`` takes it (``pipelines/local.py`` ``_convert``):
    text as is, ``true``/``false``, numbers, lists and dicts as JSON. A KFP struct parameter
    (``training_parameters``) carries every number as a float: a whole one is written as an
    integer, so that ``epochs=50.0`` is the Integer 50."""
    import json

    def number(text: str) -> Any:
        value = float(text)
        return int(value) if value.is_integer() else value

    if isinstance(value, str):
        return value
    return json.dumps(json.loads(json.dumps(value), parse_float=number))


def cli_command(params: Mapping[str, Any], output_dir: str = "", summary_path: str = ""
                ) -> list:
    """``python -m kfp_mlops.pipelines.cli run training --param ...``: with
    ``output_dir`` and ``summary_path`` the run, without them ``--dry-run`` (checks only)."""
    import sys

    command = [sys.executable, *CLI, "run", TRAINING]
    for name, value in params.items():
        command += ["--param", f"{name}={_cli_value(value)}"]
    if output_dir:
        return command + ["--output-dir", output_dir, "--summary-json", summary_path]
    return command + ["--dry-run"]


def _refused(stderr_lines: list) -> RetrainError:
    """The command's error about the parameters, each problem named as a training_parameter."""
    text = "".join(stderr_lines)
    message = text.split(_CLI_ERROR, 1)[-1].strip()
    problems = [line[len(_PROBLEM):].strip() for line in message.splitlines()[1:]
                if line.startswith(_PROBLEM)] or [message or "refused (see the log above)"]
    return RetrainError("; ".join(f"training_parameters: {p}" for p in problems))


def _run_cli(params: Dict[str, Any], output_dir: str = "", summary_path: str = "") -> int:
    """Checks (no ``output_dir``) or runs the training pipeline with ``kfp-mlops run``.

    Raises:
        RetrainError: the command refused the parameters before any task ran.
    """
    import subprocess
    import sys

    from kfp_mlops.components._shared import processes

    env = {k: v for k, v in os.environ.items() if k != "_KFP_RUNTIME"}
    # The child stays in this task's process group (a run ending the task with killpg ends
    # it too, and its handler ends its own tasks) and dies with this task when the task is
    # killed outright, so a killed monitoring run registers no version afterwards.
    proc = subprocess.Popen(cli_command(params, output_dir, summary_path), env=env,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=processes.die_with_parent())
    error: list = []
    for line in proc.stderr:          # the run's log, passed on as it comes
        sys.stderr.write(line)
        if error or line.startswith(_CLI_ERROR):
            error.append(line)
    sys.stderr.flush()
    code = proc.wait()
    if code == _USAGE_ERROR and error:
        raise _refused(error)
    if code != 0 and not (summary_path and os.path.isfile(summary_path)):
        raise RuntimeError(f"the local training pipeline could not "
                           f"{'run' if output_dir else 'be checked'} (kfp-mlops exit code "
                           f"{code}); see the log above")
    return code


def vertex_request(params: Dict[str, Any], training_template_uri: str, project: str,
                   region: str, pipeline_root: str, service_account: str = "",
                   run_name: str = "", source_run: str = "",
                   enable_caching: Optional[bool] = None) -> Dict[str, Any]:
    """The ``aiplatform.PipelineJob(**job).submit(**submit)`` call that retrains.

    ``enable_caching`` None keeps the caching compiled into the training template (ingest,
    evaluate and push never reuse a result; ``kfp_mlops/pipelines/caching.py``), as
    ``kfp-mlops submit`` does; a bool would override every task ("If this is set, the
    setting applies to all tasks in the pipeline", ``aiplatform.PipelineJob``).
    """
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    job_id = run_name or f"{TRAINING}-retrain-{gcp.label_value(params['model_name'])}-{stamp}"
    job_id = re.sub(r"[^a-z0-9-]", "-", job_id.lower())[:128].strip("-")
    labels = {"managed_by": "kfp-mlops", "trigger": "drift",
              "model_name": gcp.label_value(params["model_name"])}
    if source_run:
        labels["monitoring_run"] = gcp.label_value(source_run)
    return vertex_pipelines.job_request(
        display_name=f"{TRAINING} (retrain {params['model_name']} on drift)",
        template_path=training_template_uri, job_id=job_id, pipeline_root=pipeline_root,
        parameter_values=params, enable_caching=enable_caching, labels=labels,
        project=project, location=region, service_account=service_account or None)


def dashboard_uri(project: str, region: str, job_id: str) -> str:
    return (f"https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/"
            f"{job_id}?project={project}")


def _submit_vertex(request: Dict[str, Any]) -> Dict[str, str]:
    return {"resource_name": str(vertex_pipelines.submit(request).resource_name)}


def _push_outcome(summary: Mapping[str, Any]) -> Dict[str, Any]:
    for task in summary.get("tasks") or []:
        if task.get("name") == "push":
            meta = ((task.get("outputs") or {}).get("pushed_model") or {}).get("metadata") or {}
            return {"pushed": bool(meta.get("pushed")), "version": str(meta.get("version", "")),
                    "reasons": list(meta.get("reasons") or [])}
    return {"pushed": False, "version": "", "reasons": ["the push task did not run"]}


def retrain(report: Mapping[str, Any], output_dir: str, retrain_on_drift: bool = False,
            target: str = "local", retrain_data_uri: str = "", label_column: str = "",
            model_name: str = "", registry_uri: str = "",
            extra_parameters: Optional[Mapping[str, Any]] = None,
            training_template_uri: str = "", project: str = "", region: str = "",
            pipeline_root: str = "", service_account: str = "", run_name: str = "",
            source_run: str = "", fail_on_error: bool = True) -> RetrainResult:
    """Starts the training pipeline when the report detected drift and retraining is on.

    Args:
        report: the monitor step's ``report.json``.
        output_dir: output directory: ``retrain.json``; a local run's outputs go to
            ``<output_dir>/run/`` and its summary to ``<output_dir>/summary.json``.
        retrain_on_drift: the switch; False records that retraining is off.
        target: ``local`` (kfp.local, waits) or ``vertex`` (submits, does not wait).
        retrain_data_uri: labelled training data (the training pipeline's ``data_uri``).
        label_column / model_name / registry_uri: the training pipeline's parameters; an
            empty model_name/registry_uri is taken from the report's model.
        extra_parameters: more training pipeline arguments (epochs, thresholds, ...).
        training_template_uri / project / region / pipeline_root / service_account: Vertex
            AI only: the compiled training spec and where and as whom it runs.
        run_name: name (Vertex job ID) of the new run; empty: generated.
        source_run: the monitoring run, recorded in labels and the result.
        fail_on_error: a local training run that fails raises (after ``retrain.json``).

    Raises:
        RetrainError: retraining is on but its settings cannot start a run (raised whether
            or not there is drift, so a misconfiguration is seen before it matters).
    """
    from kfp_mlops.components._shared import io

    model = report.get("model") or {}
    model_name = model_name or model.get("name", "")
    registry_uri = registry_uri or model.get("registry", "")
    from kfp_mlops.components.monitor import report as monitoring_report

    detected = bool(report.get("drift_detected"))
    # "drift detected" or "performance degraded": a performance report is read the same way
    headline = monitoring_report.headline(dict(report))
    result: RetrainResult
    if retrain_on_drift:
        check_settings(target, retrain_data_uri, label_column, model_name, registry_uri,
                       training_template_uri, project, region, pipeline_root)
        params = training_parameters(retrain_data_uri, label_column, model_name, registry_uri,
                                     extra_parameters)
        if target == "local":
            _run_cli(params)
    if not detected:
        nothing = ("no drift detected" if monitoring_report.check_of(dict(report)) ==
                   monitoring_report.DRIFT_CHECK else headline)
        result = RetrainResult(False, f"{nothing}: nothing to retrain")
    elif not retrain_on_drift:
        result = RetrainResult(False, f"{headline} ({len(report.get('reasons') or [])} "
                                      "findings), but retrain_on_drift is false: not "
                                      "retraining")
    else:
        reason = f"{headline}: " + "; ".join(report.get("reasons") or [])
        os.makedirs(output_dir, exist_ok=True)
        if os.listdir(output_dir):
            raise FileExistsError(f"output directory {output_dir!r} already holds files")
        if target == "vertex":
            request = vertex_request(params, training_template_uri, project, region,
                                     pipeline_root, service_account, run_name, source_run)
            logger.info("submitting the training pipeline to Vertex AI: %s", request["job"])
            sent = _submit_vertex(request)
            job_id = request["job"]["job_id"]
            result = RetrainResult(True, reason, target, "SUBMITTED", params, job_id,
                                   resource_name=sent["resource_name"],
                                   dashboard_uri=dashboard_uri(project, region, job_id))
        else:
            result = _retrain_locally(params, output_dir, reason)
    logger.info("retrain: %s", result.reason if not result.started else
                f"started {result.target} run {result.run_name or result.resource_name} "
                f"({result.status})")
    if result.started:
        io.write_json(os.path.join(output_dir, RETRAIN_FILE), result.metadata())
    else:
        with io.output_dir(output_dir) as out:
            io.write_json(os.path.join(out, RETRAIN_FILE), result.metadata())
    if result.started and result.status == "FAILURE" and fail_on_error:
        raise RuntimeError(f"the retraining run failed: {result.error or 'see its summary'} "
                           f"({result.summary_path})")
    return result


def _retrain_locally(params: Dict[str, Any], output_dir: str, reason: str) -> RetrainResult:
    from kfp_mlops.components._shared import io

    run_root = os.path.join(output_dir, RUN_DIR)
    summary_path = os.path.join(output_dir, SUMMARY_FILE)
    logger.info("running the training pipeline locally into %s with %s", run_root, params)
    _run_cli(params, run_root, summary_path)
    summary = io.read_json(summary_path)
    status = summary.get("status", "FAILURE")
    push = _push_outcome(summary) if status == "SUCCESS" else \
        {"pushed": False, "version": "", "reasons": []}
    failed = [t["name"] for t in summary.get("tasks") or [] if t.get("status") != "SUCCESS"]
    error = summary.get("error") or (f"tasks {failed} failed" if failed else "")
    runs = sorted(n for n in os.listdir(run_root) if not n.startswith(".")) \
        if os.path.isdir(run_root) else []
    return RetrainResult(True, reason, "local", status, params, runs[-1] if runs else "",
                         summary_path=summary_path, output_dir=run_root,
                         pushed=push["pushed"], new_version=push["version"],
                         push_reasons=push["reasons"], error=error)
