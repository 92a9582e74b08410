"""Registry operations for people and pipelines: list, show, promote, roll back, history.

Pure functions on a :class:`Registry` (any back end); ``kfp-mlops registry ...``
(``pipelines/registry_cli.py``) and the ``registry_alias`` component call them. Every move
goes through :meth:`Registry.compare_and_set_alias` against what the alias named when it
was read, and into the audit log (:mod:`audit`) with ``by`` and a required ``reason``.

Rollback, precisely
-------------------
``rollback`` moves an alias (``champion`` unless told otherwise) back to the version it
named **before its current version was set**, read from the audit log:

1. the current version ``C`` is what the alias names now;
2. the entry that set it is the latest *forward* move (anything but a rollback) to ``C``;
   its ``from`` is the target;
3. a target that no longer exists (deleted, abandoned) is skipped: the walk goes on to the
   latest forward move to it before that entry, and takes its ``from``, and so on;
4. no target left (the alias was first set to ``C``, or the log does not say how it came to
   ``C``): :class:`RollbackError`, nothing moves.

Rollbacks themselves are not steps back in time, so a second rollback goes *further back*
(push 1 -> 2, push 2 -> 3; rollback: 3 -> 2; rollback again: 2 -> 1; again: an error, as 1
was the first), never back and forth between two versions; a forward move made after a
rollback (a push, a promotion) is a step like any other.
"""
from __future__ import annotations

import getpass
import logging
import os
import socket
from typing import Any, Dict, List, Optional, Union

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared.registry import audit
from kfp_mlops.components._shared.registry.base import (
    CHAMPION, ModelNotFoundError, ModelVersion, RegistryError, VersionNotFoundError,
    check_alias, check_model_name)
from kfp_mlops.components._shared.registry.interface import Registry

logger = logging.getLogger(__name__)

#: How many metrics ``list`` shows per version (all of them are in ``show``).
KEY_METRICS = 3


class RollbackError(RegistryError):
    """There is no earlier version to roll an alias back to."""


def default_by() -> str:
    """Who moves an alias by hand: ``user@host`` (``getpass.getuser()``, else ``$USER``)."""
    try:
        user = getpass.getuser()
    except Exception:  # getuser raises when no variable names a user and no passwd entry
        user = os.environ.get("USER", "") or "unknown"
    return f"{user}@{socket.gethostname()}"


def check_reason(reason: Optional[str], what: str = "reason") -> str:
    """A reason for the audit log: required, not blank.

    Raises:
        RegistryError: it is missing or empty.
    """
    text = (reason or "").strip() if isinstance(reason, str) or reason is None else None
    if not text:
        raise RegistryError(f"{what} is required and was {reason!r}: say why the alias "
                            "moves (it is kept in the registry's audit log)")
    return text


def _same(a, b) -> bool:
    return a is not None and b is not None and str(a) == str(b)


def _current(registry: Registry, model_name: str, alias: str) -> Optional[ModelVersion]:
    try:
        return registry.resolve(model_name, alias)
    except VersionNotFoundError:
        return None


def _exists(registry: Registry, model_name: str, version) -> bool:
    try:
        registry.resolve(model_name, str(version))
        return True
    except (VersionNotFoundError, ModelNotFoundError):
        return False


def key_metrics(version: ModelVersion, count: int = KEY_METRICS) -> Dict[str, Any]:
    """The first ``count`` numeric metrics of the version's evaluation, by name."""
    metrics = (version.evaluation or {}).get("metrics") or {}
    numeric = {k: v for k, v in sorted(metrics.items())
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return dict(list(numeric.items())[:count])


def blessing(version: ModelVersion) -> str:
    """Why the version was blessed (the blessing's reasons push kept in its lineage)."""
    reasons = (version.lineage or {}).get("reasons") or []
    return "; ".join(str(r) for r in reasons)


# --------------------------------------------------------------------------- reading

def list_models(registry: Registry) -> List[str]:
    """The names of the models in the registry, sorted."""
    return registry.model_names()


def list_versions(registry: Registry, model_name: str) -> List[Dict[str, Any]]:
    """Every version of a model, oldest first: version, aliases, created, key metrics,
    blessing, pipeline run.

    Raises:
        ModelNotFoundError: the registry holds no version of that model.
    """
    versions = registry.versions(check_model_name(model_name))
    if not versions:
        raise ModelNotFoundError(f"registry {registry!r} holds no model {model_name!r}")
    return [{"version": str(v.version), "aliases": list(v.aliases), "created": v.created
             or str((v.lineage or {}).get("created", "")),
             "metrics": key_metrics(v), "blessing": blessing(v),
             "pipeline_run": str((v.lineage or {}).get("pipeline_run", ""))}
            for v in versions]


def _files(uri: str) -> List[str]:
    """Every file under a version's folder, relative to it."""
    out: List[str] = []

    def walk(folder: str, prefix: str) -> None:
        for name in io.listdir(folder):
            path = io.join(folder, name)
            if io.isdir(path):
                walk(path, f"{prefix}{name}/")
            else:
                out.append(prefix + name)

    walk(uri, "")
    return out


def show(registry: Registry, model_name: str, ref: Union[str, int]) -> Dict[str, Any]:
    """One version: everything the registry holds of it -- lineage, evaluation, aliases,
    where its files are (and which), and the alias moves to and from it.

    Raises:
        ModelNotFoundError, VersionNotFoundError: nothing matches.
    """
    version = registry.resolve(check_model_name(model_name), ref)
    out = version.to_dict()
    out["version"] = str(version.version)
    out.pop("reused", None)
    folders = {"model": version.model_dir,
               "schema": version.schema_path, "statistics": version.statistics_dir}
    out["files"] = {"folders": folders,
                    "model": _files(version.model_dir),
                    "statistics": _files(version.statistics_dir)}
    out["alias_moves"] = [e for e in registry.audit_log(model_name)
                          if _same(e.get("to"), version.version)
                          or _same(e.get("from"), version.version)]
    return out


def history(registry: Registry, model_name: str, alias: str = "") -> List[Dict[str, Any]]:
    """The audit log of a model (of one alias with ``alias``), oldest first."""
    check_model_name(model_name)
    if alias:
        check_alias(alias)
    return [e for e in registry.audit_log(model_name) if not alias or e["alias"] == alias]


# --------------------------------------------------------------------------- moving

def _move(registry: Registry, model_name: str, alias: str, target, current, by: str,
          reason: str, operation: str) -> Dict[str, Any]:
    moved = registry.compare_and_set_alias(
        model_name, alias, str(target), None if current is None else str(current),
        by=by, reason=reason, operation=operation)
    logger.info("%s: alias %r of %r moved from %s to %s by %s: %s", operation, alias,
                model_name, current or "no version", moved.version, by, reason)
    return {"model_name": model_name, "alias": alias, "operation": operation,
            "from": None if current is None else str(current), "to": str(moved.version),
            "moved": True, "by": by, "reason": reason, "version_uri": moved.uri}


def promote(registry: Registry, model_name: str, version: Union[str, int], alias: str,
            reason: str, by: str = "") -> Dict[str, Any]:
    """Moves ``alias`` to ``version``, compare-and-set against what it named when read.

    Returns:
        What was done: model_name, alias, operation, from, to, moved (False when the alias
        already named the version), by, reason, version_uri.

    Raises:
        RegistryError: no reason, a bad name or alias; ModelNotFoundError /
            VersionNotFoundError: no such version; AliasConflictError: another writer
            moved the alias between the read and the move (nothing changed).
    """
    check_model_name(model_name)
    check_alias(alias)
    reason = check_reason(reason)
    by = by or default_by()
    target = registry.resolve(model_name, version)
    current = _current(registry, model_name, alias)
    if current is not None and _same(current.version, target.version):
        logger.info("alias %r of %r already names version %s; nothing to do", alias,
                    model_name, target.version)
        return {"model_name": model_name, "alias": alias, "operation": audit.PROMOTE,
                "from": str(current.version), "to": str(target.version), "moved": False,
                "by": by, "reason": reason, "version_uri": target.uri}
    return _move(registry, model_name, alias, target.version,
                 None if current is None else current.version, by, reason, audit.PROMOTE)


def rollback_target(registry: Registry, model_name: str, alias: str = CHAMPION
                    ) -> Dict[str, Any]:
    """Where :func:`rollback` would move ``alias``, by the rule in the module docstring:
    ``{"from", "to", "skipped", "set_by"}`` (``set_by``: the entry that set the current
    version; ``skipped``: versions that no longer exist).

    Raises:
        RollbackError: the alias names no version, or no earlier version is left.
    """
    check_model_name(model_name)
    check_alias(alias)
    current = _current(registry, model_name, alias)
    if current is None:
        raise RollbackError(f"alias {alias!r} of model {model_name!r} names no version; "
                            "there is nothing to roll back")
    now_at = str(current.version)
    forward = [e for e in registry.audit_log(model_name)
               if e.get("alias") == alias and e.get("operation") != audit.ROLLBACK]
    index = next((i for i in range(len(forward) - 1, -1, -1)
                  if _same(forward[i].get("to"), now_at)), None)
    if index is None:
        raise RollbackError(f"the audit log of model {model_name!r} does not say how alias "
                            f"{alias!r} came to name version {now_at}; no earlier version "
                            "to roll back to")
    set_by = forward[index]
    skipped: List[str] = []
    target = forward[index].get("from")
    while True:
        if target is None:
            gone = f" (versions {', '.join(skipped)} no longer exist)" if skipped else ""
            raise RollbackError(
                f"alias {alias!r} of model {model_name!r} named no earlier version before "
                f"version {now_at}{gone}; nothing to roll back to")
        target = str(target)
        if target != now_at and _exists(registry, model_name, target):
            return {"from": now_at, "to": target, "skipped": skipped, "set_by": set_by}
        skipped.append(target)
        index = next((i for i in range(index - 1, -1, -1)
                      if _same(forward[i].get("to"), target)), None)
        if index is None:
            raise RollbackError(
                f"alias {alias!r} of model {model_name!r}: the versions before {now_at} "
                f"({', '.join(skipped)}) no longer exist and the audit log names none "
                "before them; nothing to roll back to")
        target = forward[index].get("from")


def rollback(registry: Registry, model_name: str, reason: str, by: str = "",
             alias: str = CHAMPION) -> Dict[str, Any]:
    """Moves ``alias`` back to the version it named before its current one was set
    (:func:`rollback_target`), compare-and-set against the current one.

    Returns:
        As :func:`promote`, plus ``skipped`` (versions passed over: they no longer exist).

    Raises:
        RegistryError: no reason; RollbackError: no earlier version; AliasConflictError:
            another writer moved the alias meanwhile (nothing changed).
    """
    reason = check_reason(reason)
    by = by or default_by()
    plan = rollback_target(registry, model_name, alias)
    result = _move(registry, model_name, alias, plan["to"], plan["from"], by, reason,
                   audit.ROLLBACK)
    result["skipped"] = plan["skipped"]
    return result
