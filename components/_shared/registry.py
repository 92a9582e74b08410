"""The model registry: where blessed models, their schema and baseline statistics live.

Two back ends, chosen by the registry URI (see :func:`parse_registry_uri`):

* a **local registry** -- a local path or ``file://`` URI (also a Cloud Storage FUSE path
  such as ``/gcs/bucket/registry`` on Vertex AI) -- laid out as::

      <root>/<model_name>/
        aliases.json                      {"champion": 3, ...}, replaced atomically
        .lock                             fcntl lock: one writer at a time per model
        versions/<n>/                     n = 1, 2, ...; appears only when complete
          model/                          the TF SavedModel, byte for byte
          schema/schema.pbtxt
          statistics/Split-<split>/FeatureStats.pb   (the whole statistics artifact)
          evaluation.json                 the evaluation the version was blessed with
          lineage.json                    data hash and source, pipeline run, model hash, ...
          version.json                    written last: marks the version complete
          monitoring/<seq>-<time>/        one folder per monitoring run (record.json last)

  A version is staged in a hidden ``.partial-*`` folder of the model folder and renamed
  into place as the last step, under the model's lock; a crash leaves nothing that lists.
  On a Cloud Storage FUSE mount, where renaming a folder is not possible, the version is
  written in place and ``version.json`` (written last) is what makes it count.

* **Vertex AI Model Registry** -- ``vertex://projects/<project>/locations/<region>``. Each
  push uploads a version of the Vertex model whose display name is the model name, with
  the labels ``model_hash``, ``data_hash``, ``pipeline_run`` and ``managed_by``. The
  schema, statistics, evaluation and lineage are copied beside the SavedModel, into the
  *companion folder* ``<model artifact uri>.kfp_mlops/`` (same layout as a local version,
  plus ``kfp_mlops.json`` naming every file), so monitoring finds them from the model's
  ``artifact_uri`` alone; the version description names that folder too.

Pure Python: no kfp import; ``google.cloud.aiplatform`` is imported inside functions.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import logging
import os
import re
import shutil
import uuid
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from kfp_mlops.components._shared import io

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
ALIASES_FILE = "aliases.json"
LOCK_FILE = ".lock"
MONITORING_DIR = "monitoring"
MONITORING_RECORD = "record.json"
COMPANION_SUFFIX = ".kfp_mlops"
COMPANION_FILE = "kfp_mlops.json"
#: Where Cloud Storage is mounted in a task (Vertex AI Pipelines: /gcs/); tests point it
#: at a temporary folder.
GCS_MOUNT = io.GCS_FUSE_ROOT
#: Hex digits of a content hash kept in a Vertex label (labels hold at most 63 characters).
HASH_LABEL_CHARS = 32

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Valid on both back ends: Vertex aliases are [a-z][a-zA-Z0-9-]{0,126}[a-z0-9].
_ALIAS = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_RESERVED_ALIASES = (LATEST, "default")
_VERTEX_URI = re.compile(r"^vertex://projects/([^/]+)/locations/([^/]+)/?$")
_LABEL_BAD = re.compile(r"[^a-z0-9_-]+")


class RegistryError(ValueError):
    """A registry URI, model name, alias or input is not what the registry expects."""


class ModelNotFoundError(RegistryError, LookupError):
    """The registry holds no model of that name."""


class VersionNotFoundError(RegistryError, LookupError):
    """The model has no version for that alias, number or ``latest``."""


@dataclasses.dataclass
class ModelVersion:
    """One registered version of a model, with everything monitoring needs to find."""

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
    """A parsed registry URI: ``kind`` is ``local`` (with ``root``) or ``vertex``."""

    kind: str
    root: str = ""
    project: str = ""
    location: str = ""


# --------------------------------------------------------------------------- helpers

def parse_registry_uri(uri: str) -> RegistryLocation:
    """Tells a local registry from Vertex AI Model Registry.

    Args:
        uri: A local path or ``file://`` URI (a local registry, created on first push), or
            ``vertex://projects/<project>/locations/<region>``.

    Raises:
        RegistryError: anything else, with the accepted forms.
    """
    forms = ("a local path, a file:// URI or vertex://projects/<project>/locations/<region>")
    if not isinstance(uri, str) or not uri.strip():
        raise RegistryError(f"registry_uri is empty; expected {forms}")
    uri = uri.strip()
    if uri.startswith(VERTEX_PREFIX):
        match = _VERTEX_URI.match(uri)
        if not match:
            raise RegistryError(f"registry_uri {uri!r} is not a Vertex AI registry URI; "
                                "expected vertex://projects/<project>/locations/<region>")
        return RegistryLocation(kind="vertex", project=match.group(1), location=match.group(2))
    if uri.startswith(io.FILE_PREFIX):
        path = io.strip_file_scheme(uri)
        if not path.startswith("/"):
            raise RegistryError(f"registry_uri {uri!r}: a file:// URI needs an absolute path")
        return RegistryLocation(kind="local", root=path)
    if io.is_gcs(uri):
        raise RegistryError(
            f"registry_uri {uri!r}: a gs:// registry is not supported; use Vertex AI "
            f"(vertex://projects/<project>/locations/<region>) or, inside a Vertex AI "
            f"pipeline, the Cloud Storage mount path /gcs/{uri[len(io.GCS_PREFIX):]}")
    if "://" in uri:
        raise RegistryError(f"registry_uri {uri!r} has an unknown scheme; expected {forms}")
    return RegistryLocation(kind="local", root=os.path.abspath(uri))


def open_registry(registry_uri: str) -> Union["LocalRegistry", "VertexRegistry"]:
    """The registry a URI names: a :class:`LocalRegistry` or a :class:`VertexRegistry`."""
    where = parse_registry_uri(registry_uri)
    if where.kind == "vertex":
        return VertexRegistry(where.project, where.location)
    return LocalRegistry(where.root)


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


def check_model_name(model_name: str) -> str:
    if not isinstance(model_name, str) or not _MODEL_NAME.match(model_name):
        raise RegistryError(
            f"model_name {model_name!r} is not valid; use 1-128 letters, digits, '-', '_' "
            "or '.', starting with a letter or digit")
    return model_name


def check_alias(alias: str) -> str:
    if (not isinstance(alias, str) or not _ALIAS.match(alias)
            or alias in _RESERVED_ALIASES):
        raise RegistryError(
            f"alias {alias!r} is not valid; use lowercase letters, digits and '-', starting "
            f"with a letter (at most 63 characters), and not {' or '.join(_RESERVED_ALIASES)}")
    return alias


def check_aliases(aliases: Sequence[str]) -> List[str]:
    if isinstance(aliases, str):
        aliases = [aliases]
    out: List[str] = []
    for alias in aliases or ():
        if check_alias(alias) not in out:
            out.append(alias)
    return out


def label_value(value: Any, default: str = "") -> str:
    """``value`` as a Google Cloud label value: lowercase ``[a-z0-9_-]``, at most 63 chars;
    ``default`` when nothing is left (Vertex AI, Pipelines and Monitoring share the rules)."""
    return _LABEL_BAD.sub("-", str(value).lower()).strip("-")[:63].strip("-") or default


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def to_gcs_uri(path: str, mount: str = io.GCS_FUSE_ROOT) -> str:
    """``/gcs/bucket/path`` -> ``gs://bucket/path``; a ``gs://`` URI is returned as is.

    Raises:
        RegistryError: ``path`` is neither on the Cloud Storage mount nor a ``gs://`` URI.
    """
    uri = io.from_mount_path(path, mount)
    if not io.is_gcs(uri):
        raise RegistryError(
            f"{path!r} is not in Cloud Storage: Vertex AI needs the model under "
            f"{mount.rstrip('/')}/ (where Vertex AI Pipelines mounts buckets) or a gs:// URI")
    return uri


def _is_on_mount(path: str) -> bool:
    return os.path.abspath(path).startswith(io.GCS_FUSE_ROOT)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Holds an exclusive ``fcntl.flock`` on ``path`` (created if missing)."""
    import fcntl

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except OSError as e:  # file systems without locks (some FUSE mounts)
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            logger.warning("cannot lock %s (%s); concurrent pushes are not safe here", path, e)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _copy_dir(src: str, dst: str) -> None:
    shutil.copytree(src, dst)


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
    """Fills a version folder (everything but version.json): model, schema, stats, json."""
    if model_dir is not None:
        _copy_dir(model_dir, os.path.join(target, MODEL_DIR))
    os.makedirs(os.path.join(target, SCHEMA_DIR), exist_ok=True)
    shutil.copyfile(schema_file, os.path.join(target, SCHEMA_DIR, SCHEMA_FILE))
    _copy_dir(statistics_dir, os.path.join(target, STATISTICS_DIR))
    io.write_json(os.path.join(target, EVALUATION_FILE), evaluation)
    io.write_json(os.path.join(target, LINEAGE_FILE), lineage)


def _read_json_or_empty(path: str) -> Dict:
    try:
        if io.is_gcs(path):
            import json

            from pyarrow import fs

            gcs = fs.GcsFileSystem(retry_time_limit=datetime.timedelta(seconds=30))
            with gcs.open_input_stream(path[len(io.GCS_PREFIX):]) as f:
                return json.loads(f.read().decode("utf-8"))
        return io.read_json(path)
    except (OSError, ValueError) as e:
        logger.warning("cannot read %s: %s", path, e)
        return {}


def _record_monitoring(folder: str, lock_path: str, record: Dict,
                       statistics_path: str) -> str:
    """Adds ``<folder>/<seq>-<time>/`` holding record.json and a copy of the statistics."""
    os.makedirs(folder, exist_ok=True)
    with _locked(lock_path):
        seqs = [int(n.split("-", 1)[0]) for n in os.listdir(folder)
                if re.match(r"^\d+-", n)]
        seq = max(seqs, default=0) + 1
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        entry = os.path.join(folder, f"{seq:06d}-{stamp}")
        with io.output_dir(entry) as out:
            stored = ""
            if statistics_path:
                if not os.path.exists(statistics_path):
                    raise RegistryError(f"statistics_path {statistics_path!r} does not exist")
                dst = os.path.join(out, STATISTICS_DIR)
                if os.path.isdir(statistics_path):
                    _copy_dir(statistics_path, dst)
                else:
                    os.makedirs(dst)
                    shutil.copyfile(statistics_path,
                                    os.path.join(dst, os.path.basename(statistics_path)))
                stored = os.path.join(entry, STATISTICS_DIR)
            body = dict(record)
            body.update({"seq": seq, "recorded_at": now(), "statistics_path": stored})
            io.write_json(os.path.join(out, MONITORING_RECORD), body)  # last: marks it complete
    logger.info("recorded monitoring entry %s", entry)
    return entry


def _monitoring_history(folder: str) -> List[Dict]:
    if not os.path.isdir(folder):
        return []
    entries = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name, MONITORING_RECORD)
        if re.match(r"^\d+-", name) and os.path.isfile(path):
            body = io.read_json(path)
            body["entry"] = os.path.join(folder, name)
            entries.append((int(name.split("-", 1)[0]), body))
    return [body for _, body in sorted(entries, key=lambda e: e[0])]


# --------------------------------------------------------------------------- local

class LocalRegistry:
    """A model registry in a folder (local disk, NFS, or a Cloud Storage FUSE mount).

    Args:
        root: The registry folder; created on first push.
        in_place: Write versions in place (version.json last) instead of staging and
            renaming; None picks in place on the ``/gcs/`` mount, where folders cannot be
            renamed.
    """

    def __init__(self, root: str, in_place: Optional[bool] = None):
        self.root = os.path.abspath(io.strip_file_scheme(root))
        self.in_place = _is_on_mount(self.root) if in_place is None else in_place

    def __repr__(self) -> str:
        return f"LocalRegistry({self.root!r})"

    # paths
    def model_root(self, model_name: str) -> str:
        return os.path.join(self.root, check_model_name(model_name))

    def _versions_root(self, model_name: str) -> str:
        return os.path.join(self.model_root(model_name), "versions")

    def version_dir(self, model_name: str, version: int) -> str:
        return os.path.join(self._versions_root(model_name), str(int(version)))

    def _lock(self, model_name: str):
        return _locked(os.path.join(self.model_root(model_name), LOCK_FILE))

    # reading
    def _numbers(self, model_name: str, complete_only: bool = True) -> List[int]:
        root = self._versions_root(model_name)
        if not os.path.isdir(root):
            return []
        return sorted(int(n) for n in os.listdir(root) if n.isdigit() and (
            not complete_only or os.path.isfile(os.path.join(root, n, VERSION_FILE))))

    def _aliases(self, model_name: str) -> Dict[str, int]:
        path = os.path.join(self.model_root(model_name), ALIASES_FILE)
        return {k: int(v) for k, v in io.read_json(path).items()} if os.path.exists(path) else {}

    def _load(self, model_name: str, number: int, aliases: Dict[str, int]) -> ModelVersion:
        folder = self.version_dir(model_name, number)
        info = io.read_json(os.path.join(folder, VERSION_FILE))
        return ModelVersion(
            model_name=model_name,
            version=number,
            model_dir=os.path.join(folder, MODEL_DIR),
            schema_path=os.path.join(folder, SCHEMA_DIR, SCHEMA_FILE),
            statistics_dir=os.path.join(folder, STATISTICS_DIR),
            evaluation=io.read_json(os.path.join(folder, EVALUATION_FILE)),
            lineage=io.read_json(os.path.join(folder, LINEAGE_FILE)),
            aliases=sorted(a for a, n in aliases.items() if n == number),
            uri=folder,
            model_hash=info.get("model_content_hash", ""),
            created=info.get("created", ""),
        )

    def versions(self, model_name: str) -> List[ModelVersion]:
        """Every complete version of a model, oldest first ([] for an unknown model)."""
        aliases = self._aliases(model_name)
        return [self._load(model_name, n, aliases) for n in self._numbers(model_name)]

    def resolve(self, model_name: str, ref: Union[str, int] = CHAMPION) -> ModelVersion:
        """The version an alias, a number (``3`` or ``"3"``) or ``"latest"`` names.

        Raises:
            ModelNotFoundError: the model has no version yet.
            VersionNotFoundError: no version matches ``ref``.
        """
        numbers = self._numbers(model_name)
        if not numbers:
            raise ModelNotFoundError(f"registry {self.root!r} holds no model {model_name!r}")
        aliases = self._aliases(model_name)
        ref_text = str(ref).strip()
        if ref_text == LATEST:
            number = numbers[-1]
        elif ref_text.isdigit():
            number = int(ref_text)
            if number not in numbers:
                raise VersionNotFoundError(
                    f"model {model_name!r} has no version {number}; versions are {numbers}")
        elif ref_text in aliases and aliases[ref_text] in numbers:
            number = aliases[ref_text]
        else:
            raise VersionNotFoundError(
                f"model {model_name!r} has no version aliased {ref!r}; aliases are "
                f"{sorted(aliases) or 'none'}, versions are {numbers} (or use 'latest')")
        return self._load(model_name, number, aliases)

    def _find_hash(self, model_name: str, model_hash: str) -> Optional[int]:
        for number in self._numbers(model_name):
            info = io.read_json(os.path.join(self.version_dir(model_name, number), VERSION_FILE))
            if info.get("model_content_hash") == model_hash:
                return number
        return None

    # writing
    def _move_aliases(self, model_name: str, aliases: Sequence[str], number: int) -> None:
        if not aliases:
            return
        current = self._aliases(model_name)
        current.update({alias: number for alias in aliases})
        io.write_json(os.path.join(self.model_root(model_name), ALIASES_FILE), current)

    def set_alias(self, model_name: str, alias: str, version: Union[int, str]) -> ModelVersion:
        """Points ``alias`` at ``version`` (moving it from any other version)."""
        check_alias(alias)
        with self._lock(model_name):
            target = self.resolve(model_name, version)
            self._move_aliases(model_name, [alias], int(target.version))
        return self.resolve(model_name, alias)

    def register(self, model_name: str, model_dir: str, schema_dir: str,
                 statistics_dir: str, evaluation: Dict, lineage: Dict,
                 aliases: Sequence[str] = (CHAMPION,)) -> ModelVersion:
        """Adds a version (or returns the existing one holding the same model bytes).

        Args:
            model_name: Registered model name: letters, digits, ``-``, ``_``, ``.``.
            model_dir: The TF SavedModel folder; copied into the version.
            schema_dir: Folder holding ``schema.pbtxt``.
            statistics_dir: The statistics artifact folder (``Split-<split>/...``); copied.
            evaluation: The evaluation the model was blessed with.
            lineage: Where the model came from; the registry adds the model content hash,
                the version and the creation time.
            aliases: Aliases moved to this version (also when it already existed).

        Returns:
            The registered version.
        """
        check_model_name(model_name)
        aliases = check_aliases(aliases)
        schema_file = _check_inputs(model_dir, schema_dir, statistics_dir)
        model_hash = io.sha256_tree(model_dir)
        model_root = self.model_root(model_name)
        versions_root = self._versions_root(model_name)
        os.makedirs(versions_root, exist_ok=True)
        with self._lock(model_name):
            existing = self._find_hash(model_name, model_hash)
            if existing is not None:
                logger.info("model %r: this model (sha256 %s) is already version %d; "
                            "not adding a version", model_name, model_hash[:12], existing)
                self._move_aliases(model_name, aliases, existing)
                return dataclasses.replace(self.resolve(model_name, existing), reused=True)
            number = max(self._numbers(model_name, complete_only=False), default=0) + 1
            final = self.version_dir(model_name, number)
            created = now()
            lineage = dict(lineage or {})
            lineage.update({"model_name": model_name, "version": number,
                            "model_content_hash": model_hash, "created": created})
            info = {"model_name": model_name, "version": number, "created": created,
                    "model_content_hash": model_hash, "registered_aliases": aliases,
                    "files": {"model": MODEL_DIR, "schema": f"{SCHEMA_DIR}/{SCHEMA_FILE}",
                              "statistics": STATISTICS_DIR, "evaluation": EVALUATION_FILE,
                              "lineage": LINEAGE_FILE}}
            target = final if self.in_place else os.path.join(
                model_root, f".partial-{number}-{uuid.uuid4().hex[:8]}")
            os.makedirs(target)
            try:
                _write_companions(target, model_dir, schema_file, statistics_dir,
                                  dict(evaluation or {}), lineage)
                io.write_json(os.path.join(target, VERSION_FILE), info)
                if target != final:
                    os.rename(target, final)  # the version appears whole, or not at all
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            self._move_aliases(model_name, aliases, number)
            logger.info("registered %r version %d at %s (aliases %s)", model_name, number,
                        final, aliases or "none")
        return self.resolve(model_name, number)

    # monitoring
    def record_monitoring(self, model_name: str, version: Union[int, str], record: Dict,
                          statistics_path: str = "") -> str:
        """Stores one monitoring run of a version; returns the entry's folder."""
        target = self.resolve(model_name, version)
        return _record_monitoring(os.path.join(target.uri, MONITORING_DIR),
                                  os.path.join(self.model_root(model_name), LOCK_FILE),
                                  record, statistics_path)

    def monitoring_history(self, model_name: str, version: Union[int, str]) -> List[Dict]:
        """Monitoring records of a version, oldest first (each with ``entry`` and ``seq``)."""
        target = self.resolve(model_name, version)
        return _monitoring_history(os.path.join(target.uri, MONITORING_DIR))


# --------------------------------------------------------------------------- Vertex AI

class VertexRegistry:
    """Vertex AI Model Registry, through ``google.cloud.aiplatform``.

    Args:
        project: Google Cloud project.
        location: Region, e.g. ``us-central1``.
        gcs_mount: Where Cloud Storage is mounted in the task; default :data:`GCS_MOUNT`.
    """

    def __init__(self, project: str, location: str, gcs_mount: Optional[str] = None):
        self.project = project
        self.location = location
        self.gcs_mount = gcs_mount or GCS_MOUNT

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
        return io.to_mount_path(uri, self.gcs_mount)

    def _version(self, model_name: str, model) -> ModelVersion:
        model_uri = model.uri
        companion = self.companion_uri(model_uri)
        # Inside a Vertex AI task, read through the mount; elsewhere straight from gs://.
        readable = self._local(companion) if os.path.isdir(self.gcs_mount) else companion
        labels = dict(model.labels or {})
        return ModelVersion(
            model_name=model_name,
            version=str(model.version_id),
            model_dir=model_uri,
            schema_path=f"{companion}/{SCHEMA_DIR}/{SCHEMA_FILE}",
            statistics_dir=f"{companion}/{STATISTICS_DIR}",
            evaluation=_read_json_or_empty(os.path.join(readable, EVALUATION_FILE)),
            lineage=_read_json_or_empty(os.path.join(readable, LINEAGE_FILE)),
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

    def register(self, model_name: str, model_dir: str, schema_dir: str,
                 statistics_dir: str, evaluation: Dict, lineage: Dict,
                 aliases: Sequence[str] = (CHAMPION,),
                 serving_image: str = DEFAULT_SERVING_IMAGE,
                 endpoint_name: str = "", traffic_percentage: int = 0,
                 machine_type: str = DEFAULT_MACHINE_TYPE) -> ModelVersion:
        """Uploads a model version (or finds the one with the same model bytes).

        ``model_dir`` must be in Cloud Storage (a ``/gcs/...`` path in a Vertex AI task).
        The schema, statistics, evaluation and lineage are written to the companion folder
        ``<model_dir>.kfp_mlops/`` first, then the version is uploaded with
        ``artifact_uri`` = the model's ``gs://`` URI. With ``endpoint_name``, the version is
        deployed to that endpoint (created when missing) with ``traffic_percentage`` of the
        traffic (Vertex AI gives the first model on an empty endpoint 100).
        """
        check_model_name(model_name)
        aliases = check_aliases(aliases)
        if not 0 <= int(traffic_percentage) <= 100:
            raise RegistryError(f"traffic_percentage must be 0-100, not {traffic_percentage}")
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
        local_companion = self._local(companion)
        lineage.update({"model_name": model_name, "model_content_hash": model_hash,
                        "created": now(), "model_uri": artifact_uri})
        if os.path.isdir(local_companion):  # left by an upload that failed after it
            shutil.rmtree(local_companion)
        with io.output_dir(local_companion) as out:
            _write_companions(out, None, schema_file, self._local(statistics_dir),
                              dict(evaluation or {}), lineage)
            io.write_json(os.path.join(out, COMPANION_FILE), {
                "model_name": model_name, "model_uri": artifact_uri,
                "model_content_hash": model_hash,
                "schema": f"{companion}/{SCHEMA_DIR}/{SCHEMA_FILE}",
                "statistics": f"{companion}/{STATISTICS_DIR}",
                "evaluation": f"{companion}/{EVALUATION_FILE}",
                "lineage": f"{companion}/{LINEAGE_FILE}"})
        run = str(lineage.get("pipeline_run", ""))
        labels = {
            "managed_by": "kfp-mlops",
            "model_hash": label_value(model_hash[:HASH_LABEL_CHARS]),
            "data_hash": label_value(str(lineage.get("data_content_hash", ""))[:HASH_LABEL_CHARS]),
            "pipeline_run": label_value(run),
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
        folder = self._local(self.companion_uri(target.model_dir))
        return _record_monitoring(os.path.join(folder, MONITORING_DIR),
                                  os.path.join(folder, LOCK_FILE), record,
                                  self._local(statistics_path) if statistics_path else "")

    def monitoring_history(self, model_name: str, version: Union[int, str]) -> List[Dict]:
        target = self.resolve(model_name, version)
        folder = self._local(self.companion_uri(target.model_dir))
        return _monitoring_history(os.path.join(folder, MONITORING_DIR))


def record_monitoring(registry_uri: str, model_name: str, version: Union[int, str],
                      record: Dict, statistics_path: str = "") -> str:
    """Module-level shortcut: ``open_registry(registry_uri).record_monitoring(...)``."""
    return open_registry(registry_uri).record_monitoring(model_name, version, record,
                                                         statistics_path)


def monitoring_history(registry_uri: str, model_name: str,
                       version: Union[int, str]) -> List[Dict]:
    """Module-level shortcut: ``open_registry(registry_uri).monitoring_history(...)``."""
    return open_registry(registry_uri).monitoring_history(model_name, version)
