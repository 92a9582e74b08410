"""The kfp-mlops command's rough edges (issue 13): "did you mean", --quiet / --verbose, no
colour codes off a terminal, the summary's decisions in words, and a missing runtime extra
named before any task starts. Real runs are in test_local_run (the failed task's error)."""
import io
import json
import os
import subprocess
import sys

import pytest

from kfp_mlops.pipelines import cli, local
from tests.conftest import ROOT

SCRIPT = os.path.join(os.path.dirname(sys.executable), "kfp-mlops")


# ----------------------------------------------------------------------------- did you mean

def test_a_mistyped_pipeline_name_gets_a_suggestion(capsys):
    assert cli.main(["run", "trainig", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown pipeline 'trainig' (did you mean 'training'?); pipelines are: " \
           "batch-prediction, data-validation, monitoring, performance-monitoring, training" in err
    assert cli.main(["compile", "--pipeline", "monitorng"]) == 2
    assert "did you mean 'monitoring'?" in capsys.readouterr().err


def test_a_name_close_to_nothing_gets_no_suggestion(capsys):
    assert cli.main(["run", "zzz", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown pipeline 'zzz'; pipelines are:" in err and "did you mean" not in err


def test_a_mistyped_parameter_gets_a_suggestion(capsys):
    assert cli.main(["run", "data-validation", "--param", "data_uri=x.csv",
                     "--param", "labl_column=species"]) == 2
    err = capsys.readouterr().err
    assert "pipeline 'data-validation' has no parameter 'labl_column' (did you mean " \
           "'label_column'?); its parameters are: " in err


def test_a_mistyped_sub_command_gets_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["rn", "training"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument COMMAND: invalid choice: 'rn' (did you mean 'run'?); choose from " in err
    with pytest.raises(SystemExit):
        cli.main(["run", "training", "--runner", "dokcer"])
    assert "invalid choice: 'dokcer' (did you mean 'docker'?)" in capsys.readouterr().err


def test_an_unknown_sub_command_without_a_close_one_keeps_argparse_s_message(capsys):
    with pytest.raises(SystemExit):
        cli.main(["frobnicate"])
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate' (choose from" in err and "did you mean" not in err


# ----------------------------------------------------------------------- quiet and verbose

def run_script(*args, env=None, timeout=300):
    return subprocess.run([SCRIPT, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_verbose_shows_debug_logs_and_quiet_hides_info():
    dry = ["run", "data-validation", "--dry-run", "--param",
           "data_uri=pipelines/data/penguins.csv"]
    verbose = run_script(*dry, "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert " DEBUG kfp-mlops " in verbose.stderr and "Python 3." in verbose.stderr
    normal = run_script(*dry)
    assert " DEBUG " not in normal.stderr
    before = run_script("--verbose", "list")       # before the sub-command too
    assert before.returncode == 0 and " DEBUG " in before.stderr
    quiet = run_script("--quiet", "list")
    assert quiet.returncode == 0 and quiet.stderr == "" and "data-validation" in quiet.stdout


def test_quiet_and_verbose_together_are_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--quiet", "run", "training", "--verbose"])
    assert "--quiet and --verbose: give one" in capsys.readouterr().err


# ------------------------------------------------------------------------------- colour

def test_colour_codes_are_taken_out_off_a_terminal_or_with_no_color():
    red = "\x1b[91mFAILURE\x1b[0m and \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"
    assert cli.strip_ansi(red) == "FAILURE and link"
    assert cli.wants_plain(io.StringIO(), {}) is True
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        assert cli.wants_plain(terminal, {}) is False
        assert cli.wants_plain(terminal, {"NO_COLOR": "1"}) is True
        assert cli.wants_plain(terminal, {"NO_COLOR": ""}) is False   # no-color.org
    os.close(master)
    out = io.StringIO()
    plain = cli._Plain(out)
    print(red, file=plain)
    assert out.getvalue() == "FAILURE and link\n"


# ------------------------------------------------------------------- decisions in words

def summary_of(*tasks):
    return local.format_summary(local.RunSummary("monitoring", "SUCCESS", "/r", "now", 1.0, {},
                                                 list(tasks)))


def task(name, output, metadata, **outputs):
    return local.TaskRecord(name, "SUCCESS", 1.0, {
        output: {"type": "Artifact", "uri": f"/{name}", "metadata": metadata}, **outputs})


def test_the_alert_line_says_nothing_was_delivered_and_why():
    """An alert with no channel has delivered=True (vacuously, no delivery failed): the
    summary says what happened instead, with the component's reason."""
    from kfp_mlops.components.alert.core import AlertResult

    meta = AlertResult(True, False, "no webhook_url or pubsub_topic: findings are only logged",
                       1, [], {}).metadata()
    assert meta["delivered"] is True
    text = summary_of(task("alert", "alert", meta))
    assert text.endswith("Decisions:\n  alert: drift_detected=yes, delivered=no (no "
                         "webhook_url or pubsub_topic: findings are only logged)")


def test_the_alert_line_names_the_failed_delivery():
    from kfp_mlops.components.alert.core import AlertResult, Delivery

    failed = Delivery("webhook", "https://hooks.example/…", False, 3, ["HTTP 500"])
    meta = AlertResult(True, True, "findings: webhook", 1, [failed], {}).metadata()
    assert summary_of(task("alert", "alert", meta)).endswith(
        "  alert: drift_detected=yes, delivered=no (delivery failed: webhook "
        "https://hooks.example/…: HTTP 500)")
    sent = Delivery("webhook", "https://hooks.example/…", True, 1, [])
    meta = AlertResult(True, True, "findings: webhook", 1, [sent], {}).metadata()
    assert summary_of(task("alert", "alert", meta)).endswith(
        "  alert: drift_detected=yes, delivered=yes (findings: webhook)")


def test_the_retrain_line_says_whether_it_started_and_why():
    from kfp_mlops.components.retrain.core import RetrainResult

    idle = RetrainResult(False, "no drift detected: nothing to retrain").metadata()
    assert summary_of(task("retrain", "retraining", idle)).endswith(
        "  retrain: started=no (no drift detected: nothing to retrain)")
    ran = RetrainResult(True, "drift detected: training-serving skew of feature 'island': L_INFTY 0.4000 > threshold 0.1", "local",
                        "SUCCESS", {}, "training-2026", pushed=True, new_version="2").metadata()
    assert summary_of(task("retrain", "retraining", ran)).endswith(
        "  retrain: started=yes (drift detected: training-serving skew of feature 'island': L_INFTY 0.4000 > threshold 0.1; local run "
        "training-2026, SUCCESS, new model pushed=yes as version 2)")


def test_the_monitor_line_says_why_there_is_no_drift():
    text = summary_of(task("monitor", "drift_report", {"drift_detected": False, "reasons": []}))
    assert text.endswith("  monitor: drift_detected=no (no feature over its skew or drift "
                         "threshold)")
    text = summary_of(task("monitor", "drift_report", {
        "drift_detected": True, "reasons": ["training-serving skew of feature 'island': L_INFTY 0.4000 > threshold 0.1"]}))
    assert text.endswith("  monitor: drift_detected=yes\n"
                         "      - training-serving skew of feature 'island': L_INFTY 0.4000 > threshold 0.1")


def test_a_failed_task_s_error_ends_the_summary():
    failed = local.TaskRecord("ingest", "FAILURE", 0.5, {},
                              "IngestError: label_column 'tips' not found in d.csv")
    text = local.format_summary(local.RunSummary("training", "FAILURE", "/r", "now", 1.0, {},
                                                 [failed], error=failed.error))
    assert text.splitlines()[-1] == \
        "Error: ingest: IngestError: label_column 'tips' not found in d.csv"
    setup = local.format_summary(local.RunSummary("training", "FAILURE", "/r", "now", 1.0, {},
                                                  [], error="ContainerError: no Docker API"))
    assert setup.splitlines()[-1] == "Error: ContainerError: no Docker API"


@pytest.mark.parametrize("log, error", [
    (["Traceback (most recent call last):", '  File "x.py", line 1, in f',
      "    raise IngestError(...)",
      "kfp_mlops.components.ingest.core.IngestError: label_column 'tips' not found in d.csv",
      "", ""],
     "IngestError: label_column 'tips' not found in d.csv"),
    (["ValueError: first", "During handling of the above exception, another exception "
      "occurred:", "Traceback (most recent call last):", "KeyError: 'x'"], "KeyError: 'x'"),
    (["[KFP Executor 2026 INFO]: reading", "killed"],
     "failed; the last line of its log: killed"),
    ([], "failed with no log"),
])
def test_a_failed_task_s_one_line_error_is_its_last_exception(log, error):
    assert local.task_error(log) == error


# ----------------------------------------------------------- the runtime extra is missing

BLOCKED = r"""
import importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_data_validation"):
            raise ImportError(f"No module named {name!r} (refused by the test)")
        return None

sys.meta_path.insert(0, Refuse())
from kfp_mlops.pipelines import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def blocked_cli(*args):
    return subprocess.run([sys.executable, "-c", BLOCKED, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_run_without_the_runtime_extra_says_how_to_install_it_before_any_task(tmp_path):
    out = tmp_path / "out"
    result = blocked_cli("run", "data-validation", "--param",
                         "data_uri=pipelines/data/penguins.csv", "--output-dir", str(out))
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "cannot import tensorflow, tensorflow_data_validation: install the runtime extra " \
           "with pip install 'kfp-mlops[runtime]' (from a clone: pip install '.[runtime]'" \
           in result.stderr
    assert "--runner docker" in result.stderr
    assert not out.exists() and "Executing task" not in result.stdout


def test_list_and_a_dry_run_need_no_runtime_extra():
    listed = blocked_cli("list")
    assert listed.returncode == 0 and "training" in listed.stdout, listed.stderr[-3000:]
    dry = blocked_cli("run", "data-validation", "--dry-run", "--param",
                      "data_uri=pipelines/data/penguins.csv")
    assert dry.returncode == 0, dry.stderr[-3000:]


def test_the_runtime_check_finds_what_is_installed_here():
    assert local.missing_runtime() == []
    local.check_runtime("subprocess")
    local.check_runtime("docker")
