"""Running one measured step of a benchmark in a fresh interpreter.

Each step runs alone in a child process, so its peak memory (``ru_maxrss`` from
``os.wait4``) is its own and its imports are paid outside the timing, which the step does
itself and prints as the last line of its output (a JSON object).
"""
import json
import os
import subprocess
import sys
from typing import Dict, List


def run_step(script: str, step: str, workdir: str, args: List[str]) -> Dict:
    """Runs ``script --step STEP ARGS...``; returns its JSON result plus ``peak_mb``.

    The child's stderr goes to ``<workdir>/<step>.log``, named in the error if it fails.
    """
    cmd = [sys.executable, os.path.abspath(script), "--step", step, "--workdir", workdir, *args]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    with open(os.path.join(workdir, f"{step}.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"step {step} failed; see {log.name}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024      # Linux: kilobytes
    return result
