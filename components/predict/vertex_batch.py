"""Predict on Vertex AI: a BatchPredictionJob of a Vertex AI Model Registry version.

``runner="vertex"`` of the predict component scores the batch on Vertex AI instead of in
the task: the version the registry reference names (``vertex://projects/P/locations/L``,
``champion`` by default) is given to ``aiplatform.BatchPredictionJob.create`` with the batch
as ``gcs_source`` (CSV / JSON Lines / TFRecord objects in Cloud Storage) or
``bigquery_source`` (``bq://project.dataset.table``), and the job's output
(``gcs_destination_prefix`` or ``bigquery_destination_prefix``) is where the predictions go:
Vertex AI's own prediction files (``predictions_format``), not the kfp-mlops predictions
layout (``predictions.py``), which only the in-task runner writes.

The SDK's contract used here (google-cloud-aiplatform ``jobs.py``,
``BatchPredictionJob.create``): ``model_name`` may carry a version as
``{model}@{version}``; ``instances_format`` is overridden to ``bigquery`` for a
``bigquery_source``; ``sync=True`` waits for the job to finish and raises when it fails;
``output_info`` holds ``gcs_output_directory`` or ``bigquery_output_dataset`` /
``bigquery_output_table``. GCPC's ``v1/batch_predict_job/component.py``
(``model_batch_predict``, i.e. ``ModelBatchPredictOp``) sends the same request fields
(``input_config``: ``instances_format``, ``gcs_source.uris``, ``bigquery_source``;
``output_config``: ``predictions_format``, ``gcs_destination`` / ``bigquery_destination``)
and outputs a ``google.VertexBatchPredictionJob`` artifact with metadata ``resourceName``,
``gcsOutputDirectory``, ``bigqueryOutputTable``, ``bigqueryOutputDataset`` (GCPC
``types/artifact_types.py``, ``VertexBatchPredictionJob``; GCPC marks that output deprecated
in favour of separate output-location artifacts, which is why the ``predictions`` output here
also carries ``output_uri``): :func:`job_metadata` fills ours the same way.

Pure Python; ``google.cloud.aiplatform`` is imported inside functions.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List

logger = logging.getLogger(__name__)

#: instances_format by file name ending (Vertex AI's storage formats for custom models)
INSTANCE_FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".tfrecord": "tf-record",
                    ".tfrecord.gz": "tf-record-gzip"}
PREDICTION_FORMATS = ("jsonl", "csv", "bigquery")
DEFAULT_MACHINE_TYPE = "n1-standard-4"


class VertexBatchError(ValueError):
    """A Vertex AI batch prediction cannot be asked for as given."""


@dataclasses.dataclass
class VertexBatchResult:
    job_resource_name: str
    state: str
    model_name: str
    model_version: str
    model_resource_name: str
    gcs_output_directory: str = ""
    bigquery_output_dataset: str = ""
    bigquery_output_table: str = ""

    @property
    def output_uri(self) -> str:
        """Where the predictions are: the gs:// folder or the bq:// table / dataset."""
        if self.gcs_output_directory:
            return self.gcs_output_directory
        if self.bigquery_output_table:
            return f"{self.bigquery_output_dataset}.{self.bigquery_output_table}"
        return self.bigquery_output_dataset


def request(data_uri: str, destination: str, instances_format: str = "",
            predictions_format: str = "jsonl") -> Dict[str, Any]:
    """The source and destination arguments of ``BatchPredictionJob.create`` for a batch.

    Args:
        data_uri: ``bq://project.dataset.table``, or one or more comma-separated ``gs://``
            objects (wildcards allowed, as Vertex AI takes them).
        destination: ``gs://bucket/folder`` or ``bq://project`` / ``bq://project.dataset``.
        instances_format: Empty: ``bigquery`` for a BigQuery source, else told by the file
            name (:data:`INSTANCE_FORMATS`).
        predictions_format: ``jsonl``, ``csv`` or ``bigquery``; a ``bq://`` destination
            always gets ``bigquery``.

    Raises:
        VertexBatchError: a source or destination Vertex AI cannot read or write.
    """
    out: Dict[str, Any] = {}
    source = data_uri.strip()
    if source.startswith("bq://"):
        table = source[len("bq://"):]
        if table.count(".") != 2 or not all(table.split(".")):
            raise VertexBatchError(f"data_uri {data_uri!r}: expected bq://project.dataset.table")
        out["bigquery_source"] = source
        out["instances_format"] = "bigquery"
    else:
        uris: List[str] = [u.strip() for u in source.split(",") if u.strip()]
        if not uris or not all(u.startswith("gs://") for u in uris):
            raise VertexBatchError(
                f"data_uri {data_uri!r}: a Vertex AI batch prediction reads gs:// objects or "
                "a bq://project.dataset.table (no local files, s3:// or SQL queries; run "
                "with runner='local' for those)")
        fmt = instances_format
        if not fmt:
            found = {f for u in uris for end, f in INSTANCE_FORMATS.items()
                     if u.lower().endswith(end)}
            if len(found) != 1:
                raise VertexBatchError(
                    f"data_uri {data_uri!r}: cannot tell the instances format from the "
                    f"name{'s' if len(uris) > 1 else ''}; expected files ending in "
                    f"{', '.join(INSTANCE_FORMATS)} (Parquet is not a Vertex AI input "
                    "format), or set instances_format")
            fmt = found.pop()
        out["gcs_source"] = uris
        out["instances_format"] = fmt
    target = destination.strip()
    if target.startswith("gs://") and len(target) > len("gs://"):
        out["gcs_destination_prefix"] = target
        if predictions_format not in ("jsonl", "csv"):
            raise VertexBatchError(f"predictions_format {predictions_format!r}: a gs:// "
                                   "destination takes jsonl or csv")
        out["predictions_format"] = predictions_format
    elif target.startswith("bq://") and len(target) > len("bq://"):
        out["bigquery_destination_prefix"] = target
        out["predictions_format"] = "bigquery"
    else:
        raise VertexBatchError(f"vertex_destination {destination!r}: expected a gs://bucket/"
                               "folder or bq://project[.dataset] where the job writes its "
                               "predictions")
    return out


def job_metadata(result: VertexBatchResult) -> Dict[str, str]:
    """GCPC's ``google.VertexBatchPredictionJob`` metadata (no empty values)."""
    metadata = {"resourceName": result.job_resource_name,
                "gcsOutputDirectory": result.gcs_output_directory,
                "bigqueryOutputDataset": result.bigquery_output_dataset,
                "bigqueryOutputTable": result.bigquery_output_table}
    return {k: v for k, v in metadata.items() if v}


def write_summary(result: VertexBatchResult, input_uri: str, path: str) -> None:
    """The run's summary page (``templates/predict_vertex.html.j2``) at ``path``."""
    from kfp_mlops.components._shared import html_report, io

    io.write_text(path, html_report.render(
        "predict_vertex.html.j2", model_name=result.model_name,
        model_version=result.model_version, job_resource_name=result.job_resource_name,
        state=result.state, input_uri=input_uri, output_uri=result.output_uri))


def job_uri(location: str, resource_name: str) -> str:
    """The job's REST URI, as GCPC's ``VertexBatchPredictionJob.create`` takes it."""
    return f"https://{location}-aiplatform.googleapis.com/v1/{resource_name}"


def batch_predict(registry_uri: str, model_name: str, data_uri: str, destination: str,
                  model_version: str = "champion", job_display_name: str = "",
                  instances_format: str = "", predictions_format: str = "jsonl",
                  machine_type: str = DEFAULT_MACHINE_TYPE, starting_replica_count: int = 1,
                  max_replica_count: int = 1, service_account: str = "") -> VertexBatchResult:
    """Runs a Vertex AI BatchPredictionJob of a registered version and waits for it.

    Args:
        registry_uri: ``vertex://projects/<project>/locations/<region>``.
        model_name: The registered model.
        data_uri: The batch (see :func:`request`).
        destination: Where the job writes (see :func:`request`).
        model_version: A version number, an alias (``champion``) or ``latest``.
        job_display_name: The job's name; empty: ``<model_name>-v<version>-batch``.
        instances_format: See :func:`request`.
        predictions_format: See :func:`request`.
        machine_type: Machine type of the prediction nodes.
        starting_replica_count: Nodes the job starts with.
        max_replica_count: Nodes the job may scale up to.
        service_account: Service account the job runs as; empty: Vertex AI's default.

    Raises:
        VertexBatchError: the registry is not Vertex AI's, or a bad source / destination
            (checked before any request); the SDK's errors when the job fails.
    """
    from kfp_mlops.components._shared import registry as reg
    from kfp_mlops.components.predict import core

    where = reg.parse_registry_uri(registry_uri)
    if where.kind != "vertex":
        raise VertexBatchError(f"runner 'vertex' needs a Vertex AI registry "
                               f"(vertex://projects/<project>/locations/<region>), not "
                               f"{registry_uri!r}; use runner='local' for a folder registry")
    if starting_replica_count < 1 or max_replica_count < starting_replica_count:
        raise VertexBatchError(f"replica counts {starting_replica_count}..{max_replica_count}: "
                               "expected 1 <= starting_replica_count <= max_replica_count")
    arguments = request(data_uri, destination, instances_format, predictions_format)
    version = core.resolve_version(registry_uri, model_name, model_version)

    from google.cloud import aiplatform

    name = job_display_name or f"{model_name}-v{version.version}-batch"
    logger.info("Starting Vertex AI batch prediction %s of %s (%s)", name, version.uri,
                data_uri)
    job = aiplatform.BatchPredictionJob.create(
        job_display_name=name, model_name=version.uri, machine_type=machine_type,
        starting_replica_count=starting_replica_count, max_replica_count=max_replica_count,
        project=where.project, location=where.location,
        service_account=service_account or None, sync=True, **arguments)
    info = job.output_info
    result = VertexBatchResult(
        job_resource_name=job.resource_name, state=str(getattr(job.state, "name", job.state)),
        model_name=model_name, model_version=str(version.version),
        model_resource_name=version.uri,
        gcs_output_directory=getattr(info, "gcs_output_directory", "") or "",
        bigquery_output_dataset=getattr(info, "bigquery_output_dataset", "") or "",
        bigquery_output_table=getattr(info, "bigquery_output_table", "") or "")
    logger.info("Batch prediction %s %s: predictions in %s", result.job_resource_name,
                result.state, result.output_uri)
    return result
