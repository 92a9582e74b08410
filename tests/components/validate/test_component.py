"""The validate shell through ``validate.python_func`` with real KFP artifact objects."""
import json
import os
import sys

import pytest
from kfp.dsl import HTML, Artifact, Dataset, Metrics

from kfp_mlops.components.validate.component import validate


def _artifacts(tmp_path, dataset_dir):
    return dict(
        dataset=Dataset(name="dataset", uri=dataset_dir, metadata={}),
        statistics=Artifact(name="statistics", uri=str(tmp_path / "statistics"), metadata={}),
        schema=Artifact(name="schema", uri=str(tmp_path / "schema"), metadata={}),
        anomalies=Artifact(name="anomalies", uri=str(tmp_path / "anomalies"), metadata={}),
        report=HTML(name="report", uri=str(tmp_path / "report.html"), metadata={}),
        metrics=Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={}),
    )


def test_importing_the_component_needs_only_kfp():
    import subprocess

    code = ("import sys, kfp_mlops.components.validate.component as c; "
            "heavy = [m for m in ('tensorflow', 'tensorflow_data_validation', 'pyarrow', "
            "'pandas', 'apache_beam') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_penguins_outputs_metrics_and_metadata(penguins_dataset, tmp_path):
    import tensorflow_data_validation as tfdv

    a = _artifacts(tmp_path, penguins_dataset)
    out = validate.python_func(**a, label_column="species")
    assert out.passed is True

    for split in ("train", "eval", "test"):
        stats = tfdv.load_stats_binary(os.path.join(a["statistics"].path, f"Split-{split}",
                                                    "FeatureStats.pb"))
        assert stats.datasets[0].num_examples == a["statistics"].metadata["rows"][split]
    schema = tfdv.load_schema_text(os.path.join(a["schema"].path, "schema.pbtxt"))
    assert len(schema.feature) == a["schema"].metadata["feature_count"] == 8
    assert a["schema"].metadata["source"] == "inferred"
    assert a["statistics"].metadata["split_names"] == ["train", "eval", "test"]
    assert a["anomalies"].metadata["passed"] is True and a["anomalies"].metadata["reasons"] == []
    assert a["anomalies"].metadata["max_skew_feature"] in {f.name for f in schema.feature}
    assert os.path.isfile(a["report"].path)
    assert "PASSED" in open(a["report"].path).read()

    m = a["metrics"].metadata
    assert m["anomaly_count"] == 0 and m["skewed_feature_count"] == 0 and m["passed"] == 1
    assert 0 < m["max_skew"] < 0.3
    assert m["rows_train"] + m["rows_eval"] + m["rows_test"] == 344
    assert all(isinstance(v, (int, float)) for v in m.values())


@pytest.fixture
def skewed_dataset(make_dataset):
    train = {"color": ["red", "blue"] * 50, "label": [0, 1] * 50}
    evaluation = {"color": ["red", "green"] * 50, "label": [0, 1] * 50}
    return make_dataset({"train": train, "eval": evaluation}, label_column="label")


def test_fail_on_anomalies_raises_after_writing_outputs(skewed_dataset, tmp_path):
    a = _artifacts(tmp_path, skewed_dataset)
    with pytest.raises(RuntimeError) as info:
        validate.python_func(**a)
    message = str(info.value)
    assert "failed validation" in message and "'color'" in message and "green" in message
    decision = json.load(open(os.path.join(a["anomalies"].path, "decision.json")))
    assert decision["passed"] is False and decision["reasons"]
    assert a["anomalies"].metadata["reasons"] == decision["reasons"]
    assert a["metrics"].metadata["anomaly_count"] == 1
    assert os.path.isfile(a["report"].path)


def test_without_fail_on_anomalies_records_and_returns_false(skewed_dataset, tmp_path):
    a = _artifacts(tmp_path, skewed_dataset)
    out = validate.python_func(**a, fail_on_anomalies=False,
                               skew_thresholds={"color": 0.9, "label": 0.9})
    assert out.passed is False
    assert a["anomalies"].metadata["passed"] is False
    reasons = a["anomalies"].metadata["reasons"]
    assert len(reasons) == 1 and reasons[0].startswith("eval: feature 'color'")
    assert a["metrics"].metadata["passed"] == 0


def test_curated_schema_file_or_folder(penguins_dataset, tmp_path):
    first = _artifacts(tmp_path / "first", penguins_dataset)
    validate.python_func(**first)
    second = _artifacts(tmp_path / "second", penguins_dataset)
    folder = first["schema"].path  # a reviewed schema output of an earlier run
    assert validate.python_func(**second, schema_uri=folder).passed
    assert second["schema"].metadata["source"] == os.path.join(folder, "schema.pbtxt")
    third = _artifacts(tmp_path / "third", penguins_dataset)
    uri = os.path.join(folder, "schema.pbtxt")
    assert validate.python_func(**third, schema_uri=uri).passed
    assert third["schema"].metadata["source"] == uri
    fourth = _artifacts(tmp_path / "fourth", penguins_dataset)
    with pytest.raises(Exception, match="no-such-schema"):
        validate.python_func(**fourth, schema_uri=str(tmp_path / "no-such-schema.pbtxt"))
    assert not os.path.exists(fourth["statistics"].path)
