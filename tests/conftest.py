"""Fixtures shared by every test: the bundled data and datasets made from it by ingest."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PENGUINS_CSV = str(ROOT / "pipelines" / "data" / "penguins.csv")


@pytest.fixture(scope="session")
def penguins_csv() -> str:
    """The bundled Palmer penguins CSV: 344 rows, numeric and categorical, with missing values."""
    assert os.path.exists(PENGUINS_CSV)
    return PENGUINS_CSV


@pytest.fixture(scope="session")
def penguins_dataset(tmp_path_factory, penguins_csv) -> str:
    """A dataset artifact directory made by ingest from the penguins CSV (label: species)."""
    from kfp_mlops.components.ingest import core

    out = str(tmp_path_factory.mktemp("penguins") / "dataset")
    core.ingest(penguins_csv, out, label_column="species")
    return out


# ------------------------------------------------------------------ nothing leaves loopback
# Never let google-auth probe the metadata server (169.254.169.254) from a test.
os.environ["NO_GCE_CHECK"] = "True"
# This process and every Python process it starts (kfp.local tasks, servers, workers) refuse
# and record connections off loopback (tests/support/loopback_only/sitecustomize.py).
_NET_GUARD = str(ROOT / "tests" / "support" / "loopback_only")
_NET_LOG = os.path.join(__import__("tempfile").mkdtemp(prefix="kfp-mlops-net-"), "refused.log")
os.environ["KFP_MLOPS_NET_LOG"] = _NET_LOG
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_NET_GUARD] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
__import__("tests.support.loopback_only.sitecustomize", fromlist=["install"]).install()


def pytest_sessionfinish(session, exitstatus):
    """Fails the run when any process tried to connect off loopback, even if it coped."""
    if os.path.exists(_NET_LOG) and os.path.getsize(_NET_LOG):
        with open(_NET_LOG, encoding="utf-8") as f:
            attempts = f.read()
        session.config.get_terminal_writer().line(
            "\nconnections off loopback were attempted (and refused):\n" + attempts[:20000],
            red=True)
        session.exitstatus = 1


# ------------------------------------------------------------------ object stores on loopback


@pytest.fixture(scope="session")
def s3_env():
    """moto's S3 server on 127.0.0.1: the environment variables that point clients at it."""
    from tests.support import object_stores

    with object_stores.s3_server() as env:
        yield env


@pytest.fixture(scope="session")
def gcs_env():
    """The Cloud Storage emulator on 127.0.0.1: the environment variables that point clients at it."""
    from tests.support import object_stores

    with object_stores.gcs_server() as env:
        yield env


@pytest.fixture
def bucket_on(request, monkeypatch):
    """``bucket_on("s3" | "gs") -> (env, bucket)``: a fresh bucket on that loopback object
    store, with the environment set so this process and the tasks it starts reach it."""
    import uuid

    from tests.support import object_stores

    def make(scheme: str):
        env = request.getfixturevalue({"s3": "s3_env", "gs": "gcs_env"}[scheme])
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        bucket = f"test-{uuid.uuid4().hex[:12]}"
        object_stores.make_bucket(env, bucket)
        return env, bucket

    return make


@pytest.fixture(params=["s3", "gs"])
def object_store(request, bucket_on):
    """``(scheme, env, bucket)`` for a fresh bucket on each loopback object store."""
    env, bucket = bucket_on(request.param)
    return request.param, env, bucket


@pytest.fixture(params=["local", "s3", "gs"])
def store_root(request, tmp_path):
    """A fresh, empty location on each back end: a local folder, ``s3://`` and ``gs://``
    (a new bucket on the loopback server, the environment pointed at it)."""
    if request.param == "local":
        return str(tmp_path / "root")
    _, bucket = request.getfixturevalue("bucket_on")(request.param)
    return f"{request.param}://{bucket}/root"
