"""Helpers for validate tests: small dataset artifacts written directly with pyarrow."""
import json
import os
from typing import Dict, Optional

import pytest


def write_dataset(root: str, splits: Dict[str, Dict[str, list]], label_column: str = "",
                  types: Optional[Dict[str, object]] = None) -> str:
    """Writes a kfp-mlops dataset dir: ``dataset.json`` and ``<split>/data.parquet``.

    ``splits`` maps a split name to columns (name -> Python values, None for missing).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = types or {}
    info_columns, rows = {}, {}
    for split, columns in splits.items():
        table = pa.table({name: pa.array(values, type=types.get(name))
                          for name, values in columns.items()})
        os.makedirs(os.path.join(root, split))
        pq.write_table(table, os.path.join(root, split, "data.parquet"))
        rows[split] = table.num_rows
        info_columns.update({f.name: str(f.type) for f in table.schema})
    with open(os.path.join(root, "dataset.json"), "w") as f:
        json.dump({"label_column": label_column, "columns": info_columns, "splits": rows}, f)
    return root


@pytest.fixture
def make_dataset(tmp_path):
    """``make_dataset(splits, label_column="", types=None, name="dataset") -> dataset dir``."""
    def make(splits, label_column="", types=None, name="dataset"):
        return write_dataset(str(tmp_path / name), splits, label_column, types)
    return make


def output_paths(tmp_path, prefix: str = "") -> Dict[str, str]:
    """Output locations for ``core.validate`` under ``tmp_path``."""
    return {"statistics_dir": str(tmp_path / f"{prefix}statistics"),
            "schema_dir": str(tmp_path / f"{prefix}schema"),
            "anomalies_dir": str(tmp_path / f"{prefix}anomalies"),
            "report_path": str(tmp_path / f"{prefix}report" / "report.html")}


@pytest.fixture(scope="session")
def outputs():
    """``outputs(folder, prefix="")`` -> the output keyword arguments of ``core.validate``."""
    return output_paths
