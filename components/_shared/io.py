"""File helpers for local paths and ``gs://`` URIs, and writes that never leave half a file.

Pure Python plus pyarrow (imported lazily): no kfp import.

On Vertex AI and Kubeflow, artifact paths are local paths (Vertex mounts ``gs://`` buckets
under ``/gcs/``); only user-given sources such as ``data_uri`` arrive as ``gs://`` URIs, and
those are read through pyarrow's file systems.
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from typing import Any, Iterator, List, Tuple

logger = logging.getLogger(__name__)

GCS_PREFIX = "gs://"
FILE_PREFIX = "file://"
# Where Vertex AI Pipelines mounts Cloud Storage; renames there are not atomic.
GCS_FUSE_ROOT = "/gcs/"
_GLOB_CHARS = set("*?[")


def is_gcs(uri: str) -> bool:
    return uri.startswith(GCS_PREFIX)


def strip_file_scheme(uri: str) -> str:
    return uri[len(FILE_PREFIX):] if uri.startswith(FILE_PREFIX) else uri


def to_mount_path(uri: str, mount: str = GCS_FUSE_ROOT) -> str:
    """``gs://bucket/path`` -> ``/gcs/bucket/path`` (Vertex AI's Cloud Storage mount); any
    other path is returned as is (without a ``file://`` scheme)."""
    if is_gcs(uri):
        return os.path.join(mount, uri[len(GCS_PREFIX):])
    return strip_file_scheme(uri)


def from_mount_path(path: str, mount: str = GCS_FUSE_ROOT) -> str:
    """``/gcs/bucket/path`` -> ``gs://bucket/path``, for what reads Cloud Storage itself (Beam
    workers, Vertex AI); a ``gs://`` URI or a path off the mount is returned as is."""
    if is_gcs(path):
        return path
    path = strip_file_scheme(path)
    mount = mount.rstrip("/") + "/"
    full = os.path.abspath(path)
    if full.startswith(mount) and len(full) > len(mount):
        return GCS_PREFIX + full[len(mount):]
    return path


def has_glob(uri: str) -> bool:
    return any(c in _GLOB_CHARS for c in uri)


def filesystem_for(uri: str) -> Tuple[Any, str]:
    """Returns ``(pyarrow FileSystem, path within it)`` for a local path or ``gs://`` URI."""
    from pyarrow import fs

    if is_gcs(uri):
        return fs.GcsFileSystem(), uri[len(GCS_PREFIX):]
    return fs.LocalFileSystem(), os.path.abspath(strip_file_scheme(uri))


def _display(uri: str, path: str) -> str:
    return GCS_PREFIX + path if is_gcs(uri) else path


def expand(uri: str, suffixes: Tuple[str, ...] = ()) -> List[str]:
    """Expands a file, a directory or a glob into a sorted list of file URIs.

    A directory expands to the files directly inside it whose names end with one of
    ``suffixes`` (every file when ``suffixes`` is empty). Hidden files and names starting
    with ``_`` (``_SUCCESS`` markers and the like) are skipped.

    Raises:
        FileNotFoundError: nothing matches ``uri``.
    """
    from pyarrow import fs

    filesystem, path = filesystem_for(uri)
    if has_glob(path):
        # Only the last component may hold a pattern; list its folder and match names.
        folder, pattern = os.path.split(path)
        if has_glob(folder):
            raise ValueError(f"{uri!r}: only the file name may contain a wildcard, "
                             "not the folders above it")
        try:
            infos = filesystem.get_file_info(fs.FileSelector(folder, allow_not_found=True))
        except OSError as e:
            raise FileNotFoundError(f"cannot list {_display(uri, folder)!r}: {e}") from e
        found = [i.path for i in infos
                 if i.type == fs.FileType.File and fnmatch.fnmatch(os.path.basename(i.path), pattern)]
        if not found:
            raise FileNotFoundError(f"no file matches {uri!r}")
        return sorted(_display(uri, p) for p in found)
    info = filesystem.get_file_info(path)
    if info.type == fs.FileType.NotFound:
        raise FileNotFoundError(f"{uri!r} does not exist")
    if info.type == fs.FileType.Directory:
        infos = filesystem.get_file_info(fs.FileSelector(path))
        found = [i.path for i in infos if i.type == fs.FileType.File
                 and not os.path.basename(i.path).startswith((".", "_"))
                 and (not suffixes or i.path.lower().endswith(suffixes))]
        if not found:
            want = " or ".join(suffixes) if suffixes else "any"
            raise FileNotFoundError(f"directory {uri!r} holds no {want} files")
        return sorted(_display(uri, p) for p in found)
    return [_display(uri, path)]


def open_input(uri: str):
    """Opens a local or ``gs://`` file for binary reading (a seekable pyarrow file)."""
    filesystem, path = filesystem_for(uri)
    return filesystem.open_input_file(path)


def _is_on_fuse(path: str) -> bool:
    return os.path.abspath(path).startswith(GCS_FUSE_ROOT)


@contextlib.contextmanager
def output_dir(path: str) -> Iterator[str]:
    """Yields a directory to fill; it appears at ``path`` only when the block succeeds.

    Locally the content is written to a hidden sibling and renamed into place, so a crash
    never leaves a directory that looks complete. On a Cloud Storage FUSE mount, where
    renames are copies, the directory is written in place and removed on failure.
    An empty directory already at ``path`` (KFP may create one) is replaced.
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    if os.path.isdir(path) and os.listdir(path):
        raise FileExistsError(f"output directory {path!r} already holds files")
    if _is_on_fuse(path):
        os.makedirs(path, exist_ok=True)
        try:
            yield path
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    try:
        yield staging
        if os.path.isdir(path):
            os.rmdir(path)
        os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_bytes(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (a temporary sibling, then a rename)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(root: str) -> str:
    """A content hash of every file under ``root`` (relative names and bytes, in order)."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            digest.update(os.path.relpath(full, root).encode() + b"\0")
            digest.update(sha256_file(full).encode() + b"\0")
    return digest.hexdigest()
