"""Monitoring history (``registry/monitoring.py``) of a folder registry's version, on every
store; Vertex AI's, in the companion folder, is in test_vertex.py."""
import os

import pytest

from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import registry as reg
from tests.components._shared.registry.conftest import register


def test_monitoring_history(store, parts, tmp_path):
    registry = reg.open_registry(store)
    register(registry, parts, "model_a")
    stats_file = os.path.join(parts["statistics"], "Split-eval", "FeatureStats.pb")
    first = registry.record_monitoring("penguins", 1, {"drift": False, "anomalies": []},
                                       stats_file)
    second = reg.record_monitoring(store, "penguins", "champion",
                                   {"drift": True, "anomalies": ["x"]}, parts["statistics"])
    third = registry.record_monitoring("penguins", 1, {"drift": False}, "")
    assert first.startswith(io.join(store, "penguins", "versions", "1", "monitoring", "000001-"))
    history = registry.monitoring_history("penguins", 1)
    assert [h["seq"] for h in history] == [1, 2, 3]
    assert [h["drift"] for h in history] == [False, True, False]
    assert [h["entry"] for h in history] == [first, second, third]
    assert io.isfile(io.join(history[0]["statistics_path"], "FeatureStats.pb"))
    assert io.isfile(io.join(history[1]["statistics_path"], "Split-train", "FeatureStats.pb"))
    assert history[2]["statistics_path"] == ""
    assert history[0]["recorded_at"] < history[1]["recorded_at"]
    with pytest.raises(reg.RegistryError, match="statistics_path .* does not exist"):
        registry.record_monitoring("penguins", 1, {}, str(tmp_path / "missing.pb"))
    assert len(reg.monitoring_history(store, "penguins", 1)) == 3
    # an entry being written (claimed, no record) is not listed, and a stale one is abandoned
    folder = io.join(store, "penguins", "versions", "1", "monitoring")
    assert io.create_exclusive(io.join(folder, "claims", "000004.json"),
                               b'{"entry": "000004-x"}')
    io.write_json(io.join(folder, "000004-x", "statistics", "a.json"), {})
    assert len(registry.monitoring_history("penguins", 1)) == 3
    reg.FolderRegistry(store, stale_after=0).record_monitoring("penguins", 1, {"drift": 1})
    assert [h["seq"] for h in registry.monitoring_history("penguins", 1)] == [1, 2, 3, 5]
    assert io.listdir(io.join(folder, "000004-x")) == ["record.json"]
