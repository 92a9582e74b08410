"""kfp_mlops.pipelines.docker_runner, without a container engine: how a docker run maps
parameters to mounts, what it lends kfp.local's Docker runner, and how it runs a container."""
import os

import pytest

from kfp_mlops import images
from kfp_mlops.pipelines import docker_runner as containers
from kfp_mlops.pipelines.docker_runner import Mount


def test_parameters_become_absolute_paths_with_their_folders_mounted(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "penguins.csv").write_text("a\n1\n")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.pbtxt").write_text("")
    (tmp_path / "species").write_text("a file named like a column")
    (tmp_path / "trainer.py").write_text("def run_fn(args): pass\n")
    params = {"data_uri": "data/penguins.csv", "registry_uri": "registry",
              "schema_uri": "file://" + str(tmp_path / "schema" / "schema.pbtxt"),
              "label_column": "species", "epochs": 2, "thresholds": {"auc": 0.9},
              "slice_columns": ["island"], "trainer_module": "my.trainer", "key_column": ""}
    converted, mounts = containers.container_parameters(params, cwd=str(tmp_path))
    assert converted == {**params, "data_uri": str(data / "penguins.csv"),
                         "registry_uri": str(tmp_path / "registry")}
    assert mounts == [Mount(str(data)), Mount(str(tmp_path / "registry"), writable=True),
                      Mount(str(tmp_path / "schema"))]
    converted, mounts = containers.container_parameters(
        {"trainer_module": "trainer.py", "model_name": "species"}, cwd=str(tmp_path))
    assert converted == {"trainer_module": str(tmp_path / "trainer.py"), "model_name": "species"}
    assert mounts == [Mount(str(tmp_path))]


def test_cloud_uris_queries_and_names_are_left_alone(tmp_path):
    params = {"data_uri": "gs://bucket/data/*.csv", "registry_uri":
              "vertex://projects/p/locations/europe-west4",
              "query_uri": "SELECT * FROM `p.d.t` WHERE x > 1", "model_name": "penguins",
              "training_template_uri": "https://europe-west4-kfp.pkg.dev/p/r/training/latest",
              "table": "bq://p.d.t"}
    converted, mounts = containers.container_parameters(params, cwd=str(tmp_path))
    assert converted == params and mounts == []


def test_globs_nested_values_and_folders(tmp_path):
    (tmp_path / "batches").mkdir()
    (tmp_path / "retrain").mkdir()
    (tmp_path / "retrain" / "new.parquet").write_text("")
    params = {"data_uri": str(tmp_path / "batches" / "*.csv"),
              "training_parameters": {"data_uri": "retrain/new.parquet", "epochs": 3},
              "retrain_data_uri": "retrain/"}
    converted, mounts = containers.container_parameters(params, cwd=str(tmp_path))
    assert converted["training_parameters"] == {
        "data_uri": str(tmp_path / "retrain" / "new.parquet"), "epochs": 3}
    assert converted["retrain_data_uri"] == str(tmp_path / "retrain") + "/"
    assert mounts == [Mount(str(tmp_path / "batches")), Mount(str(tmp_path / "retrain"))]


def test_volumes_mount_the_pipeline_root_writable_and_drop_covered_folders():
    mounts = [Mount("/work/data"), Mount("/work/data/more"), Mount("/out/registry", True),
              Mount("/elsewhere/reg", True), Mount("/elsewhere")]
    assert containers.volumes("/out", mounts) == {
        "/elsewhere": {"bind": "/elsewhere", "mode": "ro"},
        "/elsewhere/reg": {"bind": "/elsewhere/reg", "mode": "rw"},
        "/out": {"bind": "/out", "mode": "rw"},
        "/work/data": {"bind": "/work/data", "mode": "ro"},
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="hands files to uid 1000: needs root")
def test_make_writable_hands_folders_to_the_image_user(tmp_path):
    registry = tmp_path / "registry"
    (registry / "penguins").mkdir(parents=True)
    (registry / "penguins" / "aliases.json").write_text("{}")
    containers.make_writable(str(registry))
    for path in (registry, registry / "penguins", registry / "penguins" / "aliases.json"):
        assert (path.stat().st_uid, path.stat().st_gid) == (1000, 1000)
    root = tmp_path / "out"
    (root / "old-run").mkdir(parents=True)
    containers.make_writable(str(root), recursive=False)
    assert root.stat().st_uid == 1000 and (root / "old-run").stat().st_uid == 0


def test_docker_session_restores_kfp_local(monkeypatch, tmp_path):
    """The wrapping of kfp.local lasts only as long as the run."""
    from kfp.local import docker_task_handler

    monkeypatch.setattr(containers, "check_api", lambda: None)
    monkeypatch.setattr(containers, "make_writable", lambda *a, **k: None)
    original = (docker_task_handler.DockerTaskHandler.get_volumes_to_mount,
                docker_task_handler.run_docker_container)
    (tmp_path / "d.csv").write_text("")
    with containers.docker_session({"data_uri": str(tmp_path / "d.csv")}, str(tmp_path / "o")):
        handler = docker_task_handler.DockerTaskHandler("img", [], str(tmp_path / "o"), None)
        assert handler.get_volumes_to_mount() == {
            str(tmp_path): {"bind": str(tmp_path), "mode": "ro"},
            str(tmp_path / "o"): {"bind": str(tmp_path / "o"), "mode": "rw"}}
        assert docker_task_handler.run_docker_container is containers.run_container
    assert (docker_task_handler.DockerTaskHandler.get_volumes_to_mount,
            docker_task_handler.run_docker_container) == original


class _FakeContainer:
    def __init__(self):
        self.removed = False

    def logs(self, stream, follow):
        return [b"line one\n", b"line two\n"]

    def wait(self):
        return {"StatusCode": 3}

    def remove(self, force):
        self.removed = True


class _FakeClient:
    def __init__(self, images_present):
        import docker

        self.ran, self.container, self.pulled = [], _FakeContainer(), []
        client = self

        class Images:
            def get(self, image):
                if image not in images_present:
                    raise docker.errors.ImageNotFound(image)

            def pull(self, image):
                client.pulled.append(image)

        class Containers:
            def run(self, **kwargs):
                client.ran.append(kwargs)
                return client.container

        self.images, self.containers = Images(), Containers()


def test_run_container_uses_the_host_network_and_removes_the_container(capsys):
    uri = images.uri(images.PYTHON)
    client = _FakeClient({uri})
    code = containers.run_container(client, uri, ["python3", "-c", "0"],
                                    {"/o": {"bind": "/o", "mode": "rw"}})
    assert code == 3 and client.container.removed
    assert client.ran == [{"image": uri, "command": ["python3", "-c", "0"], "detach": True,
                           "volumes": {"/o": {"bind": "/o", "mode": "rw"}},
                           "network_mode": "host"}]
    assert capsys.readouterr().out == "line one\nline two\n"


def test_run_container_names_the_command_that_builds_a_missing_image():
    client = _FakeClient(set())
    with pytest.raises(containers.ContainerError, match=r"localhost/kfp-mlops/kfp-mlops-python:"
                       r".* not found; build it with `make images`"):
        containers.run_container(client, images.uri(images.PYTHON), [], {})
    assert client.ran == [] and client.pulled == []
    other = _FakeClient(set())
    containers.run_container(other, "python:3.11", [], {})  # images of others are pulled
    assert other.pulled == ["python:3.11"] and len(other.ran) == 1


def test_run_container_passes_kfp_locals_run_arguments(capsys):
    """Newer kfp.local passes a DockerRunner's container_run_args and the task's environment
    on to run_docker_container; a network the user chose wins over the host's."""
    uri = images.uri(images.PYTHON)
    client = _FakeClient({uri})
    containers.run_container(client, uri, [], {}, environment={"A": "1"}, network_mode="none")
    assert client.ran[0]["environment"] == {"A": "1"}
    assert client.ran[0]["network_mode"] == "none"


def test_no_docker_api_is_named_with_where_it_was_looked_for(monkeypatch, tmp_path):
    socket = tmp_path / "nothing-listens.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket}")
    with pytest.raises(containers.ContainerError,
                       match=rf"no Docker API answers at unix://{socket}.*DOCKER_HOST"):
        containers.check_api()
    with pytest.raises(containers.ContainerError, match="no Docker API answers"):
        with containers.docker_session({}, str(tmp_path / "out")):
            raise AssertionError("the session must not start without an API")


def test_a_run_without_a_docker_api_fails_with_the_reason(monkeypatch, tmp_path):
    from kfp_mlops.pipelines import local

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'none.sock'}")
    summary = local.run("data-validation", {"data_uri": str(tmp_path / "d.csv"),
                                            "label_column": "y"}, str(tmp_path / "out"),
                        runner="docker")
    assert summary.status == "FAILURE" and summary.tasks == []
    assert "ContainerError: --runner docker: no Docker API answers" in summary.error
