"""The performance shell through ``python_func`` with real KFP artifact objects, and what alert
and retrain make of its report (the monitoring report's format)."""
import io
import json
import os

from kfp.dsl import HTML, Artifact, Metrics

from kfp_mlops.components.alert import core as alert
from kfp_mlops.components.monitor import report as monitoring_report
from kfp_mlops.components.performance.component import performance
from kfp_mlops.components.retrain import core as retrain
from kfp_mlops.pipelines import launcher_contract
from tests.components.performance.conftest import GOOD_LABELS, SHIFTED_LABELS


def artifacts(tmp_path, prefix):
    def make(cls, name):
        return cls(name=name, uri=str(tmp_path / prefix / name), metadata={})
    return {"performance_report": make(Artifact, "performance_report"),
            "report": make(HTML, "report"), "metrics": make(Metrics, "metrics")}


def test_shell_outputs_then_alert_and_retrain_read_the_report(performance_registry, registry,
                                                              tmp_path):
    good = artifacts(tmp_path, "good")
    held = performance.python_func(predictions_uri=performance_registry["predictions"],
                                   labels_uri=GOOD_LABELS, registry_uri=registry,
                                   max_degradation={"accuracy": 0.1}, run_name="r1", **good)
    assert held.degraded is False and held.model_version == "1"
    assert good["performance_report"].metadata["monitoring_seq"] == 1
    assert good["metrics"].metadata["rows"] == 150
    for name, artifact in good.items():
        assert launcher_contract.check_metadata("performance", name, artifact.metadata) == []

    out = artifacts(tmp_path, "shifted")
    degraded = performance.python_func(predictions_uri=performance_registry["predictions"],
                                       labels_uri=SHIFTED_LABELS, registry_uri=registry,
                                       model_name="penguins", max_degradation={"accuracy": 0.1},
                                       run_name="r2", **out)
    assert degraded.degraded is True
    meta = out["performance_report"].metadata
    assert meta["degraded"] is True and meta["drift_detected"] is True
    assert meta["check"] == "performance" and meta["monitoring_seq"] == 2
    metrics = out["metrics"].metadata
    assert metrics["accuracy"] < metrics["baseline/accuracy"] - 0.1
    assert os.path.isfile(out["report"].path)

    report = monitoring_report.read_report(out["performance_report"].path)
    stream = io.StringIO()
    sent = alert.alert(report, str(tmp_path / "alert"), stream=stream)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entries[0]["severity"] == "WARNING"
    assert entries[0]["message"].startswith(
        "kfp-mlops monitoring: performance degraded for model 'penguins' version 1: 1 finding")
    assert sent.drift_detected is True
    skipped = retrain.retrain(report, str(tmp_path / "retrain"))
    assert skipped.started is False
    assert skipped.reason.startswith("performance degraded (1 findings), but retrain_on_drift")
    quiet = retrain.retrain(monitoring_report.read_report(good["performance_report"].path),
                            str(tmp_path / "retrain-good"))
    assert quiet.reason == "no performance degradation: nothing to retrain"
