"""The I/O layer on a local folder and on the S3 and Cloud Storage servers started on loopback."""
import concurrent.futures
import multiprocessing
import os

import pytest

from kfp_mlops.components._shared import io


@pytest.fixture
def root(store_root):
    """A fresh location on each back end (``store_root``: local, s3://, gs://)."""
    return store_root


def test_canonical_uri_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert io.canonical_uri("gs://bucket/a/") == "gs://bucket/a"
    assert io.canonical_uri("s3://bucket/a/b") == "s3://bucket/a/b"
    assert io.canonical_uri("file:///tmp/x") == "/tmp/x"
    assert io.canonical_uri("rel/dir") == str(tmp_path / "rel" / "dir")
    # the Vertex AI mount is Cloud Storage: addressed as such, not through FUSE
    assert io.canonical_uri("/gcs/bucket/registry") == "gs://bucket/registry"
    for bad in ("", "  ", "hdfs://x/y", "gs:///nobucket"):
        with pytest.raises(ValueError):
            io.canonical_uri(bad)


def test_write_read_list_remove(root):
    io.write_json(io.join(root, "a", "x.json"), {"k": 1})
    io.write_text(io.join(root, "a", "y.txt"), "hello")
    io.write_bytes(io.join(root, "b.bin"), b"\x00\x01")
    assert io.read_json(io.join(root, "a", "x.json")) == {"k": 1}
    assert io.read_text(io.join(root, "a", "y.txt")) == "hello"
    assert io.read_bytes(io.join(root, "b.bin")) == b"\x00\x01"
    assert io.listdir(root) == ["a", "b.bin"]
    assert io.listdir(io.join(root, "a")) == ["x.json", "y.txt"]
    assert io.listdir(io.join(root, "missing")) == []
    assert io.isdir(io.join(root, "a")) and io.isfile(io.join(root, "b.bin"))
    assert not io.exists(io.join(root, "nothing"))
    with io.open_input(io.join(root, "a", "y.txt")) as f:
        f.seek(1)
        assert f.read() == b"ello"
    io.remove(io.join(root, "a"), recursive=True)
    io.remove(io.join(root, "never-there"))
    assert io.listdir(root) == ["b.bin"]


def test_expand_file_folder_glob(root):
    for name in ("p1.csv", "p2.csv", "notes.txt", "_SUCCESS", ".hidden.csv"):
        io.write_text(io.join(root, "data", name), "a\n1\n")
    assert io.expand(io.join(root, "data"), (".csv",)) == [
        io.join(root, "data", "p1.csv"), io.join(root, "data", "p2.csv")]
    assert io.expand(io.join(root, "data", "p*.csv")) == [
        io.join(root, "data", "p1.csv"), io.join(root, "data", "p2.csv")]
    assert io.expand(io.join(root, "data", "p1.csv")) == [io.join(root, "data", "p1.csv")]
    with pytest.raises(FileNotFoundError, match="no file matches"):
        io.expand(io.join(root, "data", "q*.csv"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.expand(io.join(root, "nothing.csv"))
    with pytest.raises(ValueError, match="only the file name"):
        io.expand(io.join(root, "d*", "x.csv"))


def test_put_get_and_local_copy_of_a_folder(root, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "top.txt").write_text("1")
    (src / "sub" / "deep.bin").write_bytes(b"2" * 1000)
    io.put_dir(str(src), io.join(root, "copy"))
    assert io.listdir(io.join(root, "copy")) == ["sub", "top.txt"]
    back = io.get_dir(io.join(root, "copy"), str(tmp_path / "back"))
    assert io.sha256_tree(back) == io.sha256_tree(str(src))
    with io.local_copy(io.join(root, "copy")) as local:
        assert io.sha256_tree(local) == io.sha256_tree(str(src))
    with io.local_copy(io.join(root, "copy", "top.txt")) as local:
        assert open(local).read() == "1"


def test_create_exclusive_refuses_an_existing_name(root):
    target = io.join(root, "claims", "1.json")
    assert io.create_exclusive(target, b"first") is True
    assert io.create_exclusive(target, b"second") is False
    assert io.read_bytes(target) == b"first"
    assert io.listdir(io.join(root, "claims")) == ["1.json"]  # no temporary left behind


def test_modified_is_the_stores_clock(root):
    import time

    target = io.join(root, "aged.json")
    before = time.time()
    io.write_bytes(target, b"1")
    stamp = io.modified(target)
    # the servers run on this machine; allow for the store's one-second resolution
    assert before - 2 <= stamp <= time.time() + 2
    with pytest.raises(FileNotFoundError):
        io.modified(io.join(root, "missing.json"))


def _race(target: str, env: dict, who: int) -> bool:
    os.environ.update(env)
    return io.create_exclusive(target, str(who).encode())


def test_create_exclusive_has_one_winner_among_processes(root):
    """Eight processes race for one name: exactly one wins and its bytes are what is stored."""
    target = io.join(root, "race.json")
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("AWS_", "STORAGE_EMULATOR_HOST", "NO_GCE_CHECK", "GOOGLE_CLOUD"))}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(8, mp_context=context) as pool:
        results = list(pool.map(_race, [target] * 8, [env] * 8, range(8)))
    assert results.count(True) == 1
    assert io.read_bytes(target) == str(results.index(True)).encode()


def test_listdir_sees_what_other_processes_wrote(root):
    """A listing is never answered from fsspec's cache of an earlier one."""
    io.write_bytes(io.join(root, "seen", "1.json"), b"1")
    assert io.listdir(io.join(root, "seen")) == ["1.json"]
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("AWS_", "STORAGE_EMULATOR_HOST", "NO_GCE_CHECK", "GOOGLE_CLOUD"))}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        assert pool.submit(_race, io.join(root, "seen", "2.json"), env, 2).result()
    assert io.listdir(io.join(root, "seen")) == ["1.json", "2.json"]


def test_object_store_endpoints_come_from_the_standard_variables(object_store):
    scheme, env, bucket = object_store
    fs, path = io.filesystem(f"{scheme}://{bucket}/x")
    assert path == f"{bucket}/x"
    if scheme == "s3":
        assert fs.client_kwargs.get("endpoint_url") or fs.endpoint_url == env["AWS_ENDPOINT_URL"]
    else:
        assert fs._endpoint == env["STORAGE_EMULATOR_HOST"] and fs.credentials.token == "anon"


def test_s3_create_exclusive_retries_a_409_conflict(bucket_on, monkeypatch):
    """S3 may answer a racing conditional PUT with 409 ConditionalRequestConflict, to be retried
    (moto never does, so the first answer is replaced here; the retry goes to the server)."""
    _, bucket = bucket_on("s3")
    fs, _ = io.filesystem(f"s3://{bucket}/x")
    real = fs.pipe_file  # fsspec binds the sync methods per instance (instances are cached)
    calls = []

    def conflict_once(path, data, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OSError("An error occurred (ConditionalRequestConflict) when calling the "
                          "PutObject operation: 409")
        return real(path, data, **kwargs)

    monkeypatch.setattr(fs, "pipe_file", conflict_once)
    assert io.create_exclusive(f"s3://{bucket}/claim.json", b"mine") is True
    assert io.create_exclusive(f"s3://{bucket}/claim.json", b"again") is False
    assert [c.get("IfNoneMatch") for c in calls] == ["*", "*", "*"]
    assert io.read_bytes(f"s3://{bucket}/claim.json") == b"mine"


def test_output_dir_on_the_cloud_storage_mount_is_written_in_place(tmp_path, monkeypatch):
    """The mount root is the setting production reads (io.GCS_FUSE_ROOT), here a temporary
    folder: under it renames are copies, so the folder is filled where it will stay."""
    monkeypatch.setattr(io, "GCS_FUSE_ROOT", f"{tmp_path / 'gcs'}/")
    on_mount, off_mount = tmp_path / "gcs" / "bucket" / "out", tmp_path / "local" / "out"
    with io.output_dir(str(on_mount)) as filled:
        assert filled == str(on_mount)
    with io.output_dir(str(off_mount)) as filled:
        assert filled != str(off_mount) and not off_mount.exists()  # a staging sibling
    assert off_mount.is_dir()
    with pytest.raises(RuntimeError), io.output_dir(str(on_mount.parent / "failed")) as filled:
        raise RuntimeError("task failed")
    assert not (on_mount.parent / "failed").exists()
    assert io.canonical_uri(str(on_mount)) == "gs://bucket/out"
    assert io.to_mount_path("gs://bucket/out") == str(on_mount)
