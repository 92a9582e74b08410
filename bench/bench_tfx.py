"""Benchmark: our training pipeline against TFX 1.16's on the same data, rounds alternating.

Runs, for each data set, ``--repeats`` rounds; each round runs both pipelines once, each
in its own child process with a fresh output root, the order alternating between rounds
(TFX first in odd rounds, ours first in even ones):

* TFX       the baseline's ``pipeline.py`` (``--tfx-baseline``; CsvExampleGen, StatisticsGen,
            SchemaGen, ExampleValidator, Trainer, Evaluator, Pusher under ``LocalDagRunner``,
            in one process) with ``--tfx-python``, the interpreter of TFX's own virtualenv:
            nothing of TFX is in our lock. Per-component times from its ``timings.json``
            (ML Metadata's execution records).
* ours      ``kfp-mlops run training --local`` (ingest, validate, train, evaluate, push,
            track; every task its own process), as ``bench_training.py`` runs it. Per-task
            times from ``--summary-json``, and each task's split into *start* (kfp.local's
            ``Executing task`` -> ``component code started``), *imports* (-> ``heavy imports
            done``, logged by ``components/_shared/task_process.import_heavy``), *work* (->
            ``Wrote executor output file``) and *exit* (-> kfp.local's ``finished``).

Data, the same file for both pipelines:

* penguins  the baseline's ``make_penguins.py`` rows (the Palmer penguins CSV without its 2
            rows of missing measurements, 4 features scaled to 0-1, label ``species`` 0-2;
            342 rows), made here from our bundled ``pipelines/data/penguins.csv`` (the same
            file as the ``palmerpenguins`` package's) and checked against the baseline's own
            output when ``--tfx-python`` is given;
* N rows    the baseline's ``gen_big.py N`` (15 columns: 9 float with missing values, 1 int,
            4 categorical; binary label ``label``), run with this interpreter.

Training work, comparable in spirit (the baseline's README parameters for TFX):

* penguins  TFX 300 train steps of batch 20 (3 Keras epochs of 100 steps; 6,000 examples,
            about 26 passes over its 228 train rows); ours 30 epochs of batch 32 (at most
            270 steps, 8,280 examples over 276 train rows; early stopping may end sooner).
* N rows    TFX 1,000 steps of batch 256 (256k examples); ours ``--big-epochs`` (1) epoch
            of ``--big-batch-size`` (1,024), i.e. every train row (80 %) once: more
            examples than TFX sees.

Peak MB is ``ru_maxrss`` from ``os.wait4``: for TFX its one process; for ours the largest
single process of the run (the CLI or one task), not their sum.

    python bench/bench_tfx.py --tfx-python /path/to/tfx-venv/bin/python --repeats 3
    python bench/bench_tfx.py --tfx-python PY --data 1000000 --repeats 1
    python bench/bench_tfx.py                  # ours only: TFX is skipped, and says so
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_training  # noqa: E402  (the same CLI run and task-log parsing)

REPO = bench_training.REPO
DEFAULT_BASELINE = os.path.join(REPO, "..", "shared", "tfx-baseline")
OUR_TASKS = ("ingest", "validate", "train", "evaluate", "push", "track")
TFX_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Trainer",
                  "Evaluator", "Pusher")
GOALS = {"penguins": 5.0, "rows": 10.0}          # TFX wall / our wall, at least
PENGUIN_COLUMNS = [("bill_length_mm", "culmen_length_mm"), ("bill_depth_mm", "culmen_depth_mm"),
                   ("flipper_length_mm", "flipper_length_mm"), ("body_mass_g", "body_mass_g")]
SPECIES = {"Adelie": 0, "Chinstrap": 1, "Gentoo": 2}


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------

def make_penguins(path: str) -> None:
    """The baseline's ``make_penguins.py`` transform, on our bundled copy of the same CSV."""
    import pandas as pd

    df = pd.read_csv(bench_training.PENGUINS)
    df = df.dropna(subset=[c for c, _ in PENGUIN_COLUMNS] + ["species"])
    out = pd.DataFrame({"species": df["species"].map(SPECIES)})
    for column, name in PENGUIN_COLUMNS:
        out[name] = ((df[column] - df[column].min())
                     / (df[column].max() - df[column].min())).round(6)
    out.to_csv(path, index=False)


def check_same_penguins(ours: str, baseline_dir: str, tfx_python: str, workdir: str) -> str:
    """Runs the baseline's make_penguins.py; raises unless its rows equal ours."""
    import pandas as pd

    work = os.path.join(workdir, "baseline-make-penguins")
    os.makedirs(work, exist_ok=True)
    subprocess.run([tfx_python, os.path.join(baseline_dir, "make_penguins.py")], check=True,
                   env=dict(os.environ, WORK=work), stdout=subprocess.DEVNULL)
    theirs = os.path.join(work, "penguin_data", "penguins_processed.csv")
    a, b = pd.read_csv(ours), pd.read_csv(theirs)
    if list(a.columns) != list(b.columns) or not a.equals(b):
        raise RuntimeError(f"penguins rows differ: {ours} (from {bench_training.PENGUINS}) vs "
                           f"the baseline's {theirs}")
    return f"same {len(a)} rows and label as the baseline's make_penguins.py output"


def make_big(path: str, rows: int, baseline_dir: str) -> None:
    script = os.path.join(baseline_dir, "gen_big.py")
    subprocess.run([sys.executable, script, str(rows), path], check=True,
                   stdout=subprocess.DEVNULL)


# ------------------------------------------------------------------------------------------
# One run of each pipeline
# ------------------------------------------------------------------------------------------

def run_tfx(tfx_python: str, baseline_dir: str, data_dir: str, root: str, args: list) -> dict:
    """Runs the baseline's pipeline.py in a child process; wall, peak and timings.json."""
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    cmd = [tfx_python, os.path.join(baseline_dir, "pipeline.py"), "--data-dir", data_dir,
           "--root", os.path.join(root, "run"), *args]
    load = os.getloadavg()[0]
    with open(os.path.join(root, "stdout.log"), "wb") as out, \
            open(os.path.join(root, "stderr.log"), "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=root)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    timings = os.path.join(root, "run", "timings.json")
    if status != 0 or not os.path.exists(timings):
        raise RuntimeError(f"TFX pipeline failed (exit status {status}); see {err.name}")
    with open(timings) as f:
        found = json.load(f)
    return {"wall_s": wall, "run_s": found["total_run_s"], "stages": found["components"],
            "pushed": found.get("pushed"), "peak_mb": usage.ru_maxrss / 1024, "load": load,
            "log": err.name}


def run_ours(label: str, params: list, workdir: str) -> dict:
    load = os.getloadavg()[0]
    r = bench_training.run_pipeline(label, params, workdir)
    if r["status"] != "SUCCESS":
        raise RuntimeError(f"our pipeline: {r['status']}; see {r['log']}")
    r["load"] = load
    return r


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------

def _median(values):
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _f(value, width=8, digits=1):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_round(size: str, i: int, tfx: dict, ours: dict) -> None:
    if tfx:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in tfx["stages"].items())
        print(f"  {size} round {i} TFX: {tfx['wall_s']:.1f} s (LocalDagRunner.run "
              f"{tfx['run_s']:.1f} s), peak {tfx['peak_mb']:,.0f} MB, load {tfx['load']:.2f}, "
              f"pushed {tfx['pushed']}; {stages}", flush=True)
    m = ours["metrics"]
    quality = ", ".join(f"{k} {m[k]:.3f}" for k in ("accuracy", "auc") if k in m)
    print(f"  {size} round {i} ours: {ours['wall_s']:.1f} s (pipeline {ours['pipeline_s']:.1f} s)"
          f", peak {ours['peak_mb']:,.0f} MB, load {ours['load']:.2f}; {quality}", flush=True)
    print(f"    {'task':<10}{'wall':>8}{'start':>8}{'imports':>8}{'work':>8}{'exit':>8}")
    for name in OUR_TASKS:
        t = ours["tasks"].get(name, {})
        print(f"    {name:<10}{_f(t.get('seconds'))}{_f(t.get('start_s'), digits=2)}"
              f"{_f(t.get('imports_s'))}{_f(t.get('work_s'))}{_f(t.get('exit_s'), digits=2)}",
              flush=True)
    if tfx:
        print(f"    ratio TFX/ours (whole process): {tfx['wall_s'] / ours['wall_s']:.2f}x",
              flush=True)


def summarize(size: str, kind: str, rounds: list) -> dict:
    """Medians over the rounds of one data set, and the ratio TFX/ours."""
    ours = [o for _, o in rounds]
    tfx = [t for t, _ in rounds if t]
    s = {"size": size, "kind": kind, "rounds": len(rounds),
         "ours_wall_s": _median([o["wall_s"] for o in ours]),
         "ours_pipeline_s": _median([o["pipeline_s"] for o in ours]),
         "ours_peak_mb": _median([o["peak_mb"] for o in ours]),
         "ours_walls": [o["wall_s"] for o in ours],
         "loads": [x["load"] for t, o in rounds for x in (t, o) if x],
         "tasks": {n: {k: _median([o["tasks"].get(n, {}).get(k) for o in ours])
                       for k in ("seconds", "start_s", "imports_s", "work_s", "exit_s")}
                   for n in OUR_TASKS}}
    if tfx:
        ratios = [t["wall_s"] / o["wall_s"] for t, o in rounds]
        s.update(tfx_wall_s=_median([t["wall_s"] for t in tfx]),
                 tfx_run_s=_median([t["run_s"] for t in tfx]),
                 tfx_peak_mb=_median([t["peak_mb"] for t in tfx]),
                 tfx_walls=[t["wall_s"] for t in tfx],
                 tfx_stages={n: _median([t["stages"].get(n) for t in tfx])
                             for n in TFX_COMPONENTS},
                 ratios=ratios, ratio=statistics.median(ratios))
    return s


def print_summary(s: dict) -> None:
    n = s["rounds"]
    print(f"\n{s['size']}: medians of {n} round{'s' * (n > 1)} "
          f"(load average during the runs {min(s['loads']):.2f}-{max(s['loads']):.2f})")
    print(f"  ours: {s['ours_wall_s']:.1f} s whole process (rounds: "
          f"{', '.join(f'{w:.1f}' for w in s['ours_walls'])}), pipeline "
          f"{s['ours_pipeline_s']:.1f} s, peak {s['ours_peak_mb']:,.0f} MB")
    print(f"    {'task':<10}{'wall':>8}{'start':>8}{'imports':>8}{'work':>8}{'exit':>8}")
    for name, t in s["tasks"].items():
        print(f"    {name:<10}{_f(t['seconds'])}{_f(t['start_s'], digits=2)}"
              f"{_f(t['imports_s'])}{_f(t['work_s'])}{_f(t['exit_s'], digits=2)}")
    total = {k: sum(t[k] or 0.0 for t in s["tasks"].values())
             for k in ("start_s", "imports_s", "work_s", "exit_s")}
    print(f"    {'sum':<10}{'':>8}{_f(total['start_s'], digits=2)}{_f(total['imports_s'])}"
          f"{_f(total['work_s'])}{_f(total['exit_s'], digits=2)}")
    if "ratio" not in s:
        print("  TFX: skipped (no --tfx-python): no ratio")
        return
    print(f"  TFX: {s['tfx_wall_s']:.1f} s whole process (rounds: "
          f"{', '.join(f'{w:.1f}' for w in s['tfx_walls'])}), LocalDagRunner.run "
          f"{s['tfx_run_s']:.1f} s (outside it: imports, set-up, exit "
          f"{s['tfx_wall_s'] - s['tfx_run_s']:.1f} s), peak {s['tfx_peak_mb']:,.0f} MB")
    print("    " + ", ".join(f"{k} {_f(v, 0)}" for k, v in s["tfx_stages"].items()))
    goal = GOALS[s["kind"]]
    met = s["ratio"] >= goal
    detail = ("met" if met else
              f"NOT met: missed by {goal / s['ratio']:.2f}x; ours would need "
              f"{s['tfx_wall_s'] / goal:.1f} s, {s['ours_wall_s'] - s['tfx_wall_s'] / goal:.1f} s "
              f"less")
    print(f"  ratio TFX/ours (whole process, median of the rounds' ratios "
          f"{', '.join(f'{r:.2f}' for r in s['ratios'])}): {s['ratio']:.2f}x; "
          f"goal >= {goal:.0f}x: {detail}", flush=True)


# ------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tfx-python", default="",
                   help="python of a virtualenv with TFX 1.16 installed; without it TFX is "
                        "skipped and only our pipeline runs")
    p.add_argument("--tfx-baseline", default=DEFAULT_BASELINE,
                   help="folder of the TFX baseline (pipeline.py, make_penguins.py, gen_big.py;"
                        " default: ../shared/tfx-baseline beside the repository)")
    p.add_argument("--data", nargs="+", default=["penguins"],
                   help="data sets: 'penguins' and/or row counts of generated data "
                        "(default: penguins)")
    p.add_argument("--repeats", type=int, default=3, help="rounds per data set (default 3)")
    p.add_argument("--big-epochs", type=int, default=1, help="our epochs on generated data")
    p.add_argument("--big-batch-size", type=int, default=1024,
                   help="our batch size on generated data")
    p.add_argument("--workdir", default="",
                   help="keep data and logs here (default: a temporary folder, removed)")
    p.add_argument("--json", default="", help="also write every measurement to this file")
    a = p.parse_args(argv)

    baseline = os.path.abspath(a.tfx_baseline)
    if a.tfx_python and not os.path.isfile(os.path.join(baseline, "pipeline.py")):
        p.error(f"--tfx-baseline {baseline}: no pipeline.py there")
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    keep = bool(a.workdir)
    a.workdir = os.path.abspath(a.workdir) if keep else tempfile.mkdtemp(prefix="bench_tfx_")
    os.makedirs(a.workdir, exist_ok=True)
    print(f"{os.cpu_count()} CPUs (load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})"
          f"; CLI {bench_training._cli()}; started {datetime.datetime.now():%Y-%m-%d %H:%M}")
    if a.tfx_python:
        print(f"TFX: {a.tfx_python} running {baseline}/pipeline.py (LocalDagRunner, "
              "Beam DirectRunner in memory, 1 worker)")
    else:
        print("TFX: SKIPPED (no --tfx-python given): only our pipeline runs; no ratio")
    summaries, everything = [], []
    try:
        for item in a.data:
            kind = "penguins" if item == "penguins" else "rows"
            data_dir = os.path.join(a.workdir, f"data-{item}")
            os.makedirs(data_dir, exist_ok=True)
            if kind == "penguins":
                size = "penguins"
                csv = os.path.join(data_dir, "penguins_processed.csv")
                make_penguins(csv)
                same = (check_same_penguins(csv, baseline, a.tfx_python, a.workdir)
                        if a.tfx_python else "not compared with the baseline's (no TFX)")
                print(f"penguins: 342 rows, label species 0-2, 4 scaled features ({same})")
                tfx_args = ["--label", "species", "--n-classes", "3", "--train-steps", "300",
                            "--eval-steps", "20", "--batch-size", "20", "--epochs", "3",
                            "--threshold", "0.6", "--name", "penguin"]
                our_params = [f"data_uri={csv}", "label_column=species", "model_name=penguins",
                              "task=classification", 'thresholds={"accuracy": 0.6}']
                print("  TFX: 300 train steps of batch 20 (3 epochs), 20 eval steps; ours: 30 "
                      "epochs of batch 32 (early stopping on), the pipeline's defaults")
            else:
                rows = int(item)
                size = bench_training._rows_label(rows)
                csv = os.path.join(data_dir, "big.csv")
                t = time.perf_counter()
                make_big(csv, rows, baseline)
                print(f"{size}: the baseline's gen_big.py, {os.path.getsize(csv) / 1e6:,.0f} MB "
                      f"CSV in {time.perf_counter() - t:.0f} s (not timed), label 'label'")
                tfx_args = ["--label", "label", "--n-classes", "2", "--train-steps", "1000",
                            "--eval-steps", "100", "--batch-size", "256", "--epochs", "1",
                            "--threshold", "0.6", "--name", "big"]
                our_params = [f"data_uri={csv}", "label_column=label", "model_name=big",
                              "task=classification", 'thresholds={"accuracy": 0.6}',
                              f"epochs={a.big_epochs}", f"batch_size={a.big_batch_size}"]
                print(f"  TFX: 1000 train steps of batch 256 (256k examples), 100 eval steps; "
                      f"ours: {a.big_epochs} epoch(s) of batch {a.big_batch_size} over the "
                      "train split (80 % of the rows)")
            rounds = []
            for i in range(1, a.repeats + 1):
                label = f"ours-{item}-{i}"
                tfx_root = os.path.join(a.workdir, f"tfx-{item}-{i}")
                tfx, ours = None, None
                order = ("tfx", "ours") if i % 2 else ("ours", "tfx")
                for which in order:
                    if which == "tfx" and a.tfx_python:
                        tfx = run_tfx(a.tfx_python, baseline, data_dir, tfx_root, tfx_args)
                        shutil.rmtree(os.path.join(tfx_root, "run"), ignore_errors=True)
                    elif which == "ours":
                        ours = run_ours(label, our_params, a.workdir)
                        shutil.rmtree(os.path.join(a.workdir, label, "outputs"),
                                      ignore_errors=True)
                print_round(size, i, tfx, ours)
                rounds.append((tfx, ours))
                everything.append({"size": size, "round": i, "order": order, "tfx": tfx,
                                   "ours": ours})
            summaries.append(summarize(size, kind, rounds))
            shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        for s in summaries:
            print_summary(s)
        if summaries:
            print("\nPeak MB: ru_maxrss from os.wait4; TFX runs in one process, ours is the "
                  "largest single process of the run (the CLI or one task).")
            print("Ours per task: start = interpreter + kfp + loading the component; imports = "
                  "TensorFlow/TFDV/Keras/MLflow (task_process.import_heavy); work = the rest "
                  "of our code; exit = after the executor's output until kfp.local's finish.")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"summaries": summaries, "runs": everything}, f, indent=1)
        if not keep:
            shutil.rmtree(a.workdir, ignore_errors=True)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
