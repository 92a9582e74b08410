"""A pipeline of three independent tasks that each end badly in their own way: for the tests
that a task's crash is reported the same whether it ran cold or warm (``--warm-tasks``).

Each writes its pid to ``pid_dir/<name>`` first, so a test can check it is gone.
"""
from kfp import dsl


@dsl.component(install_kfp_package=False)
def exits(pid_dir: str) -> str:
    import os

    with open(os.path.join(pid_dir, "exits"), "w") as f:
        f.write(str(os.getpid()))
    print("about to leave without a word", flush=True)
    os._exit(3)


@dsl.component(install_kfp_package=False)
def raises(pid_dir: str) -> str:
    import os

    with open(os.path.join(pid_dir, "raises"), "w") as f:
        f.write(str(os.getpid()))
    raise ValueError("column 'tips' not found in data.csv; columns are: a, b")


@dsl.component(install_kfp_package=False)
def killed(pid_dir: str) -> str:
    import os
    import signal

    with open(os.path.join(pid_dir, "killed"), "w") as f:
        f.write(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)
    return "never"


@dsl.pipeline(name="crashing")
def crashing(pid_dir: str):
    exits(pid_dir=pid_dir)
    raises(pid_dir=pid_dir)
    killed(pid_dir=pid_dir)
