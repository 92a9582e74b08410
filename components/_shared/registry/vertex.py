"""Vertex AI Model Registry -- ``vertex://projects/<project>/locations/<region>``.

Each push uploads a version of the Vertex model whose display name is the model name, with
the labels ``model_hash``, ``data_hash``, ``pipeline_run`` and ``managed_by``. The schema,
statistics, evaluation and lineage are written straight to Cloud Storage beside the
SavedModel, into the *companion folder* ``<model gs:// uri>.kfp_mlops/`` (same layout as a
folder registry's version folder, plus ``kfp_mlops.json`` naming every file, written last),
so monitoring finds them from the model's ``artifact_uri`` alone; the version description
names that folder too. Its monitoring history uses the folder registry's create-only
protocol in ``<companion>/monitoring/`` (:mod:`monitoring`).

The audit log of alias moves (:mod:`audit`) is model-level, so it lives beside the companion
folders in the bucket of the model's oldest version, create-only, one file a move::

    gs://<bucket>/kfp_mlops_audit/projects/<p>/locations/<r>/models/<id>/aliases/<seq>.json

(:meth:`VertexRegistry.audit_folder`; ``audit_root`` overrides the folder). It is written
right after each alias request, so a task killed between the two leaves a move unrecorded:
the alias itself is Vertex AI's, the log is ours.

Versions, numbers and aliases are Vertex AI's (atomic per upload / alias call); pushing the
same bytes again is found by the ``model_hash`` label, but two pushes of the same bytes
racing may both upload. There is no conditional alias update (see
:meth:`VertexRegistry.compare_and_set_alias`). Deploying a version to an endpoint is push's
work, not the registry's (``components/push/deploy.py``).

``google.cloud.aiplatform`` is imported inside the methods only.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Optional, Sequence, Union

from kfp_mlops.components._shared import gcp, io
from kfp_mlops.components._shared.registry.base import (
    CHAMPION, DEFAULT_STALE_SECONDS, EVALUATION_FILE, LATEST, LINEAGE_FILE, MONITORING_DIR,
    SCHEMA_DIR, SCHEMA_FILE, STATISTICS_DIR, AliasConflictError, ModelNotFoundError,
    ModelVersion, RegistryError, VersionNotFoundError, check_alias, check_aliases,
    check_inputs, check_model_name, now, read_json_or_empty, write_companions)
from kfp_mlops.components._shared.registry import audit
from kfp_mlops.components._shared.registry.interface import Registry

logger = logging.getLogger(__name__)

#: The prebuilt Vertex AI TensorFlow serving image uploads use unless told otherwise.
DEFAULT_SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-16:latest"
COMPANION_SUFFIX = ".kfp_mlops"
COMPANION_FILE = "kfp_mlops.json"
#: Hex digits of a content hash kept in a Vertex label (labels hold at most 63 characters).
HASH_LABEL_CHARS = 32
#: The model-level folder of the audit log, in the bucket of the model's oldest version.
AUDIT_DIR = "kfp_mlops_audit"


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


class VertexRegistry(Registry):
    """Vertex AI Model Registry, through ``google.cloud.aiplatform``.

    Args:
        project: Google Cloud project.
        location: Region, e.g. ``us-central1``.
        gcs_mount: Where Cloud Storage is mounted in the task; default
            :data:`io.GCS_FUSE_ROOT`, read when the registry is made.
            Only the push's inputs (the task's ``/gcs/...`` artifact paths) are read
            through it; the registry writes and reads Cloud Storage itself.
        stale_after: Seconds after which an unfinished monitoring entry is abandoned.
        audit_root: A ``gs://`` folder for the audit log of every model (a model's entries
            in ``<audit_root>/<model resource name>/aliases/``); default: the bucket of
            the model's oldest version (:meth:`audit_folder`).
    """

    def __init__(self, project: str, location: str, gcs_mount: Optional[str] = None,
                 stale_after: float = DEFAULT_STALE_SECONDS, audit_root: str = ""):
        self.project = project
        self.location = location
        self.gcs_mount = gcs_mount or io.GCS_FUSE_ROOT
        self.stale_after = float(stale_after)
        self.audit_root = audit_root.rstrip("/")
        self._audit_folders: Dict[str, str] = {}

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
            evaluation=read_json_or_empty(io.join(companion, EVALUATION_FILE)),
            lineage=read_json_or_empty(io.join(companion, LINEAGE_FILE)),
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

    def model_names(self) -> List[str]:
        """The display names of the models kfp-mlops registered (label ``managed_by``)."""
        aiplatform = self._init()
        return sorted({m.display_name for m in
                       aiplatform.Model.list(filter='labels.managed_by="kfp-mlops"')})

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

    # the audit log
    def audit_folder(self, model_name: str, parent=None, first_uri: str = "",
                     fallback_uri: str = "") -> str:
        """The model-level folder of a model's audit log, in Cloud Storage.

        ``<audit_root>/<resource name>/aliases/`` with ``audit_root`` given, else
        ``gs://<bucket of the oldest version>/kfp_mlops_audit/<resource name>/aliases/``
        (``projects/P/locations/R/models/ID``: the Vertex model's ID, which its versions
        share). The bucket is the one the model's versions (and their companion folders)
        are in; a model whose versions span buckets uses the oldest's. ``first_uri``: the
        artifact URI of a model's first version, just uploaded; ``fallback_uri``: one to
        use when the model lists no version (one just uploaded, not listed yet).

        Raises:
            ModelNotFoundError: no model of that name.
        """
        if parent is None:
            aiplatform = self._init()
            parent = self._find_model(aiplatform, check_model_name(model_name))
            if parent is None:
                raise ModelNotFoundError(f"Vertex AI project {self.project!r} "
                                         f"({self.location}) holds no model named "
                                         f"{model_name!r}")
        name = str(parent.resource_name)
        if name in self._audit_folders:
            return self._audit_folders[name]
        root = self.audit_root
        if not root:
            if not first_uri:
                infos = parent.versioning_registry.list_versions()
                if infos:
                    aiplatform = self._init()
                    oldest = min(infos, key=lambda i: int(i.version_id))
                    first_uri = aiplatform.Model(model_name=name,
                                                 version=str(oldest.version_id)).uri
                elif fallback_uri:
                    first_uri = fallback_uri
                else:
                    raise ModelNotFoundError(f"Vertex AI model {name!r} ({model_name!r}) "
                                             "lists no version: no bucket for its audit log")
            bucket = to_gcs_uri(first_uri)[len("gs://"):].split("/", 1)[0]
            root = f"gs://{bucket}/{AUDIT_DIR}"
        folder = f"{root}/{name}/aliases"
        self._audit_folders[name] = folder
        return folder

    def audit_log(self, model_name: str) -> List[Dict]:
        """Every alias move of the model, oldest first, from :meth:`audit_folder`."""
        check_model_name(model_name)
        aiplatform = self._init()
        parent = self._find_model(aiplatform, model_name)
        if parent is None:
            return []
        return audit.read(self.audit_folder(model_name, parent))

    def _audit(self, model_name: str, parent, alias: str, current, version,
               trail: Dict[str, str], first_uri: str = "", fallback_uri: str = "") -> None:
        """Appends one move to the audit log, right after the alias request.

        Raises:
            RegistryError: the entry could not be written; the alias has moved already
                (Vertex AI's request succeeded), and the message says so.
        """
        if current is not None and str(current) == str(version):
            return
        body = audit.entry(alias, None if current is None else str(current), str(version),
                           trail)
        try:
            audit.append(self.audit_folder(model_name, parent, first_uri, fallback_uri), body)
        except (OSError, RegistryError) as e:
            raise RegistryError(
                f"alias {alias!r} of Vertex AI model {model_name!r} moved from "
                f"{current or 'no version'} to {version}, but its audit entry could not be "
                f"written: {e}") from e

    def _current(self, model_name: str, alias: str) -> Optional[str]:
        try:
            return str(self.resolve(model_name, alias).version)
        except VersionNotFoundError:
            return None

    def set_alias(self, model_name: str, alias: str, version: Union[int, str], *,
                  by: str = "", reason: str = "", operation: str = "") -> ModelVersion:
        """Points ``alias`` at ``version`` (``ModelRegistry.add_version_aliases``) and
        appends the move to the audit log (from the version the alias named just before)."""
        check_alias(alias)
        trail = audit.check_audit(by, reason, operation)
        target = self.resolve(model_name, version)
        current = self._current(model_name, alias)
        aiplatform = self._init()
        parent = self._find_model(aiplatform, model_name)
        parent.versioning_registry.add_version_aliases(new_aliases=[alias],
                                                       version=str(target.version))
        self._audit(model_name, parent, alias, current, target.version, trail,
                    fallback_uri=target.model_dir)
        return self.resolve(model_name, alias)

    def compare_and_set_alias(self, model_name: str, alias: str, version: Union[int, str],
                              expected: Optional[Union[int, str]], *, by: str = "",
                              reason: str = "", operation: str = "") -> ModelVersion:
        """Points ``alias`` at ``version`` only if it names ``expected`` (None: no version)
        when re-read just before the move; the move goes to the audit log.

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
        trail = audit.check_audit(by, reason, operation)
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
        moved = self.resolve(model_name, version)
        self._audit(model_name, parent, alias, current, moved.version, trail,
                    fallback_uri=moved.model_dir)
        return moved

    def register(self, model_name: str, model_dir: str, schema_dir: str,
                 statistics_dir: str, evaluation: Dict, lineage: Dict,
                 aliases: Sequence[str] = (CHAMPION,),
                 serving_image: str = DEFAULT_SERVING_IMAGE) -> ModelVersion:
        """Uploads a model version (or finds the one with the same model bytes).

        ``model_dir`` must be in Cloud Storage (a ``/gcs/...`` path in a Vertex AI task).
        The schema, statistics, evaluation and lineage are written to the companion folder
        ``<model_dir>.kfp_mlops/`` first (straight to Cloud Storage, ``kfp_mlops.json``
        last), then the version is uploaded with
        ``artifact_uri`` = the model's ``gs://`` URI and ``serving_image`` as its serving
        container. Deploying it to an endpoint is push's (``components/push/deploy.py``).
        """
        check_model_name(model_name)
        aliases = check_aliases(aliases)
        local_model = self._local(model_dir)
        artifact_uri = to_gcs_uri(local_model, self.gcs_mount)
        schema_file = check_inputs(local_model, self._local(schema_dir),
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
                    trail = audit.check_audit(
                        str(lineage.get("pipeline_run", "")),
                        f"aliases given at registration (already registered as version "
                        f"{version_id})", audit.REGISTER)
                    for alias in missing:  # where they were before is not read: unknown
                        self._audit(model_name, parent, alias, None, version_id, trail)
                model = aiplatform.Model(model_name=parent.resource_name, version=version_id)
                return dataclasses.replace(self._version(model_name, model), reused=True)

        companion = self.companion_uri(artifact_uri)
        lineage.update({"model_name": model_name, "model_content_hash": model_hash,
                        "created": now(), "model_uri": artifact_uri})
        # Written in place, in Cloud Storage: the folder belongs to this model artifact
        # alone, and a failed upload leaves it to be overwritten by the task's retry. No
        # version refers to it before the upload below succeeds.
        write_companions(companion, None, schema_file, self._local(statistics_dir),
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
        if aliases:
            # Upload moves the aliases from wherever they were (not read before: "from"
            # is null); push moves champion afterwards by compare_and_set_alias instead.
            trail = audit.check_audit(
                run, f"aliases given at registration (registered as version "
                     f"{model.version_id})", audit.REGISTER)
            for alias in aliases:
                self._audit(model_name, parent if parent is not None else model, alias,
                            None, str(model.version_id), trail,
                            first_uri=artifact_uri if parent is None else "",
                            fallback_uri=artifact_uri)
        return ModelVersion(
            model_name=model_name, version=str(model.version_id), model_dir=artifact_uri,
            schema_path=f"{companion}/{SCHEMA_DIR}/{SCHEMA_FILE}",
            statistics_dir=f"{companion}/{STATISTICS_DIR}", evaluation=dict(evaluation or {}),
            lineage=lineage, aliases=sorted(aliases),
            uri=f"{model.resource_name}@{model.version_id}", model_hash=model_hash,
            created=lineage["created"])

    def monitoring_folder(self, version: ModelVersion) -> str:
        """``<companion>/monitoring/``: beside the model, in its companion folder."""
        return io.join(self.companion_uri(version.model_dir), MONITORING_DIR)
