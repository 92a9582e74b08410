"""The evaluate shell through ``.python_func`` with real KFP artifact objects."""
import json
import os

import pytest
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Metrics, Model

from kfp_mlops.components.evaluate.component import evaluate
from kfp_mlops.pipelines import launcher_contract

pytestmark = pytest.mark.slow


def _artifacts(tmp_path, penguins_dataset, model_dir):
    return dict(
        dataset=Dataset(name="dataset", uri=penguins_dataset, metadata={}),
        model=Model(name="model", uri=model_dir, metadata={}),
        evaluation=Metrics(name="evaluation", uri=str(tmp_path / "evaluation"), metadata={}),
        classification_metrics=ClassificationMetrics(
            name="classification_metrics", uri=str(tmp_path / "cm"), metadata={}),
        blessing=Artifact(name="blessing", uri=str(tmp_path / "blessing"), metadata={}),
        report=HTML(name="report", uri=str(tmp_path / "report.html"), metadata={}),
    )


def test_evaluate_component_without_registry(tmp_path, penguins_dataset, species_model):
    a = _artifacts(tmp_path, penguins_dataset, species_model.model_dir)
    out = evaluate.python_func(**a, thresholds={"accuracy": 0.8}, slice_columns=["island"],
                               registry_uri="", model_name="penguins")
    assert out.blessed is True

    metrics = a["evaluation"].metadata
    assert {"accuracy", "auc", "pr_auc", "precision", "recall", "f1", "log_loss",
            "count"} <= set(metrics)
    assert all(isinstance(v, float) for v in metrics.values())

    cm = a["classification_metrics"].metadata
    assert cm["confusionMatrix"]["annotationSpecs"] == [
        {"displayName": "Adelie"}, {"displayName": "Chinstrap"}, {"displayName": "Gentoo"}]
    assert sum(sum(r["row"]) for r in cm["confusionMatrix"]["rows"]) == metrics["count"]
    points = cm["confidenceMetrics"]
    assert 2 <= len(points) <= 200
    assert {"falsePositiveRate", "recall", "confidenceThreshold"} <= set(points[0])
    # the UI's one ROC curve says which class it is of (multi-class: the first)
    assert cm["roc_curve_class"] == "Adelie"
    assert cm["display_name"] == "classification_metrics (ROC of class Adelie)"

    blessing = a["blessing"]
    assert blessing.metadata["blessed"] is True
    assert any("no champion" in r for r in blessing.metadata["reasons"])
    assert json.load(open(os.path.join(blessing.path, "blessing.json")))["blessed"] is True
    assert "island" in json.load(open(os.path.join(blessing.path, "evaluation.json")))["slices"]
    assert "<table>" in open(a["report"].path).read()


def test_evaluate_component_compares_with_the_registry_champion(
        tmp_path, penguins_dataset, species_model, weak_species_model, schema_for):
    """A real local registry holds a strong champion; a weak challenger is not blessed."""
    from kfp_mlops.components._shared import registry

    statistics = tmp_path / "statistics" / "Split-train"
    statistics.mkdir(parents=True)
    (statistics / "FeatureStats.pb").write_bytes(b"")
    root = str(tmp_path / "registry")
    registry.LocalRegistry(root).register(
        "penguins", species_model.model_dir, schema_for("species"),
        str(tmp_path / "statistics"), evaluation={}, lineage={})

    a = _artifacts(tmp_path, penguins_dataset, weak_species_model.model_dir)
    out = evaluate.python_func(**a, registry_uri=root, model_name="penguins")
    assert out.blessed is False
    assert a["blessing"].metadata["champion_version"] == "1"
    assert any(r.startswith("FAILED champion comparison: accuracy")
               for r in a["blessing"].metadata["reasons"])

    b = _artifacts(tmp_path / "unknown", penguins_dataset, weak_species_model.model_dir)
    out = evaluate.python_func(**b, registry_uri=root, model_name="not-registered-yet")
    # no champion, no key: a top-level null would fail the task on Kubeflow
    assert "champion_version" not in b["blessing"].metadata
    for name in ("blessing", "evaluation", "classification_metrics"):
        assert launcher_contract.check_metadata("evaluate", name, b[name].metadata) == []
    assert any("no champion" in r for r in b["blessing"].metadata["reasons"])


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_evaluate_component_reads_a_champion_from_an_object_store(
        tmp_path, penguins_dataset, species_model, weak_species_model, schema_for, bucket_on,
        scheme):
    """The champion SavedModel of a gs:// or s3:// registry is copied locally and scored."""
    from kfp_mlops.components._shared import registry

    _, bucket = bucket_on(scheme)
    statistics = tmp_path / "statistics" / "Split-train"
    statistics.mkdir(parents=True)
    (statistics / "FeatureStats.pb").write_bytes(b"")
    root = f"{scheme}://{bucket}/registry"
    champion = registry.open_registry(root).register(
        "penguins", species_model.model_dir, schema_for("species"),
        str(tmp_path / "statistics"), evaluation={}, lineage={})

    a = _artifacts(tmp_path, penguins_dataset, weak_species_model.model_dir)
    out = evaluate.python_func(**a, registry_uri=root, model_name="penguins")
    assert out.blessed is False
    assert any(r.startswith("FAILED champion comparison: accuracy")
               for r in a["blessing"].metadata["reasons"])
    recorded = json.load(open(os.path.join(a["blessing"].path, "blessing.json")))["champion"]
    assert recorded["version"] == "1" and recorded["metrics"]["accuracy"] > 0.9
    assert recorded["model_dir"] == champion.model_dir  # the registry's URI, not a copy


def test_evaluate_component_regression_leaves_classification_metrics_empty(
        tmp_path, penguins_dataset, mass_model):
    a = _artifacts(tmp_path, penguins_dataset, mass_model.model_dir)
    out = evaluate.python_func(**a, thresholds={"rmse": 1.0})
    assert out.blessed is False
    assert a["classification_metrics"].metadata == {}
    assert {"rmse", "mae", "r2", "mse", "count"} <= set(a["evaluation"].metadata)
    assert a["blessing"].metadata["blessed"] is False


def test_max_slice_gap_through_the_component(tmp_path, penguins_dataset, weak_species_model):
    """The component refuses a model whose slices differ by more than max_slice_gap, and
    blesses it with a bound above the measured gap."""
    refused = _artifacts(tmp_path / "refused", penguins_dataset, weak_species_model.model_dir)
    out = evaluate.python_func(**refused, slice_columns=["island"],
                               max_slice_gap={"log_loss": 0.0}, min_slice_rows=1)
    assert out.blessed is False
    reasons = refused["blessing"].metadata["reasons"]
    [reason] = [r for r in reasons if "slice gap" in r]
    assert reason.startswith("FAILED slice gap: log_loss by island differs by ")
    gap = json.load(open(os.path.join(refused["blessing"].path, "blessing.json")))["checks"]
    measured = next(c["value"] for c in gap if c["kind"] == "slice_gap")
    blessed = _artifacts(tmp_path / "blessed", penguins_dataset, weak_species_model.model_dir)
    out = evaluate.python_func(**blessed, slice_columns=["island"],
                               max_slice_gap={"log_loss": measured + 0.01}, min_slice_rows=1)
    assert out.blessed is True
    assert any(r.startswith("passed slice gap: log_loss by island")
               for r in blessed["blessing"].metadata["reasons"])
