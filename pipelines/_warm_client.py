"""The process that stands for one warm task (:mod:`kfp_mlops.pipelines.warm_tasks`).

Run by path with ``python -E -S`` (the standard library only, nothing of site-packages, so it
starts in milliseconds) in place of ``python -m kfp.dsl.executor_main`` at the end of the
task's command::

    python -E -S _warm_client.py SOCKET -m kfp.dsl.executor_main ARGS...

It hands the warm task server its argv, environment, working directory and standard streams
(the file descriptors themselves, ``SCM_RIGHTS``), and the server forks a child that runs the
module with them. This process then stands in for that child: it forwards every signal that
ends a process to the child's process group, and exits as the child did (the same exit
status, or killed by the same signal). If this process is killed (``SIGKILL``, or its parent
died: it has ``PR_SET_PDEATHSIG``), the server sees the connection drop and kills the child's
group.
"""
import json
import os
import signal
import socket
import struct
import sys
import time

#: The signals a parent uses to end a task; each is passed on to the child's group.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv) -> int:
    path, command = argv[0], argv[1:]
    pending = []
    child = [0]

    def forward(signum, frame):
        pending.append(signum)
        if child[0]:
            try:
                os.killpg(child[0], signum)
            except (ProcessLookupError, PermissionError):
                pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            pass
    payload = json.dumps({"argv": command, "env": dict(os.environ), "cwd": os.getcwd(),
                          "fds": fds}).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        socket.send_fds(sock, [struct.pack("!Q", len(payload))], fds)
        sock.sendall(payload)
    except OSError as e:
        sys.stderr.write(f"warm task server at {path} could not be reached: {e}\n")
        return 1
    replies = sock.makefile("rb")
    line = replies.readline()
    if not line:
        sys.stderr.write("warm task server ended before starting the task\n")
        return 1
    child[0] = int(line)
    for signum in pending:        # a signal that came before the child's pid
        forward(signum, None)
    line = replies.readline()
    if not line:
        sys.stderr.write("warm task server ended while the task ran\n")
        return 1
    status = int(line)
    if pending:
        # Ended by a signal: stay until the child's whole group is gone, as the parent's
        # wait for this process's group (``processes.end_group``) expects.
        while _group_alive(child[0]):
            time.sleep(0.05)
    sock.sendall(b"done\n")         # a normal end: the server leaves the group alone
    sock.close()
    code = os.waitstatus_to_exitcode(status)
    if code < 0:                    # killed by a signal: so is this process
        if -code != signal.SIGKILL:
            signal.signal(-code, signal.SIG_DFL)
        sys.stdout.flush()
        os.kill(os.getpid(), -code)
        time.sleep(1)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
