"""Pipelines run end to end with kfp.local on real data, through the kfp-mlops command."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PENGUINS_CSV, ROOT

pytestmark = pytest.mark.slow


def run_cli(*args, timeout=900):
    script = os.path.join(os.path.dirname(sys.executable), "kfp-mlops")
    return subprocess.run([script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_data_validation_pipeline_on_penguins(tmp_path):
    summary_path = tmp_path / "summary.json"
    result = run_cli("run", "data-validation", "--local", "--param", f"data_uri={PENGUINS_CSV}",
                     "--param", "label_column=species", "--output-dir", str(tmp_path / "out"),
                     "--summary-json", str(summary_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "SUCCESS"
    assert [t["name"] for t in summary["tasks"]] == ["ingest", "validate"]
    assert all(t["status"] == "SUCCESS" and t["seconds"] > 0 for t in summary["tasks"])

    tasks = {t["name"]: t for t in summary["tasks"]}
    dataset = tasks["ingest"]["outputs"]["dataset"]
    assert dataset["metadata"]["num_rows"] == 344
    assert os.path.exists(os.path.join(dataset["uri"], "train", "data.parquet"))
    outputs = tasks["validate"]["outputs"]
    for name in ("statistics", "schema", "anomalies", "report"):
        assert os.path.exists(outputs[name]["uri"]), name
    assert outputs["metrics"]["metadata"]["anomaly_count"] == 0  # Metrics live in metadata
    assert outputs["passed"] is True

    import tensorflow_data_validation as tfdv
    schema = tfdv.load_schema_text(os.path.join(outputs["schema"]["uri"], "schema.pbtxt"))
    assert {f.name for f in schema.feature} == {
        "species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
        "body_mass_g", "sex", "year"}
    stats = tfdv.load_stats_binary(
        os.path.join(outputs["statistics"]["uri"], "Split-train", "FeatureStats.pb"))
    assert stats.datasets[0].num_examples == dataset["metadata"]["splits"]["train"]

    # the printed summary says where things landed and the key metrics
    assert "Pipeline data-validation: SUCCESS" in result.stdout
    assert outputs["statistics"]["uri"] in result.stdout
    assert "anomaly_count = 0" in result.stdout
    from tests.pipelines.test_launcher_contract import assert_run_passes_the_contract
    assert_run_passes_the_contract("data-validation", tmp_path / "out", ["ingest", "validate"])


def test_failing_pipeline_exits_non_zero(tmp_path):
    summary_path = tmp_path / "summary.json"
    result = run_cli("run", "data-validation", "--local", "--param", f"data_uri={PENGUINS_CSV}",
                     "--param", "label_column=tips", "--output-dir", str(tmp_path / "out"),
                     "--summary-json", str(summary_path))
    assert result.returncode == 1
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "FAILURE"
    assert summary["tasks"][0]["name"] == "ingest"
    assert summary["tasks"][0]["status"] == "FAILURE"
    assert "label_column 'tips' not found" in result.stdout + result.stderr
    assert "Pipeline data-validation: FAILURE" in result.stdout
