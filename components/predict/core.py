"""Predict: score a batch with a registered model version, streamed, into a predictions folder.

The batch is read as ingest reads a source (``ingest.core.iter_source``: CSV / Parquet file,
folder or glob, local, ``gs://`` or ``s3://``, a BigQuery table or query), one record batch
at a time; each batch is scored through the version's serving signature
(``_shared.model_io``, which turns dates and strings into the serving inputs) and appended
to the current part file of the predictions folder (``predictions.py``), so memory depends on
the batch size, not on the number of rows. The folder appears only when every row is
written (``predictions.json`` last).

Before any row is written: the version is resolved, the model loaded, and the first batch's
columns checked -- the key column must exist, and every feature the model takes must be
there (columns the model does not take, such as the label, are not fed).

No kfp import here; pyarrow, numpy and TensorFlow are imported inside functions.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List

from kfp_mlops.components.predict import predictions as fmt

logger = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 8192
#: Predicted values kept for the summary's histogram (regression): an even sample beyond.
SAMPLE_VALUES = 20_000


class PredictError(ValueError):
    """The batch cannot be scored; the message names the input and what was expected."""


@dataclasses.dataclass
class PredictResult:
    output_dir: str
    metadata: Dict[str, Any]
    #: predicted class -> rows (classification); empty for regression
    class_counts: Dict[str, int]
    #: min, mean and max of the predicted values (regression); empty for classification
    value_summary: Dict[str, float]

    @property
    def rows(self) -> int:
        return int(self.metadata["rows"])

    def artifact_metadata(self) -> Dict[str, Any]:
        """What the ``predictions`` Dataset artifact carries."""
        keep = ("rows", "model_name", "model_version", "model_uri", "model_hash", "task",
                "label_column", "classes", "key_column", "input_uri", "input_content_hash",
                "files", "format_version")
        out = {k: self.metadata[k] for k in keep if k in self.metadata}
        out["layout"] = f"{fmt.METADATA_FILE} + part-NNNNN.parquet"
        if self.class_counts:
            out["class_counts"] = dict(self.class_counts)
        return out


RUNNERS = ("local", "vertex")


def check_settings(runner: str = "local", registry_uri: str = "", data_uri: str = "",
                   vertex_destination: str = "", rows_per_file: int = fmt.DEFAULT_ROWS_PER_FILE,
                   output_uri: str = "") -> None:
    """The checks of predict's arguments that need no data (the pipelines' preflight).

    Raises:
        PredictError: an unknown runner, a part size below one row, or, for runner
            ``vertex``, a registry that is not Vertex AI's or a batch / destination a Vertex
            AI batch prediction cannot read or write; an ``output_uri`` with runner
            ``vertex`` (its predictions go to ``vertex_destination``) or one that already
            holds predictions.
    """
    if runner not in RUNNERS:
        raise PredictError(f"runner {runner!r}: expected one of {', '.join(RUNNERS)}")
    if isinstance(rows_per_file, bool) or not isinstance(rows_per_file, int) \
            or rows_per_file <= 0:
        raise PredictError(f"rows_per_file must be a positive number of rows, not "
                           f"{rows_per_file!r}")
    if output_uri and runner == "vertex":
        raise PredictError(f"output_uri {output_uri!r} is for runner 'local'; a Vertex AI batch "
                           "prediction writes to vertex_destination")
    if output_uri:
        try:
            fmt.check_destination(output_uri)
        except fmt.PredictionsError as e:
            raise PredictError(str(e)) from e
    if runner == "vertex":
        from kfp_mlops.components._shared import registry as reg
        from kfp_mlops.components.predict import vertex_batch

        try:
            kind = reg.parse_registry_uri(registry_uri).kind if registry_uri else "vertex"
        except reg.RegistryError:
            kind = "vertex"  # a malformed URI: the registry's own check names it
        if kind != "vertex":
            raise PredictError(f"runner 'vertex' needs a Vertex AI registry "
                               f"(vertex://projects/<project>/locations/<region>), not "
                               f"{registry_uri!r}")
        try:
            vertex_batch.request(data_uri, vertex_destination)
        except vertex_batch.VertexBatchError as e:
            raise PredictError(str(e)) from e


class _EvenSample:
    """At most ``limit`` values of a stream, evenly spaced: every ``stride``-th value, the
    stride doubling (and every other kept value dropped) when the sample is full."""

    def __init__(self, limit: int = SAMPLE_VALUES):
        self.limit = limit
        self.stride = 1
        self.seen = 0
        self.values: List[float] = []

    def add(self, values) -> None:
        start = (-self.seen) % self.stride
        self.values.extend(float(v) for v in values[start::self.stride])
        self.seen += len(values)
        while len(self.values) > self.limit:
            self.values = self.values[::2]
            self.stride *= 2


def summary_data(result: "PredictResult", values: List[float]) -> Dict[str, Any]:
    """Everything ``templates/predict.html.j2`` shows, as plain data."""
    from kfp_mlops.components._shared import charts

    meta = result.metadata
    counts = sorted(result.class_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    figures = []
    if counts:
        figures.append({"svg": charts.class_count_figure(result.class_counts),
                        "caption": "rows per predicted class"})
    elif values:
        figures.append({"svg": charts.value_histogram_figure(values),
                        "caption": f"predicted values ({len(values):,} of {result.rows:,} "
                                   "rows, evenly spaced)"})
    return {
        "rows": result.rows, "input_uri": meta["input_uri"], "model_name": meta["model_name"],
        "model_version": meta["model_version"], "task": meta["task"],
        "key_column": meta["key_column"], "created": meta["created"],
        "input_content_hash": meta["input_content_hash"], "files": meta["files"],
        "class_counts": [{"label": k, "rows": v, "share": v / max(result.rows, 1)}
                         for k, v in counts],
        "value_summary": result.value_summary,
        "sections": [{"title": "Charts", "note": "", "figures": figures}] if figures else [],
    }


def resolve_version(registry_uri: str, model_name: str, model_version: str):
    """The registry version ``model_version`` names (``champion`` when empty)."""
    from kfp_mlops.components._shared import registry as reg

    registry = reg.open_registry(registry_uri)
    ref = model_version or reg.CHAMPION
    try:
        return registry.resolve(model_name, ref)
    except reg.ModelNotFoundError as e:
        raise PredictError(f"model_name {model_name!r} is not in the registry "
                           f"{registry_uri!r}: {e}") from e
    except reg.VersionNotFoundError as e:
        raise PredictError(f"model_version {ref!r} of model {model_name!r} is not in the "
                           f"registry {registry_uri!r}: {e}") from e


def _check_columns(names: List[str], where: str, serving, key_column: str) -> None:
    if key_column and key_column not in names:
        raise PredictError(f"key_column {key_column!r} not found in {where}; columns are: "
                           f"{', '.join(names)}")
    if key_column == fmt.PREDICTION or key_column.startswith(fmt.PROBABILITY_PREFIX) or \
            key_column in (fmt.MODEL_NAME, fmt.MODEL_VERSION):
        raise PredictError(f"key_column {key_column!r} is the name of an output column of "
                           "the predictions; rename it in the input")
    missing = [f for f in serving.features if f not in names]
    if missing:
        raise PredictError(
            f"{where} lacks the model's feature column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}; the model takes {', '.join(serving.features)} "
            f"and the input has {', '.join(names)}")


def predict(data_uri: str, registry_uri: str, model_name: str, output_dir: str,
            model_version: str = "champion", key_column: str = "",
            rows_per_file: int = fmt.DEFAULT_ROWS_PER_FILE,
            batch_rows: int = DEFAULT_BATCH_ROWS, file_format: str = "",
            bigquery_project: str = "", csv_delimiter: str = "",
            summary_path: str = "", output_uri: str = "") -> PredictResult:
    """Scores every row of ``data_uri`` with a registered version into ``output_dir``.

    Args:
        data_uri: The batch: CSV or Parquet (path, ``gs://`` / ``s3://`` URI, folder or
            glob), ``bq://project.dataset.table`` or a BigQuery SQL query.
        registry_uri: The registry push wrote (local path, ``gs://``, ``s3://``,
            ``vertex://...``).
        model_name: The registered model.
        output_dir: The predictions folder to create (must not hold files).
        model_version: A version number, an alias (``champion``) or ``latest``.
        key_column: A column of the input written beside each prediction; empty: the row's
            position, ``input_row``.
        rows_per_file: Rows per part file.
        batch_rows: Rows read and scored at a time (Parquet and BigQuery; CSV is read in
            blocks of ~1 MB).
        file_format: ``csv`` or ``parquet``; empty to tell by the file names.
        bigquery_project: Project that runs BigQuery jobs (default: the client's).
        csv_delimiter: CSV field separator; empty: detected as ingest does.
        summary_path: Where to write an HTML summary (class counts or a histogram of the
            predicted values); empty: none. Written after the predictions are complete.
        output_uri: Also publish the predictions there (a local path, ``gs://`` or ``s3://``
            folder that holds no predictions yet; checked before any row is scored), for a
            later step -- performance monitoring when the labels arrive -- to find them.

    Returns:
        A PredictResult; the folder's ``predictions.json`` holds its metadata.

    Raises:
        PredictError: unknown model or version, a missing key or feature column, an
            empty batch. Nothing is left at ``output_dir``.
    """
    import numpy as np
    import pyarrow as pa

    from kfp_mlops.components._shared import model_io
    from kfp_mlops.components._shared.content_hash import ContentHash
    # ingest's source reader (tests/test_layers.py READER_NAMES): one way to read a source
    from kfp_mlops.components.ingest.core import IngestError, check_csv_delimiter, iter_source

    if batch_rows <= 0:
        raise PredictError(f"batch_rows must be a positive number of rows, not {batch_rows}")
    if rows_per_file <= 0:
        raise PredictError(f"rows_per_file must be a positive number of rows, not "
                           f"{rows_per_file}")
    try:
        check_csv_delimiter(csv_delimiter)
    except IngestError as e:
        raise PredictError(str(e)) from e
    if output_uri:
        try:
            fmt.check_destination(output_uri)
        except fmt.PredictionsError as e:
            raise PredictError(str(e)) from e
    version = resolve_version(registry_uri, model_name, model_version)
    logger.info("Scoring %s with %s version %s (%s)", data_uri, model_name, version.version,
                version.model_dir)
    try:
        serving = model_io.load(version.model_dir)
    except model_io.ModelError as e:
        raise PredictError(f"{model_name} version {version.version}: {e}") from e
    classification = serving.task == model_io.CLASSIFICATION
    classes = list(serving.label_vocabulary) if classification else []
    key_name = key_column or fmt.ROW_KEY
    try:
        _, files, batches = iter_source(data_uri, file_format, batch_rows,
                                               bigquery_project, csv_delimiter)
    except IngestError as e:
        raise PredictError(str(e)) from e

    fingerprint = ContentHash()
    counts: Dict[str, int] = {}
    low, high, total, scored_values = np.inf, -np.inf, 0.0, 0
    sample = _EvenSample()
    schema = None
    with fmt.writer(output_dir, rows_per_file) as out:
        try:
            for where, batch in batches:
                if schema is None:
                    schema = batch.schema
                    _check_columns(schema.names, where, serving, key_column)
                    if serving.label and serving.label in schema.names:
                        logger.info("%s holds the label column %r: it is not fed to the model",
                                    where, serving.label)
                elif batch.schema != schema:
                    if batch.schema.names != schema.names:
                        raise PredictError(f"{where}: columns {batch.schema.names} differ from "
                                           f"the first file's {schema.names}")
                    try:
                        batch = pa.RecordBatch.from_arrays(
                            [c.cast(f.type) for c, f in zip(batch.columns, schema)],
                            schema=schema)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                        raise PredictError(f"{where}: column types differ from the first "
                                           f"file's ({schema}): {e}") from e
                if batch.num_rows == 0:
                    continue
                fingerprint.add_batch(batch)
                features = pa.Table.from_batches([batch]).select(list(serving.features))
                scored = serving.predict(features, batch_rows=batch_rows)
                if key_column:
                    keys = batch.column(schema.get_field_index(key_column))
                else:
                    keys = np.arange(out.rows, out.rows + batch.num_rows, dtype=np.int64)
                if classification:
                    names = scored["classes"]
                    probabilities = scored["probabilities"]
                    if not classes:
                        classes = [str(i) for i in range(probabilities.shape[1])]
                    for label, n in zip(*np.unique(names.astype(str), return_counts=True)):
                        counts[str(label)] = counts.get(str(label), 0) + int(n)
                    table = fmt.prediction_table(key_name, keys, names, probabilities, classes,
                                                 model_name, str(version.version))
                else:
                    values = scored["predictions"].reshape(-1).astype(np.float64)
                    finite = values[np.isfinite(values)]
                    if finite.size:
                        low, high = min(low, finite.min()), max(high, finite.max())
                        total += float(finite.sum())
                        scored_values += int(finite.size)
                    sample.add(values)
                    table = fmt.prediction_table(key_name, keys, values, None, [], model_name,
                                                 str(version.version))
                out.write(table)
                if out.rows % (batch_rows * 16) < batch.num_rows:
                    logger.info("Scored %d rows so far", out.rows)
        except model_io.ModelError as e:
            raise PredictError(f"{data_uri!r}: {e}") from e
        if schema is None or not out.rows:
            raise PredictError(f"data source {data_uri!r} holds no rows: expected at least one "
                               "row to score")
        metadata = out.finish({
            "model_name": model_name, "model_version": str(version.version),
            "model_uri": version.uri, "model_hash": version.model_hash,
            "task": serving.task, "label_column": serving.label, "classes": classes,
            "key_column": key_name, "input_uri": data_uri, "input_files": files,
            "input_content_hash": fingerprint.hexdigest(schema),
        })
    summary = {}
    if not classification and np.isfinite(low):
        summary = {"min": float(low), "max": float(high), "mean": total / scored_values}
    logger.info("Wrote %d predictions of %s version %s to %s", out.rows, model_name,
                version.version, output_dir)
    result = PredictResult(output_dir=output_dir, metadata=metadata, class_counts=counts,
                           value_summary=summary)
    if output_uri:
        try:
            fmt.publish(output_dir, output_uri)
        except fmt.PredictionsError as e:
            raise PredictError(str(e)) from e
        logger.info("Published the predictions to %s", output_uri)
    if summary_path:
        from kfp_mlops.components._shared import html_report, io

        io.write_text(summary_path, html_report.render(
            "predict.html.j2", **summary_data(result, sample.values)))
    return result

