"""`kfp-mlops submit` and `publish`: the exact calls sent to Vertex AI, Kubeflow and the
Artifact Registry, with only those client classes mocked."""
import json
import os
import pathlib
import re
import subprocess
from unittest import mock

import pytest
import yaml

from kfp_mlops.pipelines import __version__, catalog, cloud
from tests.pipelines.cloud_helpers import mocked_clients, run_cli

REGISTRY = "europe-docker.pkg.dev/my-project/images"
TAG = "abc1234"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _vertex_args(spec_dir, *extra):
    return ["submit", "data-validation", "--vertex", "--project", "my-project",
            "--region", "europe-west4", "--pipeline-root", "gs://my-bucket/pipeline-root",
            "--image-registry", REGISTRY, "--image-tag", TAG, "--spec-dir", str(spec_dir),
            "--param", "data_uri=gs://my-bucket/data/penguins.csv",
            "--param", "label_column=species",
            "--param", "split_ratios=[0.7, 0.2, 0.1]",
            "--param", "skew_threshold=0.25",
            "--param", "fail_on_anomalies=false", *extra]


def _kubeflow_args(spec_dir, *extra):
    return ["submit", "data-validation", "--kubeflow", "--host", "https://kfp.example.com/",
            "--spec-dir", str(spec_dir), "--param", "data_uri=s3://my-bucket/penguins.csv",
            *extra]


EXPECTED_PARAMETERS = {"data_uri": "gs://my-bucket/data/penguins.csv", "label_column": "species",
                       "split_ratios": [0.7, 0.2, 0.1], "skew_threshold": 0.25,
                       "fail_on_anomalies": False}


def _spec_images(path):
    spec = yaml.safe_load(open(path))
    return {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}


#: The commit of :func:`known_checkout`: its content, author, committer and dates are fixed, so
#: its SHA-1 is too.
KNOWN_COMMIT = "306aa22"


@pytest.fixture
def known_checkout(tmp_path_factory, monkeypatch):
    """A git checkout with one known commit holding ``pipelines/cloud.py``; ``cloud`` is made
    to live there, so the commit it labels runs with is the known one."""
    repo = tmp_path_factory.mktemp("checkout")
    (repo / "pipelines").mkdir()
    (repo / "pipelines" / "cloud.py").write_text("x\n")
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+0000",
           "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+0000"}
    git = ["git", "-c", "user.name=kfp-mlops", "-c", "user.email=tests@example.com",
           "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    for argv in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "known"]):
        subprocess.run(git + argv, cwd=repo, env=env, check=True, capture_output=True)
    monkeypatch.setattr(cloud, "__file__", str(repo / "pipelines" / "cloud.py"))
    return repo


def test_vertex_submit_sends_the_exact_job(tmp_path, capsys, known_checkout):
    with mocked_clients() as clients:
        job = clients.job.return_value
        job.resource_name = "projects/1/locations/europe-west4/pipelineJobs/dv-1"
        job._dashboard_uri.return_value = "https://console.cloud.google.com/vertex-ai/x"
        assert run_cli(_vertex_args(tmp_path, "--no-cache", "--service-account",
                                    "runner@my-project.iam.gserviceaccount.com",
                                    "--run-name", "nightly-check",
                                    "--experiment", "penguins-checks")) == 0

    spec = str(tmp_path / "data-validation.yaml")
    clients.job.assert_called_once_with(
        display_name="nightly-check",
        template_path=spec,
        pipeline_root="gs://my-bucket/pipeline-root",
        parameter_values=EXPECTED_PARAMETERS,
        enable_caching=False,
        labels={"kfp-mlops-version": __version__.replace(".", "-"),
                "git-commit": KNOWN_COMMIT},
        project="my-project",
        location="europe-west4",
    )
    job.submit.assert_called_once_with(
        service_account="runner@my-project.iam.gserviceaccount.com",
        experiment="penguins-checks")
    clients.schedule.assert_not_called()
    assert _spec_images(spec) == {f"{REGISTRY}/kfp-mlops-python:{TAG}"}
    out = capsys.readouterr().out
    assert "projects/1/locations/europe-west4/pipelineJobs/dv-1" in out
    assert "https://console.cloud.google.com/vertex-ai/x" in out


def test_vertex_defaults_cache_and_account_and_commit_override(tmp_path):
    with mocked_clients() as clients:
        assert run_cli(_vertex_args(tmp_path, "--git-commit", "0123abc")) == 0
    kwargs = clients.job.call_args.kwargs
    assert kwargs["enable_caching"] is None  # the spec's per-task settings
    assert kwargs["display_name"] == "data-validation"
    assert kwargs["labels"]["git-commit"] == "0123abc"
    clients.job.return_value.submit.assert_called_once_with(service_account=None,
                                                            experiment=None)


def test_kubeflow_submit_sends_the_exact_run(tmp_path, capsys):
    with mocked_clients() as clients:
        client = clients.kfp.return_value
        client.create_run_from_pipeline_package.return_value.run_id = "run-42"
        assert run_cli(_kubeflow_args(tmp_path, "--namespace", "team-a", "--experiment", "dv",
                                      "--run-name", "try-1", "--service-account", "pipeline-runner",
                                      "--image-tag", TAG, "--no-cache")) == 0
    spec = str(tmp_path / "data-validation.yaml")
    clients.kfp.assert_called_once_with(host="https://kfp.example.com", namespace="team-a")
    client.create_run_from_pipeline_package.assert_called_once_with(
        pipeline_file=spec, arguments={"data_uri": "s3://my-bucket/penguins.csv"},
        run_name="try-1", experiment_name="dv", enable_caching=False,
        service_account="pipeline-runner")
    # only the tag was given: images stay at the default registry
    from kfp_mlops import images
    assert _spec_images(spec) == {f"{images.DEFAULT_REGISTRY}/kfp-mlops-python:{TAG}"}
    out = capsys.readouterr().out
    assert "run-42" in out and "https://kfp.example.com/#/runs/details/run-42" in out


@pytest.mark.parametrize("flags,expected", [((), None), (("--cache",), True),
                                            (("--no-cache",), False)])
@pytest.mark.parametrize("target", ["vertex", "kubeflow"])
def test_caching_is_the_compiled_settings_unless_overridden(target, flags, expected, tmp_path):
    """None: aiplatform.PipelineJob and kfp.Client keep each task's compiled cachingOptions;
    a bool would override every task, turning caching on for monitoring."""
    args = (_vertex_args if target == "vertex" else _kubeflow_args)(tmp_path, *flags)
    with mocked_clients() as clients:
        clients.kfp.return_value.create_run_from_pipeline_package.return_value.run_id = "r"
        assert run_cli(args) == 0
    if target == "vertex":
        assert clients.job.call_args.kwargs["enable_caching"] is expected
    else:
        run = clients.kfp.return_value.create_run_from_pipeline_package
        assert run.call_args.kwargs["enable_caching"] is expected


def test_cache_and_no_cache_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_cli(_vertex_args(tmp_path, "--cache", "--no-cache"))
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["vertex", "kubeflow"])
def test_dry_run_prints_the_call_and_sends_nothing(target, tmp_path, capsys):
    args = (_vertex_args(tmp_path, "--dry-run", "--git-commit", "feed123", "--experiment",
                         "penguins-checks") if target == "vertex"
            else _kubeflow_args(tmp_path, "--dry-run"))
    with mocked_clients() as clients:
        assert run_cli(args) == 0
    clients.job.assert_not_called()
    clients.kfp.assert_not_called()
    printed = json.loads(capsys.readouterr().out)
    spec = str(tmp_path / "data-validation.yaml")
    assert os.path.isfile(spec)
    if target == "vertex":
        assert printed == {
            "action": "run", "target": "vertex", "spec": spec,
            "job": {"display_name": "data-validation", "template_path": spec,
                    "pipeline_root": "gs://my-bucket/pipeline-root",
                    "parameter_values": EXPECTED_PARAMETERS, "enable_caching": None,
                    "labels": {"kfp-mlops-version": __version__.replace(".", "-"),
                               "git-commit": "feed123"},
                    "project": "my-project", "location": "europe-west4"},
            "submit": {"service_account": None, "experiment": "penguins-checks"}}
    else:
        assert printed == {
            "action": "run", "target": "kubeflow", "spec": spec,
            "client": {"host": "https://kfp.example.com", "namespace": None},
            "run": {"pipeline_file": spec, "arguments": {"data_uri": "s3://my-bucket/penguins.csv"},
                    "run_name": None, "experiment_name": None, "enable_caching": None,
                    "service_account": None}}


@pytest.mark.parametrize("change,message", [
    (("--pipeline-root", "/local/root"), "needs a Cloud Storage folder"),
    (("--project", "My Project"), "expected a Google Cloud project id"),
    (("--region", "europe"), "expected a Google Cloud region"),
    (("--service-account", "runner"), "expected an e-mail"),
    (("--image-tag", "latest"), "not 'latest'"),
    (("--param", "skew_threshold=high"), "skew_threshold='high': expected a Float"),
    (("--param", "nope=1"), "has no parameter 'nope'"),
    (("--param", "data_uri=data/penguins.csv"), "--param data_uri=data/penguins.csv: a local "
                                                "path exists only on this machine"),
    (("--experiment", "Penguins"), "a Vertex AI experiment name has 4 to 128 lowercase"),
    (("--experiment", "abc"), "--experiment 'abc'"),
    (("--experiment", "my_experiment"), "--experiment 'my_experiment'"),
    (("--experiment", "e" * 129), "a Vertex AI experiment name"),
])
def test_vertex_bad_inputs_fail_before_anything_is_compiled(change, message, tmp_path, capsys):
    args = _vertex_args(tmp_path / "specs")
    flag, value = change
    if flag == "--param" and value.startswith("data_uri="):
        args[args.index("data_uri=gs://my-bucket/data/penguins.csv")] = value
    elif flag in args and flag != "--param":
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    with mocked_clients() as clients:
        assert run_cli(args) == 2
    clients.job.assert_not_called()
    assert message in capsys.readouterr().err
    assert not (tmp_path / "specs").exists()


def test_vertex_needs_its_options(tmp_path, capsys):
    assert run_cli(["submit", "data-validation", "--vertex", "--project", "my-project",
                    "--param", "data_uri=x", "--spec-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "--region, --pipeline-root, --image-registry" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("args,message", [
    (["--host", "kfp.example.com"], "expected the Kubeflow Pipelines endpoint"),
    ([], "needs --host"),
])
def test_kubeflow_bad_host(args, message, tmp_path, capsys):
    with mocked_clients() as clients:
        assert run_cli(["submit", "data-validation", "--kubeflow", "--param", "data_uri=x",
                        "--spec-dir", str(tmp_path / "s"), *args]) == 2
    clients.kfp.assert_not_called()
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_required_parameter_and_unknown_pipeline(tmp_path, capsys):
    assert run_cli(_kubeflow_args(tmp_path)[:-2]) == 2  # no data_uri
    assert "needs --param for data_uri" in capsys.readouterr().err
    args = _kubeflow_args(tmp_path)
    args[1] = "no-such-pipeline"
    assert run_cli(args) == 2
    assert "unknown pipeline 'no-such-pipeline'" in capsys.readouterr().err


def test_one_target_only(tmp_path):
    with pytest.raises(SystemExit):
        run_cli(_kubeflow_args(tmp_path, "--vertex"))


# ------------------------------------------------- locations the run's tasks must reach

VERTEX_REGISTRY = "vertex://projects/my-project/locations/europe-west4"


@pytest.mark.parametrize("target,name,value", [
    # object stores and Vertex AI Model Registry: everywhere
    *[(t, "registry_uri", v) for t in ("vertex", "kubeflow")
      for v in ("gs://bucket/registry", "s3://bucket/registry", VERTEX_REGISTRY)],
    *[(t, "data_uri", v) for t in ("vertex", "kubeflow")
      for v in ("gs://bucket/data/*.csv", "s3://bucket/data/", "bq://p.d.t",
                "SELECT * FROM `p.d.t`", "  with x as (select 1) select * from x")],
    *[(t, "retrain_data_uri", v) for t in ("vertex", "kubeflow")
      for v in ("gs://bucket/labelled.csv", "bq://p.d.labelled")],
    *[(t, "schema_uri", v) for t in ("vertex", "kubeflow")
      for v in ("", "gs://bucket/schema.pbtxt", "s3://bucket/schema.pbtxt")],
    *[(t, "training_template_uri", v) for t in ("vertex", "kubeflow")
      for v in ("gs://bucket/training.yaml",
                "https://europe-west4-kfp.pkg.dev/p/repo/training/v1")],
    *[(t, "trainer_module", v) for t in ("vertex", "kubeflow")
      for v in ("", "my_package.trainer", "gs://bucket/trainer.py")],
    # the Cloud Storage mount exists inside Vertex AI tasks
    ("vertex", "registry_uri", "/gcs/bucket/registry"),
    ("vertex", "data_uri", "/gcs/bucket/data.csv"),
    ("vertex", "schema_uri", "/gcs/bucket/schema.pbtxt"),
    ("vertex", "training_template_uri", "/gcs/bucket/training.yaml"),
    ("vertex", "trainer_module", "/gcs/bucket/trainer.py"),
])
def test_locations_a_remote_task_reaches(target, name, value):
    cloud.check_locations(target, {name: value})


@pytest.mark.parametrize("target,name,value,message", [
    *[(t, "registry_uri", v, "a local path exists only on this machine")
      for t in ("vertex", "kubeflow")
      for v in ("local_registry", "/srv/registry", "file:///srv/registry", "./reg")],
    ("kubeflow", "registry_uri", "/gcs/bucket/registry", "a Kubeflow pod has no such mount"),
    *[(t, "data_uri", v, "a local path exists only on this machine")
      for t in ("vertex", "kubeflow")
      for v in ("pipelines/data/penguins.csv", "/data/*.csv", "file:///data/x.parquet")],
    ("kubeflow", "data_uri", "/gcs/bucket/data.csv", "a Kubeflow pod has no such mount"),
    ("vertex", "retrain_data_uri", "penguins.csv", "a local path"),
    ("kubeflow", "retrain_data_uri", "/gcs/b/penguins.csv", "no such mount"),
    ("vertex", "schema_uri", "schema.pbtxt", "a local path"),
    ("kubeflow", "schema_uri", "/gcs/b/schema.pbtxt", "no such mount"),
    ("vertex", "training_template_uri", "build/pipelines/training.yaml", "a local path"),
    ("kubeflow", "training_template_uri", "/gcs/b/training.yaml", "no such mount"),
    ("vertex", "trainer_module", "my_trainer.py", "a local path"),
    ("kubeflow", "trainer_module", "src/trainer.py", "a local path"),
])
def test_locations_a_remote_task_cannot_reach(target, name, value, message):
    with pytest.raises(ValueError) as error:
        cloud.check_locations(target, {name: value, "model_name": "penguins"})
    text = str(error.value)
    assert text.startswith(f"--param {name}={value}: ") and message in text
    where = "Vertex AI" if target == "vertex" else "Kubeflow"
    assert f"on {where} use " in text


def test_what_works_is_named_for_the_registry():
    with pytest.raises(ValueError) as kubeflow:
        cloud.check_locations("kubeflow", {"registry_uri": "/gcs/b/reg"})
    assert str(kubeflow.value) == (
        "--param registry_uri=/gcs/b/reg: /gcs/ is where Vertex AI mounts Cloud Storage inside "
        "its tasks; a Kubeflow pod has no such mount; on Kubeflow use s3://bucket/folder "
        "(MinIO, Kubeflow's artifact store), gs://bucket/folder or "
        "vertex://projects/PROJECT/locations/REGION")
    with pytest.raises(ValueError) as vertex:
        cloud.check_locations("vertex", {"registry_uri": "local_registry"})
    assert str(vertex.value) == (
        "--param registry_uri=local_registry: a local path exists only on this machine, not "
        "where the tasks of a Vertex AI run run; on Vertex AI use gs://bucket/folder (or "
        "/gcs/bucket/folder, its mount inside Vertex AI tasks), s3://bucket/folder or "
        "vertex://projects/PROJECT/locations/REGION")


def test_parameters_that_name_no_location_are_left_alone():
    cloud.check_locations("kubeflow", {"model_name": "penguins/v1", "label_column": "./x",
                                       "webhook_url": "/hook", "epochs": 3})
    with pytest.raises(ValueError, match="unknown target 'local'"):
        cloud.check_locations("local", {})


@pytest.mark.parametrize("target", ["vertex", "kubeflow"])
def test_submit_refuses_a_registry_that_would_not_persist(target, tmp_path, capsys):
    common = ["--param", "label_column=species", "--param", "model_name=penguins",
              "--param", "registry_uri=local_registry", "--spec-dir", str(tmp_path / "s")]
    if target == "vertex":
        args = ["submit", "training", "--vertex", "--project", "my-project", "--region",
                "europe-west4", "--pipeline-root", "gs://my-bucket/root", "--image-registry",
                REGISTRY, "--param", "data_uri=gs://my-bucket/d.csv", *common]
    else:
        args = ["submit", "training", "--kubeflow", "--host", "http://localhost:8080",
                "--param", "data_uri=s3://my-bucket/d.csv", *common]
    with mocked_clients() as clients:
        assert run_cli(args) == 2
    clients.job.assert_not_called()
    clients.kfp.assert_not_called()
    assert "--param registry_uri=local_registry: a local path" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_labels_follow_label_rules(tmp_path, known_checkout):
    assert cloud.run_labels(commit="ABC123")["git-commit"] == "abc123"
    assert cloud.git_commit(str(tmp_path)) == "unknown"  # not a checkout
    site = tmp_path / "lib" / "site-packages" / "kfp_mlops"
    site.mkdir(parents=True)
    assert cloud.git_commit(str(site)) == "unknown"
    # the checkout holding the package (by default), or the one holding a given folder
    assert cloud.git_commit() == KNOWN_COMMIT
    assert cloud.git_commit(str(known_checkout / "pipelines")) == KNOWN_COMMIT
    assert cloud.run_labels()["git-commit"] == KNOWN_COMMIT


# ------------------------------------------------------------------------------ publish

def registry_client():
    """``kfp.registry.RegistryClient`` (Artifact Registry) as an autospec of the real class,
    patched where ``upload`` imports it."""
    from kfp import registry

    return mock.patch.object(registry, "RegistryClient",
                             mock.create_autospec(registry.RegistryClient))


def _publish_args(spec_dir, *extra):
    return ["publish", "--project", "my-project", "--region", "europe-west4",
            "--repository", "templates", "--image-registry", REGISTRY, "--image-tag", TAG,
            "--spec-dir", str(spec_dir), *extra]


def test_publish_uploads_every_pipeline_with_version_and_latest(tmp_path, capsys):
    with registry_client() as client_class:
        client = client_class.return_value
        client.upload_pipeline.side_effect = [(name, f"sha256:{i:02d}")
                                              for i, name in enumerate(catalog.names())]
        assert run_cli(_publish_args(tmp_path, "--tag", TAG)) == 0
    client_class.assert_called_once_with(
        host="https://europe-west4-kfp.pkg.dev/my-project/templates")
    calls = client.upload_pipeline.call_args_list
    assert [c.kwargs["file_name"] for c in calls] == [str(tmp_path / f"{name}.yaml")
                                                       for name in catalog.names()]
    for c in calls:
        assert c.kwargs["tags"] == [__version__, "latest", TAG]
        description = c.kwargs["extra_headers"]["description"]
        assert description and "\n" not in description
        assert _spec_images(c.kwargs["file_name"]) <= {f"{REGISTRY}/kfp-mlops-python:{TAG}",
                                                       f"{REGISTRY}/kfp-mlops-python-slim:{TAG}"}
    validation = calls[catalog.names().index("data-validation")]
    assert "Reads tabular data" in validation.kwargs["extra_headers"]["description"]
    out = capsys.readouterr().out
    assert f"training version sha256:{catalog.names().index('training'):02d}" in out


def test_publish_dry_run_and_one_pipeline(tmp_path, capsys):
    with registry_client() as client_class:
        assert run_cli(_publish_args(tmp_path, "--pipeline", "training", "--dry-run")) == 0
    client_class.assert_not_called()
    printed = json.loads(capsys.readouterr().out)
    assert printed["client"] == {"host": "https://europe-west4-kfp.pkg.dev/my-project/templates"}
    assert [u["file_name"] for u in printed["uploads"]] == [str(tmp_path / "training.yaml")]
    assert printed["uploads"][0]["tags"] == [__version__, "latest"]


@pytest.mark.parametrize("change,message", [
    (("--repository", "Bad_Repo"), "expected an Artifact Registry repository"),
    (("--tag", "bad tag"), "template tag 'bad tag'"),
    (("--pipeline", "nope"), "unknown pipeline 'nope'"),
])
def test_publish_bad_inputs(change, message, tmp_path, capsys):
    args = _publish_args(tmp_path / "s")
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += list(change)
    with registry_client() as client_class:
        assert run_cli(args) == 2
    client_class.assert_not_called()
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_publish_needs_a_registry(tmp_path):
    args = _publish_args(tmp_path)
    i = args.index("--image-registry")
    with pytest.raises(SystemExit):
        run_cli(args[:i] + args[i + 2:])


def test_help_of_every_cloud_command(capsys):
    for command in ("submit", "schedule", "publish", "components"):
        with pytest.raises(SystemExit) as exit_info:
            run_cli([command, "--help"])
        assert exit_info.value.code == 0
        assert re.search(rf"usage: kfp-mlops {command}", capsys.readouterr().out)


def test_vertex_submit_of_training_records_the_run_in_the_same_experiment(tmp_path):
    """``--experiment``: the PipelineJob is associated with the Vertex AI experiment
    (``PipelineJob.submit(experiment=...)``), and the track task records the run under the
    same name unless ``--param experiment=`` names another."""
    args = ["submit", "training", "--vertex", "--project", "my-project",
            "--region", "europe-west4", "--pipeline-root", "gs://my-bucket/pipeline-root",
            "--image-registry", REGISTRY, "--image-tag", TAG, "--spec-dir", str(tmp_path),
            "--param", "data_uri=gs://my-bucket/data/penguins.csv",
            "--param", "label_column=species", "--param", "model_name=penguins",
            "--param", "registry_uri=vertex://projects/my-project/locations/europe-west4",
            "--experiment", "penguins-prod"]
    with mocked_clients() as clients:
        job = clients.job.return_value
        job.resource_name = "projects/1/locations/europe-west4/pipelineJobs/training-1"
        job._dashboard_uri.return_value = "https://console.cloud.google.com/vertex-ai/x"
        assert run_cli(args) == 0
        assert run_cli(args + ["--param", "experiment=penguins-tracked"]) == 0
    first, second = clients.job.call_args_list
    assert first.kwargs["parameter_values"]["experiment"] == "penguins-prod"
    assert second.kwargs["parameter_values"]["experiment"] == "penguins-tracked"
    assert job.submit.call_args_list == [
        mock.call(service_account=None, experiment="penguins-prod")] * 2
