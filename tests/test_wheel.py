"""The wheel a user installs: the package and its Docker runner, and nothing that sets up a
machine or builds images (those are developer tools in images/tools, outside the package).

The wheel is built from a copy of the checkout (so no build/ or egg-info lands in the tree)
offline: ``pip wheel --no-deps --no-build-isolation --no-index`` with this environment's
setuptools, as ``make setup`` installs the package.
"""
import email.parser
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: What only a machine's set-up or an image build says: installing packages, a Debian root
#: filesystem, podman's system configuration, image build commands and their tools.
PROVISIONING = ["apt-get", "debootstrap", "containers.conf", '"build", "--file"',
                "podman build", "podman import", "build_images", "check_images",
                "ensure_podman", "configure_podman", "build_standin",
                '"system", "service"']
#: An import of the tools (a hint naming their command is fine; their code is not).
IMPORTS_TOOLS = re.compile(r"^\s*(import|from)\s+(local_images|images_cli)\b", re.M)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """``{path in the wheel: bytes}`` of the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("components", "pipelines", "images"):
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = work / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--quiet", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=600, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    [path] = out.glob("kfp_mlops-*.whl")
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_wheel_holds_the_package_and_its_docker_runner(wheel):
    from kfp_mlops.images import version

    for module in ("kfp_mlops/pipelines/cli.py", "kfp_mlops/pipelines/local.py",
                   "kfp_mlops/pipelines/docker_runner.py",
                   "kfp_mlops/pipelines/kfp_local_adapter.py",
                   "kfp_mlops/images/__init__.py", "kfp_mlops/images/version.py",
                   "kfp_mlops/components/ingest/component.py"):
        assert module in wheel, module
    runner = wheel["kfp_mlops/pipelines/docker_runner.py"].decode()
    assert "def docker_session(" in runner and "def run_container(" in runner
    [metadata] = [name for name in wheel if name.endswith(".dist-info/METADATA")]
    fields = email.parser.Parser().parsestr(wheel[metadata].decode())
    assert fields["Version"] == version.__version__
    assert "docker>=7; extra == \"docker\"" in fields.get_all("Requires-Dist")
    [entry_points] = [name for name in wheel if name.endswith(".dist-info/entry_points.txt")]
    assert "kfp-mlops = kfp_mlops.pipelines.cli:main" in wheel[entry_points].decode()


def test_the_wheel_holds_no_host_provisioning_or_image_builds(wheel):
    assert not [n for n in wheel if "/tools/" in n or n.endswith(("images_cli.py",
                                                                   "containers.py"))]
    assert not [n for n in wheel if n.endswith((".sh", "Dockerfile", ".lock"))]
    found = {}
    for name, data in wheel.items():
        if name.endswith(".py"):
            text = data.decode()
            hits = [word for word in PROVISIONING if word in text]
            hits += [m.group(0).strip() for m in IMPORTS_TOOLS.finditer(text)]
            if hits:
                found[name] = hits
    assert found == {}, f"host provisioning or image builds in the wheel: {found}"


def test_the_check_finds_provisioning_where_it_is():
    """The words the wheel is searched for are those of the tools it must not hold."""
    tools = "".join(p.read_text() for p in (ROOT / "images" / "tools").glob("*.py"))
    missing = [word for word in PROVISIONING if word not in tools]
    assert missing == []
    assert IMPORTS_TOOLS.search(tools)   # images_cli.py imports local_images
    assert re.search(r"def build_images\(", tools) and re.search(r"def ensure_podman\(", tools)
