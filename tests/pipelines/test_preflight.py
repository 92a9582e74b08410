"""Parameters that can be checked without data fail before the first task, in one error that
names every bad parameter, and with the very message the component gives at run time."""
import json
import math
import os
import subprocess
import sys

import pytest

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.alert import core as alert
from kfp_mlops.components.evaluate import core as evaluate
from kfp_mlops.components.ingest import core as ingest
from kfp_mlops.components.monitor import core as monitor
from kfp_mlops.components.push import core as push
from kfp_mlops.components.retrain import core as retrain
from kfp_mlops.components.train import core as train
from kfp_mlops.pipelines import cli, local, preflight

NAN, INF = float("nan"), float("inf")
TRAINING = {"data_uri": "data.csv", "label_column": "species", "model_name": "penguins",
            "registry_uri": "/tmp/registry"}
VALIDATION = {"data_uri": "data.csv"}
MONITORING = {"data_uri": "batch.csv", "model_name": "penguins", "registry_uri": "/tmp/registry"}
BATCH_PREDICTION = {"data_uri": "batch.csv", "model_name": "penguins",
                    "registry_uri": "/tmp/registry"}
REQUIRED = {"training": TRAINING, "data-validation": VALIDATION, "monitoring": MONITORING,
            "batch-prediction": BATCH_PREDICTION}


@pytest.fixture
def no_task(monkeypatch):
    """kfp.local's task dispatcher, replaced by one that records every task it is asked to
    start: a test asserts it stays empty."""
    from kfp.local import task_dispatcher

    started = []

    def refuse(*args, **kwargs):
        started.append(kwargs.get("component_name", args))
        raise AssertionError("a task was started")

    monkeypatch.setattr(task_dispatcher, "run_single_task_implementation", refuse)
    return started


def _problems(pipeline, **changes):
    return preflight.problems(pipeline, {**REQUIRED[pipeline], **changes})


# --------------------------------------------------------------------------- defaults

@pytest.mark.parametrize("pipeline", sorted(REQUIRED))
def test_every_default_passes(pipeline):
    known = local.pipeline_parameters(pipeline)
    assert set(REQUIRED[pipeline]) == {n for n, p in known.items() if p["required"]}
    assert preflight.problems(pipeline, REQUIRED[pipeline]) == []
    # and the defaults written out explicitly, as `kfp-mlops list` prints them
    explicit = {n: p["default"] for n, p in known.items() if not p["required"]}
    assert preflight.problems(pipeline, {**REQUIRED[pipeline], **explicit}) == []


def test_retraining_settings_with_defaults_pass():
    assert _problems("monitoring", retrain_on_drift=True, retrain_data_uri="train.csv",
                     label_column="species", training_parameters={"epochs": 5}) == []


# --------------------------------------------------------------------------- each rule

TRAINING_CASES = [
    # (parameter, bad value, what the message says)
    ("model_name", "penguins\n", "model_name 'penguins\\n' is not valid"),
    ("model_name", "pen guins", "model_name 'pen guins' is not valid"),
    ("model_name", " penguins", "is not valid"),
    ("model_name", "pen/guins", "is not valid"),
    ("aliases", ["champion\n"], "alias 'champion\\n' is not valid"),
    ("aliases", ["staging "], "alias 'staging ' is not valid"),
    ("aliases", ["Champion"], "alias 'Champion' is not valid"),
    ("aliases", ["latest"], "alias 'latest' is not valid"),
    ("aliases", "champion", "aliases='champion': expected a List value"),
    ("registry_uri", "ftp://host/registry", "registry_uri 'ftp://host/registry': "),
    ("registry_uri", "gs://", "registry_uri 'gs://': 'gs://': expected gs://BUCKET/PATH"),
    ("registry_uri", "file://relative/registry", "a file:// URI needs an absolute path"),
    ("registry_uri", "vertex://projects/p", "is not a Vertex AI registry URI"),
    ("thresholds", {"acuracy": 0.9}, "thresholds names metric(s) ['acuracy'] that no "
                                     "evaluation computes"),
    ("thresholds", {"accuracy": "high"}, "thresholds['accuracy']='high': expected a finite "
                                         "number"),
    ("thresholds", {"accuracy": True}, "thresholds['accuracy']=True: expected a finite number"),
    ("thresholds", {"accuracy": NAN}, "thresholds['accuracy']=nan"),
    ("thresholds", {"rmse": INF}, "thresholds['rmse']=inf"),
    ("max_regression", {"accuracy": -0.01}, "max_regression['accuracy']=-0.01: expected a "
                                            "finite number >= 0"),
    ("max_regression", {"f2": 0.1}, "max_regression names metric(s) ['f2']"),
    ("max_regression", {"auc": "0.1"}, "max_regression['auc']='0.1'"),
    ("epochs", -1, "epochs=-1: expected a whole number >= 1"),
    ("epochs", 0, "epochs=0"),
    ("epochs", 2.5, "epochs=2.5: expected a whole number"),
    ("batch_size", 0, "batch_size=0: expected a whole number >= 1"),
    ("learning_rate", NAN, "learning_rate=nan: expected a finite number > 0"),
    ("learning_rate", INF, "learning_rate=inf"),
    ("learning_rate", 0.0, "learning_rate=0.0"),
    ("learning_rate", -0.1, "learning_rate=-0.1"),
    ("hidden_units", [64, 0], "hidden_units=[64, 0]: expected a list of whole numbers >= 1"),
    ("hidden_units", [64, 1.5], "hidden_units=[64, 1.5]"),
    ("hidden_units", [True], "hidden_units=[True]"),
    ("task", "clustering", "task 'clustering' is not one of"),
    ("task", "classification\n", "task 'classification\\n' is not one of"),
    ("split_ratios", [1, 0, 0], "the eval and test shares must be above 0"),
    ("split_ratios", [0.9, 0.1, 0.0], "the test share must be above 0"),
    ("split_ratios", [0.9, 0.0, 0.1], "the eval share must be above 0"),
    ("split_ratios", [0, 0.5, 0.5], "the train share must be above 0"),
    ("split_ratios", [0.8, 0.1], "expected three finite non-negative numbers"),
    ("split_ratios", [0.8, 0.1, NAN], "split_ratios [0.8, 0.1, nan]"),
    ("split_ratios", [0.8, 0.3, -0.1], "split_ratios [0.8, 0.3, -0.1]"),
    ("split_ratios", [0.8, 0.1, 0.2], "that add up to 1"),
    ("split_ratios", ["0.8", 0.1, 0.1], "expected three finite"),
    ("skew_threshold", -0.1, "skew_threshold must be a number >= 0"),
    ("skew_threshold", NAN, "skew_threshold must be a number >= 0"),
    ("skew_threshold", INF, "got inf"),
    ("skew_thresholds", {"island": -1}, "skew_thresholds['island'] must be a number >= 0"),
    ("skew_thresholds", {"island": "0.5"}, "skew_thresholds['island']"),
    ("skew_thresholds", {"island": NAN}, "skew_thresholds['island']"),
    ("traffic_percentage", 101, "traffic_percentage must be 0-100"),
    ("traffic_percentage", -1, "traffic_percentage must be 0-100"),
    ("data_uri", "", "data_uri is required and was given empty"),
    ("label_column", "  ", "label_column is required and was given empty"),
    ("fail_on_anomalies", "yes", "fail_on_anomalies='yes': expected a Boolean value"),
    ("epochs_count", 3, "epochs_count is not a parameter of pipeline 'training'"),
    ("keep_columns", "name", "keep_columns='name': expected a list of column names"),
    ("drop_columns", ["species"], "drop_columns names the label 'species'; the label is "
                                  "never dropped"),
    ("drop_columns", ["island", ""], "drop_columns has '': expected a column name"),
    ("keep_columns", ["island", "island"], "keep_columns names ['island'] more than once"),
]


@pytest.mark.parametrize("name,value,message", TRAINING_CASES,
                         ids=[f"{c[0]}={c[1]!r}" for c in TRAINING_CASES])
def test_training_run_fails_before_any_task(name, value, message, tmp_path, no_task):
    out = tmp_path / "out"
    with pytest.raises(preflight.PreflightError) as caught:
        local.run("training", {**TRAINING, name: value}, str(out))
    assert message in str(caught.value)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert no_task == [] and not out.exists()


def test_neighbours_of_each_bad_value_pass():
    for name, value in [("model_name", "penguins.v2_x-1"), ("aliases", ["champion", "staging"]),
                        ("thresholds", {"accuracy": 0.9, "log_loss": 1}),
                        ("max_regression", {"accuracy": 0, "rmse": 0.5}), ("epochs", 1),
                        ("batch_size", 1), ("learning_rate", 1e-9),
                        ("hidden_units", []), ("task", "regression"),
                        ("split_ratios", [0.7, 0.2, 0.1]),
                        ("split_ratios", [1 / 3, 1 / 3, 1 / 3]),
                        ("skew_threshold", 0), ("skew_thresholds", {"island": 1.0}),
                        ("traffic_percentage", 0), ("traffic_percentage", 100),
                        ("registry_uri", "vertex://projects/p/locations/europe-west4"),
                        ("registry_uri", "file:///tmp/registry"),
                        ("registry_uri", "gs://bucket/registry"),
                        ("registry_uri", "s3://bucket/registry"),
                        ("keep_columns", ["island"]), ("drop_columns", ["island", "sex"])]:
        assert _problems("training", **{name: value}) == [], (name, value)


def test_metric_names_are_checked_for_the_given_task():
    assert _problems("training", task="classification", thresholds={"rmse": 1}) == [
        "thresholds names metric(s) ['rmse'] that a classification evaluation does not "
        f"compute; expected some of {list(evaluate.METRICS['classification'])}"]
    assert _problems("training", task="regression", thresholds={"rmse": 1}) == []


def test_every_problem_is_listed_at_once(tmp_path, no_task):
    bad = {**TRAINING, "model_name": "pen guins", "epochs": -1, "split_ratios": [1, 0, 0],
           "thresholds": {"accuracy": "high", "acc": 0.5}, "learning_rate": NAN}
    with pytest.raises(preflight.PreflightError) as caught:
        local.run("training", bad, str(tmp_path / "out"))
    text = str(caught.value)
    assert text.startswith("pipeline 'training': 6 problems with its parameters, found "
                           "before any task ran:\n  - ")
    for name in ("model_name", "epochs", "split_ratios", "thresholds['accuracy']", "['acc']",
                 "learning_rate"):
        assert name in text
    assert no_task == [] and not (tmp_path / "out").exists()


VALIDATION_CASES = [
    ("split_ratios", [1, 0, 0], "the eval share must be above 0"),
    ("split_ratios", [0.8, 0.2, 0], None),     # no test split needed
    ("skew_threshold", True, "skew_threshold must be a number >= 0"),
    ("skew_thresholds", [0.1], "skew_thresholds must be a mapping of feature name to threshold"),
    ("data_uri", "", "data_uri is required and was given empty"),
    ("drop_columns", {"island": 1}, "drop_columns={'island': 1}: expected a list of column "
                                    "names"),
]


@pytest.mark.parametrize("name,value,message", VALIDATION_CASES)
def test_data_validation(name, value, message, tmp_path, no_task):
    if message is None:
        assert _problems("data-validation", **{name: value}) == []
        return
    with pytest.raises(preflight.PreflightError, match=r"pipeline 'data-validation'") as caught:
        local.run("data-validation", {**VALIDATION, name: value}, str(tmp_path / "out"))
    assert message in str(caught.value)
    assert no_task == [] and not (tmp_path / "out").exists()


MONITORING_CASES = [
    # shown as scheme://host/…: a webhook's path may be its secret
    ("webhook_url", "https://hooks.example.com/a b", "webhook_url 'https://hooks.example.com/…' "
                                                     "holds [' ']"),
    ("webhook_url", "https://hooks.example.com/x\n", "holds ['\\n']"),
    ("webhook_url", "https://hooks.example.com/\tx", "holds ['\\t']"),
    ("webhook_url", "https://hooks.example.com/\x7fx", "holds ['\\x7f']"),
    ("webhook_url", "https://hooks.example.com/caf\u00e9", "holds ['\u00e9']"),
    ("webhook_url", "ftp://hooks.example.com/x", "expected an http(s):// URL with a host"),
    ("webhook_url", "https:///path", "expected an http(s):// URL with a host"),
    ("webhook_url", "hooks.example.com/x", "expected an http(s):// URL with a host"),
    ("webhook_url", "https://hooks.example.com:port/x", "expected an http(s):// URL"),
    ("pubsub_topic", "projects/p/topics/t\n", "pubsub_topic 'projects/p/topics/t\\n'"),
    ("pubsub_topic", "projects/p/topics/my topic", "expected projects/<project>/topics/<topic>"),
    ("pubsub_topic", "projects/p/subscriptions/s", "expected projects/<project>/topics/<topic>"),
    ("pubsub_topic", "topics/t", "expected projects/<project>/topics/<topic>"),
    ("model_version", "Champion", "model_version 'Champion' is not a version number"),
    ("model_version", "champion\n", "model_version 'champion\\n'"),
    ("model_version", "3 ", "model_version '3 '"),
    ("drift_threshold", -1, "drift_threshold must be a number >= 0"),
    ("drift_threshold", NAN, "drift_threshold must be a number >= 0"),
    ("drift_thresholds", {"island": INF}, "drift_thresholds['island'] must be a number >= 0"),
    ("skew_threshold", -1, "skew_threshold must be a number >= 0"),
    ("model_name", "penguins ", "model_name 'penguins ' is not valid"),
    ("registry_uri", "", "registry_uri is required and was given empty"),
]


@pytest.mark.parametrize("name,value,message", MONITORING_CASES,
                         ids=[f"{c[0]}={c[1]!r}" for c in MONITORING_CASES])
def test_monitoring_run_fails_before_any_task(name, value, message, tmp_path, no_task):
    out = tmp_path / "out"
    with pytest.raises(preflight.PreflightError) as caught:
        local.run("monitoring", {**MONITORING, name: value}, str(out))
    assert message in str(caught.value)
    assert no_task == [] and not out.exists()


def test_monitoring_neighbours_pass():
    for name, value in [("webhook_url", "https://hooks.example.com/a%20b?token=x"),
                        ("webhook_url", "http://127.0.0.1:8080/hook"),
                        ("pubsub_topic", "projects/my-project/topics/drift"),
                        ("model_version", "3"), ("model_version", "latest"),
                        ("model_version", "staging"), ("drift_threshold", 0),
                        ("drift_thresholds", {"island": 0.5})]:
        assert _problems("monitoring", **{name: value}) == [], (name, value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/a b", "http://127.0.0.1:9/caf\u00e9",
                                 "http://127.0.0.1:9/\x7f", "http://127.0.0.1:9/\x01"])
def test_the_refused_webhook_urls_are_those_urllib_cannot_send(url):
    """The rule is urllib's own (http.client refuses them when sending): what the check
    refuses before the run would otherwise fail at delivery, after the run."""
    import http.client
    import urllib.request

    with pytest.raises((http.client.InvalidURL, UnicodeEncodeError)):
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"),
                               timeout=1)
    with pytest.raises(alert.AlertError, match="webhook_url"):
        alert.check_webhook_url(url)


@pytest.mark.parametrize("char", ["\n", "\r", "\t"])
def test_a_webhook_url_with_a_line_break_or_tab_is_refused_not_silently_rewritten(char):
    """urllib.parse drops tabs and line breaks from a URL (WHATWG's rule), so urllib would
    post to another URL than the one given, without a word: refused before the run."""
    import urllib.parse

    url = f"https://hooks.example.com/a{char}b"
    assert urllib.parse.urlsplit(url).path == "/ab"
    with pytest.raises(alert.AlertError, match="webhook_url"):
        alert.check_webhook_url(url)


def test_webhook_message_leaves_the_query_out():
    problems = _problems("monitoring", webhook_url="https://h.example.com/a b?token=SECRET")
    assert len(problems) == 1 and "SECRET" not in problems[0]


def test_retraining_settings_and_training_parameters_are_checked(tmp_path, no_task):
    assert _problems("monitoring", retrain_on_drift=True) == [
        "retrain_on_drift with retrain_target='local' needs retrain_data_uri, label_column"]
    assert _problems("monitoring", retrain_on_drift=True, retrain_target="cloud") == [
        "retrain_target 'cloud': expected one of local, vertex"]
    found = _problems("monitoring", retrain_on_drift=True, retrain_data_uri="train.csv",
                      label_column="species",
                      training_parameters={"epochs": 0, "split_ratios": [1, 0, 0],
                                           "colour": "blue"})
    assert found[0].startswith("training_parameters: colour is not a parameter of pipeline "
                               "'training'")
    assert found[1:] == ["training_parameters: split_ratios [1, 0, 0]: the eval and test "
                         "shares must be above 0",
                         "training_parameters: epochs=0: expected a whole number >= 1"]
    assert _problems("monitoring", retrain_on_drift=True, retrain_data_uri="train.csv",
                     label_column="species", training_parameters={"model_name": "x"}) == [
        "training_parameters must not set ['model_name']: they are this component's own "
        "parameters (retrain_data_uri, label_column, model_name, registry_uri)"]
    # retraining off: its settings are not needed, as retrain itself does not look at them
    assert _problems("monitoring", training_parameters={"epochs": 0}) == []


# --------------------------------------------------------------------------- the CLI

def _cli_run(pipeline, params, out):
    pairs = [a for k, v in params.items()
             for a in ("--param", f"{k}={json.dumps(v) if not isinstance(v, str) else v}")]
    return cli.main(["run", pipeline, "--local", "--output-dir", str(out), *pairs])


def test_cli_run_exits_2_before_any_task(tmp_path, capsys, no_task):
    out = tmp_path / "out"
    code = _cli_run("training", {**TRAINING, "epochs": -1, "split_ratios": [1, 0, 0],
                                 "thresholds": {"accuracy": "high"}}, out)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("kfp-mlops: error: pipeline 'training': 3 problems")
    assert "epochs=-1" in err and "split_ratios [1, 0, 0]" in err
    assert "thresholds['accuracy']='high'" in err
    assert no_task == [] and not out.exists()


def test_cli_run_names_a_model_name_with_a_trailing_newline(tmp_path, capsys, no_task):
    code = _cli_run("monitoring", {**MONITORING, "model_name": "penguins\n",
                                   "webhook_url": "https://h.example.com/a b"}, tmp_path / "o")
    err = capsys.readouterr().err
    assert code == 2
    assert "model_name 'penguins\\n' is not valid" in err and "webhook_url" in err
    assert no_task == [] and not (tmp_path / "o").exists()


def _vertex(command, pipeline, spec_dir, params):
    args = [command, pipeline, "--vertex", "--project", "my-project", "--region",
            "europe-west4", "--pipeline-root", "gs://my-bucket/root", "--image-registry",
            "europe-docker.pkg.dev/my-project/images", "--image-tag", "abc1234",
            "--git-commit", "feed123", "--spec-dir", str(spec_dir), "--dry-run"]
    if command == "schedule":
        args += ["--cron", "0 6 * * *"]
    for k, v in params.items():
        args += ["--param", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return args


@pytest.mark.parametrize("command", ["submit", "schedule"])
def test_submit_and_schedule_check_before_compiling(command, tmp_path, capsys):
    spec_dir = tmp_path / "spec"
    params = {"data_uri": "gs://my-bucket/d.csv", "label_column": "species",
              "model_name": "penguins", "registry_uri":
                  "vertex://projects/my-project/locations/europe-west4",
              "learning_rate": "nan", "aliases": ["champion\n"]}
    assert cli.main(_vertex(command, "training", spec_dir, params)) == 2
    err = capsys.readouterr().err
    assert "kfp-mlops: error: pipeline 'training': 2 problems" in err
    assert "learning_rate=nan" in err and "alias 'champion\\n'" in err
    assert not spec_dir.exists() or not os.listdir(spec_dir)  # nothing compiled


@pytest.mark.parametrize("command", ["submit", "schedule"])
def test_submit_and_schedule_with_valid_parameters_still_compile(command, tmp_path, capsys):
    params = {"data_uri": "gs://my-bucket/batch.csv", "model_name": "penguins",
              "registry_uri": "vertex://projects/my-project/locations/europe-west4",
              "webhook_url": "https://hooks.example.com/drift"}
    assert cli.main(_vertex(command, "monitoring", tmp_path / "spec", params)) == 0
    assert os.listdir(tmp_path / "spec") == ["monitoring.yaml"]


# --------------------------------------------------------------------------- one home

def _component_error(call):
    with pytest.raises(ValueError) as caught:
        call()
    return str(caught.value)


def _one_problem(pipeline, **changes):
    found = _problems(pipeline, **changes)
    assert len(found) == 1, found
    return found[0]


def test_train_uses_the_same_rules(tmp_path):
    for name, value in [("epochs", -1), ("learning_rate", NAN), ("hidden_units", [0]),
                        ("batch_size", 0), ("task", "clustering")]:
        expected = _one_problem("training", **{name: value})
        got = _component_error(lambda: train.train(
            str(tmp_path / "no-dataset"), str(tmp_path / "no-schema"), str(tmp_path / "m"),
            label_column="species", **{name: value}))
        assert got == expected
    assert not (tmp_path / "m").exists()


def test_evaluate_uses_the_same_rules(tmp_path):
    for name, value in [("thresholds", {"accuracy": "high"}), ("thresholds", {"acc": 1}),
                        ("max_regression", {"auc": -1}), ("thresholds", {"auc": NAN})]:
        expected = _one_problem("training", **{name: value})
        got = _component_error(lambda: evaluate.evaluate(
            str(tmp_path / "no-dataset"), str(tmp_path / "no-model"), **{name: value}))
        assert got == expected


def test_ingest_uses_the_same_rules(tmp_path, penguins_csv):
    expected = _one_problem("training", split_ratios=[0.8, 0.1, NAN])
    got = _component_error(lambda: ingest.ingest(penguins_csv, str(tmp_path / "d"),
                                                 split_ratios=[0.8, 0.1, NAN]))
    assert got == expected
    # ingest alone needs only a train share (the monitoring pipeline reads one split)
    assert "the eval and test shares" in _one_problem("training", split_ratios=[1, 0, 0])
    assert ingest.parse_split_ratios([1, 0, 0]) == (1.0, 0.0, 0.0)
    with pytest.raises(ingest.IngestError, match="csv_delimiter '\"'"):
        ingest.ingest(penguins_csv, str(tmp_path / "d"), csv_delimiter='"')
    with pytest.raises(ingest.IngestError, match="csv_delimiter ';;'"):
        ingest.check_csv_delimiter(";;")
    assert ingest.check_csv_delimiter(";") == ";"
    assert not (tmp_path / "d").exists()


def test_csv_delimiter_is_checked_when_the_pipeline_has_it():
    known = dict(local.pipeline_parameters("data-validation"))
    known["csv_delimiter"] = {"type": "String", "default": "", "required": False}
    assert preflight.problems("data-validation", VALIDATION, known) == []
    found = preflight.problems("data-validation", {**VALIDATION, "csv_delimiter": "\n"}, known)
    assert found == [_component_error(lambda: ingest.check_csv_delimiter("\n"))]


def test_a_column_both_kept_and_dropped_is_refused_before_any_task(tmp_path, no_task):
    with pytest.raises(preflight.PreflightError) as caught:
        local.run("training", {**TRAINING, "keep_columns": ["island", "sex"],
                               "drop_columns": ["sex"]}, str(tmp_path / "out"))
    assert caught.value.problems == ["keep_columns and drop_columns both name ['sex']; name "
                                     "each column in one of them"]
    assert no_task == [] and not (tmp_path / "out").exists()


def test_validate_and_monitor_use_the_same_rules(tmp_path, penguins_dataset):
    from kfp_mlops.components.validate import core as validate

    expected = _one_problem("data-validation", label_column="species",
                            drop_columns=["island", "species"])
    got = _component_error(lambda: validate.validate(
        penguins_dataset, *(str(tmp_path / n) for n in ("s", "sc", "a", "r.html")),
        label_column="species", drop_columns=["island", "species"]))
    assert got == expected

    expected = _one_problem("data-validation", skew_threshold=NAN)
    got = _component_error(lambda: validate.validate(
        penguins_dataset, *(str(tmp_path / n) for n in ("s", "sc", "a", "r.html")),
        skew_threshold=NAN))
    assert got == expected
    expected = _one_problem("monitoring", drift_thresholds={"island": -1})
    got = _component_error(lambda: monitor.monitor(
        penguins_dataset, str(tmp_path / "reg"), "penguins", *(str(tmp_path / n) for n in (
            "s2", "rep", "r2.html")), drift_thresholds={"island": -1}))
    assert got == expected
    expected = _one_problem("monitoring", model_version="Champion")
    got = _component_error(lambda: monitor.monitor(
        penguins_dataset, str(tmp_path / "reg"), "penguins", *(str(tmp_path / n) for n in (
            "s2", "rep", "r2.html")), model_version="Champion"))
    assert got == expected
    assert not any((tmp_path / n).exists() for n in ("s", "sc", "a", "s2", "rep", "reg"))


def test_alert_push_retrain_use_the_same_rules(tmp_path):
    expected = _one_problem("monitoring", pubsub_topic="projects/p/topics/t\n")
    got = _component_error(lambda: alert.alert({}, str(tmp_path / "al"),
                                               pubsub_topic="projects/p/topics/t\n"))
    assert got == expected
    # At run time alert records a refused webhook URL as a failed delivery (so retraining
    # still happens, tests/components/alert); the rule it applies is the same function.
    expected = _one_problem("monitoring", webhook_url="https://h.example.com/a b")
    assert _component_error(lambda: alert.check_webhook_url("https://h.example.com/a b")) \
        == expected
    for name, value in [("model_name", "penguins\n"), ("aliases", ["champion "]),
                        ("traffic_percentage", 150), ("registry_uri", "ftp://h/r")]:
        expected = _one_problem("training", **{name: value})
        args = {"registry_uri": "/tmp/registry", "model_name": "penguins", name: value}
        got = _component_error(lambda: push.push(
            str(tmp_path / "m"), str(tmp_path / "b"), str(tmp_path / "s"),
            str(tmp_path / "st"), output_dir=str(tmp_path / "p"), **args))
        assert got == expected
    expected = _one_problem("monitoring", retrain_on_drift=True, retrain_target="cloud")
    got = _component_error(lambda: retrain.retrain({}, str(tmp_path / "rt"),
                                                   retrain_on_drift=True, target="cloud"))
    assert got == expected
    assert not any((tmp_path / n).exists() for n in ("al", "p", "rt"))


def test_retrain_alone_checks_training_parameters_with_the_training_rules(tmp_path):
    expected = _one_problem("monitoring", retrain_on_drift=True, retrain_data_uri="d.csv",
                            label_column="species", training_parameters={"epochs": 0})
    got = _component_error(lambda: retrain.retrain(
        {"model": {"name": "penguins", "registry": "/tmp/registry"}}, str(tmp_path / "rt"),
        retrain_on_drift=True, retrain_data_uri="d.csv", label_column="species",
        extra_parameters={"epochs": 0}))
    assert got == expected
    assert not (tmp_path / "rt").exists()


def test_registry_names_refuse_trailing_newlines_and_spaces():
    for bad in ("penguins\n", "penguins ", " penguins", "pen\tguins", "penguins\r\n"):
        with pytest.raises(reg.RegistryError, match="model_name .* is not valid"):
            reg.check_model_name(bad)
    for bad in ("champion\n", "champion ", "stag ing"):
        with pytest.raises(reg.RegistryError, match="alias .* is not valid"):
            reg.check_alias(bad)
    assert reg.check_model_name("penguins") == "penguins"
    assert reg.check_version_ref("") == "champion" and reg.check_version_ref(3) == "3"
    for bad in ("３", "3\n", "Champion"):
        with pytest.raises(reg.RegistryError, match="model_version"):
            reg.check_version_ref(bad)


def test_evaluate_metric_lists_cannot_drift():
    import numpy as np

    assert set(evaluate.DIRECTIONS) == set(evaluate.ALL_METRICS)
    y = np.array([0, 1, 1, 0])
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4]])
    out = evaluate.classification_metrics(y, probabilities, ["a", "b"])
    metrics = out[0] if isinstance(out, tuple) else out
    assert set(metrics) == set(evaluate.METRICS["classification"])
    regression = evaluate.regression_metrics(np.array([1.0, 2.0, 3.0]),
                                             np.array([1.5, 2.0, 2.5]))
    assert set(regression) == set(evaluate.METRICS["regression"])
    assert all(math.isfinite(v) for v in regression.values())


# --------------------------------------------------------------------------- light

LIGHT = r"""
import importlib.abc, json, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == h or name.startswith(h + ".") for h in json.loads(sys.argv[1])):
            raise ImportError(f"heavy import of {name!r}")
        return None

sys.meta_path.insert(0, Refuse())
from kfp_mlops.pipelines import preflight
known = json.loads(sys.argv[2])
print(json.dumps(preflight.problems("training", {"data_uri": "d", "label_column": "y",
      "model_name": "m\n", "registry_uri": "/r"}, known)))
"""


def test_preflight_needs_no_kfp_tf_tfdv_or_cloud_sdk():
    from tests.pipelines.test_light_imports import HEAVY

    known = local.pipeline_parameters("training")
    result = subprocess.run([sys.executable, "-c", LIGHT, json.dumps(HEAVY + ["kfp", "fsspec"]),
                             json.dumps(known)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == [
        "model_name 'm\\n' is not valid; use 1-128 letters, digits, '-', '_' or '.', starting "
        "with a letter or digit"]


@pytest.mark.parametrize("changes, problem", [
    ({"runner": "spark"}, "runner 'spark': expected one of local, vertex"),
    ({"rows_per_file": 0}, "rows_per_file must be a positive number of rows, not 0"),
    ({"runner": "vertex", "vertex_destination": "gs://b/out"},
     "runner 'vertex' needs a Vertex AI registry"),
    ({"runner": "vertex", "registry_uri": "vertex://projects/p/locations/europe-west4",
      "vertex_destination": "gs://b/out"}, "a Vertex AI batch prediction reads gs:// objects"),
    ({"csv_delimiter": "ab"}, "csv_delimiter 'ab'"),
])
def test_batch_prediction_rules(changes, problem):
    found = _problems("batch-prediction", **changes)
    assert len(found) == 1 and problem in found[0], found


MAX_SLICE_GAP_CASES = [
    ({"max_slice_gap": {"acuracy": 0.1}}, "max_slice_gap names metric(s) ['acuracy'] that no "
                                          "evaluation computes"),
    ({"max_slice_gap": {"rmse": 1.0}, "task": "classification"},
     "max_slice_gap names metric(s) ['rmse'] that a classification evaluation does not compute"),
    ({"max_slice_gap": {"accuracy": -0.1}}, "max_slice_gap['accuracy']=-0.1: expected a finite "
                                            "number >= 0"),
    ({"max_slice_gap": {"accuracy": NAN}}, "max_slice_gap['accuracy']=nan"),
    ({"min_slice_rows": 0}, "min_slice_rows=0: expected a whole number >= 1"),
    ({"max_slice_gap": {"accuracy": 0.1}, "slice_columns": []},
     "max_slice_gap {'accuracy': 0.1} needs slice_columns"),
]


@pytest.mark.parametrize("changes,message", MAX_SLICE_GAP_CASES,
                         ids=[str(c[0]) for c in MAX_SLICE_GAP_CASES])
def test_a_bad_max_slice_gap_fails_before_any_task(changes, message, tmp_path, no_task):
    out = tmp_path / "out"
    params = {**TRAINING, "slice_columns": ["island"], **changes}
    with pytest.raises(preflight.PreflightError) as caught:
        local.run("training", params, str(out))
    assert len(caught.value.problems) == 1 and message in caught.value.problems[0], \
        caught.value.problems
    assert no_task == [] and not out.exists()
    if "task" in changes:   # evaluate knows the task only once it has read the model
        return
    # evaluate gives the very message at run time, before it reads anything
    got = _component_error(lambda: evaluate.evaluate(
        str(tmp_path / "no-dataset"), str(tmp_path / "no-model"),
        max_slice_gap=params.get("max_slice_gap"), slice_columns=params["slice_columns"],
        min_slice_rows=params.get("min_slice_rows", 10)))
    assert got == caught.value.problems[0]


def test_a_good_max_slice_gap_passes():
    assert _problems("training", max_slice_gap={"accuracy": 0.1, "log_loss": 0.5},
                     min_slice_rows=3, slice_columns=["island"]) == []
