"""One +inf in a numeric feature: a named anomaly in validate's outputs (feature, count,
split), and a failed run by default (train and evaluate refuse it: their test_infinite.py)."""
import json
import os

import numpy as np
import pytest

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import statistics as tfdv_stats
from kfp_mlops.components.validate import core


def test_infinite_values_are_a_named_anomaly_in_every_output(infinite_dataset, tmp_path, outputs):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    paths = outputs(tmp_path)
    result = core.validate(infinite_dataset, label_column="species", **paths)
    assert not result.passed
    counts = {s: ds.infinite_counts_of(ds.read_table(infinite_dataset, s)).get("bill_length_mm", 0)
              for s in ds.SPLITS}
    assert sum(counts.values()) == 18
    for split, n in counts.items():
        if not n:
            assert "bill_length_mm" not in result.infinite_values.get(split, {})
            continue
        assert result.infinite_values[split] == {"bill_length_mm": n}
        expected = f"{n:,} of {result.rows[split]:,} rows of the {split} split hold +inf or -inf"
        assert any(r.startswith(f"{split}: feature 'bill_length_mm'") and expected in r
                   for r in result.reasons), result.reasons
        diff = anomalies_pb2.Anomalies.FromString(open(os.path.join(
            tfdv_stats.split_dir(paths["anomalies_dir"], split), tfdv_stats.ANOMALIES_FILE),
            "rb").read())
        info = diff.anomaly_info["bill_length_mm"]
        assert info.severity == anomalies_pb2.AnomalyInfo.ERROR
        assert [r.type for r in info.reason] == [anomalies_pb2.AnomalyInfo.FLOAT_TYPE_HAS_INF]
    decision = json.load(open(os.path.join(paths["anomalies_dir"], core.DECISION_FILE)))
    assert decision["passed"] is False and decision["reasons"] == result.reasons
    report = open(paths["report_path"]).read()
    assert "Infinite values" in report and "hold +inf or -inf" in report


def test_statistics_are_untouched_by_the_check(infinite_dataset, tmp_path, outputs):
    """The statistics written are TFDV's own, byte for byte (the count comes from ingest)."""
    paths = outputs(tmp_path)
    core.validate(infinite_dataset, label_column="species", **paths)
    own = core.compute_split_statistics(infinite_dataset, list(ds.SPLITS))
    for split in ds.SPLITS:
        written = open(os.path.join(tfdv_stats.split_dir(paths["statistics_dir"], split),
                                    tfdv_stats.STATS_FILE), "rb").read()
        assert written == own[split].SerializeToString()


def test_dataset_without_recorded_counts_is_counted_by_validate(make_dataset, tmp_path, outputs):
    values = [float(i) for i in range(60)]
    values[3] = float("-inf")
    values[4] = float("nan")  # missing, not an anomaly
    d = make_dataset({"train": {"x": values, "label": [i % 2 for i in range(60)]},
                      "eval": {"x": values[:20], "label": [i % 2 for i in range(20)]}},
                     label_column="label")
    result = core.validate(d, label_column="label", **outputs(tmp_path))
    assert result.infinite_values == {"train": {"x": 1}, "eval": {"x": 1}}
    assert [r for r in result.reasons if "+inf" in r] == [
        "train: feature 'x': Infinite values (1 of 60 rows of the train split hold +inf or -inf "
        "in feature 'x' (NaN counts as missing; inf does not))",
        "eval: feature 'x': Infinite values (1 of 20 rows of the eval split hold +inf or -inf "
        "in feature 'x' (NaN counts as missing; inf does not))"]


def test_nan_alone_is_missing_not_an_anomaly(make_dataset, tmp_path, outputs):
    rng = np.random.default_rng(1)
    values = list(rng.normal(size=200))
    values[10] = float("nan")
    d = make_dataset({"train": {"x": values, "label": [i % 2 for i in range(200)]}},
                     label_column="label")
    result = core.validate(d, label_column="label", **outputs(tmp_path))
    assert result.infinite_values == {}
    assert not any("inf" in r for r in result.reasons)


def test_validate_task_fails_by_default_and_records_reasons(infinite_dataset, tmp_path):
    from kfp.dsl import HTML, Artifact, Dataset, Metrics

    from kfp_mlops.components.validate.component import validate

    outs = {n: c(name=n, uri=str(tmp_path / n), metadata={})
            for n, c in (("statistics", Artifact), ("schema", Artifact), ("anomalies", Artifact),
                         ("metrics", Metrics))}
    outs["report"] = HTML(name="report", uri=str(tmp_path / "report.html"), metadata={})
    data = Dataset(name="dataset", uri=infinite_dataset, metadata={})
    with pytest.raises(RuntimeError, match="hold \\+inf or -inf in feature 'bill_length_mm'"):
        validate.python_func(dataset=data, label_column="species", **outs)
    assert outs["anomalies"].metadata["passed"] is False
    assert any("bill_length_mm" in r for r in outs["anomalies"].metadata["reasons"])
    assert sum(n for c in outs["anomalies"].metadata["infinite_values"].values()
               for n in c.values()) == 18
