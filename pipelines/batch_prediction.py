"""The batch-prediction pipeline: score a batch with a registered model version.

One task, ``predict``: it reads the batch itself (as ingest reads a source, streamed), so a
large batch is never copied into a Dataset artifact first; with ``runner="vertex"`` it runs
a Vertex AI BatchPredictionJob of a ``vertex://`` registry's version instead. Nothing is
cached (``pipelines/caching.py``): a scheduled run on the same ``data_uri`` scores the batch
as it is now, with the version ``model_version`` names now (the champion may have moved).
"""
from kfp import dsl

from kfp_mlops.components.predict.component import predict
from kfp_mlops.pipelines import caching

NAME = "batch-prediction"


@dsl.pipeline(
    name=NAME,
    description=("Scores a batch of serving data (CSV, Parquet or BigQuery) with a registered "
                 "model version into a predictions folder, streamed; or runs a Vertex AI "
                 "batch prediction job of it."),
)
def batch_prediction(
    data_uri: str,
    model_name: str,
    registry_uri: str,
    model_version: str = "champion",
    key_column: str = "",
    rows_per_file: int = 100000,
    csv_delimiter: str = "",
    bigquery_project: str = "",
    runner: str = "local",
    vertex_destination: str = "",
    vertex_machine_type: str = "n1-standard-4",
    vertex_starting_replica_count: int = 1,
    vertex_max_replica_count: int = 1,
    vertex_service_account: str = "",
    output_uri: str = "",
):
    """Score a batch with a registered model version.

    Args:
        data_uri: The batch: CSV or Parquet (path, gs:// or s3:// URI, folder or glob), a
            BigQuery table ``bq://project.dataset.table`` or a SQL query. The label and any
            column the model does not take are ignored.
        model_name: The registered model.
        registry_uri: The registry push wrote: a local directory (or ``file://`` URI),
            ``gs://`` / ``s3://`` folder, or ``vertex://projects/PROJECT/locations/REGION``.
        model_version: A version number, an alias (``champion``) or ``latest``.
        key_column: An input column written beside each prediction; empty: the row's
            position, ``input_row``.
        rows_per_file: Rows per part file of the predictions.
        csv_delimiter: CSV field separator; empty: tab for .tsv files, else detected from
            each file's header and first lines (one of , ; tab |; "," when unclear).
        bigquery_project: Project that runs BigQuery jobs for a bq:// or SQL batch.
        runner: ``local`` (score in the task) or ``vertex`` (a Vertex AI BatchPredictionJob;
            needs a vertex:// registry).
        vertex_destination: runner ``vertex``: ``gs://bucket/folder`` or
            ``bq://project[.dataset]`` for the job's predictions.
        vertex_machine_type: runner ``vertex``: machine type of the prediction nodes.
        vertex_starting_replica_count: runner ``vertex``: nodes the job starts with.
        vertex_max_replica_count: runner ``vertex``: nodes the job may scale up to.
        vertex_service_account: runner ``vertex``: service account of the job.
        output_uri: runner ``local``: also publish the predictions folder there (a local
            path, ``gs://`` or ``s3://`` folder holding no predictions yet), for the
            performance-monitoring pipeline's ``predictions_uri`` once the labels arrive.
    """
    scored = predict(
        data_uri=data_uri, registry_uri=registry_uri, model_name=model_name,
        model_version=model_version, key_column=key_column, rows_per_file=rows_per_file,
        csv_delimiter=csv_delimiter, bigquery_project=bigquery_project, runner=runner,
        vertex_destination=vertex_destination, vertex_machine_type=vertex_machine_type,
        vertex_starting_replica_count=vertex_starting_replica_count,
        vertex_max_replica_count=vertex_max_replica_count,
        vertex_service_account=vertex_service_account,
        output_uri=output_uri).set_display_name("predict")
    caching.apply(scored, reuse=False)
