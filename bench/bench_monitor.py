"""Benchmark: the monitor's throughput and peak memory against validate's statistics.

For each ``--rows`` value (default 1,000,000 and 3,000,000) it generates a deterministic
serving batch (numeric and categorical columns with missing values; the generator of
bench_statistics.py) straight into a kfp-mlops dataset (Parquet, 64k-row row groups), and a
model version registered from 200,000 training rows of the same generator (validate's real
schema and statistics; a placeholder model folder, which monitoring does not read). Then,
each step in its own child process (peak memory read with ``os.wait4``; imports before the
clock starts):

* validate-stats  ``validate.core.compute_statistics`` of the batch: the baseline, measured
                  in the same run on the same data;
* monitor         ``monitor.core.monitor`` end to end: statistics, SERVING anomalies, skew of
                  every feature, the report (JSON and HTML) and the registry history entry;
* monitor-drift   the same on a second batch, so drift against the first is measured too.

Targets: monitor within 1.5x of validate's statistics time; peak memory flat in rows.

    python bench/bench_monitor.py                       # 1M and 3M rows
    python bench/bench_monitor.py --rows 1000000
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import _child  # bench/_child.py: this folder is on sys.path when a script runs

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_ROWS = 200_000
ROW_GROUP = 65_536


def write_dataset(path: str, rows: int, columns: int, first_chunk: int,
                  drop_label: bool = True) -> None:
    """A kfp-mlops dataset (``train`` split only) of ``rows`` generated rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, HERE)
    from bench_statistics import CHUNK_ROWS, _chunk

    os.makedirs(os.path.join(path, "train"))
    writer, done, index = None, 0, first_chunk
    while done < rows:
        n = min(CHUNK_ROWS, rows - done)
        batch = _chunk(index, n, columns)
        if drop_label:   # serving data: no label
            batch = pa.RecordBatch.from_arrays(batch.columns[1:], batch.schema.names[1:])
        if writer is None:
            writer = pq.ParquetWriter(os.path.join(path, "train", "data.parquet"), batch.schema,
                                      compression="snappy")
            schema = batch.schema
        writer.write_table(pa.Table.from_batches([batch]), row_group_size=ROW_GROUP)
        done += n
        index += 1
    writer.close()
    with open(os.path.join(path, "dataset.json"), "w") as f:
        json.dump({"label_column": "" if drop_label else "label",
                   "columns": {fld.name: str(fld.type) for fld in schema},
                   "splits": {"train": rows, "eval": 0, "test": 0}}, f)


def make_registry(work: str, columns: int) -> str:
    """Registers validate's schema and statistics of TRAIN_ROWS rows as ``bench`` v1."""
    from kfp_mlops.components._shared import registry as reg
    from kfp_mlops.components.validate import core as validate

    train = os.path.join(work, "train_dataset")
    write_dataset(train, TRAIN_ROWS, columns, first_chunk=10_000, drop_label=False)
    out = os.path.join(work, "validate")
    validate.validate(train, f"{out}/statistics", f"{out}/schema", f"{out}/anomalies",
                      f"{out}/report.html", label_column="label")
    model = os.path.join(work, "model")
    os.makedirs(model)
    with open(os.path.join(model, "saved_model.pb"), "wb") as f:
        f.write(b"placeholder")
    root = os.path.join(work, "registry")
    reg.LocalRegistry(root).register("bench", model, f"{out}/schema", f"{out}/statistics", {},
                                     {"model_info": {"label": "label"}})
    return root


# ------------------------------------------------------------------------- child steps

def step_validate_stats(a) -> dict:
    from kfp_mlops.components.validate import core
    import tensorflow_data_validation  # noqa: F401
    from tensorflow_data_validation.statistics import stats_impl  # noqa: F401

    start = time.perf_counter()
    stats = core.compute_statistics(a.dataset, "train", batch_rows=a.batch_rows)
    return {"seconds": time.perf_counter() - start, "rows": stats.datasets[0].num_examples}


def step_monitor(a) -> dict:
    from kfp_mlops.components.monitor import core
    import tensorflow_data_validation  # noqa: F401
    from tensorflow_data_validation.statistics import stats_impl  # noqa: F401

    out = tempfile.mkdtemp(dir=a.workdir)
    start = time.perf_counter()
    result = core.monitor(a.dataset, a.registry, "bench", f"{out}/statistics",
                          f"{out}/drift_report", f"{out}/report.html", batch_rows=a.batch_rows)
    seconds = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "rows": result.rows, "drift_measured": bool(result.drift),
            "features": len(result.skew)}


STEPS = {"validate-stats": step_validate_stats, "monitor": step_monitor,
         "monitor-drift": step_monitor}


def run_child(step: str, a, dataset: str) -> dict:
    result = _child.run_step(__file__, step, a.workdir,
                             ["--batch-rows", str(a.batch_rows), "--dataset", dataset,
                              "--registry", a.registry])
    result["rows_per_s"] = result["rows"] / result["seconds"]
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000])
    p.add_argument("--columns", type=int, default=15)
    p.add_argument("--batch-rows", type=int, default=65_536)
    p.add_argument("--workdir", default="")
    p.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    p.add_argument("--registry", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.step:      # child process
        print(json.dumps(STEPS[a.step](a)))
        return 0

    keep = bool(a.workdir)
    a.workdir = a.workdir or tempfile.mkdtemp(prefix="bench_monitor_")
    os.makedirs(a.workdir, exist_ok=True)
    table = []
    try:
        t = time.perf_counter()
        a.registry = make_registry(os.path.join(a.workdir, "model"), a.columns)
        print(f"registered a model from {TRAIN_ROWS:,} training rows in "
              f"{time.perf_counter() - t:.1f}s; {os.cpu_count()} CPUs; "
              f"batch_rows={a.batch_rows:,}", flush=True)
        for rows in a.rows:
            first = os.path.join(a.workdir, f"serving_{rows}")
            second = os.path.join(a.workdir, f"serving_{rows}_b")
            for path, chunk in ((first, 0), (second, 5_000)):
                shutil.rmtree(path, ignore_errors=True)
                write_dataset(path, rows, a.columns, first_chunk=chunk)
            for step, dataset in (("validate-stats", first), ("monitor", first),
                                  ("monitor-drift", second)):
                r = run_child(step, a, dataset)
                table.append((rows, step, r))
                print(f"  {rows:>11,} rows  {step:<15} {r['seconds']:>8.2f}s "
                      f"{r['rows_per_s']:>12,.0f} rows/s  peak {r['peak_mb']:>7,.0f} MB",
                      flush=True)
            shutil.rmtree(first, ignore_errors=True)
            shutil.rmtree(second, ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(a.workdir, ignore_errors=True)

    print()
    print(f"{'rows':>11} {'step':<15}{'seconds':>9}{'rows/s':>13}{'peak MB':>9}{'vs stats':>10}")
    base = {rows: r["seconds"] for rows, step, r in table if step == "validate-stats"}
    for rows, step, r in table:
        print(f"{rows:>11,} {step:<15}{r['seconds']:>9.2f}{r['rows_per_s']:>13,.0f}"
              f"{r['peak_mb']:>9,.0f}{r['seconds'] / base[rows]:>9.2f}x")
    print()
    for rows in base:
        mon = [r for n, s, r in table if n == rows and s.startswith("monitor")]
        worst = max(r["seconds"] for r in mon) / base[rows]
        print(f"{rows:,} rows: monitor takes {worst:.2f}x validate's statistics time "
              f"(target <= 1.5x)")
    peaks = {rows: max(r["peak_mb"] for n, s, r in table if n == rows and
                       s.startswith("monitor")) for rows in base}
    if len(peaks) > 1:
        lo, hi = min(peaks), max(peaks)
        print(f"monitor peak memory: {peaks[lo]:,.0f} MB at {lo:,} rows, {peaks[hi]:,.0f} MB "
              f"at {hi:,} rows ({peaks[hi] / peaks[lo]:.2f}x for {hi / lo:.0f}x the rows; "
              "target: flat)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
