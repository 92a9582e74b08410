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


FAILING = ("run", "data-validation", "--param", f"data_uri={PENGUINS_CSV}",
           "--param", "label_column=tips")
TIPS_ERROR = (f"Error: ingest: IngestError: label_column 'tips' not found in {PENGUINS_CSV}; "
              "columns are: species, island, bill_length_mm")


def test_failing_pipeline_exits_non_zero(tmp_path):
    """Without --local (it is the default), a failed task's one-line error, naming the input,
    ends the output; stdout is a pipe, so it carries no colour codes."""
    summary_path = tmp_path / "summary.json"
    result = run_cli(*FAILING, "--output-dir", str(tmp_path / "out"),
                     "--summary-json", str(summary_path))
    assert result.returncode == 1
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "FAILURE"
    assert summary["tasks"][0]["name"] == "ingest"
    assert summary["tasks"][0]["status"] == "FAILURE"
    assert summary["tasks"][0]["error"].startswith("IngestError: label_column 'tips' not found")
    assert "label_column 'tips' not found" in result.stdout + result.stderr
    assert "Pipeline data-validation: FAILURE" in result.stdout
    assert "Executing task" in result.stdout and "Traceback" in result.stdout
    assert result.stdout.rstrip().splitlines()[-2].startswith(TIPS_ERROR)
    assert result.stdout.rstrip().splitlines()[-1] == f"Summary written to {summary_path}"
    assert "\x1b[" not in result.stdout + result.stderr


def test_quiet_prints_only_the_summary_and_the_error(tmp_path):
    result = run_cli(*FAILING, "--quiet", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stdout.startswith("Pipeline data-validation: FAILURE in ")
    assert result.stdout.rstrip().splitlines()[-1].startswith(TIPS_ERROR)
    for noise in ("Executing task", "Traceback", "KFP Executor", "Streamed logs"):
        assert noise not in result.stdout + result.stderr
    assert " INFO " not in result.stderr


def on_a_terminal(args, env):
    """Runs kfp-mlops with stdout and stderr on a pseudo-terminal; what it wrote."""
    master, slave = os.openpty()
    script = os.path.join(os.path.dirname(sys.executable), "kfp-mlops")
    process = subprocess.Popen([script, *args], cwd=ROOT, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:          # EIO: the terminal's other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=300) == 1
    return b"".join(chunks).decode(errors="replace")


def test_colour_on_a_terminal_unless_no_color(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = on_a_terminal([*FAILING, "--output-dir", str(tmp_path / "a")], env)
    assert "\x1b[91mFAILURE\x1b[0m" in coloured       # kfp.local's own colours, kept
    plain = on_a_terminal([*FAILING, "--output-dir", str(tmp_path / "b")],
                          {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in plain and "finished with status FAILURE" in plain
    assert TIPS_ERROR in plain
