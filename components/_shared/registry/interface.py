"""The interface every registry back end implements (:class:`Registry`).

:class:`~kfp_mlops.components._shared.registry.folder.FolderRegistry` (a local path,
``gs://``, ``s3://``) and :class:`~kfp_mlops.components._shared.registry.vertex.VertexRegistry`
(Vertex AI Model Registry) implement it; :func:`open_registry` picks one by URI, and push,
evaluate, monitor and retrain use only what is declared here. The monitoring history is
the same on both (:mod:`monitoring`); a back end only says where it lives.
"""
from __future__ import annotations

import abc
from typing import Dict, List, Optional, Sequence, Union

from kfp_mlops.components._shared.registry import monitoring
from kfp_mlops.components._shared.registry.base import (
    CHAMPION, DEFAULT_STALE_SECONDS, ModelVersion)


class Registry(abc.ABC):
    """A model registry: numbered versions of named models, aliases, monitoring history."""

    #: Seconds after which an unfinished claim (a push or recording that died) is abandoned.
    stale_after: float = DEFAULT_STALE_SECONDS

    @abc.abstractmethod
    def resolve(self, model_name: str, ref: Union[str, int] = CHAMPION) -> ModelVersion:
        """The version an alias, a version number / ID or ``"latest"`` names.

        Raises:
            ModelNotFoundError: the registry holds no such model.
            VersionNotFoundError: the model has no version ``ref`` names.
        """

    @abc.abstractmethod
    def model_names(self) -> List[str]:
        """The names of the models that have a version in the registry, sorted."""

    @abc.abstractmethod
    def versions(self, model_name: str) -> List[ModelVersion]:
        """Every version of a model, oldest first ([] for an unknown model)."""

    @abc.abstractmethod
    def set_alias(self, model_name: str, alias: str, version: Union[int, str], *,
                  by: str = "", reason: str = "", operation: str = "") -> ModelVersion:
        """Points ``alias`` at ``version`` (moving it from any other version).

        Args:
            model_name: The registered model.
            alias: The alias to move.
            version: Where it goes (a number / ID, an alias or ``latest``).
            by: Who moves it (a pipeline run, ``user@host``), kept in the audit log.
            reason: Why, kept in the audit log.
            operation: What moves it, one of :data:`audit.OPERATIONS` (or "").
        """

    @abc.abstractmethod
    def compare_and_set_alias(self, model_name: str, alias: str, version: Union[int, str],
                              expected: Optional[Union[int, str]], *, by: str = "",
                              reason: str = "", operation: str = "") -> ModelVersion:
        """Points ``alias`` at ``version`` only if it points at ``expected`` (None: only if
        the alias does not exist); how atomic that is depends on the back end. ``by``,
        ``reason`` and ``operation`` go to the audit log as for :meth:`set_alias`.

        Raises:
            AliasConflictError: the alias points elsewhere; nothing was changed.
        """

    @abc.abstractmethod
    def audit_log(self, model_name: str) -> List[Dict]:
        """Every alias move of a model, oldest first (:mod:`audit`): ``seq``, ``at``,
        ``alias``, ``from``, ``to``, ``by``, ``reason``, ``operation`` ([] for none)."""

    @abc.abstractmethod
    def register(self, model_name: str, model_dir: str, schema_dir: str,
                 statistics_dir: str, evaluation: Dict, lineage: Dict,
                 aliases: Sequence[str] = (CHAMPION,)) -> ModelVersion:
        """Adds a version (or returns the one holding the same model bytes, ``reused``).

        The inputs are checked first (:func:`base.check_inputs`); nothing is written when
        one is not what the registry expects.
        """

    @abc.abstractmethod
    def monitoring_folder(self, version: ModelVersion) -> str:
        """Where the monitoring history of a (resolved) version lives."""

    def record_monitoring(self, model_name: str, version: Union[int, str], record: Dict,
                          statistics_path: str = "") -> str:
        """Stores one monitoring run of a version; returns the entry's folder (URI)."""
        folder = self.monitoring_folder(self.resolve(model_name, version))
        return monitoring.record_entry(folder, record, statistics_path, self.stale_after)

    def monitoring_history(self, model_name: str, version: Union[int, str]) -> List[Dict]:
        """Monitoring records of a version, oldest first (each with ``entry`` and ``seq``)."""
        return monitoring.history(self.monitoring_folder(self.resolve(model_name, version)))
