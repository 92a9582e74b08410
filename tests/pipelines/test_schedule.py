"""`kfp-mlops schedule`: the exact Vertex AI PipelineJobSchedule and Kubeflow recurring-run
calls, with only those client classes mocked (autospecs of the real ones)."""
import json
import os
import re

import pytest

from kfp_mlops.pipelines import __version__, cloud
from tests.pipelines.cloud_helpers import mocked_clients, run_cli

REGISTRY = "europe-docker.pkg.dev/my-project/images"
TAG = "abc1234"
VERSION_LABEL = __version__.replace(".", "-")
PARAMETERS = {"data_uri": "gs://my-bucket/serving/*.csv", "model_name": "penguins",
              "registry_uri": "vertex://projects/my-project/locations/europe-west4"}
KF_PARAMETERS = {"data_uri": "s3://serving/batch.parquet", "model_name": "penguins",
                 "registry_uri": "s3://models/registry"}


def _params(values):
    return [arg for name, value in values.items() for arg in ("--param", f"{name}={value}")]


def _vertex_args(spec_dir, *extra, cron="TZ=Europe/Berlin 0 6 * * *"):
    return ["schedule", "monitoring", "--vertex", "--project", "my-project",
            "--region", "europe-west4", "--pipeline-root", "gs://my-bucket/pipeline-root",
            "--image-registry", REGISTRY, "--image-tag", TAG, "--git-commit", "feed123",
            "--spec-dir", str(spec_dir), "--cron", cron, *_params(PARAMETERS), *extra]


def _kubeflow_args(spec_dir, *extra, cron="30 7 * * 1-5"):
    return ["schedule", "monitoring", "--kubeflow", "--host", "http://localhost:8080/",
            "--image-registry", REGISTRY, "--image-tag", TAG, "--spec-dir", str(spec_dir),
            "--cron", cron, *_params(KF_PARAMETERS), *extra]


def _vertex_job(spec, name="monitoring-schedule", enable_caching=None):
    return {"display_name": name, "template_path": spec,
            "pipeline_root": "gs://my-bucket/pipeline-root", "parameter_values": PARAMETERS,
            "enable_caching": enable_caching,
            "labels": {"kfp-mlops-version": VERSION_LABEL, "git-commit": "feed123"},
            "project": "my-project", "location": "europe-west4"}


def test_vertex_dry_run_prints_the_exact_schedule(tmp_path, capsys):
    with mocked_clients() as clients:
        assert run_cli(_vertex_args(tmp_path, "--dry-run", "--max-runs", "30",
                                    "--max-concurrent-runs", "2",
                                    "--start-time", "2026-12-02T07:00:00+01:00",
                                    "--end-time", "2027-01-01T00:00:00Z",
                                    "--service-account",
                                    "runner@my-project.iam.gserviceaccount.com")) == 0
    assert not any((clients.job.called, clients.schedule.called, clients.kfp.called))
    spec = str(tmp_path / "monitoring.yaml")
    assert os.path.isfile(spec)
    assert json.loads(capsys.readouterr().out) == {
        "action": "schedule",
        "target": "vertex",
        "spec": spec,
        "job": _vertex_job(spec),
        "schedule": {"display_name": "monitoring-schedule"},
        "create": {"cron": "TZ=Europe/Berlin 0 6 * * *", "max_concurrent_run_count": 2,
                   "max_run_count": 30, "start_time": "2026-12-02T06:00:00Z",
                   "end_time": "2027-01-01T00:00:00Z",
                   "service_account": "runner@my-project.iam.gserviceaccount.com"},
    }


def test_kubeflow_dry_run_prints_the_exact_recurring_run(tmp_path, capsys):
    with mocked_clients() as clients:
        assert run_cli(_kubeflow_args(tmp_path, "--dry-run", "--name", "penguins-watch",
                                      "--experiment", "monitoring", "--namespace", "team-a",
                                      "--service-account", "pipeline-runner",
                                      "--start-time", "2026-12-02T00:00:00Z")) == 0
    assert not clients.kfp.called
    spec = str(tmp_path / "monitoring.yaml")
    assert json.loads(capsys.readouterr().out) == {
        "action": "schedule",
        "target": "kubeflow",
        "spec": spec,
        "client": {"host": "http://localhost:8080", "namespace": "team-a"},
        "experiment": {"name": "monitoring", "namespace": "team-a"},
        "recurring_run": {"job_name": "penguins-watch", "cron_expression": "0 30 7 * * 1-5",
                          "pipeline_package_path": spec, "params": KF_PARAMETERS,
                          "enable_caching": None, "max_concurrency": 1, "no_catchup": True,
                          "start_time": "2026-12-02T00:00:00Z", "end_time": None,
                          "service_account": "pipeline-runner"},
    }


def test_vertex_schedule_is_created_with_the_exact_calls(tmp_path, capsys):
    with mocked_clients() as clients:
        schedule = clients.schedule.return_value
        schedule.resource_name = "projects/1/locations/europe-west4/schedules/42"
        schedule._dashboard_uri.return_value = "https://console.cloud.google.com/s/42"
        assert run_cli(_vertex_args(tmp_path, "--name", "penguins-daily")) == 0
    spec = str(tmp_path / "monitoring.yaml")
    clients.job.assert_called_once_with(**_vertex_job(spec, name="penguins-daily"))
    clients.job.return_value.submit.assert_not_called()
    clients.schedule.assert_called_once_with(pipeline_job=clients.job.return_value,
                                             display_name="penguins-daily")
    schedule.create.assert_called_once_with(
        cron="TZ=Europe/Berlin 0 6 * * *", max_concurrent_run_count=1, max_run_count=None,
        start_time=None, end_time=None, service_account=None)
    out = capsys.readouterr().out
    assert "resource_name: projects/1/locations/europe-west4/schedules/42" in out
    assert "dashboard_uri: https://console.cloud.google.com/s/42" in out


def test_kubeflow_recurring_run_is_created_in_the_resolved_experiment(tmp_path, capsys):
    with mocked_clients() as clients:
        client = clients.kfp.return_value
        client.create_experiment.return_value.experiment_id = "exp-7"
        client.create_recurring_run.return_value.recurring_run_id = "rr-9"
        assert run_cli(_kubeflow_args(tmp_path)) == 0
    spec = str(tmp_path / "monitoring.yaml")
    clients.kfp.assert_called_once_with(host="http://localhost:8080", namespace=None)
    client.create_experiment.assert_called_once_with(name="Default", namespace=None)
    client.create_recurring_run.assert_called_once_with(
        experiment_id="exp-7", job_name="monitoring-schedule", cron_expression="0 30 7 * * 1-5",
        pipeline_package_path=spec, params=KF_PARAMETERS, enable_caching=None,
        max_concurrency=1, no_catchup=True, start_time=None, end_time=None,
        service_account=None)
    client.create_run_from_pipeline_package.assert_not_called()
    out = capsys.readouterr().out
    assert "recurring_run_id: rr-9" in out and "experiment_id: exp-7" in out
    assert "url: http://localhost:8080/#/recurringrun/details/rr-9" in out


@pytest.mark.parametrize("flags,expected", [((), None), (("--cache",), True),
                                            (("--no-cache",), False)])
@pytest.mark.parametrize("target", ["vertex", "kubeflow"])
def test_schedule_caching_is_the_compiled_settings_unless_overridden(target, flags, expected,
                                                                     tmp_path):
    args = (_vertex_args if target == "vertex" else _kubeflow_args)(tmp_path, *flags)
    with mocked_clients() as clients:
        clients.kfp.return_value.create_recurring_run.return_value.recurring_run_id = "r"
        assert run_cli(args) == 0
    if target == "vertex":
        assert clients.job.call_args.kwargs["enable_caching"] is expected
    else:
        recurring = clients.kfp.return_value.create_recurring_run
        assert recurring.call_args.kwargs["enable_caching"] is expected


@pytest.mark.parametrize("cron,message", [
    ("0 6 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ("0 0 6 * * *", "expected 5 fields"),
    ("", "got 0"),
    ("@daily", "got 1"),
    ("60 6 * * *", "minute '60': 60 is out of range (values 0-59"),
    ("0 24 * * *", "hour '24': 24 is out of range"),
    ("0 6 0 * *", "day of month '0': 0 is out of range (values 1-31"),
    ("0 6 * 13 *", "month '13'"),
    ("0 6 * FOO *", "month 'FOO': 'FOO' is not a number or a name (values 1-12 or JAN-DEC"),
    ("0 6 * * 7", "day of week '7': 7 is out of range (Sunday is 0)"),
    ("0 6 * * 5-1", "day of week '5-1': the range ends before it starts"),
    ("*/0 * * * *", "minute '*/0': a step must be at least 1"),
    ("5/10 * * * *", "minute '5/10': a step needs '*' or a range before it"),
    ("0 6 ? * *", "day of month '?': not a cron field"),
    ("0,,5 6 * * *", "minute ''"),
    ("TZ=Mars/Olympus 0 6 * * *", "time zone 'Mars/Olympus' is not an IANA time zone"),
])
def test_bad_cron_fails_before_anything_is_compiled(cron, message, tmp_path, capsys):
    with mocked_clients() as clients:
        assert run_cli(_vertex_args(tmp_path / "s", cron=cron)) == 2
    assert not clients.job.called and not clients.schedule.called
    err = capsys.readouterr().err
    assert f"--cron {cron!r}: " in err and message in err, err
    assert "e.g. --cron '0 6 * * *'" in err
    assert not (tmp_path / "s").exists()


def test_kubeflow_takes_no_time_zone_prefix(tmp_path, capsys):
    with mocked_clients() as clients:
        assert run_cli(_kubeflow_args(tmp_path / "s", cron="CRON_TZ=UTC 0 6 * * *")) == 2
    assert not clients.kfp.called
    err = capsys.readouterr().err
    assert "Kubeflow schedules take no time-zone prefix" in err
    assert "--cron '0 6 * * *'" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("cron,vertex,kubeflow", [
    ("0 6 * * *", "0 6 * * *", "0 0 6 * * *"),
    ("  */15   6-18/2 1,15 JAN-mar mon-FRI ", "*/15 6-18/2 1,15 JAN-mar mon-FRI",
     "0 */15 6-18/2 1,15 JAN-mar mon-FRI"),
    ("59 23 31 12 0,6", "59 23 31 12 0,6", "0 59 23 31 12 0,6"),
])
def test_cron_for_each_target(cron, vertex, kubeflow):
    assert cloud.vertex_cron(cron) == vertex
    assert cloud.kubeflow_cron(cron) == kubeflow
    assert cloud.vertex_cron("CRON_TZ=America/New_York " + cron) == \
        "CRON_TZ=America/New_York " + vertex


@pytest.mark.parametrize("args,message", [
    (["--max-concurrent-runs", "0"], "--max-concurrent-runs 0: expected at least 1"),
    (["--max-runs", "0"], "--max-runs 0: expected at least 1"),
    (["--start-time", "tomorrow"], "--start-time 'tomorrow': expected a time with its UTC "
                                   "offset"),
    (["--start-time", "2026-12-02T06:00:00"], "expected a time with its UTC offset"),
    (["--start-time", "2027-01-02T00:00:00Z", "--end-time", "2027-01-01T00:00:00Z"],
     "--end-time '2027-01-01T00:00:00Z' is not after --start-time"),
    (["--name", "n" * 129], "expected 1 to 128 characters"),
    (["--experiment", "monitoring-runs"], "a Vertex AI schedule cannot associate its runs "
                                          "with an experiment"),
    (["--project", "My Project"], "expected a Google Cloud project id"),
    (["--pipeline-root", "/tmp/root"], "needs a Cloud Storage folder"),
    (["--param", "registry_uri=local_registry"], "--param registry_uri=local_registry: a "
                                                 "local path exists only on this machine"),
    (["--param", "data_uri=pipelines/data/penguins_serving.csv"], "--param data_uri="),
])
def test_vertex_bad_options(args, message, tmp_path, capsys):
    full = _vertex_args(tmp_path / "s")
    for flag, value in zip(args[::2], args[1::2]):
        if flag == "--param":
            name = value.split("=")[0]
            full[full.index(f"{name}={PARAMETERS[name]}")] = value
        elif flag in full:
            full[full.index(flag) + 1] = value
        else:
            full += [flag, value]
    with mocked_clients() as clients:
        assert run_cli(full) == 2
    assert not clients.job.called and not clients.schedule.called
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("args,message", [
    (["--max-runs", "5"], "--max-runs: Kubeflow recurring runs have no run limit"),
    (["--host", "localhost:8080"], "expected the Kubeflow Pipelines endpoint"),
    (["--param", "registry_uri=/gcs/bucket/registry"],
     "--param registry_uri=/gcs/bucket/registry: /gcs/ is where Vertex AI mounts Cloud "
     "Storage inside its tasks; a Kubeflow pod has no such mount; on Kubeflow use "
     "s3://bucket/folder (MinIO, Kubeflow's artifact store)"),
    (["--param", "registry_uri=file:///srv/registry"], "a local path exists only"),
    (["--param", "data_uri=/data/serving.csv"], "--param data_uri=/data/serving.csv: a local"),
    (["--end-time", "2026-13-01T00:00:00Z"], "--end-time '2026-13-01T00:00:00Z'"),
])
def test_kubeflow_bad_options(args, message, tmp_path, capsys):
    full = _kubeflow_args(tmp_path / "s")
    for flag, value in zip(args[::2], args[1::2]):
        if flag == "--param":
            name = value.split("=")[0]
            full[full.index(f"{name}={KF_PARAMETERS[name]}")] = value
        elif flag in full:
            full[full.index(flag) + 1] = value
        else:
            full += [flag, value]
    with mocked_clients() as clients:
        assert run_cli(full) == 2
    assert not clients.kfp.called
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_schedule_needs_its_target_options(tmp_path, capsys):
    assert run_cli(["schedule", "monitoring", "--vertex", "--project", "my-project",
                    "--cron", "0 6 * * *", *_params(PARAMETERS),
                    "--spec-dir", str(tmp_path / "s")]) == 2
    assert "schedule --vertex needs --region, --pipeline-root, --image-registry" in \
        capsys.readouterr().err
    assert run_cli(["schedule", "monitoring", "--kubeflow", "--cron", "0 6 * * *",
                    *_params(KF_PARAMETERS), "--spec-dir", str(tmp_path / "s")]) == 2
    assert "schedule --kubeflow needs --host" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli(["schedule", "monitoring", "--kubeflow", "--host", "http://h",
                 *_params(KF_PARAMETERS)])  # no --cron
    assert "the following arguments are required: --cron" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_request_builders_take_their_own_target():
    run = cloud.kubeflow_request("monitoring", "/x.yaml", host="http://h",
                                 parameters=KF_PARAMETERS)
    with pytest.raises(ValueError, match="needs a vertex_request"):
        cloud.vertex_schedule_request(run, cron="0 6 * * *", display_name="s")
    with pytest.raises(ValueError, match="unknown action"):
        cloud.send({"target": "vertex"})


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["schedule", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(r"usage: kfp-mlops schedule", out)
    for text in ("--cron EXPRESSION", "TZ=Area/City", "6 fields with seconds first",
                 "--max-concurrent-runs N", "--start-time TIME", "--no-cache",
                 "every task of the monitoring pipeline never reuse an earlier result"):
        assert text in out, text


def _readme_commands(prefix):
    """The README's shell commands starting with ``prefix``, continuation lines joined."""
    import pathlib
    import shlex

    text = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    commands = re.findall(rf"^\s*({re.escape(prefix)}(?:.*\\\n)*.*)$", text, re.M)
    substitutions = {'"$(git rev-parse --short HEAD)"': TAG, "https://KFP_HOST": "https://kfp.test",
                     "REGISTRY": REGISTRY, "TAG": TAG}
    out = []
    for command in commands:
        command = command.replace("\\\n", " ")
        for placeholder, value in substitutions.items():
            command = command.replace(placeholder, value)
        out.append(shlex.split(command)[1:])
    return out


def test_the_readme_schedules_run_as_written(tmp_path, capsys):
    commands = _readme_commands(".venv/bin/kfp-mlops schedule monitoring")
    assert [c[2] for c in commands] == ["--vertex", "--kubeflow"]
    for argv in commands:
        with mocked_clients() as clients:
            assert run_cli(argv + ["--dry-run", "--spec-dir", str(tmp_path)]) == 0, \
                capsys.readouterr().err
        assert not any((clients.job.called, clients.schedule.called, clients.kfp.called))
        printed = json.loads(capsys.readouterr().out)
        assert printed["action"] == "schedule"
        caching = printed["job"]["enable_caching"] if printed["target"] == "vertex" else \
            printed["recurring_run"]["enable_caching"]
        assert caching is None
