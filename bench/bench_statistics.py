"""Benchmark: validate's statistics vs TFDV's Beam DirectRunner CSV path vs a pyarrow floor.

Generates deterministic, realistic data (numeric and categorical columns with missing
values) as CSV and as a kfp-mlops dataset (ingest core), then measures in one run, each
step in its own child process (so its peak memory is its own, read with ``os.wait4``):

* ingest            CSV -> dataset (Parquet splits), for its peak memory;
* validate-stats    ``validate.core.compute_split_statistics`` of every split (the
                    throughput that matters: TFDV's combiners over streamed Parquet batches);
* validate-full     ``validate.core.validate`` end to end (statistics, schema, anomalies,
                    skew, report);
* tfdv-beam-csv     ``tfdv.generate_statistics_from_csv`` on Beam's DirectRunner, on the
                    first ``--beam-rows`` rows only (it is slow; its rows/s is what we compare);
* pyarrow-floor     per-column min/max/mean/null count streamed from the same Parquet with
                    ``pyarrow.compute``: a floor no statistics pass can beat by much.

Times exclude interpreter start-up and imports (each child imports first, then times).
The read-only steps (validate-stats and both floors) run ``--repeat`` times in their child;
their median time counts, and every run's time is printed.

    python bench/bench_statistics.py --rows 1000000
    python bench/bench_statistics.py --rows 10000000 --skip-beam
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

CHUNK_ROWS = 250_000
SEED = 20240601


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------

def _chunk(index: int, rows: int, columns: int):
    """One deterministic chunk: label + numeric (float, int) + categorical columns."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(SEED + index)
    arrays, names = [], []
    for c in range(columns):
        if c == 0:
            names.append("label")
            arrays.append(pa.array(np.where(rng.random(rows) < 0.3, "churned", "stayed")))
            continue
        kind = c % 3
        missing = rng.random(rows) < (0.02 + 0.01 * (c % 5))
        if kind == 1:
            names.append(f"num_{c}")
            values = rng.lognormal(mean=c % 4, sigma=0.8, size=rows)
            arrays.append(pa.array(np.round(values, 3), mask=missing))
        elif kind == 2:
            names.append(f"int_{c}")
            arrays.append(pa.array(rng.poisson(3 + c, size=rows), mask=missing))
        else:
            names.append(f"cat_{c}")
            cardinality = [4, 20, 150, 1000][c % 4]
            weights = 1.0 / np.arange(1, cardinality + 1)      # Zipf-like frequencies
            codes = rng.choice(cardinality, size=rows, p=weights / weights.sum())
            vocabulary = np.array([f"{names[-1]}_v{i}" for i in range(cardinality)])
            arrays.append(pa.array(vocabulary[codes], mask=missing))
    return pa.RecordBatch.from_arrays(arrays, names)


def make_csv(path: str, rows: int, columns: int) -> None:
    import pyarrow.csv as pcsv

    writer = None
    done, index = 0, 0
    while done < rows:
        n = min(CHUNK_ROWS, rows - done)
        batch = _chunk(index, n, columns)
        if writer is None:
            writer = pcsv.CSVWriter(path, batch.schema)
        writer.write_batch(batch)
        done += n
        index += 1
    writer.close()


# ------------------------------------------------------------------------------------------
# Steps (each runs in a child process)
# ------------------------------------------------------------------------------------------

def step_ingest(a) -> dict:
    from kfp_mlops.components.ingest import core as ingest  # noqa: F401  (import first)
    import pyarrow  # noqa: F401

    start = time.perf_counter()
    result = ingest.ingest(a.csv, a.dataset, label_column="label")
    return {"seconds": time.perf_counter() - start, "rows": sum(result.split_rows.values())}


def _repeated(run, times: int) -> dict:
    """Runs ``run() -> rows`` ``times`` times in this process; the median time counts.

    Used for the steps that only read (validate's statistics and the floors), so that each
    ratio compares medians rather than two single runs on a noisy machine. The first run
    pays the process's one-time costs (a fresh process is what a pipeline task is), and is
    one of the runs the median is taken from.
    """
    import statistics

    seconds, rows = [], 0
    for _ in range(max(1, times)):
        start = time.perf_counter()
        rows = run()
        seconds.append(time.perf_counter() - start)
    return {"seconds": statistics.median(seconds), "runs": seconds, "rows": rows}


def step_validate_stats(a) -> dict:
    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components.validate import core
    import tensorflow_data_validation  # noqa: F401
    from tensorflow_data_validation.statistics import stats_impl  # noqa: F401

    def run():
        stats = core.compute_split_statistics(a.dataset, ds.available_splits(a.dataset),
                                              batch_rows=a.batch_rows)
        return sum(s.datasets[0].num_examples for s in stats.values())

    return _repeated(run, a.repeat)


def step_validate_full(a) -> dict:
    from kfp_mlops.components.validate import core
    import tensorflow_data_validation  # noqa: F401

    out = tempfile.mkdtemp(dir=a.workdir)
    start = time.perf_counter()
    result = core.validate(a.dataset, f"{out}/statistics", f"{out}/schema", f"{out}/anomalies",
                           f"{out}/report.html", batch_rows=a.batch_rows)
    seconds = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "rows": sum(result.rows.values()), "passed": result.passed}


def step_beam(a) -> dict:
    import tensorflow_data_validation as tfdv
    from apache_beam.options.pipeline_options import PipelineOptions

    start = time.perf_counter()
    stats = tfdv.generate_statistics_from_csv(
        a.beam_csv, output_path=os.path.join(a.workdir, "beam_stats.tfrecord"),
        pipeline_options=PipelineOptions(["--runner=DirectRunner"]))
    return {"seconds": time.perf_counter() - start, "rows": int(stats.datasets[0].num_examples)}


def _floor_scan(batches) -> int:
    """Per-column null count, min, max and mean of record batches: the floor's work."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = 0
    acc = {}
    for batch in batches:
        rows += batch.num_rows
        for name, col in zip(batch.schema.names, batch.columns):
            s = acc.setdefault(name, {"nulls": 0, "min": None, "max": None, "sum": 0.0,
                                      "count": 0})
            s["nulls"] += col.null_count
            if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
                mm = pc.min_max(col)
                lo, hi = mm["min"].as_py(), mm["max"].as_py()
                if lo is not None:
                    s["min"] = lo if s["min"] is None else min(lo, s["min"])
                    s["max"] = hi if s["max"] is None else max(hi, s["max"])
                s["sum"] += pc.sum(col).as_py() or 0.0
                s["count"] += pc.count(col).as_py()
            else:
                pc.min_max(col)
                s["count"] += pc.count(col).as_py()
    for s in acc.values():
        s["mean"] = s["sum"] / s["count"] if s["count"] else None
    return rows


def step_floor(a) -> dict:
    """The floor on validate's own input: the dataset's Parquet splits."""
    import pyarrow.parquet as pq
    from kfp_mlops.components._shared import dataset as ds

    def run():
        return sum(_floor_scan(pq.ParquetFile(ds.split_path(a.dataset, split)).iter_batches(
            batch_size=a.batch_rows)) for split in ds.available_splits(a.dataset))

    return _repeated(run, a.repeat)


def step_floor_csv(a) -> dict:
    """The floor on the source CSV (the scan TFDV's CSV path and ingest start from)."""
    from pyarrow import csv as pcsv

    def run():
        return _floor_scan(pcsv.open_csv(
            a.csv, convert_options=pcsv.ConvertOptions(strings_can_be_null=True)))

    return _repeated(run, a.repeat)


STEPS = {"ingest": step_ingest, "validate-stats": step_validate_stats,
         "validate-full": step_validate_full, "tfdv-beam-csv": step_beam,
         "pyarrow-floor": step_floor, "pyarrow-floor-csv": step_floor_csv}


def run_child(step: str, a) -> dict:
    """Runs one step in a fresh interpreter; returns its result and its own peak RSS."""
    return _child.run_step(__file__, step, a.workdir, ["--batch-rows", str(a.batch_rows),
                                                       "--repeat", str(a.repeat)])


# ------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--columns", type=int, default=15)
    p.add_argument("--beam-rows", type=int, default=100_000,
                   help="rows the (slow) Beam DirectRunner baseline reads; its rows/s is compared")
    p.add_argument("--skip-beam", action="store_true")
    p.add_argument("--batch-rows", type=int, default=65_536)
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each read-only step (statistics, floors); the median counts")
    p.add_argument("--workdir", default="", help="keep data here (default: a temporary folder)")
    p.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.step:      # child process
        a.csv = os.path.join(a.workdir, "data.csv")
        a.beam_csv = os.path.join(a.workdir, "beam.csv")
        a.dataset = os.path.join(a.workdir, "dataset")
        print(json.dumps(STEPS[a.step](a)))
        return 0

    keep = bool(a.workdir)
    a.workdir = a.workdir or tempfile.mkdtemp(prefix="bench_statistics_")
    os.makedirs(a.workdir, exist_ok=True)
    for name in ("dataset", "data.csv", "beam.csv"):
        path = os.path.join(a.workdir, name)
        shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else (
            os.path.exists(path) and os.remove(path))
    try:
        t = time.perf_counter()
        make_csv(os.path.join(a.workdir, "data.csv"), a.rows, a.columns)
        if not a.skip_beam:
            make_csv(os.path.join(a.workdir, "beam.csv"), min(a.beam_rows, a.rows), a.columns)
        print(f"data: {a.rows:,} rows x {a.columns} columns "
              f"({os.path.getsize(os.path.join(a.workdir, 'data.csv')) / 1e6:,.0f} MB CSV), "
              f"generated in {time.perf_counter() - t:.1f}s; batch_rows={a.batch_rows:,}; "
              f"{os.cpu_count()} CPUs", flush=True)
        order = ["ingest", "validate-stats", "validate-full", "pyarrow-floor", "pyarrow-floor-csv"]
        if not a.skip_beam:
            order.append("tfdv-beam-csv")
        results = {}
        for step in order:
            results[step] = r = run_child(step, a)
            r["rows_per_s"] = r["rows"] / r["seconds"]
            runs = (" (runs: " + ", ".join(f"{x:.2f}" for x in r["runs"]) + ")"
                    if len(r.get("runs", ())) > 1 else "")
            print(f"  {step:<15} {r['rows']:>11,} rows {r['seconds']:>8.2f}s "
                  f"{r['rows_per_s']:>12,.0f} rows/s  peak {r['peak_mb']:>7,.0f} MB{runs}",
                  flush=True)
    finally:
        if not keep:
            shutil.rmtree(a.workdir, ignore_errors=True)

    ours = results["validate-stats"]["rows_per_s"]
    print()
    print(f"{'step':<16}{'rows':>12}{'seconds':>10}{'rows/s':>13}{'peak MB':>10}")
    for step, r in results.items():
        print(f"{step:<16}{r['rows']:>12,}{r['seconds']:>10.2f}{r['rows_per_s']:>13,.0f}"
              f"{r['peak_mb']:>10,.0f}")
    print()
    floor = results["pyarrow-floor"]["rows_per_s"]
    print(f"validate statistics vs pyarrow floor on the same Parquet: {floor / ours:.2f}x "
          "slower than the floor (target <= ~3x)")
    from_csv = results["ingest"]["seconds"] + results["validate-stats"]["seconds"]
    csv_floor = results["pyarrow-floor-csv"]["seconds"]
    print(f"from the source CSV, ingest + validate statistics ({from_csv:.2f}s) vs the pyarrow "
          f"floor on the CSV ({csv_floor:.2f}s): {from_csv / csv_floor:.2f}x")
    if "tfdv-beam-csv" in results:
        beam = results["tfdv-beam-csv"]
        print(f"validate statistics vs TFDV Beam DirectRunner CSV: {ours / beam['rows_per_s']:.1f}x"
              f" faster (target >= 10x; Beam measured on {beam['rows']:,} rows)")
    print(f"peak memory: ingest {results['ingest']['peak_mb']:,.0f} MB, validate statistics "
          f"{results['validate-stats']['peak_mb']:,.0f} MB, validate end to end "
          f"{results['validate-full']['peak_mb']:,.0f} MB (target < 1024 MB, flat in rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
