"""The audit log of alias moves: when, which alias, from which version to which, by whom, why.

Every alias move -- by push, by a promotion or a rollback, by hand -- leaves one entry::

    {"seq": 7, "at": "2026-12-02T08:00:00.000000+00:00", "alias": "champion",
     "from": 2, "to": 3, "by": "training-20261202", "reason": "blessed: ...",
     "operation": "push"}

``from`` is None when the alias named no version before. ``operation`` says what moved it
(:data:`OPERATIONS`; "" when the caller did not say, and in records written before the
audit log existed, which read with ``by`` and ``reason`` "" as well).

Where the entries live:

* a folder registry keeps them **in its alias records** ``aliases/<seq>.json`` (already
  create-only and ordered, :mod:`folder`): each record holds ``changed``, ``by``,
  ``reason`` and ``operation``, and :func:`entries_from_records` flattens them;
* Vertex AI keeps them create-only in a model-level folder in Cloud Storage
  (:meth:`VertexRegistry.audit_folder`), one file an entry, numbered by the create-only
  claims of :mod:`claims` (:func:`append`, :func:`read`).

Pure Python, stdlib and our io only.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional, Union

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared.registry import claims
from kfp_mlops.components._shared.registry.base import RegistryError, now, read_json_or_none

logger = logging.getLogger(__name__)

#: What moved an alias: push's champion move, a version's registration with aliases, a
#: promotion (by hand or by the promote component), a rollback.
PUSH, REGISTER, PROMOTE, ROLLBACK = "push", "register", "promote", "rollback"
OPERATIONS = (PUSH, REGISTER, PROMOTE, ROLLBACK)
#: The longest ``reason`` kept (a reason is a sentence, not a report).
MAX_REASON = 2000


def check_audit(by: str, reason: str, operation: str = "") -> Dict[str, str]:
    """``{"by", "reason", "operation"}`` as an audit entry holds them (strings, trimmed).

    Raises:
        RegistryError: ``operation`` is not one of :data:`OPERATIONS` (or "").
    """
    if operation and operation not in OPERATIONS:
        raise RegistryError(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")
    return {"by": str(by or "").strip(), "reason": str(reason or "").strip()[:MAX_REASON],
            "operation": operation or ""}


def entry(alias: str, from_version: Optional[Union[int, str]], to_version: Union[int, str],
          audit: Dict[str, str], at: str = "") -> Dict[str, Any]:
    """One audit entry (without ``seq``)."""
    return {"at": at or now(), "alias": alias, "from": from_version, "to": to_version,
            **audit}


def entries_from_records(records: Iterable[Dict]) -> List[Dict[str, Any]]:
    """The audit entries of a folder registry's alias records, oldest first.

    A record moves one or more aliases (``changed: {alias: {from, to}}``); each becomes
    an entry with the record's ``seq``, ``at``, ``by``, ``reason`` and ``operation``.
    Moves to where the alias already was are left out.
    """
    out = []
    for record in records:
        for alias, change in sorted((record.get("changed") or {}).items()):
            if change.get("from") == change.get("to"):
                continue
            out.append({"seq": record.get("seq"), "at": record.get("at", ""), "alias": alias,
                        "from": change.get("from"), "to": change.get("to"),
                        "by": record.get("by", "") or "",
                        "reason": record.get("reason", "") or "",
                        "operation": record.get("operation", "") or ""})
    return out


def append(folder: str, body: Dict[str, Any]) -> int:
    """Adds ``<folder>/<seq>.json`` create-only (:func:`claims.claim`); returns ``seq``."""
    seq = claims.claim(folder, 0, lambda n: dict(body, seq=n))
    logger.info("audit: %s %s -> %s of alias %r by %r (%s)", folder, body.get("from"),
                body.get("to"), body.get("alias"), body.get("by"), body.get("reason"))
    return seq


def read(folder: str) -> List[Dict[str, Any]]:
    """The entries in ``folder``, oldest first ([] when there is none yet)."""
    out = []
    for seq, name in sorted(claims.numbered(folder, claims.SEQ_NAME).items()):
        body = read_json_or_none(io.join(folder, name))
        if body is not None:
            out.append(dict(body, seq=seq))
    return out
