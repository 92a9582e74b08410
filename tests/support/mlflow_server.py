"""An MLflow tracking server (``mlflow server``, which serves the UI) on 127.0.0.1, on a free
port, over a given backend store; ended, with every process it started, when the block ends."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(backend_store_uri: str, log_path: str, timeout: float = 180) -> Iterator[str]:
    """Yields the server's ``http://127.0.0.1:<port>`` once ``/health`` answers."""
    port = free_port()
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [mlflow, "server", "--backend-store-uri", backend_store_uri, "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"mlflow server ended: {open(log_path).read()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"mlflow server not up after {timeout} s"
            time.sleep(0.5)
        yield url
    finally:
        # the server and the uvicorn worker it starts: the session this Popen made
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
