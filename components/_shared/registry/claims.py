"""The create-only primitives both the version folders and the monitoring history use.

Object stores give two things: one object is written whole or not at all, and a write can
be made conditional on the name being free (:func:`io.create_exclusive`: Cloud Storage
``ifGenerationMatch=0``, S3 ``If-None-Match: *``, locally ``link(2)``). A number is
*claimed* by creating ``<claims>/<n>.json`` create-only (of racing writers exactly one gets
each number; claims are never deleted, so a number is never reused); a slot counts once its
manifest exists, and a slot whose owner died is *abandoned* by creating that manifest as a
tombstone, create-only too. No lock and no rename anywhere, so the same code gives the same
guarantees on a local folder, ``gs://`` and ``s3://``.
"""
from __future__ import annotations

import re
import time
from typing import Callable, Dict

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared.registry.base import (
    ABANDONED, RegistryError, dumps, now, read_json_or_none)

#: A claim (or alias record): ``<seq>.json``.
SEQ_NAME = re.compile(r"^(\d+)\.json$")


def numbered(folder: str, pattern: "re.Pattern") -> Dict[int, str]:
    """``{number: name}`` of the entries of ``folder`` whose name ``pattern`` matches."""
    found = {}
    for name in io.listdir(folder):
        match = pattern.match(name)
        if match:
            found[int(match.group(1))] = name
    return found


def claim(claims_dir: str, floor: int, body: Callable[[int], Dict]) -> int:
    """Creates ``claims_dir/<n>.json`` for the lowest free ``n`` above every number taken.

    ``floor`` is the highest number known to be taken otherwise (folders written before
    claims existed). Create-only: of racing writers exactly one gets each number.
    """
    number = max([floor, *numbered(claims_dir, SEQ_NAME)], default=0) + 1
    for _ in range(10000):
        if io.create_exclusive(io.join(claims_dir, f"{number:06d}.json"), dumps(body(number))):
            return number
        number += 1
    raise RegistryError(f"could not claim a number in {claims_dir!r}")  # pragma: no cover


def age(uri: str) -> float:
    """Seconds since ``uri`` was written (by the store's clock); 0 when it is gone."""
    try:
        return max(0.0, time.time() - io.modified(uri))
    except FileNotFoundError:
        return 0.0


def remove_all_but(folder: str, keep: str) -> None:
    for name in io.listdir(folder):
        if name != keep:
            io.remove(io.join(folder, name), recursive=True)


def abandon(folder: str, manifest_name: str, reason: str) -> bool:
    """Turns a slot without a manifest into a tombstone and removes its files.

    Create-only: when the manifest exists already (the owner finished first), nothing is
    touched. Returns True when ``folder`` is (now) a tombstone.
    """
    manifest = io.join(folder, manifest_name)
    io.create_exclusive(manifest, dumps({"state": ABANDONED, "reason": reason,
                                         "abandoned_at": now()}))
    body = read_json_or_none(manifest) or {}
    if body.get("state") != ABANDONED:
        return False
    remove_all_but(folder, manifest_name)
    return True
