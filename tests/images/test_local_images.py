"""The parts of images/tools/local_images.py that need no container engine: podman's
settings, the Debian mirror, pip's settings, engine choice, builds and checks; and its
command, images_cli.py."""
import os
import subprocess
import sys
import tomllib

import images_cli
import local_images
import pytest

from kfp_mlops import images


# ------------------------------------------------------------ containers.conf


def test_configure_podman_writes_a_missing_file(tmp_path):
    path = tmp_path / "containers" / "containers.conf"
    assert local_images.configure_podman(str(path)) is True
    conf = tomllib.loads(path.read_text())
    assert conf == {"engine": {"runtime": "runc", "cgroup_manager": "cgroupfs"},
                    "containers": {"default_ulimits": []}}


def test_configure_podman_merges_and_keeps_other_settings(tmp_path):
    path = tmp_path / "containers.conf"
    path.write_text('# site settings\n[containers]\nlog_size_max = 1000  # bytes\n'
                    'default_ulimits = ["nofile=1048576:1048576"]\n\n'
                    '[engine]\nruntime = "crun"\nevents_logger = "file"\n\n'
                    '[network]\nnetwork_backend = "cni"\n')
    assert local_images.configure_podman(str(path)) is True
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
    assert local_images.configure_podman(str(path)) is False
    assert path.read_text() == text and path.stat().st_mtime_ns == before
    assert local_images.configure_podman(str(path)) is False


def test_merged_table_keeps_keys_before_the_next_table():
    merged = local_images.merge_toml_settings("[engine]\nx = 1\n\n[other]\ny = 2\n",
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
    assert local_images.mirror_from_sources(texts) == "http://mirror.example/debian"


def test_mirror_skips_security_disabled_and_source_only_entries():
    text = ("Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
            "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
            "Types: deb\nURIs: https://sec.example/debian-security/\nSuites: bookworm-security\n"
            "\nTypes: deb\nURIs: https://on.example/debian/\nSuites: bookworm\n")
    assert local_images.mirror_from_sources([("a.sources", text)]) == "https://on.example/debian"


def test_mirror_from_one_line_sources_with_options():
    text = ("# deb http://commented.example/debian bookworm main\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example/debian "
            "bookworm main contrib\n"
            "deb http://one.example/debian-security bookworm-security main\n")
    assert local_images.mirror_from_sources([("sources.list", text)]) == \
        "http://one.example/debian"


def test_mirror_of_another_release_falls_back_to_its_plain_suite():
    text = "deb http://sec.example/d trixie-security main\ndeb http://main.example/d trixie main\n"
    assert local_images.mirror_from_sources([("sources.list", text)]) == "http://main.example/d"


def test_no_usable_mirror_is_an_error():
    with pytest.raises(local_images.ContainerError, match="no Debian archive"):
        local_images.mirror_from_sources([("sources.list", "deb cdrom:[Debian]/ bookworm main\n")])


def test_debian_mirror_reads_an_apt_folder(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "other.sources.disabled").write_text(
        "Types: deb\nURIs: http://wrong.example/debian\nSuites: bookworm\n")
    assert local_images.debian_mirror(str(tmp_path)) == "http://mirror.example/debian"


# ------------------------------------------------------------ pip, passed into builds


def test_pip_settings_keep_network_indexes_only(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://index.example/simple\n"
                    "extra-index-url = file:///opt/pypi/simple https://extra.example/simple\n"
                    "find-links = /opt/wheels\ntimeout = 30\n")
    env = {"PIP_CONFIG_FILE": str(conf), "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    assert local_images.pip_settings(environ=env) == {
        "index-url": "https://index.example/simple",
        "extra-index-url": "https://extra.example/simple", "timeout": "30"}
    env["PIP_INDEX_URL"] = "https://env.example/simple"
    assert local_images.pip_settings(environ=env)["index-url"] == "https://env.example/simple"


def test_build_mounts_lend_the_ca_bundle_and_a_pip_conf(tmp_path):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("certs")
    volumes = local_images.build_mounts(str(tmp_path), {"index-url": "https://i.example/simple"},
                                      ca_bundle=str(bundle))
    assert volumes == [f"{bundle}:{local_images.CA_BUNDLE}:ro",
                       f"{tmp_path / 'pip.conf'}:/etc/pip.conf:ro"]
    assert (tmp_path / "pip.conf").read_text() == (
        f"[global]\ncert = {local_images.CA_BUNDLE}\nindex-url = https://i.example/simple\n")


# ------------------------------------------------------------ engines, bases, builds


def test_auto_prefers_a_docker_engine_that_answers():
    assert local_images.choose_engine("auto", lambda: True, lambda _: "/usr/bin/docker") == "docker"


def test_auto_takes_podman_when_docker_is_only_a_client_or_absent():
    assert local_images.choose_engine("auto", lambda: False,
                                      lambda _: "/usr/bin/docker") == "podman"
    assert local_images.choose_engine("auto", lambda: True, lambda _: None) == "podman"


def test_asked_engines():
    assert local_images.choose_engine("podman", lambda: True) == "podman"
    assert local_images.choose_engine("docker", lambda: True) == "docker"
    with pytest.raises(local_images.ContainerError, match="no Docker engine"):
        local_images.choose_engine("docker", lambda: False)
    with pytest.raises(ValueError, match="expected auto, docker or podman"):
        local_images.choose_engine("kaniko")


def test_every_dockerfile_has_a_base_with_a_stand_in_name():
    for name, dockerfile in local_images.image_folders().items():
        base = local_images.base_image(dockerfile)
        assert base.startswith("python:3.11.7-slim-bookworm@sha256:")
        assert local_images.standin_name(base) == \
            "localhost/kfp-mlops-standin/python:3.11.7-slim-bookworm"
    assert local_images.standin_name("gcr.io:443/x/base:1.2") == \
        "localhost/kfp-mlops-standin/base:1.2"
    assert local_images.standin_name("debian") == "localhost/kfp-mlops-standin/debian:latest"


def test_build_command_tags_what_specs_name():
    uri = images.uri(images.PYTHON)
    command = local_images.build_command("podman", "images/python/Dockerfile", uri, ".",
                                       base="localhost/kfp-mlops-standin/python:3",
                                       volumes=["/a:/b:ro"])
    assert command == ["podman", "build", "--file", "images/python/Dockerfile", "--tag",
                       "localhost/kfp-mlops/kfp-mlops-python:" + images.DEFAULT_TAG,
                       "--layers", "--network", "host",
                       "--from", "localhost/kfp-mlops-standin/python:3",
                       "--volume", "/a:/b:ro", "."]
    assert local_images.build_command("docker", "f", uri, ".") == \
        ["docker", "build", "--file", "f", "--tag", uri, "."]


def test_unknown_image_is_named():
    with pytest.raises(ValueError, match="unknown image nope; images are kfp-mlops-python"):
        local_images.image_folders(["nope"])


def test_image_modules_cover_each_component_of_the_image():
    modules = local_images.image_modules(images.PYTHON)
    assert "tensorflow_data_validation" in modules
    for component, image in images.COMPONENT_IMAGES.items():
        if image == images.PYTHON:
            assert f"kfp_mlops.components.{component}.core" in modules


def test_compare_versions_names_every_difference():
    pins = {"kfp": "2.13.0", "numpy": "1.26.4", "six": "1.17.0"}
    installed = {"kfp": "2.13.0", "NumPy": "1.26.3", "pip": "24.0", "kfp_mlops": "0.1.0",
                 "requests": "2.0"}
    assert local_images.compare_versions(installed, pins) == [
        "numpy: lock 1.26.4, image 1.26.3", "six: lock 1.17.0, image missing",
        "requests 2.0: in the image, not in the lock"]
    assert local_images.compare_versions({"kfp": "2.13.0"}, {"kfp": "2.13.0"}) == []


def test_images_cli_parses_its_actions():
    args = images_cli._parser().parse_args(["build", "--engine", "podman",
                                            "--image", images.PYTHON_SLIM])
    assert (args.action, args.func, args.engine, args.image) == \
        ("build", images_cli._cmd_build, "podman", [images.PYTHON_SLIM])
    args = images_cli._parser().parse_args(["with-api", "--engine", "docker", "--",
                                            "kfp-mlops", "run", "training", "--local"])
    assert args.func is images_cli._cmd_with_api and args.engine == "docker"
    assert [w for w in args.command if w != "--"] == ["kfp-mlops", "run", "training", "--local"]


def test_images_cli_runs_as_a_script_and_names_a_missing_command():
    """As ``make images`` runs it: a script beside local_images.py, not a package module."""
    tool = local_images.ROOT / "images" / "tools" / "images_cli.py"
    result = subprocess.run([sys.executable, str(tool), "with-api"], capture_output=True,
                            text=True, timeout=120, cwd=local_images.ROOT / "tests")
    assert result.returncode == 2
    assert "with-api: expected a command after --" in result.stderr


def test_the_images_command_is_not_in_the_package_cli():
    from kfp_mlops.pipelines import cli

    with pytest.raises(SystemExit):
        cli._parser().parse_args(["images", "build"])
