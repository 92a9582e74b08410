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
from tests.pipelines.cloud_helpers import run_cli

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
            "--spec-dir", str(spec_dir), "--param", "data_uri=/data/penguins.csv", *extra]


EXPECTED_PARAMETERS = {"data_uri": "gs://my-bucket/data/penguins.csv", "label_column": "species",
                       "split_ratios": [0.7, 0.2, 0.1], "skew_threshold": 0.25,
                       "fail_on_anomalies": False}


def _spec_images(path):
    spec = yaml.safe_load(open(path))
    return {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}


def _head_commit():
    """The checkout's short commit; "unknown" where the source is no git checkout (a
    Cloud Build source upload has no .git)."""
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                            capture_output=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def test_vertex_submit_sends_the_exact_job(tmp_path, capsys):
    with mock.patch("google.cloud.aiplatform.PipelineJob") as job_class:
        job = job_class.return_value
        job.resource_name = "projects/1/locations/europe-west4/pipelineJobs/dv-1"
        job._dashboard_uri.return_value = "https://console.cloud.google.com/vertex-ai/x"
        assert run_cli(_vertex_args(tmp_path, "--no-cache", "--service-account",
                                    "runner@my-project.iam.gserviceaccount.com",
                                    "--run-name", "nightly-check")) == 0

    spec = str(tmp_path / "data-validation.yaml")
    job_class.assert_called_once_with(
        display_name="nightly-check",
        template_path=spec,
        pipeline_root="gs://my-bucket/pipeline-root",
        parameter_values=EXPECTED_PARAMETERS,
        enable_caching=False,
        labels={"kfp-mlops-version": __version__.replace(".", "-"),
                "git-commit": _head_commit()},
        project="my-project",
        location="europe-west4",
    )
    job.submit.assert_called_once_with(
        service_account="runner@my-project.iam.gserviceaccount.com")
    assert _spec_images(spec) == {f"{REGISTRY}/kfp-mlops-python:{TAG}"}
    out = capsys.readouterr().out
    assert "projects/1/locations/europe-west4/pipelineJobs/dv-1" in out
    assert "https://console.cloud.google.com/vertex-ai/x" in out


def test_vertex_defaults_cache_and_account_and_commit_override(tmp_path):
    with mock.patch("google.cloud.aiplatform.PipelineJob") as job_class:
        assert run_cli(_vertex_args(tmp_path, "--git-commit", "0123abc")) == 0
    kwargs = job_class.call_args.kwargs
    assert kwargs["enable_caching"] is True
    assert kwargs["display_name"] == "data-validation"
    assert kwargs["labels"]["git-commit"] == "0123abc"
    job_class.return_value.submit.assert_called_once_with(service_account=None)


def test_kubeflow_submit_sends_the_exact_run(tmp_path, capsys):
    with mock.patch("kfp.Client") as client_class:
        client = client_class.return_value
        client.create_run_from_pipeline_package.return_value.run_id = "run-42"
        assert run_cli(_kubeflow_args(tmp_path, "--namespace", "team-a", "--experiment", "dv",
                                      "--run-name", "try-1", "--service-account", "pipeline-runner",
                                      "--image-tag", TAG, "--no-cache")) == 0
    spec = str(tmp_path / "data-validation.yaml")
    client_class.assert_called_once_with(host="https://kfp.example.com", namespace="team-a")
    client.create_run_from_pipeline_package.assert_called_once_with(
        pipeline_file=spec, arguments={"data_uri": "/data/penguins.csv"}, run_name="try-1",
        experiment_name="dv", enable_caching=False, service_account="pipeline-runner")
    # only the tag was given: images stay at the default registry
    from kfp_mlops import images
    assert _spec_images(spec) == {f"{images.DEFAULT_REGISTRY}/kfp-mlops-python:{TAG}"}
    out = capsys.readouterr().out
    assert "run-42" in out and "https://kfp.example.com/#/runs/details/run-42" in out


@pytest.mark.parametrize("target", ["vertex", "kubeflow"])
def test_dry_run_prints_the_call_and_sends_nothing(target, tmp_path, capsys):
    args = (_vertex_args(tmp_path, "--dry-run", "--git-commit", "feed123") if target == "vertex"
            else _kubeflow_args(tmp_path, "--dry-run"))
    with mock.patch("google.cloud.aiplatform.PipelineJob") as job_class, \
            mock.patch("kfp.Client") as client_class:
        assert run_cli(args) == 0
    job_class.assert_not_called()
    client_class.assert_not_called()
    printed = json.loads(capsys.readouterr().out)
    spec = str(tmp_path / "data-validation.yaml")
    assert printed["target"] == target
    assert printed["spec"] == spec and os.path.isfile(spec)
    if target == "vertex":
        assert printed["job"]["template_path"] == spec
        assert printed["job"]["parameter_values"] == EXPECTED_PARAMETERS
        assert printed["job"]["labels"] == {"kfp-mlops-version": __version__.replace(".", "-"),
                                            "git-commit": "feed123"}
        assert printed["submit"] == {"service_account": None}
    else:
        assert printed["client"] == {"host": "https://kfp.example.com", "namespace": None}
        assert printed["run"]["pipeline_file"] == spec
        assert printed["run"]["enable_caching"] is True


@pytest.mark.parametrize("change,message", [
    (("--pipeline-root", "/local/root"), "needs a Cloud Storage folder"),
    (("--project", "My Project"), "expected a Google Cloud project id"),
    (("--region", "europe"), "expected a Google Cloud region"),
    (("--service-account", "runner"), "expected an e-mail"),
    (("--image-tag", "latest"), "not 'latest'"),
    (("--param", "skew_threshold=high"), "skew_threshold='high': expected a Float"),
    (("--param", "nope=1"), "has no parameter 'nope'"),
])
def test_vertex_bad_inputs_fail_before_anything_is_compiled(change, message, tmp_path, capsys):
    args = _vertex_args(tmp_path / "specs")
    flag, value = change
    if flag in args and flag != "--param":
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    with mock.patch("google.cloud.aiplatform.PipelineJob") as job_class:
        assert run_cli(args) == 2
    job_class.assert_not_called()
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
    with mock.patch("kfp.Client") as client_class:
        assert run_cli(["submit", "data-validation", "--kubeflow", "--param", "data_uri=x",
                        "--spec-dir", str(tmp_path / "s"), *args]) == 2
    client_class.assert_not_called()
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


def test_labels_follow_label_rules(tmp_path):
    assert cloud.label_value("0.1.0") == "0-1-0"
    assert cloud.label_value("1.2.0+Local.Build") == "1-2-0-local-build"
    assert len(cloud.label_value("x" * 100)) == 63
    assert cloud.git_commit(str(tmp_path)) == "unknown"  # not a checkout
    site = tmp_path / "lib" / "site-packages" / "kfp_mlops"
    site.mkdir(parents=True)
    assert cloud.git_commit(str(site)) == "unknown"
    assert cloud.git_commit() == _head_commit()


# ------------------------------------------------------------------------------ publish

def _publish_args(spec_dir, *extra):
    return ["publish", "--project", "my-project", "--region", "europe-west4",
            "--repository", "templates", "--image-registry", REGISTRY, "--image-tag", TAG,
            "--spec-dir", str(spec_dir), *extra]


def test_publish_uploads_every_pipeline_with_version_and_latest(tmp_path, capsys):
    with mock.patch("kfp.registry.RegistryClient") as client_class:
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
    assert "Reads tabular data" in calls[0].kwargs["extra_headers"]["description"]
    out = capsys.readouterr().out
    assert f"training version sha256:{catalog.names().index('training'):02d}" in out


def test_publish_dry_run_and_one_pipeline(tmp_path, capsys):
    with mock.patch("kfp.registry.RegistryClient") as client_class:
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
    with mock.patch("kfp.registry.RegistryClient") as client_class:
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
    for command in ("submit", "publish", "components"):
        with pytest.raises(SystemExit) as exit_info:
            run_cli([command, "--help"])
        assert exit_info.value.code == 0
        assert re.search(rf"usage: kfp-mlops {command}", capsys.readouterr().out)
