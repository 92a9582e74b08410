"""predict core on real trained models and the bundled serving batch."""
import json
import os

import pandas as pd
import pytest

from kfp_mlops.components.predict import core
from kfp_mlops.components.predict import predictions as fmt
from tests.components.predict.conftest import SERVING_CSV
from tests.conftest import PENGUINS_CSV


def test_scores_every_serving_row_with_the_champion(registry, tmp_path):
    out = str(tmp_path / "predictions")
    result = core.predict(SERVING_CSV, registry, "penguins", out)

    metadata = fmt.read_metadata(out)
    frame = fmt.read_pandas(out)
    serving = pd.read_csv(SERVING_CSV)
    assert len(frame) == len(serving) == 150 == result.rows == metadata["rows"]
    assert list(frame[fmt.ROW_KEY]) == list(range(150))
    classes = metadata["classes"]
    assert sorted(classes) == ["Adelie", "Chinstrap", "Gentoo"]
    assert list(frame.columns) == ([fmt.ROW_KEY, fmt.PREDICTION]
                                   + [fmt.probability_column(c) for c in classes]
                                   + [fmt.MODEL_NAME, fmt.MODEL_VERSION])
    assert set(frame[fmt.MODEL_NAME]) == {"penguins"} and set(frame[fmt.MODEL_VERSION]) == {"1"}
    probabilities = frame[[fmt.probability_column(c) for c in classes]].to_numpy()
    assert probabilities.sum(axis=1) == pytest.approx([1.0] * 150, abs=1e-4)
    # the predicted class is the most probable one
    assert list(frame[fmt.PREDICTION]) == [classes[i] for i in probabilities.argmax(axis=1)]
    # a trained species model tells Gentoo (long flippers) from the others
    gentoo = serving["flipper_length_mm"] > 212
    assert (frame[fmt.PREDICTION][gentoo] == "Gentoo").mean() > 0.8
    assert metadata["task"] == "classification" and metadata["label_column"] == "species"
    assert metadata["key_column"] == fmt.ROW_KEY and metadata["model_version"] == "1"
    assert metadata["input_uri"] == SERVING_CSV and metadata["files"] == ["part-00000.parquet"]
    assert sum(result.class_counts.values()) == 150
    assert sorted(os.listdir(out)) == ["part-00000.parquet", "predictions.json"]


def test_the_input_hash_is_ingests_content_hash(registry, tmp_path):
    from kfp_mlops.components.ingest import core as ingest

    result = core.predict(SERVING_CSV, registry, "penguins", str(tmp_path / "p"))
    ingested = ingest.ingest(SERVING_CSV, str(tmp_path / "d"), split_ratios=(1.0, 0.0, 0.0))
    assert result.metadata["input_content_hash"] == ingested.content_hash


def test_a_key_column_a_label_and_extra_columns(registry, tmp_path):
    frame = pd.read_csv(PENGUINS_CSV).head(40)  # holds the label, species
    frame.insert(0, "penguin_id", [f"p{i:03d}" for i in range(40)])
    frame["note"] = "not a feature"
    source = str(tmp_path / "batch.parquet")
    frame.to_parquet(source)
    out = str(tmp_path / "predictions")
    core.predict(source, registry, "penguins", out, model_version="1",
                 key_column="penguin_id", rows_per_file=15, batch_rows=7)

    metadata = fmt.read_metadata(out)
    assert metadata["key_column"] == "penguin_id"
    assert metadata["files"] == ["part-00000.parquet", "part-00001.parquet",
                                 "part-00002.parquet"]
    written = fmt.read_pandas(out)
    assert list(written["penguin_id"]) == list(frame["penguin_id"])
    assert fmt.ROW_KEY not in written and "species" not in written and "note" not in written
    # the label is not fed: the same rows without it score the same
    out2 = str(tmp_path / "unlabelled")
    frame.drop(columns=["species", "note"]).to_parquet(str(tmp_path / "unlabelled.parquet"))
    core.predict(str(tmp_path / "unlabelled.parquet"), registry, "penguins", out2,
                 key_column="penguin_id")
    again = fmt.read_pandas(out2)
    assert list(again[fmt.PREDICTION]) == list(written[fmt.PREDICTION])
    # the model knew most of its own training rows
    assert (written[fmt.PREDICTION] == frame["species"]).mean() > 0.8


def test_a_regression_model(mass_registry, tmp_path):
    """The mass model takes species; the penguins (with the label, ignored) are scored."""
    out = str(tmp_path / "predictions")
    result = core.predict(PENGUINS_CSV, mass_registry, "mass", out,
                          summary_path=str(tmp_path / "summary.html"))
    frame = fmt.read_pandas(out)
    assert list(frame.columns) == [fmt.ROW_KEY, fmt.PREDICTION, fmt.MODEL_NAME,
                                   fmt.MODEL_VERSION]
    assert frame[fmt.PREDICTION].dtype == "float64" and len(frame) == 344
    assert frame[fmt.PREDICTION].notna().all()
    metadata = fmt.read_metadata(out)
    assert metadata["task"] == "regression" and metadata["classes"] == []
    assert result.value_summary["min"] <= result.value_summary["mean"] <= \
        result.value_summary["max"]
    page = (tmp_path / "summary.html").read_text()
    assert "Predicted values" in page and "<svg" in page and "344 of 344 rows" in page


def test_the_even_sample_stays_bounded_and_even():
    sample = core._EvenSample(limit=100)
    for start in range(0, 1000, 37):
        import numpy as np

        sample.add(np.arange(start, min(start + 37, 1000), dtype=float))
    assert len(sample.values) <= 100 and sample.stride == 16
    assert sample.values == [float(i) for i in range(0, 1000, 16)]


def test_a_missing_feature_is_named_before_anything_is_written(registry, tmp_path):
    pd.read_csv(SERVING_CSV).drop(columns=["flipper_length_mm"]).to_csv(
        tmp_path / "short.csv", index=False)
    out = tmp_path / "predictions"
    with pytest.raises(core.PredictError) as e:
        core.predict(str(tmp_path / "short.csv"), registry, "penguins", str(out))
    message = str(e.value)
    assert "'flipper_length_mm'" in message and "short.csv" in message
    assert "the model takes" in message and "bill_length_mm" in message
    assert not out.exists() and os.listdir(tmp_path) == ["short.csv"]


def test_a_missing_key_column(registry, tmp_path):
    out = tmp_path / "predictions"
    with pytest.raises(core.PredictError, match=r"key_column 'id' not found in .*"
                                                r"penguins_serving\.csv; columns are: island"):
        core.predict(SERVING_CSV, registry, "penguins", str(out), key_column="id")
    assert not out.exists() and not os.listdir(tmp_path)


@pytest.mark.parametrize("name, version, match", [
    ("nope", "champion", "model_name 'nope' is not in the registry"),
    ("penguins", "7", "model_version '7' of model 'penguins' is not in the registry"),
])
def test_unknown_model_or_version(registry, tmp_path, name, version, match):
    with pytest.raises(core.PredictError, match=match):
        core.predict(SERVING_CSV, registry, name, str(tmp_path / "p"), model_version=version)
    assert not os.listdir(tmp_path)


def test_an_empty_batch(registry, tmp_path):
    (tmp_path / "empty.csv").write_text(open(SERVING_CSV).readline())
    with pytest.raises(core.PredictError, match="holds no rows"):
        core.predict(str(tmp_path / "empty.csv"), registry, "penguins", str(tmp_path / "p"))
    assert os.listdir(tmp_path) == ["empty.csv"]


def test_a_failure_half_way_leaves_no_folder(registry, tmp_path, monkeypatch):
    """A batch that fails after parts were written: no predictions folder, no staging."""
    from kfp_mlops.components.predict import predictions

    calls = []
    write = predictions.PredictionsWriter.write

    def failing(self, table):
        calls.append(table.num_rows)
        if len(calls) == 3:
            raise RuntimeError("killed")
        write(self, table)

    source = str(tmp_path / "batch.parquet")
    pd.read_csv(SERVING_CSV).to_parquet(source)
    monkeypatch.setattr(predictions.PredictionsWriter, "write", failing)
    with pytest.raises(RuntimeError, match="killed"):
        core.predict(source, registry, "penguins", str(tmp_path / "p"), batch_rows=20,
                     rows_per_file=20)
    assert len(calls) == 3 and os.listdir(tmp_path) == ["batch.parquet"]


def test_a_folder_without_its_metadata_does_not_read_as_predictions(registry, tmp_path):
    out = str(tmp_path / "p")
    core.predict(SERVING_CSV, registry, "penguins", out)
    os.remove(os.path.join(out, fmt.METADATA_FILE))
    with pytest.raises(fmt.PredictionsError, match="predictions.json is missing"):
        fmt.read_metadata(out)


def test_predictions_json_is_written_by_the_module(registry, tmp_path):
    out = str(tmp_path / "p")
    core.predict(SERVING_CSV, registry, "penguins", out)
    with open(os.path.join(out, fmt.METADATA_FILE)) as f:
        raw = json.load(f)
    assert set(fmt.REQUIRED_METADATA) <= set(raw)
    assert raw["format_version"] == fmt.FORMAT_VERSION and raw["created"]


def test_an_s3_registry_and_an_s3_batch(bucket_on, species_model, schema_for, tmp_path):
    """A folder registry on the loopback S3 server: the model is copied locally to load it."""
    from kfp_mlops.components._shared import io
    from kfp_mlops.components._shared import registry as reg
    from tests.components.predict.conftest import _statistics

    _, bucket = bucket_on("s3")
    registry = f"s3://{bucket}/registry"
    reg.open_registry(registry).register(
        "penguins", species_model.model_dir, schema_for("species"),
        _statistics(str(tmp_path / "statistics")), evaluation={}, lineage={})
    io.put_file(SERVING_CSV, f"s3://{bucket}/batches/serving.csv")
    out = str(tmp_path / "predictions")
    result = core.predict(f"s3://{bucket}/batches/*.csv", registry, "penguins", out)
    assert result.rows == 150 and result.metadata["model_uri"].startswith(f"s3://{bucket}/")
    assert set(fmt.read_pandas(out)[fmt.MODEL_VERSION]) == {"1"}


def test_a_killed_run_leaves_nothing_that_reads_as_predictions(registry, tmp_path):
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    source = str(tmp_path / "batch.parquet")
    pd.read_csv(SERVING_CSV).to_parquet(source)
    out = tmp_path / "out" / "predictions"
    done = subprocess.run([sys.executable, "-m", "tests.components.predict.kill_probe",
                           registry, source, str(out)], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert not out.exists()
    left = list((tmp_path / "out").iterdir())   # the staging folder, hidden, with two parts
    assert len(left) == 1 and left[0].name.startswith(".predictions.partial-")
    assert sorted(os.listdir(left[0])) == ["part-00000.parquet", "part-00001.parquet"]
    with pytest.raises(fmt.PredictionsError, match="predictions.json is missing"):
        fmt.read_metadata(str(left[0]))


def test_a_bigquery_table_is_read_page_by_page(registry, monkeypatch, tmp_path):
    """The BigQuery client (autospec'd) hands the serving rows over in pages of batch_rows;
    the predictions and the input hash are the CSV's."""
    from unittest import mock

    from google.cloud import bigquery
    from pyarrow import csv as pcsv

    table = pcsv.read_csv(SERVING_CSV,
                          convert_options=pcsv.ConvertOptions(strings_can_be_null=True))

    class Rows:
        def to_arrow_iterable(self):
            yield from table.to_batches(max_chunksize=40)

    client = mock.create_autospec(bigquery.Client, instance=True)
    client.list_rows.return_value = Rows()
    factory = mock.Mock(return_value=client)
    monkeypatch.setattr(bigquery, "Client", factory)
    out = str(tmp_path / "bq")
    result = core.predict("bq://my-project.serving.batch_1", registry, "penguins", out,
                          bigquery_project="billing", batch_rows=40, rows_per_file=100)
    factory.assert_called_once_with(project="billing")
    client.list_rows.assert_called_once_with("my-project.serving.batch_1", page_size=40)
    assert result.rows == 150 and result.metadata["files"] == ["part-00000.parquet",
                                                               "part-00001.parquet"]
    from_csv = core.predict(SERVING_CSV, registry, "penguins", str(tmp_path / "csv"))
    assert result.metadata["input_content_hash"] == from_csv.metadata["input_content_hash"]
    assert list(fmt.read_pandas(out)[fmt.PREDICTION]) == \
        list(fmt.read_pandas(str(tmp_path / "csv"))[fmt.PREDICTION])


def test_output_uri_publishes_a_copy_that_reads_as_predictions(registry, tmp_path):
    out, published = str(tmp_path / "predictions"), str(tmp_path / "scores" / "batch-1")
    core.predict(SERVING_CSV, registry, "penguins", out, output_uri=published)
    assert fmt.read_metadata(published) == fmt.read_metadata(out)
    pd.testing.assert_frame_equal(fmt.read_pandas(published), fmt.read_pandas(out))
    # a second batch into the same folder is refused before anything is scored
    again = str(tmp_path / "again")
    with pytest.raises(core.PredictError, match="already holds predictions"):
        core.predict(SERVING_CSV, registry, "penguins", again, output_uri=published)
    assert not os.path.exists(again)
    with pytest.raises(core.PredictError, match="already holds predictions"):
        core.check_settings(output_uri=published)
    with pytest.raises(core.PredictError, match="is for runner 'local'"):
        core.check_settings(runner="vertex", output_uri=str(tmp_path / "x"))


def test_output_uri_on_s3(bucket_on, registry, tmp_path):
    from kfp_mlops.components._shared import io

    _, bucket = bucket_on("s3")
    published = f"s3://{bucket}/scores/batch-1"
    core.predict(SERVING_CSV, registry, "penguins", str(tmp_path / "p"), output_uri=published)
    assert io.listdir(published) == ["part-00000.parquet", "predictions.json"]
    with io.local_copy(published) as local:
        assert fmt.read_metadata(local)["rows"] == 150 and len(fmt.read_pandas(local)) == 150
