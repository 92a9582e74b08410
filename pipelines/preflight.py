"""Every parameter check that needs no data, before a pipeline's first task.

``local.run`` (and so ``kfp-mlops run``), ``kfp-mlops submit`` and ``kfp-mlops schedule`` call
:func:`check` before anything runs or is compiled: an invalid model name, a threshold on a
metric evaluate does not compute, ``epochs=-1``, ``split_ratios=[1, 0, 0]`` for training,
``learning_rate=nan`` or a webhook URL with a space fail at once, in one error that lists
every problem, each naming the parameter and what is valid.

The rules are not written here. Each lives with the component that relies on it, which calls
it at run time too (a team that uses a component alone gets the same message):

=========================================  ==================================================
rule                                       home
=========================================  ==================================================
model_name, aliases, model_version,        ``components/_shared/registry/``
registry_uri                               (``check_model_name``, ``check_aliases``,
                                           ``check_version_ref``, ``parse_registry_uri``)
traffic_percentage                         ``components/push/deploy.py``
                                           ``check_traffic_percentage``
split_ratios, csv_delimiter                ``components/ingest/core.py`` (``parse_split_ratios``,
                                           ``check_csv_delimiter``)
skew_threshold(s), keep_columns,           ``components/validate/core.py`` ``check_settings``
drop_columns                               (column lists: ``validate/columns.py``)
task, epochs, batch_size, learning_rate,   ``components/train/core.py`` ``check_settings``
hidden_units
thresholds, max_regression,                ``components/evaluate/core.py`` ``check_limits``
max_slice_gap, min_slice_rows              (metric names: ``METRICS`` / ``ALL_METRICS``)
model_version, skew/drift threshold(s)     ``components/monitor/core.py`` ``check_settings``
max_degradation, min_rows (performance)    ``components/performance/core.py`` ``check_settings``
webhook_url(_env), pubsub_topic            ``components/alert/core.py`` (``check_webhook_url``,
                                           ``check_webhook_url_env``, ``check_pubsub_topic``)
tracking_uri, experiment                   ``components/track/core.py`` ``check_settings``
retrain settings, training_parameters      ``components/retrain/core.py`` (``check_settings``,
                                           ``training_parameters``), then the training rules
number, range and threshold helpers        ``components/_shared/checks.py``
=========================================  ==================================================

What this module adds is only what belongs to a pipeline rather than a component: which
parameters exist and are required, their KFP types, and which splits a pipeline needs
(training evaluates on ``test``; training and data-validation compare ``train`` with
``eval``; monitoring reads its batch into one split).

Light: stdlib and the components' pure cores at import time (no kfp, TF, TFDV or cloud SDK);
the pipeline's parameter list is asked of ``kfp_mlops.pipelines.local`` only when not given.
"""
import re
from typing import Any, Callable, Dict, List, Mapping, Optional

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.alert import core as alert
from kfp_mlops.components.evaluate import core as evaluate
from kfp_mlops.components.evaluate import slices
from kfp_mlops.components.ingest import core as ingest
from kfp_mlops.components.monitor import core as monitor
from kfp_mlops.components.performance import core as performance
from kfp_mlops.components.predict import core as predict
from kfp_mlops.components.push import deploy
from kfp_mlops.components.retrain import core as retrain
from kfp_mlops.components.track import core as track
from kfp_mlops.components.train import core as train
from kfp_mlops.components.validate import core as validate

#: The splits each pipeline's ``split_ratios`` must give a share above 0.
NEEDED_SPLITS = {
    "training": ("train", "eval", "test"),   # validate skew and early stopping: eval; evaluate: test
    "data-validation": ("train", "eval"),    # validate compares train with eval
}

_TYPES = {"String": (str,), "Integer": (int,), "Float": (int, float), "Boolean": (bool,),
          "List": (list, tuple), "Dict": (dict,)}


class PreflightError(ValueError):
    """The parameters of a pipeline run are invalid; ``problems`` lists each one."""

    def __init__(self, pipeline: str, problems: List[str]):
        self.pipeline = pipeline
        self.problems = list(problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"pipeline {pipeline!r}: {count} with its parameters, found before "
                         "any task ran:\n  - " + "\n  - ".join(problems))


def _collect(problems: List[str], rule: Callable, *args, **kwargs) -> Any:
    """Runs one component rule, keeping every problem it names."""
    try:
        return rule(*args, **kwargs)
    except ValueError as e:
        problems.extend(getattr(e, "problems", None) or [str(e)])
        return None


def _parameters(pipeline_name: str) -> Dict[str, Dict[str, Any]]:
    from kfp_mlops.pipelines import local

    return local.pipeline_parameters(pipeline_name)


def problems(pipeline_name: str, parameters: Mapping[str, Any],
             known: Optional[Mapping[str, Mapping[str, Any]]] = None) -> List[str]:
    """Every problem of ``parameters`` for ``pipeline_name`` that needs no data; [] if none.

    Args:
        pipeline_name: ``training``, ``data-validation`` or ``monitoring``.
        parameters: the run's arguments, of the pipeline's types; defaults fill the rest.
        known: the pipeline's parameters as ``local.pipeline_parameters`` gives them
            (type, default, required); None asks it.
    """
    known = known if known is not None else _parameters(pipeline_name)
    found: List[str] = []
    unknown = sorted(set(parameters) - set(known))
    for name in unknown:
        found.append(f"{name} is not a parameter of pipeline {pipeline_name!r}; its "
                     f"parameters are {', '.join(sorted(known))}")
    p: Dict[str, Any] = {name: spec.get("default") for name, spec in known.items()}
    p.update({k: v for k, v in parameters.items() if k in known})
    mistyped: Dict[str, str] = {}
    for name, spec in sorted(known.items()):
        value = p.get(name)
        if spec.get("required") and name not in parameters:
            found.append(f"{name} is required and was not given")
            continue
        if spec.get("required") and isinstance(value, str) and not value.strip():
            found.append(f"{name} is required and was given empty")
            continue
        types = _TYPES.get(spec.get("type", ""))
        if types and (not isinstance(value, types)
                      or (bool not in types and isinstance(value, bool))):
            article = "an" if spec["type"] == "Integer" else "a"
            mistyped[name] = f"{name}={value!r}: expected {article} {spec['type']} value"
    rules = _RULES.get(pipeline_name)
    named: List[str] = []
    if rules is not None:
        rules(p, named, pipeline_name)
    # A value of the wrong type is named once: by its rule when it has one, else here.
    found.extend(m for n, m in mistyped.items()
                 if not any(re.match(rf"(training_parameters: )?{re.escape(n)}\b", r)
                            for r in named))
    found.extend(named)
    return found


def check(pipeline_name: str, parameters: Mapping[str, Any],
          known: Optional[Mapping[str, Mapping[str, Any]]] = None) -> None:
    """Raises :class:`PreflightError` listing every problem :func:`problems` finds."""
    found = problems(pipeline_name, parameters, known)
    if found:
        raise PreflightError(pipeline_name, found)


# --------------------------------------------------------------------------- per pipeline

def _registry(p: Mapping[str, Any], found: List[str]) -> None:
    if p.get("model_name") not in (None, ""):
        _collect(found, reg.check_model_name, p["model_name"])
    if p.get("registry_uri") not in (None, ""):
        _collect(found, reg.parse_registry_uri, p["registry_uri"])


def _ingest(p: Mapping[str, Any], found: List[str], pipeline_name: str) -> None:
    if "split_ratios" in p:
        _collect(found, ingest.parse_split_ratios, p["split_ratios"],
                 needed=NEEDED_SPLITS.get(pipeline_name, ("train",)))
    if "csv_delimiter" in p:   # when the pipeline has the parameter
        _collect(found, ingest.check_csv_delimiter, p["csv_delimiter"])


def _training(p: Dict[str, Any], found: List[str], pipeline_name: str) -> None:
    _registry(p, found)
    _ingest(p, found, pipeline_name)
    _collect(found, validate.check_settings, p["skew_threshold"], p["skew_thresholds"],
             p["keep_columns"], p["drop_columns"], p["label_column"])
    _collect(found, train.check_settings, task=p["task"], epochs=p["epochs"],
             batch_size=p["batch_size"], learning_rate=p["learning_rate"],
             hidden_units=p["hidden_units"])
    task = p["task"] if p["task"] in train.model_io.TASKS else ""
    _collect(found, evaluate.check_limits, p["thresholds"], p["max_regression"], task,
             max_slice_gap=p.get("max_slice_gap"),
             min_slice_rows=p.get("min_slice_rows", slices.DEFAULT_MIN_SLICE_ROWS),
             slice_columns=p["slice_columns"] if isinstance(p["slice_columns"], list) else None)
    _collect(found, reg.check_aliases, p["aliases"])
    _collect(found, deploy.check_traffic_percentage, p["traffic_percentage"])
    if "tracking_uri" in p:   # when the pipeline records its runs
        _collect(found, track.check_settings, p["tracking_uri"], p.get("experiment", ""),
                 p["model_name"], p["registry_uri"])


def _data_validation(p: Dict[str, Any], found: List[str], pipeline_name: str) -> None:
    _ingest(p, found, pipeline_name)
    _collect(found, validate.check_settings, p["skew_threshold"], p["skew_thresholds"],
             p["keep_columns"], p["drop_columns"], p["label_column"])


def _monitoring(p: Dict[str, Any], found: List[str], pipeline_name: str) -> None:
    _registry(p, found)
    _ingest(p, found, pipeline_name)
    _collect(found, monitor.check_settings, p["model_version"], p["skew_threshold"],
             p["skew_thresholds"], p["drift_threshold"], p["drift_thresholds"])
    _collect(found, alert.check_webhook_url, p["webhook_url"])
    _collect(found, alert.check_webhook_url_env, p["webhook_url_env"])
    if p["webhook_url"] and p["webhook_url_env"]:
        found.append("webhook_url and webhook_url_env are both set; give one")
    _collect(found, alert.check_pubsub_topic, p["pubsub_topic"])
    if p["retrain_on_drift"] is True:
        _retraining(p, found)


def _performance_monitoring(p: Dict[str, Any], found: List[str], pipeline_name: str) -> None:
    _registry(p, found)
    _ingest(p, found, pipeline_name)
    _collect(found, performance.check_settings, p["max_degradation"], p["min_rows"])
    _collect(found, alert.check_webhook_url, p["webhook_url"])
    _collect(found, alert.check_webhook_url_env, p["webhook_url_env"])
    if p["webhook_url"] and p["webhook_url_env"]:
        found.append("webhook_url and webhook_url_env are both set; give one")
    _collect(found, alert.check_pubsub_topic, p["pubsub_topic"])
    if p["retrain_on_degradation"] is True:
        _retraining(p, found)


def _retraining(p: Dict[str, Any], found: List[str]) -> None:
    """What retrain checks when retrain_on_drift is on, then the training run's arguments
    (``training_parameters`` plus the four retrain passes) against the training rules."""
    before = len(found)
    _collect(found, retrain.check_settings, p["retrain_target"], p["retrain_data_uri"],
             p["label_column"], p["model_name"], p["registry_uri"], p["training_template_uri"],
             p["project"], p["region"], p["pipeline_root"])
    if len(found) > before or not isinstance(p["training_parameters"], dict):
        return
    params = _collect(found, retrain.training_parameters, p["retrain_data_uri"],
                      p["label_column"], p["model_name"], p["registry_uri"],
                      p["training_parameters"])
    if params is None:
        return
    # The four retrain passes are this pipeline's own, already checked above.
    found.extend(f"training_parameters: {problem}"
                 for problem in problems(retrain.TRAINING, params) if problem not in found)


def _batch_prediction(p: Dict[str, Any], found: List[str], pipeline_name: str) -> None:
    _registry(p, found)
    _collect(found, ingest.check_csv_delimiter, p["csv_delimiter"])
    _collect(found, predict.check_settings, p["runner"], p["registry_uri"] or "",
             p["data_uri"] or "", p["vertex_destination"], p["rows_per_file"],
             p["output_uri"])


_RULES: Dict[str, Callable[..., None]] = {
    "training": _training,
    "data-validation": _data_validation,
    "monitoring": _monitoring,
    "performance-monitoring": _performance_monitoring,
    "batch-prediction": _batch_prediction,
}
