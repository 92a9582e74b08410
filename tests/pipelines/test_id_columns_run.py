"""A training run on data with a name unique per row and a row number: both kept out of the
model, and the printed summary, the model's metadata and the registry say why (kfp.local)."""
import csv
import json

import pytest

from kfp_mlops.components._shared import registry as reg
from tests.conftest import PENGUINS_CSV
from tests.pipelines.test_local_run import run_cli

pytestmark = pytest.mark.slow


def test_an_id_column_is_kept_out_with_a_visible_reason(tmp_path):
    data = tmp_path / "penguins_with_ids.csv"
    with open(PENGUINS_CSV, newline="") as src, open(data, "w", newline="") as dst:
        rows = list(csv.reader(src))
        writer = csv.writer(dst)
        writer.writerow(["row_id", "name", *rows[0]])
        for i, row in enumerate(rows[1:]):
            writer.writerow([i, f"penguin no. {i:04d}", *row])
    registry = str(tmp_path / "registry")
    summary_path = tmp_path / "summary.json"
    result = run_cli("run", "training", "--local", "--param", f"data_uri={data}",
                     "--param", "label_column=species", "--param", "model_name=penguins",
                     "--param", f"registry_uri={registry}", "--param", "epochs=3",
                     "--output-dir", str(tmp_path / "out"), "--summary-json", str(summary_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    tasks = {t["name"]: t for t in json.loads(summary_path.read_text())["tasks"]}

    # the printed summary: the decision and its reasons
    decisions = result.stdout[result.stdout.index("Decisions:"):]
    assert "  validate: kept out of the model: 'row_id', 'name'\n" in decisions
    assert "      - row_id: ID-like: " in decisions and "a row number" in decisions
    assert "      - name: ID-like: " in decisions and "distinct values in" in decisions
    assert "  train: kept out of the model" not in decisions   # said once

    # the schema, the model and the registered version record it
    schema_meta = tasks["validate"]["outputs"]["schema"]["metadata"]
    kept = schema_meta["kept_out_features"]
    assert sorted(kept) == ["name", "row_id"]
    model_meta = tasks["train"]["outputs"]["model"]["metadata"]
    assert model_meta["kept_out_features"] == kept
    assert "row_id" not in model_meta["features"] and "name" not in model_meta["features"]
    assert "island" in model_meta["features"]
    version = reg.LocalRegistry(registry).resolve("penguins", "champion")
    assert version.lineage["model_info"]["kept_out_features"] == kept
    assert {f["name"] for f in version.lineage["model_info"]["features"]}.isdisjoint(kept)
