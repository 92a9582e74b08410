"""The monitoring report's writer and reader (components/monitor/report.py): what alert and
retrain read is exactly what monitor wrote, and anything else is refused by name."""
import json
import subprocess
import sys

import pytest

from kfp_mlops.components._shared.statistics import FeatureDistance
from kfp_mlops.components.monitor import core, report


def _result(**change):
    skew = [FeatureDistance("island", "L_INFTY", 0.46, 0.3, True),
            FeatureDistance("species", "L_INFTY", None, 0.3, False,
                            "the label: not expected in serving data")]
    finding = report.Finding(report.SKEW, "island", "training-serving skew of feature "
                             "'island': L_INFTY 0.4600 > threshold 0.3", "L_INFTY", 0.46, 0.3)
    fields = dict(
        drift_detected=True, findings=[finding], model_name="penguins", model_ref="champion",
        model_version="1", model_uri="/reg/penguins/1/model", registry_uri="/reg", rows=150,
        batch_splits={"train": 150, "eval": 0}, label_column="species", anomalies=[],
        skew=skew, drift=[], drift_baseline=None, skew_threshold=0.3,
        skew_thresholds={"island": 0.3}, drift_threshold=0.3, drift_thresholds={},
        monitoring_entry="/reg/penguins/1/monitoring/000001-x", monitoring_seq=1,
        run_name="run-1", monitored_at="2024-06-11T00:00:00+00:00", seconds=1.23456)
    fields.update(change)
    return core.MonitorResult(**fields)


def test_written_report_reads_back(tmp_path):
    path = report.write_report(str(tmp_path), _result())
    assert path == str(tmp_path / "report.json")
    read = report.read_report(str(tmp_path))
    assert read == report.read_report(path) == json.load(open(path))
    assert read["kind"] == "kfp-mlops.monitoring-report" and read["version"] == 2
    assert read["drift_detected"] is True
    assert read["reasons"] == ["training-serving skew of feature 'island': L_INFTY 0.4600 > "
                               "threshold 0.3"]
    assert read["findings"] == [{"kind": "skew", "feature": "island", "metric": "L_INFTY",
                                 "value": 0.46, "threshold": 0.3,
                                 "message": read["reasons"][0]}]
    assert read["model"] == {"name": "penguins", "ref": "champion", "version": "1",
                             "uri": "/reg/penguins/1/model", "registry": "/reg",
                             "label_column": "species"}
    assert read["batch"] == {"rows": 150, "splits": {"train": 150, "eval": 0}}
    assert read["skew"]["baseline"] == "registered statistics, split 'train'"
    assert [f["feature"] for f in read["skew"]["features"]] == ["island", "species"]
    assert read["drift"] == {"baseline": None, "measured": False, "default_threshold": 0.3,
                             "thresholds": {}, "features": []}
    assert read["monitoring_seq"] == 1 and read["seconds"] == 1.235
    assert read == _result().to_json()


def test_not_a_report_is_refused_by_name(tmp_path):
    with pytest.raises(report.ReportError, match="is not a monitoring report: report.json is "
                                                 "missing"):
        report.read_report(str(tmp_path))
    (tmp_path / "report.json").write_text(json.dumps({"kind": "kfp-mlops.drift-alert"}))
    with pytest.raises(report.ReportError, match="expected \"kind\": 'kfp-mlops.monitoring"):
        report.read_report(str(tmp_path))
    (tmp_path / "report.json").write_text("[]")
    with pytest.raises(report.ReportError, match="is not a kfp-mlops monitoring report"):
        report.read_report(str(tmp_path / "report.json"))


def test_report_module_is_light():
    """alert and retrain read the report without TensorFlow, TFDV or the monitor's core."""
    script = ("import sys\nfrom kfp_mlops.components.monitor import report\n"
              "heavy = [m for m in ('tensorflow', 'tensorflow_data_validation', 'pandas', "
              "'pyarrow', 'kfp_mlops.components.monitor.core') if m in sys.modules]\n"
              "print(heavy)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
