"""Benchmark: peak memory of every task of the training pipeline, from 100k to 10M rows.

Generates bench_training.py's deterministic customer-churn CSV for each ``--rows``
(default 1M and 10M) under ``--workdir`` (default /tmp/bench_scale), runs
``kfp-mlops run training --local`` as a child process with epochs=1 and a large batch size,
and reports per task its wall time (``--summary-json``) and the **peak RSS of the task's
process tree**.

How the peak per task is measured: kfp.local runs tasks one after another, each in its own
process under the CLI. A sampler thread reads the CLI's streamed output to know which task
is executing (``Executing task '<name>'``) and, every ``--interval`` seconds (0.1), walks
/proc for every descendant of the CLI and sums their ``VmRSS``. The largest sum seen while a
task executes is that task's peak; the CLI's own RSS is reported apart. Sampling can miss a
spike shorter than the interval, so the CLI's ``ru_maxrss`` (largest single process of the
run, from ``os.wait4``) is printed next to it as a cross-check.

    python bench/bench_scale.py                      # 1M and 10M rows
    python bench/bench_scale.py --rows 100000        # a quick run
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_training  # noqa: E402  (its generator and CLI helpers)

TASKS = bench_training.TASKS
GOAL_MB = 2048.0
EXECUTING = re.compile(r"Executing task '([^']+)'")


def _children() -> dict:
    """``{pid: ppid}`` of every process on the machine, from /proc."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    found[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return found


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree_rss_mb(root: int):
    """(RSS of root, summed RSS of all its descendants) in MB."""
    parents = _children()
    tree, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in tree}
        tree |= frontier
    return _rss_mb(root), sum(_rss_mb(p) for p in tree)


def run_pipeline(label: str, csv: str, batch_size: int, workdir: str, interval: float) -> dict:
    """Runs the pipeline on ``csv``; returns wall times and sampled peak RSS per task."""
    folder = os.path.join(workdir, label)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    summary_path = os.path.join(folder, "summary.json")
    cmd = [bench_training._cli(), "run", "training", "--local",
           "--output-dir", os.path.join(folder, "outputs"), "--summary-json", summary_path]
    for p in [f"data_uri={csv}", "label_column=churned", "model_name=churn", "epochs=1",
              f"batch_size={batch_size}", "registry_uri=" + os.path.join(folder, "registry")]:
        cmd += ["--param", p]
    env = dict(os.environ, KFP_MLOPS_LOG_LEVEL="INFO")
    peaks, cli_peak, done = {}, [0.0], threading.Event()
    out_path = os.path.join(folder, "stdout.log")
    with open(out_path, "wb") as out, open(os.path.join(folder, "stderr.log"), "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=bench_training.REPO)

        def sample():
            task, seen = None, 0
            with open(out_path, "rb") as log:
                while not done.is_set():
                    text = log.read().decode("utf-8", "replace")
                    for m in EXECUTING.finditer(bench_training.ANSI.sub("", text)):
                        task = m.group(1)
                    cli, tree = _tree_rss_mb(proc.pid)
                    cli_peak[0] = max(cli_peak[0], cli)
                    if task:
                        peaks[task] = max(peaks.get(task, 0.0), tree)
                    seen += 1
                    time.sleep(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    if not os.path.exists(summary_path):
        raise RuntimeError(f"{label}: no summary (exit status {status}); see {folder}")
    with open(summary_path) as f:
        summary = json.load(f)
    tasks = {t["name"]: {"seconds": t["seconds"], "status": t["status"],
                         "peak_mb": peaks.get(t["name"])} for t in summary["tasks"]}
    return {"label": label, "wall_s": wall, "pipeline_s": summary["seconds"],
            "status": summary["status"], "cli_peak_mb": cli_peak[0],
            "ru_maxrss_mb": usage.ru_maxrss / 1024, "tasks": tasks}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--interval", type=float, default=0.1, help="RSS sampling period, s")
    p.add_argument("--workdir", default="/tmp/bench_scale")
    p.add_argument("--json", default="")
    a = p.parse_args(argv)
    os.makedirs(a.workdir, exist_ok=True)
    print(f"{os.cpu_count()} CPUs, load average {open('/proc/loadavg').read().strip()}", flush=True)
    runs = []
    for rows in a.rows:
        label = bench_training._rows_label(rows).replace(" ", "-")
        csv = os.path.join(a.workdir, f"churn_{rows}.csv")
        bench_training.make_csv(csv, rows)
        run = run_pipeline(label, csv, a.batch_size, a.workdir, a.interval)
        run["rows"] = rows
        runs.append(run)
        os.remove(csv)
        shutil.rmtree(os.path.join(a.workdir, label), ignore_errors=True)
        print(f"{label}: {run['status']} in {run['wall_s']:.1f} s; CLI {run['cli_peak_mb']:,.0f} MB"
              f", largest single process (ru_maxrss) {run['ru_maxrss_mb']:,.0f} MB; load "
              f"{open('/proc/loadavg').read().split()[0]}", flush=True)
        for name, t in run["tasks"].items():
            peak = t["peak_mb"]
            print(f"  {name:<10}{t['seconds']:>8.1f} s{(peak or 0):>9,.0f} MB"
                  f"{'  OVER 2 GB' if peak and peak > GOAL_MB else ''}", flush=True)
    for small, large in zip(runs, runs[1:]):
        ratios = {n: large["tasks"][n]["peak_mb"] / small["tasks"][n]["peak_mb"]
                  for n in TASKS if small["tasks"].get(n, {}).get("peak_mb")
                  and large["tasks"].get(n, {}).get("peak_mb")}
        print(f"peak RSS ratio {large['label']}/{small['label']}: "
              + ", ".join(f"{n} {r:.2f}x" for n, r in ratios.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(runs, f, indent=1)
    print(f"load average at the end: {open('/proc/loadavg').read().strip()}")
    return 0 if all(r["status"] == "SUCCESS" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
