"""Registry alias: promotes a version to an alias, or rolls an alias back, from a pipeline.

Plain Python, no kfp import. The moves are the registry's operations
(``components/_shared/registry/operations.py``: compare-and-set against what the alias
named when read, kept in the audit log with ``by`` = the pipeline run and a required
reason); on Vertex AI a rollback can also send an endpoint's traffic back to the version
rolled back to (``components/push/deploy.py``, :func:`route_traffic`).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components._shared.registry import operations
from kfp_mlops.components.push import deploy

logger = logging.getLogger(__name__)

PROMOTE, ROLLBACK = "promote", "rollback"
ACTIONS = (PROMOTE, ROLLBACK)
RESULT_FILE = "alias.json"


class RegistryAliasError(ValueError):
    """An input of the registry_alias step is not what it expects; the message names it."""


def move_alias(registry_uri: str, model_name: str, action: str, reason: str,
               version: str = "", alias: str = reg.CHAMPION, endpoint_name: str = "",
               by: str = "", output_dir: str = "") -> Dict[str, Any]:
    """Promotes ``version`` to ``alias``, or rolls ``alias`` back; returns what was done.

    Args:
        registry_uri: A folder registry (local, ``gs://``, ``s3://``) or
            ``vertex://projects/P/locations/R``.
        model_name: The registered model.
        action: ``promote`` (``alias`` to ``version``) or ``rollback`` (``alias`` back to
            the version it named before its current one was set; see
            :mod:`operations`).
        reason: Why, for the audit log (required).
        version: promote: a version number, an alias or ``latest``; rollback: empty.
        alias: The alias to move (default ``champion``).
        endpoint_name: rollback on a ``vertex://`` registry: the Vertex AI endpoint whose
            traffic then goes all to the version rolled back to; empty: none.
        by: Who moves it (the pipeline run), for the audit log.
        output_dir: Where to write ``alias.json`` (the result); empty: nowhere.

    Returns:
        ``{model_name, alias, operation, from, to, moved, by, reason, version_uri,
        registry, endpoint, traffic_split, skipped}``.

    Raises:
        RegistryAliasError: a bad action, version or endpoint for the action.
        RegistryError: a bad name, alias or reason; no such version; nothing to roll back
            to (:class:`operations.RollbackError`); the alias moved meanwhile
            (:class:`AliasConflictError`). Nothing moved then.
    """
    if action not in ACTIONS:
        raise RegistryAliasError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    where = reg.parse_registry_uri(registry_uri)
    reason = operations.check_reason(reason)
    if action == PROMOTE and not str(version).strip():
        raise RegistryAliasError("version is empty: promote needs the version to move "
                                 f"alias {alias!r} to (a number, an alias or latest)")
    if action == ROLLBACK and str(version).strip():
        raise RegistryAliasError(f"version {version!r}: rollback finds the version in the "
                                 "audit log; leave version empty (or use promote)")
    if endpoint_name and (action != ROLLBACK or where.kind != "vertex"):
        raise RegistryAliasError(f"endpoint_name {endpoint_name!r} is for a rollback on a "
                                 f"vertex:// registry, not a {action} on {registry_uri!r}")
    registry = reg.open_registry(registry_uri)
    by = by or "kfp-mlops registry_alias"
    if action == PROMOTE:
        result = operations.promote(registry, model_name, version, alias, reason=reason,
                                    by=by)
        result["skipped"] = []
    else:
        result = operations.rollback(registry, model_name, reason=reason, by=by, alias=alias)
    result.update({"registry": registry_uri, "endpoint": endpoint_name, "traffic_split": {}})
    if endpoint_name:
        target = registry.resolve(model_name, result["to"])
        result["traffic_split"] = deploy.route_traffic(target, endpoint_name, where.project,
                                                       where.location)
    if output_dir:
        with io.output_dir(output_dir) as out:
            io.write_json(os.path.join(out, RESULT_FILE), result)
    return result
