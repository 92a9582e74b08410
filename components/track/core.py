"""Track: records every training run -- blessed or not -- in an experiment tracker.

Plain Python, no kfp import. :func:`collect` reads what the run's tasks wrote, through their
producers' readers (push's :func:`~kfp_mlops.components.push.records.read_blessing`,
:func:`~kfp_mlops.components.push.records.dataset_info` and
:func:`~kfp_mlops.components.push.records.read_record`, train's model metadata through
:func:`~kfp_mlops.components._shared.model_io.read_metadata`), into one :class:`RunRecord`:

* parameters: what the model was actually trained and judged with -- train's
  hyperparameters, the trainer, the task and label, the metric floors and the largest
  regressions allowed, the slice columns, the data source and its split sizes, the
  model name and registry;
* metrics: evaluate's overall metrics, and per class and per slice where evaluate gave
  them (``class/<class>/<metric>``, ``slice/<column>/<value>/<metric>``, names made
  acceptable to MLflow by :func:`metric_name`);
* tags: the decision -- ``blessed``, ``reasons``, ``pushed``, ``registered_version``,
  ``champion`` -- and the lineage: ``pipeline_run``, ``data_content_hash``, ``schema_uri``,
  ``schema_hash``, ``registry_uri``, ``model_name``.

Every string goes through :func:`kfp_mlops.components._shared.redact.parameters` (no URL's
user, path token or query is recorded) before it reaches a tracker.

:func:`log_mlflow` writes the record as one MLflow run (an embedded SQLite store
``sqlite:///<folder>/mlflow.db`` or a team's tracking server), with blessing.json,
evaluation.json, push.json and the evaluation report as artifacts; :func:`log_vertex` as
one Vertex AI Experiments run. :func:`read_runs` reads an MLflow store back for
``kfp-mlops runs``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from kfp_mlops.components._shared import io, model_io, redact
from kfp_mlops.components.push import records as push_records

logger = logging.getLogger(__name__)

TRACKING_FILE = "tracking.json"
SCHEMA_FILE = "schema.pbtxt"
#: The folder, beside an embedded store's ``mlflow.db``, that holds its runs' artifacts.
ARTIFACTS_FOLDER = "mlartifacts"
VERTEX_PREFIX = "vertex://"

#: Tags every recorded run carries (what ``kfp-mlops runs`` shows as the decision).
DECISION_TAGS = ("blessed", "pushed", "registered_version", "champion", "reasons")

# MLflow takes a param or metric name of "alphanumerics, underscores, dashes, periods,
# spaces, colons and slashes" that stays the same when normalised as a path
# (mlflow/utils/validation.py, validate_param_and_metric_name and path_not_unique), of at
# most MAX_ENTITY_KEY_LENGTH (250) characters. Colons are kept out: MLflow refuses them on
# Windows, where a team may read the same store.
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\- /]+")
MAX_NAME_LENGTH = 250
# mlflow/utils/validation.py: MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH,
# MAX_PARAMS_TAGS_PER_BATCH, MAX_METRICS_PER_BATCH.
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000

# A Vertex AI experiment is an ML Metadata context whose id is its name, and a run's context
# id is "<experiment>-<run>" (google/cloud/aiplatform/metadata/experiment_run_resource.py,
# _format_experiment_run_resource_id, checked no longer than
# constants._EXPERIMENT_RUN_MAX_LENGTH, 128, by ExperimentRun._validate_run_id); a context id
# "Must be 4-128 characters in length. Valid characters are /[a-z][0-9]-/"
# (google/cloud/aiplatform_v1/types/metadata_service.py, CreateContextRequest.context_id).
_VERTEX_BAD = re.compile(r"[^a-z0-9-]+")
VERTEX_ID_LENGTH = 128


class TrackError(ValueError):
    """An input of track is missing or malformed; the message names it."""


@dataclasses.dataclass
class RunRecord:
    """One training run as a tracker records it."""

    run_name: str
    params: Dict[str, str]
    metrics: Dict[str, float]
    tags: Dict[str, str]
    #: Files logged as the run's artifacts (name in the run -> local path).
    artifacts: Dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def blessed(self) -> bool:
        return self.tags.get("blessed") == "true"


@dataclasses.dataclass
class TrackResult:
    """Where the record went."""

    run_name: str
    experiment: str
    tracking_uri: str = ""
    mlflow_run_id: str = ""
    mlflow_experiment_id: str = ""
    vertex_experiment: str = ""
    vertex_run: str = ""
    metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
    #: What was not recorded and why (e.g. no MLflow store given off a local run).
    notes: List[str] = dataclasses.field(default_factory=list)

    def metadata(self) -> Dict[str, Any]:
        """What the ``tracking`` artifact carries and ``tracking.json`` holds."""
        return {
            "run_name": self.run_name,
            "experiment": self.experiment,
            "tracking_uri": self.tracking_uri,
            "mlflow_run_id": self.mlflow_run_id,
            "mlflow_experiment_id": self.mlflow_experiment_id,
            "vertex_experiment": self.vertex_experiment,
            "vertex_run": self.vertex_run,
            "notes": list(self.notes),
        }


# --- names ------------------------------------------------------------------------------

def metric_name(*parts: Any) -> str:
    """``parts`` joined with ``/`` as a name MLflow accepts: each part with every other
    character replaced by ``_``, never empty, ``.`` or ``..``; at most 250 characters (a
    longer name keeps its head and a hash of the whole)."""
    clean = []
    for part in parts:
        text = _NAME_BAD.sub("_", str(part).replace("/", "_")).strip()
        if text in ("", ".", ".."):
            text = "_" * max(1, len(text))
        clean.append(text)
    name = "/".join(clean)
    if len(name) > MAX_NAME_LENGTH:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        name = name[:MAX_NAME_LENGTH - 13].rstrip("/") + "-" + digest
    return name


def vertex_id(name: str, what: str = "experiment") -> str:
    """``name`` as a Vertex AI experiment (or run) id: lower case, every run of other
    characters made one ``-``; padded to 4 characters.

    Raises:
        TrackError: nothing of ``name`` is left.
    """
    text = _VERTEX_BAD.sub("-", str(name).lower()).strip("-")
    if not text:
        raise TrackError(f"{what} {name!r} has no letter or digit to name a Vertex AI "
                         f"{what} with (lower-case letters, digits and '-')")
    if len(text) < 4:
        text += "-run"
    return text[:VERTEX_ID_LENGTH].rstrip("-")


def vertex_run_id(experiment: str, run_name: str) -> str:
    """The run's name within a Vertex AI experiment: :func:`vertex_id` of ``run_name``,
    shortened (head and a hash) so ``<experiment>-<run>`` holds 128 characters."""
    run = vertex_id(run_name, "run")
    room = VERTEX_ID_LENGTH - len(experiment) - 1
    if room < 9:
        raise TrackError(f"experiment {experiment!r} is too long for Vertex AI: "
                         f"'<experiment>-<run>' must hold {VERTEX_ID_LENGTH} characters")
    if len(run) > room:
        digest = hashlib.sha256(run.encode()).hexdigest()[:8]
        run = run[:room - 9].rstrip("-") + "-" + digest
    return run


def _text(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    text = redact.parameters(text)
    return text if len(text) <= limit else text[:limit - 1] + redact.ELLIPSIS


def _finite(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def shown_uri(uri: str) -> str:
    """A tracking URI as it may be recorded: a ``sqlite:///`` path or a server's address as
    it is; one with a user, password or query (``postgresql://user:pw@host/db``, a token)
    as :func:`redact.url` shows it, ``scheme://host/…``."""
    uri = uri or ""
    if uri.startswith(("sqlite:///", "file:///")) and "?" not in uri:
        return uri
    authority = uri.split("://", 1)[1].split("/", 1)[0] if "://" in uri else ""
    if "@" in authority or "?" in uri or "#" in uri:
        return redact.url(uri)
    return redact.parameters(uri)


# --- settings -----------------------------------------------------------------------------

#: The tracking URIs MLflow takes that a run can use: a database store (the embedded
#: ``sqlite:///``, or a team's), a tracking server, Databricks; and ours, ``vertex://``.
_TRACKING_SCHEMES = ("sqlite:///", "http://", "https://", "file:///", "postgresql",
                     "mysql", "mssql", "databricks", VERTEX_PREFIX)


def check_settings(tracking_uri: str = "", experiment: str = "", model_name: str = "",
                   registry_uri: str = "") -> None:
    """Raises TrackError unless the run can be recorded as asked (checked before a
    pipeline's first task too, by ``pipelines/preflight.py``).

    Args:
        tracking_uri: ``""``, an MLflow tracking URI or ``vertex://projects/P/locations/R``.
        experiment: The experiment name (empty: ``model_name``).
        model_name: The registered model name.
        registry_uri: The registry (a ``vertex://`` one names a Vertex AI experiment).
    """
    uri = (tracking_uri or "").strip()
    if uri and not uri.startswith(_TRACKING_SCHEMES):
        raise TrackError(f"tracking_uri {shown_uri(uri)!r}: expected an MLflow "
                         "tracking URI (sqlite:///path/mlflow.db, http(s)://host:port of a "
                         "tracking server, a database or databricks URI) or "
                         "vertex://projects/<project>/locations/<region>; empty: kfp-mlops run "
                         "records in <output-dir>/mlflow.db")
    if uri.startswith(VERTEX_PREFIX):
        parse_vertex_uri(uri)
    name = experiment or model_name or "default"
    if len(name) > 500:   # mlflow/utils/validation.py MAX_EXPERIMENT_NAME_LENGTH
        raise TrackError(f"experiment {name[:40]!r}...: an MLflow experiment name holds at "
                         "most 500 characters")
    if uri.startswith(VERTEX_PREFIX) or (registry_uri or "").startswith(VERTEX_PREFIX):
        vertex_run_id(vertex_id(name), "run")


# --- reading the run's outputs ----------------------------------------------------------

def _schema_hash(schema_dir: str) -> str:
    if not schema_dir:
        return ""
    path = os.path.join(schema_dir, SCHEMA_FILE)
    if not os.path.isfile(path):
        raise TrackError(f"schema {schema_dir!r} holds no {SCHEMA_FILE}; expected the schema "
                         "artifact of the validate component")
    return io.sha256_file(path)


def _metrics(blessing: Mapping[str, Any], evaluation: Mapping[str, Any]) -> Dict[str, float]:
    found: Dict[str, float] = {}
    overall = evaluation.get("metrics") or blessing.get("metrics") or {}
    for name, value in sorted(overall.items()):
        if _finite(value) is not None:
            found[metric_name(name)] = _finite(value)
    if _finite(evaluation.get("rows")) is not None:
        found["count"] = _finite(evaluation["rows"])
    for cls, values in sorted((evaluation.get("per_class") or {}).items()):
        for name, value in sorted((values or {}).items()):
            if _finite(value) is not None:
                found[metric_name("class", cls, name)] = _finite(value)
    for column, groups in sorted((evaluation.get("slices") or {}).items()):
        for group, values in sorted((groups or {}).items()):
            for name, value in sorted((values or {}).items()):
                if _finite(value) is not None:
                    found[metric_name("slice", column, group, name)] = _finite(value)
    return found


def _params(model_info: Mapping[str, Any], blessing: Mapping[str, Any],
            evaluation: Mapping[str, Any], data: Mapping[str, Any], model_name: str,
            registry_uri: str) -> Dict[str, Any]:
    params: Dict[str, Any] = {}
    for name, value in sorted((model_info.get("hyperparameters") or {}).items()):
        params[name] = value
    for key in ("trainer", "task", "label"):
        if model_info.get(key) not in (None, ""):
            params[key] = model_info[key]
    if "task" not in params and blessing.get("task"):
        params["task"] = blessing["task"]
    for key in ("thresholds", "max_regression"):
        if key in blessing:
            params[key] = blessing.get(key) or {}
    if evaluation.get("slices") is not None:
        params["slice_columns"] = sorted(evaluation.get("slices") or {})
    if data.get("source"):
        params["data_source"] = data["source"]
    for split, rows in sorted((data.get("splits") or {}).items()):
        params[f"rows.{split}"] = rows
    if model_name:
        params["model_name"] = model_name
    if registry_uri:
        params["registry_uri"] = registry_uri
    return params


def collect(blessing_dir: str, pushed_dir: str, dataset_dir: str = "",
            dataset_metadata: Optional[Mapping[str, Any]] = None, schema_dir: str = "",
            schema_uri: str = "", model_dir: str = "", report_path: str = "",
            pipeline_run: str = "", model_name: str = "",
            registry_uri: str = "") -> RunRecord:
    """Reads one training run's outputs into a :class:`RunRecord`.

    Args:
        blessing_dir: Blessing folder from evaluate (``blessing.json``, ``evaluation.json``).
        pushed_dir: Push's ``pushed_model`` folder (``push.json``: pushed or why not).
        dataset_dir: Dataset folder from ingest (``dataset.json``: content hash, source).
        dataset_metadata: The dataset artifact's metadata, used when ``dataset.json`` is not
            in ``dataset_dir``.
        schema_dir: Schema folder from validate (``schema.pbtxt``), hashed.
        schema_uri: Where the schema is kept (the artifact's uri), recorded as given.
        model_dir: SavedModel folder from train; its kfp-mlops metadata holds the
            hyperparameters. Empty: none recorded.
        report_path: Evaluate's HTML report, logged as an artifact when it is there.
        pipeline_run: The pipeline run's name: the tracked run's name.
        model_name: Registered model name.
        registry_uri: The model registry.

    Raises:
        TrackError: the blessing, push record or schema is missing or malformed.
    """
    try:
        blessing = push_records.read_blessing(blessing_dir)
        pushed = push_records.read_record(pushed_dir)
    except push_records.PushError as e:
        raise TrackError(str(e)) from e
    evaluation_path = os.path.join(blessing_dir, push_records.EVALUATION_FILE)
    evaluation = io.read_json(evaluation_path) if os.path.isfile(evaluation_path) else {}
    data = push_records.dataset_info(dataset_dir, dict(dataset_metadata or {}))
    model_info: Dict[str, Any] = {}
    if model_dir:
        try:
            model_info = model_io.read_metadata(model_dir)
        except (OSError, ValueError) as e:
            raise TrackError(f"model {model_dir!r}: its kfp-mlops metadata cannot be read "
                             f"({e}); expected the model artifact of the train component") \
                from e
    run_name = pipeline_run or f"{model_name or 'model'}-{data.get('content_hash', '')[:12]}"
    params = _params(model_info, blessing, evaluation, data, model_name, registry_uri)
    reasons = list(pushed.get("reasons") or blessing["reasons"])
    tags = {
        "blessed": blessing["blessed"],
        "reasons": "\n".join(reasons),
        "pushed": bool(pushed.get("pushed")),
        "registered_version": str(pushed.get("version") or ""),
        "champion": bool(pushed.get("champion")),
        "model_name": model_name or pushed.get("model_name", ""),
        "registry_uri": registry_uri or pushed.get("registry", ""),
        "pipeline_run": pipeline_run,
        "data_content_hash": data.get("content_hash", ""),
        "schema_uri": schema_uri,
        "schema_hash": _schema_hash(schema_dir),
        "main_metric": blessing.get("main_metric", ""),
    }
    artifacts = {}
    blessing_path = os.path.join(blessing_dir, push_records.BLESSING_FILE)
    push_path = os.path.join(pushed_dir, push_records.PUSH_FILE)
    for name, path in ((push_records.BLESSING_FILE, blessing_path),
                       (push_records.EVALUATION_FILE, evaluation_path),
                       (push_records.PUSH_FILE, push_path), ("report.html", report_path)):
        if path and os.path.isfile(path):
            artifacts[name] = path
    return RunRecord(
        run_name=_text(run_name, MAX_NAME_LENGTH),
        params={metric_name(k): _text(v, MAX_PARAM_LENGTH) for k, v in params.items()},
        metrics=_metrics(blessing, evaluation),
        tags={k: _text(v, MAX_TAG_LENGTH) for k, v in tags.items()},
        artifacts=artifacts)


# --- MLflow -----------------------------------------------------------------------------

def default_tracking_uri(folder: str) -> str:
    """The embedded store of a local run: ``sqlite:///<folder>/mlflow.db`` (absolute)."""
    return f"sqlite:///{os.path.join(os.path.abspath(folder), 'mlflow.db')}"


def sqlite_path(tracking_uri: str) -> str:
    """The database file of a ``sqlite:///`` tracking URI ("" for any other URI)."""
    prefix = "sqlite:///"
    return tracking_uri[len(prefix):] if tracking_uri.startswith(prefix) else ""


def _client(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _experiment_id(client, tracking_uri: str, experiment: str) -> str:
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    database = sqlite_path(tracking_uri)
    # An embedded store keeps artifacts beside itself, not in ./mlruns of whatever folder
    # the task ran in (MLflow's default artifact root for a database store:
    # mlflow/store/tracking/sqlalchemy_store.py, SqlAlchemyStore.__init__ default_artifact_root).
    location = (os.path.join(os.path.dirname(database), ARTIFACTS_FOLDER)
                if database else None)
    from mlflow.exceptions import MlflowException

    try:
        return client.create_experiment(
            experiment, artifact_location=("file://" + location) if location else None)
    except MlflowException:
        found = client.get_experiment_by_name(experiment)   # made by a run at the same time
        if found is None:
            raise
        return found.experiment_id


def _existing_run(client, experiment_id: str, pipeline_run: str) -> Optional[str]:
    """A run this pipeline run recorded already (the task retried): logged into again."""
    if not pipeline_run:
        return None
    quoted = pipeline_run.replace("'", "\\'")
    runs = client.search_runs([experiment_id], filter_string=f"tags.pipeline_run = '{quoted}'",
                              max_results=1)
    return runs[0].info.run_id if runs else None


def log_mlflow(record: RunRecord, tracking_uri: str, experiment: str) -> Tuple[str, str]:
    """Logs ``record`` as one MLflow run; returns (run id, experiment id).

    Args:
        record: What :func:`collect` read.
        tracking_uri: An MLflow tracking URI: ``sqlite:///<path>`` (the folder is created),
            ``http(s)://`` a tracking server, or any other URI MLflow takes.
        experiment: The MLflow experiment, created when missing.
    """
    from mlflow.entities import Metric, Param, RunTag

    database = sqlite_path(tracking_uri)
    if database:
        os.makedirs(os.path.dirname(database) or ".", exist_ok=True)
    client = _client(tracking_uri)
    experiment_id = _experiment_id(client, tracking_uri, experiment)
    run_id = _existing_run(client, experiment_id, record.tags.get("pipeline_run", ""))
    if run_id is None:
        run_id = client.create_run(experiment_id, run_name=record.run_name).info.run_id
    try:
        import time

        now = int(time.time() * 1000)
        params = [Param(k, v) for k, v in sorted(record.params.items())]
        tags = [RunTag(k, v) for k, v in sorted(record.tags.items())]
        metrics = [Metric(k, v, now, 0) for k, v in sorted(record.metrics.items())]
        for i in range(0, max(len(params), len(tags)), PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[i:i + PARAMS_PER_BATCH],
                             tags=tags[i:i + PARAMS_PER_BATCH])
        for i in range(0, len(metrics), METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[i:i + METRICS_PER_BATCH])
        if record.artifacts:
            import shutil
            import tempfile

            # each file under its name in the record (kfp names evaluate's report "report")
            with tempfile.TemporaryDirectory() as folder:
                for name, path in sorted(record.artifacts.items()):
                    shutil.copyfile(path, os.path.join(folder, name))
                client.log_artifacts(run_id, folder)
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    logger.info("recorded run %r in MLflow experiment %r (run id %s, %s)", record.run_name,
                experiment, run_id, shown_uri(tracking_uri))
    return run_id, experiment_id


def read_runs(tracking_uri: str, experiment: str = "") -> List[Dict[str, Any]]:
    """The runs of an MLflow store, oldest first, as plain dicts: ``run_id``, ``run_name``,
    ``experiment``, ``experiment_id``, ``status``, ``start_time`` (ms), ``params``, ``metrics``, ``tags``.

    Args:
        tracking_uri: The MLflow tracking URI.
        experiment: Only this experiment's runs; empty: every experiment's.

    Raises:
        TrackError: ``experiment`` is not in the store.
    """
    client = _client(tracking_uri)
    experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    if experiment:
        ids = [i for i, name in experiments.items() if name == experiment]
        if not ids:
            raise TrackError(f"experiment {experiment!r} is not in {shown_uri(tracking_uri)}"
                             f"; experiments are: {', '.join(sorted(experiments.values())) or 'none'}")
    else:
        ids = list(experiments)
    runs = []
    if ids:
        for run in client.search_runs(ids, order_by=["attributes.start_time ASC"],
                                      max_results=50000):
            runs.append({
                "run_id": run.info.run_id,
                "run_name": run.info.run_name,
                "experiment": experiments.get(run.info.experiment_id, ""),
                "experiment_id": run.info.experiment_id,
                "status": run.info.status,
                "start_time": run.info.start_time,
                "params": dict(run.data.params),
                "metrics": dict(run.data.metrics),
                "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
            })
    return runs


# --- Vertex AI Experiments --------------------------------------------------------------

def parse_vertex_uri(uri: str) -> Tuple[str, str]:
    """(project, location) of ``vertex://projects/<project>/locations/<location>``."""
    match = re.match(r"^vertex://projects/([^/]+)/locations/([^/]+)/?$", uri or "")
    if not match:
        raise TrackError(f"tracking_uri {uri!r} is not a Vertex AI URI; expected "
                         "vertex://projects/<project>/locations/<region>")
    return match.group(1), match.group(2)


def log_vertex(record: RunRecord, project: str, location: str, experiment: str) -> str:
    """Logs ``record`` as one run of a Vertex AI experiment (created when missing); returns
    the run's name in it.

    Parameters and metrics go in as they are in the record; the decision and lineage tags,
    which Vertex AI Experiments has no place for, go in as parameters ``tag.<name>``.
    """
    from google.cloud import aiplatform

    experiment_id = vertex_id(experiment)
    run_id = vertex_run_id(experiment_id, record.run_name)
    found = aiplatform.Experiment.get_or_create(experiment_id, project=project,
                                                location=location)
    run = aiplatform.ExperimentRun.create(run_id, experiment=found, project=project,
                                          location=location)
    params: Dict[str, Any] = dict(record.params)
    params.update({f"tag.{k}": v for k, v in record.tags.items() if k != "reasons"})
    params["tag.reasons"] = record.tags.get("reasons", "")
    run.log_params(params)
    run.log_metrics(dict(record.metrics))
    run.end_run()
    logger.info("recorded run %r in Vertex AI experiment %r (%s, %s)", run_id, experiment_id,
                project, location)
    return run_id


# --- the whole step ---------------------------------------------------------------------

def track(record: RunRecord, tracking_uri: str = "", experiment: str = "",
          registry_uri: str = "", output_dir: str = "") -> TrackResult:
    """Records ``record`` where the run asked for it.

    Args:
        record: What :func:`collect` read.
        tracking_uri: An MLflow tracking URI (``sqlite:///...``, ``http(s)://...``), or
            ``vertex://projects/<p>/locations/<r>`` for Vertex AI Experiments only. Empty:
            no MLflow record (``kfp-mlops run`` passes its output folder's store).
        experiment: Experiment name; empty: the model name.
        registry_uri: A ``vertex://`` registry also records the run in Vertex AI
            Experiments of the registry's project and region.
        output_dir: Where to write ``tracking.json``; empty: nowhere.
    """
    check_settings(tracking_uri, experiment, record.tags.get("model_name", ""), registry_uri)
    experiment = experiment or record.tags.get("model_name") or "default"
    result = TrackResult(run_name=record.run_name, experiment=experiment,
                         tracking_uri=shown_uri(tracking_uri),
                         metrics=dict(record.metrics))
    vertex: Optional[Tuple[str, str]] = None
    if tracking_uri.startswith(VERTEX_PREFIX):
        vertex = parse_vertex_uri(tracking_uri)
    elif registry_uri.startswith(VERTEX_PREFIX):
        vertex = parse_vertex_uri(registry_uri)
    if tracking_uri and not tracking_uri.startswith(VERTEX_PREFIX):
        result.mlflow_run_id, result.mlflow_experiment_id = log_mlflow(
            record, tracking_uri, experiment)
    elif not tracking_uri:
        result.notes.append("no MLflow record: tracking_uri is empty (kfp-mlops run gives "
                            "its output folder's mlflow.db; pass a tracking server's URI "
                            "elsewhere)")
    if vertex is not None:
        result.vertex_experiment = vertex_id(experiment)
        result.vertex_run = log_vertex(record, vertex[0], vertex[1], experiment)
    if output_dir:
        with io.output_dir(output_dir) as out:
            io.write_json(os.path.join(out, TRACKING_FILE), result.metadata())
    for note in result.notes:
        logger.info("%s", note)
    return result


def sorted_metrics(metrics: Mapping[str, float]) -> Iterable[Tuple[str, float]]:
    """Overall metrics first, then per class, then per slice; by name within each."""
    def rank(name: str) -> Tuple[int, str]:
        return (2 if name.startswith("slice/") else 1 if name.startswith("class/") else 0,
                name)
    return sorted(metrics.items(), key=lambda kv: rank(kv[0]))


__all__: Sequence[str] = (
    "RunRecord", "TrackResult", "TrackError", "collect", "track", "log_mlflow", "log_vertex",
    "read_runs", "metric_name", "vertex_id", "vertex_run_id", "default_tracking_uri")
