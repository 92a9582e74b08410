"""The parts of kfp_mlops.pipelines.containers that need no container engine: podman's
settings, the Debian mirror, pip's settings, engine choice, and how a docker run maps
parameters to mounts."""
import os
import tomllib

import pytest

from kfp_mlops import images
from kfp_mlops.pipelines import containers, images_cli
from kfp_mlops.pipelines.containers import Mount


# ------------------------------------------------------------ containers.conf


def test_configure_podman_writes_a_missing_file(tmp_path):
    path = tmp_path / "containers" / "containers.conf"
    assert containers.configure_podman(str(path)) is True
    conf = tomllib.loads(path.read_text())
    assert conf == {"engine": {"runtime": "runc", "cgroup_manager": "cgroupfs"},
                    "containers": {"default_ulimits": []}}


def test_configure_podman_merges_and_keeps_other_settings(tmp_path):
    path = tmp_path / "containers.conf"
    path.write_text('# site settings\n[containers]\nlog_size_max = 1000  # bytes\n'
                    'default_ulimits = ["nofile=1048576:1048576"]\n\n'
                    '[engine]\nruntime = "crun"\nevents_logger = "file"\n\n'
                    '[network]\nnetwork_backend = "cni"\n')
    assert containers.configure_podman(str(path)) is True
    text = path.read_text()
    conf = tomllib.loads(text)
    assert conf["engine"] == {"runtime": "runc", "events_logger": "file",
                              "cgroup_manager": "cgroupfs"}
    assert conf["containers"] == {"log_size_max": 1000, "default_ulimits": []}
    assert conf["network"] == {"network_backend": "cni"}
    assert "# site settings" in text and "# bytes" in text
    assert "crun" not in text


def test_configure_podman_leaves_a_right_file_alone(tmp_path):
    path = tmp_path / "containers.conf"
    text = ('[containers]\ndefault_ulimits = [ ]\n[engine]\ncgroup_manager="cgroupfs"\n'
            'runtime = "runc"\n')
    path.write_text(text)
    before = path.stat().st_mtime_ns
    assert containers.configure_podman(str(path)) is False
    assert path.read_text() == text and path.stat().st_mtime_ns == before
    assert containers.configure_podman(str(path)) is False


def test_merged_table_keeps_keys_before_the_next_table():
    merged = containers.merge_toml_settings("[engine]\nx = 1\n\n[other]\ny = 2\n",
                                            {"engine": {"runtime": '"runc"'}})
    assert tomllib.loads(merged) == {"engine": {"x": 1, "runtime": "runc"},
                                     "other": {"y": 2}}


# ------------------------------------------------------------ the Debian mirror

DEB822 = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_sources():
    texts = [("debian.sources", DEB822)]
    assert containers.mirror_from_sources(texts) == "http://mirror.example/debian"


def test_mirror_skips_security_disabled_and_source_only_entries():
    text = ("Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
            "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
            "Types: deb\nURIs: https://sec.example/debian-security/\nSuites: bookworm-security\n"
            "\nTypes: deb\nURIs: https://on.example/debian/\nSuites: bookworm\n")
    assert containers.mirror_from_sources([("a.sources", text)]) == "https://on.example/debian"


def test_mirror_from_one_line_sources_with_options():
    text = ("# deb http://commented.example/debian bookworm main\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example/debian "
            "bookworm main contrib\n"
            "deb http://one.example/debian-security bookworm-security main\n")
    assert containers.mirror_from_sources([("sources.list", text)]) == \
        "http://one.example/debian"


def test_mirror_of_another_release_falls_back_to_its_plain_suite():
    text = "deb http://sec.example/d trixie-security main\ndeb http://main.example/d trixie main\n"
    assert containers.mirror_from_sources([("sources.list", text)]) == "http://main.example/d"


def test_no_usable_mirror_is_an_error():
    with pytest.raises(containers.ContainerError, match="no Debian archive"):
        containers.mirror_from_sources([("sources.list", "deb cdrom:[Debian]/ bookworm main\n")])


def test_debian_mirror_reads_an_apt_folder(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "other.sources.disabled").write_text(
        "Types: deb\nURIs: http://wrong.example/debian\nSuites: bookworm\n")
    assert containers.debian_mirror(str(tmp_path)) == "http://mirror.example/debian"


# ------------------------------------------------------------ pip, passed into builds


def test_pip_settings_keep_network_indexes_only(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://index.example/simple\n"
                    "extra-index-url = file:///opt/pypi/simple https://extra.example/simple\n"
                    "find-links = /opt/wheels\ntimeout = 30\n")
    env = {"PIP_CONFIG_FILE": str(conf), "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    assert containers.pip_settings(environ=env) == {
        "index-url": "https://index.example/simple",
        "extra-index-url": "https://extra.example/simple", "timeout": "30"}
    env["PIP_INDEX_URL"] = "https://env.example/simple"
    assert containers.pip_settings(environ=env)["index-url"] == "https://env.example/simple"


def test_build_mounts_lend_the_ca_bundle_and_a_pip_conf(tmp_path):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("certs")
    volumes = containers.build_mounts(str(tmp_path), {"index-url": "https://i.example/simple"},
                                      ca_bundle=str(bundle))
    assert volumes == [f"{bundle}:{containers.CA_BUNDLE}:ro",
                       f"{tmp_path / 'pip.conf'}:/etc/pip.conf:ro"]
    assert (tmp_path / "pip.conf").read_text() == (
        f"[global]\ncert = {containers.CA_BUNDLE}\nindex-url = https://i.example/simple\n")


# ------------------------------------------------------------ engines, bases, builds


def test_auto_prefers_a_docker_engine_that_answers():
    assert containers.choose_engine("auto", lambda: True, lambda _: "/usr/bin/docker") == "docker"


def test_auto_takes_podman_when_docker_is_only_a_client_or_absent():
    assert containers.choose_engine("auto", lambda: False, lambda _: "/usr/bin/docker") == "podman"
    assert containers.choose_engine("auto", lambda: True, lambda _: None) == "podman"


def test_asked_engines():
    assert containers.choose_engine("podman", lambda: True) == "podman"
    assert containers.choose_engine("docker", lambda: True) == "docker"
    with pytest.raises(containers.ContainerError, match="no Docker engine"):
        containers.choose_engine("docker", lambda: False)
    with pytest.raises(ValueError, match="expected auto, docker or podman"):
        containers.choose_engine("kaniko")


def test_every_dockerfile_has_a_base_with_a_stand_in_name():
    for name, dockerfile in containers.image_folders().items():
        base = containers.base_image(dockerfile)
        assert base.startswith("python:3.11.7-slim-bookworm@sha256:")
        assert containers.standin_name(base) == \
            "localhost/kfp-mlops-standin/python:3.11.7-slim-bookworm"
    assert containers.standin_name("gcr.io:443/x/base:1.2") == \
        "localhost/kfp-mlops-standin/base:1.2"
    assert containers.standin_name("debian") == "localhost/kfp-mlops-standin/debian:latest"


def test_build_command_tags_what_specs_name():
    uri = images.uri(images.PYTHON)
    command = containers.build_command("podman", "images/python/Dockerfile", uri, ".",
                                       base="localhost/kfp-mlops-standin/python:3",
                                       volumes=["/a:/b:ro"])
    assert command == ["podman", "build", "--file", "images/python/Dockerfile", "--tag",
                       "localhost/kfp-mlops/kfp-mlops-python:" + images.DEFAULT_TAG,
                       "--layers", "--network", "host",
                       "--from", "localhost/kfp-mlops-standin/python:3",
                       "--volume", "/a:/b:ro", "."]
    assert containers.build_command("docker", "f", uri, ".") == \
        ["docker", "build", "--file", "f", "--tag", uri, "."]


def test_unknown_image_is_named():
    with pytest.raises(ValueError, match="unknown image nope; images are kfp-mlops-python"):
        containers.image_folders(["nope"])


def test_image_modules_cover_each_component_of_the_image():
    modules = containers.image_modules(images.PYTHON)
    assert "tensorflow_data_validation" in modules
    for component, image in images.COMPONENT_IMAGES.items():
        if image == images.PYTHON:
            assert f"kfp_mlops.components.{component}.core" in modules


def test_compare_versions_names_every_difference():
    pins = {"kfp": "2.13.0", "numpy": "1.26.4", "six": "1.17.0"}
    installed = {"kfp": "2.13.0", "NumPy": "1.26.3", "pip": "24.0", "kfp_mlops": "0.1.0",
                 "requests": "2.0"}
    assert containers.compare_versions(installed, pins) == [
        "numpy: lock 1.26.4, image 1.26.3", "six: lock 1.17.0, image missing",
        "requests 2.0: in the image, not in the lock"]
    assert containers.compare_versions({"kfp": "2.13.0"}, {"kfp": "2.13.0"}) == []


def test_images_cli_parses_its_actions():
    from kfp_mlops.pipelines import cli

    args = cli._parser().parse_args(["images", "build", "--engine", "podman",
                                     "--image", images.PYTHON_SLIM])
    assert (args.command, args.images_command, args.engine, args.image) == \
        ("images", "build", "podman", [images.PYTHON_SLIM])
    assert images_cli.dispatch(cli._parser().parse_args(["list"])) is None


# ------------------------------------------------------------ docker runner: paths and mounts


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

    @__import__("contextlib").contextmanager
    def fake_api(engine="auto"):
        yield "docker"

    monkeypatch.setattr(containers, "docker_api", fake_api)
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
                       r".* not found; build it with `kfp-mlops images build`"):
        containers.run_container(client, images.uri(images.PYTHON), [], {})
    assert client.ran == [] and client.pulled == []
    other = _FakeClient(set())
    containers.run_container(other, "python:3.11", [], {})  # images of others are pulled
    assert other.pulled == ["python:3.11"] and len(other.ran) == 1
