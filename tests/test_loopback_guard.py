"""The guard that keeps every test on loopback: it refuses, and records, other addresses."""
import os
import socket
import subprocess
import sys

import pytest


def test_this_process_refuses_the_metadata_server(tmp_path, monkeypatch):
    from tests.support.loopback_only import sitecustomize as guard

    log = tmp_path / "net.log"
    monkeypatch.setattr(guard, "_LOG", str(log))
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="only connect to loopback"):
        s.connect(("169.254.169.254", 80))
    assert "169.254.169.254" in log.read_text()


def test_child_processes_refuse_off_loopback_and_allow_loopback(tmp_path):
    log = tmp_path / "net.log"
    code = ("import socket\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "c = socket.socket(); c.connect(s.getsockname()); c.close()\n"
            "try:\n"
            "    socket.socket().connect(('192.0.2.1', 443))\n"
            "except ConnectionRefusedError as e:\n"
            "    print('refused', e)\n")
    env = dict(os.environ, KFP_MLOPS_NET_LOG=str(log))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("refused")
    assert "192.0.2.1" in log.read_text() and "127.0.0.1" not in log.read_text()
