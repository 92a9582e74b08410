"""Predict component: the KFP shell around core.py (and vertex_batch.py)."""
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Output

from kfp_mlops import images
from kfp_mlops.components._shared.artifact_types import VertexBatchPredictionJob


@dsl.component(base_image=images.component_image("predict"), install_kfp_package=False)
def predict(
    data_uri: str,
    registry_uri: str,
    model_name: str,
    predictions: Output[Dataset],
    batch_prediction_job: Output[VertexBatchPredictionJob],
    summary: Output[HTML],
    model_version: str = "champion",
    key_column: str = "",
    rows_per_file: int = 100000,
    batch_rows: int = 8192,
    file_format: str = "",
    bigquery_project: str = "",
    csv_delimiter: str = "",
    runner: str = "local",
    vertex_destination: str = "",
    vertex_machine_type: str = "n1-standard-4",
    vertex_starting_replica_count: int = 1,
    vertex_max_replica_count: int = 1,
    vertex_instances_format: str = "",
    vertex_predictions_format: str = "jsonl",
    vertex_service_account: str = "",
    output_uri: str = "",
) -> NamedTuple("PredictOutputs", [("rows", int), ("model_version", str)]):
    """Scores a batch with a registered model version, streamed batch by batch.

    runner ``local`` (the default) reads the batch as ingest does, scores each record batch
    through the version's serving signature in this task, and writes a predictions folder:
    ``part-NNNNN.parquet`` files (the key column or ``input_row``, ``prediction``,
    ``probability_<class>`` per class, ``model_name``, ``model_version``) and
    ``predictions.json`` (written last, so a task that dies leaves nothing that reads as
    complete). Memory does not grow with the rows. A missing key or feature column fails
    the task before any row is written; the label and any column the model does not take
    are not fed. runner ``vertex`` runs a Vertex AI BatchPredictionJob of the version
    (a ``vertex://`` registry) instead and waits for it.

    Args:
        data_uri: The batch: CSV or Parquet (local path, gs:// or s3:// URI, folder or
            glob), ``bq://project.dataset.table`` or a BigQuery SQL query. For runner
            ``vertex``: gs:// CSV / JSON Lines / TFRecord objects or a bq:// table.
        registry_uri: The registry push wrote: a local path or ``file://`` URI, a
            ``gs://`` / ``s3://`` / ``/gcs/`` folder, or
            ``vertex://projects/<project>/locations/<region>``.
        model_name: The registered model.
        predictions: Output: the predictions folder (runner ``local``; read it with
            ``kfp_mlops.components.predict.predictions``). Metadata: rows, model_name,
            model_version, model_uri, task, classes, key_column, input_uri,
            input_content_hash (ingest's content hash of the rows read), files. With runner
            ``vertex`` it holds nothing and its metadata points at the job's output
            (``output_uri``).
        batch_prediction_job: Output: ``google.VertexBatchPredictionJob`` (GCPC's type:
            ``resourceName``, ``gcsOutputDirectory`` / ``bigqueryOutputTable``) for runner
            ``vertex``; for runner ``local`` it records that no job ran.
        summary: Output: an HTML page: rows, model version, input hash, and the rows per
            predicted class (or a histogram of the predicted values); for runner ``vertex``,
            the job and where its predictions are.
        model_version: A version number, an alias (``champion``) or ``latest``.
        key_column: An input column written beside each prediction (must exist); empty:
            the row's 0-based position, ``input_row``.
        rows_per_file: Rows per part file.
        batch_rows: Rows read and scored at a time (Parquet and BigQuery sources).
        file_format: ``csv`` or ``parquet``; empty to tell by the file names.
        bigquery_project: Google Cloud project that runs BigQuery jobs.
        csv_delimiter: CSV field separator; empty: tab for .tsv files, else detected.
        runner: ``local`` (score in this task) or ``vertex`` (Vertex AI batch prediction).
        vertex_destination: runner ``vertex``: ``gs://bucket/folder`` or
            ``bq://project[.dataset]`` the job writes its predictions to.
        vertex_machine_type: runner ``vertex``: machine type of the prediction nodes.
        vertex_starting_replica_count: runner ``vertex``: nodes the job starts with.
        vertex_max_replica_count: runner ``vertex``: nodes the job may scale to.
        vertex_instances_format: runner ``vertex``: ``jsonl``, ``csv``, ``tf-record``...;
            empty: told by the file names (``bigquery`` for a bq:// source).
        vertex_predictions_format: runner ``vertex``: ``jsonl`` or ``csv`` for a gs://
            destination (``bigquery`` for bq://).
        vertex_service_account: runner ``vertex``: service account the job runs as.
        output_uri: runner ``local``: also publish the predictions folder there (a local
            path, ``gs://`` or ``s3://`` folder holding no predictions yet, checked before
            scoring; ``predictions.json`` is written last, create-only), where a later
            performance-monitoring run finds them as ``predictions_uri``.

    Returns:
        rows: Rows scored (runner ``local``; 0 for ``vertex``, whose counts are the job's).
        model_version: The version the model reference resolved to.
    """
    import collections
    import logging

    from kfp_mlops.components._shared import artifact_types, logs

    logs.setup()
    log = logging.getLogger("kfp_mlops.predict")
    outputs = collections.namedtuple("PredictOutputs", ["rows", "model_version"])
    if runner not in ("local", "vertex"):
        raise ValueError(f"runner {runner!r}: expected 'local' or 'vertex'")
    if runner == "vertex":
        from kfp_mlops.components.predict import vertex_batch

        job = vertex_batch.batch_predict(
            registry_uri=registry_uri, model_name=model_name, data_uri=data_uri,
            destination=vertex_destination, model_version=model_version,
            instances_format=vertex_instances_format,
            predictions_format=vertex_predictions_format, machine_type=vertex_machine_type,
            starting_replica_count=vertex_starting_replica_count,
            max_replica_count=vertex_max_replica_count,
            service_account=vertex_service_account)
        # The artifacts' uris stay as KFP assigned them (the Kubeflow launcher uploads an
        # output to the key its uri names in the pipeline root, see
        # _shared/artifact_types.py fill_unmanaged_container_model); the metadata points at
        # the job and its output.
        artifact_types.mark_empty(batch_prediction_job, vertex_batch.job_metadata(job))
        artifact_types.mark_empty(predictions, {
            "runner": "vertex", "output_uri": job.output_uri,
            "batch_prediction_job": job.job_resource_name, "state": job.state,
            "model_name": model_name, "model_version": job.model_version,
            "model_uri": job.model_resource_name, "input_uri": data_uri})
        vertex_batch.write_summary(job, data_uri, summary.path)
        return outputs(0, job.model_version)

    from kfp_mlops.components.predict import core

    result = core.predict(
        data_uri=data_uri, registry_uri=registry_uri, model_name=model_name,
        output_dir=predictions.path, model_version=model_version, key_column=key_column,
        rows_per_file=rows_per_file, batch_rows=batch_rows, file_format=file_format,
        bigquery_project=bigquery_project, csv_delimiter=csv_delimiter,
        summary_path=summary.path, output_uri=output_uri)
    predictions.metadata.update(result.artifact_metadata())
    predictions.metadata["runner"] = "local"
    if output_uri:
        predictions.metadata["published_to"] = output_uri
    summary.metadata.update({"rows": result.rows, "model_version": result.metadata["model_version"]})
    artifact_types.mark_empty(batch_prediction_job, {
        "runner": "local", "reason": "scored in the task (runner 'local'): no Vertex AI job"})
    for label, n in sorted(result.class_counts.items()):
        log.info("predicted %s: %d rows", label, n)
    return outputs(result.rows, result.metadata["model_version"])
