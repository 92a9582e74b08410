"""``kfp-mlops runs`` on a real MLflow SQLite store written by track's core."""
import json

import pytest

from kfp_mlops.components.track import core
from kfp_mlops.pipelines import cli, local, runs_cli
from tests.components.track.test_core import collect, write_run


@pytest.fixture
def store(tmp_path):
    out = tmp_path / "outputs"
    uri = local.with_local_tracking("training", {}, str(out))["tracking_uri"]
    core.track(collect(write_run(tmp_path / "a"), run="training-2026-12-02-07-00-00-000001"),
               uri)
    core.track(collect(write_run(tmp_path / "b", blessed=False, epochs=1, accuracy=0.4),
                       run="training-2026-12-02-07-10-00-000002"), uri)
    return out, uri


def test_a_local_run_records_in_its_output_folder(tmp_path):
    given = {"tracking_uri": "http://mlflow.example.com:5000"}
    assert local.with_local_tracking("training", given, str(tmp_path)) == given
    assert local.with_local_tracking("training", {}, str(tmp_path)) == {
        "tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"}
    # a pipeline without tracking is left alone
    assert local.with_local_tracking("data-validation", {}, str(tmp_path)) == {}


@pytest.mark.parametrize("pipeline", ["monitoring", "performance-monitoring"])
def test_a_local_retraining_records_in_the_monitoring_runs_folder(tmp_path, pipeline):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    assert local.with_local_tracking(pipeline, {"training_parameters": {"epochs": 3}},
                                     str(tmp_path)) == {
        "training_parameters": {"epochs": 3, "tracking_uri": store}}
    assert local.with_local_tracking(pipeline, {}, str(tmp_path)) == {
        "training_parameters": {"tracking_uri": store}}
    # the user's store wins; a retraining on Vertex AI records where the training says
    given = {"training_parameters": {"tracking_uri": "http://127.0.0.1:5000"}}
    assert local.with_local_tracking(pipeline, given, str(tmp_path)) == given
    vertex = {"retrain_target": "vertex"}
    assert local.with_local_tracking(pipeline, vertex, str(tmp_path)) == vertex


def test_runs_prints_the_runs_side_by_side(store, capsys):
    out, _ = store
    assert cli.main(["runs", "--output-dir", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "2 run(s)"
    # whole run names do not fit a cell: the middle goes, the distinguishing tail stays
    assert "training-2026…7-00-00-000001" in lines[2]
    assert "training-2026…7-10-00-000002" in lines[2]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("  ")
            and len(line.split()) == 3}
    assert rows["epochs"] == ["30", "1"] and rows["accuracy"] == ["0.97", "0.4"]
    assert rows["registry_uri"][0].endswith("a/registry")   # differs: two folders
    assert "batch_size" not in text and "learning_rate" not in text
    assert rows["blessed"] == ["yes", "no"] and rows["version"] == ["1", "-"]
    assert "(5 per class and per slice: --all-metrics)" in text
    assert text.rstrip().endswith("- FAILED threshold: accuracy 0.40 < 0.9")

    assert cli.main(["runs", "--output-dir", str(out), "--all-metrics"]) == 0
    assert "  slice/island/Biscoe/accuracy" in capsys.readouterr().out


def test_runs_as_json_and_of_one_experiment(store, capsys):
    _, uri = store
    assert cli.main(["runs", "--tracking-uri", uri, "--experiment", "penguins", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["params"]["epochs"] for r in runs] == ["30", "1"]
    assert [r["tags"]["blessed"] for r in runs] == ["true", "false"]
    assert cli.main(["runs", "--tracking-uri", uri, "--experiment", "nope"]) == 2
    assert "experiment 'nope' is not in" in capsys.readouterr().err


def test_runs_names_a_folder_without_a_store(tmp_path, capsys):
    assert cli.main(["runs", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds no mlflow.db: no run was recorded there" in err
    assert not (tmp_path / "mlflow.db").exists()      # reading made no store


def test_one_run_and_runs_with_the_same_parameters():
    run = {"run_name": "r1", "experiment": "e", "status": "FINISHED",
           "params": {"epochs": "3"}, "metrics": {"accuracy": 0.5},
           "tags": {"blessed": "true", "reasons": ""}}
    assert "parameters: (one run)" in runs_cli.format_runs([run])
    assert "(none: every parameter is the same)" in runs_cli.format_runs([run, dict(run)])
    assert runs_cli.format_runs([]) == "No runs recorded yet."
    assert runs_cli.differing([{"a": "1", "b": "2"}, {"a": "1"}]) == ["b"]
