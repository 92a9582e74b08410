"""Training on more than one machine: ``tf.distribute.MultiWorkerMirroredStrategy`` from
``TF_CONFIG``.

What train does with it (``core.train`` calls in at a few marked lines):

* the cluster comes from ``TF_CONFIG``, which Vertex AI sets on every replica of a custom job
  with more than one replica (https://cloud.google.com/vertex-ai/docs/training/
  distributed-training, "Code requirements" and "Configure a distributed training job":
  ``workerPoolSpecs[0]`` is the primary replica, task type ``chief``; ``workerPoolSpecs[1]``
  the workers, task type ``worker``; Vertex also sets ``CLUSTER_SPEC``, the same cluster
  named by worker pool, which TensorFlow does not read, so neither do we). With no
  ``TF_CONFIG``, or a cluster of one, nothing changes: no strategy, today's single-process
  training;
* with two or more workers (``chief`` + ``worker`` entries), one
  ``MultiWorkerMirroredStrategy`` per process, created before any other TensorFlow op (TF
  requires collective ops to be configured at program start-up); the built-in model is built
  and compiled in its scope, so every variable is mirrored and gradients are all-reduced;
* the chief is the ``chief`` task, or ``worker`` 0 when the cluster has no ``chief`` (the
  rule of the TensorFlow "Multi-worker training with Keras" tutorial, ``_is_chief``);
* every worker saves the model, because saving may run collective ops, but only the chief
  saves to the output: the others write to a temporary folder that is removed afterwards
  (the tutorial's ``write_filepath`` / ``tf.io.gfile.rmtree``), so they leave no model, no
  TensorBoard logs and no metadata behind;
* the input is sharded by **data** (``AutoShardPolicy.DATA``): each worker reads the whole
  split and keeps every N-th batch element; file sharding would need at least as many files
  as workers, and a split is one Parquet file (``_shared.dataset``). The batch size is the
  global batch, so the same hyperparameters take the same optimiser steps on any number of
  workers.

A ``trainer_module``'s ``run_fn`` takes the same strategy with :func:`strategy` (None on
one machine) and asks :func:`is_chief`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from typing import Any, Dict, Mapping, Optional, Tuple

logger = logging.getLogger(__name__)

TF_CONFIG = "TF_CONFIG"
#: Task types that train (``ps`` and ``evaluator`` belong to other strategies).
TRAINING_TASKS = ("chief", "worker")
_UNSUPPORTED_TASKS = ("ps", "evaluator", "master")


class ClusterError(ValueError):
    """``TF_CONFIG`` describes a cluster train cannot run on; the message says why."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """This process's place in the training cluster.

    Attributes:
      workers: addresses of the training tasks, chief first.
      task_type: ``chief`` or ``worker``.
      task_index: the index within ``task_type``.
      has_chief: the cluster names a ``chief`` task (else ``worker`` 0 is the chief).
    """
    workers: Tuple[str, ...] = ()
    task_type: str = "chief"
    task_index: int = 0
    has_chief: bool = True

    @property
    def num_workers(self) -> int:
        return max(1, len(self.workers))

    @property
    def is_multi_worker(self) -> bool:
        return self.num_workers > 1

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief" or (not self.has_chief and self.task_type == "worker"
                                             and self.task_index == 0)

    @property
    def task_id(self) -> str:
        return f"{self.task_type}_{self.task_index}"


SINGLE = Cluster()


def cluster_from_environment(environ: Optional[Mapping[str, str]] = None) -> Cluster:
    """The cluster ``TF_CONFIG`` describes (:data:`SINGLE` when it is unset or empty).

    Raises:
      ClusterError: ``TF_CONFIG`` is not JSON, names no task of this process, or holds
        parameter servers / evaluators (this trainer runs MultiWorkerMirroredStrategy only).
    """
    environ = os.environ if environ is None else environ
    text = environ.get(TF_CONFIG, "").strip()
    if not text:
        return SINGLE
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ClusterError(f"{TF_CONFIG} is not JSON ({e}): {text[:200]!r}") from e
    cluster = config.get("cluster") or {}
    task = config.get("task") or {}
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ClusterError(f"{TF_CONFIG}: expected {{'cluster': {{...}}, 'task': {{...}}}}, "
                           f"got {text[:200]!r}")
    other = sorted(t for t in cluster if t in _UNSUPPORTED_TASKS and cluster[t])
    if other:
        raise ClusterError(f"{TF_CONFIG} names {other} tasks; train runs "
                           f"MultiWorkerMirroredStrategy, whose cluster is 'chief' and "
                           f"'worker' tasks only")
    workers = tuple(cluster.get("chief") or ()) + tuple(cluster.get("worker") or ())
    if len(workers) <= 1:
        return SINGLE
    task_type, task_index = task.get("type", ""), task.get("index", 0)
    if task_type not in TRAINING_TASKS or not isinstance(task_index, int) \
            or not 0 <= task_index < len(cluster.get(task_type) or ()):
        raise ClusterError(f"{TF_CONFIG} task {task!r} is not a task of its cluster "
                           f"{ {t: cluster.get(t) for t in TRAINING_TASKS} }")
    return Cluster(workers=workers, task_type=task_type, task_index=task_index,
                   has_chief=bool(cluster.get("chief")))


# --- the process's strategy (one per process: collective ops are set up once) ----------

_STATE: Dict[str, Any] = {"cluster": SINGLE, "strategy": None}


def from_environment(environ: Optional[Mapping[str, str]] = None) -> Cluster:
    """Reads ``TF_CONFIG`` and, for two or more workers, creates this process's
    ``MultiWorkerMirroredStrategy`` (once; later calls reuse it). Call it before any other
    TensorFlow op. Returns the cluster (:data:`SINGLE` on one machine)."""
    cluster = cluster_from_environment(environ)
    if not cluster.is_multi_worker:
        _STATE.update(cluster=SINGLE, strategy=None)
        return SINGLE
    if _STATE["strategy"] is None:
        import tensorflow as tf

        logger.info("multi-worker training: %s of %d workers %s (chief: %s)", cluster.task_id,
                    cluster.num_workers, list(cluster.workers), cluster.is_chief)
        _STATE["strategy"] = _strategy_class()()
    elif _STATE["cluster"] != cluster:
        raise ClusterError(f"{TF_CONFIG} changed within one process ({_STATE['cluster']} -> "
                           f"{cluster}); a process joins one cluster only")
    _STATE["cluster"] = cluster
    return cluster


def _strategy_class():
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` takes a nest of values.

    Keras 3's TensorFlow trainer (``keras/src/backend/tensorflow/trainer.py``,
    ``_maybe_symbolic_build``) reduces the first distributed batch, a nest ``(features,
    label)``, with one ``strategy.reduce`` call; TensorFlow's ``Strategy.reduce`` takes a
    single value (``distribute_lib.py``: "TODO(josh11b): support `value` being a nest"), and
    MultiWorkerMirroredStrategy's all-reduce refuses a dict. Reducing leaf by leaf is what
    the nest means; every worker makes the same calls in the same order, so the collectives
    match. The same trainer (``reduce_per_replica``) means each step's logs with ``axis=0``
    although they are scalars, which TensorFlow refuses ("Invalid reduction dimension 0 for
    input with 0 dimensions"); a scalar has no batch axis, so it is meant across replicas.
    """
    import tensorflow as tf

    class NestedReduceStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis=None):
            parent = super()

            def one(v):
                local = self.experimental_local_results(v)
                scalar = bool(local) and getattr(local[0], "shape", None) is not None \
                    and local[0].shape.rank == 0
                return parent.reduce(reduce_op, v, None if scalar else axis)

            return tf.nest.map_structure(one, value)

    return NestedReduceStrategy


def strategy():
    """This process's ``MultiWorkerMirroredStrategy``, or None on one machine."""
    return _STATE["strategy"]


def current() -> Cluster:
    """The cluster :func:`from_environment` last found."""
    return _STATE["cluster"]


def is_chief() -> bool:
    """True on one machine and on the chief of a cluster: the process that writes outputs."""
    return current().is_chief


def scope():
    """The strategy's scope (build and compile the model in it); a no-op on one machine."""
    found = strategy()
    return found.scope() if found is not None else contextlib.nullcontext()


def shard(dataset):
    """``dataset`` with the sharding policy of multi-worker training (by data, see the
    module docstring); unchanged on one machine. Apply it to a batched ``tf.data``
    pipeline before ``model.fit``."""
    if strategy() is None:
        return dataset
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


# --- where each worker writes -----------------------------------------------------------

@contextlib.contextmanager
def output_paths(*paths: str):
    """Yields ``paths`` on the chief (and on one machine); on any other worker, fresh paths
    in a temporary folder that is removed when the block ends, however it ends. Empty
    paths stay empty."""
    cluster = current()
    if cluster.is_chief:
        yield paths if len(paths) != 1 else paths[0]
        return
    root = tempfile.mkdtemp(prefix=f"kfp_mlops_{cluster.task_id}_")
    moved = tuple(os.path.join(root, f"workertemp_{i}") if p else "" for i, p in enumerate(paths))
    logger.info("%s is not the chief: its copy of the outputs goes to %s and is removed",
                cluster.task_id, root)
    try:
        yield moved if len(moved) != 1 else moved[0]
    finally:
        shutil.rmtree(root, ignore_errors=True)
