"""Killing a local run ends its tasks: real signals to a real ``kfp-mlops run`` process.

The run is the command's own code (``cli.main``) in a child interpreter, on a pipeline whose
first task blocks (tests/support/blocking_pipeline.py) and records its pid and that of a
``sleep`` it started. SIGTERM / SIGINT: the command ends the task's whole process group,
records the run as INTERRUPTED, starts no further task and exits 143 / 130. SIGKILL: no
handler runs; the task dies with its parent (PR_SET_PDEATHSIG). Each test runs cold and
with ``--warm-tasks`` (the task forked from the run's warm task server, which must go too).
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG and process groups as on Linux")

# The CLI, with the blocking pipeline in its catalogue.
_CLI = r"""
import sys
from kfp_mlops.pipelines import catalog, cli
catalog.PIPELINES["blocking"] = "tests.support.blocking_pipeline:blocking"
sys.exit(cli.main(sys.argv[1:]))
"""


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} within {seconds} s")


@pytest.fixture(params=["cold", "warm"])
def mode(request):
    """Each run cold and with --warm-tasks."""
    return request.param


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def start_run(tmp_path, mode="cold"):
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    command = [sys.executable, "-c", _CLI, "run", "blocking", "--local",
               *(["--warm-tasks"] if mode == "warm" else []),
               "--param", f"pid_dir={pid_dir}", "--output-dir", str(tmp_path / "out"),
               "--summary-json", str(tmp_path / "summary.json")]
    log = open(tmp_path / "cli.log", "w")
    cli = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    pids_file = pid_dir / "pids"
    wait_for(lambda: pids_file.exists() or cli.poll() is not None, 120, "the task started")
    assert cli.poll() is None, (tmp_path / "cli.log").read_text()[-3000:]
    task, sleeper = (int(p) for p in pids_file.read_text().split())
    if mode == "warm":   # forked by the warm task server, itself a child of the run
        server = parent_of(task)
        assert server != cli.pid and parent_of(server) == cli.pid
    return cli, task, sleeper, pid_dir


def executor_outputs(tmp_path):
    return [os.path.join(d, f) for d, _, files in os.walk(tmp_path / "out") for f in files
            if f == "executor_output.json"]


def kill_leftovers(*pids):
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_end_the_task_group_and_the_run(tmp_path, signum, code, mode):
    cli, task, sleeper, pid_dir = start_run(tmp_path, mode)
    server = parent_of(task)
    try:
        assert os.getpgid(task) == task != os.getpgid(cli.pid)   # a group of its own
        assert os.getpgid(sleeper) == task
        cli.send_signal(signum)
        assert cli.wait(timeout=20) == code, (tmp_path / "cli.log").read_text()[-3000:]
        wait_for(lambda: not alive(task) and not alive(sleeper), 5, "the task group ended")
        assert not alive(server)     # the CLI's wait ended it (cold: the CLI itself)
    finally:
        kill_leftovers(task, sleeper)
    assert not (pid_dir / "finished").exists() and not (pid_dir / "after-started").exists()
    assert executor_outputs(tmp_path) == []
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "INTERRUPTED"
    assert summary["interrupted_by"] == signal.Signals(signum).name
    assert [(t["name"], t["status"]) for t in summary["tasks"]] == [("block", "INTERRUPTED")]
    printed = (tmp_path / "cli.log").read_text()
    assert "Pipeline blocking: INTERRUPTED" in printed


def test_sigkill_of_the_command_kills_its_task(tmp_path, mode):
    cli, task, sleeper, pid_dir = start_run(tmp_path, mode)
    server = parent_of(task)
    try:
        cli.kill()
        cli.wait(timeout=10)
        wait_for(lambda: not alive(task), 5, "the task died with its parent")
        if mode == "warm":
            wait_for(lambda: not alive(server), 5, "the warm task server died with the run")
    finally:
        kill_leftovers(task, sleeper)
    time.sleep(0.5)
    assert not (pid_dir / "finished").exists() and not (pid_dir / "after-started").exists()
    assert executor_outputs(tmp_path) == []


def test_a_second_signal_does_not_wait_for_the_grace(tmp_path, mode):
    cli, task, sleeper, pid_dir = start_run(tmp_path, mode)
    try:
        os.kill(task, signal.SIGSTOP)      # a task that cannot answer SIGTERM
        cli.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        cli.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert cli.wait(timeout=20) == 143, (tmp_path / "cli.log").read_text()[-3000:]
        assert time.monotonic() - started < 4
        wait_for(lambda: not alive(task) and not alive(sleeper), 5, "the task group ended")
    finally:
        kill_leftovers(task, sleeper)
    assert executor_outputs(tmp_path) == []
