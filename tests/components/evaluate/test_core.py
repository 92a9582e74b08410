"""evaluate core on models trained on the bundled penguins data."""
import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from kfp_mlops.components._shared import dataset as ds
from kfp_mlops.components._shared import model_io
from kfp_mlops.components.evaluate import core

pytestmark = pytest.mark.slow


def _test_frame(dataset_dir, label):
    frame = ds.read_pandas(dataset_dir, "test")
    return frame[frame[label].notna()].reset_index(drop=True)


def test_multiclass_metrics_match_serving_predictions(species_model, penguins_dataset, tmp_path):
    result = core.evaluate(penguins_dataset, species_model.model_dir,
                           blessing_dir=str(tmp_path / "blessing"),
                           report_path=str(tmp_path / "report.html"),
                           slice_columns=["island", "sex"])
    ev = result.evaluation
    frame = _test_frame(penguins_dataset, "species")
    assert ev.task == "classification" and ev.label == "species"
    assert ev.rows == len(frame) and ev.skipped_rows == 0

    # recompute from the serving signature, called directly
    out = model_io.load(species_model.model_dir).predict(frame)
    np.testing.assert_array_equal(ev.predictions["probabilities"], out["probabilities"])
    vocab = ["Adelie", "Chinstrap", "Gentoo"]
    y = np.array([vocab.index(v) for v in frame["species"]])
    pred = out["probabilities"].argmax(axis=1)
    m = ev.metrics
    assert m["accuracy"] == pytest.approx(np.mean(pred == y))
    assert m["accuracy"] >= 0.85
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", labels=[0, 1, 2]))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro",
                                                               zero_division=0))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, out["probabilities"], labels=[0, 1, 2]),
                                          rel=1e-4)
    assert m["auc"] == pytest.approx(skm.roc_auc_score(y, out["probabilities"], multi_class="ovr",
                                                       average="macro"), rel=1e-6)
    assert 0 < m["pr_auc"] <= 1
    assert set(ev.per_class) == set(vocab)
    assert sum(c["support"] for c in ev.per_class.values()) == len(frame)
    assert ev.per_class["Gentoo"]["recall"] == pytest.approx(
        skm.recall_score(y == 2, pred == 2))

    cm = ev.confusion_matrix
    assert cm["categories"] == vocab
    assert np.array(cm["matrix"]).sum() == len(frame)
    assert np.trace(np.array(cm["matrix"])) == int(np.sum(pred == y))
    roc = ev.roc_curve
    assert roc["class"] == "Adelie"
    assert 2 <= len(roc["fpr"]) <= core.MAX_ROC_POINTS
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0) and roc["fpr"][-1] == roc["tpr"][-1] == 1
    assert all(math.isfinite(t) and t <= 1.0 for t in roc["thresholds"])

    # slices: every value with its count, the counts add up to the rows
    for column in ("island", "sex"):
        assert sum(s["count"] for s in ev.slices[column].values()) == len(frame)
    biscoe = frame["island"] == "Biscoe"
    assert ev.slices["island"]["Biscoe"]["count"] == int(biscoe.sum())
    assert ev.slices["island"]["Biscoe"]["accuracy"] == pytest.approx(
        np.mean(pred[biscoe.to_numpy()] == y[biscoe.to_numpy()]))

    # no thresholds, no champion: blessed, and the reasons say why
    assert result.blessed
    assert any("no champion" in r for r in result.reasons)
    blessing = json.load(open(tmp_path / "blessing" / "blessing.json"))
    assert blessing["blessed"] is True and blessing["champion"] is None
    assert blessing["metrics"]["accuracy"] == m["accuracy"]
    full = json.load(open(tmp_path / "blessing" / "evaluation.json"))
    assert set(full["per_class"]) == set(vocab) and "island" in full["slices"]
    page = open(tmp_path / "report.html").read()
    assert "Confusion matrix" in page and "Slices by island" in page and "Biscoe" in page
    assert "no champion" in page


def test_binary_metrics_use_the_positive_class(sex_model, penguins_dataset):
    result = core.evaluate(penguins_dataset, sex_model.model_dir, label_column="sex")
    ev = result.evaluation
    frame = _test_frame(penguins_dataset, "sex")
    assert ev.rows == len(frame)
    assert ev.skipped_rows == ds.num_rows(penguins_dataset, "test") - len(frame)
    out = ev.predictions
    y = (frame["sex"] == "male").to_numpy().astype(int)
    pred = out["probabilities"].argmax(axis=1)
    m = ev.metrics
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["auc"] == pytest.approx(skm.roc_auc_score(y, out["probabilities"][:, 1]))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, out["probabilities"][:, 1]))
    assert ev.roc_curve["class"] == "male"
    assert ev.confusion_matrix["categories"] == ["female", "male"]


def test_regression_metrics(mass_model, penguins_dataset):
    result = core.evaluate(penguins_dataset, mass_model.model_dir, thresholds={"rmse": 5000},
                           slice_columns=["species"])
    ev = result.evaluation
    frame = _test_frame(penguins_dataset, "body_mass_g")
    y = frame["body_mass_g"].to_numpy(float)
    pred = ev.predictions["predictions"]
    assert ev.metrics["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)), rel=1e-6)
    assert ev.metrics["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-6)
    assert ev.metrics["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-6)
    assert ev.metrics["r2"] > 0.5
    assert ev.confusion_matrix is None and ev.roc_curve is None
    assert result.blessed
    assert any("rmse" in r and "maximum" in r for r in result.reasons)
    assert sum(s["count"] for s in ev.slices["species"].values()) == len(frame)
    # rmse is lower-is-better: a maximum below the model's rmse fails
    failed = core.evaluate(penguins_dataset, mass_model.model_dir, thresholds={"rmse": 1.0})
    assert not failed.blessed
    assert any(r.startswith("FAILED threshold: rmse") and "<= 1.0000" in r for r in failed.reasons)


def test_thresholds_bless_or_fail_with_numbers(species_model, penguins_dataset, tmp_path):
    ok = core.evaluate(penguins_dataset, species_model.model_dir,
                       thresholds={"accuracy": 0.5, "log_loss": 5.0})
    assert ok.blessed
    assert [c.passed for c in ok.checks] == [True, True]

    bad = core.evaluate(penguins_dataset, species_model.model_dir,
                        blessing_dir=str(tmp_path / "b"),
                        thresholds={"accuracy": 1.01, "auc": 0.5})
    assert not bad.blessed
    accuracy = bad.metrics["accuracy"]
    assert (f"FAILED threshold: accuracy {accuracy:.4f} not >= 1.0100 (minimum)"
            in bad.reasons)
    assert any(r.startswith("passed threshold: auc") for r in bad.reasons)
    assert bad.reasons[0] == "NOT BLESSED: 1 of 2 checks passed"
    blessing = json.load(open(tmp_path / "b" / "blessing.json"))
    assert blessing["blessed"] is False
    assert {c["metric"]: c["passed"] for c in blessing["checks"]} == {"accuracy": False,
                                                                      "auc": True}
    assert bad.metadata()["blessed"] is False


def test_unknown_threshold_metric_is_an_error_and_writes_nothing(species_model, penguins_dataset,
                                                                  tmp_path):
    with pytest.raises(core.EvaluateError, match=r"thresholds names metric\(s\) \['rmse'\].*"
                                                  r"classification"):
        core.evaluate(penguins_dataset, species_model.model_dir,
                      blessing_dir=str(tmp_path / "b"), thresholds={"rmse": 1.0})
    with pytest.raises(core.EvaluateError, match=r"slice_columns \['beak'\]"):
        core.evaluate(penguins_dataset, species_model.model_dir,
                      blessing_dir=str(tmp_path / "b"), slice_columns=["beak"])
    with pytest.raises(core.EvaluateError, match=r"model: .*holds no saved_model.pb"):
        core.evaluate(penguins_dataset, str(tmp_path), blessing_dir=str(tmp_path / "b"))
    assert not (tmp_path / "b").exists()


def test_challenger_worse_than_champion_is_not_blessed(species_model, weak_species_model,
                                                       penguins_dataset, tmp_path):
    result = core.evaluate(penguins_dataset, weak_species_model.model_dir,
                           blessing_dir=str(tmp_path / "b"),
                           champion_model_dir=species_model.model_dir, champion_version="7")
    champion_accuracy = result.champion["metrics"]["accuracy"]
    accuracy = result.metrics["accuracy"]
    assert accuracy < champion_accuracy
    assert not result.blessed
    reason = [r for r in result.reasons if "champion comparison" in r]
    assert len(reason) == 1 and reason[0].startswith("FAILED champion comparison: accuracy")
    assert f"vs champion 7 {champion_accuracy:.4f}" in reason[0]
    blessing = json.load(open(tmp_path / "b" / "blessing.json"))
    assert blessing["champion"]["version"] == "7"
    assert blessing["champion"]["metrics"]["accuracy"] == champion_accuracy
    assert blessing["max_regression"] == {"accuracy": 0.0}


def test_better_challenger_is_blessed_and_allowance_counts(species_model, weak_species_model,
                                                           penguins_dataset):
    better = core.evaluate(penguins_dataset, species_model.model_dir,
                           champion_model_dir=weak_species_model.model_dir, champion_version="1",
                           thresholds={"accuracy": 0.8})
    assert better.blessed
    assert any(r.startswith("passed champion comparison: accuracy") for r in better.reasons)
    # the weak model is allowed to be worse by a whole point of accuracy
    tolerated = core.evaluate(penguins_dataset, weak_species_model.model_dir,
                              champion_model_dir=species_model.model_dir,
                              max_regression={"accuracy": 1.0, "log_loss": 100.0})
    assert tolerated.blessed
    assert [c.metric for c in tolerated.checks] == ["accuracy", "log_loss"]


def test_champion_that_cannot_be_evaluated_fails_the_comparison(species_model, penguins_dataset,
                                                                 tmp_path):
    result = core.evaluate(penguins_dataset, species_model.model_dir,
                           champion_model_dir=str(tmp_path / "gone"), champion_version="3")
    assert not result.blessed
    assert any("champion 3 could not be evaluated" in r for r in result.reasons)


def test_report_renders_every_section(species_model, weak_species_model, penguins_dataset):
    result = core.evaluate(penguins_dataset, weak_species_model.model_dir,
                           champion_model_dir=species_model.model_dir, champion_version="2",
                           slice_columns=["island"])
    page = core.render_report(result)
    for text in ("Not blessed", "Per class", "Confusion matrix", "Slices by island",
                 "champion", "Chinstrap", "FAILED champion comparison"):
        assert text in page
