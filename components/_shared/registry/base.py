"""What every registry back end shares: names, errors, the version record, the checks.

Pure Python, stdlib only: :mod:`folder`, :mod:`vertex` and :mod:`monitoring` build on it,
and the package (``kfp_mlops.components._shared.registry``) re-exports its public names.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import re
import signal
from typing import Any, Dict, List, Optional, Sequence, Union

from kfp_mlops.components._shared import io

logger = logging.getLogger(__name__)

VERTEX_PREFIX = "vertex://"
CHAMPION = "champion"
LATEST = "latest"

SCHEMA_FILE = "schema.pbtxt"
MODEL_DIR = "model"
SCHEMA_DIR = "schema"
STATISTICS_DIR = "statistics"
EVALUATION_FILE = "evaluation.json"
LINEAGE_FILE = "lineage.json"
VERSION_FILE = "version.json"
VERSIONS_DIR = "versions"
CLAIMS_DIR = "claims"
ALIASES_DIR = "aliases"
#: The alias file of registries written before the alias records; read as record 0.
ALIASES_FILE = "aliases.json"
MONITORING_DIR = "monitoring"
MONITORING_RECORD = "record.json"
#: What a tombstone manifest (or monitoring record) holds in ``state``.
ABANDONED = "abandoned"
#: A claim without a manifest older than this (seconds) is an abandoned push.
DEFAULT_STALE_SECONDS = 15 * 60
#: Fault injection for the tests: the name of a step (see :func:`fault_point`) at which the
#: process kills itself with SIGKILL, as a node failure would.
FAULT_ENV = "KFP_MLOPS_REGISTRY_KILL_AT"
#: The statistics a registered version must hold: the train split, monitoring's baseline.
BASELINE_STATISTICS = os.path.join("Split-train", "FeatureStats.pb")

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Valid on both back ends: Vertex aliases are [a-z][a-zA-Z0-9-]{0,126}[a-z0-9].
_ALIAS = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_RESERVED_ALIASES = (LATEST, "default")


class RegistryError(ValueError):
    """A registry URI, model name, alias or input is not what the registry expects."""


class ModelNotFoundError(RegistryError, LookupError):
    """The registry holds no model of that name."""


class VersionNotFoundError(RegistryError, LookupError):
    """The model has no version for that alias, number or ``latest``."""


class AliasConflictError(RegistryError):
    """A compare-and-set of an alias found it pointing elsewhere than expected."""


class AbandonedError(RegistryError):
    """A push's claim was declared abandoned (stale) by another push before it finished."""


@dataclasses.dataclass
class ModelVersion:
    """One registered version of a model, with everything monitoring needs to find.

    On an object-store registry (and Vertex AI), ``model_dir``, ``schema_path``,
    ``statistics_dir`` and ``uri`` are ``gs://`` / ``s3://`` URIs: read them with
    :func:`io.local_copy`.
    """

    model_name: str
    version: Union[int, str]
    model_dir: str
    schema_path: str
    statistics_dir: str
    evaluation: Dict[str, Any]
    lineage: Dict[str, Any]
    aliases: List[str]
    uri: str
    model_hash: str = ""
    created: str = ""
    #: True when ``register`` found these model bytes already registered and added nothing.
    reused: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RegistryLocation:
    """A parsed registry URI: ``kind`` is ``local``, ``gs`` or ``s3`` (with ``root``, the
    folder as :mod:`io` addresses it) or ``vertex`` (with ``project`` and ``location``)."""

    kind: str
    root: str = ""
    project: str = ""
    location: str = ""



# --------------------------------------------------------------------------- checks

# fullmatch, not match: ``$`` also matches before a final newline, and a name read from a
# file or a shell variable often ends in one.
def check_model_name(model_name: str) -> str:
    if not isinstance(model_name, str) or not _MODEL_NAME.fullmatch(model_name):
        raise RegistryError(
            f"model_name {model_name!r} is not valid; use 1-128 letters, digits, '-', '_' "
            "or '.', starting with a letter or digit")
    return model_name


def check_alias(alias: str) -> str:
    if (not isinstance(alias, str) or not _ALIAS.fullmatch(alias)
            or alias in _RESERVED_ALIASES):
        raise RegistryError(
            f"alias {alias!r} is not valid; use lowercase letters, digits and '-', starting "
            f"with a letter (at most 63 characters), and not {' or '.join(_RESERVED_ALIASES)}")
    return alias


def check_aliases(aliases: Sequence[str]) -> List[str]:
    """The aliases without repeats; raises naming every alias that is not valid."""
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, (list, tuple)) and aliases is not None:
        raise RegistryError(f"aliases {aliases!r}: expected a list of aliases")
    out: List[str] = []
    problems: List[str] = []
    for alias in aliases or ():
        try:
            check_alias(alias)
        except RegistryError as e:
            problems.append(str(e))
            continue
        if alias not in out:
            out.append(alias)
    if problems:
        e = RegistryError("; ".join(problems))
        e.problems = problems  # type: ignore[attr-defined]
        raise e
    return out


def check_version_ref(ref: Union[str, int]) -> str:
    """A version reference :meth:`LocalRegistry.resolve` can look up: a version number,
    ``latest`` or a valid alias (empty means ``champion``)."""
    text = str(ref) if isinstance(ref, int) and not isinstance(ref, bool) else ref
    if not isinstance(text, str):
        raise RegistryError(f"model_version {ref!r}: expected a version number, an alias "
                            f"or {LATEST!r}")
    if text == "" or text == LATEST or (text.isdigit() and text.isascii()):
        return text or CHAMPION
    try:
        return check_alias(text)
    except RegistryError:
        raise RegistryError(f"model_version {ref!r} is not a version number, {LATEST!r} or "
                            "a valid alias (lowercase letters, digits and '-', starting with a "
                            "letter)") from None


def check_inputs(model_dir: str, schema_dir: str, statistics_dir: str) -> str:
    """Checks the three folders a version is registered from (local paths); returns the
    schema file inside ``schema_dir``.

    The one check of push's inputs: push does not repeat it, the registry makes it before it
    writes anything, on every back end.

    Raises:
        RegistryError: naming the folder and what it lacks.
    """
    if not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        raise RegistryError(f"model_dir {model_dir!r} is not a TF SavedModel: "
                            "saved_model.pb is missing")
    schema = os.path.join(schema_dir, SCHEMA_FILE)
    if not os.path.isfile(schema):
        raise RegistryError(f"schema_dir {schema_dir!r} holds no {SCHEMA_FILE}")
    if not os.path.isfile(os.path.join(statistics_dir, BASELINE_STATISTICS)):
        raise RegistryError(f"statistics_dir {statistics_dir!r} holds no {BASELINE_STATISTICS} "
                            "(the train split's statistics, the monitoring baseline)")
    return schema


# --------------------------------------------------------------------------- helpers

def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def fault_point(name: str) -> None:
    """A fault-injection point: SIGKILL this process here when :data:`FAULT_ENV` names it."""
    if os.environ.get(FAULT_ENV) == name:
        logger.warning("%s=%s: killing this process", FAULT_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)


def dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def read_json_or_none(uri: str) -> Optional[Dict]:
    """The JSON object at ``uri``, or None when nothing is there."""
    try:
        return io.read_json(uri)
    except FileNotFoundError:
        return None


def read_json_or_empty(uri: str) -> Dict:
    try:
        return io.read_json(uri)
    except (OSError, ValueError) as e:
        logger.warning("cannot read %s: %s", uri, e)
        return {}


def write_companions(target: str, model_dir: Optional[str], schema_file: str,
                     statistics_dir: str, evaluation: Dict, lineage: Dict) -> None:
    """Fills a version folder (everything but its manifest): model, schema, stats, json."""
    if model_dir is not None:
        io.put_dir(model_dir, io.join(target, MODEL_DIR))
        fault_point("model-written")
    io.put_file(schema_file, io.join(target, SCHEMA_DIR, SCHEMA_FILE))
    io.put_dir(statistics_dir, io.join(target, STATISTICS_DIR))
    io.write_json(io.join(target, EVALUATION_FILE), evaluation)
    io.write_json(io.join(target, LINEAGE_FILE), lineage)
