"""The monitoring pipeline end to end with kfp.local, after a real training run.

The training pipeline trains ``penguins`` into a temporary registry once (module fixture);
the monitoring pipeline then runs on the undrifted and the drifted demo batches (the second
also retrains locally: a new version appears), and on a model the registry does not hold.
"""
import json
import os

import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.pipelines import local
from tests.conftest import PENGUINS_CSV, ROOT
from tests.pipelines.test_launcher_contract import assert_run_passes_the_contract

pytestmark = pytest.mark.slow

SERVING_CSV = str(ROOT / "pipelines" / "data" / "penguins_serving.csv")
DRIFTED_CSV = str(ROOT / "pipelines" / "data" / "penguins_drifted.csv")
TRAINING = {"epochs": 5, "hidden_units": [16]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("monitoring_run")
    registry = str(root / "registry")
    summary = local.run("training", {"data_uri": PENGUINS_CSV, "label_column": "species",
                                     "model_name": "penguins", "registry_uri": registry,
                                     **TRAINING}, str(root / "training"))
    assert summary.status == "SUCCESS", local.format_summary(summary)
    assert reg.open_registry(registry).resolve("penguins").version == 1
    return {"root": root, "registry": registry}


def monitoring(trained, name, **params):
    args = {"model_name": "penguins", "registry_uri": trained["registry"]}
    args.update(params)
    return local.run("monitoring", args, str(trained["root"] / name))


def outputs(summary, task):
    return {t.name: t for t in summary.tasks}[task].outputs


def test_undrifted_then_drifted_with_local_retraining(trained):
    first = monitoring(trained, "first", data_uri=SERVING_CSV)
    assert first.status == "SUCCESS", local.format_summary(first)
    assert [t.name for t in first.tasks] == ["ingest", "monitor", "alert", "retrain"]
    assert outputs(first, "monitor")["drift_detected"] is False
    assert outputs(first, "ingest")["dataset"]["metadata"]["splits"]["train"] == 150
    assert outputs(first, "retrain")["started"] is False
    # a first monitored batch has no earlier one to measure drift against: key absent
    assert "drift_compared_with" not in outputs(first, "monitor")["drift_report"]["metadata"]
    assert_run_passes_the_contract("monitoring", trained["root"] / "first",
                                   [t.name for t in first.tasks])

    second = monitoring(
        trained, "second", data_uri=DRIFTED_CSV, retrain_on_drift=True,
        retrain_data_uri=PENGUINS_CSV, label_column="species",
        training_parameters={"epochs": 3, "hidden_units": [8],
                             "max_regression": {"accuracy": 1.0}})
    assert second.status == "SUCCESS", local.format_summary(second)
    monitored = outputs(second, "monitor")
    assert monitored["drift_detected"] is True and monitored["model_version"] == "1"
    report_dir = monitored["drift_report"]["uri"]
    report = json.load(open(os.path.join(report_dir, "report.json")))
    flagged = {(f["kind"], f["feature"]) for f in report["findings"]}
    assert {("skew", "island"), ("drift", "island"), ("skew", "body_mass_g")} <= flagged
    assert len(report["skew"]["features"]) == 8            # every feature, label included
    assert report["drift"]["baseline"]["seq"] == 1
    metrics = monitored["metrics"]["metadata"]
    assert metrics["skew/island"] > 0.3 and metrics["skew/year"] < 0.3

    # the history of version 1: two batches, the second's drift measured against the first
    history = reg.monitoring_history(trained["registry"], "penguins", 1)
    assert [h["seq"] for h in history] == [1, 2]
    assert [h["drift_detected"] for h in history] == [False, True]
    assert history[1]["drift_compared_with"] == 1 and history[1]["drift"]["island"] > 0.3

    alerted = outputs(second, "alert")["alert"]["metadata"]
    assert alerted["drift_detected"] is True and alerted["delivered"] is True

    retrained = outputs(second, "retrain")
    meta = retrained["retraining"]["metadata"]
    assert retrained["started"] is True and meta["status"] == "SUCCESS", meta
    assert meta["pushed"] is True and meta["new_version"] == "2"
    assert os.path.isfile(meta["summary_path"])
    assert reg.open_registry(trained["registry"]).resolve("penguins").version == 2
    assert meta["parameters"]["data_uri"] == PENGUINS_CSV
    assert monitored["drift_report"]["metadata"]["drift_compared_with"] == 1
    assert_run_passes_the_contract("monitoring", trained["root"] / "second",
                                   [t.name for t in second.tasks])


def test_unknown_model_fails_and_writes_nothing(trained):
    before = reg.monitoring_history(trained["registry"], "penguins", 1)
    summary = monitoring(trained, "bad", data_uri=SERVING_CSV, model_name="pelicans")
    assert summary.status == "FAILURE"
    assert {t.name: t.status for t in summary.tasks}["monitor"] == "FAILURE"
    assert "retrain" not in [t.name for t in summary.tasks]
    assert reg.monitoring_history(trained["registry"], "penguins", 1) == before
    assert not os.path.isdir(os.path.join(trained["registry"], "pelicans"))


def kfp_mlops(*args, env=None):
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(sys.executable), "kfp-mlops")
    return subprocess.run([script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env=env)


def text_files(folder):
    """Every file below ``folder`` that reads as text, ``{path: text}``."""
    found = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            try:
                with open(path, encoding="utf-8") as f:
                    found[path] = f.read()
            except UnicodeDecodeError:
                continue
    return found


def monitoring_cli(trained, out, summary_path, *params, env=None):
    args = ["run", "monitoring", "--local", "--output-dir", str(out),
            "--summary-json", str(summary_path),
            "--param", f"data_uri={DRIFTED_CSV}", "--param", "model_name=penguins",
            "--param", f"registry_uri={trained['registry']}",
            "--param", "retrain_on_drift=true", "--param", f"retrain_data_uri={PENGUINS_CSV}",
            "--param", "label_column=species",
            "--param", 'training_parameters={"epochs": 2, "hidden_units": [8], '
                       '"max_regression": {"accuracy": 1.0}}']
    for param in params:
        args += ["--param", param]
    return kfp_mlops(*args, env=env)


def test_failed_delivery_never_stops_retraining_and_no_secret_is_recorded(trained, tmp_path):
    from tests.pipelines.test_secrets import assert_no_secret, secret_url
    from tests.support.webhook import failing_server

    out, summary_path = trained["root"] / "undelivered", tmp_path / "summary.json"
    versions = reg.open_registry(trained["registry"]).resolve("penguins", "latest").version
    with failing_server(500) as (port, received):
        result = monitoring_cli(trained, out, summary_path, f"webhook_url={secret_url(port)}",
                                "fail_on_delivery_error=true")
    printed = result.stdout + result.stderr
    assert result.returncode == 1, printed[-4000:]
    # the URL was really used: three tries, each with its path and query token
    assert len(received) == 3 and received[0].startswith("/services/T000/B000/XXXXsecretpath")
    summary = json.loads(summary_path.read_text())
    tasks = {t["name"]: t for t in summary["tasks"]}
    assert summary["status"] == "FAILURE"
    assert list(tasks) == ["ingest", "monitor", "alert", "retrain"]
    assert tasks["monitor"]["outputs"]["drift_detected"] is True
    assert tasks["alert"]["status"] == "FAILURE"               # fail_on_delivery_error
    assert tasks["retrain"]["status"] == "SUCCESS"             # ... and retraining ran
    assert tasks["retrain"]["outputs"]["started"] is True
    assert reg.open_registry(trained["registry"]).resolve("penguins", "latest").version \
        == versions + 1
    assert "Pipeline monitoring: FAILURE" in result.stdout
    decisions = result.stdout.split("Decisions:")[-1].splitlines()
    assert any(line.startswith("  retrain:") and "started=yes" in line for line in decisions)
    alert_json = [p for p in text_files(out) if p.endswith("alert.json")]
    saved = json.loads(open(alert_json[0]).read())
    assert saved["delivered"] is False and saved["deliveries"][0]["attempts"] == 3
    assert saved["deliveries"][0]["target"] == f"http://127.0.0.1:{port}/…"
    assert summary["parameters"]["webhook_url"] == f"http://127.0.0.1:{port}/…"
    assert_no_secret("stdout", result.stdout)
    assert_no_secret("stderr", result.stderr)
    assert_no_secret("the summary", summary_path.read_text())
    for path, text in text_files(out).items():
        assert_no_secret(path, text)


def test_refused_url_is_recorded_and_retraining_starts(trained, tmp_path):
    # A URL that cannot be sent is refused before any task runs, without showing its path.
    out, summary_path = trained["root"] / "refused", tmp_path / "summary.json"
    result = monitoring_cli(trained, out, summary_path,
                            "webhook_url=https://hooks.example/services/T1/B2 SECRETPART")
    printed = result.stdout + result.stderr
    assert result.returncode == 2, printed[-4000:]
    assert "webhook_url 'https://hooks.example/…' holds [' ']" in result.stderr
    assert not out.exists() and not summary_path.exists() and "SECRETPART" not in printed

    # One the task itself refuses (its variable is not set where the task runs) is a failed
    # delivery that is recorded, and the retraining drift called for starts anyway.
    env = {k: v for k, v in os.environ.items() if k != "KFP_MLOPS_TEST_NO_SUCH_WEBHOOK"}
    result = monitoring_cli(trained, out, summary_path,
                            "webhook_url_env=KFP_MLOPS_TEST_NO_SUCH_WEBHOOK", env=env)
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-4000:]
    summary = json.loads(summary_path.read_text())
    tasks = {t["name"]: t for t in summary["tasks"]}
    alerted = tasks["alert"]["outputs"]["alert"]["metadata"]
    assert tasks["alert"]["status"] == "SUCCESS" and alerted["delivered"] is False
    assert "the environment variable is not set" in alerted["delivery_errors"][0]
    assert tasks["retrain"]["outputs"]["started"] is True
    assert summary["warnings"] and "delivery failed (webhook)" in summary["warnings"][0]
    assert "Warning: alert: delivery failed (webhook)" in result.stdout
    assert "alert: drift_detected=yes" in result.stdout and "delivered=no" in result.stdout
