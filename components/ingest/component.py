"""Ingest component: the KFP shell around core.py."""
from typing import List

from kfp import dsl
from kfp.dsl import Dataset, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("ingest"), install_kfp_package=False)
def ingest(
    data_uri: str,
    dataset: Output[Dataset],
    label_column: str = "",
    key_column: str = "",
    split_ratios: List[float] = [0.8, 0.1, 0.1],
    file_format: str = "",
    bigquery_project: str = "",
    csv_delimiter: str = "",
    batch_rows: int = 65536,
):
    """Reads tabular data into a Dataset of deterministic train / eval / test Parquet splits.

    Each row's split is chosen by a hash of its key column, or of its whole content when no
    key is given, so the same input always gives the same split. Data is streamed in
    batches: memory does not grow with the input size.

    Args:
        data_uri: Local path, gs:// or s3:// URI of CSV or Parquet data (one file, a folder,
            or a glob in the file name), a BigQuery table ``bq://project.dataset.table``, or
            a BigQuery SQL query starting with SELECT or WITH.
        dataset: Output directory with ``<split>/data.parquet`` for train, eval and test, and
            ``dataset.json``. Metadata: source, rows per split, columns and types, content hash.
        label_column: Column the model will learn; the task fails when it is missing.
        key_column: Column whose value decides the split (rows with one key stay together).
        split_ratios: Train, eval and test shares; they must add up to 1.
        file_format: ``csv`` or ``parquet``; empty to tell by the file names.
        bigquery_project: Google Cloud project that runs BigQuery jobs.
        csv_delimiter: CSV field separator (one character); empty: tab for .tsv files, else
            detected from each file's header and first lines (one of ``, ; \\t |``; ``,``
            when unclear), and logged.
        batch_rows: Rows read and written per batch.
    """
    from kfp_mlops.components._shared import logs
    from kfp_mlops.components.ingest import core

    logs.setup()
    result = core.ingest(
        source=data_uri,
        output_dir=dataset.path,
        label_column=label_column,
        key_column=key_column,
        split_ratios=split_ratios,
        file_format=file_format,
        batch_rows=batch_rows,
        bigquery_project=bigquery_project,
        csv_delimiter=csv_delimiter,
    )
    dataset.metadata.update(result.metadata())
