"""Push: registers a blessed model with its schema, baseline statistics and lineage.

Plain Python, no kfp import. Push acts only on a positive blessing from ``evaluate``;
a model that was not blessed is not pushed, and the result says why (this is not an error:
the pipeline run succeeds and records the decision).

The ``champion`` alias moves only from the version evaluate compared the model with (the
blessing's champion; none on a first run). Push registers the version with every other
alias it was asked for, then moves ``champion`` by compare-and-set: on a folder registry
(local, ``gs://``, ``s3://``) :meth:`FolderRegistry.compare_and_set_alias`, atomic against
every other alias update; on Vertex AI, which has no conditional alias update,
:meth:`VertexRegistry.compare_and_set_alias` re-reads the alias right before moving it (a
window of two API calls remains). When another run moved the champion since evaluation,
push **declines** to move it and says so (``champion`` false, ``champion_reason``); the
version stays registered without the alias, for audit and a later promotion. Push does not
compare again itself: that would mean scoring the new champion on the test rows, which is
evaluate's work; the next training run compares with the new champion.

Push checks its blessing; the other input folders are checked once, by the registry that
stores them (``registry.check_inputs``), before anything is written. With ``endpoint_name``
on a ``vertex://`` registry, push deploys the registered version afterwards (:mod:`deploy`).

Right after registering, push writes the version's model card (``model_card.html`` and
``model_card.md`` beside its companions, create-only: :func:`model_card.write` says why
then) and, with ``model_card_path``, a copy of the HTML card for the run. The lineage keeps
the blessing's settings and checks (``blessing``), which the card shows.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.push import deploy
from kfp_mlops.components.push import model_card
# What the other components read of push's inputs and outputs lives in records (light).
from kfp_mlops.components.push.records import (  # noqa: F401 (re-exported)
    BLESSING_FILE, DATASET_INFO_FILE, EVALUATION_FILE, MODEL_INFO_FILE, PUSH_FILE, PushError,
    dataset_info, read_blessing, read_record)

logger = logging.getLogger(__name__)

@dataclasses.dataclass
class PushResult:
    pushed: bool
    reasons: List[str]
    registry: str
    model_name: str
    version: str = ""
    model_uri: str = ""
    version_uri: str = ""
    aliases: List[str] = dataclasses.field(default_factory=list)
    already_registered: bool = False
    endpoint: str = ""
    #: Whether the version holds the ``champion`` alias after this push, and why (or why
    #: not: e.g. the champion moved since evaluation).
    champion: bool = False
    champion_reason: str = ""
    #: For Google Cloud's artifact types (component.py): the Vertex AI model version
    #: ``projects/P/locations/L/models/M@V`` ("" off Vertex AI) and the serving image. Not
    #: part of :meth:`metadata`.
    vertex_resource_name: str = ""
    serving_image: str = ""
    #: ``{"html": uri, "md": uri}`` of the version's model card ({} when not pushed).
    model_card: Dict[str, str] = dataclasses.field(default_factory=dict)

    def metadata(self) -> Dict[str, Any]:
        """What the ``pushed_model`` artifact carries, and what ``push.json`` holds."""
        return {
            "pushed": self.pushed,
            "version": self.version,
            "registry": self.registry,
            "model_name": self.model_name,
            "model_uri": self.model_uri,
            "version_uri": self.version_uri,
            "reasons": list(self.reasons),
            "aliases": list(self.aliases),
            "already_registered": self.already_registered,
            "endpoint": self.endpoint,
            "champion": self.champion,
            "champion_reason": self.champion_reason,
            "model_card": self.model_card.get("html", ""),
        }


def _model_info(model_dir: str) -> Dict[str, Any]:
    path = os.path.join(model_dir, MODEL_INFO_FILE)
    return io.read_json(path) if os.path.isfile(path) else {}


#: The blessing names a champion but not its version (a blessing made by calling evaluate's
#: core with a champion folder and no ``champion_version``).
_UNKNOWN = object()


def compared_champion(blessing: Dict[str, Any]):
    """The champion version the blessing compared with: a string, None for no champion
    (the blessing's ``champion`` is null or absent), or :data:`_UNKNOWN`."""
    champion = blessing.get("champion")
    if not champion:
        return None
    version = champion.get("version") if isinstance(champion, dict) else None
    return _UNKNOWN if version in (None, "") else str(version)


def _name(version) -> str:
    return "no version" if version is None else f"version {version}"


def _current_champion(registry, model_name: str) -> Optional[str]:
    try:
        return str(registry.resolve(model_name, reg.CHAMPION).version)
    except (reg.ModelNotFoundError, reg.VersionNotFoundError):
        return None


def audit_reason(blessing: Dict[str, Any], blessing_uri: str = "") -> str:
    """Why push moves champion, for the registry's audit log: the blessing and its reasons."""
    where = f" {blessing_uri}" if blessing_uri else ""
    reasons = "; ".join(blessing.get("reasons") or []) or "no reasons given"
    return f"blessed by evaluate (blessing{where}): {reasons}"


def move_champion(registry, model_name: str, version: str, expected,
                  vertex: bool = False, by: str = "", reason: str = "") -> Tuple[bool, str]:
    """Moves ``champion`` to ``version`` only from ``expected``, the version the blessing
    compared with (None: no champion); returns (holds champion now, why).

    ``by`` (the pipeline run) and ``reason`` (:func:`audit_reason`) go to the registry's
    audit log with the move (``operation`` ``push``)."""
    how = ("re-read just before the move; Vertex AI has no compare-and-set" if vertex
           else "compare-and-set")
    for _ in range(3):
        current = _current_champion(registry, model_name)
        if current == version:
            return True, f"champion=yes: version {version} already holds champion"
        if expected is _UNKNOWN:
            return False, (f"champion=no: the blessing does not name the champion version it "
                           f"compared with, so champion stays at {_name(current)}; version "
                           f"{version} is registered without it")
        if current != expected:
            return False, (f"champion=no: champion moved from {_name(expected)} to "
                           f"{_name(current)} since evaluation (another run); version "
                           f"{version} was compared with {_name(expected)} only, so it is "
                           f"registered without the champion alias and champion stays at "
                           f"{_name(current)}; push does not compare again: run training again to "
                           f"compare with {_name(current)}, or promote it with "
                           f"`kfp-mlops registry promote`")
        try:
            registry.compare_and_set_alias(model_name, reg.CHAMPION, version, expected,
                                           by=by, reason=reason, operation=reg.audit.PUSH)
        except reg.AliasConflictError as e:
            logger.info("champion of %r moved while this push moved it: %s", model_name, e)
            continue  # re-read: report where it went
        return True, (f"champion=yes: champion moved from {_name(expected)} to {version}, "
                      f"the version evaluate compared with ({how})")
    return False, (f"champion=no: champion of {model_name!r} kept moving while this push "
                   f"tried to move it; version {version} is registered without it")


def _write_record(output_dir: str, result: PushResult) -> None:
    if output_dir:
        with io.output_dir(output_dir) as out:
            io.write_json(os.path.join(out, PUSH_FILE), result.metadata())


def push(model_dir: str, blessing_dir: str, schema_dir: str, statistics_dir: str,
         registry_uri: str, model_name: str, dataset_info: Optional[Dict] = None,
         pipeline_run: str = "", aliases: Sequence[str] = (reg.CHAMPION,),
         serving_image: str = reg.DEFAULT_SERVING_IMAGE, endpoint_name: str = "",
         traffic_percentage: int = 0, machine_type: str = deploy.DEFAULT_MACHINE_TYPE,
         output_dir: str = "", model_card_path: str = "") -> PushResult:
    """Registers a blessed model version; does nothing (and says why) for any other.

    Args:
        model_dir: TF SavedModel folder from train.
        blessing_dir: Blessing folder from evaluate (``blessing.json``, ``evaluation.json``).
        schema_dir: Schema folder from validate (``schema.pbtxt``).
        statistics_dir: Statistics folder from validate (``Split-<split>/FeatureStats.pb``);
            stored whole, its train split is the monitoring baseline.
        registry_uri: A folder registry -- local path / ``file://`` URI, ``gs://B/F``,
            ``s3://B/F`` or ``/gcs/B/F`` (used as ``gs://B/F``) -- or
            ``vertex://projects/P/locations/R``.
        model_name: Registered model name (letters, digits, ``-``, ``_``, ``.``).
        dataset_info: The training dataset's ``dataset.json`` (content hash, source).
        pipeline_run: Pipeline run name or ID, recorded in the lineage (and Vertex labels).
        aliases: Aliases moved to the new version; ``champion`` is what evaluate compares to,
            and moves only from the champion the blessing compared with (see the module
            docstring); the others move unconditionally.
        serving_image: Vertex AI serving container for the uploaded model.
        endpoint_name: Vertex AI endpoint display name to deploy to; empty: no deployment.
        traffic_percentage: Share of the endpoint's traffic for the new version (0-100).
        machine_type: Vertex AI machine type of the deployment (:func:`deploy.deploy`).
        output_dir: Where to write ``push.json`` (the decision); empty: nowhere.
        model_card_path: Where to write a copy of the version's HTML model card (a page
            saying why there is none when the model was not pushed); empty: nowhere.

    Returns:
        A :class:`PushResult`; ``pushed`` is False when the blessing was negative;
        ``champion`` / ``champion_reason`` say whether the version holds ``champion``.

    Raises:
        PushError: the blessing is missing or malformed.
        RegistryError: the registry URI, model name or an alias is invalid, or an input
            folder is not what the registry stores (:func:`registry.check_inputs`).
        DeployError: ``traffic_percentage`` is not 0-100.
    """
    location = reg.parse_registry_uri(registry_uri)
    reg.check_model_name(model_name)
    aliases = reg.check_aliases(aliases)
    traffic_percentage = deploy.check_traffic_percentage(traffic_percentage)
    blessing = read_blessing(blessing_dir)
    if not blessing["blessed"]:
        reasons = blessing["reasons"] or ["evaluate did not bless the model"]
        logger.info("model %r was not blessed, not pushing: %s", model_name, "; ".join(reasons))
        result = PushResult(pushed=False, reasons=reasons, registry=registry_uri,
                            model_name=model_name,
                            champion_reason="champion=no: the model was not pushed")
        _write_record(output_dir, result)
        if model_card_path:
            io.write_text(model_card_path, model_card.render_absent(model_name, reasons))
        return result

    evaluation_path = os.path.join(blessing_dir, EVALUATION_FILE)
    evaluation = (io.read_json(evaluation_path) if os.path.isfile(evaluation_path)
                  else {"metrics": blessing.get("metrics", {})})
    data = dict(dataset_info or {})
    champion = blessing.get("champion") or None
    lineage = {
        "data_content_hash": data.get("content_hash", ""),
        "data_source": data.get("source", ""),
        "data_splits": data.get("splits", {}),
        "pipeline_run": pipeline_run,
        "model_artifact": model_dir,
        "model_info": _model_info(model_dir),
        "reasons": blessing["reasons"],
        "blessing_metrics": blessing.get("metrics", {}),
        "previous_champion": champion,
        # what the model card shows of the blessing (older versions lack it)
        "blessing": {k: blessing[k] for k in (
            "blessed", "task", "main_metric", "thresholds", "max_regression", "max_slice_gap",
            "min_slice_rows", "checks") if k in blessing},
    }
    registry = reg.open_registry(registry_uri)
    # champion moves afterwards, only from the champion the blessing compared with
    others = [a for a in aliases if a != reg.CHAMPION]
    vertex = location.kind == "vertex"
    if not vertex:
        version = registry.register(model_name, model_dir, schema_dir, statistics_dir,
                                    evaluation, lineage, aliases=others)
    else:
        version = registry.register(model_name, model_dir, schema_dir, statistics_dir,
                                    evaluation, lineage, aliases=others,
                                    serving_image=serving_image)
    # the card, right after the version exists (model_card.write: why then)
    card = model_card.make(version, registry_uri)
    card_uris = model_card.write(version, registry_uri, card)
    if model_card_path:
        io.write_text(model_card_path, model_card.render_html(card))
    if vertex and endpoint_name:
        deploy.deploy(version, endpoint_name, location.project, location.location,
                      traffic_percentage=traffic_percentage, machine_type=machine_type)
    elif endpoint_name:
        logger.warning("endpoint_name %r ignored: deployment needs a vertex:// registry",
                       endpoint_name)
    already = version.reused
    held = set(version.aliases)
    reasons = list(blessing["reasons"])
    if reg.CHAMPION in aliases:
        is_champion, why = move_champion(registry, model_name, str(version.version),
                                         compared_champion(blessing), vertex=vertex,
                                         by=pipeline_run or "push",
                                         reason=audit_reason(blessing, blessing_dir))
        held.discard(reg.CHAMPION)
        if is_champion:
            held.add(reg.CHAMPION)
        reasons.insert(0, why)
        (logger.info if is_champion else logger.warning)("%s", why)
    else:
        is_champion = reg.CHAMPION in held
        why = (f"champion={'yes' if is_champion else 'no'}: champion was not among the "
               f"aliases to move")
    result = PushResult(
        pushed=True, reasons=reasons, registry=registry_uri,
        model_name=model_name, version=str(version.version), model_uri=version.model_dir,
        version_uri=version.uri, aliases=sorted(held), already_registered=already,
        champion=is_champion, champion_reason=why,
        endpoint=endpoint_name if location.kind == "vertex" else "",
        vertex_resource_name=version.uri if location.kind == "vertex" else "",
        serving_image=serving_image, model_card=card_uris)
    _write_record(output_dir, result)
    logger.info("pushed %r version %s to %s%s", model_name, result.version, registry_uri,
                " (already registered)" if already else "")
    return result
