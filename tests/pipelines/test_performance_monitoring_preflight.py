"""The performance-monitoring pipeline's parameters are checked before its first task."""
from kfp_mlops.pipelines import preflight

REQUIRED = {"predictions_uri": "predictions", "labels_uri": "labels.csv",
            "registry_uri": "local_registry"}


def test_valid_parameters_pass():
    assert preflight.problems("performance-monitoring", {
        **REQUIRED, "max_degradation": {"accuracy": 0.1}, "retrain_on_degradation": True,
        "retrain_data_uri": "pipelines/data/penguins.csv", "label_column": "species",
        "model_name": "penguins"}) == []


def test_every_problem_is_named_at_once():
    found = preflight.problems("performance-monitoring", {
        **REQUIRED, "max_degradation": {"rmsee": -1}, "min_rows": 0,
        "webhook_url": "not a url", "retrain_on_degradation": True})
    assert any("max_degradation names metric(s) ['rmsee'] that no evaluation computes" in p
               for p in found)
    assert "max_degradation['rmsee']=-1: expected a finite number >= 0" in found
    assert "min_rows=0: expected a whole number >= 1" in found
    assert any(p.startswith("webhook_url") for p in found)
    assert any("needs retrain_data_uri, label_column, model_name" in p for p in found)


def test_required_parameters():
    found = preflight.problems("performance-monitoring", {"registry_uri": "r"})
    assert "labels_uri is required and was not given" in found
    assert "predictions_uri is required and was not given" in found
