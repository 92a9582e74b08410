"""Validate component: the KFP shell around core.py."""
from typing import Dict, List, NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("validate"), install_kfp_package=False)
def validate(
    dataset: Input[Dataset],
    statistics: Output[Artifact],
    schema: Output[Artifact],
    anomalies: Output[Artifact],
    report: Output[HTML],
    metrics: Output[Metrics],
    label_column: str = "",
    schema_uri: str = "",
    skew_threshold: float = 0.3,
    skew_thresholds: Dict[str, float] = {},
    fail_on_anomalies: bool = True,
    beam_pipeline_args: List[str] = [],
    keep_columns: List[str] = [],
    drop_columns: List[str] = [],
) -> NamedTuple("ValidateOutputs", [("passed", bool)]):
    """Validates a dataset with TensorFlow Data Validation and decides whether it is usable.

    Computes statistics of every split, infers a schema from the train split (or uses a
    curated one), checks every split against the schema (TRAINING environment) and measures
    the train/eval skew of every feature (L-infinity distance for categorical features,
    Jensen-Shannon divergence for numeric ones). The dataset passes when no split has an
    anomaly and no feature's skew exceeds its threshold. ID-like columns (a string column
    with 90 % or more distinct values, an integer row number) are kept out of the model: the
    schema marks them ``lifecycle_stage: DISABLED`` with the reason in their annotation.

    Args:
        dataset: a kfp-mlops Dataset artifact (``dataset.json`` and ``<split>/data.parquet``).
        statistics: output: TFDV statistics, ``Split-<split>/FeatureStats.pb`` (binary
            DatasetFeatureStatisticsList, TFX layout).
        schema: output: the schema, ``schema.pbtxt``, with TRAINING/SERVING environments (the
            label is not expected in SERVING), the skew comparators used, and the columns
            kept out of the model (``lifecycle_stage: DISABLED``; metadata
            ``kept_out_features``: column -> reason).
        anomalies: output: ``Split-<split>/SchemaDiff.pb`` (binary Anomalies), ``skew.json``
            (every feature's distance, metric, threshold) and ``decision.json``.
        report: output: an HTML page with the decision, statistics, anomalies and skew.
        metrics: output: anomaly_count, max_skew, skewed_feature_count, rows per split, ...
        label_column: the label column; empty: the dataset's label column.
        schema_uri: a curated ``schema.pbtxt``, or a folder holding one such as a reviewed
            schema output of this component: a local path, a ``gs://`` or ``s3://`` URI
            (a ``/gcs/`` path is read as ``gs://``); empty: infer the schema from the train
            split.
        skew_threshold: default train/eval skew threshold of every feature (Vertex AI Model
            Monitoring's default is 0.3).
        skew_thresholds: per-feature thresholds overriding ``skew_threshold``.
        fail_on_anomalies: when True, a failed validation fails the task (after every output
            is written); when False it only records the decision and returns passed=False.
        beam_pipeline_args: when non-empty, statistics are computed by a Beam pipeline with
            these options (e.g. ``--runner=DataflowRunner``, ``--project=...``,
            ``--region=...``, ``--temp_location=gs://...``) for data beyond one machine.
        keep_columns: columns kept in the model although they look ID-like (or a curated
            schema's lifecycle stage keeps them out).
        drop_columns: columns kept out of the model (never the label).

    Returns:
        passed: whether the dataset passed validation.
    """
    import collections
    import logging

    from kfp_mlops.components._shared import logs, task_process

    logs.setup()
    # TFDV needs TensorFlow but no Keras: skip TensorFlow's eager import of all of Keras
    task_process.import_heavy("tensorflow", "tensorflow_data_validation")
    from kfp_mlops.components.validate import core

    log = logging.getLogger("kfp_mlops.validate")
    schema_path = schema_uri  # read through the I/O layer by core (resolve_schema_path)
    log.info("validating dataset %s (label %r, schema %s, skew threshold %s, overrides %s, "
             "keep %s, drop %s)", dataset.path, label_column or "<from dataset>",
             schema_path or "<inferred>", skew_threshold, dict(skew_thresholds),
             list(keep_columns), list(drop_columns))
    result = core.validate(
        dataset_dir=dataset.path,
        statistics_dir=statistics.path,
        schema_dir=schema.path,
        anomalies_dir=anomalies.path,
        report_path=report.path,
        label_column=label_column,
        schema_path=schema_path,
        skew_threshold=skew_threshold,
        skew_thresholds=dict(skew_thresholds),
        beam_pipeline_args=list(beam_pipeline_args),
        keep_columns=list(keep_columns),
        drop_columns=list(drop_columns),
    )

    metadata = result.metadata()
    statistics.metadata.update({"split_names": metadata["split_names"],
                                "rows": metadata["rows"], "layout": "Split-<split>/FeatureStats.pb"})
    schema.metadata.update({"feature_count": metadata["schema_feature_count"],
                            "label_column": metadata["label_column"],
                            "source": metadata["schema_source"],
                            "kept_out_features": metadata["kept_out_features"],
                            "kept_in_features": metadata["kept_in_features"]})
    values = result.metrics()
    anomalies.metadata.update({"passed": result.passed, "reasons": list(result.reasons),
                               "anomaly_count": values["anomaly_count"],
                               "max_skew": values["max_skew"],
                               "max_skew_feature": values["max_skew_feature"],
                               "split_names": metadata["split_names"],
                               "infinite_values": metadata["infinite_values"],
                               "kept_out_features": metadata["kept_out_features"]})
    report.metadata.update({"passed": result.passed})
    for name, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics.log_metric(name, value)

    outputs = collections.namedtuple("ValidateOutputs", ["passed"])
    if not result.passed:
        for reason in result.reasons:
            log.error("validation: %s", reason)
        if fail_on_anomalies:
            raise RuntimeError(f"dataset failed validation ({len(result.reasons)} reasons; "
                               "outputs are written; set fail_on_anomalies=False to record "
                               "and continue):\n- " + "\n- ".join(result.reasons))
        log.warning("dataset failed validation; continuing because fail_on_anomalies=False")
    task_process.exit_without_teardown()    # once the executor has written its output
    return outputs(result.passed)
