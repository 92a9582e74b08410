"""Warm tasks: a local run's task processes forked from one server that imported their
libraries once (``kfp-mlops run ... --warm-tasks``, subprocess runner only).

Every task of a kfp.local subprocess run is a fresh ``python -m kfp.dsl.executor_main``
process, so each pays its own ``import tensorflow`` (about 4 s), TFDV (another 1.5 s) or
MLflow (1.5 s) before any work; on small data those imports are most of the run. TFX's
LocalDagRunner pays them once, because it runs every component in one process. Here the run
starts one *warm task server* (:func:`server`) that imports :data:`PRELOAD` (imports only:
no TensorFlow context, op or thread pool is created in it), and each task's process is a
``fork`` of it that runs the task's command as the cold process would:

* the task's command is kfp's own (``sh -ec`` writes the component's source to a file and
  runs the executor, :func:`kfp_local_adapter.exec_the_executor`); only the last step, the
  ``exec python -m kfp.dsl.executor_main ARGS``, is replaced by ``exec python -E -S
  _warm_client.py SOCKET -m kfp.dsl.executor_main ARGS`` (:func:`through_server`). That
  client, a few milliseconds of standard library, sends the server its argv, environment,
  working directory and standard streams (the file descriptors, ``SCM_RIGHTS``);
* the server forks; the child starts a session of its own, gets ``PR_SET_PDEATHSIG``
  (it dies with the server, which dies with the run), takes the streams as its fds 0-2,
  the working directory, the environment and argv, and runs the module as ``python -m``
  does (``runpy._run_module_as_main``), then exits through the interpreter's own exit:
  an exception prints its traceback and exits 1, ``sys.exit`` and ``os._exit`` keep their
  status, ``atexit`` handlers run;
* the client forwards the signals that end a process to the child's group and exits as
  the child did (same status, or killed by the same signal); if the client is killed, the
  server kills the child's group. So ``_run_task_process`` in :mod:`local` is unchanged:
  it reads the same pipe line by line (the child writes into it directly), and ends the
  client's group on interruption as it ends a cold task's.

What differs from a cold task, by design: the preloaded modules were imported with the run's
environment (plus ``_KFP_RUNTIME=true``), before the task's; a variable a library reads only
at import is the run's. Python's hash seed is the server's; ``random`` is reseeded by Python
at fork and numpy's global generator here. A task whose interpreter is not this one runs
cold.

Fork safety (measured, bench/README.md): importing the preloaded modules starts no Python
thread. It starts native threads that are idle at fork time: OpenBLAS's pool (numpy; OpenBLAS
shuts it down around fork with ``pthread_atfork``), pyarrow's jemalloc background thread
(jemalloc's fork handlers; background threads are not carried into the child) and one of
TensorFlow's. TensorFlow itself is fork-unsafe only once its runtime exists (its eager
context and thread pools), which the server never creates.
"""
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
from typing import Dict, Iterator, List, Optional

logger = logging.getLogger(__name__)

#: What the server imports before forking, in this order: kfp's executor in its runtime
#: mode (as the task command sets ``_KFP_RUNTIME=true``), then the libraries our component
#: bodies import, in the order the training pipeline's tasks need them. TensorFlow comes
#: without its eager import of Keras (:func:`task_process.import_tensorflow_without_keras`),
#: so validate's TFDV is ready sooner; Keras, for train, follows.
PRELOAD = ("kfp.dsl.executor", "kfp.dsl.kfp_config", "kfp.dsl.utils", "pandas", "pyarrow",
           "pyarrow.parquet", "pyarrow.csv", "pyarrow.dataset", "fsspec", "jinja2",
           "tensorflow", "tensorflow_data_validation", "keras", "mlflow")

_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_warm_client.py")
_EXECUTOR = " -m kfp.dsl.executor_main"

#: The socket of the server of the run under way (set by :func:`server`).
_SOCKET: List[str] = []


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = conn.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the client closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive(conn: socket.socket):
    """A client's request: ``(request dict, its file descriptors)``."""
    header, fds, _, _ = socket.recv_fds(conn, 8, 3)
    if len(header) < 8:
        header += _recv_exact(conn, 8 - len(header))
    (size,) = struct.unpack("!Q", header)
    return json.loads(_recv_exact(conn, size)), fds


def _become_task(request: dict, fds: List[int], server_pid: int) -> None:
    """In the forked child: the task's session, streams, directory, environment and argv."""
    from kfp_mlops.components._shared import processes

    os.setsid()
    if processes._LIBC is not None:   # as processes.die_with_parent does between fork and exec
        if processes._LIBC.prctl(processes.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 \
                or os.getppid() != server_pid:
            os._exit(137)
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGIO):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in zip(request["fds"], fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd not in request["fds"]:
            os.close(fd)
    for target in {0, 1, 2} - set(request["fds"]):
        os.close(target)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]            # ["-m", "kfp.dsl.executor_main", ARGS...]
    sys.argv = ["-m", *argv[2:]]
    sys.path[0] = os.getcwd()          # as ``python -m`` sets it
    # runpy would warn, and run a second copy, were the module it runs as __main__ loaded
    sys.modules.pop(request["argv"][1], None)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()            # a fresh global generator, as a fresh process has


class _Server:
    """The server's side of the socket: accepts a task, forks it, reports how it ended, and
    kills its group if its client dies first."""

    def __init__(self, listener_fd: int):
        import selectors

        self.listener = socket.socket(fileno=listener_fd)
        self.listener.setblocking(True)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", 0))
        self.children: Dict[int, dict] = {}
        self.pid = os.getpid()

        self.busy = False

    def on_signal(self, signum, frame) -> None:
        """``SIGCHLD`` / ``SIGIO`` while the server imports: a task ended or its client
        wrote or died. Handled at once (never a fork: that waits for the import to end),
        so a task's end is reported without waiting for the preload."""
        if not self.busy and os.getpid() == self.pid:
            self.step(0, accept=False)

    def step(self, timeout: Optional[float], accept: bool = True) -> Optional[str]:
        """Handles what is ready within ``timeout`` seconds (None: waits); new tasks only
        when ``accept``. Returns, only in a forked child, the module it is to run."""
        self.busy = True
        try:
            return self._step(timeout, accept)
        finally:
            self.busy = False

    def _step(self, timeout: Optional[float], accept: bool) -> Optional[str]:
        import fcntl
        import gc
        import selectors

        for key, _ in self.selector.select(timeout):
            kind, pid = key.data
            if kind == "accept" and not accept:
                continue
            if kind == "accept":
                conn, _ = self.listener.accept()
                try:
                    request, fds = _receive(conn)
                except (OSError, EOFError, ValueError):
                    conn.close()
                    continue
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                # the preloaded objects never visited by the child's collector: fewer pages
                # copied on write (the gc module's documentation, gc.freeze)
                gc.freeze()
                pid = os.fork()
                if pid == 0:
                    self.selector.close()
                    self.listener.close()
                    conn.close()
                    for child in self.children.values():
                        child["conn"].close()
                        if child["pidfd"] >= 0:
                            os.close(child["pidfd"])
                    _become_task(request, fds, self.pid)
                    return request["argv"][1]
                for fd in fds:
                    os.close(fd)
                # SIGIO when the client writes or dies (on_signal)
                fcntl.fcntl(conn.fileno(), fcntl.F_SETOWN, self.pid)
                fcntl.fcntl(conn.fileno(), fcntl.F_SETFL,
                            fcntl.fcntl(conn.fileno(), fcntl.F_GETFL) | os.O_ASYNC)
                pidfd = os.pidfd_open(pid)
                self.children[pid] = {"conn": conn, "pidfd": pidfd, "done": False}
                self.selector.register(pidfd, selectors.EVENT_READ, ("exited", pid))
                self.selector.register(conn, selectors.EVENT_READ, ("client", pid))
                _send(conn, f"{pid}\n")
            elif kind == "exited":
                child = self.children[pid]
                _, status = os.waitpid(pid, 0)
                self.selector.unregister(child["pidfd"])
                os.close(child["pidfd"])
                child["pidfd"] = -1
                _send(child["conn"], f"{status}\n")
                if child["conn"] is None:
                    del self.children[pid]
            else:  # the client: "done" after the status, or nothing when it died
                child = self.children[pid]
                try:
                    data = child["conn"].recv(64)
                except OSError:
                    data = b""
                if data:
                    child["done"] = True
                    continue
                if not child["done"]:
                    _kill_group(pid)
                self.selector.unregister(child["conn"])
                child["conn"].close()
                child["conn"] = None
                if child["pidfd"] < 0:
                    del self.children[pid]
        return None

    def kill_all(self) -> None:
        """Kills the group of every task still running (the server is ending)."""
        if os.getpid() == self.pid:
            for pid, child in self.children.items():
                if child["pidfd"] >= 0:
                    _kill_group(pid)


def _send(conn: Optional[socket.socket], text: str) -> None:
    if conn is None:
        return
    try:
        conn.sendall(text.encode())
    except OSError:
        pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(listener_fd: int) -> None:
    """The server process (``python -c``): imports :data:`PRELOAD` one module at a time,
    serving between imports (a task that comes early waits for the import under way, not
    for all of them, and imports the rest itself), then serves until ``SIGTERM``. In each
    forked child, runs the task's module as ``python -m`` does (:func:`_run_as_main`)."""
    import importlib

    os.environ["_KFP_RUNTIME"] = "true"        # kfp as the task command imports it
    server = _Server(listener_fd)

    def stop(signum, frame):
        if os.getpid() != server.pid:          # a child not yet past _become_task
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        server.kill_all()
        os._exit(0)                            # nothing of the server's to tear down

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGCHLD, server.on_signal)
    signal.signal(signal.SIGIO, server.on_signal)
    module = None
    try:
        for name in PRELOAD:
            module = server.step(0)
            if module:
                break
            try:
                if name == "tensorflow":
                    from kfp_mlops.components._shared import task_process
                    task_process.import_tensorflow_without_keras()
                else:
                    importlib.import_module(name)
            except Exception as e:  # noqa: BLE001 - only means: not preloaded
                logger.warning("warm task server: %s not preloaded: %s: %s", name,
                               type(e).__name__, e)
        while not module:
            module = server.step(None)
    finally:
        server.kill_all()
    _run_as_main(module)


def _run_as_main(module: str) -> None:
    """Runs ``module`` as ``python -m`` does, then ends this process as the interpreter
    would, without tearing the modules down.

    ``runpy._run_module_as_main`` is what ``python -m`` calls (CPython Modules/main.c,
    ``pymain_run_module``): ``sys.argv[0]`` becomes the module's file and the module runs in
    ``__main__``'s namespace with its spec. The end follows ``Py_FinalizeEx`` (Python/
    pylifecycle.c) up to the teardown: ``SystemExit`` gives the status (``None`` 0, a number
    itself, anything else printed and 1), any other exception is printed by
    ``sys.excepthook`` and kept as ``sys.last_value`` (``PyErr_Print``) with status 1, a
    ``KeyboardInterrupt`` ends the process by ``SIGINT``; then non-daemon threads are
    joined (``threading._shutdown``), the ``atexit`` handlers run, the standard streams are
    flushed and the process exits. The teardown skipped (destroying every module, here
    also the preloaded ones a cold task would never have imported) takes seconds and only
    frees memory; Python does not promise ``__del__`` of objects alive at exit (the
    language reference, ``object.__del__``)."""
    import atexit
    import runpy
    import threading

    from kfp_mlops.components._shared import task_process

    code = 0
    interrupted = False
    try:
        runpy._run_module_as_main(module, alter_argv=True)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            sys.stderr.write(f"{e.code}\n")
            code = 1
    except BaseException as e:  # noqa: BLE001 - what the interpreter does with it
        sys.last_type, sys.last_value, sys.last_traceback = type(e), e, e.__traceback__
        sys.excepthook(type(e), e, e.__traceback__)
        code = 1
        interrupted = isinstance(e, KeyboardInterrupt)
    try:
        threading._shutdown()
    except BaseException:  # noqa: BLE001
        pass
    atexit._run_exitfuncs()
    task_process.flush_standard_streams()
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)


def through_server(full_command: List[str]) -> List[str]:
    """``full_command`` (after :func:`kfp_local_adapter.exec_the_executor`) with its
    ``exec <this python> -m kfp.dsl.executor_main`` run by the warm task server; unchanged
    when no server is running or the command's interpreter is not this one."""
    if not _SOCKET:
        return full_command
    python = sys.executable
    executor = f"exec {python}{_EXECUTOR}"
    warm = f"exec {python} -E -S {_CLIENT} {_SOCKET[0]}{_EXECUTOR}"
    changed = [part.replace(executor, warm, 1) for part in full_command]
    if changed == full_command:
        logger.warning("warm tasks: the task's command does not run %s; it runs cold",
                       executor)
    return changed


@contextlib.contextmanager
def server() -> Iterator[str]:
    """Runs a warm task server for the length of the context; yields its socket's path.

    The listening socket is made here, before the server starts, so a task can connect at
    once: it waits in the backlog until the server has preloaded. The server process has a
    session of its own and dies with this one (:func:`processes.popen_options`); on exit it
    is ended with its tasks (``SIGTERM``: it kills their groups)."""
    import subprocess

    from kfp_mlops.components._shared import processes

    folder = tempfile.mkdtemp(prefix="kfp-mlops-warm-")
    path = os.path.join(folder, "tasks.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    process: Optional[subprocess.Popen] = None
    try:
        listener.bind(path)
        listener.listen(16)
        code = ("import sys; from kfp_mlops.pipelines import warm_tasks; "
                "warm_tasks.main(int(sys.argv[1]))")
        with open(os.path.join(folder, "server.log"), "wb") as log:
            process = subprocess.Popen([sys.executable, "-c", code, str(listener.fileno())],
                                       pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       **processes.popen_options())
        listener.close()
        _SOCKET[:] = [path]
        yield path
    finally:
        _SOCKET[:] = []
        listener.close()
        if process is not None:
            processes.end_group(process, grace_seconds=2.0)
        shutil.rmtree(folder, ignore_errors=True)
