"""Child processes that never outlive the process that started them.

A local run starts each task as a child process (kfp.local's SubprocessRunner), and retrain
starts the training pipeline in a child interpreter. Two rules keep a killed run from
leaving work behind:

* each child gets its own session and process group, so the parent can end the child and
  everything the child started with one ``killpg`` (:func:`end_group`), and a terminal's
  Ctrl-C reaches only the parent, which decides;
* each child asks the kernel for ``SIGKILL`` when its parent dies
  (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, Linux; :func:`die_with_parent`), set between fork
  and exec so no line of the task runs without it -- the one way to cover a parent killed
  with ``SIGKILL``, which no handler can catch. The setting survives ``execve`` and is
  cleared in the child's own children, which set it again when they are started here.
"""
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Callable, Optional

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1     # <linux/prctl.h>
DEFAULT_GRACE_SECONDS = 5.0


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


_LIBC = _libc()


def die_with_parent() -> Optional[Callable[[], None]]:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child gets ``SIGKILL`` when the
    process starting it dies (``None`` where the kernel has no such setting: not Linux).

    The function runs in the forked child before exec and does only what is safe there: one
    ``prctl`` call, and an immediate exit if the parent died before the call took effect.
    """
    if _LIBC is None:
        return None
    parent = os.getpid()
    prctl = _LIBC.prctl

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:   # the parent died between fork and prctl
            os._exit(137)

    return preexec


def popen_options() -> dict:
    """``Popen`` keyword arguments for a child of its own group that dies with its parent."""
    options = {"start_new_session": True}
    preexec = die_with_parent()
    if preexec is not None:
        options["preexec_fn"] = preexec
    return options


def end_group(process: subprocess.Popen, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> None:
    """Ends ``process`` and its whole process group: ``SIGTERM``, then ``SIGKILL`` for what
    is still there after ``grace_seconds``. ``process`` must lead its group
    (``start_new_session``). Waits for ``process`` so no zombie is left."""
    pgid = process.pid
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None and not _group_alive(pgid):
            return
        time.sleep(0.05)
    logger.warning("process group %d still running %.1f s after SIGTERM: SIGKILL", pgid,
                   grace_seconds)
    _signal_group(pgid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
