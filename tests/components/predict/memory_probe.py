"""Run as a process by test_streaming.py: the peak RSS growth of one scoring run.

The peak is sampled from ``/proc/self/statm`` every 5 ms by a thread while the run goes on
(``ru_maxrss`` alone would hide a run's peak below the model load's), from the resident
set just before the run.

``python -m tests.components.predict.memory_probe REGISTRY SOURCE OUT ROWS MODE`` writes
``{"growth_kb": ...}`` to stdout. Before measuring, the model is loaded and a small batch of
the same rows is scored (TensorFlow's graphs, pools and arenas are warm), so the growth is
what scoring ``ROWS`` more rows costs. MODE ``predict`` scores the whole source; MODE
``hold`` reads it into one pandas DataFrame and keeps it (the control: what memory that
grows with the rows looks like to this measurement).
"""
import json
import os
import resource
import sys
import threading

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_KB


class PeakSampler(threading.Thread):
    """The largest resident set seen while running (sampled every 5 ms)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = rss_kb()
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.005):
            self.peak = max(self.peak, rss_kb())

    def stop(self) -> int:
        self.done.set()
        self.join()
        return max(self.peak, rss_kb())


def main(registry: str, source: str, out: str, mode: str) -> None:
    import pyarrow.parquet as pq

    from kfp_mlops.components.predict import core

    warm = out + ".warm.parquet"
    pq.write_table(pq.ParquetFile(source).read_row_groups([0, 1]), warm)
    core.predict(warm, registry, "penguins", out + ".warm")
    import gc

    gc.collect()
    before = rss_kb()
    sampler = PeakSampler()
    sampler.start()
    if mode == "predict":
        core.predict(source, registry, "penguins", out)
        kept = None
    else:
        import pandas as pd

        kept = pd.read_parquet(source)
    growth = sampler.stop() - before
    sys.stdout.write(json.dumps({"growth_kb": growth, "before_kb": before,
                                 "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                 "kept": 0 if kept is None else len(kept)}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
