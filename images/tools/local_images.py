"""The images on this machine: set the machine up, build them, check them, and give them a
Docker API. A developer's and CI's tool, outside the package (``images/tools`` has no
``__init__.py``, so ``setup.py`` does not ship it); ``images_cli.py`` beside it is its command,
run by ``make images`` and ``make test-images``.

On Kubeflow and Vertex AI every task runs in one of our images (``kfp_mlops.images``), not in
the developer's virtualenv. This module lets a developer find out here whether a pipeline
works in those images, before any Cloud Build run:

* :func:`build_images` builds every ``images/<folder>/Dockerfile`` with Docker when a Docker
  engine answers, else with podman (installed with apt-get and configured when missing, run
  as root: :func:`set_up`). When podman cannot pull a Dockerfile's base image (no Docker Hub
  here), it builds a stand-in once: Debian bookworm with Python 3.11, pip and venv, made
  with debootstrap from the machine's own Debian mirror, and builds with
  ``podman build --from <stand-in>``. The Dockerfiles stay exactly what Cloud Build builds.
* :func:`check_images` starts each image and checks its user, its imports, its size and that
  it holds exactly its lock's versions.
* :func:`docker_api` gives ``kfp-mlops run PIPELINE --runner docker`` (the package's
  :mod:`kfp_mlops.pipelines.docker_runner`) a Docker API on a machine without a Docker
  engine: it starts ``podman system service`` and points ``DOCKER_HOST`` at it.
"""
import contextlib
import dataclasses
import glob
import json
import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from kfp_mlops.pipelines.docker_runner import ContainerError

logger = logging.getLogger(__name__)

ENGINES = ("docker", "podman")
#: Packages a machine without them needs to build and run images with podman (Debian names).
PODMAN_PACKAGES = ("podman", "runc", "debootstrap")
#: podman's system configuration, merged (never replaced) by :func:`configure_podman`.
CONTAINERS_CONF = "/etc/containers/containers.conf"
#: What podman needs on a machine without systemd: runc, cgroupfs, and the host's ulimits
#: (the default asks for more open files than a container here may have).
CONTAINERS_SETTINGS = {
    "engine": {"runtime": '"runc"', "cgroup_manager": '"cgroupfs"'},
    "containers": {"default_ulimits": "[]"},
}
#: Where stand-ins for bases that cannot be pulled are tagged.
STANDIN_REGISTRY = "localhost/kfp-mlops-standin"
#: Raised whenever :func:`build_standin` changes, so a cached stand-in of an older recipe is
#: rebuilt (kept as the image's ``kfp-mlops.standin-recipe`` label).
STANDIN_RECIPE = "2"
STANDIN_LABEL = "kfp-mlops.standin-recipe"
#: The Debian release the images' base (python:3.11.7-slim-bookworm) is built on.
DEBIAN_SUITE = "bookworm"
#: The CA bundle this machine's pip trusts; lent to each build step (never copied in).
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
#: Seconds to wait for a pull of a base image before building a stand-in.
PULL_TIMEOUT = 60

#: Modules each image must import beyond its components (what the component bodies import).
IMAGE_MODULES = {
    "kfp-mlops-python": ("kfp", "tensorflow", "tensorflow_data_validation", "apache_beam",
                         "pandas", "pyarrow", "sklearn", "google.cloud.aiplatform",
                         "google.cloud.storage"),
    "kfp-mlops-python-slim": ("kfp", "google.cloud.aiplatform", "google.cloud.storage",
                              "google.cloud.bigquery", "google.cloud.pubsub"),
}
#: Distributions an image may hold beyond its lock: the package itself and pip.
ALLOWED_EXTRA = {"kfp-mlops", "pip"}

#: The repository root: the build context of every image.
ROOT = pathlib.Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- engines


def docker_answers(timeout: float = 15) -> bool:
    """True when ``docker info`` reaches a Docker engine (not just a docker client)."""
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_engine(requested: str = "auto", docker_ok: Optional[Callable[[], bool]] = None,
                  which: Callable[[str], Optional[str]] = shutil.which) -> str:
    """``docker`` or ``podman``: the engine asked for, or for ``auto`` Docker when its engine
    answers and podman otherwise (podman is installed by :func:`ensure_podman` if missing).

    Raises:
        ContainerError: ``docker`` was asked for and no Docker engine answers.
        ValueError: ``requested`` is not auto, docker or podman.
    """
    docker_ok = docker_ok or docker_answers
    if requested not in ("auto", *ENGINES):
        raise ValueError(f"--engine {requested!r}: expected auto, docker or podman")
    if requested == "docker":
        if not docker_ok():
            raise ContainerError("--engine docker: `docker info` reaches no Docker engine; "
                                 "start one, or use --engine podman")
        return "docker"
    if requested == "podman":
        return "podman"
    if which("docker") and docker_ok():
        return "docker"
    return "podman"


def ensure_podman(run: Callable[..., Any] = subprocess.run) -> None:
    """Installs podman, runc and debootstrap from Debian's packages when one is missing.

    Raises:
        ContainerError: a command is missing and this is not a Debian machine run as root.
    """
    missing = [p for p in PODMAN_PACKAGES
               if not (shutil.which(p) or shutil.which(p, path="/usr/sbin:/sbin"))]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ContainerError(f"{', '.join(missing)} not installed; install them "
                             f"(apt-get install -y {' '.join(PODMAN_PACKAGES)}) or start a "
                             "Docker engine")
    logger.info("Installing %s with apt-get", " ".join(PODMAN_PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], check=True, env=env)
    run(["apt-get", "install", "-y", "-qq", *PODMAN_PACKAGES], check=True, env=env)


def merge_toml_settings(text: str, settings: Dict[str, Dict[str, str]]) -> str:
    """``text`` (a TOML file) with each ``[table] key = value`` of ``settings`` set.

    Lines it does not set are kept as they are, comments included: the key is replaced where
    it stands, added at the end of its table, or the table is added at the end.
    """
    lines = text.splitlines()
    for table, values in settings.items():
        start = next((i for i, line in enumerate(lines)
                      if re.match(rf"^\s*\[\s*{re.escape(table)}\s*\]\s*(#.*)?$", line)), None)
        if start is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines.append(f"[{table}]")
            lines.extend(f"{key} = {value}" for key, value in values.items())
            continue
        end = next((i for i in range(start + 1, len(lines))
                    if re.match(r"^\s*\[", lines[i])), len(lines))
        insert_at = end
        while insert_at > start + 1 and not lines[insert_at - 1].strip():
            insert_at -= 1
        for key, value in values.items():
            found = next((i for i in range(start + 1, end)
                          if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i])), None)
            if found is not None:
                lines[found] = f"{key} = {value}"
            else:
                lines.insert(insert_at, f"{key} = {value}")
                insert_at += 1
                end += 1
    return "\n".join(lines) + "\n"


def _settings_hold(text: str, settings: Dict[str, Dict[str, str]]) -> bool:
    import tomllib

    try:
        current = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    for table, values in settings.items():
        for key, value in values.items():
            if current.get(table, {}).get(key, object()) != tomllib.loads(f"v = {value}")["v"]:
                return False
    return True


def configure_podman(path: str = CONTAINERS_CONF,
                     settings: Dict[str, Dict[str, str]] = CONTAINERS_SETTINGS) -> bool:
    """Makes ``path`` hold :data:`CONTAINERS_SETTINGS`; True when the file was written.

    An existing file is merged (its other settings and comments stay); a file that already
    holds the settings is not touched.
    """
    existing = pathlib.Path(path).read_text() if os.path.exists(path) else ""
    if _settings_hold(existing, settings):
        return False
    merged = merge_toml_settings(existing, settings)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    pathlib.Path(tmp).write_text(merged)
    os.replace(tmp, path)
    logger.info("Wrote podman settings to %s", path)
    return True


def set_up(engine: str) -> None:
    """What ``engine`` needs on this machine before it builds or runs anything."""
    if engine == "podman":
        ensure_podman()
        if os.geteuid() == 0:
            configure_podman()


# ---------------------------------------------------------------- the Debian mirror


_MIRROR_SCHEMES = ("http://", "https://", "ftp://", "file:/")


def _deb822_stanzas(text: str) -> List[Dict[str, str]]:
    stanzas, current, key = [], {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    return stanzas


def _one_line_sources(text: str) -> List[Dict[str, str]]:
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line[4:])  # drop [arch=... signed-by=...]
        words = line.split()
        if len(words) >= 2:
            found.append({"types": "deb", "uris": words[0], "suites": words[1]})
    return found


def mirror_from_sources(texts: Sequence[Tuple[str, str]], suite: str = DEBIAN_SUITE) -> str:
    """The Debian archive of ``suite`` named by apt sources; ``texts`` are (file name, text).

    ``.sources`` files are read as deb822 stanzas, anything else as one-line ``deb URI SUITE``
    entries. The archive is the first ``deb`` source whose suites hold ``suite`` itself (not
    ``-security`` or ``-updates``); failing that, the first one holding any plain suite.

    Raises:
        ContainerError: no usable ``deb`` source.
    """
    entries = []
    for name, text in texts:
        for entry in (_deb822_stanzas(text) if name.endswith(".sources")
                      else _one_line_sources(text)):
            if "deb" not in entry.get("types", "").split():
                continue
            if entry.get("enabled", "yes").lower() in ("no", "false", "0"):
                continue
            uris = [u for u in entry.get("uris", "").split() if u.startswith(_MIRROR_SCHEMES)]
            suites = entry.get("suites", "").split()
            if uris:
                entries.append((uris[0].rstrip("/"), suites))
    for uri, suites in entries:
        if suite in suites:
            return uri
    for uri, suites in entries:
        if any("-" not in s and "/" not in s for s in suites):
            return uri
    raise ContainerError("no Debian archive in the apt sources (/etc/apt/sources.list, "
                         "/etc/apt/sources.list.d/*.sources); debootstrap needs one")


def debian_mirror(apt_dir: str = "/etc/apt", suite: str = DEBIAN_SUITE) -> str:
    """The Debian mirror this machine's apt uses, read from its sources at run time."""
    paths = [os.path.join(apt_dir, "sources.list")]
    paths += sorted(glob.glob(os.path.join(apt_dir, "sources.list.d", "*.sources")))
    paths += sorted(glob.glob(os.path.join(apt_dir, "sources.list.d", "*.list")))
    texts = [(p, pathlib.Path(p).read_text()) for p in paths if os.path.isfile(p)]
    return mirror_from_sources(texts, suite)


# ---------------------------------------------------------------- pip, passed through


def pip_settings(python: str = sys.executable,
                 environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The index settings this machine's pip uses (``index-url``, ``extra-index-url``,
    ``trusted-host``, ``timeout``), from its configuration files and ``PIP_*`` variables.

    Only network indexes are kept: a ``file://`` index or a ``find-links`` folder on this
    machine means nothing inside a build step.
    """
    environ = os.environ if environ is None else environ
    found: Dict[str, str] = {}
    try:
        listing = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True,
                                 text=True, timeout=60, env=dict(environ)).stdout
    except (OSError, subprocess.TimeoutExpired):
        listing = ""
    for line in listing.splitlines():
        match = re.match(r"^[^.]+\.([a-z-]+)='(.*)'$", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    for key in ("index-url", "extra-index-url", "trusted-host", "default-timeout", "timeout"):
        value = environ.get("PIP_" + key.upper().replace("-", "_"))
        if value:
            found[key] = value
    if "default-timeout" in found:
        found.setdefault("timeout", found.pop("default-timeout"))
    settings = {}
    for key in ("index-url", "extra-index-url"):
        urls = [u for u in found.get(key, "").split() if u.startswith(("http://", "https://"))]
        if urls:
            settings[key] = urls[0] if key == "index-url" else " ".join(urls)
    for key in ("trusted-host", "timeout"):
        if found.get(key):
            settings[key] = found[key]
    return settings


def build_mounts(workdir: str, settings: Dict[str, str], ca_bundle: str = CA_BUNDLE) -> List[str]:
    """``--volume`` arguments that lend each build step this machine's pip index and CAs."""
    volumes = []
    conf = {**settings}
    if os.path.isfile(ca_bundle):
        volumes.append(f"{ca_bundle}:{CA_BUNDLE}:ro")
        conf["cert"] = CA_BUNDLE
    if conf:
        path = os.path.join(workdir, "pip.conf")
        pathlib.Path(path).write_text(
            "[global]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(conf.items())))
        volumes.append(f"{path}:/etc/pip.conf:ro")
    return volumes


# ---------------------------------------------------------------- base images and stand-ins


def base_image(dockerfile: str) -> str:
    """The image the first ``FROM`` of ``dockerfile`` names."""
    for line in pathlib.Path(dockerfile).read_text().splitlines():
        words = line.split()
        if words and words[0].upper() == "FROM":
            words = [w for w in words[1:] if not w.startswith("--")]
            return words[0]
    raise ContainerError(f"{dockerfile}: no FROM instruction")


def standin_name(base: str) -> str:
    """``localhost/kfp-mlops-standin/<name>:<tag>`` standing in for a base such as
    ``python:3.11.7-slim-bookworm@sha256:...``."""
    name = base.split("@", 1)[0]
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    return f"{STANDIN_REGISTRY}/{repository.rsplit('/', 1)[-1]}:{tag or 'latest'}"


def _quiet(command: List[str], timeout: Optional[float] = None) -> bool:
    try:
        return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def image_exists(engine: str, image: str) -> bool:
    if engine == "podman":
        return _quiet(["podman", "image", "exists", image])
    return _quiet(["docker", "image", "inspect", image])


def _label(image: str, label: str) -> str:
    out = subprocess.run(["podman", "image", "inspect", "--format",
                          f'{{{{index .Labels "{label}"}}}}', image],
                         capture_output=True, text=True)
    return out.stdout.strip()


def _checked(command: List[str], what: str, **kwargs) -> None:
    logger.info("$ %s", " ".join(command))
    result = subprocess.run(command, **kwargs)
    if result.returncode != 0:
        raise ContainerError(f"{what} failed (exit {result.returncode}): {' '.join(command)}")


def build_standin(tag: str, mirror: Optional[str] = None, suite: str = DEBIAN_SUITE) -> None:
    """Imports a Debian ``suite`` root filesystem with Python 3, pip, venv and the Python
    headers as ``tag``.

    Like the official ``python:3.11-slim`` image: ``python`` and ``pip`` commands on the
    PATH, and pip installs system-wide (no EXTERNALLY-MANAGED marker). Kept small: the
    minbase variant, no apt lists, no documentation.
    """
    mirror = mirror or debian_mirror(suite=suite)
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    with tempfile.TemporaryDirectory(prefix="kfp-mlops-standin-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        started = time.monotonic()
        logger.info("Building the stand-in %s with debootstrap from %s (once; a few minutes)",
                    tag, mirror)
        _checked([debootstrap, "--variant=minbase", "--components=main",
                  "--include=python3,python3-pip,python3-venv,python3-dev,ca-certificates",
                  suite, rootfs, mirror], "debootstrap", stdout=subprocess.DEVNULL)
        _finish_rootfs(rootfs)
        archive = os.path.join(tmp, "rootfs.tar")
        _checked(["tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", archive, "."],
                 "tar of the stand-in root filesystem")
        shutil.rmtree(rootfs, ignore_errors=True)
        _checked(["podman", "import",
                  "--change", "ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                              "/sbin:/bin",
                  "--change", "ENV=LANG=C.UTF-8",
                  "--change", 'CMD=["python3"]',
                  "--change", f"LABEL={STANDIN_LABEL}={STANDIN_RECIPE}",
                  "--message", f"kfp-mlops stand-in for a base that cannot be pulled: "
                               f"Debian {suite}, python3, pip, venv",
                  archive, tag], "podman import", stdout=subprocess.DEVNULL)
        logger.info("Stand-in %s built in %.0f s", tag, time.monotonic() - started)


def _finish_rootfs(rootfs: str) -> None:
    def rm(*patterns):
        for pattern in patterns:
            for path in glob.glob(os.path.join(rootfs, pattern)):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)

    for name, target in (("python", "/usr/bin/python3"), ("python3", "/usr/bin/python3"),
                         ("pip", "/usr/bin/pip3"), ("pip3", "/usr/bin/pip3")):
        link = os.path.join(rootfs, "usr/local/bin", name)
        if not os.path.lexists(link):
            os.symlink(target, link)
    rm("usr/lib/python3.*/EXTERNALLY-MANAGED", "var/lib/apt/lists/*", "var/cache/apt/*",
       "var/cache/debconf/*-old", "var/log/*.log", "var/log/apt/*", "usr/share/man/*",
       "usr/share/info/*", "usr/share/locale/*", "root/.cache", "tmp/*",
       # static libraries: nothing links Python statically here (the official image has none)
       "usr/lib/python3.*/config-*/*.a", "usr/lib/*-linux-gnu/libpython3*.a")
    for doc in glob.glob(os.path.join(rootfs, "usr/share/doc/*/*")):
        if os.path.basename(doc) != "copyright":  # licences stay, as in Debian's slim images
            rm(os.path.relpath(doc, rootfs))
    # the host's, copied in by debootstrap; the engine provides each container's own
    for name in ("etc/resolv.conf", "etc/hostname"):
        path = os.path.join(rootfs, name)
        if os.path.lexists(path):
            os.unlink(path)
            pathlib.Path(path).write_text("")


def resolve_base(engine: str, dockerfile: str, pull_timeout: float = PULL_TIMEOUT) -> Optional[str]:
    """The image to build ``dockerfile`` from in place of its ``FROM``; None keeps the FROM.

    The real base when present or pullable; otherwise (podman only) the stand-in, built once.
    """
    base = base_image(dockerfile)
    if engine != "podman" or image_exists(engine, base):
        return None
    standin = standin_name(base)
    if image_exists(engine, standin) and _label(standin, STANDIN_LABEL) == STANDIN_RECIPE:
        logger.info("%s: using the stand-in %s for %s", dockerfile, standin, base)
        return standin
    logger.info("Pulling %s (at most %.0f s)", base, pull_timeout)
    if _quiet(["podman", "pull", "--quiet", base], timeout=pull_timeout):
        return None
    logger.info("%s cannot be pulled here; building a stand-in from Debian packages", base)
    build_standin(standin)
    return standin


# ---------------------------------------------------------------- builds


@dataclasses.dataclass
class BuildResult:
    image: str
    uri: str
    engine: str
    base: str
    seconds: float
    size_bytes: int = 0


def image_folders(names: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """``{image: Dockerfile}`` for ``names`` (default: every image of ``kfp_mlops.images``).

    Raises:
        ValueError: an unknown image name.
    """
    from kfp_mlops import images

    chosen = list(names or images.IMAGES)
    unknown = [n for n in chosen if n not in images.IMAGES]
    if unknown:
        raise ValueError(f"unknown image {', '.join(unknown)}; images are "
                         f"{', '.join(sorted(images.IMAGES))}")
    return {n: str(ROOT / "images" / images.IMAGES[n] / "Dockerfile") for n in chosen}


def build_command(engine: str, dockerfile: str, uri: str, context: str,
                  base: Optional[str] = None, volumes: Sequence[str] = ()) -> List[str]:
    """The build command of one image (podman: layers cached, host network, lent volumes)."""
    command = [engine, "build", "--file", dockerfile, "--tag", uri]
    if engine == "podman":
        command += ["--layers", "--network", "host"]
        if base:
            command += ["--from", base]
        for volume in volumes:
            command += ["--volume", volume]
    return command + [context]


def image_size(engine: str, image: str) -> int:
    out = subprocess.run([engine, "image", "inspect", "--format", "{{.Size}}", image],
                         capture_output=True, text=True)
    try:
        return int(out.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return 0


def build_images(engine: str = "auto", names: Optional[Sequence[str]] = None,
                 registry: Optional[str] = None, tag: Optional[str] = None) -> List[BuildResult]:
    """Builds each image, tagged ``kfp_mlops.images.uri(name)``: what compiled specs name.

    Raises:
        ContainerError: the set-up or a build failed.
    """
    from kfp_mlops import images

    engine = choose_engine(engine)
    set_up(engine)
    registry = registry or images.DEFAULT_REGISTRY
    tag = tag or images.DEFAULT_TAG
    results = []
    with tempfile.TemporaryDirectory(prefix="kfp-mlops-build-") as tmp:
        volumes = build_mounts(tmp, pip_settings()) if engine == "podman" else []
        for name, dockerfile in image_folders(names).items():
            uri = images.uri(name, registry, tag)
            base = resolve_base(engine, dockerfile)
            started = time.monotonic()
            _checked(build_command(engine, os.path.relpath(dockerfile, ROOT), uri, ".",
                                   base, volumes), f"build of {uri}", cwd=str(ROOT))
            result = BuildResult(image=name, uri=uri, engine=engine,
                                 base=base or base_image(dockerfile),
                                 seconds=round(time.monotonic() - started, 1),
                                 size_bytes=image_size(engine, uri))
            logger.info("Built %s in %.1f s (%.0f MB)", uri, result.seconds,
                        result.size_bytes / 1e6)
            results.append(result)
    return results


# ---------------------------------------------------------------- checks


def lock_pins(path: str) -> Dict[str, str]:
    """``{normalised name: version}`` of a requirements lock."""
    pins = {}
    for line in pathlib.Path(path).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)", line)
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def image_lock(name: str) -> str:
    """The lock file an image installs (the path its Dockerfile's ``pip install -r`` reads)."""
    from kfp_mlops import images

    folder_lock = ROOT / "images" / images.IMAGES[name] / "requirements.lock"
    return str(folder_lock if folder_lock.exists() else ROOT / "requirements.lock")


def image_modules(name: str) -> List[str]:
    """What an image must import: its components (core and shell) and :data:`IMAGE_MODULES`."""
    from kfp_mlops import images

    modules = list(IMAGE_MODULES.get(name, ("kfp",)))
    for component, image in sorted(images.COMPONENT_IMAGES.items()):
        if image == name:
            modules += [f"kfp_mlops.components.{component}.core",
                        f"kfp_mlops.components.{component}.component"]
    return modules


_PROBE = """
import importlib, importlib.metadata as md, json, os, sys
seen = {}  # before any import: setuptools puts its vendored copies on sys.path
for dist in md.distributions():
    name = dist.metadata["Name"]
    if name:
        seen.setdefault(name, dist.version)
failed = {}
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except Exception as e:
        failed[module] = f"{type(e).__name__}: {e}"
print(json.dumps({"uid": os.getuid(), "user": os.environ.get("USER", ""),
                  "python": sys.version.split()[0], "failed": failed, "versions": seen}))
"""


def compare_versions(installed: Dict[str, str], pins: Dict[str, str]) -> List[str]:
    """What differs between an image's distributions and its lock, one line each."""
    have = {_normalise(k): v for k, v in installed.items()}
    problems = [f"{name}: lock {version}, image {have.get(name, 'missing')}"
                for name, version in sorted(pins.items()) if have.get(name) != version]
    problems += [f"{name} {version}: in the image, not in the lock"
                 for name, version in sorted(have.items())
                 if name not in pins and name not in ALLOWED_EXTRA]
    return problems


@dataclasses.dataclass
class CheckResult:
    image: str
    uri: str
    ok: bool
    uid: int
    size_bytes: int
    problems: List[str]
    seconds: float


def check_images(engine: str = "auto", names: Optional[Sequence[str]] = None,
                 registry: Optional[str] = None, tag: Optional[str] = None) -> List[CheckResult]:
    """Starts each image as built and checks it: a non-root user, every module its
    components need imports, exactly its lock's versions; reports its size."""
    from kfp_mlops import images

    engine = choose_engine(engine)
    set_up(engine)
    results = []
    for name in image_folders(names):
        uri = images.uri(name, registry or images.DEFAULT_REGISTRY, tag or images.DEFAULT_TAG)
        started = time.monotonic()
        if not image_exists(engine, uri):
            results.append(CheckResult(name, uri, False, -1, 0, [
                f"{uri} not found; build it with `make images`"], 0.0))
            continue
        command = [engine, "run", "--rm", "--network", "host", uri, "python", "-c", _PROBE,
                   *image_modules(name)]
        out = subprocess.run(command, capture_output=True, text=True)
        problems: List[str] = []
        probe: Dict[str, Any] = {"uid": -1, "failed": {}, "versions": {}}
        try:
            probe = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            problems.append(f"the probe did not run (exit {out.returncode}): "
                            f"{out.stderr.strip()[-2000:]}")
        if probe["uid"] == 0:
            problems.append("runs as root; expected a non-root user")
        problems += [f"import {m}: {e}" for m, e in sorted(probe["failed"].items())]
        if probe["versions"]:
            problems += compare_versions(probe["versions"], lock_pins(image_lock(name)))
        results.append(CheckResult(name, uri, not problems, probe["uid"],
                                   image_size(engine, uri), problems,
                                   round(time.monotonic() - started, 1)))
    return results


# ---------------------------------------------------------------- a Docker API


@contextlib.contextmanager
def docker_api(engine: str = "auto") -> Iterator[str]:
    """A Docker API for the ``docker`` SDK: Docker's own, or ``podman system service`` on a
    socket in a temporary folder, started here and stopped on exit. ``DOCKER_HOST`` names it
    while the context lasts. Yields the engine's name."""
    engine = choose_engine(engine)
    set_up(engine)
    if engine == "docker":
        yield engine
        return
    with tempfile.TemporaryDirectory(prefix="kfp-mlops-podman-") as tmp:
        socket = os.path.join(tmp, "podman.sock")
        from kfp_mlops.components._shared import processes

        # Its own session (a terminal's Ctrl-C reaches only the run, which removes its
        # container before this service is stopped), and it dies with the run if the run is
        # killed outright.
        service = subprocess.Popen(["podman", "system", "service", "--time=0",
                                    f"unix://{socket}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   **processes.popen_options())
        previous = os.environ.get("DOCKER_HOST")
        os.environ["DOCKER_HOST"] = f"unix://{socket}"
        try:
            _wait_for_api(service)
            logger.info("podman system service answers on %s", socket)
            yield engine
        finally:
            if previous is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = previous
            service.terminate()
            try:
                service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()


def _wait_for_api(service: subprocess.Popen, timeout: float = 60) -> None:
    import docker

    deadline = time.monotonic() + timeout
    while True:
        if service.poll() is not None:
            raise ContainerError("podman system service stopped: "
                                 + service.stderr.read().decode(errors="replace")[-2000:])
        try:
            client = docker.from_env()
            try:
                client.ping()
                return
            finally:
                client.close()
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                raise ContainerError(f"podman system service did not answer in {timeout:.0f} s")
            time.sleep(0.2)
