"""One I/O layer for local paths, ``gs://`` and ``s3://`` URIs, and writes that never leave
half a file.

Every location a user gives (``data_uri``, ``registry_uri``, ``schema_uri``, a trainer
module, report folders) goes through this module, which reads and writes it with fsspec:
the local file system, gcsfs for ``gs://`` and s3fs for ``s3://``. Nothing else in the
package opens a user-given location with another library.

Endpoints and credentials come from the standard places, so MinIO and emulators work
unchanged:

* S3: ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (MinIO, Kubeflow's artifact store,
  moto), credentials from botocore's usual chain (``AWS_ACCESS_KEY_ID`` ..., a profile, an
  IAM role);
* Cloud Storage: ``STORAGE_EMULATOR_HOST`` for an emulator, with anonymous credentials (so
  google-auth never probes the metadata server); otherwise Application Default Credentials.

Artifact folders that the Kubeflow launcher or Vertex AI hand a task are local paths (Vertex
mounts buckets under ``/gcs/``); :func:`output_dir`, :func:`write_json` and friends write
those atomically. User-given ``/gcs/bucket/...`` locations are read as ``gs://bucket/...``
(:func:`canonical_uri`): the mount is Cloud Storage FUSE, which has neither atomic renames
nor preconditions, so the registry talks to Cloud Storage itself.

Object stores have no atomic rename. What they do have, and what :func:`create_exclusive`
uses: a single object is written whole or not at all, and a write can be made conditional on
the object not existing yet (Cloud Storage ``ifGenerationMatch=0``, S3 ``If-None-Match: *``;
locally a hard link, which fails when the name exists).

Pure Python; fsspec, gcsfs, s3fs and pyarrow are imported inside functions. No kfp import.
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import posixpath
import shutil
import tempfile
import uuid
from typing import Any, Iterator, List, Optional, Tuple

logger = logging.getLogger(__name__)

GCS_PREFIX = "gs://"
S3_PREFIX = "s3://"
FILE_PREFIX = "file://"
REMOTE_PREFIXES = (GCS_PREFIX, S3_PREFIX)
# Where Vertex AI Pipelines mounts Cloud Storage; renames there are not atomic.
GCS_FUSE_ROOT = "/gcs/"
_GLOB_CHARS = set("*?[")


def is_gcs(uri: str) -> bool:
    return uri.startswith(GCS_PREFIX)


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_PREFIX)


def is_remote(uri: str) -> bool:
    """True for an object-store URI (``gs://``, ``s3://``)."""
    return uri.startswith(REMOTE_PREFIXES)


def strip_file_scheme(uri: str) -> str:
    return uri[len(FILE_PREFIX):] if uri.startswith(FILE_PREFIX) else uri


def to_mount_path(uri: str, mount: Optional[str] = None) -> str:
    """``gs://bucket/path`` -> ``/gcs/bucket/path`` (Vertex AI's Cloud Storage mount; default
    :data:`GCS_FUSE_ROOT`, read at each call); any other path is returned as is (without a
    ``file://`` scheme)."""
    mount = GCS_FUSE_ROOT if mount is None else mount
    if is_gcs(uri):
        return os.path.join(mount, uri[len(GCS_PREFIX):])
    return strip_file_scheme(uri)


def from_mount_path(path: str, mount: Optional[str] = None) -> str:
    """``/gcs/bucket/path`` -> ``gs://bucket/path``, for what reads Cloud Storage itself (Beam
    workers, Vertex AI); a ``gs://`` URI or a path off the mount (default
    :data:`GCS_FUSE_ROOT`, read at each call) is returned as is."""
    if is_remote(path):
        return path
    path = strip_file_scheme(path)
    mount = (GCS_FUSE_ROOT if mount is None else mount).rstrip("/") + "/"
    full = os.path.abspath(path)
    if full.startswith(mount) and len(full) > len(mount):
        return GCS_PREFIX + full[len(mount):]
    return path


def canonical_uri(uri: str) -> str:
    """A user-given location as this layer addresses it.

    ``gs://`` and ``s3://`` URIs stay as they are (without a trailing ``/``); a path on the
    Vertex AI Cloud Storage mount becomes its ``gs://`` URI; ``file://`` URIs and relative
    paths become absolute local paths.

    Raises:
        ValueError: an empty location, or a scheme this layer does not read.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError("expected a local path, a gs:// or an s3:// URI, got an empty value")
    uri = uri.strip()
    if is_remote(uri):
        scheme, rest = uri.split("://", 1)
        if not rest.split("/", 1)[0]:
            raise ValueError(f"{uri!r}: expected {scheme}://BUCKET/PATH")
        return f"{scheme}://{rest.rstrip('/')}" if rest.rstrip("/") else uri
    if "://" in uri and not uri.startswith(FILE_PREFIX):
        raise ValueError(f"{uri!r}: unsupported scheme; expected a local path, file://, "
                         "gs:// or s3://")
    return from_mount_path(os.path.abspath(strip_file_scheme(uri)))


def join(uri: str, *parts: str) -> str:
    """Joins path parts onto a local path or an object-store URI."""
    if is_remote(uri):
        return posixpath.join(uri, *parts)
    return os.path.join(uri, *parts)


def has_glob(uri: str) -> bool:
    return any(c in _GLOB_CHARS for c in uri)


def filesystem(uri: str) -> Tuple[Any, str]:
    """``(fsspec file system, path within it)`` for a local path or an object-store URI.

    Instances are cached by fsspec per endpoint, so tests that point the environment at
    another server get another instance.
    """
    import fsspec

    if is_gcs(uri):
        emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
        # With an emulator, anonymous credentials: google-auth must not look for real ones
        # (that lookup probes the metadata server when nothing else is configured).
        options = {"token": "anon", "endpoint_url": emulator} if emulator else {}
        return fsspec.filesystem("gs", **options), uri[len(GCS_PREFIX):]
    if is_s3(uri):
        endpoint = (os.environ.get("AWS_ENDPOINT_URL_S3")
                    or os.environ.get("AWS_ENDPOINT_URL") or None)
        options = {"endpoint_url": endpoint} if endpoint else {}
        return fsspec.filesystem("s3", **options), uri[len(S3_PREFIX):]
    return fsspec.filesystem("file"), os.path.abspath(strip_file_scheme(uri))


def _display(uri: str, path: str) -> str:
    for prefix in REMOTE_PREFIXES:
        if uri.startswith(prefix):
            return prefix + path
    return path


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.exists(path)


def isdir(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.isdir(path)


def isfile(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.isfile(path)


def modified(uri: str) -> float:
    """When the file at ``uri`` was last written, in seconds since the epoch.

    The store's own clock (S3 ``LastModified``, Cloud Storage ``updated``, the local
    ``st_mtime``), so writers on machines whose clocks disagree agree on an object's age.

    Raises:
        FileNotFoundError: nothing is at ``uri``.
    """
    import datetime

    if not is_remote(uri):
        return os.stat(strip_file_scheme(uri)).st_mtime
    fs, path = filesystem(uri)
    # a fresh answer: an object may have been rewritten since fsspec cached its listing
    fs.invalidate_cache(path)
    try:
        stamp = fs.modified(path)
    except (IsADirectoryError, KeyError):
        raise FileNotFoundError(f"{uri!r} is not a file") from None
    if isinstance(stamp, datetime.datetime):
        if stamp.tzinfo is None:  # gcsfs and s3fs give UTC
            stamp = stamp.replace(tzinfo=datetime.timezone.utc)
        return stamp.timestamp()
    return float(stamp)


def listdir(uri: str) -> List[str]:
    """Names (not paths) directly inside a folder, sorted; [] when it does not exist.

    Always asks the store: fsspec caches listings per process, and another process may
    have written since (the registry polls folders that other writers fill)."""
    fs, path = filesystem(uri)
    fs.invalidate_cache(path)
    try:
        entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    names = {posixpath.basename(str(e).rstrip("/")) for e in entries}
    names.discard("")
    return sorted(n for n in names if str(posixpath.join(path, n)).rstrip("/") != path.rstrip("/"))


def expand(uri: str, suffixes: Tuple[str, ...] = ()) -> List[str]:
    """Expands a file, a directory or a glob into a sorted list of file URIs.

    A directory expands to the files directly inside it whose names end with one of
    ``suffixes`` (every file when ``suffixes`` is empty). Hidden files and names starting
    with ``_`` (``_SUCCESS`` markers and the like) are skipped.

    Raises:
        FileNotFoundError: nothing matches ``uri``.
    """
    fs, path = filesystem(uri)
    if has_glob(path):
        # Only the last component may hold a pattern; list its folder and match names.
        folder, pattern = posixpath.split(path)
        if has_glob(folder):
            raise ValueError(f"{uri!r}: only the file name may contain a wildcard, "
                             "not the folders above it")
        try:
            infos = fs.ls(folder, detail=True)
        except FileNotFoundError:
            infos = []
        except OSError as e:
            raise FileNotFoundError(f"cannot list {_display(uri, folder)!r}: {e}") from e
        found = [i["name"] for i in infos if i.get("type") == "file"
                 and fnmatch.fnmatch(posixpath.basename(i["name"]), pattern)]
        if not found:
            raise FileNotFoundError(f"no file matches {uri!r}")
        return sorted(_display(uri, p) for p in found)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{uri!r} does not exist") from None
    if info.get("type") == "directory":
        found = [i["name"] for i in fs.ls(path, detail=True) if i.get("type") == "file"
                 and not posixpath.basename(i["name"]).startswith((".", "_"))
                 and (not suffixes or i["name"].lower().endswith(suffixes))]
        if not found:
            want = " or ".join(suffixes) if suffixes else "any"
            raise FileNotFoundError(f"directory {uri!r} holds no {want} files")
        return sorted(_display(uri, p) for p in found)
    return [_display(uri, path)]


def open_input(uri: str, block_size: int = 0):
    """Opens a local or object-store file for binary, seekable reading.

    An object is fetched in ranges of ``block_size`` bytes (the file system's default when
    0: 50 MiB for s3fs, 5 MiB for gcsfs), holding one range at a time, so a large object is
    streamed rather than downloaded whole.
    """
    if not is_remote(uri):
        return open(os.path.abspath(strip_file_scheme(uri)), "rb")
    fs, path = filesystem(uri)
    if block_size:
        return fs.open(path, "rb", block_size=block_size, cache_type="readahead")
    return fs.open(path, "rb")


def read_bytes(uri: str) -> bytes:
    if not is_remote(uri):
        with open(strip_file_scheme(uri), "rb") as f:
            return f.read()
    fs, path = filesystem(uri)
    return fs.cat_file(path)


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def remove(uri: str, recursive: bool = False) -> None:
    """Removes a file (or, with ``recursive``, a folder); a missing one is not an error."""
    if not is_remote(uri):
        path = strip_file_scheme(uri)
        if recursive and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        return
    fs, path = filesystem(uri)
    with contextlib.suppress(FileNotFoundError):
        fs.rm(path, recursive=recursive)


def _write_temporary_sibling(path: str, data: bytes) -> str:
    """Writes ``data`` to a hidden, uniquely named sibling of ``path`` (flushed to disk), for
    a rename or link into place; returns its path. Removes it again if the write fails."""
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    return tmp


def create_exclusive(uri: str, data: bytes) -> bool:
    """Writes ``data`` to ``uri`` only if nothing is there yet; returns False if something is.

    The whole object appears at once or not at all, and of two writers racing for one name
    exactly one wins:

    * Cloud Storage: an upload with ``ifGenerationMatch=0`` ("Request preconditions",
      https://cloud.google.com/storage/docs/request-preconditions), which gcsfs sends for
      ``mode="create"``;
    * S3: ``PutObject`` with ``If-None-Match: *`` ("Conditional writes",
      https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html),
      answered 412 when the key exists;
    * local: the data is written to a temporary sibling and hard-linked to the name;
      ``link(2)`` fails with EEXIST when the name exists.
    """
    if is_gcs(uri):
        fs, path = filesystem(uri)
        try:
            fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        return True
    if is_s3(uri):
        return _s3_create_exclusive(uri, data)
    path = os.path.abspath(strip_file_scheme(uri))
    tmp = _write_temporary_sibling(path, data)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


class _ConditionalRequestConflict(OSError):
    """S3 answered 409 ConditionalRequestConflict to a conditional write."""


def _s3_create_exclusive(uri: str, data: bytes) -> bool:
    """S3's create-only PUT, retrying a 409.

    S3 answers a conditional write that races another write to the same key with either 412
    PreconditionFailed (the other one won) or 409 ConditionalRequestConflict, for which its
    documentation says to retry ("Conditional writes", "How to handle conflicts",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html); the retry
    then gets 412 if the other write won, or succeeds.
    """
    import tenacity

    fs, path = filesystem(uri)

    @tenacity.retry(retry=tenacity.retry_if_exception_type(_ConditionalRequestConflict),
                    stop=tenacity.stop_after_attempt(6),
                    wait=tenacity.wait_exponential(multiplier=0.05, max=2), reraise=True)
    def put() -> bool:
        try:
            fs.pipe_file(path, data, IfNoneMatch="*")
        except FileExistsError:
            return False
        except OSError as e:
            text = str(e)
            if "ConditionalRequestConflict" in text or "409" in text:
                raise _ConditionalRequestConflict(text) from e
            if "PreconditionFailed" in text or "412" in text:  # a 412 s3fs did not translate
                return False
            raise
        return True

    return put()


def put_dir(local_dir: str, uri: str) -> None:
    """Copies a local folder's files to ``uri`` (a local path or an object-store prefix)."""
    if not is_remote(uri):
        shutil.copytree(local_dir, strip_file_scheme(uri), dirs_exist_ok=True)
        return
    fs, path = filesystem(uri)
    files = []
    for folder, _, names in os.walk(local_dir):
        for name in sorted(names):
            full = os.path.join(folder, name)
            files.append((full, posixpath.join(path, os.path.relpath(full, local_dir)
                                               .replace(os.sep, "/"))))
    if files:
        fs.put([f for f, _ in files], [t for _, t in files])


def put_file(local_path: str, uri: str) -> None:
    """Copies one local file to ``uri``."""
    if not is_remote(uri):
        target = strip_file_scheme(uri)
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        shutil.copyfile(local_path, target)
        return
    fs, path = filesystem(uri)
    fs.put_file(local_path, path)


def get_dir(uri: str, local_dir: str) -> str:
    """Copies the files under ``uri`` into ``local_dir`` (created); returns ``local_dir``."""
    if not is_remote(uri):
        shutil.copytree(strip_file_scheme(uri), local_dir, dirs_exist_ok=True)
        return local_dir
    fs, path = filesystem(uri)
    found = fs.find(path)
    if not found:
        raise FileNotFoundError(f"{uri!r} holds no files")
    os.makedirs(local_dir, exist_ok=True)
    base = path.rstrip("/") + "/"
    sources, targets = [], []
    for name in found:
        rel = name[len(base):] if name.startswith(base) else posixpath.basename(name)
        target = os.path.join(local_dir, *rel.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        sources.append(name)
        targets.append(target)
    fs.get(sources, targets)
    return local_dir


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """Yields a local path holding what ``uri`` names: the path itself when it is local, else
    a temporary copy of the file or folder (removed afterwards)."""
    if not is_remote(uri):
        yield os.path.abspath(strip_file_scheme(uri))
        return
    fs, path = filesystem(uri)
    with tempfile.TemporaryDirectory(prefix="kfp-mlops-") as tmp:
        target = os.path.join(tmp, posixpath.basename(path.rstrip("/")) or "data")
        if fs.isdir(path):
            get_dir(uri, target)
        else:
            fs.get_file(path, target)
        yield target


def _is_on_fuse(path: str) -> bool:
    return os.path.abspath(path).startswith(GCS_FUSE_ROOT.rstrip("/") + "/")


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
    """Writes ``data`` to ``path`` atomically: locally a temporary sibling, then a rename; on
    an object store one PUT, which readers see whole or not at all."""
    if is_remote(path):
        fs, key = filesystem(path)
        fs.pipe_file(key, data)
        return
    tmp = _write_temporary_sibling(os.path.abspath(strip_file_scheme(path)), data)
    try:
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
    if is_remote(path):
        return json.loads(read_text(path))
    with open(strip_file_scheme(path), encoding="utf-8") as f:
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
