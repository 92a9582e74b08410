"""The model registry: where blessed models, their schema and baseline statistics live.

Two back ends, chosen by the registry URI (see :func:`parse_registry_uri`):

* a **folder registry** (:class:`FolderRegistry`, also named :class:`LocalRegistry`) on a
  local path / ``file://`` URI, ``gs://bucket/folder`` or ``s3://bucket/folder`` (MinIO,
  Kubeflow's artifact store). A ``/gcs/bucket/folder`` path is used as
  ``gs://bucket/folder``: the Vertex AI mount is Cloud Storage FUSE, which has neither
  atomic renames nor preconditions, so the registry talks to Cloud Storage itself. All
  storage goes through :mod:`kfp_mlops.components._shared.io`, one code path for every
  store. Layout::

      <root>/<model_name>/
        claims/<n>.json                   create-only: version n is taken (owner, model hash)
        versions/<n>/                     written only by the owner of claims/<n>.json
          model/                          the TF SavedModel, byte for byte
          schema/schema.pbtxt
          statistics/Split-<split>/FeatureStats.pb   (the whole statistics artifact)
          evaluation.json                 the evaluation the version was blessed with
          lineage.json                    data hash and source, pipeline run, model hash, ...
          version.json                    the manifest: create-only, written last
          monitoring/claims/<seq>.json    create-only: monitoring entry seq is taken
          monitoring/<seq>-<time>/        statistics/ and record.json (create-only, last)
        aliases/<seq>.json                create-only alias records; the highest is current

* **Vertex AI Model Registry** -- ``vertex://projects/<project>/locations/<region>``. Each
  push uploads a version of the Vertex model whose display name is the model name, with
  the labels ``model_hash``, ``data_hash``, ``pipeline_run`` and ``managed_by``. The
  schema, statistics, evaluation and lineage are written straight to Cloud Storage beside
  the SavedModel, into the *companion folder* ``<model gs:// uri>.kfp_mlops/`` (same layout
  as a version folder, plus ``kfp_mlops.json`` naming every file, written last), so
  monitoring finds them from the model's ``artifact_uri`` alone; the version description
  names that folder too. Its monitoring history uses the folder registry's create-only
  protocol in ``<companion>/monitoring/``.

How a folder registry stays consistent without locks or renames
----------------------------------------------------------------
Object stores give two things: one object is written whole or not at all, and a write can
be made conditional on the name being free (:func:`io.create_exclusive`: Cloud Storage
``ifGenerationMatch=0``, S3 ``If-None-Match: *``, locally ``link(2)``). Everything below
is built on those; the same code runs on a local folder (no fcntl lock, no rename), so the
guarantees are the same on every store.

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
   records are an audit trail (:meth:`FolderRegistry.alias_history`).
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
                       MinIO releases since mid-2024, minio/minio#19681 and #20346;
                       an older MinIO ignores the header, and then two racing
                       writers may take one number)
/gcs/bucket/folder     used as gs://bucket/folder: the same guarantees
vertex://...           versions, numbers and aliases are Vertex AI's (atomic per
                       upload / alias call); pushing the same bytes again is found by
                       the ``model_hash`` label, but two pushes of the same bytes racing
                       may both upload. No conditional alias update:
                       ``compare_and_set_alias`` re-reads the alias and moves it with the
                       next request, so a move by another writer between those two
                       requests is overwritten. The companion folder is written before the
                       upload, so an uploaded version always has it; monitoring history is
                       create-only as above
=====================  ============================================================

Pure Python: no kfp import; ``google.cloud.aiplatform`` is imported inside functions.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import re
import signal
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from kfp_mlops.components._shared import gcp, io

logger = logging.getLogger(__name__)

VERTEX_PREFIX = "vertex://"
#: The prebuilt Vertex AI TensorFlow serving image uploads use unless told otherwise.
DEFAULT_SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-16:latest"
DEFAULT_MACHINE_TYPE = "n1-standard-2"
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
COMPANION_SUFFIX = ".kfp_mlops"
COMPANION_FILE = "kfp_mlops.json"
#: What a tombstone manifest (or monitoring record) holds in ``state``.
ABANDONED = "abandoned"
#: A claim without a manifest older than this (seconds) is an abandoned push.
DEFAULT_STALE_SECONDS = 15 * 60
#: How often (seconds) a push polls a racing push of the same model bytes that claimed a
#: lower number; it waits until that version is complete, abandoned, or stale.
POLL_SECONDS = 0.25
#: Hex digits of a content hash kept in a Vertex label (labels hold at most 63 characters).
HASH_LABEL_CHARS = 32
#: Fault injection for the tests: the name of a step (see :func:`_step`) at which the
#: process kills itself with SIGKILL, as a node failure would.
FAULT_ENV = "KFP_MLOPS_REGISTRY_KILL_AT"

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Valid on both back ends: Vertex aliases are [a-z][a-zA-Z0-9-]{0,126}[a-z0-9].
_ALIAS = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_RESERVED_ALIASES = (LATEST, "default")
_VERTEX_URI = re.compile(r"^vertex://projects/([^/]+)/locations/([^/]+)/?$")
_SEQ_NAME = re.compile(r"^(\d+)\.json$")
_ENTRY_NAME = re.compile(r"^(\d+)-")
_FORMS = ("a local path, a file:///absolute/path URI, gs://<bucket>/<folder>, "
          "s3://<bucket>/<folder>, /gcs/<bucket>/<folder> (Vertex AI's Cloud Storage "
          "mount, used as gs://<bucket>/<folder>) or "
          "vertex://projects/<project>/locations/<region>")


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


# --------------------------------------------------------------------------- helpers

def parse_registry_uri(uri: str) -> RegistryLocation:
    """Tells a folder registry (local, ``gs://``, ``s3://``) from Vertex AI Model Registry.

    Args:
        uri: A local path or ``file://`` URI, ``gs://bucket/folder``, ``s3://bucket/folder``,
            ``/gcs/bucket/folder`` (read as ``gs://bucket/folder``) -- a folder registry,
            created on first push -- or ``vertex://projects/<project>/locations/<region>``.

    Raises:
        RegistryError: anything else, with the accepted forms.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise RegistryError(f"registry_uri is empty; expected {_FORMS}")
    uri = uri.strip()
    if uri.startswith(VERTEX_PREFIX):
        match = _VERTEX_URI.match(uri)
        if not match:
            raise RegistryError(f"registry_uri {uri!r} is not a Vertex AI registry URI; "
                                "expected vertex://projects/<project>/locations/<region>")
        return RegistryLocation(kind="vertex", project=match.group(1), location=match.group(2))
    if uri.startswith(io.FILE_PREFIX) and not io.strip_file_scheme(uri).startswith("/"):
        raise RegistryError(f"registry_uri {uri!r}: a file:// URI needs an absolute path; "
                            f"expected {_FORMS}")
    try:
        root = io.canonical_uri(uri)
    except ValueError as e:
        raise RegistryError(f"registry_uri {uri!r}: {e}; expected {_FORMS}") from None
    if io.is_gcs(root):
        return RegistryLocation(kind="gs", root=root)
    if io.is_s3(root):
        return RegistryLocation(kind="s3", root=root)
    return RegistryLocation(kind="local", root=root)


def open_registry(registry_uri: str) -> Union["FolderRegistry", "VertexRegistry"]:
    """The registry a URI names: a :class:`FolderRegistry` or a :class:`VertexRegistry`."""
    where = parse_registry_uri(registry_uri)
    if where.kind == "vertex":
        return VertexRegistry(where.project, where.location)
    return FolderRegistry(where.root)


def find_champion(registry_uri: str, model_name: str) -> Optional[ModelVersion]:
    """The version aliased ``champion``, or None when there is none yet.

    None when the registry or the model does not exist yet, or when no version holds the
    ``champion`` alias. A malformed URI or model name still raises :class:`RegistryError`.
    """
    registry = open_registry(registry_uri)
    try:
        return registry.resolve(model_name, CHAMPION)
    except (ModelNotFoundError, VersionNotFoundError) as e:
        logger.info("no champion for %r in %s: %s", model_name, registry_uri, e)
        return None


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


def check_traffic_percentage(traffic_percentage: int) -> int:
    """A Vertex AI endpoint traffic share: a whole number 0-100."""
    if (isinstance(traffic_percentage, bool) or not isinstance(traffic_percentage, (int, float))
            or traffic_percentage != traffic_percentage
            or not float(traffic_percentage).is_integer()
            or not 0 <= traffic_percentage <= 100):
        raise RegistryError(f"traffic_percentage must be 0-100 (a whole number), not "
                            f"{traffic_percentage!r}")
    return int(traffic_percentage)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def to_gcs_uri(path: str, mount: Optional[str] = None) -> str:
    """``/gcs/bucket/path`` -> ``gs://bucket/path``; a ``gs://`` URI is returned as is.

    Raises:
        RegistryError: ``path`` is neither on the Cloud Storage mount nor a ``gs://`` URI.
    """
    mount = io.GCS_FUSE_ROOT if mount is None else mount
    uri = io.from_mount_path(path, mount)
    if not io.is_gcs(uri):
        raise RegistryError(
            f"{path!r} is not in Cloud Storage: Vertex AI needs the model under "
            f"{mount.rstrip('/')}/ (where Vertex AI Pipelines mounts buckets) or a gs:// URI")
    return uri


def _step(name: str) -> None:
    """A fault-injection point: SIGKILL this process here when :data:`FAULT_ENV` names it."""
    if os.environ.get(FAULT_ENV) == name:
        logger.warning("%s=%s: killing this process", FAULT_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def _read_json_or_none(uri: str) -> Optional[Dict]:
    """The JSON object at ``uri``, or None when nothing is there."""
    try:
        return io.read_json(uri)
    except FileNotFoundError:
        return None


def _read_json_or_empty(uri: str) -> Dict:
    try:
        return io.read_json(uri)
    except (OSError, ValueError) as e:
        logger.warning("cannot read %s: %s", uri, e)
        return {}


def _numbered(folder: str, pattern: "re.Pattern") -> Dict[int, str]:
    """``{number: name}`` of the entries of ``folder`` whose name ``pattern`` matches."""
    found = {}
    for name in io.listdir(folder):
        match = pattern.match(name)
        if match:
            found[int(match.group(1))] = name
    return found


def _claim(claims_dir: str, floor: int, body: Callable[[int], Dict]) -> int:
    """Creates ``claims_dir/<n>.json`` for the lowest free ``n`` above every number taken.

    ``floor`` is the highest number known to be taken otherwise (folders written before
    claims existed). Create-only: of racing writers exactly one gets each number.
    """
    number = max([floor, *_numbered(claims_dir, _SEQ_NAME)], default=0) + 1
    for _ in range(10000):
        if io.create_exclusive(io.join(claims_dir, f"{number:06d}.json"), _dumps(body(number))):
            return number
        number += 1
    raise RegistryError(f"could not claim a number in {claims_dir!r}")  # pragma: no cover


def _age(uri: str) -> float:
    """Seconds since ``uri`` was written (by the store's clock); 0 when it is gone."""
    try:
        return max(0.0, time.time() - io.modified(uri))
    except FileNotFoundError:
        return 0.0


def _remove_all_but(folder: str, keep: str) -> None:
    for name in io.listdir(folder):
        if name != keep:
            io.remove(io.join(folder, name), recursive=True)


def _abandon(folder: str, manifest_name: str, reason: str) -> bool:
    """Turns a slot without a manifest into a tombstone and removes its files.

    Create-only: when the manifest exists already (the owner finished first), nothing is
    touched. Returns True when ``folder`` is (now) a tombstone.
    """
    manifest = io.join(folder, manifest_name)
    io.create_exclusive(manifest, _dumps({"state": ABANDONED, "reason": reason,
                                          "abandoned_at": now()}))
    body = _read_json_or_none(manifest) or {}
    if body.get("state") != ABANDONED:
        return False
    _remove_all_but(folder, manifest_name)
    return True


def _check_inputs(model_dir: str, schema_dir: str, statistics_dir: str) -> str:
    """Checks the three input folders; returns the schema file inside ``schema_dir``."""
    if not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        raise RegistryError(f"model_dir {model_dir!r} is not a TF SavedModel: "
                            "saved_model.pb is missing")
    schema = os.path.join(schema_dir, SCHEMA_FILE)
    if not os.path.isfile(schema):
        raise RegistryError(f"schema_dir {schema_dir!r} holds no {SCHEMA_FILE}")
    if not os.path.isdir(statistics_dir) or not os.listdir(statistics_dir):
        raise RegistryError(f"statistics_dir {statistics_dir!r} is missing or empty")
    return schema


def _write_companions(target: str, model_dir: Optional[str], schema_file: str,
                      statistics_dir: str, evaluation: Dict, lineage: Dict) -> None:
    """Fills a version folder (everything but its manifest): model, schema, stats, json."""
    if model_dir is not None:
        io.put_dir(model_dir, io.join(target, MODEL_DIR))
        _step("model-written")
    io.put_file(schema_file, io.join(target, SCHEMA_DIR, SCHEMA_FILE))
    io.put_dir(statistics_dir, io.join(target, STATISTICS_DIR))
    io.write_json(io.join(target, EVALUATION_FILE), evaluation)
    io.write_json(io.join(target, LINEAGE_FILE), lineage)


# --------------------------------------------------------------------------- monitoring

def _clean_monitoring(folder: str, stale_after: float) -> None:
    """Turns monitoring entries claimed longer than ``stale_after`` ago without a record
    into tombstones."""
    claims = io.join(folder, CLAIMS_DIR)
    entries = _numbered(folder, _ENTRY_NAME)
    for seq, name in _numbered(claims, _SEQ_NAME).items():
        entry = entries.get(seq) or (_read_json_or_none(io.join(claims, name)) or {}).get("entry")
        if not entry or _read_json_or_none(io.join(folder, entry, MONITORING_RECORD)):
            continue
        if _age(io.join(claims, name)) >= stale_after:
            _abandon(io.join(folder, entry), MONITORING_RECORD,
                     f"monitoring entry {seq} claimed over {stale_after:.0f}s ago, no record")


def _record_monitoring(folder: str, record: Dict, statistics_path: str,
                       stale_after: float = DEFAULT_STALE_SECONDS) -> str:
    """Adds ``<folder>/<seq>-<time>/`` holding record.json and a copy of the statistics.

    The sequence number is claimed create-only (``<folder>/claims/<seq>.json``); the entry
    counts once its record.json (create-only, last) exists.
    """
    if statistics_path and not io.exists(statistics_path):
        raise RegistryError(f"statistics_path {statistics_path!r} does not exist")
    _clean_monitoring(folder, stale_after)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    owner = uuid.uuid4().hex
    seq = _claim(io.join(folder, CLAIMS_DIR), max(_numbered(folder, _ENTRY_NAME), default=0),
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
        if not io.create_exclusive(io.join(entry, MONITORING_RECORD), _dumps(body)):
            raise AbandonedError(f"monitoring entry {entry!r} was declared abandoned before "
                                 "its record was written; nothing was recorded")
    except BaseException:
        _abandon(entry, MONITORING_RECORD, "the recording failed")
        raise
    logger.info("recorded monitoring entry %s", entry)
    return entry


def _monitoring_history(folder: str) -> List[Dict]:
    entries = []
    for seq, name in _numbered(folder, _ENTRY_NAME).items():
        body = _read_json_or_none(io.join(folder, name, MONITORING_RECORD))
        if body is None or body.get("state") == ABANDONED:
            continue
        body["entry"] = io.join(folder, name)
        entries.append((seq, body))
    return [body for _, body in sorted(entries, key=lambda e: e[0])]


# --------------------------------------------------------------------------- folders

class FolderRegistry:
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
        return {int(n): _read_json_or_none(io.join(root, n, VERSION_FILE))
                for n in io.listdir(root) if n.isdigit()}

    @staticmethod
    def _complete(manifests: Dict[int, Optional[Dict]]) -> Dict[int, Dict]:
        return {n: m for n, m in sorted(manifests.items())
                if m is not None and m.get("state") != ABANDONED}

    def _numbers(self, model_name: str) -> List[int]:
        return sorted(self._complete(self._manifests(model_name)))

    def _alias_record(self, model_name: str) -> Tuple[int, Dict[str, int]]:
        """``(seq, {alias: version})`` of the current alias record (0 for none or legacy)."""
        records = _numbered(self._aliases_root(model_name), _SEQ_NAME)
        if records:
            seq = max(records)
            body = io.read_json(io.join(self._aliases_root(model_name), records[seq]))
            return seq, {k: int(v) for k, v in body.get("aliases", {}).items()}
        legacy = _read_json_or_none(io.join(self.model_root(model_name), ALIASES_FILE))
        return 0, {k: int(v) for k, v in (legacy or {}).items()}

    def _aliases(self, model_name: str) -> Dict[str, int]:
        return self._alias_record(model_name)[1]

    def aliases(self, model_name: str) -> Dict[str, int]:
        """The current aliases of a model: ``{alias: version}``."""
        return dict(self._aliases(model_name))

    def alias_history(self, model_name: str) -> List[Dict]:
        """Every alias record of a model, oldest first (``seq``, ``aliases``, ``changed``)."""
        root = self._aliases_root(model_name)
        return [io.read_json(io.join(root, name))
                for _, name in sorted(_numbered(root, _SEQ_NAME).items())]

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
                      expected: Optional[Dict[str, Optional[int]]] = None) -> Dict[str, int]:
        """Creates the next alias record with ``aliases`` pointing at ``number``.

        With ``expected`` (``{alias: version or None}``), only if each alias still points
        there (None: the alias does not exist). Retries when another writer created the
        record first, so no update is lost.

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
            if wanted == current and expected is None:
                return current
            record = {"seq": seq + 1, "aliases": wanted, "at": now(),
                      "changed": {a: {"from": current.get(a), "to": number} for a in aliases}}
            if io.create_exclusive(io.join(root, f"{seq + 1:06d}.json"), _dumps(record)):
                return wanted
            time.sleep(0.01 * (attempt % 10))  # another writer got seq + 1: reread
        raise RegistryError(f"could not update the aliases of {model_name!r}")  # pragma: no cover

    def set_alias(self, model_name: str, alias: str, version: Union[int, str]) -> ModelVersion:
        """Points ``alias`` at ``version`` (moving it from any other version)."""
        check_alias(alias)
        target = self.resolve(model_name, version)
        self._move_aliases(model_name, [alias], int(target.version))
        return self.resolve(model_name, alias)

    def compare_and_set_alias(self, model_name: str, alias: str, version: Union[int, str],
                              expected: Optional[Union[int, str]]) -> ModelVersion:
        """Points ``alias`` at ``version`` only if it points at ``expected`` now (None: only
        if the alias does not exist yet); atomic against every other alias update.

        Raises:
            AliasConflictError: the alias points elsewhere; nothing was changed.
        """
        check_alias(alias)
        target = self.resolve(model_name, version)
        want = None if expected in (None, "") else int(expected)
        self._move_aliases(model_name, [alias], int(target.version), expected={alias: want})
        return self.resolve(model_name, alias)

    # writing
    def _clean_stale(self, model_name: str, manifests: Dict[int, Optional[Dict]]) -> None:
        """Abandons claims older than ``stale_after`` without a manifest; removes files left
        in tombstones (by a slow owner that kept writing after it was abandoned)."""
        claims_root = self._claims_root(model_name)
        for number, name in _numbered(claims_root, _SEQ_NAME).items():
            manifest = manifests.get(number)
            folder = self.version_dir(model_name, number)
            if manifest is None:
                age = _age(io.join(claims_root, name))
                if age >= self.stale_after:
                    logger.warning("model %r: version %d was claimed %.0fs ago and never "
                                   "completed; abandoning it", model_name, number, age)
                    _abandon(folder, VERSION_FILE, f"claim older than {self.stale_after:.0f}s")
            elif manifest.get("state") == ABANDONED and io.listdir(folder) != [VERSION_FILE]:
                _remove_all_but(folder, VERSION_FILE)

    def _find_hash(self, manifests: Dict[int, Optional[Dict]], model_hash: str) -> Optional[int]:
        for number, info in self._complete(manifests).items():
            if info.get("model_content_hash") == model_hash:
                return number
        return None

    def _wait_for_twin(self, model_name: str, number: int, model_hash: str) -> Optional[int]:
        """A complete version holding ``model_hash`` claimed below ``number``, waiting for
        racing pushes of the same bytes that claimed a lower number; None when none."""
        claims_root = self._claims_root(model_name)
        lower = {n: name for n, name in _numbered(claims_root, _SEQ_NAME).items() if n < number}
        twins = []
        for n, name in sorted(lower.items()):
            claim = _read_json_or_none(io.join(claims_root, name)) or {}
            if claim.get("model_content_hash") == model_hash:
                twins.append((n, io.join(claims_root, name)))
        waited = False
        while twins:
            pending = []
            for n, claim_uri in twins:
                manifest = _read_json_or_none(
                    io.join(self.version_dir(model_name, n), VERSION_FILE))
                if manifest is None:
                    if _age(claim_uri) >= self.stale_after:
                        _abandon(self.version_dir(model_name, n), VERSION_FILE,
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
        schema_file = _check_inputs(model_dir, schema_dir, statistics_dir)
        model_hash = io.sha256_tree(model_dir)
        manifests = self._manifests(model_name)
        self._clean_stale(model_name, manifests)
        existing = self._find_hash(manifests, model_hash)
        if existing is not None:
            return self._reuse(model_name, existing, model_hash, aliases)
        owner = uuid.uuid4().hex
        claimed_at = now()
        number = _claim(self._claims_root(model_name), max(manifests, default=0),
                        lambda n: {"version": n, "owner": owner, "claimed_at": claimed_at,
                                   "model_content_hash": model_hash})
        _step("claimed")
        final = self.version_dir(model_name, number)
        try:
            existing = self._wait_for_twin(model_name, number, model_hash)
            if existing is not None:
                _abandon(final, VERSION_FILE, f"the same model is version {existing}")
                return self._reuse(model_name, existing, model_hash, aliases)
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
            _write_companions(final, model_dir, schema_file, statistics_dir,
                              dict(evaluation or {}), lineage)
            _step("files-written")
            if not io.create_exclusive(io.join(final, VERSION_FILE), _dumps(info)):
                raise AbandonedError(
                    f"model {model_name!r}: version {number} was declared abandoned by another "
                    f"push (its claim was older than {self.stale_after:.0f}s) before this push "
                    "finished writing it; nothing was registered")
        except BaseException as e:
            if not isinstance(e, AbandonedError):
                _abandon(final, VERSION_FILE, f"the push failed: {type(e).__name__}")
            raise
        _step("manifest-written")
        self._move_aliases(model_name, aliases, number)
        _step("aliases-moved")
        logger.info("registered %r version %d at %s (aliases %s)", model_name, number,
                    final, aliases or "none")
        return self.resolve(model_name, number)

    def _reuse(self, model_name: str, number: int, model_hash: str,
               aliases: Sequence[str]) -> ModelVersion:
        logger.info("model %r: this model (sha256 %s) is already version %d; not adding a "
                    "version", model_name, model_hash[:12], number)
        self._move_aliases(model_name, aliases, number)
        return dataclasses.replace(self.resolve(model_name, number), reused=True)

    # monitoring
    def record_monitoring(self, model_name: str, version: Union[int, str], record: Dict,
                          statistics_path: str = "") -> str:
        """Stores one monitoring run of a version; returns the entry's folder (URI)."""
        target = self.resolve(model_name, version)
        return _record_monitoring(io.join(target.uri, MONITORING_DIR), record,
                                  statistics_path, self.stale_after)

    def monitoring_history(self, model_name: str, version: Union[int, str]) -> List[Dict]:
        """Monitoring records of a version, oldest first (each with ``entry`` and ``seq``)."""
        target = self.resolve(model_name, version)
        return _monitoring_history(io.join(target.uri, MONITORING_DIR))


#: The folder registry's former name; a local path, gs:// and s3:// alike.
LocalRegistry = FolderRegistry


# --------------------------------------------------------------------------- Vertex AI

class VertexRegistry:
    """Vertex AI Model Registry, through ``google.cloud.aiplatform``.

    Args:
        project: Google Cloud project.
        location: Region, e.g. ``us-central1``.
        gcs_mount: Where Cloud Storage is mounted in the task; default
            :data:`io.GCS_FUSE_ROOT`, read when the registry is made.
            Only the push's inputs (the task's ``/gcs/...`` artifact paths) are read
            through it; the registry writes and reads Cloud Storage itself.
        stale_after: Seconds after which an unfinished monitoring entry is abandoned.
    """

    def __init__(self, project: str, location: str, gcs_mount: Optional[str] = None,
                 stale_after: float = DEFAULT_STALE_SECONDS):
        self.project = project
        self.location = location
        self.gcs_mount = gcs_mount or io.GCS_FUSE_ROOT
        self.stale_after = float(stale_after)

    def __repr__(self) -> str:
        return f"VertexRegistry(project={self.project!r}, location={self.location!r})"

    def _init(self):
        from google.cloud import aiplatform

        aiplatform.init(project=self.project, location=self.location)
        return aiplatform

    def _find_model(self, aiplatform, model_name: str):
        found = aiplatform.Model.list(filter=f'display_name="{model_name}"',
                                      order_by="update_time desc")
        if len(found) > 1:
            logger.warning("%d Vertex AI models are named %r; using the last updated, %s",
                           len(found), model_name, found[0].resource_name)
        return found[0] if found else None

    def companion_uri(self, model_uri: str) -> str:
        """The folder beside a model that holds its schema, statistics and lineage."""
        return model_uri.rstrip("/") + COMPANION_SUFFIX

    def _local(self, uri: str) -> str:
        """An input of the push as this task reads it (``gs://b/x`` through the mount)."""
        return io.to_mount_path(uri, self.gcs_mount)

    def _version(self, model_name: str, model) -> ModelVersion:
        model_uri = model.uri
        companion = self.companion_uri(model_uri)
        labels = dict(model.labels or {})
        return ModelVersion(
            model_name=model_name,
            version=str(model.version_id),
            model_dir=model_uri,
            schema_path=f"{companion}/{SCHEMA_DIR}/{SCHEMA_FILE}",
            statistics_dir=f"{companion}/{STATISTICS_DIR}",
            evaluation=_read_json_or_empty(io.join(companion, EVALUATION_FILE)),
            lineage=_read_json_or_empty(io.join(companion, LINEAGE_FILE)),
            aliases=sorted(model.version_aliases or []),
            uri=f"{model.resource_name}@{model.version_id}",
            model_hash=labels.get("model_hash", ""),
        )

    def resolve(self, model_name: str, ref: Union[str, int] = CHAMPION) -> ModelVersion:
        """The version an alias, a version ID or ``"latest"`` names (model_dir is gs://)."""
        from google.api_core import exceptions

        check_model_name(model_name)
        aiplatform = self._init()
        parent = self._find_model(aiplatform, model_name)
        if parent is None:
            raise ModelNotFoundError(f"Vertex AI project {self.project!r} ({self.location}) "
                                     f"holds no model named {model_name!r}")
        ref_text = str(ref).strip()
        if ref_text == LATEST:
            infos = parent.versioning_registry.list_versions()
            ref_text = str(max(int(i.version_id) for i in infos))
        try:
            model = aiplatform.Model(model_name=parent.resource_name, version=ref_text)
        except exceptions.NotFound as e:
            raise VersionNotFoundError(
                f"Vertex AI model {model_name!r} has no version {ref!r}: {e}") from e
        return self._version(model_name, model)

    def versions(self, model_name: str) -> List[ModelVersion]:
        """Every version of a model, oldest first ([] for an unknown model)."""
        check_model_name(model_name)
        aiplatform = self._init()
        parent = self._find_model(aiplatform, model_name)
        if parent is None:
            return []
        infos = sorted(parent.versioning_registry.list_versions(),
                       key=lambda i: int(i.version_id))
        return [self._version(model_name, aiplatform.Model(model_name=parent.resource_name,
                                                            version=str(i.version_id)))
                for i in infos]

    def set_alias(self, model_name: str, alias: str, version: Union[int, str]) -> ModelVersion:
        check_alias(alias)
        target = self.resolve(model_name, version)
        aiplatform = self._init()
        parent = self._find_model(aiplatform, model_name)
        parent.versioning_registry.add_version_aliases(new_aliases=[alias],
                                                       version=str(target.version))
        return self.resolve(model_name, alias)

    def compare_and_set_alias(self, model_name: str, alias: str, version: Union[int, str],
                              expected: Optional[Union[int, str]]) -> ModelVersion:
        """Points ``alias`` at ``version`` only if it names ``expected`` (None: no version)
        when re-read just before the move.

        **Not atomic.** Vertex AI Model Registry has no conditional alias update
        (``ModelRegistry.add_version_aliases`` moves an alias unconditionally), so the alias
        is re-read (``resolve(model_name, alias)``: ``GetModel`` of ``<model>@<alias>``) and
        moved by the very next request (``MergeVersionAliases``): another writer that moves
        the alias between those two requests is overwritten. That window is two API calls
        long, not the whole push.

        Raises:
            AliasConflictError: the re-read found the alias elsewhere; nothing was changed.
        """
        check_alias(alias)
        want = None if expected in (None, "") else str(expected)
        aiplatform = self._init()
        parent = self._find_model(aiplatform, model_name)
        if parent is None:
            raise ModelNotFoundError(f"Vertex AI project {self.project!r} ({self.location}) "
                                     f"holds no model named {model_name!r}")
        # The re-read is the last request before the move (aiplatform.models.ModelRegistry:
        # add_version_aliases -> _merge_version_aliases, ModelService.MergeVersionAliases,
        # which takes no precondition).
        try:
            current: Optional[str] = str(self.resolve(model_name, alias).version)
        except VersionNotFoundError:
            current = None
        if current != want:
            raise AliasConflictError(
                f"alias {alias!r} of Vertex AI model {model_name!r} points at "
                f"{current or 'no version'}, not at {want or 'no version'} as expected; "
                f"not moved to {version}")
        parent.versioning_registry.add_version_aliases(new_aliases=[alias],
                                                       version=str(version))
        logger.info("moved alias %r of Vertex AI model %r from %s to %s", alias, model_name,
                    current or "no version", version)
        return self.resolve(model_name, version)

    def register(self, model_name: str, model_dir: str, schema_dir: str,
                 statistics_dir: str, evaluation: Dict, lineage: Dict,
                 aliases: Sequence[str] = (CHAMPION,),
                 serving_image: str = DEFAULT_SERVING_IMAGE,
                 endpoint_name: str = "", traffic_percentage: int = 0,
                 machine_type: str = DEFAULT_MACHINE_TYPE) -> ModelVersion:
        """Uploads a model version (or finds the one with the same model bytes).

        ``model_dir`` must be in Cloud Storage (a ``/gcs/...`` path in a Vertex AI task).
        The schema, statistics, evaluation and lineage are written to the companion folder
        ``<model_dir>.kfp_mlops/`` first (straight to Cloud Storage, ``kfp_mlops.json``
        last), then the version is uploaded with
        ``artifact_uri`` = the model's ``gs://`` URI. With ``endpoint_name``, the version is
        deployed to that endpoint (created when missing) with ``traffic_percentage`` of the
        traffic (Vertex AI gives the first model on an empty endpoint 100).
        """
        check_model_name(model_name)
        aliases = check_aliases(aliases)
        traffic_percentage = check_traffic_percentage(traffic_percentage)
        local_model = self._local(model_dir)
        artifact_uri = to_gcs_uri(local_model, self.gcs_mount)
        schema_file = _check_inputs(local_model, self._local(schema_dir),
                                    self._local(statistics_dir))
        model_hash = io.sha256_tree(local_model)
        lineage = dict(lineage or {})
        aiplatform = self._init()
        parent = self._find_model(aiplatform, model_name)
        if parent is not None:
            hits = parent.versioning_registry.list_versions(
                filter=f'labels.model_hash="{model_hash[:HASH_LABEL_CHARS]}"')
            if hits:
                version_id = str(hits[0].version_id)
                logger.info("Vertex AI model %r already holds this model as version %s; "
                            "not uploading", model_name, version_id)
                missing = [a for a in aliases if a not in (hits[0].version_aliases or [])]
                if missing:
                    parent.versioning_registry.add_version_aliases(new_aliases=missing,
                                                                   version=version_id)
                model = aiplatform.Model(model_name=parent.resource_name, version=version_id)
                self._deploy(aiplatform, model, model_name, endpoint_name,
                             traffic_percentage, machine_type)
                return dataclasses.replace(self._version(model_name, model), reused=True)

        companion = self.companion_uri(artifact_uri)
        lineage.update({"model_name": model_name, "model_content_hash": model_hash,
                        "created": now(), "model_uri": artifact_uri})
        # Written in place, in Cloud Storage: the folder belongs to this model artifact
        # alone, and a failed upload leaves it to be overwritten by the task's retry. No
        # version refers to it before the upload below succeeds.
        _write_companions(companion, None, schema_file, self._local(statistics_dir),
                          dict(evaluation or {}), lineage)
        io.write_json(io.join(companion, COMPANION_FILE), {
            "model_name": model_name, "model_uri": artifact_uri,
            "model_content_hash": model_hash,
            "schema": f"{companion}/{SCHEMA_DIR}/{SCHEMA_FILE}",
            "statistics": f"{companion}/{STATISTICS_DIR}",
            "evaluation": f"{companion}/{EVALUATION_FILE}",
            "lineage": f"{companion}/{LINEAGE_FILE}"})
        run = str(lineage.get("pipeline_run", ""))
        labels = {
            "managed_by": "kfp-mlops",
            "model_hash": gcp.label_value(model_hash[:HASH_LABEL_CHARS], default=""),
            "data_hash": gcp.label_value(
                str(lineage.get("data_content_hash", ""))[:HASH_LABEL_CHARS], default=""),
            "pipeline_run": gcp.label_value(run, default=""),
        }
        model = aiplatform.Model.upload(
            display_name=model_name,
            artifact_uri=artifact_uri,
            serving_container_image_uri=serving_image,
            parent_model=parent.resource_name if parent is not None else None,
            is_default_version=True,
            version_aliases=aliases,
            labels=labels,
            description=f"{model_name}: TensorFlow SavedModel registered by kfp-mlops",
            version_description=(f"kfp-mlops push from pipeline run {run or '(unknown)'}; "
                                 f"schema, statistics and lineage in {companion}"),
        )
        logger.info("uploaded %r version %s (%s)", model_name, model.version_id,
                    model.resource_name)
        self._deploy(aiplatform, model, model_name, endpoint_name, traffic_percentage,
                     machine_type)
        return ModelVersion(
            model_name=model_name, version=str(model.version_id), model_dir=artifact_uri,
            schema_path=f"{companion}/{SCHEMA_DIR}/{SCHEMA_FILE}",
            statistics_dir=f"{companion}/{STATISTICS_DIR}", evaluation=dict(evaluation or {}),
            lineage=lineage, aliases=sorted(aliases),
            uri=f"{model.resource_name}@{model.version_id}", model_hash=model_hash,
            created=lineage["created"])

    def _deploy(self, aiplatform, model, model_name: str, endpoint_name: str,
                traffic_percentage: int, machine_type: str) -> None:
        if not endpoint_name:
            return
        found = aiplatform.Endpoint.list(filter=f'display_name="{endpoint_name}"')
        endpoint = found[0] if found else aiplatform.Endpoint.create(display_name=endpoint_name)
        for deployed in endpoint.list_models():
            if (deployed.model == model.resource_name
                    and str(deployed.model_version_id) == str(model.version_id)):
                logger.info("%r version %s is already deployed to endpoint %r", model_name,
                            model.version_id, endpoint_name)
                return
        logger.info("deploying %r version %s to endpoint %r with %d%% of the traffic",
                    model_name, model.version_id, endpoint_name, traffic_percentage)
        model.deploy(endpoint=endpoint, traffic_percentage=int(traffic_percentage),
                     machine_type=machine_type,
                     deployed_model_display_name=f"{model_name}-v{model.version_id}")

    # monitoring: beside the model, in its companion folder
    def record_monitoring(self, model_name: str, version: Union[int, str], record: Dict,
                          statistics_path: str = "") -> str:
        target = self.resolve(model_name, version)
        folder = io.join(self.companion_uri(target.model_dir), MONITORING_DIR)
        return _record_monitoring(folder, record, statistics_path, self.stale_after)

    def monitoring_history(self, model_name: str, version: Union[int, str]) -> List[Dict]:
        target = self.resolve(model_name, version)
        return _monitoring_history(io.join(self.companion_uri(target.model_dir),
                                           MONITORING_DIR))


def record_monitoring(registry_uri: str, model_name: str, version: Union[int, str],
                      record: Dict, statistics_path: str = "") -> str:
    """Module-level shortcut: ``open_registry(registry_uri).record_monitoring(...)``."""
    return open_registry(registry_uri).record_monitoring(model_name, version, record,
                                                         statistics_path)


def monitoring_history(registry_uri: str, model_name: str,
                       version: Union[int, str]) -> List[Dict]:
    """Module-level shortcut: ``open_registry(registry_uri).monitoring_history(...)``."""
    return open_registry(registry_uri).monitoring_history(model_name, version)
