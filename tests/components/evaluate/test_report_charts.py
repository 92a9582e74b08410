"""Evaluate's report draws its curves, confusion matrix and slices, in a real browser."""
import pytest

from kfp_mlops.components.evaluate import core
from tests.support import browser

pytestmark = pytest.mark.slow


def _report(tmp_path, penguins_dataset, model_dir, name):
    path = str(tmp_path / f"{name}.html")
    result = core.evaluate(penguins_dataset, model_dir, report_path=path,
                           slice_columns=["island"])
    return result, browser.look_at(path, str(tmp_path / f"{name}.png"))


def test_multi_class_curves_are_one_per_class_and_labelled(tmp_path, penguins_dataset,
                                                           species_model):
    result, seen = _report(tmp_path, penguins_dataset, species_model.model_dir, "species")
    # ROC, precision-recall, calibration, confusion matrix; accuracy by island
    browser.assert_charts_drawn(seen, 5)
    roc, pr, calibration, confusion, island = seen.charts
    for chart in (roc, pr, calibration):
        assert {"Adelie", "Chinstrap", "Gentoo"} <= {t.split(" (")[0] for t in chart.texts}
    assert any(t.startswith("Adelie (AUC ") for t in roc.texts)
    assert "ROC curves, one class against the rest" in roc.texts
    assert "Confusion matrix" in confusion.texts and "predicted" in confusion.texts
    # every test row is counted once in the heatmap's cells
    cells = [int(t.replace(",", "")) for t in confusion.texts if t.replace(",", "").isdigit()]
    assert sum(cells) == result.evaluation.rows
    assert "accuracy by island" in island.texts
    assert {"Biscoe", "Dream", "Torgersen"} <= {t.split(" (n=")[0] for t in island.texts}
    with open(seen.screenshot.replace(".png", ".html"), encoding="utf-8") as f:
        page = f.read()
    assert "is of class <code>Adelie</code> against the rest" in page


def test_binary_curves_are_of_the_positive_class(tmp_path, penguins_dataset, sex_model):
    result, seen = _report(tmp_path, penguins_dataset, sex_model.model_dir, "sex")
    browser.assert_charts_drawn(seen, 5)
    roc = seen.charts[0]
    assert result.evaluation.roc_curve["class"] == "male"
    assert "ROC curve of class male" in roc.texts
    assert [t for t in roc.texts if "(AUC " in t] == [
        f"male (AUC {result.metrics['auc']:.3f})"]


def test_regression_draws_predictions_and_slices(tmp_path, penguins_dataset, mass_model):
    result, seen = _report(tmp_path, penguins_dataset, mass_model.model_dir, "mass")
    browser.assert_charts_drawn(seen, 2)
    predictions, island = seen.charts
    assert "Predicted against actual" in predictions.texts
    assert "rmse by island" in island.texts
    assert result.evaluation.roc_curve is None
