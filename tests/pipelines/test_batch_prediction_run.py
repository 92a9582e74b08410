"""The batch-prediction pipeline run with kfp.local against a registry a training run made.

The training pipeline trains ``penguins`` into a temporary registry once (the monitoring
run's module fixture, reused); batch-prediction then scores the bundled serving batch with
the champion, and fails before writing anything for a missing key column.
"""
import os

import pytest

from kfp_mlops.components.predict import predictions as fmt
from kfp_mlops.pipelines import local
from tests.pipelines.test_launcher_contract import assert_run_passes_the_contract
from tests.pipelines.test_monitoring_run import SERVING_CSV, trained  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def test_scores_the_serving_batch_with_the_champion(trained):  # noqa: F811
    out = trained["root"] / "batch_prediction"
    summary = local.run("batch-prediction", {"data_uri": SERVING_CSV, "model_name": "penguins",
                                             "registry_uri": trained["registry"]}, str(out))
    assert summary.status == "SUCCESS", local.format_summary(summary)
    assert [t.name for t in summary.tasks] == ["predict"]
    task = summary.tasks[0].outputs
    assert task["rows"] == 150 and task["model_version"] == "1"
    artifact = task["predictions"]
    assert artifact["metadata"]["rows"] == 150 and artifact["metadata"]["model_version"] == "1"
    folder = artifact["uri"]
    frame = fmt.read_pandas(folder)
    assert len(frame) == 150 and list(frame[fmt.ROW_KEY]) == list(range(150))
    assert set(frame[fmt.MODEL_VERSION]) == {"1"} and set(frame[fmt.MODEL_NAME]) == {"penguins"}
    assert fmt.read_metadata(folder)["input_uri"] == SERVING_CSV
    assert_run_passes_the_contract("batch-prediction", out, ["predict"])


def test_a_missing_key_column_fails_the_run_writing_nothing(trained):  # noqa: F811
    out = trained["root"] / "no_key"
    summary = local.run("batch-prediction", {"data_uri": SERVING_CSV, "model_name": "penguins",
                                             "registry_uri": trained["registry"],
                                             "key_column": "penguin_id"}, str(out))
    assert summary.status == "FAILURE"
    assert "key_column 'penguin_id' not found" in local.format_summary(summary)
    written = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files
               if f.endswith((".parquet", fmt.METADATA_FILE))]
    assert written == []
