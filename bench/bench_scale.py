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

The floor: in its own child process (``--step floor``), the same Keras model is built with
the project's code as ``train.core._fit_builtin`` builds it (``_build_preprocessor`` fitted
by ``train.data.fit_statistics``, ``_build_keras_model`` with the pipeline's defaults
hidden_units=[64, 32], dropout 0, Adam 0.005) on ``--floor-rows`` generated rows that are
preprocessed once and held as in-memory tensors; one epoch of ``model.fit`` at the same
batch size is timed. The train task's rows/s is its train split (about 80 % of the rows)
over the train task's wall time, so it includes its TensorFlow import, its statistics pass
and the export: an upper bound of the input pipeline's cost.
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


def floor_step(rows: int, batch_size: int) -> dict:
    """One epoch of ``model.fit`` on ``rows`` preprocessed rows held in memory (the floor)."""
    import numpy as np
    import pyarrow as pa

    from components._shared import model_io
    from components.train import core, data as train_data

    batches, done, index = [], 0, 0
    while done < rows:
        batches.append(bench_training._chunk(index, min(bench_training.CHUNK_ROWS, rows - done)))
        done += batches[-1].num_rows
        index += 1
    table = pa.Table.from_batches(batches).combine_chunks()
    label = "churned"
    kinds = {n: (model_io.CATEGORICAL if pa.types.is_string(table.schema.field(n).type)
                 else model_io.NUMERIC) for n in table.column_names if n != label}
    features = [core.Feature(n, k, "BYTES" if k == model_io.CATEGORICAL else "FLOAT")
                for n, k in kinds.items()]
    batch = table.to_batches()[0]
    raw = model_io.raw_inputs(batch, kinds)
    y = train_data.encode_labels(batch.column(batch.schema.get_field_index(label)),
                                 core.CLASSIFICATION, ["no", "yes"])
    import keras
    import tensorflow as tf

    preprocessor = core._build_preprocessor(features, raw)  # fitted by fit_statistics
    x = preprocessor({k: tf.constant(v) for k, v in raw.items()})
    y = tf.constant(np.asarray(y))
    keras.utils.set_random_seed(7)
    model = core._build_keras_model(preprocessor, core.CLASSIFICATION, 2, [64, 32], 0.0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=False)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
    seconds = time.perf_counter() - start
    return {"rows": rows, "fit_s": seconds, "rows_per_s": rows / seconds}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--interval", type=float, default=0.1, help="RSS sampling period, s")
    p.add_argument("--workdir", default="/tmp/bench_scale")
    p.add_argument("--json", default="")
    p.add_argument("--floor-rows", type=int, default=1_000_000,
                   help="rows of the in-memory floor (0: skip it)")
    p.add_argument("--step", default="", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step == "floor":
        sys.path.insert(0, bench_training.REPO)
        print(json.dumps(floor_step(a.floor_rows, a.batch_size)))
        return 0
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
    floor = None
    if a.floor_rows:
        import _child
        floor = _child.run_step(__file__, "floor", a.workdir,
                                ["--floor-rows", str(a.floor_rows),
                                 "--batch-size", str(a.batch_size)])
        print(f"floor: model.fit on {floor['rows']:,} in-memory preprocessed rows, batch "
              f"{a.batch_size}: {floor['fit_s']:.1f} s, {floor['rows_per_s']:,.0f} rows/s "
              f"(peak {floor['peak_mb']:,.0f} MB); load {open('/proc/loadavg').read().split()[0]}")
        for r in runs:
            train_s = r["tasks"].get("train", {}).get("seconds")
            if train_s:
                rate = 0.8 * r["rows"] / train_s
                print(f"  {r['label']}: train task {rate:,.0f} rows/s (~0.8 x rows / task wall) "
                      f"= {rate / floor['rows_per_s']:.2f}x the floor; input pipeline and fixed "
                      f"costs {100 * (1 - rate / floor['rows_per_s']):.0f} % "
                      f"(goal < 20 %)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"runs": runs, "floor": floor}, f, indent=1)
    print(f"load average at the end: {open('/proc/loadavg').read().strip()}")
    return 0 if all(r["status"] == "SUCCESS" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
