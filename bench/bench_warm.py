"""Benchmark: the training pipeline with fresh task processes (cold) vs ``--warm-tasks``.

Runs ``kfp-mlops run training --local`` on the Makefile's ``make run`` job (penguins, its
parameters) as a child process, as a user does (:func:`bench_training.run_pipeline`), cold
and warm alternately for ``--rounds`` rounds, each with a fresh registry and output folder,
so both see the same machine load. Prints every run's wall time and per-task seconds, the
load average before each run, the medians, the warm / cold ratio, and checks that every
run took the same decisions (validate passed, evaluate blessed, push pushed version 1).

    python bench/bench_warm.py                 # 3 rounds
    python bench/bench_warm.py --rounds 1 --workdir /tmp/bw   # keep the logs
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_training  # noqa: E402

TASKS = ("ingest", "validate", "train", "evaluate", "push", "track")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="cold + warm pairs (default 3)")
    p.add_argument("--workdir", default="", help="keep outputs and logs here")
    a = p.parse_args(argv)
    keep = bool(a.workdir)
    workdir = os.path.abspath(a.workdir) if keep else tempfile.mkdtemp(prefix="bench_warm_")
    os.makedirs(workdir, exist_ok=True)
    print(f"{os.cpu_count()} CPUs; main job (make run's parameters), cold then warm, "
          f"{a.rounds} rounds", flush=True)
    runs = {"cold": [], "warm": []}
    try:
        for i in range(a.rounds):
            for mode, options in (("cold", ()), ("warm", ("--warm-tasks",))):
                load = os.getloadavg()[0]
                r = bench_training.run_pipeline(f"{mode}-{i + 1}",
                                                bench_training.MAIN_JOB_PARAMS, workdir,
                                                options)
                r["load"] = load
                runs[mode].append(r)
                tasks = " ".join(f"{n} {r['tasks'][n]['seconds']:.1f}" for n in TASKS
                                 if n in r["tasks"])
                print(f"  {r['label']:<7} {r['status']:<8} total {r['wall_s']:5.1f} s "
                      f"(pipeline {r['pipeline_s']:5.1f}); load {load:.2f}; {tasks}",
                      flush=True)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    medians = {}
    for mode, found in runs.items():
        if not found:
            continue
        medians[mode] = statistics.median(r["wall_s"] for r in found)
        per_task = "  ".join(
            f"{n} {statistics.median(r['tasks'][n]['seconds'] for r in found):.1f}"
            for n in TASKS if all(n in r["tasks"] for r in found))
        print(f"{mode}: median total {medians[mode]:.1f} s (of {len(found)}); per task "
              f"median: {per_task}")
    if len(medians) == 2:
        print(f"warm / cold: {medians['warm'] / medians['cold']:.2f} "
              f"({medians['cold'] / medians['warm']:.2f}x faster)")
    every = [r for found in runs.values() for r in found]
    decisions = {tuple(sorted(r["decisions"].items())) for r in every}
    same = len(decisions) == 1
    print(f"same decisions in every run: {'yes' if same else 'NO'}"
          + (f" {dict(next(iter(decisions)))}" if same else ""))
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = [r["label"] for r in every if r["status"] != "SUCCESS"]
    if failed:
        print(f"FAILED runs: {', '.join(failed)}")
    return 1 if failed or not same else 0


if __name__ == "__main__":
    sys.exit(main())
