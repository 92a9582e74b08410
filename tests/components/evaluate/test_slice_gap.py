"""max_slice_gap on real slice metrics: the penguins species model (and a weak one) scored on
the test split, sliced by island and sex; the checks bless and refuse by the measured gap."""
import json
import os
import re

import pytest

from kfp_mlops.components.evaluate import core, slices

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sliced(penguins_dataset, weak_species_model):
    """The weak model's evaluation: its slices differ, so every gap is above 0."""
    from kfp_mlops.components._shared import dataset as ds

    frame = ds.read_pandas(penguins_dataset, "test")
    return core.evaluate_model(weak_species_model.model_dir, frame, "species",
                               ["island", "sex"])


def _by_hand(values, metric, min_rows):
    """The gap measured here, from evaluate's per-slice metrics."""
    kept = [m[metric] for m in values.values()
            if m["count"] >= min_rows and m[metric] is not None]
    return max(kept) - min(kept)


def test_the_gap_is_best_minus_worst_and_worst_minus_best_for_losses(sliced):
    island = sliced.slices["island"]
    accuracy = slices.column_gap("island", island, "accuracy", min_rows=1)
    assert accuracy.gap == pytest.approx(_by_hand(island, "accuracy", 1))
    assert accuracy.best_value == max(m["accuracy"] for m in island.values())
    assert accuracy.worst_value == min(m["accuracy"] for m in island.values())
    loss = slices.column_gap("island", island, "log_loss", min_rows=1)
    assert loss.gap == pytest.approx(_by_hand(island, "log_loss", 1)) and loss.gap > 0
    # lower is better: the best slice has the lowest loss
    assert loss.best_value == min(m["log_loss"] for m in island.values())
    assert loss.worst_value == max(m["log_loss"] for m in island.values())
    assert loss.direction == "lower" and accuracy.direction == "higher"


def test_max_slice_gap_blesses_within_and_refuses_beyond_the_measured_gap(sliced):
    gap = _by_hand(sliced.slices["island"], "log_loss", 1)
    within = core.slice_gap_checks({"island": sliced.slices["island"]},
                                   {"log_loss": gap + 0.01}, min_slice_rows=1)
    beyond = core.slice_gap_checks({"island": sliced.slices["island"]},
                                   {"log_loss": gap - 0.01}, min_slice_rows=1)
    assert [c.passed for c in within] == [True] and [c.passed for c in beyond] == [False]
    check = beyond[0]
    assert check.kind == "slice_gap" and check.column == "island" and check.metric == "log_loss"
    assert check.value == pytest.approx(gap) and check.bound == pytest.approx(gap - 0.01)
    assert check.reason.startswith(f"FAILED slice gap: log_loss by island differs by {gap:.4f} "
                                   "(worst minus best) between the best slice")
    assert f"more than the {gap - 0.01:.4f} allowed" in check.reason
    assert within[0].reason.startswith("passed slice gap: log_loss by island")


def test_small_slices_do_not_veto(sliced):
    """With min_slice_rows, a slice smaller than that is left out and named."""
    sex = sliced.slices["sex"]
    counts = sorted(m["count"] for m in sex.values())
    smallest = min(sex, key=lambda v: sex[v]["count"])
    min_rows = counts[0] + 1       # leaves the smallest slice out, keeps the others
    assert len([c for c in counts if c >= min_rows]) >= 2
    g = slices.column_gap("sex", sex, "log_loss", min_rows)
    assert g.small == [(smallest, sex[smallest]["count"])]
    assert g.gap == pytest.approx(_by_hand(sex, "log_loss", min_rows))
    [check] = core.slice_gap_checks({"sex": sex}, {"log_loss": 100.0}, min_rows)
    assert check.passed and f"fewer than {min_rows} rows: {smallest!r}" in check.reason
    # no two slices large enough: the gap cannot be measured, so the check fails and says so
    [check] = core.slice_gap_checks({"sex": sex}, {"log_loss": 100.0}, counts[-1] + 1)
    assert not check.passed and "could not be compared" in check.reason
    assert "lower min_slice_rows" in check.reason


def test_unknown_metric_names_and_bad_bounds_are_refused_before_scoring(tmp_path):
    for kwargs, message in [
            ({"max_slice_gap": {"acc": 0.1}}, "max_slice_gap names metric(s) ['acc']"),
            ({"max_slice_gap": {"f1": -1}}, "max_slice_gap['f1']=-1"),
            ({"max_slice_gap": {"f1": 0.1}, "slice_columns": []}, "needs slice_columns"),
            ({"min_slice_rows": 2.5}, "min_slice_rows=2.5: expected a whole number")]:
        kwargs.setdefault("slice_columns", ["island"])
        with pytest.raises(core.EvaluateError, match=re.escape(message)):
            core.evaluate(str(tmp_path / "none"), str(tmp_path / "none"), **kwargs)


def test_evaluate_records_the_gap_checks_in_the_blessing(penguins_dataset,
                                                         weak_species_model, tmp_path):
    result = core.evaluate(penguins_dataset, weak_species_model.model_dir,
                           blessing_dir=str(tmp_path / "blessing"), slice_columns=["island"],
                           max_slice_gap={"log_loss": 0.0}, min_slice_rows=1)
    assert not result.blessed
    blessing = json.load(open(os.path.join(tmp_path, "blessing", "blessing.json")))
    assert blessing["max_slice_gap"] == {"log_loss": 0.0} and blessing["min_slice_rows"] == 1
    [gap] = [c for c in blessing["checks"] if c["kind"] == "slice_gap"]
    assert gap["column"] == "island" and gap["passed"] is False
    assert gap["value"] == pytest.approx(_by_hand(result.evaluation.slices["island"],
                                                  "log_loss", 1))
    assert any(r.startswith("FAILED slice gap: log_loss by island") for r in result.reasons)
