"""The model registry: where blessed models, their schema and baseline statistics live.

Two back ends, chosen by the registry URI (see :func:`parse_registry_uri`), both
implementing :class:`Registry` (``interface.py``):

* a **folder registry** (:class:`FolderRegistry`, also named :class:`LocalRegistry`,
  ``folder.py``) on a local path / ``file://`` URI, ``gs://bucket/folder`` or
  ``s3://bucket/folder`` (MinIO, Kubeflow's artifact store), consistent without locks or
  renames through create-only writes (``claims.py``);
* **Vertex AI Model Registry** (:class:`VertexRegistry`, ``vertex.py``) --
  ``vertex://projects/<project>/locations/<region>``, with the schema, statistics and
  lineage in a companion folder beside the model in Cloud Storage.

Every alias move is kept in an audit log (:meth:`Registry.audit_log`, ``audit.py``): when,
which alias, from which version to which, by whom and why -- in a folder registry's alias
records, on Vertex AI in a create-only model-level folder in Cloud Storage. Promoting,
rolling back and listing are :mod:`operations` (``operations.py``).

Each version's monitoring history (:meth:`Registry.record_monitoring`,
:meth:`Registry.monitoring_history`, ``monitoring.py``) is kept the same way on both. The
names, errors, :class:`ModelVersion` and the checks every back end shares are in
``base.py``. Deploying a Vertex AI version to an endpoint is push's
(``components/push/deploy.py``), not the registry's.

Guarantees per registry URI
---------------------------
=====================  ============================================================
local path, file://    all of ``folder.py``'s (create-only via ``link(2)``); needs a
                       file system with hard links (local disk, NFS)
gs://bucket/folder     all of ``folder.py``'s (``ifGenerationMatch=0``)
s3://bucket/folder     all of ``folder.py``'s (``If-None-Match: *``: AWS S3 since 2024-08;
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
                       create-only (``monitoring.py``); the audit log is create-only in
                       Cloud Storage, written right after each alias request (a task
                       killed between the two leaves that move unrecorded)
=====================  ============================================================

Pure Python: no kfp import; ``google.cloud.aiplatform`` is imported inside functions.
"""
from __future__ import annotations

import logging
import re
from typing import Dict, List, Optional, Union

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared.registry import audit, operations
from kfp_mlops.components._shared.registry.base import (
    ABANDONED, ALIASES_DIR, ALIASES_FILE, BASELINE_STATISTICS, CHAMPION, CLAIMS_DIR,
    DEFAULT_STALE_SECONDS, EVALUATION_FILE, FAULT_ENV, LATEST, LINEAGE_FILE, MODEL_DIR,
    MONITORING_DIR, MONITORING_RECORD, SCHEMA_DIR, SCHEMA_FILE, STATISTICS_DIR, VERSION_FILE,
    VERSIONS_DIR, VERTEX_PREFIX, AbandonedError, AliasConflictError, ModelNotFoundError,
    ModelVersion, RegistryError, RegistryLocation, VersionNotFoundError, check_alias,
    check_aliases, check_inputs, check_model_name, check_version_ref, now)
from kfp_mlops.components._shared.registry.folder import (
    POLL_SECONDS, FolderRegistry, LocalRegistry)
from kfp_mlops.components._shared.registry.interface import Registry
from kfp_mlops.components._shared.registry.vertex import (
    COMPANION_FILE, COMPANION_SUFFIX, DEFAULT_SERVING_IMAGE, HASH_LABEL_CHARS, VertexRegistry,
    to_gcs_uri)

__all__ = [
    # opening a registry, and the shortcuts
    "parse_registry_uri", "open_registry", "find_champion", "record_monitoring",
    "monitoring_history", "audit", "operations",
    # the interface and its back ends
    "Registry", "FolderRegistry", "LocalRegistry", "VertexRegistry", "ModelVersion",
    "RegistryLocation",
    # errors
    "RegistryError", "ModelNotFoundError", "VersionNotFoundError", "AliasConflictError",
    "AbandonedError",
    # checks and helpers
    "check_model_name", "check_alias", "check_aliases", "check_version_ref", "check_inputs",
    "to_gcs_uri", "now",
    # names
    "VERTEX_PREFIX", "DEFAULT_SERVING_IMAGE", "CHAMPION", "LATEST", "SCHEMA_FILE", "MODEL_DIR",
    "SCHEMA_DIR", "STATISTICS_DIR", "EVALUATION_FILE", "LINEAGE_FILE", "VERSION_FILE",
    "VERSIONS_DIR", "CLAIMS_DIR", "ALIASES_DIR", "ALIASES_FILE", "MONITORING_DIR",
    "MONITORING_RECORD", "COMPANION_SUFFIX", "COMPANION_FILE", "ABANDONED",
    "DEFAULT_STALE_SECONDS", "POLL_SECONDS", "HASH_LABEL_CHARS", "FAULT_ENV",
    "BASELINE_STATISTICS",
]

logger = logging.getLogger(__name__)

_VERTEX_URI = re.compile(r"^vertex://projects/([^/]+)/locations/([^/]+)/?$")
_FORMS = ("a local path, a file:///absolute/path URI, gs://<bucket>/<folder>, "
          "s3://<bucket>/<folder>, /gcs/<bucket>/<folder> (Vertex AI's Cloud Storage "
          "mount, used as gs://<bucket>/<folder>) or "
          "vertex://projects/<project>/locations/<region>")


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


def open_registry(registry_uri: str) -> Registry:
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


def record_monitoring(registry_uri: str, model_name: str, version: Union[int, str],
                      record: Dict, statistics_path: str = "") -> str:
    """Module-level shortcut: ``open_registry(registry_uri).record_monitoring(...)``."""
    return open_registry(registry_uri).record_monitoring(model_name, version, record,
                                                         statistics_path)


def monitoring_history(registry_uri: str, model_name: str,
                       version: Union[int, str]) -> List[Dict]:
    """Module-level shortcut: ``open_registry(registry_uri).monitoring_history(...)``."""
    return open_registry(registry_uri).monitoring_history(model_name, version)
