"""Evaluate component: the KFP shell around core.py."""
from typing import Dict, List, NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, HTML, Input, Metrics, Model, Output

from kfp_mlops import images


@dsl.component(base_image=images.component_image("evaluate"), install_kfp_package=False)
def evaluate(
    dataset: Input[Dataset],
    model: Input[Model],
    evaluation: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    blessing: Output[Artifact],
    report: Output[HTML],
    label_column: str = "",
    thresholds: Dict[str, float] = {},
    max_regression: Dict[str, float] = {},
    slice_columns: List[str] = [],
    registry_uri: str = "",
    model_name: str = "",
    max_slice_gap: Dict[str, float] = {},
    min_slice_rows: int = 10,
) -> NamedTuple("EvaluateOutputs", [("blessed", bool)]):
    """Evaluates a model on the test split and decides whether it is blessed.

    The model is called through its ``serving_default`` signature, as serving will call
    it. Classification: accuracy, ROC AUC, PR AUC, precision, recall, F1 and log loss
    (binary: the positive class, the last label value in sorted order; multi-class: macro
    averages and per-class values), a confusion matrix and a ROC curve. Regression: RMSE,
    MAE, R². The model is blessed when every threshold holds and, if the registry has a
    champion for ``model_name``, the model is not worse than the champion on the same test
    rows by more than ``max_regression`` allows, and no slice column's best and worst
    slice differ by more than ``max_slice_gap`` allows.

    Args:
        dataset: Dataset artifact; its ``test`` split is scored.
        model: Model artifact from train (a SavedModel with kfp-mlops metadata).
        evaluation: Output. Every scalar metric (and ``count``, the rows scored).
        classification_metrics: Output. ROC curve and confusion matrix for the KFP and
            Vertex UIs; empty for regression. The ROC curve is of one class against the
            rest (binary: the positive class; multi-class: the first class), named in the
            metadata (``roc_curve_class``) and the display name.
        blessing: Output. ``blessing.json`` ({"blessed", "reasons", "checks", "metrics",
            "champion"}) and ``evaluation.json`` (all metrics, per class and per slice).
            Metadata: blessed, reasons, champion_version (absent when there was no
            champion).
        report: Output. An HTML page with the metrics, slices, confusion matrix and the
            blessing reasons, and charts: ROC, precision-recall and calibration curves of
            every class, the confusion matrix as a heatmap, the main metric per slice.
        label_column: The label; empty takes the label the model was trained on.
        thresholds: Absolute bounds, e.g. {"accuracy": 0.9, "auc": 0.95} or {"rmse": 400}:
            minimums for accuracy/auc/pr_auc/precision/recall/f1/r2, maximums for
            log_loss/rmse/mae/mse.
        max_regression: How much worse than the champion each metric may be, as an
            absolute amount, e.g. {"accuracy": 0.01}. Empty: the main metric (accuracy for
            classification, rmse for regression) may not get worse at all.
        slice_columns: Columns to report metrics for each value of, e.g. ["island", "sex"].
        registry_uri: The model registry holding the champion; empty: no champion lookup.
        model_name: The registered model whose champion to compare with; empty: no lookup.
        max_slice_gap: The largest allowed difference of a metric between the best and the
            worst value of each slice column, e.g. {"accuracy": 0.1} (best minus worst; for
            log_loss/rmse/mae/mse worst minus best); needs slice_columns. Empty: no check.
        min_slice_rows: Slice values with fewer rows are left out of the max_slice_gap
            comparison (and named in the reason), so a tiny slice does not veto a model.

    Returns:
        blessed: whether the model passed every check.
    """
    import contextlib
    from collections import namedtuple

    from kfp_mlops.components._shared import io, logs, task_process

    logs.setup()
    # a SavedModel is called through TensorFlow alone: skip the eager import of all of Keras
    task_process.import_heavy("tensorflow")
    from kfp_mlops.components.evaluate import core

    with contextlib.ExitStack() as stack:
        champion_dir, champion_version, champion_uri = None, "", ""
        if registry_uri and model_name:
            from kfp_mlops.components._shared import registry

            champion = registry.find_champion(registry_uri, model_name)
            if champion is not None:
                # a gs:// or s3:// champion (object-store or Vertex AI registry) is copied
                # to a temporary folder for the run
                champion_dir = stack.enter_context(io.local_copy(champion.model_dir))
                champion_version, champion_uri = str(champion.version), champion.model_dir
        result = core.evaluate(
            dataset_dir=dataset.path, model_dir=model.path, blessing_dir=blessing.path,
            report_path=report.path, label_column=label_column, thresholds=dict(thresholds),
            max_regression=dict(max_regression), slice_columns=list(slice_columns),
            champion_model_dir=champion_dir, champion_version=champion_version,
            champion_uri=champion_uri, max_slice_gap=dict(max_slice_gap),
            min_slice_rows=min_slice_rows)
    for name, value in sorted(result.scalar_metrics().items()):
        evaluation.log_metric(name, value)
    ev = result.evaluation
    if ev.roc_curve:
        classification_metrics.log_roc_curve(ev.roc_curve["fpr"], ev.roc_curve["tpr"],
                                             ev.roc_curve["thresholds"])
        # The UIs draw one ROC curve and do not say of which class: the class goes into the
        # metadata, and into the display name, which the launcher keeps when the metadata
        # sets it (kubeflow/pipelines backend/src/v2/metadata/client.go, RecordArtifact:
        # display_name defaults to the output name only when absent).
        classification_metrics.metadata["roc_curve_class"] = ev.roc_curve["class"]
        classification_metrics.metadata["display_name"] = (
            f"classification_metrics (ROC of class {ev.roc_curve['class']})")
    if ev.confusion_matrix:
        classification_metrics.log_confusion_matrix(ev.confusion_matrix["categories"],
                                                    ev.confusion_matrix["matrix"])
    blessing.metadata.update(result.metadata())
    task_process.exit_without_teardown()    # once the executor has written its output
    return namedtuple("EvaluateOutputs", ["blessed"])(result.blessed)
