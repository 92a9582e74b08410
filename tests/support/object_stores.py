"""S3 and Cloud Storage servers on 127.0.0.1 for the tests, each a real process.

* S3: moto's server mode (``python -m moto.server``), which enforces PutObject's
  ``If-None-Match`` / ``If-Match`` preconditions as S3 does.
* Cloud Storage: ``gcs_emulator.py`` beside this file (gcp-storage-emulator with Cloud
  Storage's generation preconditions added).

Clients find them through the standard variables, exactly as they find MinIO or a real
emulator: ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` for S3 and
``STORAGE_EMULATOR_HOST`` for Cloud Storage. ``NO_GCE_CHECK=True`` keeps google-auth from
probing the metadata server; with an emulator host set, our I/O layer uses anonymous
credentials, so nothing leaves loopback.
"""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Dict, Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"no answer from {url} within {seconds:.0f} s")


@contextlib.contextmanager
def _process(args, url: str) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait(url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def s3_server() -> Iterator[Dict[str, str]]:
    """moto's S3 server on loopback; yields the environment that points clients at it."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    with _process(["-m", "moto.server", "-H", HOST, "-p", str(port)], url):
        yield {"AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_S3": url,
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@contextlib.contextmanager
def gcs_server() -> Iterator[Dict[str, str]]:
    """The Cloud Storage emulator on loopback; yields the environment that points clients at it."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    with _process([os.path.join(HERE, "gcs_emulator.py"), "--host", HOST, "--port", str(port)],
                  url):
        yield {"STORAGE_EMULATOR_HOST": url, "NO_GCE_CHECK": "True",
               "GOOGLE_CLOUD_PROJECT": "test-project"}


def make_bucket(env: Dict[str, str], bucket: str) -> None:
    """Creates ``bucket`` on the server ``env`` points at (S3 or Cloud Storage)."""
    if "AWS_ENDPOINT_URL" in env:
        import boto3

        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"],
                     aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                     region_name=env["AWS_DEFAULT_REGION"]).create_bucket(Bucket=bucket)
        return
    import json

    request = urllib.request.Request(
        f"{env['STORAGE_EMULATOR_HOST']}/storage/v1/b?project={env['GOOGLE_CLOUD_PROJECT']}",
        data=json.dumps({"name": bucket}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass
