"""performance.core on the species model trained once per session, its real registered
evaluation, and predictions of the bundled serving batch scored with it."""
import csv
import json
import os

import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.monitor import report as monitoring_report
from kfp_mlops.components.performance import core
from tests.components.performance.conftest import GOOD_LABELS, SHIFTED_LABELS, labels_file


def run(performance_registry, registry, outputs, labels, prefix="out", **kwargs):
    return core.monitor_performance(performance_registry["predictions"], labels, registry,
                                    **outputs(prefix), **kwargs)


def test_good_labels_hold_the_registered_accuracy(performance_registry, registry, outputs):
    result = run(performance_registry, registry, outputs, GOOD_LABELS,
                 max_degradation={"accuracy": 0.05})
    assert result.degraded is False and result.findings == []
    assert result.rows == 150 and result.unmatched_predictions == 0
    registered = performance_registry["evaluation"]["metrics"]["accuracy"]
    assert result.baseline["accuracy"] == registered
    assert result.metrics["accuracy"] >= registered - 0.05
    assert [c.metric for c in result.checks] == ["accuracy"]
    assert "held" in result.checks[0].reason
    # the same report format as drift, read by the same reader
    report = monitoring_report.read_report(outputs()["report_dir"])
    assert report["check"] == "performance" and report["drift_detected"] is False
    assert report["performance"]["metrics"]["accuracy"] == result.metrics["accuracy"]
    assert monitoring_report.headline(report) == "no performance degradation"
    history = reg.monitoring_history(registry, "penguins", 1)
    assert [h["kind"] for h in history] == ["performance"]
    assert history[0]["metrics"]["accuracy"] == result.metrics["accuracy"]


def test_the_metrics_are_evaluates_on_the_same_rows(performance_registry, registry, outputs,
                                                    tmp_path, penguins_csv):
    """Scored against penguins' own labels, the joined rows give evaluate's numbers."""
    import numpy as np

    from kfp_mlops.components._shared import metrics
    from kfp_mlops.components.predict import predictions as preds

    result = run(performance_registry, registry, outputs, GOOD_LABELS)
    frame = preds.read_pandas(performance_registry["predictions"])
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    truth = [r["species"] for r in csv.DictReader(open(GOOD_LABELS))]
    y = np.asarray([classes.index(t) for t in truth])
    p = frame[[preds.probability_column(c) for c in classes]].to_numpy()
    expected, _ = metrics.classification_metrics(y, p, classes)
    assert result.metrics == expected


def test_shifted_labels_degrade_and_say_why(performance_registry, registry, outputs):
    result = run(performance_registry, registry, outputs, SHIFTED_LABELS,
                 max_degradation={"accuracy": 0.05, "log_loss": 0.5})
    assert result.degraded is True
    degraded = {f.metric for f in result.findings}
    assert "accuracy" in degraded
    finding = [f for f in result.findings if f.metric == "accuracy"][0]
    assert finding.kind == "performance" and finding.value < finding.threshold
    assert "DEGRADED" in finding.message and "registered evaluation of version 1" in \
        finding.message
    report = monitoring_report.read_report(outputs()["report_dir"])
    assert report["drift_detected"] is True and report["degraded"] is True
    assert monitoring_report.headline(report) == "performance degraded"
    assert report["reasons"] == result.reasons


def test_default_limit_is_evaluates(performance_registry, registry, outputs):
    result = run(performance_registry, registry, outputs, SHIFTED_LABELS)
    assert result.max_degradation == {"accuracy": 0.0}


def test_the_history_is_drawn_over_time(performance_registry, registry, outputs):
    run(performance_registry, registry, outputs, GOOD_LABELS, prefix="a")
    second = run(performance_registry, registry, outputs, SHIFTED_LABELS, prefix="b")
    assert second.monitoring_seq == 2
    html = open(outputs("b")["report_path"]).read()
    assert "Metrics over time" in html and "accuracy over the monitoring history" in html
    assert "PERFORMANCE DEGRADED" in html and "<svg" in html


def test_unknown_classes_are_not_scored_and_are_a_finding(performance_registry, registry,
                                                          outputs, tmp_path):
    rows = list(csv.reader(open(GOOD_LABELS)))[1:]
    rows[:5] = [[r[0], "Emperor"] for r in rows[:5]]
    result = run(performance_registry, registry, outputs, labels_file(tmp_path, rows),
                 max_degradation={"accuracy": 1.0})
    assert result.unknown_labels == {"Emperor": 5} and result.skipped_rows == 5
    assert result.rows == 145 and result.degraded is True
    assert "class(es) the model does not know: 'Emperor' (5)" in result.reasons[0]


@pytest.mark.parametrize("case, rows, header, match", [
    ("no key", [[0, "Adelie"]], "row,species", r"no column\(s\) \['input_row'\]"),
    ("no label", [[0, "Adelie"]], "input_row,label", r"no column\(s\) \['species'\]"),
    ("duplicates", [[0, "Adelie"], [0, "Gentoo"]] + [[i, "Adelie"] for i in range(1, 40)],
     "input_row,species", r"1 duplicate key\(s\): '0' \(2 rows\)"),
    ("no overlap", [[1000 + i, "Adelie"] for i in range(40)], "input_row,species",
     "no key of labels"),
    ("few rows", [[i, "Adelie"] for i in range(10)], "input_row,species",
     r"only 10 joined row\(s\).*at least 30 needed \(min_rows\)"),
])
def test_bad_labels_fail_before_anything_is_written(performance_registry, registry, outputs,
                                                    tmp_path, case, rows, header, match):
    labels = labels_file(tmp_path, rows, header=header)
    with pytest.raises(core.PerformanceError, match=match):
        run(performance_registry, registry, outputs, labels)
    assert not os.path.exists(outputs()["report_dir"])
    assert not os.path.exists(outputs()["report_path"])
    assert reg.monitoring_history(registry, "penguins", 1) == []


@pytest.mark.parametrize("settings, match", [
    ({"max_degradation": {"rmse": 1.0}}, r"\['rmse'\] that a classification evaluation"),
    ({"max_degradation": {"accuracy": -0.1}}, r"max_degradation\['accuracy'\]"),
    ({"min_rows": 0}, "min_rows"),
])
def test_bad_settings_fail(performance_registry, registry, outputs, settings, match):
    with pytest.raises(core.PerformanceError, match=match):
        run(performance_registry, registry, outputs, GOOD_LABELS, **settings)
    assert not os.path.exists(outputs()["report_dir"])


def test_a_version_without_evaluation_or_another_model_is_refused(
        performance_registry, outputs, tmp_path):
    meta_path = os.path.join(performance_registry["predictions"], "predictions.json")
    copy = tmp_path / "predictions"
    import shutil

    shutil.copytree(performance_registry["predictions"], copy)
    meta = json.load(open(meta_path))
    meta["model_hash"] = "0" * 64
    json.dump(meta, open(copy / "predictions.json", "w"))
    registry = str(tmp_path / "registry")
    shutil.copytree(performance_registry["registry"], registry)
    with pytest.raises(core.PerformanceError, match="scored by a model with hash 0000"):
        core.monitor_performance(str(copy), GOOD_LABELS, registry, **outputs())
    meta["model_version"] = "7"
    json.dump(meta, open(copy / "predictions.json", "w"))
    with pytest.raises(core.PerformanceError, match="version '7' of model 'penguins'"):
        core.monitor_performance(str(copy), GOOD_LABELS, registry, **outputs())
