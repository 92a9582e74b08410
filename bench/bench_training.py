"""Benchmark: the training pipeline end to end, per-task times and each task's start overhead.

Runs ``kfp-mlops run training --local`` as a child process, exactly as a user does, and
reads two things back:

* the run summary (``--summary-json``): the whole run's time and every task's wall time;
* the CLI's streamed task logs: each task's *start overhead*, the time from kfp.local's
  ``Executing task '<name>'`` line to our ``component code started`` line (logged by
  ``components/_shared/logs.setup()``, the first line of our own code in every task). That
  covers starting the task's interpreter, importing kfp, loading the component and reading
  its inputs. The time after our code's last line (``Wrote executor output file``) until
  kfp.local reports the task finished is printed as the *exit* overhead.

Runs, in one go:

* main job      the Makefile's ``make run`` (bundled penguins data, its parameters), against
                the goal: under 3 minutes on a 2-core machine once set up;
* N rows        generated, deterministic customer-churn data (numeric and categorical columns
                with missing values; a binary label that depends on the features) as CSV, for
                each ``--rows`` (default 100k and 1M), with ``--epochs``/``--batch-size``
                suited to the size.

Every run gets a fresh registry and output folder. Peak memory is ``os.wait4``'s
``ru_maxrss`` of the CLI process: the largest resident set of any *single* process of the
run (the CLI or one task), not the sum.

    python bench/bench_training.py                    # main job, 100k and 1M rows
    python bench/bench_training.py --rows 100000      # a quick run
    python bench/bench_training.py --rows 1000000 --epochs 2 --batch-size 4096 --skip-main-job
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SEED = 20240601
CHUNK_ROWS = 250_000
TASKS = ("ingest", "validate", "train", "evaluate", "push")
MAIN_JOB_GOAL_S = 180.0
START_GOAL_S = 3.0
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PENGUINS = os.path.join(REPO, "pipelines", "data", "penguins.csv")
# The `run` target of the Makefile, minus its folders.
MAIN_JOB_PARAMS = ["data_uri=" + PENGUINS, "label_column=species", "model_name=penguins",
                   'thresholds={"accuracy": 0.9, "auc": 0.95}', 'slice_columns=["island"]']


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------

PLANS = ["basic", "standard", "premium", "family"]
REGIONS = ["north", "south", "east", "west", "central", "coastal", "mountain", "islands"]
CHANNELS = ["web", "app", "store", "phone", "partner"]
DEVICES = [f"device_{i:02d}" for i in range(40)]


def _chunk(index: int, rows: int):
    """One deterministic chunk of customer-churn rows; ``churned`` depends on the features."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(SEED + index)
    age = rng.integers(18, 90, rows)
    tenure = np.minimum(rng.exponential(30, rows), 120).round().astype(int)
    plan = rng.choice(len(PLANS), rows, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice(len(REGIONS), rows)
    channel = rng.choice(len(CHANNELS), rows, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    zipf = 1.0 / np.arange(1, len(DEVICES) + 1)
    device = rng.choice(len(DEVICES), rows, p=zipf / zipf.sum())
    income = np.round(rng.lognormal(10.6, 0.5, rows), 2)
    monthly = np.round(20 + 15 * plan + rng.gamma(2.0, 8.0, rows), 2)
    calls = rng.poisson(0.5 + 2.0 * (rng.random(rows) < 0.2), rows)
    credit = np.clip(rng.normal(680, 70, rows), 300, 850).round().astype(int)

    logit = (-0.6 + 0.45 * calls - 0.035 * tenure + 0.025 * (monthly - 50)
             - 0.004 * (credit - 680) + np.array([0.3, 0.0, -0.4, -0.8])[plan]
             + np.array([0.0, 0.2, -0.1, 0.4, 0.0, -0.3, 0.1, 0.5])[region]
             + np.array([0.3, 0.1, -0.3, 0.0, 0.6])[channel] - 0.01 * (age - 45)
             + rng.logistic(0.0, 0.6, rows))
    churned = np.where(logit > 0, "yes", "no")

    def missing(fraction):
        return rng.random(rows) < fraction

    columns = {
        "age": pa.array(age, mask=missing(0.02)),
        "tenure_months": pa.array(tenure),
        "plan": pa.array(np.array(PLANS)[plan], mask=missing(0.01)),
        "region": pa.array(np.array(REGIONS)[region], mask=missing(0.03)),
        "channel": pa.array(np.array(CHANNELS)[channel], mask=missing(0.04)),
        "device": pa.array(np.array(DEVICES)[device], mask=missing(0.10)),
        "annual_income": pa.array(income, mask=missing(0.05)),
        "monthly_charges": pa.array(monthly),
        "support_calls": pa.array(calls, mask=missing(0.01)),
        "credit_score": pa.array(credit, mask=missing(0.08)),
        "churned": pa.array(churned),
    }
    return pa.RecordBatch.from_arrays(list(columns.values()), list(columns))


def make_csv(path: str, rows: int) -> None:
    import pyarrow.csv as pcsv

    writer, done, index = None, 0, 0
    while done < rows:
        batch = _chunk(index, min(CHUNK_ROWS, rows - done))
        if writer is None:
            writer = pcsv.CSVWriter(path, batch.schema)
        writer.write_batch(batch)
        done += batch.num_rows
        index += 1
    writer.close()


# ------------------------------------------------------------------------------------------
# One pipeline run (a child process) and its logs
# ------------------------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOCAL_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) - \w+ - (Executing task|Task) '([^']+)'"
                        r"(?: finished with status (\w+))?")
EXECUTOR_LINE = re.compile(r"\[KFP Executor \d{4}-\d\d-\d\d (\d\d:\d\d:\d\d),(\d{3}) \w+\]: "
                           r"(component code started|Looking for component|"
                           r"heavy imports done|Wrote executor output file)")


def _seconds(clock: str) -> float:
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _between(start: float, end: float) -> float:
    return (end - start) % 86400.0       # both clocks are local time of day; survive midnight


def parse_task_logs(stdout: str) -> dict:
    """``{task: {"start_s", "python_kfp_s", "code_s", "exit_s"}}`` from the CLI's output.

    start_s: ``Executing task`` -> ``component code started`` (the start overhead);
    python_kfp_s: the part of it before the KFP executor's first line (interpreter + kfp);
    code_s: ``component code started`` -> ``Wrote executor output file``, split into
    imports_s: ``component code started`` -> ``heavy imports done`` (logged by
    ``task_process.import_heavy`` in the tasks that import TensorFlow, TFDV or MLflow; None
    in the others) and work_s: the rest of code_s;
    exit_s: that last line -> kfp.local's ``finished with status``.
    """
    marks: dict = {}
    task = None
    for raw in stdout.splitlines():
        line = ANSI.sub("", raw)
        m = LOCAL_LINE.match(line)
        if m:
            task = m.group(3)
            key = "executing" if m.group(2) == "Executing task" else "finished"
            marks.setdefault(task, {})[key] = _seconds(m.group(1))
            continue
        m = EXECUTOR_LINE.search(line)
        if m and task:
            when = _seconds(f"{m.group(1)}.{m.group(2)}")
            key = {"component code started": "started", "Looking for component": "executor",
                   "heavy imports done": "imported",
                   "Wrote executor output file": "wrote"}[m.group(3)]
            marks[task].setdefault(key, when)
    found = {}
    for task, t in marks.items():
        found[task] = {
            "start_s": _between(t["executing"], t["started"]) if "started" in t else None,
            "python_kfp_s": (_between(t["executing"], t["executor"])
                             if "executor" in t else None),
            "code_s": _between(t["started"], t["wrote"]) if "wrote" in t and "started" in t
            else None,
            "exit_s": _between(t["wrote"], t["finished"]) if "finished" in t and "wrote" in t
            else None,
            "imports_s": (_between(t["started"], t["imported"])
                          if "imported" in t and "started" in t else None),
            "work_s": (_between(t.get("imported", t.get("started")), t["wrote"])
                       if "wrote" in t and "started" in t else None),
        }
    return found


def _cli() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "kfp-mlops")
    return here if os.path.exists(here) else (shutil.which("kfp-mlops") or "kfp-mlops")


def run_pipeline(label: str, params: list, workdir: str, options: tuple = ()) -> dict:
    """Runs the training pipeline with the CLI in a child process; returns what it measured.

    ``options``: more ``kfp-mlops run`` options (bench_warm.py's ``--warm-tasks``)."""
    folder = os.path.join(workdir, label)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    summary_path = os.path.join(folder, "summary.json")
    cmd = [_cli(), "run", "training", "--local", *options,
           "--output-dir", os.path.join(folder, "outputs"), "--summary-json", summary_path]
    for p in params + ["registry_uri=" + os.path.join(folder, "registry")]:
        cmd += ["--param", p]
    env = dict(os.environ, KFP_MLOPS_LOG_LEVEL="INFO")
    with open(os.path.join(folder, "stdout.log"), "wb") as out, \
            open(os.path.join(folder, "stderr.log"), "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    with open(out.name, encoding="utf-8", errors="replace") as f:
        logs = parse_task_logs(f.read())
    if not os.path.exists(summary_path):
        raise RuntimeError(f"{label}: the CLI wrote no summary (exit status {status}); "
                           f"see {out.name} and {err.name}")
    with open(summary_path) as f:
        summary = json.load(f)
    tasks = {t["name"]: {"seconds": t["seconds"], "status": t["status"], **logs.get(t["name"], {})}
             for t in summary["tasks"]}
    metrics = {}
    for t in summary["tasks"]:
        for name, value in t["outputs"].items():
            if t["name"] == "evaluate" and name == "evaluation":
                metrics = value.get("metadata", {})
    decisions = {f"{t['name']}.{k}": v for t in summary["tasks"]
                 for value in t["outputs"].values() if isinstance(value, dict)
                 for k, v in (value.get("metadata") or {}).items()
                 if k in ("passed", "blessed", "pushed", "champion", "version")}
    return {"label": label, "wall_s": wall, "pipeline_s": summary["seconds"],
            "decisions": decisions,
            "status": summary["status"], "exit_status": status,
            "peak_mb": usage.ru_maxrss / 1024, "tasks": tasks, "metrics": metrics,
            "log": out.name}


IMPORTS = {
    "python": "pass",
    "kfp executor": "import kfp.dsl.executor_main",
    "tensorflow": "import tensorflow",
    "tfdv": "import tensorflow_data_validation",
}


def measure_imports() -> dict:
    """Wall seconds of a fresh interpreter doing each import, as a task's body pays it.

    ``_KFP_RUNTIME=true`` as in every task's command (kfp then imports only what the
    executor needs). The start overhead above ends before our body's heavy imports.
    """
    env = dict(os.environ, _KFP_RUNTIME="true", TF_CPP_MIN_LOG_LEVEL="2")
    found = {}
    for name, code in IMPORTS.items():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found[name] = time.perf_counter() - start
    return found


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------

def _fmt(value, width=9, digits=1):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_run(r: dict) -> None:
    m = r["metrics"]
    quality = ", ".join(f"{k} {m[k]:.3f}" for k in ("accuracy", "auc") if k in m)
    print(f"  {r['label']}: {r['status']} in {r['wall_s']:.1f} s (pipeline {r['pipeline_s']:.1f} s)"
          f", peak {r['peak_mb']:,.0f} MB; {quality}", flush=True)
    print(f"    {'task':<10}{'wall s':>9}{'start s':>9}{'of which python+kfp':>21}"
          f"{'in code s':>11}{'exit s':>9}")
    for name, t in r["tasks"].items():
        print(f"    {name:<10}{_fmt(t['seconds'])}{_fmt(t.get('start_s'), digits=2)}"
              f"{_fmt(t.get('python_kfp_s'), 21, 2)}{_fmt(t.get('code_s'), 11)}"
              f"{_fmt(t.get('exit_s'), digits=2)}", flush=True)


def print_tables(runs: list) -> None:
    print()
    head = f"{'run':<12}{'total s':>9}{'pipeline s':>11}" + "".join(f"{n:>10}" for n in TASKS)
    print("Per-task wall seconds (total = the CLI process, as a user waits for it)")
    print(head + f"{'peak MB':>9}")
    for r in runs:
        print(f"{r['label']:<12}{r['wall_s']:>9.1f}{r['pipeline_s']:>11.1f}"
              + "".join(_fmt(r["tasks"].get(n, {}).get("seconds"), 10) for n in TASKS)
              + f"{r['peak_mb']:>9,.0f}")
    print()
    print(f"Per-task start overhead, seconds (kfp.local 'Executing task' -> our first line; "
          f"goal < {START_GOAL_S:.0f} s)")
    print(f"{'run':<12}" + "".join(f"{n:>10}" for n in TASKS) + f"{'max':>8}")
    for r in runs:
        starts = [r["tasks"].get(n, {}).get("start_s") for n in TASKS]
        known = [s for s in starts if s is not None]
        print(f"{r['label']:<12}" + "".join(_fmt(s, 10, 2) for s in starts)
              + _fmt(max(known) if known else None, 8, 2))


def print_scaling(runs: list) -> None:
    sized = [r for r in runs if r.get("rows")]
    for small, large in zip(sized, sized[1:]):
        factor = large["rows"] / small["rows"]
        print()
        print(f"Growth from {small['label']} to {large['label']} ({factor:.0f}x rows): "
              f"task time ratio (> {factor:.0f}x grows faster than rows)")
        parts = []
        for n in TASKS:
            a, b = small["tasks"].get(n, {}), large["tasks"].get(n, {})
            if a.get("seconds") and b.get("seconds"):
                code_a, code_b = a.get("code_s"), b.get("code_s")
                code = (f", in code {code_b / code_a:.1f}x" if code_a and code_b else "")
                parts.append(f"{n} {b['seconds'] / a['seconds']:.1f}x{code}")
        print("  " + "; ".join(parts))
        print(f"  pipeline {large['pipeline_s'] / small['pipeline_s']:.1f}x")


def print_goals(runs: list) -> None:
    print()
    print("Goals")
    main = next((r for r in runs if r["label"] == "main-job"), None)
    if main:
        ok = main["status"] == "SUCCESS" and main["wall_s"] < MAIN_JOB_GOAL_S
        print(f"  main job (make run's parameters, penguins) under {MAIN_JOB_GOAL_S:.0f} s: "
              f"{'yes' if ok else 'NO'} ({main['wall_s']:.1f} s, {main['status']}; "
              f"{main['wall_s'] / MAIN_JOB_GOAL_S:.0%} of the budget)")
    for r in runs:
        starts = {n: t.get("start_s") for n, t in r["tasks"].items()}
        missing = [n for n, s in starts.items() if s is None]
        worst = max(((s, n) for n, s in starts.items() if s is not None), default=(None, "-"))
        ok = not missing and worst[0] is not None and worst[0] < START_GOAL_S
        detail = (f"worst {worst[1]} {worst[0]:.2f} s" if worst[0] is not None else "no data")
        if missing:
            detail += f"; no 'component code started' line for {', '.join(missing)}"
        print(f"  {r['label']}: every task starts in under {START_GOAL_S:.0f} s: "
              f"{'yes' if ok else 'NO'} ({detail})")


# ------------------------------------------------------------------------------------------

def _rows_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M rows"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k rows"
    return f"{rows} rows"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000],
                   help="sizes of the generated data sets (default: 100000 1000000)")
    p.add_argument("--epochs", type=int, default=3, help="epochs on generated data")
    p.add_argument("--batch-size", type=int, default=1024, help="batch size on generated data")
    p.add_argument("--skip-main-job", action="store_true", help="do not run make run's job")
    p.add_argument("--workdir", default="",
                   help="keep data, outputs and logs here (default: a temporary folder, removed)")
    p.add_argument("--json", default="", help="also write every measurement to this file")
    a = p.parse_args(argv)

    keep = bool(a.workdir)
    a.workdir = os.path.abspath(a.workdir) if keep else tempfile.mkdtemp(prefix="bench_training_")
    os.makedirs(a.workdir, exist_ok=True)
    hyper = [f"epochs={a.epochs}", f"batch_size={a.batch_size}"]
    print(f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}); CLI {_cli()}; "
          f"started {datetime.datetime.now():%Y-%m-%d %H:%M}")
    print(f"main job: the Makefile's run target ({' '.join(MAIN_JOB_PARAMS[1:])}; the "
          f"pipeline's default epochs=30, batch_size=32)")
    print(f"generated data: label_column=churned model_name=churn {' '.join(hyper)} "
          "(other parameters: the pipeline's defaults)", flush=True)
    runs = []
    try:
        if not a.skip_main_job:
            runs.append(run_pipeline("main-job", MAIN_JOB_PARAMS, a.workdir))
            print_run(runs[-1])
        for rows in a.rows:
            label = _rows_label(rows)
            csv = os.path.join(a.workdir, f"churn_{rows}.csv")
            t = time.perf_counter()
            make_csv(csv, rows)
            print(f"  {label}: {os.path.getsize(csv) / 1e6:,.0f} MB CSV generated in "
                  f"{time.perf_counter() - t:.1f} s (not timed below)", flush=True)
            run = run_pipeline(label.replace(" ", "-"),
                               [f"data_uri={csv}", "label_column=churned", "model_name=churn",
                                *hyper], a.workdir)
            run["rows"] = rows
            runs.append(run)
            print_run(run)
            os.remove(csv)
            shutil.rmtree(os.path.join(a.workdir, run["label"], "outputs"), ignore_errors=True)
    finally:
        if runs:
            print_tables(runs)
            print_scaling(runs)
            print_goals(runs)
            print("\nPeak MB: ru_maxrss from os.wait4 on the CLI process, i.e. the largest single "
                  "process of the run (the CLI or one task), not their sum.")
            if a.json:
                with open(a.json, "w") as f:
                    json.dump(runs, f, indent=1)
        if not keep:
            shutil.rmtree(a.workdir, ignore_errors=True)
    if runs:
        imports = measure_imports()
        print("\nIn the same session, a fresh interpreter importing (wall s, interpreter start "
              "included): " + ", ".join(f"{k} {v:.2f}" for k, v in imports.items()))
        starts = [t["start_s"] for r in runs for t in r["tasks"].values()
                  if t.get("start_s") is not None]
        if starts:
            print(f"  the measured start overhead (mean {sum(starts) / len(starts):.2f} s) is "
                  f"{imports['tensorflow'] / (sum(starts) / len(starts)):.0f}x smaller than "
                  "importing tensorflow, which validate, train and evaluate pay inside their "
                  "bodies, after 'component code started'")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = [r["label"] for r in runs if r["status"] != "SUCCESS"]
    if failed:
        print(f"\nFAILED runs: {', '.join(failed)} (rerun with --workdir DIR to keep their logs)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
