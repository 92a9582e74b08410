"""Train component: the KFP shell around core.py."""
from typing import List

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("train"), install_kfp_package=False)
def train(
    dataset: Input[Dataset],
    schema: Input[Artifact],
    model: Output[Model],
    metrics: Output[Metrics],
    tensorboard: Output[Artifact],
    label_column: str = "",
    task: str = "",
    trainer_module: str = "",
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 0.005,
    hidden_units: List[int] = [64, 32],
    early_stopping_patience: int = 5,
    seed: int = 42,
    dropout: float = 0.0,
):
    """Trains a TensorFlow model on a dataset and exports it as a SavedModel.

    Without ``trainer_module`` a built-in tabular model is derived from the schema: numeric
    features are standardised with train-split statistics (missing values get the mean and
    a missing indicator), categorical features are looked up in a train-split vocabulary
    (with out-of-vocabulary and missing buckets) and one-hot encoded or embedded, followed
    by dense ReLU layers. Early stopping watches the eval split and restores the best
    weights; seeds and deterministic ops make a rerun on the same data give the same model.
    The preprocessing is inside the exported model: its ``serving_default`` signature takes
    raw features (numeric as float32 with NaN for missing, categorical as strings with ""
    for missing) and returns ``probabilities``/``class_ids``/``classes`` (classification)
    or ``predictions`` (regression).

    Args:
        dataset: Dataset artifact from ingest (``{train,eval,test}/data.parquet``).
        schema: Schema artifact from validate (``schema.pbtxt``, a TFDV schema); it decides
            which columns are features and whether each is numeric or categorical.
        model: Output. The SavedModel directory (``saved_model.pb`` at its root) with
            ``assets.extra/kfp_mlops_model.json`` describing task, label, vocabulary and
            features. Metadata: framework, tf_version, task, label, features,
            training_rows, content_hash.
        metrics: Output. Training metrics measured through the exported model: train/eval
            loss and accuracy (classification) or RMSE/MAE (regression), epochs_run.
        tensorboard: Output. TensorBoard logs (``train/`` and ``validation/`` event files).
        label_column: The label; empty takes the dataset's ``label_column``.
        task: "classification", "regression", or empty to infer it from the label (strings,
            booleans and integers with at most 20 values are classes; floats are regression).
        trainer_module: Your own training code instead of the built-in model: an importable
            module name, a ``.py`` path or a ``gs://`` or ``s3://`` URI of one, defining
            ``run_fn(args: TrainerArgs)`` that writes a SavedModel to ``args.model_dir``
            with the same serving signature (see the train README).
        epochs: Maximum passes over the train split.
        batch_size: Rows per gradient step.
        learning_rate: Adam learning rate.
        hidden_units: Width of each hidden layer, e.g. [64, 32]; empty for a linear model.
        early_stopping_patience: Epochs without eval-loss improvement before stopping; 0
            turns early stopping off.
        seed: Random seed for weights, shuffling and dropout.
        dropout: Dropout rate after each hidden layer (0 for none).
    """
    from kfp_mlops.components._shared import logs, task_process
    from kfp_mlops.components.train import core

    logs.setup()
    task_process.import_heavy("tensorflow", "keras")
    result = core.train(
        dataset_dir=dataset.path, schema_path=schema.path, model_dir=model.path,
        tensorboard_dir=tensorboard.path, label_column=label_column, task=task,
        trainer_module=trainer_module, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, hidden_units=list(hidden_units),
        early_stopping_patience=early_stopping_patience, seed=seed, dropout=dropout)
    model.metadata.update(result.metadata())
    for name, value in sorted(result.metrics.items()):
        metrics.log_metric(name, value)
    tensorboard.metadata.update(result.tensorboard_metadata())
    task_process.exit_without_teardown()    # once the executor has written its output
