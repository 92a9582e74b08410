"""Memory does not grow with the rows scored: a real measurement of peak RSS in a process.

Each run scores a generated Parquet batch (the serving rows repeated) in its own process
after a warm-up; the growth of the peak resident set (sampled, see memory_probe.py) while scoring 4N rows
must stay within a fixed allowance of the growth while scoring N rows. The control run,
holding the 4N rows in one DataFrame, shows the measurement sees rows kept in memory.
"""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from kfp_mlops.components.predict import predictions as fmt
from tests.components.predict.conftest import SERVING_CSV
from tests.conftest import ROOT

N = 100_000
ALLOWANCE_KB = 12 << 10  # 12 MiB: allocator noise, far below a copy of 3N rows (~35 MiB)


def _batch(path: str, rows: int) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    serving = pd.read_csv(SERVING_CSV)
    table = pa.Table.from_pandas(
        pd.concat([serving] * (rows // len(serving) + 1), ignore_index=True).head(rows),
        preserve_index=False)
    pq.write_table(table, path, row_group_size=8192)
    return path


def _growth(registry, source, out, mode="predict") -> int:
    done = subprocess.run(
        [sys.executable, "-m", "tests.components.predict.memory_probe", registry, source, out,
         mode], cwd=str(ROOT), capture_output=True, text=True, timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["growth_kb"]


@pytest.mark.timeout(1800)
def test_peak_memory_stays_flat_from_n_to_4n_rows(registry, tmp_path):
    small = _batch(str(tmp_path / "n.parquet"), N)
    large = _batch(str(tmp_path / "4n.parquet"), 4 * N)
    growth_n = _growth(registry, small, str(tmp_path / "p_n"))
    growth_4n = _growth(registry, large, str(tmp_path / "p_4n"))
    held = _growth(registry, large, str(tmp_path / "p_hold"), mode="hold")

    assert fmt.read_metadata(str(tmp_path / "p_4n"))["rows"] == 4 * N
    assert len(fmt.read_metadata(str(tmp_path / "p_4n"))["files"]) == 4
    # the control: four N rows kept in memory cost far more than the allowance
    print("growth KiB: N", growth_n, "4N", growth_4n, "4N held", held)
    assert held > 2 * ALLOWANCE_KB, held
    assert growth_4n <= growth_n + ALLOWANCE_KB, (growth_n, growth_4n, held)
