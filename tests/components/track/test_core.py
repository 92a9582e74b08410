"""Track's core on the outputs a training run writes, into a real MLflow SQLite store, and
into Vertex AI Experiments mocked at its classes."""
import json
import os
import re
from unittest import mock

import pytest

from kfp_mlops.components._shared import io, model_io
from kfp_mlops.components.push import core as push_core
from kfp_mlops.components.track import core

SECRET_SOURCE = "https://alice:s3cret@data.example.com/penguins.csv?token=abc123"


def write_run(root, blessed=True, epochs=30, accuracy=0.97, version="1", source="penguins.csv"):
    """The folders one training run leaves: evaluate's blessing, push's record, ingest's
    dataset, validate's schema and train's model metadata."""
    blessing = root / "blessing"
    metrics = {"accuracy": accuracy, "auc": 0.99, "loss": float("nan")}
    io.write_json(str(blessing / push_core.BLESSING_FILE), {
        "blessed": blessed,
        "reasons": ["passed threshold: accuracy 0.97 >= 0.9"] if blessed
        else ["FAILED threshold: accuracy 0.40 < 0.9"],
        "metrics": metrics, "task": "classification", "main_metric": "accuracy",
        "thresholds": {"accuracy": 0.9}, "max_regression": {}, "champion": None})
    io.write_json(str(blessing / push_core.EVALUATION_FILE), {
        "metrics": metrics, "rows": 34, "task": "classification",
        "per_class": {"Adelie": {"precision": 0.95, "recall": None}},
        "slices": {"island": {"Biscoe": {"count": 16, "accuracy": 1.0},
                              "Torgersen=x/..": {"count": 5, "accuracy": 0.8}}}})
    result = push_core.PushResult(
        pushed=blessed, reasons=(["champion=yes: first version"] if blessed else
                                 ["FAILED threshold: accuracy 0.40 < 0.9"]),
        registry=str(root / "registry"), model_name="penguins",
        version=version if blessed else "", champion=blessed)
    io.write_json(str(root / "pushed" / push_core.PUSH_FILE), result.metadata())
    io.write_json(str(root / "dataset" / push_core.DATASET_INFO_FILE), {
        "content_hash": "ab" * 32, "source": source,
        "splits": {"train": 270, "eval": 37, "test": 37}})
    io.write_text(str(root / "schema" / core.SCHEMA_FILE), 'feature { name: "species" }\n')
    os.makedirs(root / "model", exist_ok=True)
    model_io.write_metadata(str(root / "model"), {
        "task": "classification", "label": "species", "trainer": "built-in",
        "hyperparameters": {"epochs": epochs, "batch_size": 32, "learning_rate": 0.005,
                            "hidden_units": [64, 32]}})
    io.write_text(str(root / "report.html"), "<html><body>report</body></html>")
    return root


def collect(root, run="training-20261202-1", **kwargs):
    return core.collect(
        blessing_dir=str(root / "blessing"), pushed_dir=str(root / "pushed"),
        dataset_dir=str(root / "dataset"), schema_dir=str(root / "schema"),
        schema_uri="gs://bucket/root/validate/schema", model_dir=str(root / "model"),
        report_path=str(root / "report.html"), pipeline_run=run, model_name="penguins",
        registry_uri=kwargs.pop("registry_uri", str(root / "registry")), **kwargs)


def test_collect_reads_params_metrics_decision_and_lineage(tmp_path):
    record = collect(write_run(tmp_path))
    assert record.run_name == "training-20261202-1"
    assert record.params["epochs"] == "30" and record.params["learning_rate"] == "0.005"
    assert record.params["hidden_units"] == "[64,32]"
    assert record.params["thresholds"] == '{"accuracy":0.9}'
    assert record.params["slice_columns"] == '["island"]'
    assert record.params["rows.train"] == "270" and record.params["task"] == "classification"
    # NaN and None are not metrics; names MLflow refuses are made acceptable
    assert record.metrics["accuracy"] == 0.97 and "loss" not in record.metrics
    assert record.metrics["count"] == 34.0
    assert record.metrics["class/Adelie/precision"] == 0.95
    assert "class/Adelie/recall" not in record.metrics
    assert record.metrics["slice/island/Biscoe/accuracy"] == 1.0
    assert record.metrics["slice/island/Torgersen_x_../count"] == 5.0
    assert record.tags["blessed"] == "true" and record.tags["pushed"] == "true"
    assert record.tags["registered_version"] == "1"
    assert record.tags["data_content_hash"] == "ab" * 32
    assert record.tags["schema_uri"] == "gs://bucket/root/validate/schema"
    assert record.tags["schema_hash"] == io.sha256_file(str(tmp_path / "schema" / "schema.pbtxt"))
    assert set(record.artifacts) == {"blessing.json", "evaluation.json", "push.json",
                                     "report.html"}


@pytest.mark.parametrize("parts,expected", [
    (("accuracy",), "accuracy"),
    (("slice", "sex", "n/a"), "slice/sex/n_a"),
    (("slice", "island", ".."), "slice/island/__"),
    (("slice", "city", "São Paulo=1"), "slice/city/S_o Paulo_1"),
    (("slice", "", "x:y"), "slice/_/x_y"),
])
def test_metric_names_are_ones_mlflow_takes(parts, expected):
    from mlflow.utils.validation import _validate_metric_name

    assert core.metric_name(*parts) == expected
    _validate_metric_name(expected)   # raises for a name MLflow refuses


def test_a_long_metric_name_keeps_its_head_and_stays_unique():
    a, b = core.metric_name("slice", "x" * 300, "a"), core.metric_name("slice", "x" * 300, "b")
    assert len(a) <= 250 and a.startswith("slice/xxx") and a != b


def test_no_secret_of_a_url_is_recorded(tmp_path):
    record = collect(write_run(tmp_path, source=SECRET_SOURCE))
    text = json.dumps([record.params, record.tags])
    for secret in ("alice", "s3cret", "abc123", "penguins.csv?"):
        assert secret not in text
    assert record.params["data_source"] == "https://data.example.com/…"


def test_missing_inputs_are_named(tmp_path):
    root = write_run(tmp_path)
    os.remove(root / "pushed" / push_core.PUSH_FILE)
    with pytest.raises(core.TrackError, match="holds no push.json; expected the pushed_model"):
        collect(root)
    root = write_run(tmp_path)
    os.remove(root / "schema" / core.SCHEMA_FILE)
    with pytest.raises(core.TrackError, match="holds no schema.pbtxt"):
        collect(root)


def test_blessed_and_unblessed_runs_land_in_one_sqlite_store(tmp_path):
    uri = core.default_tracking_uri(str(tmp_path / "outputs"))
    assert uri == f"sqlite:///{tmp_path}/outputs/mlflow.db"
    first = core.track(collect(write_run(tmp_path / "a"), run="training-1"), uri,
                       output_dir=str(tmp_path / "task1"))
    second = core.track(collect(write_run(tmp_path / "b", blessed=False, epochs=1,
                                          accuracy=0.4), run="training-2"), uri)
    assert first.experiment == "penguins" and first.mlflow_run_id != second.mlflow_run_id
    assert io.read_json(str(tmp_path / "task1" / core.TRACKING_FILE))["mlflow_run_id"] == \
        first.mlflow_run_id

    runs = core.read_runs(uri)
    assert [r["run_name"] for r in runs] == ["training-1", "training-2"]
    assert [r["status"] for r in runs] == ["FINISHED", "FINISHED"]
    assert [r["params"]["epochs"] for r in runs] == ["30", "1"]
    assert [r["metrics"]["accuracy"] for r in runs] == [0.97, 0.4]
    assert [r["tags"]["blessed"] for r in runs] == ["true", "false"]
    assert runs[1]["tags"]["reasons"] == "FAILED threshold: accuracy 0.40 < 0.9"
    assert runs[1]["tags"]["registered_version"] == ""

    # the artifacts sit beside the store, not in ./mlruns of the working folder
    from mlflow.tracking import MlflowClient
    listed = {f.path for f in MlflowClient(uri).list_artifacts(first.mlflow_run_id)}
    assert listed == {"blessing.json", "evaluation.json", "push.json", "report.html"}
    assert os.path.isdir(tmp_path / "outputs" / core.ARTIFACTS_FOLDER)
    assert not os.path.exists("mlruns")


def test_a_retried_task_logs_into_the_same_run(tmp_path):
    uri = core.default_tracking_uri(str(tmp_path))
    record = collect(write_run(tmp_path / "a"), run="training-1")
    assert core.track(record, uri).mlflow_run_id == core.track(record, uri).mlflow_run_id
    assert len(core.read_runs(uri)) == 1


def test_runs_of_one_experiment_and_an_unknown_experiment(tmp_path):
    uri = core.default_tracking_uri(str(tmp_path))
    core.track(collect(write_run(tmp_path / "a"), run="training-1"), uri, experiment="one")
    core.track(collect(write_run(tmp_path / "b"), run="training-2"), uri, experiment="two")
    assert [r["run_name"] for r in core.read_runs(uri, "two")] == ["training-2"]
    with pytest.raises(core.TrackError, match="experiment 'three' is not in .*experiments "
                                              "are: Default, one, two"):
        core.read_runs(uri, "three")


def test_without_a_tracking_uri_nothing_goes_to_mlflow_and_it_says_so(tmp_path):
    result = core.track(collect(write_run(tmp_path)), "")
    assert result.mlflow_run_id == "" and "tracking_uri is empty" in result.notes[0]


def _vertex_mocks():
    from google.cloud import aiplatform

    experiment = mock.create_autospec(aiplatform.Experiment, instance=True, spec_set=True)
    run = mock.create_autospec(aiplatform.ExperimentRun, instance=True, spec_set=True)
    return experiment, run


def test_a_vertex_registry_records_the_run_in_vertex_ai_experiments(tmp_path):
    from google.cloud import aiplatform

    experiment, run = _vertex_mocks()
    record = collect(write_run(tmp_path), run="training-20261202073000",
                     registry_uri="vertex://projects/p1/locations/europe-west4")
    with mock.patch.object(aiplatform, "Experiment", autospec=True, spec_set=True) as exp_cls, \
            mock.patch.object(aiplatform, "ExperimentRun", autospec=True,
                              spec_set=True) as run_cls:
        exp_cls.get_or_create.return_value = experiment
        run_cls.create.return_value = run
        result = core.track(record, "", experiment="Penguins_Prod",
                            registry_uri="vertex://projects/p1/locations/europe-west4")
    exp_cls.get_or_create.assert_called_once_with("penguins-prod", project="p1",
                                                  location="europe-west4")
    run_cls.create.assert_called_once_with("training-20261202073000", experiment=experiment,
                                           project="p1", location="europe-west4")
    params = dict(record.params)
    params.update({f"tag.{k}": v for k, v in record.tags.items()})
    run.log_params.assert_called_once_with(params)
    run.log_metrics.assert_called_once_with(record.metrics)
    run.end_run.assert_called_once_with()
    assert (result.vertex_experiment, result.vertex_run) == ("penguins-prod",
                                                             "training-20261202073000")
    assert result.mlflow_run_id == ""


def test_a_vertex_tracking_uri_alone_and_long_run_names(tmp_path):
    from google.cloud import aiplatform

    experiment, run = _vertex_mocks()
    record = collect(write_run(tmp_path), run="Training_" + "x" * 200)
    with mock.patch.object(aiplatform, "Experiment", autospec=True, spec_set=True) as exp_cls, \
            mock.patch.object(aiplatform, "ExperimentRun", autospec=True,
                              spec_set=True) as run_cls:
        exp_cls.get_or_create.return_value = experiment
        run_cls.create.return_value = run
        result = core.track(record, "vertex://projects/p1/locations/us-central1")
    name = run_cls.create.call_args.args[0]
    assert len("penguins-" + name) == 128 and name.startswith("training-xxx")
    assert result.vertex_run == name
    with pytest.raises(core.TrackError, match="not a Vertex AI URI"):
        core.track(record, "vertex://p1")


@pytest.mark.parametrize("uri", ["", "sqlite:////tmp/x/mlflow.db", "http://127.0.0.1:5000",
                                 "https://mlflow.example.com", "databricks",
                                 "vertex://projects/p1/locations/europe-west4"])
def test_tracking_uris_a_run_can_use(uri):
    core.check_settings(uri, "", "penguins", "")


@pytest.mark.parametrize("uri,experiment,registry,message", [
    ("mlflow.example.com:5000", "", "", "expected an MLflow tracking URI"),
    ("ftp://user:pw@host/x", "", "", "'ftp://host/…'"),   # shown without its secret
    ("vertex://projects/p1", "", "", "not a Vertex AI URI"),
    ("", "___", "vertex://projects/p/locations/r", "no letter or digit"),
    ("", "x" * 501, "", "at most 500 characters"),
])
def test_tracking_settings_refused_before_the_run(uri, experiment, registry, message):
    with pytest.raises(core.TrackError, match=re.escape(message)):
        core.check_settings(uri, experiment, "penguins", registry)


def test_preflight_names_a_bad_tracking_uri_before_the_first_task():
    from kfp_mlops.pipelines import preflight

    with pytest.raises(preflight.PreflightError, match="tracking_uri 'localhost:5000'"):
        preflight.check("training", {"data_uri": "d.csv", "label_column": "species",
                                     "model_name": "penguins", "registry_uri": "reg",
                                     "tracking_uri": "localhost:5000"})


def test_a_tracking_uri_with_a_password_is_never_recorded(tmp_path):
    assert core.shown_uri("postgresql://mlflow:pw123@db.example.com:5432/mlflow") == \
        "postgresql://db.example.com:5432/…"
    assert core.shown_uri("https://tok:en@mlflow.example.com") == "https://mlflow.example.com/…"
    assert core.shown_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    uri = core.default_tracking_uri(str(tmp_path))
    assert core.shown_uri(uri) == uri
