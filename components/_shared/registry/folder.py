"""The folder registry: a local path / ``file://`` URI, ``gs://bucket/folder`` or
``s3://bucket/folder`` (MinIO, Kubeflow's artifact store).

A ``/gcs/bucket/folder`` path is used as ``gs://bucket/folder``: the Vertex AI mount is
Cloud Storage FUSE, which has neither atomic renames nor preconditions, so the registry
talks to Cloud Storage itself. All storage goes through
:mod:`kfp_mlops.components._shared.io`, one code path for every store. Layout::

    <root>/<model_name>/
      claims/<n>.json                   create-only: version n is taken (owner, model hash)
      versions/<n>/                     written only by the owner of claims/<n>.json
        model/                          the TF SavedModel, byte for byte
        schema/schema.pbtxt
        statistics/Split-<split>/FeatureStats.pb   (the whole statistics artifact)
        evaluation.json                 the evaluation the version was blessed with
        lineage.json                    data hash and source, pipeline run, model hash, ...
        version.json                    the manifest: create-only, written last
        monitoring/                     the version's monitoring history (:mod:`monitoring`)
      aliases/<seq>.json                create-only alias records; the highest is current

How a folder registry stays consistent without locks or renames
----------------------------------------------------------------
Everything is built on the create-only primitives of :mod:`claims` (one object is written
whole or not at all; a write can be conditional on the name being free); the same code runs
on a local folder (no fcntl lock, no rename), so the guarantees are the same on every store.

1. **A version number is claimed before anything is written.** A push takes
   ``n = highest number seen + 1`` and creates ``claims/<n>.json`` create-only; when
   another writer got there first it tries ``n + 1``. Claims are never deleted, so the
   claimed numbers stay contiguous and two writers never share a number -- and therefore
   never write into the same ``versions/<n>/`` folder: only the claim's owner writes there.
2. **A version counts only once its manifest exists.** ``version.json`` is created
   create-only after every other file; readers list only numbers whose manifest exists
   and is not a tombstone, and read nothing else of a version without one.
3. **Idempotence.** The model's content hash (SHA-256 of every file) is in the claim and
   the manifest. A push of bytes that are already a complete version adds nothing
   (``reused=True``). Two pushes of the same bytes that race: the lowest live claim with
   that hash wins; a higher one waits for it (polling) and then reuses its version,
   turning its own number into a tombstone -- so version numbers may have gaps.
4. **Abandoned pushes.** A push that fails cleans up after itself: it creates its
   manifest as a *tombstone* (``{"state": "abandoned"}``) and removes its files. A push
   that was killed leaves a claim without a manifest; the next push treats a claim older
   than ``stale_after`` seconds (default :data:`DEFAULT_STALE_SECONDS`, by the store's
   clock: :func:`io.modified`) as abandoned: it creates the tombstone (create-only, so if
   the slow owner's manifest got there first, the version stands, and if the tombstone
   got there first, the owner's manifest write fails and that push reports an error) and
   removes the files. A number is never reused.
5. **Aliases** are an append-only sequence of records, ``aliases/<seq>.json``, each
   holding the whole alias map, created create-only; the current aliases are the highest
   record. An update reads record ``s`` and creates ``s + 1``; if another writer created
   it first, it rereads and retries, so no concurrent update is ever lost, and the
   records are the audit trail (:meth:`FolderRegistry.alias_history`; each record also
   holds ``by``, ``reason`` and ``operation``, flattened by :meth:`FolderRegistry.audit_log`).
   :meth:`FolderRegistry.compare_and_set_alias` moves an alias only if it still points
   at the version the caller expects, or does not exist when the caller expects none
   (:class:`AliasConflictError` otherwise); push moves ``champion`` this way, from the
   version evaluate compared with. Aliases are
   moved only after the version's manifest exists, so an alias never names a version
   that does not list. (A registry written before this protocol keeps working: its
   ``aliases.json`` is read as record 0, and its versions have manifests.)
6. **Monitoring history** uses the same scheme per version: ``monitoring/claims/<seq>.json``
   create-only, then the entry's statistics, then its ``record.json`` create-only; an entry
   counts when its record exists.

A push killed at any instant therefore leaves either nothing listed, or a complete version
(and the aliases either before or after its move); listing, ``resolve`` and the aliases
stay consistent, and the next push removes what is stale.

Guarantees per registry URI
---------------------------
=====================  ============================================================
local path, file://    all of the above (create-only via ``link(2)``); needs a file
                       system with hard links (local disk, NFS)
gs://bucket/folder     all of the above (``ifGenerationMatch=0``)
s3://bucket/folder     all of the above (``If-None-Match: *``: AWS S3 since 2024-08;
"""
from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from typing import Dict, List, Optional, Sequence, Tuple, Union

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared.registry import audit, claims
from kfp_mlops.components._shared.registry.base import (
    ABANDONED, ALIASES_DIR, ALIASES_FILE, CHAMPION, CLAIMS_DIR, DEFAULT_STALE_SECONDS,
    EVALUATION_FILE, LATEST, LINEAGE_FILE, MODEL_DIR, MONITORING_DIR, SCHEMA_DIR, SCHEMA_FILE,
    STATISTICS_DIR, VERSION_FILE, VERSIONS_DIR, AbandonedError, AliasConflictError,
    ModelNotFoundError, ModelVersion, RegistryError, VersionNotFoundError, check_alias,
    check_aliases, check_inputs, check_model_name, dumps, fault_point, now, read_json_or_none,
    write_companions)
from kfp_mlops.components._shared.registry.interface import Registry

logger = logging.getLogger(__name__)

#: How often (seconds) a push polls a racing push of the same model bytes that claimed a
#: lower number; it waits until that version is complete, abandoned, or stale.
POLL_SECONDS = 0.25


class FolderRegistry(Registry):
    """A model registry in a folder: local, ``gs://`` or ``s3://`` (see the module doc).

    Args:
        root: The registry folder (anything :func:`io.canonical_uri` takes); created on
            first push.
        stale_after: Seconds after which a claim without a manifest (a push that died) is
            abandoned and cleaned up by the next push.
    """

    def __init__(self, root: str, stale_after: float = DEFAULT_STALE_SECONDS):
        self.root = io.canonical_uri(root)
        self.stale_after = float(stale_after)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    # paths
    def model_root(self, model_name: str) -> str:
        return io.join(self.root, check_model_name(model_name))

    def _versions_root(self, model_name: str) -> str:
        return io.join(self.model_root(model_name), VERSIONS_DIR)

    def _claims_root(self, model_name: str) -> str:
        return io.join(self.model_root(model_name), CLAIMS_DIR)

    def _aliases_root(self, model_name: str) -> str:
        return io.join(self.model_root(model_name), ALIASES_DIR)

    def version_dir(self, model_name: str, version: int) -> str:
        return io.join(self._versions_root(model_name), str(int(version)))

    # reading
    def _manifests(self, model_name: str) -> Dict[int, Optional[Dict]]:
        """``{number: manifest or None}`` for every version folder (tombstones included)."""
        root = self._versions_root(model_name)
        return {int(n): read_json_or_none(io.join(root, n, VERSION_FILE))
                for n in io.listdir(root) if n.isdigit()}

    @staticmethod
    def _complete(manifests: Dict[int, Optional[Dict]]) -> Dict[int, Dict]:
        return {n: m for n, m in sorted(manifests.items())
                if m is not None and m.get("state") != ABANDONED}

    def _numbers(self, model_name: str) -> List[int]:
        return sorted(self._complete(self._manifests(model_name)))

    def _alias_record(self, model_name: str) -> Tuple[int, Dict[str, int]]:
        """``(seq, {alias: version})`` of the current alias record (0 for none or legacy)."""
        records = claims.numbered(self._aliases_root(model_name), claims.SEQ_NAME)
        if records:
            seq = max(records)
            body = io.read_json(io.join(self._aliases_root(model_name), records[seq]))
            return seq, {k: int(v) for k, v in body.get("aliases", {}).items()}
        legacy = read_json_or_none(io.join(self.model_root(model_name), ALIASES_FILE))
        return 0, {k: int(v) for k, v in (legacy or {}).items()}

    def _aliases(self, model_name: str) -> Dict[str, int]:
        return self._alias_record(model_name)[1]

    def aliases(self, model_name: str) -> Dict[str, int]:
        """The current aliases of a model: ``{alias: version}``."""
        return dict(self._aliases(model_name))

    def alias_history(self, model_name: str) -> List[Dict]:
        """Every alias record of a model, oldest first (``seq``, ``aliases``, ``changed``,
        and since the audit log ``by``, ``reason``, ``operation``)."""
        root = self._aliases_root(model_name)
        return [io.read_json(io.join(root, name))
                for _, name in sorted(claims.numbered(root, claims.SEQ_NAME).items())]

    def audit_log(self, model_name: str) -> List[Dict]:
        """Every alias move, oldest first (:func:`audit.entries_from_records` of the alias
        records; records written before the audit log read with ``by``/``reason`` "")."""
        return audit.entries_from_records(self.alias_history(model_name))

    def _load(self, model_name: str, number: int, info: Dict,
              aliases: Dict[str, int]) -> ModelVersion:
        folder = self.version_dir(model_name, number)
        return ModelVersion(
            model_name=model_name,
            version=number,
            model_dir=io.join(folder, MODEL_DIR),
            schema_path=io.join(folder, SCHEMA_DIR, SCHEMA_FILE),
            statistics_dir=io.join(folder, STATISTICS_DIR),
            evaluation=io.read_json(io.join(folder, EVALUATION_FILE)),
            lineage=io.read_json(io.join(folder, LINEAGE_FILE)),
            aliases=sorted(a for a, n in aliases.items() if n == number),
            uri=folder,
            model_hash=info.get("model_content_hash", ""),
            created=info.get("created", ""),
        )

    def model_names(self) -> List[str]:
        """The models with at least one complete version, sorted."""
        names = []
        for name in io.listdir(self.root):
            try:
                check_model_name(name)
            except RegistryError:
                continue
            if self._numbers(name):
                names.append(name)
        return names

    def versions(self, model_name: str) -> List[ModelVersion]:
        """Every complete version of a model, oldest first ([] for an unknown model)."""
        complete = self._complete(self._manifests(model_name))
        aliases = self._aliases(model_name)
        return [self._load(model_name, n, m, aliases) for n, m in complete.items()]

    def resolve(self, model_name: str, ref: Union[str, int] = CHAMPION) -> ModelVersion:
        """The version an alias, a number (``3`` or ``"3"``) or ``"latest"`` names.

        Raises:
            ModelNotFoundError: the model has no version yet.
            VersionNotFoundError: no version matches ``ref``.
        """
        complete = self._complete(self._manifests(model_name))
        numbers = sorted(complete)
        if not numbers:
            raise ModelNotFoundError(f"registry {self.root!r} holds no model {model_name!r}")
        aliases = self._aliases(model_name)
        ref_text = str(ref).strip()
        if ref_text == LATEST:
            number = numbers[-1]
        elif ref_text.isdigit():
            number = int(ref_text)
            if number not in complete:
                raise VersionNotFoundError(
                    f"model {model_name!r} has no version {number}; versions are {numbers}")
        elif ref_text in aliases and aliases[ref_text] in complete:
            number = aliases[ref_text]
        else:
            raise VersionNotFoundError(
                f"model {model_name!r} has no version aliased {ref!r}; aliases are "
                f"{sorted(aliases) or 'none'}, versions are {numbers} (or use 'latest')")
        return self._load(model_name, number, complete[number], aliases)

    # aliases
    def _move_aliases(self, model_name: str, aliases: Sequence[str], number: int,
                      expected: Optional[Dict[str, Optional[int]]] = None,
                      trail: Optional[Dict[str, str]] = None) -> Dict[str, int]:
        """Creates the next alias record with ``aliases`` pointing at ``number``.

        With ``expected`` (``{alias: version or None}``), only if each alias still points
        there (None: the alias does not exist). Retries when another writer created the
        record first, so no update is lost. ``trail`` (:func:`audit.check_audit`) is kept
        in the record: who moved the aliases and why. When every alias is already there,
        nothing is written.

        Raises:
            AliasConflictError: an alias does not point where ``expected`` says.
        """
        root = self._aliases_root(model_name)
        for attempt in range(1000):
            seq, current = self._alias_record(model_name)
            for alias, want in (expected or {}).items():
                if current.get(alias) != want:
                    raise AliasConflictError(
                        f"alias {alias!r} of model {model_name!r} points at "
                        f"{current.get(alias) or 'no version'}, not at "
                        f"{want or 'no version'} as expected; not moved to {number}")
            wanted = dict(current, **{alias: number for alias in aliases})
            if wanted == current:
                return current
            record = {"seq": seq + 1, "aliases": wanted, "at": now(),
                      "changed": {a: {"from": current.get(a), "to": number} for a in aliases
                                  if current.get(a) != number},
                      **(trail or audit.check_audit("", ""))}
            if io.create_exclusive(io.join(root, f"{seq + 1:06d}.json"), dumps(record)):
                return wanted
            time.sleep(0.01 * (attempt % 10))  # another writer got seq + 1: reread
        raise RegistryError(f"could not update the aliases of {model_name!r}")  # pragma: no cover

    def set_alias(self, model_name: str, alias: str, version: Union[int, str], *,
                  by: str = "", reason: str = "", operation: str = "") -> ModelVersion:
        """Points ``alias`` at ``version`` (moving it from any other version); the alias
        record keeps ``by``, ``reason`` and ``operation`` (the audit log)."""
        check_alias(alias)
        trail = audit.check_audit(by, reason, operation)
        target = self.resolve(model_name, version)
        self._move_aliases(model_name, [alias], int(target.version), trail=trail)
        return self.resolve(model_name, alias)

    def compare_and_set_alias(self, model_name: str, alias: str, version: Union[int, str],
                              expected: Optional[Union[int, str]], *, by: str = "",
                              reason: str = "", operation: str = "") -> ModelVersion:
        """Points ``alias`` at ``version`` only if it points at ``expected`` now (None: only
        if the alias does not exist yet); atomic against every other alias update. The
        alias record keeps ``by``, ``reason`` and ``operation`` (the audit log).

        Raises:
            AliasConflictError: the alias points elsewhere; nothing was changed.
        """
        check_alias(alias)
        trail = audit.check_audit(by, reason, operation)
        target = self.resolve(model_name, version)
        want = None if expected in (None, "") else int(expected)
        self._move_aliases(model_name, [alias], int(target.version), expected={alias: want},
                           trail=trail)
        return self.resolve(model_name, alias)

    # writing
    def _clean_stale(self, model_name: str, manifests: Dict[int, Optional[Dict]]) -> None:
        """Abandons claims older than ``stale_after`` without a manifest; removes files left
        in tombstones (by a slow owner that kept writing after it was abandoned)."""
        claims_root = self._claims_root(model_name)
        for number, name in claims.numbered(claims_root, claims.SEQ_NAME).items():
            manifest = manifests.get(number)
            folder = self.version_dir(model_name, number)
            if manifest is None:
                age = claims.age(io.join(claims_root, name))
                if age >= self.stale_after:
                    logger.warning("model %r: version %d was claimed %.0fs ago and never "
                                   "completed; abandoning it", model_name, number, age)
                    claims.abandon(folder, VERSION_FILE,
                                   f"claim older than {self.stale_after:.0f}s")
            elif manifest.get("state") == ABANDONED and io.listdir(folder) != [VERSION_FILE]:
                claims.remove_all_but(folder, VERSION_FILE)

    def _find_hash(self, manifests: Dict[int, Optional[Dict]], model_hash: str) -> Optional[int]:
        for number, info in self._complete(manifests).items():
            if info.get("model_content_hash") == model_hash:
                return number
        return None

    def _wait_for_twin(self, model_name: str, number: int, model_hash: str) -> Optional[int]:
        """A complete version holding ``model_hash`` claimed below ``number``, waiting for
        racing pushes of the same bytes that claimed a lower number; None when none."""
        claims_root = self._claims_root(model_name)
        lower = {n: name for n, name in claims.numbered(claims_root, claims.SEQ_NAME).items()
                 if n < number}
        twins = []
        for n, name in sorted(lower.items()):
            claim = read_json_or_none(io.join(claims_root, name)) or {}
            if claim.get("model_content_hash") == model_hash:
                twins.append((n, io.join(claims_root, name)))
        waited = False
        while twins:
            pending = []
            for n, claim_uri in twins:
                manifest = read_json_or_none(
                    io.join(self.version_dir(model_name, n), VERSION_FILE))
                if manifest is None:
                    if claims.age(claim_uri) >= self.stale_after:
                        claims.abandon(self.version_dir(model_name, n), VERSION_FILE,
                                       f"claim older than {self.stale_after:.0f}s")
                        continue
                    pending.append((n, claim_uri))
                elif manifest.get("state") != ABANDONED:
                    return n
            if pending and not waited:
                logger.info("model %r: a push of the same model holds version %d; waiting "
                            "for it", model_name, pending[0][0])
                waited = True
            twins = pending
            if twins:
                time.sleep(POLL_SECONDS)
        return None

    def register(self, model_name: str, model_dir: str, schema_dir: str,
                 statistics_dir: str, evaluation: Dict, lineage: Dict,
                 aliases: Sequence[str] = (CHAMPION,)) -> ModelVersion:
        """Adds a version (or returns the existing one holding the same model bytes).

        Args:
            model_name: Registered model name: letters, digits, ``-``, ``_``, ``.``.
            model_dir: The TF SavedModel folder (local); copied into the version.
            schema_dir: Folder holding ``schema.pbtxt``.
            statistics_dir: The statistics artifact folder (``Split-<split>/...``); copied.
            evaluation: The evaluation the model was blessed with.
            lineage: Where the model came from; the registry adds the model content hash,
                the version and the creation time.
            aliases: Aliases moved to this version (also when it already existed).

        Returns:
            The registered version.

        Raises:
            RegistryError: a bad name, alias or input folder (nothing is written then);
                :class:`AbandonedError` when this push took longer than ``stale_after``
                and another push abandoned it.
        """
        check_model_name(model_name)
        aliases = check_aliases(aliases)
        schema_file = check_inputs(model_dir, schema_dir, statistics_dir)
        model_hash = io.sha256_tree(model_dir)
        manifests = self._manifests(model_name)
        self._clean_stale(model_name, manifests)
        existing = self._find_hash(manifests, model_hash)
        if existing is not None:
            return self._reuse(model_name, existing, model_hash, aliases, lineage)
        owner = uuid.uuid4().hex
        claimed_at = now()
        number = claims.claim(self._claims_root(model_name), max(manifests, default=0),
                              lambda n: {"version": n, "owner": owner,
                                         "claimed_at": claimed_at,
                                         "model_content_hash": model_hash})
        fault_point("claimed")
        final = self.version_dir(model_name, number)
        try:
            existing = self._wait_for_twin(model_name, number, model_hash)
            if existing is not None:
                claims.abandon(final, VERSION_FILE, f"the same model is version {existing}")
                return self._reuse(model_name, existing, model_hash, aliases, lineage)
            created = now()
            lineage = dict(lineage or {})
            lineage.update({"model_name": model_name, "version": number,
                            "model_content_hash": model_hash, "created": created})
            info = {"model_name": model_name, "version": number, "created": created,
                    "model_content_hash": model_hash, "registered_aliases": aliases,
                    "owner": owner,
                    "files": {"model": MODEL_DIR, "schema": f"{SCHEMA_DIR}/{SCHEMA_FILE}",
                              "statistics": STATISTICS_DIR, "evaluation": EVALUATION_FILE,
                              "lineage": LINEAGE_FILE}}
            write_companions(final, model_dir, schema_file, statistics_dir,
                             dict(evaluation or {}), lineage)
            fault_point("files-written")
            if not io.create_exclusive(io.join(final, VERSION_FILE), dumps(info)):
                raise AbandonedError(
                    f"model {model_name!r}: version {number} was declared abandoned by another "
                    f"push (its claim was older than {self.stale_after:.0f}s) before this push "
                    "finished writing it; nothing was registered")
        except BaseException as e:
            if not isinstance(e, AbandonedError):
                claims.abandon(final, VERSION_FILE, f"the push failed: {type(e).__name__}")
            raise
        fault_point("manifest-written")
        self._move_aliases(model_name, aliases, number,
                           trail=_register_trail(lineage, number, reused=False))
        fault_point("aliases-moved")
        logger.info("registered %r version %d at %s (aliases %s)", model_name, number,
                    final, aliases or "none")
        return self.resolve(model_name, number)

    def _reuse(self, model_name: str, number: int, model_hash: str,
               aliases: Sequence[str], lineage: Optional[Dict] = None) -> ModelVersion:
        logger.info("model %r: this model (sha256 %s) is already version %d; not adding a "
                    "version", model_name, model_hash[:12], number)
        self._move_aliases(model_name, aliases, number,
                           trail=_register_trail(lineage, number, reused=True))
        return dataclasses.replace(self.resolve(model_name, number), reused=True)

    def monitoring_folder(self, version: ModelVersion) -> str:
        """``versions/<n>/monitoring/`` of the version."""
        return io.join(version.uri, MONITORING_DIR)


def _register_trail(lineage: Optional[Dict], number: int, reused: bool) -> Dict[str, str]:
    """The audit trail of aliases given at registration: by the lineage's pipeline run."""
    how = "already registered as" if reused else "registered as"
    return audit.check_audit(str((lineage or {}).get("pipeline_run", "")),
                             f"aliases given at registration ({how} version {number})",
                             audit.REGISTER)


#: The folder registry's former name; a local path, gs:// and s3:// alike.
LocalRegistry = FolderRegistry
