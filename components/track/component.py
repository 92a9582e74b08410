"""Track component: the KFP shell around core.py."""
from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("track"), install_kfp_package=False)
def track(
    pushed_model: Input[Model],
    blessing: Input[Artifact],
    dataset: Input[Dataset],
    schema: Input[Artifact],
    model: Input[Model],
    report: Input[HTML],
    metrics: Output[Metrics],
    tracking: Output[Artifact],
    model_name: str,
    registry_uri: str = "",
    tracking_uri: str = "",
    experiment: str = "",
    pipeline_run: str = "",
):
    """Records the training run -- blessed or not -- in an experiment tracker.

    Runs after push on every run: the parameters the model was trained and judged with,
    evaluate's metrics (overall, per class, per slice), the decision (blessed, reasons,
    pushed, registered version) and the lineage (data content hash, schema uri and hash,
    pipeline run) go to MLflow (``tracking_uri``) and, with a ``vertex://`` registry or
    tracking URI, to Vertex AI Experiments. Nothing secret is recorded: URLs are shown as
    ``scheme://host/...``.

    Args:
        pushed_model: From push: ``push.json``, whether the model was pushed and why.
        blessing: From evaluate: ``blessing.json`` and ``evaluation.json``.
        dataset: From ingest: ``dataset.json`` (content hash, source, split sizes).
        schema: From validate: ``schema.pbtxt`` (its uri and hash are recorded).
        model: From train: the SavedModel whose metadata holds the hyperparameters.
        report: From evaluate: the HTML report, logged as an MLflow artifact.
        metrics: Output: the overall metrics, for the KFP run comparison view (per class
            and per slice: in the tracking store).
        tracking: Output: ``tracking.json``. Metadata: run_name, experiment, tracking_uri,
            mlflow_run_id, mlflow_experiment_id, vertex_experiment, vertex_run, notes.
        model_name: Registered model name; the default experiment.
        registry_uri: The model registry; ``vertex://projects/<p>/locations/<r>`` also
            records the run in Vertex AI Experiments there.
        tracking_uri: MLflow tracking URI (``sqlite:///<path>/mlflow.db`` or a tracking
            server ``http(s)://host:port``), or ``vertex://projects/<p>/locations/<r>`` for
            Vertex AI Experiments alone. Empty: no MLflow record (``kfp-mlops run`` passes
            ``sqlite:///<output-dir>/mlflow.db``).
        experiment: Experiment name; empty: ``model_name``.
        pipeline_run: The tracked run's name; pass ``dsl.PIPELINE_JOB_NAME_PLACEHOLDER``.
    """
    from kfp_mlops.components._shared import logs, task_process
    from kfp_mlops.components.track import core

    logs.setup()
    mlflow_store = tracking_uri and not tracking_uri.startswith(core.VERTEX_PREFIX)
    task_process.import_heavy(*(["mlflow"] if mlflow_store else []))
    record = core.collect(
        blessing_dir=blessing.path, pushed_dir=pushed_model.path, dataset_dir=dataset.path,
        dataset_metadata=dataset.metadata, schema_dir=schema.path, schema_uri=schema.uri,
        model_dir=model.path, report_path=report.path, pipeline_run=pipeline_run,
        model_name=model_name, registry_uri=registry_uri)
    result = core.track(record, tracking_uri=tracking_uri, experiment=experiment,
                        registry_uri=registry_uri, output_dir=tracking.path)
    # The KFP compare view gets the overall metrics (one row each per run); the per-class and
    # per-slice ones are in MLflow / Vertex AI Experiments, where a table of fifty is usable.
    for name, value in core.sorted_metrics(result.metrics):
        if "/" not in name:
            metrics.log_metric(name, value)
    tracking.metadata.update(result.metadata())
    # MLflow's store commits every write (SQLite transactions, or HTTP calls): nothing
    # waits for the teardown once the executor has written its output.
    task_process.exit_without_teardown()
