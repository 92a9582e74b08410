"""The training pipeline: ingest -> validate -> train -> evaluate -> push -> track.

Gates live inside the components, not in ``dsl.If``: ``kfp.local`` in the kfp release this
stack runs does not execute conditions, and one compiled spec must run everywhere.

* validate fails the run on anomalies or train/eval skew (``fail_on_anomalies``), so nothing
  trained on unvalidated data goes further;
* evaluate blesses the model against absolute thresholds and against the registry's current
  champion on the same test data;
* push registers only a blessed model, and otherwise records why it did not;
* track records every run, blessed or not, in MLflow (``tracking_uri``; ``kfp-mlops run``
  gives its output folder's ``mlflow.db``) and, on Vertex AI, in Vertex AI Experiments.

Ingest, evaluate, push and track run on every run; validate and train may reuse an earlier result
for the very same input artifacts (``pipelines/caching.py`` says why that is safe).

The train task's CPU, memory and accelerator are chosen when compiling
(``kfp-mlops compile --train-cpu 8 --train-memory 32G --train-accelerator NVIDIA_TESLA_T4``).
"""
import dataclasses
from typing import Callable, Dict, List, Optional

from kfp import dsl

from kfp_mlops.components.evaluate.component import evaluate
from kfp_mlops.components.ingest.component import ingest
from kfp_mlops.components.push.component import push
from kfp_mlops.components.track.component import track
from kfp_mlops.components.train.component import train
from kfp_mlops.components.validate.component import validate
from kfp_mlops.pipelines import caching

NAME = "training"


@dataclasses.dataclass(frozen=True)
class Resources:
    """Requests and limits for one task, as Kubeflow and Vertex AI take them."""

    cpu: str = ""                 # e.g. "4" or "500m"
    memory: str = ""              # e.g. "16G"
    accelerator_type: str = ""    # e.g. "NVIDIA_TESLA_T4" (Vertex) or "nvidia.com/gpu" (Kubeflow)
    accelerator_count: int = 1
    #: ``kfp_mlops.pipelines.vertex_training.CustomJob``: run the train task as a Vertex AI
    #: custom job of that many machines (machine type and accelerator are then the job's).
    custom_job: Optional[object] = None

    def apply(self, task) -> None:
        if self.custom_job is not None:
            return   # the custom job's worker_pool_specs carry the machines
        if self.cpu:
            task.set_cpu_request(self.cpu).set_cpu_limit(self.cpu)
        if self.memory:
            task.set_memory_request(self.memory).set_memory_limit(self.memory)
        if self.accelerator_type:
            task.set_accelerator_type(self.accelerator_type)
            task.set_accelerator_limit(self.accelerator_count)


def build(train_resources: Optional[Resources] = None) -> Callable:
    """Builds the training pipeline, with ``train_resources`` applied to the train task."""
    resources = train_resources or Resources()
    train_op = train
    if resources.custom_job is not None:
        from kfp_mlops.pipelines import vertex_training
        train_op = vertex_training.custom_job_component(train, resources.custom_job)

    @dsl.pipeline(
        name=NAME,
        description=("Ingests tabular data, validates it with TFDV, trains a TensorFlow model, "
                     "evaluates it against thresholds and the registry's champion, and "
                     "registers it when blessed."),
    )
    def training(
        data_uri: str,
        label_column: str,
        model_name: str,
        registry_uri: str,
        task: str = "",
        epochs: int = 30,
        batch_size: int = 32,
        learning_rate: float = 0.005,
        hidden_units: List[int] = [64, 32],
        trainer_module: str = "",
        key_column: str = "",
        split_ratios: List[float] = [0.8, 0.1, 0.1],
        schema_uri: str = "",
        skew_threshold: float = 0.3,
        skew_thresholds: Dict[str, float] = {},
        fail_on_anomalies: bool = True,
        keep_columns: List[str] = [],
        drop_columns: List[str] = [],
        thresholds: Dict[str, float] = {},
        max_regression: Dict[str, float] = {},
        slice_columns: List[str] = [],
        max_slice_gap: Dict[str, float] = {},
        min_slice_rows: int = 10,
        aliases: List[str] = ["champion"],
        endpoint_name: str = "",
        traffic_percentage: int = 0,
        csv_delimiter: str = "",
        tracking_uri: str = "",
        experiment: str = "",
    ):
        """Ingest, validate, train, evaluate and push.

        Args:
            data_uri: CSV or Parquet data (path, gs:// URI, folder or glob), a BigQuery table
                ``bq://project.dataset.table`` or a SQL query.
            label_column: The column the model learns.
            model_name: Name of the model in the registry.
            registry_uri: Model registry: a local directory (or ``file://`` URI), or
                ``vertex://projects/PROJECT/locations/REGION`` for Vertex AI Model Registry.
            task: ``classification`` or ``regression``; empty infers it from the label.
            epochs: Most training epochs (early stopping on the eval split may stop sooner).
            batch_size: Training batch size.
            learning_rate: Adam learning rate.
            hidden_units: Sizes of the hidden layers of the built-in model.
            trainer_module: A Python module (dotted name, .py path or gs:// URI) with a
                ``run_fn`` that trains a model of your own; empty uses the built-in model.
            key_column: Column that decides each row's split; empty hashes the whole row.
            split_ratios: Train, eval and test shares.
            schema_uri: A curated schema.pbtxt; empty infers the schema from the train split.
            skew_threshold: Largest train/eval distance allowed for any feature.
            skew_thresholds: Per-feature overrides of skew_threshold.
            fail_on_anomalies: Stop the run on data anomalies or skew.
            keep_columns: Columns the model keeps although they look ID-like (validate
                keeps a string column with 90 % or more distinct values, or an integer row
                number, out of the model).
            drop_columns: Columns kept out of the model (never the label).
            thresholds: Metric floors (ceilings for losses and errors) the model must meet,
                e.g. ``{"accuracy": 0.9}``.
            max_regression: Largest drop of a metric allowed against the champion.
            slice_columns: Columns whose values slice the evaluation metrics.
            max_slice_gap: Largest difference of a metric allowed between the best and the
                worst slice of each slice column, e.g. ``{"accuracy": 0.1}`` (for losses and
                errors: worst minus best); needs slice_columns.
            min_slice_rows: Slices with fewer rows are left out of the max_slice_gap check.
            aliases: Aliases the pushed version takes (``champion`` moves to it).
            endpoint_name: Vertex AI only: deploy the pushed model to this endpoint.
            traffic_percentage: Vertex AI only: traffic share of the new model (a canary).
            csv_delimiter: CSV field separator; empty: tab for .tsv files, else detected from
                each file's header and first lines (one of , ; tab |; "," when unclear).
            tracking_uri: MLflow tracking URI the run is recorded in (``sqlite:///<path>``,
                or a tracking server ``http(s)://host:port``); ``vertex://projects/P/
                locations/R`` for Vertex AI Experiments alone. Empty: ``kfp-mlops run``
                records in ``<output-dir>/mlflow.db``; elsewhere no MLflow record. A
                ``vertex://`` registry also records the run in Vertex AI Experiments.
            experiment: Experiment the run is recorded in; empty: the model name.
        """
        data = ingest(data_uri=data_uri, label_column=label_column, key_column=key_column,
                      split_ratios=split_ratios,
                      csv_delimiter=csv_delimiter).set_display_name("ingest")
        checks = validate(
            dataset=data.outputs["dataset"], label_column=label_column, schema_uri=schema_uri,
            skew_threshold=skew_threshold, skew_thresholds=skew_thresholds,
            fail_on_anomalies=fail_on_anomalies, keep_columns=keep_columns,
            drop_columns=drop_columns).set_display_name("validate")
        trained = train_op(
            dataset=data.outputs["dataset"], schema=checks.outputs["schema"],
            label_column=label_column, task=task, trainer_module=trainer_module, epochs=epochs,
            batch_size=batch_size, learning_rate=learning_rate,
            hidden_units=hidden_units).set_display_name("train")
        resources.apply(trained)
        evaluated = evaluate(
            dataset=data.outputs["dataset"], model=trained.outputs["model"],
            label_column=label_column, thresholds=thresholds, max_regression=max_regression,
            slice_columns=slice_columns, registry_uri=registry_uri,
            model_name=model_name, max_slice_gap=max_slice_gap,
            min_slice_rows=min_slice_rows).set_display_name("evaluate")
        pushed = push(
            model=trained.outputs["model"], blessing=evaluated.outputs["blessing"],
            schema=checks.outputs["schema"], statistics=checks.outputs["statistics"],
            dataset=data.outputs["dataset"], registry_uri=registry_uri, model_name=model_name,
            aliases=aliases, endpoint_name=endpoint_name,
            traffic_percentage=traffic_percentage,
            pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER).set_display_name("push")
        tracked = track(
            pushed_model=pushed.outputs["pushed_model"], blessing=evaluated.outputs["blessing"],
            dataset=data.outputs["dataset"], schema=checks.outputs["schema"],
            model=trained.outputs["model"], report=evaluated.outputs["report"],
            model_name=model_name, registry_uri=registry_uri, tracking_uri=tracking_uri,
            experiment=experiment,
            pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER).set_display_name("track")
        caching.apply(data, checks, trained, evaluated, pushed, tracked)

    return training


training = build()
