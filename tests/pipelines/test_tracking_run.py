"""Two real training runs with kfp.local into one output folder -- one blessed and pushed, one
that is not -- recorded by track in the folder's MLflow store; then ``kfp-mlops runs`` shows
them side by side, and the MLflow UI, served on 127.0.0.1 and rendered in headless Chromium,
shows both runs and their metrics."""
import json
import re

import pytest

from kfp_mlops.components.track import core
from tests.conftest import PENGUINS_CSV
from tests.pipelines.test_local_run import run_cli
from tests.support import browser, mlflow_server

pytestmark = pytest.mark.slow

BASE = ["--param", f"data_uri={PENGUINS_CSV}", "--param", "label_column=species",
        "--param", "model_name=penguins", "--param", 'slice_columns=["island"]']
WEAK = ["--param", "epochs=1", "--param", "learning_rate=0.00001", "--param", "hidden_units=[2]"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("tracking_run")
    out = tmp_path / "outputs"
    runs = []
    for name, extra in (("good", []), ("weak", WEAK)):
        summary_path = tmp_path / f"{name}.json"
        result = run_cli("run", "training", *BASE, "--param",
                         f"registry_uri={tmp_path / 'registry'}", *extra, "--output-dir",
                         str(out), "--summary-json", str(summary_path))
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        summary = json.loads(summary_path.read_text())
        runs.append((summary, {t["name"]: t for t in summary["tasks"]}, result.stdout))
    return out, runs


def test_every_run_is_recorded_with_its_decision(two_runs):
    out, runs = two_runs
    (good, good_tasks, good_stdout), (weak, weak_tasks, _) = runs
    uri = f"sqlite:///{out}/mlflow.db"
    # kfp-mlops run gave track the output folder's store
    assert good["parameters"]["tracking_uri"] == uri
    for summary, tasks in ((good, good_tasks), (weak, weak_tasks)):
        assert list(tasks)[-1] == "track" and tasks["track"]["status"] == "SUCCESS"
    assert weak_tasks["push"]["outputs"]["pushed"] is False
    # the KFP Metrics artifact holds evaluate's overall metrics (per slice: the store, below)
    metrics = good_tasks["track"]["outputs"]["metrics"]["metadata"]
    assert metrics["accuracy"] == good_tasks["evaluate"]["outputs"]["evaluation"]["metadata"][
        "accuracy"]
    assert metrics and not [k for k in metrics if "/" in k]
    # track adds no decision of its own to the summary's
    assert "track:" not in good_stdout.split("Decisions:")[-1]

    recorded = core.read_runs(uri)
    assert [r["run_name"] for r in recorded] == [
        t["track"]["outputs"]["tracking"]["metadata"]["run_name"] for _, t, _ in runs]
    first, second = recorded
    assert (first["experiment"], second["experiment"]) == ("penguins", "penguins")
    assert (first["params"]["epochs"], second["params"]["epochs"]) == ("30", "1")
    assert (first["tags"]["blessed"], second["tags"]["blessed"]) == ("true", "false")
    assert (first["tags"]["registered_version"], second["tags"]["registered_version"]) == \
        ("1", "")
    assert "FAILED champion comparison" in second["tags"]["reasons"]
    dataset = good_tasks["ingest"]["outputs"]["dataset"]["metadata"]
    assert first["tags"]["data_content_hash"] == dataset["content_hash"]
    assert first["tags"]["schema_uri"] == good_tasks["validate"]["outputs"]["schema"]["uri"]
    assert first["metrics"]["accuracy"] == pytest.approx(metrics["accuracy"])
    assert any(k.startswith("slice/island/") for k in first["metrics"])


def test_runs_shows_the_runs_side_by_side(two_runs):
    out, _ = two_runs
    result = run_cli("runs", "--output-dir", str(out), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()
            if line.startswith("  ") and len(line.split()) == 3}
    # the parameters that differ, and only those
    assert rows["epochs"] == ["30", "1"]
    assert rows["learning_rate"] == ["0.005", "1e-05"]
    assert rows["hidden_units"] == ["[64,32]", "[2]"]
    assert "batch_size" not in text and "data_source" not in text
    assert rows["blessed"] == ["yes", "no"] and rows["pushed"] == ["yes", "no"]
    assert rows["version"] == ["1", "-"]
    recorded = core.read_runs(f"sqlite:///{out}/mlflow.db")
    assert rows["accuracy"] == [f"{r['metrics']['accuracy']:.4g}" for r in recorded]
    assert "slice/island/" not in text and "per class and per slice: --all-metrics" in text
    for i, run in enumerate(recorded):
        assert f"#{i + 1} {run['run_name']}:" in text     # whole names above the reasons
    assert "FAILED champion comparison" in text.split(f"#2 {recorded[1]['run_name']}:")[1]

    every = run_cli("runs", "--output-dir", str(out), "--all-metrics", timeout=300).stdout
    assert re.search(r"^  slice/island/Biscoe/accuracy\s", every, re.M), every

    as_json = json.loads(run_cli("runs", "--output-dir", str(out), "--experiment", "penguins",
                                 "--json", timeout=300).stdout)
    assert [r["params"]["epochs"] for r in as_json] == ["30", "1"]


def test_runs_names_a_folder_without_runs(tmp_path):
    result = run_cli("runs", "--output-dir", str(tmp_path), timeout=300)
    assert result.returncode == 2
    assert "holds no mlflow.db: no run was recorded there" in result.stderr


def test_the_mlflow_ui_shows_both_runs_and_their_metrics(two_runs, tmp_path):
    out, _ = two_runs
    uri = f"sqlite:///{out}/mlflow.db"
    recorded = core.read_runs(uri)
    ids = json.dumps([r["run_id"] for r in recorded], separators=(",", ":"))
    with mlflow_server.serving(uri, str(tmp_path / "server.log")) as url:
        experiment = recorded[0]["experiment_id"]
        page = browser.rendered_page(
            f'{url}/#/compare-runs?runs={ids}&experiments=["{experiment}"]')
        table = browser.rendered_page(f"{url}/#/experiments/{experiment}/runs")
    assert f"Comparing {len(recorded)} Runs" in page, page[:3000]
    for run in recorded:
        assert run["run_name"] in page and run["run_name"] in table
    # each run's accuracy next to the other's: in the parallel-coordinates plot (5 decimals)
    # and in the metrics table (rounded to 3 decimals), accuracy its first row
    first, second = (r["metrics"]["accuracy"] for r in recorded)
    assert f"accuracy {first:.5f} {second:.5f}" in page, page
    shown = f"{round(first, 3):g} {round(second, 3):g}"
    assert re.search(r"Metrics Show diff only accuracy auc [\w/. ]*? " + re.escape(shown) + " ",
                     page), page
    assert "epochs 30 1" in page and "blessed true false" in page
    assert "registered_version 1" in page and "report.html" in page
