"""The performance report draws evaluate's charts and each metric over time, in a real
browser (tests/support/browser.py)."""
import shutil

import pytest

from kfp_mlops.components.performance import core
from tests.components.performance.conftest import GOOD_LABELS, SHIFTED_LABELS
from tests.support import browser

pytestmark = pytest.mark.slow


def test_classification_curves_confusion_and_metrics_over_time(performance_registry, registry,
                                                               tmp_path):
    for name, labels in (("first", GOOD_LABELS), ("second", SHIFTED_LABELS)):
        result = core.monitor_performance(
            performance_registry["predictions"], labels, registry,
            report_dir=str(tmp_path / name / "report"),
            report_path=str(tmp_path / f"{name}.html"))
    seen = browser.look_at(str(tmp_path / "second.html"), str(tmp_path / "second.png"))
    # ROC, precision-recall, confusion matrix; the 7 classification metrics over time
    browser.assert_charts_drawn(seen, 3 + 7)
    roc, pr, confusion = seen.charts[:3]
    assert {"Adelie", "Chinstrap", "Gentoo"} <= {t.split(" (")[0] for t in roc.texts}
    assert "Confusion matrix" in confusion.texts
    cells = [int(t.replace(",", "")) for t in confusion.texts if t.replace(",", "").isdigit()]
    assert sum(cells) == result.rows == 150
    accuracy = seen.charts[3]
    assert "accuracy over the monitoring history" in accuracy.texts
    assert {"1", "2"} <= set(accuracy.texts)                 # both entries on the x axis
    assert any(t.startswith("accuracy registered") for t in accuracy.texts)


def test_regression_predicted_against_actual(mass_registry, tmp_path):
    registry = str(tmp_path / "registry")
    shutil.copytree(mass_registry["registry"], registry)
    result = core.monitor_performance(
        mass_registry["predictions"], mass_registry["labels"], registry,
        report_dir=str(tmp_path / "report"), report_path=str(tmp_path / "mass.html"),
        max_degradation={"rmse": 1e6})
    assert result.task == "regression" and result.degraded is False
    assert result.skipped_rows == 2 and result.rows == 342         # NA masses are not scored
    seen = browser.look_at(str(tmp_path / "mass.html"), str(tmp_path / "mass.png"))
    browser.assert_charts_drawn(seen, 1 + 4)                 # predictions; rmse mae r2 mse
    assert "Predicted against actual" in seen.charts[0].texts
    assert "rmse over the monitoring history" in seen.charts[1].texts
