"""The data-validation pipeline: ingest -> validate."""
from typing import Dict, List

from kfp import dsl

from kfp_mlops.components.ingest.component import ingest
from kfp_mlops.components.validate.component import validate
from kfp_mlops.pipelines import caching

NAME = "data-validation"


@dsl.pipeline(
    name=NAME,
    description=("Reads tabular data into deterministic train / eval / test splits, computes "
                 "TFDV statistics, infers or applies a schema, and checks every split for "
                 "anomalies and train/eval skew."),
)
def data_validation(
    data_uri: str,
    label_column: str = "",
    key_column: str = "",
    split_ratios: List[float] = [0.8, 0.1, 0.1],
    schema_uri: str = "",
    skew_threshold: float = 0.3,
    skew_thresholds: Dict[str, float] = {},
    fail_on_anomalies: bool = True,
    keep_columns: List[str] = [],
    drop_columns: List[str] = [],
    csv_delimiter: str = "",
):
    """Ingest and validate.

    Args:
        data_uri: CSV or Parquet data (path, gs:// URI, folder or glob), a BigQuery table
            ``bq://project.dataset.table`` or a SQL query.
        label_column: The label; it must exist, and serving data need not carry it.
        key_column: Column that decides each row's split; empty hashes the whole row.
        split_ratios: Train, eval and test shares.
        schema_uri: A curated schema.pbtxt; empty infers the schema from the train split.
        skew_threshold: Largest train/eval distance allowed for any feature (L-infinity for
            categorical, Jensen-Shannon divergence for numeric features).
        skew_thresholds: Per-feature overrides of skew_threshold.
        fail_on_anomalies: Fail the run on anomalies or skew (else they are only recorded).
        keep_columns: Columns kept as features although they look ID-like (a string column
            with 90 % or more distinct values, an integer row number).
        drop_columns: Columns kept out of the model (never the label).
        csv_delimiter: CSV field separator; empty: tab for .tsv files, else detected from
            each file's header and first lines (one of , ; tab |; "," when unclear).
    """
    ingest_task = ingest(data_uri=data_uri, label_column=label_column, key_column=key_column,
                         split_ratios=split_ratios, csv_delimiter=csv_delimiter)
    ingest_task.set_display_name("ingest")
    validate_task = validate(
        dataset=ingest_task.outputs["dataset"],
        label_column=label_column,
        schema_uri=schema_uri,
        skew_threshold=skew_threshold,
        skew_thresholds=skew_thresholds,
        fail_on_anomalies=fail_on_anomalies,
        keep_columns=keep_columns,
        drop_columns=drop_columns,
    )
    validate_task.set_display_name("validate")
    caching.apply(ingest_task, validate_task)
