"""The kfp-mlops command's arguments and errors (runs that execute are in test_local_run)."""
import subprocess
import sys

import pytest

from kfp_mlops.pipelines import cli, local


def test_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "kfp_mlops.pipelines.cli", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for command in ("list", "compile", "run"):
        assert command in result.stdout


def test_console_script_installed():
    import shutil
    import os

    script = os.path.join(os.path.dirname(sys.executable), "kfp-mlops")
    assert os.path.exists(script) or shutil.which("kfp-mlops")


def test_unknown_pipeline(capsys):
    assert cli.main(["run", "no-such-pipeline", "--local"]) == 2
    err = capsys.readouterr().err
    assert "unknown pipeline 'no-such-pipeline'" in err and "data-validation" in err


def test_unknown_parameter(capsys):
    code = cli.main(["run", "data-validation", "--local", "--param", "data_uri=x.csv",
                     "--param", "colour=blue"])
    assert code == 2
    err = capsys.readouterr().err
    assert "has no parameter 'colour'" in err and "data_uri (String, required)" in err


def test_missing_required_parameter(capsys):
    assert cli.main(["run", "data-validation", "--local"]) == 2
    assert "needs --param for data_uri" in capsys.readouterr().err


@pytest.mark.parametrize("pair,message", [
    ("skew_threshold=high", "expected a Float value"),
    ("fail_on_anomalies=maybe", "expected a Boolean value"),
    ("split_ratios=0.8", "expected a List value"),
    ("skew_thresholds=[1]", "expected a Dict value"),
    ("no_equals_sign", "expected NAME=VALUE"),
])
def test_badly_typed_parameters(pair, message):
    with pytest.raises(ValueError, match=message):
        local.parse_parameters("data-validation", ["data_uri=x.csv", pair])


def test_parameters_are_typed():
    values = local.parse_parameters("data-validation", [
        "data_uri=gs://b/d.csv", "skew_threshold=0.2", "fail_on_anomalies=false",
        "split_ratios=[0.7, 0.2, 0.1]", 'skew_thresholds={"island": 0.5}'])
    assert values == {"data_uri": "gs://b/d.csv", "skew_threshold": 0.2,
                      "fail_on_anomalies": False, "split_ratios": [0.7, 0.2, 0.1],
                      "skew_thresholds": {"island": 0.5}}


def test_run_runs_locally_without_local_and_keeps_the_flag_as_a_no_op(monkeypatch, capsys):
    """``run`` always runs on this machine; ``--local`` is accepted and changes nothing."""
    monkeypatch.setattr(local, "run", lambda *a, **k: pytest.fail("a task would have run"))
    base = ["run", "data-validation", "--dry-run", "--param",
            "data_uri=pipelines/data/penguins.csv"]
    assert cli.main(base) == 0
    assert cli.main(base + ["--local"]) == 0
    out = capsys.readouterr().out
    assert out.count("the parameters of pipeline 'data-validation' are valid") == 2
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "--local accepted and changes nothing: run always runs on this machine" in \
        " ".join(capsys.readouterr().out.split())


def test_list_shows_parameters(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "data-validation" in out and "data_uri" in out and "required" in out


def test_run_refuses_cache_because_kfp_local_has_none(capsys):
    assert cli.main(["run", "data-validation", "--local", "--cache",
                     "--param", "data_uri=x.csv"]) == 2
    assert "--cache: kfp.local has no cache, every task runs every time" in \
        capsys.readouterr().err


def test_run_accepts_no_cache(capsys):
    # accepted (it is what always happens locally): the run fails on the parameter instead
    assert cli.main(["run", "data-validation", "--local", "--no-cache",
                     "--param", "data_uri=x.csv", "--param", "colour=blue"]) == 2
    assert "has no parameter 'colour'" in capsys.readouterr().err


def test_run_help_says_what_the_cache_flags_do(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--cache refused: kfp.local has no cache" in out
    assert "--no-cache accepted and changes nothing: kfp.local never reuses a result" in out


def test_run_dry_run_checks_the_parameters_and_runs_nothing(tmp_path, monkeypatch, capsys):
    """``--dry-run``: the run's own checks (pipelines/preflight.py), then no task (retrain
    checks its training parameters with it before there is any drift)."""
    monkeypatch.setattr(local, "run", lambda *a, **k: pytest.fail("a task would have run"))
    args = ["run", "training", "--local", "--dry-run", "--output-dir", str(tmp_path / "out"),
            "--param", "data_uri=d.csv", "--param", "label_column=species",
            "--param", "model_name=penguins", "--param", "registry_uri=/tmp/registry"]
    assert cli.main(args) == 0
    assert "the parameters of pipeline 'training' are valid" in capsys.readouterr().out
    assert cli.main(args + ["--param", "epochs=0"]) == 2
    assert "  - epochs=0: expected a whole number >= 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where, option, message", [
    ("a-file", "--output-dir", "is a file; expected a folder"),
    ("a-folder", "--summary-json", "is a folder; expected a file path"),
    ("a-file/summary.json", "--summary-json", "is a file, so the summary's folder cannot"),
])
def test_run_refuses_output_paths_before_any_task(tmp_path, monkeypatch, capsys, where,
                                                   option, message):
    """An --output-dir that is a file, or a --summary-json that is a folder, is an error
    before the first task, not after the whole run."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    monkeypatch.setattr(local, "run", lambda *a, **k: pytest.fail("a task would have run"))
    args = ["run", "data-validation", "--local", "--param", "data_uri=pipelines/data/penguins.csv"]
    if option == "--output-dir":
        args += ["--output-dir", str(tmp_path / where)]
    else:
        args += ["--output-dir", str(tmp_path / "out"), "--summary-json", str(tmp_path / where)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"{option} {str(tmp_path / where)!r}" in err and message in err
    assert not (tmp_path / "out").exists()


def test_summary_says_repeated_reasons_once():
    """push's reasons end with the blessing's: the summary shows push's own, then refers up."""
    blessing = ["BLESSED: 1 of 1 checks passed", "passed threshold: accuracy 1.0 >= 0.9"]
    tasks = [local.TaskRecord("evaluate", "SUCCESS", 1.0, {"blessing": {
                 "type": "Artifact", "uri": "/b", "metadata": {"blessed": True,
                                                               "reasons": blessing}}}),
             local.TaskRecord("push", "SUCCESS", 1.0, {"pushed_model": {
                 "type": "Model", "uri": "/p", "metadata": {
                     "pushed": True, "reasons": ["champion=yes: moved from 1 to 2", *blessing]}}})]
    text = local.format_summary(local.RunSummary("training", "SUCCESS", "/r", "now", 2.0, {},
                                                 tasks))
    decisions = text[text.index("Decisions:"):]
    assert decisions.count("passed threshold: accuracy") == 1
    assert "      - champion=yes: moved from 1 to 2\n      - and for the reasons above" in decisions


def test_summary_names_the_columns_kept_out_of_the_model_once():
    """validate's schema names the kept-out columns with their reasons; train's model repeats
    them and adds the key column: the summary says each once, under the task that decided."""
    kept = {"name": "ID-like: 400 distinct values in 400 train rows",
            "row_id": "ID-like: a row number"}
    tasks = [local.TaskRecord("validate", "SUCCESS", 1.0, {
                 "schema": {"type": "Artifact", "uri": "/s",
                            "metadata": {"kept_out_features": kept}},
                 "anomalies": {"type": "Artifact", "uri": "/a",
                               "metadata": {"passed": True, "reasons": [],
                                            "kept_out_features": kept}}}),
             local.TaskRecord("train", "SUCCESS", 1.0, {"model": {
                 "type": "Model", "uri": "/m", "metadata": {"kept_out_features": {
                     **kept, "key": "the dataset's key_column"}}}})]
    text = local.format_summary(local.RunSummary("training", "SUCCESS", "/r", "now", 2.0, {},
                                                 tasks))
    decisions = text[text.index("Decisions:"):]
    assert decisions == (
        "Decisions:\n"
        "  validate: passed=yes\n"
        "  validate: kept out of the model: 'name', 'row_id'\n"
        "      - name: ID-like: 400 distinct values in 400 train rows\n"
        "      - row_id: ID-like: a row number\n"
        "  train: kept out of the model: 'key'\n"
        "      - key: the dataset's key_column")


def test_every_command_names_its_handler():
    """main runs ``args.func``: a sub-command without one would fail on every use."""
    import argparse

    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"list", "compile", "run", "submit", "schedule", "publish", "components", "runs"} <= \
        set(commands.choices)
    for name, sub in commands.choices.items():
        assert callable(sub.get_default("func")), f"kfp-mlops {name} sets no func"


def test_compile_refuses_an_unknown_pipeline_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "specs"
    assert cli.main(["compile", "--output-dir", str(out), "--pipeline", "data-validation",
                     "--pipeline", "no-such"]) == 2
    assert "unknown pipeline 'no-such'" in capsys.readouterr().err
    assert not out.exists()
