"""A pipeline whose first task blocks: for the tests that kill a local run with real signals.

``block`` writes its pid (and that of a ``sleep`` it starts, a process of its group) to
``pid_dir`` and sleeps; had it finished, it would write ``finished`` there and return.
``after`` would write ``after-started`` at its first line.
"""
from kfp import dsl


@dsl.component(install_kfp_package=False)
def block(pid_dir: str, seconds: int) -> str:
    import os
    import subprocess
    import time

    sleeper = subprocess.Popen(["sleep", str(seconds)])
    with open(os.path.join(pid_dir, "pids.tmp"), "w") as f:
        f.write(f"{os.getpid()} {sleeper.pid}\n")
    os.rename(os.path.join(pid_dir, "pids.tmp"), os.path.join(pid_dir, "pids"))
    time.sleep(seconds)
    with open(os.path.join(pid_dir, "finished"), "w") as f:
        f.write("finished\n")
    return "done"


@dsl.component(install_kfp_package=False)
def after(pid_dir: str, previous: str) -> str:
    import os

    with open(os.path.join(pid_dir, "after-started"), "w") as f:
        f.write(previous)
    return previous


@dsl.pipeline(name="blocking")
def blocking(pid_dir: str, seconds: int = 120):
    first = block(pid_dir=pid_dir, seconds=seconds)
    after(pid_dir=pid_dir, previous=first.output)
