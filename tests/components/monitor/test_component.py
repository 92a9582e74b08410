"""The monitor shell through ``python_func`` with real KFP artifact objects."""
import json
import os

import pytest
from kfp.dsl import HTML, Artifact, Dataset, Metrics

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.monitor.component import monitor
from kfp_mlops.pipelines import launcher_contract
from tests.components.monitor.conftest import DRIFTED_CSV, SERVING_CSV


def artifacts(tmp_path, prefix):
    def make(cls, name):
        return cls(name=name, uri=str(tmp_path / prefix / name), metadata={})
    return {"statistics": make(Artifact, "statistics"),
            "drift_report": make(Artifact, "drift_report"),
            "report": make(HTML, "report"), "metrics": make(Metrics, "metrics")}


def test_shell_outputs_and_decision(registry, batch, tmp_path):
    serving = Dataset(name="d", uri=batch(SERVING_CSV, "serving"), metadata={})
    drifted = Dataset(name="d", uri=batch(DRIFTED_CSV, "drifted"), metadata={})
    first_out = artifacts(tmp_path, "a")
    first = monitor.python_func(dataset=serving, registry_uri=registry, model_name="penguins",
                                run_name="r1", **first_out)
    assert first.drift_detected is False and first.model_version == "1"
    # a first batch has nothing to compare drift with: the key is absent, not null
    assert "drift_compared_with" not in first_out["drift_report"].metadata
    assert first_out["drift_report"].metadata["monitoring_seq"] == 1
    for name, artifact in first_out.items():
        assert launcher_contract.check_metadata("monitor", name, artifact.metadata) == []

    out = artifacts(tmp_path, "b")
    second = monitor.python_func(dataset=drifted, registry_uri=registry, model_name="penguins",
                                 model_version="1", run_name="r2", **out)
    assert second.drift_detected is True
    meta = out["drift_report"].metadata
    assert meta["drift_detected"] is True and meta["model_version"] == "1"
    assert meta["drift_compared_with"] == 1 and meta["monitoring_seq"] == 2
    assert any("island" in r for r in meta["reasons"])
    metrics = out["metrics"].metadata
    assert metrics["skew/island"] > 0.3 and metrics["drift/island"] > 0.3
    assert metrics["skew/year"] < 0.3 and "skew/species" not in metrics   # label absent
    # the three changed features, and the bills the island mix moved (the tests decide at
    # 150 rows; see test_core.test_drifted_batch_and_history)
    assert metrics["drifted_feature_count"] == 5
    drifted = {f["feature"] for f in json.load(open(os.path.join(
        out["drift_report"].path, "report.json")))["findings"] if f["kind"] == "drift"}
    assert drifted == {"island", "body_mass_g", "flipper_length_mm", "bill_length_mm",
                       "bill_depth_mm"}
    report = json.load(open(os.path.join(out["drift_report"].path, "report.json")))
    assert report["drift_detected"] is True
    assert os.path.isfile(os.path.join(out["statistics"].path, "Split-serving",
                                       "FeatureStats.pb"))
    assert "DRIFT DETECTED" in open(out["report"].path).read()
    assert len(reg.monitoring_history(registry, "penguins", "champion")) == 2


def test_shell_unknown_model_writes_nothing(registry, batch, tmp_path):
    serving = Dataset(name="d", uri=batch(SERVING_CSV), metadata={})
    out = artifacts(tmp_path, "c")
    with pytest.raises(ValueError, match="model_name 'gulls' is not in the registry"):
        monitor.python_func(dataset=serving, registry_uri=registry, model_name="gulls", **out)
    assert not (tmp_path / "c").exists()
    assert reg.monitoring_history(registry, "penguins", 1) == []
