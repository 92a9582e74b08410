"""Which tasks may reuse an earlier run's outputs (execution caching): one rule, one place.

Kubeflow and Vertex AI skip a task whose cache key matches an earlier execution and hand on
that execution's outputs. A cache key is made of the task's *inputs* as the backend sees
them, not of what the task reads from elsewhere, so a task whose result depends on data or
state outside its inputs must never be cached:

* ``ingest`` reads ``data_uri``: the same string (a glob, a folder, a table, a query, a
  serving path that is rewritten every day) names new data on every run;
* ``evaluate`` reads the registry's current champion;
* ``push`` writes the registry;
* ``monitor`` reads the registered model and the monitoring history, and appends to it;
* ``alert`` delivers to a webhook / Pub/Sub; ``retrain`` starts a training run;
  ``track`` writes a run into an experiment tracker;
  ``vertex_monitoring`` configures a Vertex AI service.

``validate`` and ``train`` may stay cached: their cache key holds the *identity* of every
input artifact, and those artifacts come from the uncached ``ingest`` (and from ``validate``),
which registers new artifacts on every run, so new data can never meet an old cache entry:

* Kubeflow (kubeflow/pipelines, checked at 7b70c7b): ``backend/src/v2/driver/cache.go``
  ``getFingerPrintsAndID`` looks the cache up only when the task's
  ``cachingOptions.enableCache`` is set, with the key from ``getFingerPrint`` ->
  ``backend/src/v2/cacheutils/cache.go`` ``GenerateCacheKey``, whose ``InputArtifactNames``
  lists ``artifact.GetName()`` of every input artifact; the driver resolves an upstream
  output (``backend/src/v2/driver/resolve.go``, ``GetOutputArtifactsByExecutionId`` ->
  ``ToRuntimeArtifact``) to a RuntimeArtifact whose name is the MLMD artifact id
  (``backend/src/v2/metadata/converter.go`` ``toRuntimeArtifact``: ``Name:
  strconv.FormatInt(artifact.GetId(), 10)``). A new ingest execution has new artifact ids.
* Vertex AI (its backend is not open source; "Configure execution caching",
  cloud.google.com/vertex-ai/docs/pipelines/configure-caching): the key is the step's input
  parameter values *and input artifact IDs*, its output definitions and its container spec.

So in practice ``validate`` and ``train`` hit the cache only when they are handed the very
same artifacts again; caching them costs nothing and can never serve stale data. A curated
``schema_uri`` or a ``gs://`` ``trainer_module`` rewritten in place is covered by the same
argument: the dataset artifact they are run with is new on every run.

Every task's setting is written explicitly, on or off, so the compiled spec never depends on
kfp's compile-time default (``KFP_DISABLE_EXECUTION_CACHING_BY_DEFAULT``, read from the
environment by ``kfp/dsl/pipeline_context.py``). The compiled YAML shows the choice as each
task's ``cachingOptions`` (``enableCache: true``, or empty for off).

``kfp-mlops submit`` / ``schedule`` leave these settings alone unless ``--cache`` /
``--no-cache`` is given (``enable_caching=None`` in ``aiplatform.PipelineJob`` and in
``kfp.Client``: "defaults to the compile time settings"); ``kfp.local`` never caches.
"""
from typing import Tuple

#: Components whose outputs may be reused (see above); every other task runs every time.
REUSABLE: Tuple[str, ...] = ("validate", "train")


def apply(*tasks, reuse: bool = True) -> None:
    """Sets every task's caching explicitly: on for the :data:`REUSABLE` components, off for
    the rest.

    Args:
        tasks: Every task of the pipeline being defined.
        reuse: False turns caching off for every task whatever its component (the
            monitoring pipeline: a run is about the data and the registry as they are now).
    """
    for task in tasks:
        task.set_caching_options(reuse and task.component_spec.name in REUSABLE)
