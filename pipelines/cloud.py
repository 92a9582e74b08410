"""Sending compiled pipelines to Vertex AI Pipelines or Kubeflow (one run or a schedule), and
publishing templates.

Every action is first built as a plain *request*: a JSON-ready dict holding exactly the
arguments the client library will be called with. ``--dry-run`` prints the request; ``send``
and ``upload`` make the calls. The client libraries (``google.cloud.aiplatform``,
``kfp.Client``, ``kfp.registry``) are imported inside those two functions only, so building
and printing a request needs neither credentials nor the Google Cloud SDK.

A schedule's request is built from the run request of the same target (the PipelineJob of
a Vertex AI schedule is exactly the one ``submit`` would send), so the two never drift.

Caching: ``enable_caching=None`` (the default of ``submit`` and ``schedule``) keeps the
per-task settings compiled into the spec (``pipelines/caching.py``); a bool overrides every
task. Both client libraries document it so: ``aiplatform.PipelineJob`` ("If this is not set,
defaults to the compile time settings ... If this is set, the setting applies to all tasks
in the pipeline", ``google/cloud/aiplatform/pipeline_jobs.py`` ``PipelineJob.__init__``,
which rewrites every task's ``cachingOptions`` only when it is not None) and ``kfp.Client``
(``create_run_from_pipeline_package`` and ``create_recurring_run``, same words,
``kfp/client/client.py``; ``_create_job_config`` calls ``_override_caching_options`` only
when it is not None).
"""
import logging
import os
import re
import subprocess
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple

from kfp_mlops.components._shared import gcp, vertex_pipelines
from kfp_mlops.pipelines import __version__

logger = logging.getLogger(__name__)

TARGETS = ("vertex", "kubeflow")

# Google Cloud label values: at most 63 lowercase letters, digits, '_' and '-'.
_REPOSITORY_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_GCS_RE = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/.*)?$")
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# A Vertex AI experiment is a Vertex ML Metadata context whose id is the experiment's name
# (google/cloud/aiplatform/metadata/experiment_resources.py, Experiment.get_or_create:
# resource_id=experiment_name), and a context id "Must be 4-128 characters in length. Valid
# characters are /[a-z][0-9]-/" (google/cloud/aiplatform_v1/types/metadata_service.py,
# CreateContextRequest.context_id). The library itself checks nothing before the call.
_VERTEX_EXPERIMENT_RE = re.compile(r"^[a-z0-9-]{4,128}$")
#: Target names as users read them in messages.
_TARGET_NAMES = {"vertex": "Vertex AI", "kubeflow": "Kubeflow"}


def git_commit(path: Optional[str] = None) -> str:
    """Short commit of the checkout holding this package (or ``path``), else ``unknown``.

    An installed package (under ``site-packages``) has no commit of its own, even when the
    virtualenv lives inside some checkout, so it reports ``unknown``.
    """
    path = path or os.path.dirname(os.path.abspath(__file__))
    if "site-packages" in path.split(os.sep):
        return "unknown"
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path,
                                capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{4,40}", sha) else "unknown"


def run_labels(commit: Optional[str] = None) -> Dict[str, str]:
    """Labels every submitted run carries: the package version and the source commit."""
    return {"kfp-mlops-version": gcp.label_value(__version__),
            "git-commit": gcp.label_value(commit or git_commit())}


def check_project_region(project: str, region: str) -> None:
    gcp.check_project_region(project, region, "--project", "--region")


def check_vertex_experiment(experiment: str) -> None:
    """Raises ValueError unless ``experiment`` can name a Vertex AI experiment."""
    if not _VERTEX_EXPERIMENT_RE.match(experiment or ""):
        raise ValueError(f"--experiment {experiment!r}: a Vertex AI experiment name has 4 to "
                         "128 lowercase letters, digits and '-', e.g. penguins-monitoring")


def vertex_request(pipeline: str, spec_path: str, *, project: str, region: str,
                   pipeline_root: str, parameters: Dict[str, Any],
                   enable_caching: Optional[bool] = None,
                   service_account: Optional[str] = None, run_name: Optional[str] = None,
                   commit: Optional[str] = None,
                   experiment: Optional[str] = None) -> Dict[str, Any]:
    """The ``aiplatform.PipelineJob(**job).submit(**submit)`` call for one run.

    Args:
        pipeline: Catalogue name of the pipeline (the run's display name by default).
        spec_path: The compiled pipeline spec.
        project: Google Cloud project the run belongs to.
        region: Vertex AI region, e.g. ``europe-west4``.
        pipeline_root: ``gs://`` folder below which every task writes its outputs.
        parameters: Pipeline arguments, already of the pipeline's types; every location
            among them must be reachable from Vertex AI (:func:`check_locations`).
        enable_caching: None keeps each task's compiled caching setting; True or False
            overrides every task.
        service_account: Service account the run acts as; None is the project's default.
        run_name: Display name of the run.
        commit: Source commit for the ``git-commit`` label; None asks git.
        experiment: Vertex AI experiment the run is associated with
            (``PipelineJob.submit(experiment=...)``, which gets or creates it); None: none.
    """
    check_project_region(project, region)
    if experiment is not None:
        check_vertex_experiment(experiment)
    if not _GCS_RE.match(pipeline_root or ""):
        raise ValueError(f"--pipeline-root {pipeline_root!r}: Vertex AI needs a Cloud Storage "
                         "folder such as gs://my-bucket/pipeline-root")
    if service_account is not None and "@" not in service_account:
        raise ValueError(f"--service-account {service_account!r}: expected an e-mail such as "
                         "runner@my-project.iam.gserviceaccount.com")
    check_locations("vertex", parameters)
    request = vertex_pipelines.job_request(
        display_name=run_name or pipeline, template_path=os.path.abspath(spec_path),
        pipeline_root=pipeline_root, parameter_values=parameters,
        enable_caching=enable_caching, labels=run_labels(commit), project=project,
        location=region, service_account=service_account, experiment=experiment)
    return {"action": "run", "target": "vertex", "spec": os.path.abspath(spec_path), **request}


def kubeflow_request(pipeline: str, spec_path: str, *, host: str,
                     parameters: Dict[str, Any], enable_caching: Optional[bool] = None,
                     experiment: Optional[str] = None, namespace: Optional[str] = None,
                     service_account: Optional[str] = None,
                     run_name: Optional[str] = None) -> Dict[str, Any]:
    """The ``kfp.Client(**client).create_run_from_pipeline_package(**run)`` call for one run.

    Args:
        pipeline: Catalogue name of the pipeline.
        spec_path: The compiled pipeline spec.
        host: Kubeflow Pipelines API endpoint, ``http(s)://...``.
        parameters: Pipeline arguments, already of the pipeline's types; every location
            among them must be reachable from Kubeflow's pods (:func:`check_locations`).
        enable_caching: None keeps each task's compiled caching setting; True or False
            overrides every task.
        experiment: KFP experiment the run is filed under; None is the default experiment.
        namespace: Kubernetes namespace (multi-user Kubeflow); None for single-user.
        service_account: Kubernetes service account the run's pods use.
        run_name: Name of the run; None lets Kubeflow name it after the pipeline.
    """
    if not re.match(r"^https?://[^\s/]+", host or ""):
        raise ValueError(f"--host {host!r}: expected the Kubeflow Pipelines endpoint as "
                         "http(s)://HOST[:PORT][/PATH], e.g. http://localhost:8080")
    check_locations("kubeflow", parameters)
    return {
        "action": "run",
        "target": "kubeflow",
        "spec": os.path.abspath(spec_path),
        "client": {"host": host.rstrip("/"), "namespace": namespace},
        "run": {
            "pipeline_file": os.path.abspath(spec_path),
            "arguments": parameters,
            "run_name": run_name,
            "experiment_name": experiment,
            "enable_caching": enable_caching,
            "service_account": service_account,
        },
    }


# ----------------------------------------------------------- locations a remote task reads

#: Pipeline parameters that name a location a task of the run reads or writes.
LOCATION_PARAMETERS = ("data_uri", "retrain_data_uri", "registry_uri", "schema_uri",
                       "training_template_uri", "trainer_module")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_WORKS = {
    "registry_uri": {
        "kubeflow": "s3://bucket/folder (MinIO, Kubeflow's artifact store), gs://bucket/folder "
                    "or vertex://projects/PROJECT/locations/REGION",
        "vertex": "gs://bucket/folder (or /gcs/bucket/folder, its mount inside Vertex AI "
                  "tasks), s3://bucket/folder or vertex://projects/PROJECT/locations/REGION"},
    "data": {
        "kubeflow": "s3://bucket/path or gs://bucket/path (a file, folder or glob), "
                    "bq://project.dataset.table or a SQL query",
        "vertex": "gs://bucket/path (or /gcs/bucket/path), s3://bucket/path, "
                  "bq://project.dataset.table or a SQL query"},
    "schema_uri": {
        "kubeflow": "the s3:// or gs:// URI of the schema.pbtxt",
        "vertex": "the gs:// (or /gcs/...) or s3:// URI of the schema.pbtxt"},
    "training_template_uri": {
        "kubeflow": "the gs:// URI or Artifact Registry https:// URL of training.yaml",
        "vertex": "the gs:// URI (or /gcs/... path) or Artifact Registry https:// URL of "
                  "training.yaml"},
    "trainer_module": {
        "kubeflow": "a module installed in the image (my_package.trainer) or the gs:// URI "
                    "of a .py file",
        "vertex": "a module installed in the image (my_package.trainer) or the gs:// URI "
                  "(or /gcs/... path) of a .py file"},
}


def check_locations(target: str, parameters: Mapping[str, Any]) -> None:
    """Refuses a parameter naming a location that the run's tasks cannot reach on ``target``.

    The tasks of a run on Vertex AI or Kubeflow run in containers far from this machine, and
    a registry they write to must outlive them. For every parameter of
    :data:`LOCATION_PARAMETERS` that is set (empty means "not used"):

    ==============================  ==========  ===========
    value                           ``vertex``  ``kubeflow``
    ==============================  ==========  ===========
    a local path, ``file://...``    refused     refused
    ``/gcs/bucket/...``             accepted    refused
    ``gs://...``, ``s3://...``      accepted    accepted
    ==============================  ==========  ===========

    ``/gcs/`` is where Vertex AI mounts Cloud Storage inside its tasks; a Kubeflow pod has
    no such mount, so there it would be a folder in the pod, gone with it. Besides,
    ``registry_uri`` may be ``vertex://projects/P/locations/R`` (Vertex AI Model Registry),
    ``data_uri`` / ``retrain_data_uri`` a BigQuery table ``bq://...`` or a SQL query,
    ``training_template_uri`` an Artifact Registry ``https://`` URL, and ``trainer_module``
    a dotted module name (installed in the image). Any other ``scheme://`` value is left to
    the component that reads it.

    Args:
        target: ``vertex`` or ``kubeflow``.
        parameters: The run's pipeline arguments.

    Raises:
        ValueError: naming the parameter (``--param NAME=VALUE``) and what works on target.
    """
    from kfp_mlops.components._shared import io

    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; targets are {', '.join(TARGETS)}")
    where = _TARGET_NAMES[target]
    for name in LOCATION_PARAMETERS:
        value = parameters.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        if name in ("data_uri", "retrain_data_uri") and _is_bigquery(value):
            continue
        if name == "trainer_module" and not (value.endswith(".py") or "/" in value):
            continue  # a dotted module name, imported from the image
        if value.startswith(io.FILE_PREFIX) or not _SCHEME_RE.match(value):
            if value.startswith(io.GCS_FUSE_ROOT):
                if target == "vertex":
                    continue
                reason = ("/gcs/ is where Vertex AI mounts Cloud Storage inside its tasks; "
                          "a Kubeflow pod has no such mount")
            else:
                reason = (f"a local path exists only on this machine, not where the tasks "
                          f"of a {where} run run")
            works = _WORKS["data" if name.endswith("data_uri") else name][target]
            raise ValueError(f"--param {name}={value}: {reason}; on {where} use {works}")


def _is_bigquery(source: str) -> bool:
    from kfp_mlops.components.ingest import core as ingest_core

    return ingest_core.is_bigquery(source)


# ------------------------------------------------------------------------------ schedules

_CRON_EXAMPLE = ("e.g. --cron '0 6 * * *' (06:00 every day) or "
                 "--cron 'TZ=Europe/Berlin 30 7 * * 1-5' (07:30 on weekdays, Berlin time)")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: The five fields of standard cron: name, lowest, highest, names for 1.. or 0.. (if any).
#: Day of week stops at 6 (Sunday is 0): Kubeflow's parser (robfig/cron v1) takes 0-6.
_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
                ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS))
_CRON_TZ_RE = re.compile(r"^(CRON_TZ|TZ)=(\S+)\s+(.*)$")
_CRON_ITEM_RE = re.compile(r"^(\*|(\w+)(-(\w+))?)(/(\d+))?$")


def parse_cron(cron: str) -> Tuple[str, List[str]]:
    """Checks a standard 5-field cron, optionally prefixed ``TZ=Area/City`` or ``CRON_TZ=``.

    Vertex AI takes exactly that ("To explicitly set a timezone to the cron tab, apply a
    prefix: CRON_TZ=${IANA_TIME_ZONE} or TZ=${IANA_TIME_ZONE}",
    ``google/cloud/aiplatform/pipeline_job_schedules.py`` ``PipelineJobSchedule.create``).
    Each field is ``*``, a value, a range ``A-B``, a step ``*/N`` or ``A-B/N``, or a comma
    list of these; months and days of week may be given by name (``JAN``, ``MON``).

    Returns:
        The time-zone prefix (``"TZ=Europe/Berlin"``, or ``""``) and the five fields.

    Raises:
        ValueError: naming ``--cron`` and the field, with an example.
    """
    text = " ".join((cron or "").split())
    prefix = ""
    match = _CRON_TZ_RE.match(text)
    if match:
        prefix, zone, text = f"{match.group(1)}={match.group(2)}", match.group(2), match.group(3)
        _check_time_zone(cron, zone)
    fields = text.split(" ") if text else []
    if len(fields) != 5:
        raise ValueError(f"--cron {cron!r}: expected 5 fields (minute hour day-of-month month "
                         f"day-of-week), got {len(fields)}; {_CRON_EXAMPLE}")
    for value, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        for item in value.split(","):
            _check_cron_item(cron, name, item, low, high, names)
    return prefix, fields


def _check_cron_item(cron: str, name: str, item: str, low: int, high: int,
                     names: Tuple[str, ...]) -> None:
    def bad(why: str) -> ValueError:
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        return ValueError(f"--cron {cron!r}: {name} {item!r}: {why} (values {allowed}, "
                          f"'*', ranges A-B, steps */N or A-B/N, lists A,B); {_CRON_EXAMPLE}")

    match = _CRON_ITEM_RE.match(item)
    if not match:
        raise bad("not a cron field")

    def number(token: str) -> int:
        if token.isdigit():
            value = int(token)
        elif token.upper() in names:
            value = names.index(token.upper()) + (1 if names is _MONTHS else 0)
        else:
            raise bad(f"{token!r} is not a number{' or a name' if names else ''}")
        if not low <= value <= high:
            raise bad(f"{value} is out of range" + (" (Sunday is 0)" if value == 7 and
                                                     names is _DAYS else ""))
        return value

    if match.group(2) is not None:
        first = number(match.group(2))
        if match.group(4) is not None and number(match.group(4)) < first:
            raise bad("the range ends before it starts")
        if match.group(6) is not None and match.group(4) is None:
            raise bad("a step needs '*' or a range before it")
    if match.group(6) is not None and int(match.group(6)) == 0:
        raise bad("a step must be at least 1")


def _check_time_zone(cron: str, zone: str) -> None:
    import zoneinfo

    known = zoneinfo.available_timezones()
    if known and zone not in known:  # without a time-zone database, leave it to Vertex AI
        raise ValueError(f"--cron {cron!r}: time zone {zone!r} is not an IANA time zone "
                         f"such as Europe/Berlin or UTC; {_CRON_EXAMPLE}")


def vertex_cron(cron: str) -> str:
    """``cron`` as Vertex AI takes it: the checked 5 fields after the optional ``TZ=``."""
    prefix, fields = parse_cron(cron)
    return " ".join(([prefix] if prefix else []) + fields)


def kubeflow_cron(cron: str) -> str:
    """A 5-field ``cron`` as Kubeflow takes it: 6 fields, seconds first (``0 ...``).

    ``kfp.Client.create_recurring_run``: "Cron expression representing a set of times,
    using 6 space-separated fields (e.g., '0 0 9 ? * 2-6')" (``kfp/client/client.py``); the
    scheduled-workflow controller parses it with robfig/cron v1's ``cron.Parse``
    (kubeflow/pipelines ``backend/src/crd/controller/scheduledworkflow/util/
    cron_schedule.go``), seconds first. There is no time-zone prefix: a schedule runs in the
    controller's time zone (its ``CRON_SCHEDULE_TIMEZONE``, ``util/const.go``
    ``GetLocation``), so a ``TZ=`` prefix is refused rather than dropped.
    """
    prefix, fields = parse_cron(cron)
    if prefix:
        raise ValueError(f"--cron {cron!r}: Kubeflow schedules take no time-zone prefix (they "
                         "run in the time zone of Kubeflow's scheduled-workflow controller, "
                         "its CRON_SCHEDULE_TIMEZONE setting); drop the prefix, e.g. "
                         f"--cron {' '.join(fields)!r}")
    return " ".join(["0"] + fields)


def rfc3339(value: Optional[str], option: str) -> Optional[str]:
    """``value`` (ISO 8601 / RFC 3339 with a UTC offset) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"{option} {value!r}: expected a time with its UTC offset, e.g. "
                         "2026-01-31T06:00:00Z or 2026-01-31T07:00:00+01:00")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _schedule_window(max_concurrent_runs: int, start_time: Optional[str],
                     end_time: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    if max_concurrent_runs < 1:
        raise ValueError(f"--max-concurrent-runs {max_concurrent_runs}: expected at least 1")
    start, end = rfc3339(start_time, "--start-time"), rfc3339(end_time, "--end-time")
    if start and end and end <= start:
        raise ValueError(f"--end-time {end_time!r} is not after --start-time {start_time!r}")
    return start, end


def vertex_schedule_request(run: Dict[str, Any], *, cron: str, display_name: str,
                            max_concurrent_runs: int = 1, max_runs: Optional[int] = None,
                            start_time: Optional[str] = None,
                            end_time: Optional[str] = None) -> Dict[str, Any]:
    """The ``aiplatform.PipelineJobSchedule(pipeline_job=aiplatform.PipelineJob(**job),
    **schedule).create(**create)`` call (``google/cloud/aiplatform/pipeline_job_schedules.py``).

    Args:
        run: :func:`vertex_request` for the scheduled pipeline: every scheduled run is that
            PipelineJob (spec, parameters, caching, labels, pipeline root).
        cron: Standard 5-field cron, optionally after ``TZ=Area/City`` (:func:`parse_cron`).
        display_name: Name of the schedule (at most 128 characters).
        max_concurrent_runs: Most runs of the schedule at one time.
        max_runs: The schedule ends after this many runs; None: no limit.
        start_time / end_time: RFC 3339 times between which runs are started.

    Raises:
        ValueError: a bad cron, name, count or time; an experiment (Vertex AI schedules
            cannot associate their runs with one).
    """
    if run.get("action") != "run" or run.get("target") != "vertex":
        raise ValueError("vertex_schedule_request needs a vertex_request")
    if run["submit"].get("experiment"):
        raise ValueError("--experiment: a Vertex AI schedule cannot associate its runs with "
                         "an experiment (PipelineJobSchedule.create has no experiment "
                         "argument); leave it out, or use submit --experiment for one run")
    expression = vertex_cron(cron)
    if not display_name or len(display_name) > 128:
        raise ValueError(f"--name {display_name!r}: expected 1 to 128 characters")
    if max_runs is not None and max_runs < 1:
        raise ValueError(f"--max-runs {max_runs}: expected at least 1")
    start, end = _schedule_window(max_concurrent_runs, start_time, end_time)
    return {
        "action": "schedule",
        "target": "vertex",
        "spec": run["spec"],
        "job": run["job"],
        "schedule": {"display_name": display_name},
        "create": {
            "cron": expression,
            "max_concurrent_run_count": max_concurrent_runs,
            "max_run_count": max_runs,
            "start_time": start,
            "end_time": end,
            "service_account": run["submit"]["service_account"],
        },
    }


def kubeflow_schedule_request(run: Dict[str, Any], *, cron: str, name: str,
                              max_concurrent_runs: int = 1, start_time: Optional[str] = None,
                              end_time: Optional[str] = None) -> Dict[str, Any]:
    """The ``kfp.Client(**client)`` calls ``create_experiment(**experiment)`` then
    ``create_recurring_run(experiment_id=<its id>, **recurring_run)``.

    ``create_recurring_run`` needs an experiment *id*; ``create_experiment`` returns the
    experiment of that name if there is one and creates it otherwise (``kfp/client/
    client.py``: it calls ``get_experiment`` first). Without ``--experiment`` that is
    ``Default``, the experiment ``create_run_from_pipeline_package`` files runs under.
    Missed runs are not caught up (``no_catchup=True``): a schedule resumed after a pause
    starts one run, not one per missed interval on the same, current data.

    Args:
        run: :func:`kubeflow_request` for the scheduled pipeline (host, namespace, spec,
            arguments, caching, experiment, service account).
        cron: Standard 5-field cron (:func:`parse_cron`), turned into Kubeflow's 6 fields
            (:func:`kubeflow_cron`).
        name: Name of the recurring run.
        max_concurrent_runs: Most runs of the schedule at one time.
        start_time / end_time: RFC 3339 times between which runs are started.
    """
    if run.get("action") != "run" or run.get("target") != "kubeflow":
        raise ValueError("kubeflow_schedule_request needs a kubeflow_request")
    expression = kubeflow_cron(cron)
    if not name:
        raise ValueError("--name: expected the name of the recurring run")
    start, end = _schedule_window(max_concurrent_runs, start_time, end_time)
    one = run["run"]
    return {
        "action": "schedule",
        "target": "kubeflow",
        "spec": run["spec"],
        "client": run["client"],
        "experiment": {"name": one["experiment_name"] or "Default",
                       "namespace": run["client"]["namespace"]},
        "recurring_run": {
            "job_name": name,
            "cron_expression": expression,
            "pipeline_package_path": one["pipeline_file"],
            "params": one["arguments"],
            "enable_caching": one["enable_caching"],
            "max_concurrency": max_concurrent_runs,
            "no_catchup": True,
            "start_time": start,
            "end_time": end,
            "service_account": one["service_account"],
        },
    }


def send(request: Dict[str, Any]) -> Dict[str, str]:
    """Makes the call a request describes (a run or a schedule); returns where to find it."""
    action, target = request.get("action"), request["target"]
    if action not in ("run", "schedule"):
        raise ValueError(f"unknown action {action!r}; actions are run, schedule")
    if target == "vertex":
        if action == "run":
            made = vertex_pipelines.submit(request)
        else:
            from google.cloud import aiplatform

            made = aiplatform.PipelineJobSchedule(
                pipeline_job=vertex_pipelines.pipeline_job(request["job"]),
                **request["schedule"])
            made.create(**request["create"])
        dashboard = getattr(made, "_dashboard_uri", None)
        return {"resource_name": str(made.resource_name),
                "dashboard_uri": str(dashboard()) if callable(dashboard) else ""}
    if target == "kubeflow":
        import kfp

        client = kfp.Client(**request["client"])
        host = request["client"]["host"]
        if action == "run":
            result = client.create_run_from_pipeline_package(**request["run"])
            run_id = str(result.run_id)
            return {"run_id": run_id, "url": f"{host}/#/runs/details/{run_id}"}
        experiment = client.create_experiment(**request["experiment"])
        made = client.create_recurring_run(experiment_id=experiment.experiment_id,
                                           **request["recurring_run"])
        made_id = str(made.recurring_run_id)
        return {"recurring_run_id": made_id, "experiment_id": str(experiment.experiment_id),
                "url": f"{host}/#/recurringrun/details/{made_id}"}
    raise ValueError(f"unknown target {target!r}; targets are {', '.join(TARGETS)}")


# ---------------------------------------------------------------- publishing templates

def registry_host(project: str, region: str, repository: str) -> str:
    """The Artifact Registry Kubeflow Pipelines repository as ``kfp.registry`` addresses it."""
    check_project_region(project, region)
    if not _REPOSITORY_RE.match(repository or ""):
        raise ValueError(f"--repository {repository!r}: expected an Artifact Registry "
                         "repository name (lowercase letters, digits and '-')")
    return f"https://{region}-kfp.pkg.dev/{project}/{repository}"


def template_tags(extra: Optional[List[str]] = None) -> List[str]:
    """The package version, ``latest``, then any extra tags (e.g. the commit), deduplicated.

    Templates may move ``latest`` (it names "the newest published template"); the images
    they reference never do.
    """
    tags: List[str] = []
    for tag in [__version__, "latest", *(extra or [])]:
        if not _TAG_RE.match(tag or ""):
            raise ValueError(f"template tag {tag!r}: expected letters, digits, '_', '.', '-'")
        if tag not in tags:
            tags.append(tag)
    return tags


def spec_description(spec_path: str) -> str:
    """The pipeline's description from a compiled spec, on one line (it travels as a header)."""
    import yaml

    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    text = (spec.get("pipelineInfo") or {}).get("description") or ""
    return " ".join(text.split()).encode("ascii", "replace").decode("ascii")


def publish_request(host: str, specs: Dict[str, str],
                    extra_tags: Optional[List[str]] = None) -> Dict[str, Any]:
    """The ``RegistryClient(host=host).upload_pipeline(**upload)`` calls, one per spec.

    Args:
        host: From :func:`registry_host`.
        specs: Pipeline name -> compiled spec path.
        extra_tags: Tags beyond the package version and ``latest``.
    """
    tags = template_tags(extra_tags)
    return {
        "target": "registry",
        "client": {"host": host},
        "uploads": [{"file_name": os.path.abspath(path), "tags": tags,
                     "extra_headers": {"description": spec_description(path)}}
                    for _, path in sorted(specs.items())],
    }


def upload(request: Dict[str, Any]) -> List[Dict[str, str]]:
    """Uploads every spec of a publish request; returns each template's name and version."""
    from kfp.registry import RegistryClient

    client = RegistryClient(**request["client"])
    published = []
    for one in request["uploads"]:
        package, version = client.upload_pipeline(**one)
        published.append({"file_name": one["file_name"], "package": str(package),
                          "version": str(version)})
    return published
