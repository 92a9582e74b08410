"""The Docker runner of ``kfp-mlops run PIPELINE --runner docker``.

``kfp.local.DockerRunner`` runs every task in the image its compiled spec names, through any
engine that speaks the Docker API where the ``docker`` SDK looks for one (``DOCKER_HOST``,
else the default socket): Docker's own, or podman's (``podman system service``). For our
pipelines it needs three things kfp.local does not do, added by :func:`docker_session`:

* every local path a parameter names is made absolute and mounted at the same path in each
  task's container (:func:`container_parameters`);
* the pipeline root and the writable mounts are made writable for the images' user
  (uid 1000, ``useradd --uid 1000`` in each Dockerfile), as on a cluster;
* each container uses the host's network, a missing ``localhost/`` image is an error that
  says how to build it, and the container is removed when it ends (:func:`run_container`).

kfp.local's volume and container calls are replaced through
:mod:`kfp_mlops.pipelines.kfp_local_adapter`, for the length of the run only. This module
builds no image and sets up no engine: in a kfp-mlops checkout, ``make images`` builds the
images and ``images/tools/`` starts podman's API on a machine without Docker.
"""
import contextlib
import dataclasses
import os
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

#: The user every image runs as (``useradd --uid 1000`` in each Dockerfile).
IMAGE_UID = 1000
IMAGE_GID = 1000


class ContainerError(RuntimeError):
    """The container engine, a build or an image check failed; the message says what."""


@dataclasses.dataclass(frozen=True)
class Mount:
    path: str
    writable: bool = False


#: Parameters whose local folder a task writes to (created when missing).
WRITABLE_PARAMETERS = ("registry_uri",)
_GLOB = re.compile(r"[*?\[]")
_PATH_NAME = re.compile(r"(_uri|_path|_dir|_file|_folder|_root)$")


def _local_path(key: str, value: str, cwd: str) -> Optional[str]:
    """The host path a parameter value names, or None for anything else (URIs, SQL, names)."""
    if not value or "\n" in value:
        return None
    if value.startswith("file://"):
        return value[len("file://"):]
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):  # gs://, bq://, vertex://, https://
        return None
    if _PATH_NAME.search(key):
        return None if " " in value.strip() else value  # a query is not a path
    # another parameter (e.g. trainer_module): only a file or folder that is there
    if ("/" in value or value.endswith(".py")) and os.path.lexists(os.path.join(cwd, value)):
        return value
    return None


def _mount_folder(path: str, writable: bool) -> str:
    """The folder to mount for ``path``: itself if a folder, else the folder holding it."""
    if _GLOB.search(path):
        path = _GLOB.split(path, 1)[0]
        return path.rstrip("/") if path.endswith("/") else os.path.dirname(path) or "/"
    if os.path.isdir(path) or (writable and not os.path.exists(path)):
        return path
    return os.path.dirname(path)


def container_parameters(parameters: Dict[str, Any], cwd: Optional[str] = None
                         ) -> Tuple[Dict[str, Any], List[Mount]]:
    """Pipeline arguments for a run in containers, and the folders each task must see.

    Every local path among the arguments (a ``file://`` URI, the value of a ``*_uri`` /
    ``*_path`` / ``*_dir`` parameter that is not a URI or a query, or any other value with a
    ``/`` or ending in ``.py`` that exists here; also inside lists and dicts) becomes
    absolute, and its folder is mounted at the same path. The folders of
    :data:`WRITABLE_PARAMETERS` are mounted writable; everything else read-only. Cloud URIs,
    SQL and plain values are left alone.
    """
    cwd = cwd or os.getcwd()
    mounts: Dict[str, bool] = {}

    def convert(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: convert(str(k), v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(key, v) for v in value]
        if not isinstance(value, str):
            return value
        local = _local_path(key, value, cwd)
        if local is None:
            return value
        absolute = os.path.normpath(os.path.join(cwd, os.path.expanduser(local)))
        writable = key in WRITABLE_PARAMETERS
        folder = _mount_folder(absolute, writable)
        mounts[folder] = mounts.get(folder, False) or writable
        if value.startswith("file://"):
            return "file://" + absolute
        return absolute + ("/" if value.endswith("/") and absolute != "/" else "")

    converted = {k: convert(k, v) for k, v in parameters.items()}
    return converted, merge_mounts([Mount(p, w) for p, w in mounts.items()])


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def merge_mounts(mounts: Sequence[Mount]) -> List[Mount]:
    """Mounts without those another one already covers (a folder inside a writable mount,
    or a read-only folder inside any mount)."""
    kept = []
    for mount in sorted(set(mounts), key=lambda m: (m.path, not m.writable)):
        if any(_inside(mount.path, other.path) and (other.writable or not mount.writable)
               for other in kept):
            continue
        kept.append(mount)
    return kept


def volumes(pipeline_root: str, mounts: Sequence[Mount]) -> Dict[str, Dict[str, str]]:
    """The ``volumes`` argument of ``docker.containers.run``: the pipeline root writable,
    every mount at its own path."""
    every = merge_mounts([Mount(pipeline_root, True), *mounts])
    return {m.path: {"bind": m.path, "mode": "rw" if m.writable else "ro"} for m in every}


def make_writable(path: str, uid: int = IMAGE_UID, gid: int = IMAGE_GID,
                  recursive: bool = True) -> None:
    """Lets the images' user write below ``path`` (created when missing).

    Run as root, entries not owned by ``uid`` are handed to it (root keeps every right);
    run as another user, they get group and other write permission instead.
    """
    os.makedirs(path, exist_ok=True)
    entries = [path]
    if recursive:
        for folder, dirs, files in os.walk(path):
            entries += [os.path.join(folder, n) for n in dirs + files]
    euid = os.geteuid()
    for entry in entries:
        if os.path.islink(entry):
            continue
        info = os.stat(entry)
        if euid == uid:
            continue
        if euid == 0:
            if info.st_uid != uid:
                os.chown(entry, uid, gid)
        elif info.st_uid == euid:
            extra = 0o077 if os.path.isdir(entry) else 0o066
            os.chmod(entry, info.st_mode | extra)


def _docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"


def check_api() -> None:
    """Checks that a Docker API answers where the ``docker`` SDK looks for one.

    Raises:
        ContainerError: the ``docker`` SDK is missing, or no engine answers; the message
            says where it looked and how to get one.
    """
    try:
        import docker
    except ImportError:
        raise ContainerError("--runner docker needs the docker SDK: pip install "
                             "'kfp-mlops[docker]'") from None
    try:
        client = docker.from_env()
        try:
            client.ping()
        finally:
            client.close()
    except Exception as e:
        raise ContainerError(
            f"--runner docker: no Docker API answers at {_docker_host()} ({e}); start a "
            "Docker engine, or point DOCKER_HOST at one (podman: `podman system service`; in "
            "a kfp-mlops checkout `python images/tools/images_cli.py with-api -- COMMAND` "
            "runs COMMAND with one)") from None


def _add_latest_tag(image: str) -> str:
    """The image name kfp.local runs for ``image`` (``add_latest_tag_if_not_present`` in
    ``kfp/local/docker_task_handler.py``, kfp 2.13 and 2.17)."""
    return image if ":" in image else f"{image}:latest"


def run_container(client, image: str, command: List[str], volumes: Dict[str, Any],
                  **container_run_args) -> int:
    """kfp.local's ``run_docker_container``, with the host's network, a clear error for an
    image not built yet (instead of a pull of ``localhost/...``), and the container removed
    once it ends. ``container_run_args`` (newer kfp.local: a ``DockerRunner``'s own, and the
    task's ``environment``) are passed to ``containers.run``."""
    import docker

    image = _add_latest_tag(image)
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        if image.startswith("localhost/"):
            raise ContainerError(f"image {image} not found; build it with `make images` in "
                                 "a kfp-mlops checkout") from None
        client.images.pull(image)
    from kfp_mlops.pipelines import local

    container = client.containers.run(image=image, command=command, detach=True,
                                      volumes=volumes,
                                      **{"network_mode": "host", **container_run_args})
    try:
        for line in container.logs(stream=True, follow=True):
            local.task_log_line(line.decode(errors="replace"))
        return container.wait()["StatusCode"]
    finally:
        # Also on SIGINT/SIGTERM of the run (local.RunInterrupted unwinds through here): the
        # container is killed and removed, so an interrupted run leaves none running. A
        # SIGKILL of the run leaves the container to the engine: it runs to its end and is
        # left stopped (`podman ps -a`); nothing of it is read back by the dead run.
        with contextlib.suppress(Exception):
            container.remove(force=True)


@contextlib.contextmanager
def docker_session(parameters: Dict[str, Any], pipeline_root: str) -> Iterator[Dict[str, Any]]:
    """What a ``kfp.local.DockerRunner`` run of our pipelines needs; yields the arguments to
    call the pipeline with.

    A Docker API answers (:func:`check_api`); local paths among ``parameters`` are absolute
    and mounted at the same path in every task's container; the pipeline root and writable
    mounts belong to the images' user. kfp.local's volume and container calls are replaced
    for the length of the context only.

    Raises:
        ContainerError: no Docker API answers.
        kfp_local_adapter.KfpLocalChanged: kfp.local's Docker runner is not the one the
            adapter knows.
    """
    from kfp_mlops.pipelines import kfp_local_adapter

    converted, mounts = container_parameters(parameters)
    pipeline_root = os.path.abspath(pipeline_root)
    check_api()
    make_writable(pipeline_root, recursive=False)
    for mount in mounts:
        if mount.writable:
            make_writable(mount.path)
    with kfp_local_adapter.docker_tasks(lambda root: volumes(root, mounts), run_container):
        yield converted
