"""Monitoring follows champion: after a rollback, monitor (and so the monitoring pipeline,
which passes the alias ``champion``, not a number) records against the version rolled back to."""
import os

from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components._shared.registry import operations
from kfp_mlops.components.monitor import core
from tests.components.monitor.conftest import SERVING_CSV


def test_monitor_after_a_rollback_records_against_the_rolled_back_to_version(
        registry, batch, outputs, tmp_path):
    store = reg.open_registry(registry)
    first = store.resolve("penguins", "champion")
    assert first.version == 1
    # version 2: other model bytes, the same schema and baseline, made champion as push does
    model = tmp_path / "model_2"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"version 2")
    second = store.register("penguins", str(model), os.path.dirname(first.schema_path),
                            first.statistics_dir, {}, {"pipeline_run": "training-2"},
                            aliases=())
    store.compare_and_set_alias("penguins", "champion", second.version, 1, by="training-2",
                                reason="blessed", operation="push")
    assert store.resolve("penguins").version == 2

    done = operations.rollback(store, "penguins", reason="v2 misclassifies Gentoo",
                               by="oncall@desk")
    assert (done["from"], done["to"]) == ("2", "1")

    result = core.monitor(batch(SERVING_CSV, "serving"), registry, "penguins", **outputs(),
                          run_name="monitoring-after-rollback")
    assert (result.model_ref, result.model_version) == ("champion", "1")
    assert [h["run_name"] for h in reg.monitoring_history(registry, "penguins", 1)] == [
        "monitoring-after-rollback"]
    assert reg.monitoring_history(registry, "penguins", 2) == []


def test_the_monitoring_pipeline_watches_the_alias_not_a_number():
    from kfp_mlops.pipelines.monitoring import monitoring

    inputs = monitoring.component_spec.inputs
    assert inputs["model_version"].default == "champion"
