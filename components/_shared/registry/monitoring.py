"""Monitoring history: one version's record of monitoring runs, in a folder beside it.

The folder registry keeps it in ``versions/<n>/monitoring/``, Vertex AI in the model's
companion folder ``<model uri>.kfp_mlops/monitoring/`` (:meth:`Registry.monitoring_folder`);
either way with the create-only protocol of :mod:`claims`::

    <folder>/claims/<seq>.json        create-only: monitoring entry seq is taken
    <folder>/<seq>-<time>/            statistics/ and record.json (create-only, last)

An entry counts when its record exists; one claimed longer than ``stale_after`` ago without
a record is abandoned (a tombstone) by the next recording.
"""
from __future__ import annotations

import datetime
import logging
import os
import re
import uuid
from typing import Dict, List

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared.registry.base import (
    ABANDONED, CLAIMS_DIR, DEFAULT_STALE_SECONDS, MONITORING_RECORD, STATISTICS_DIR,
    AbandonedError, RegistryError, dumps, now, read_json_or_none)
from kfp_mlops.components._shared.registry.claims import (
    SEQ_NAME, abandon, age, claim, numbered)

logger = logging.getLogger(__name__)

#: A monitoring entry's folder: ``<seq>-<time>``.
ENTRY_NAME = re.compile(r"^(\d+)-")


def clean(folder: str, stale_after: float) -> None:
    """Turns monitoring entries claimed longer than ``stale_after`` ago without a record
    into tombstones."""
    claims = io.join(folder, CLAIMS_DIR)
    entries = numbered(folder, ENTRY_NAME)
    for seq, name in numbered(claims, SEQ_NAME).items():
        entry = entries.get(seq) or (read_json_or_none(io.join(claims, name)) or {}).get("entry")
        if not entry or read_json_or_none(io.join(folder, entry, MONITORING_RECORD)):
            continue
        if age(io.join(claims, name)) >= stale_after:
            abandon(io.join(folder, entry), MONITORING_RECORD,
                    f"monitoring entry {seq} claimed over {stale_after:.0f}s ago, no record")


def record_entry(folder: str, record: Dict, statistics_path: str,
                 stale_after: float = DEFAULT_STALE_SECONDS) -> str:
    """Adds ``<folder>/<seq>-<time>/`` holding record.json and a copy of the statistics.

    The sequence number is claimed create-only (``<folder>/claims/<seq>.json``); the entry
    counts once its record.json (create-only, last) exists.
    """
    if statistics_path and not io.exists(statistics_path):
        raise RegistryError(f"statistics_path {statistics_path!r} does not exist")
    clean(folder, stale_after)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    owner = uuid.uuid4().hex
    seq = claim(io.join(folder, CLAIMS_DIR), max(numbered(folder, ENTRY_NAME), default=0),
                lambda n: {"entry": f"{n:06d}-{stamp}", "owner": owner, "claimed_at": now()})
    entry = io.join(folder, f"{seq:06d}-{stamp}")
    try:
        stored = ""
        if statistics_path:
            dst = io.join(entry, STATISTICS_DIR)
            with io.local_copy(statistics_path) as local:
                if os.path.isdir(local):
                    io.put_dir(local, dst)
                else:
                    io.put_file(local, io.join(dst, os.path.basename(local)))
            stored = dst
        body = dict(record)
        body.update({"seq": seq, "recorded_at": now(), "statistics_path": stored})
        if not io.create_exclusive(io.join(entry, MONITORING_RECORD), dumps(body)):
            raise AbandonedError(f"monitoring entry {entry!r} was declared abandoned before "
                                 "its record was written; nothing was recorded")
    except BaseException:
        abandon(entry, MONITORING_RECORD, "the recording failed")
        raise
    logger.info("recorded monitoring entry %s", entry)
    return entry


def history(folder: str) -> List[Dict]:
    """The records in ``folder``, oldest first (each with ``entry`` and ``seq``)."""
    entries = []
    for seq, name in numbered(folder, ENTRY_NAME).items():
        body = read_json_or_none(io.join(folder, name, MONITORING_RECORD))
        if body is None or body.get("state") == ABANDONED:
            continue
        body["entry"] = io.join(folder, name)
        entries.append((seq, body))
    return [body for _, body in sorted(entries, key=lambda e: e[0])]
