"""The model card of a version registered from a real run of ingest, validate, train,
evaluate and push on the penguins; an old version's card; the card in a real browser; the
``kfp-mlops model-card`` command."""
import json
import os

import pytest
from markupsafe import escape

from kfp_mlops.components._shared import html_report
from kfp_mlops.components._shared import registry as reg
from kfp_mlops.components.push import core as push
from kfp_mlops.components.push import model_card
from kfp_mlops.pipelines import cli
from tests.support import browser

pytestmark = pytest.mark.slow

SLICES = ["island", "sex"]


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, penguins_dataset):
    """Validate (keeping ``year`` out), train, evaluate (sliced by island and sex, with a
    slice gap requirement) and push the penguins species model into a folder registry."""
    from kfp_mlops.components.evaluate import core as evaluate
    from kfp_mlops.components.train import core as train
    from kfp_mlops.components.validate import core as validate

    root = tmp_path_factory.mktemp("card")
    work = {k: str(root / k) for k in ("statistics", "schema", "anomalies", "model",
                                       "blessing", "pushed", "registry")}
    validate.validate(penguins_dataset, work["statistics"], work["schema"], work["anomalies"],
                      str(root / "validate.html"), label_column="species",
                      drop_columns=["year"])
    train.train(penguins_dataset, work["schema"], work["model"], "", epochs=15)
    result = evaluate.evaluate(penguins_dataset, work["model"], blessing_dir=work["blessing"],
                               thresholds={"accuracy": 0.8}, slice_columns=SLICES,
                               max_slice_gap={"log_loss": 5.0}, min_slice_rows=5)
    assert result.blessed, result.reasons
    card_copy = str(root / "model_card.html")
    pushed = push.push(work["model"], work["blessing"], work["schema"], work["statistics"],
                       work["registry"], "penguins",
                       dataset_info=push.dataset_info(penguins_dataset),
                       pipeline_run="training-run-42", model_card_path=card_copy)
    version = reg.FolderRegistry(work["registry"]).resolve("penguins", pushed.version)
    return {"result": result, "pushed": pushed, "version": version, "work": work,
            "card_copy": card_copy, "root": root, "dataset": penguins_dataset}


def _texts(version):
    card = model_card.make(version, "the-registry")
    return card, model_card.render_html(card), model_card.render_markdown(card)


def test_push_stores_both_cards_in_the_version_folder(pushed):
    version, result = pushed["version"], pushed["pushed"]
    html_path = os.path.join(version.uri, model_card.HTML_FILE)
    md_path = os.path.join(version.uri, model_card.MARKDOWN_FILE)
    assert result.model_card == {"html": html_path, "md": md_path}
    assert result.metadata()["model_card"] == html_path
    stored = open(html_path, encoding="utf-8").read()
    assert stored == open(pushed["card_copy"], encoding="utf-8").read()   # the run's copy
    assert stored.startswith("<!DOCTYPE html>") and "Model card: penguins version 1" in stored
    assert open(md_path, encoding="utf-8").read().startswith("# Model card: penguins version 1")
    # the lineage now keeps the blessing's settings and checks
    blessing = version.lineage["blessing"]
    assert blessing["thresholds"] == {"accuracy": 0.8}
    assert blessing["max_slice_gap"] == {"log_loss": 5.0} and blessing["min_slice_rows"] == 5
    assert {c["kind"] for c in blessing["checks"]} == {"threshold", "slice_gap"}


def test_a_second_push_of_the_same_model_keeps_the_card(pushed):
    version = pushed["version"]
    html_path = os.path.join(version.uri, model_card.HTML_FILE)
    before = open(html_path, encoding="utf-8").read()
    w = pushed["work"]
    again = push.push(w["model"], w["blessing"], w["schema"], w["statistics"], w["registry"],
                      "penguins", dataset_info=push.dataset_info(pushed["dataset"]))
    assert again.already_registered and again.version == "1"
    assert open(html_path, encoding="utf-8").read() == before


def test_every_section_in_both_formats(pushed):
    _, html, md = _texts(pushed["version"])
    for section in model_card.SECTIONS:
        assert f">{section}</h2>" in html, section
        assert f"\n## {section}\n" in md, section
    assert "<script" not in html


def test_both_formats_hold_the_evaluation_s_numbers(pushed):
    version = pushed["version"]
    evaluation = version.evaluation
    card, html, md = _texts(version)
    fmt = html_report.fmt
    # overall metrics: every one the evaluation computed, with its value
    overall = {r["metric"]: r["value"] for r in card["metrics"]["overall"]}
    assert overall == evaluation["metrics"]
    for metric, value in evaluation["metrics"].items():
        assert f"<td class='l'>{metric}</td><td>{fmt(value)}</td>" in html, metric
        assert f"| {metric} | {fmt(value)} |" in md, metric
    # per slice: each value's rows and accuracy
    for column in SLICES:
        for value, m in evaluation["slices"][column].items():
            for text in (html, md):
                assert str(value) in text
                assert fmt(m["accuracy"]) in text and f"{m['count']:,}" in text
    # the gap between the best and the worst slice, measured here from the evaluation
    for column in SLICES:
        values = [m for m in evaluation["slices"][column].values() if m["count"] >= 5]
        losses = [m["log_loss"] for m in values]
        accuracies = [m["accuracy"] for m in values]
        gaps = {g["metric"]: g for s in card["slices"] if s["column"] == column
                for g in s["gaps"]}
        assert gaps["log_loss"]["gap"] == pytest.approx(max(losses) - min(losses))
        assert gaps["log_loss"]["worst_value"] == pytest.approx(max(losses))
        assert gaps["accuracy"]["gap"] == pytest.approx(max(accuracies) - min(accuracies))
        assert gaps["accuracy"]["best_value"] == pytest.approx(max(accuracies))
        row = (f"| log_loss | {fmt(gaps['log_loss']['gap'])} | {gaps['log_loss']['best']} | "
               f"{fmt(min(losses))} | {gaps['log_loss']['worst']} | {fmt(max(losses))} |")
        assert row in md
        assert f"<td class='l'>log_loss</td><td>{fmt(gaps['log_loss']['gap'])}</td>" in html
    # the blessing: evaluate's reasons, word for word
    assert version.lineage["reasons"] == pushed["result"].reasons
    for reason in pushed["result"].reasons:
        assert html_report.markdown_cell(reason) in md
        assert str(escape(reason)) in html
    assert any("slice gap: log_loss by island" in r for r in pushed["result"].reasons)


def test_model_details_data_and_lineage_are_the_version_s(pushed):
    version = pushed["version"]
    card, html, md = _texts(version)
    dataset = json.load(open(os.path.join(pushed["dataset"], "dataset.json")))
    details = dict(card["details"])
    assert details["model hash (SHA-256)"] == version.model_hash != ""
    assert details["created"] == version.created
    assert details["training run"] == "training-run-42"
    assert details["registry"] == "the-registry" and details["version URI"] == version.uri
    for text in (html, md):
        assert version.model_hash in text and dataset["content_hash"] in text
        assert "training-run-42" in text and dataset["source"] in text
    # rows per split, and the registered statistics with their hashes
    assert card["training_data"]["splits"] == [{"split": s, "rows": n}
                                               for s, n in dataset["splits"].items()]
    import hashlib

    from tensorflow_metadata.proto.v0 import statistics_pb2
    for split in ("train", "eval"):
        data = open(os.path.join(version.statistics_dir, f"Split-{split}", "FeatureStats.pb"),
                    "rb").read()
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(data)
        assert stats.datasets[0].num_examples == dataset["splits"][split]
        assert hashlib.sha256(data).hexdigest() in html
        assert hashlib.sha256(data).hexdigest() in md
    train = card["training_data"]["statistics"]
    mass = next(f for f in train["features"] if f["feature"] == "body_mass_g")
    assert mass["type"] == "INT" and mass["mean"] > 0
    assert f"| body_mass_g | INT | {html_report.fmt(mass['missing_pct'])} | " \
           f"{html_report.fmt(mass['mean'])} |" in md
    # intended use: features the model reads, and year kept out with validate's reason
    metadata = model_card.read_model_metadata(version)
    assert [f["name"] for f in card["intended_use"]["features"]] == \
        [f["name"] for f in metadata["features"]]
    kept = {k["column"]: k["reason"] for k in card["intended_use"]["kept_out"]}
    assert "year" in kept and "drop_columns" in kept["year"]
    assert "year" not in [f["name"] for f in metadata["features"]]
    assert any("'year' is kept out" in c for c in card["caveats"])
    # factors: the slice columns
    assert card["factors"]["columns"] == SLICES


def test_the_html_card_opens_in_a_browser_with_its_charts(pushed, tmp_path):
    version = pushed["version"]
    seen = browser.look_at(os.path.join(version.uri, model_card.HTML_FILE),
                           str(tmp_path / "card.png"))
    browser.assert_charts_drawn(seen, len(SLICES))
    assert [c.caption for c in seen.charts] == [f"accuracy by {c}" for c in SLICES]


def test_an_old_version_without_the_new_fields_still_has_a_card(tmp_path, inputs):
    """A version registered as push did before cards: a thin evaluation, no blessing record,
    no statistics features, a model without hyperparameters."""
    registry = reg.FolderRegistry(str(tmp_path / "registry"))
    old = registry.register("old", inputs["model"], inputs["schema"], inputs["statistics"],
                            evaluation={"metrics": {"accuracy": 0.93}},
                            lineage={"data_content_hash": "c0ffee", "reasons": ["old reason"]})
    card = model_card.make(old, str(tmp_path / "registry"))
    html, md = model_card.render_html(card), model_card.render_markdown(card)
    for section in model_card.SECTIONS:
        assert f">{section}</h2>" in html and f"\n## {section}\n" in md
    for text in (html, md):
        assert "0.93" in text and "old reason" in text and "c0ffee" in text
        assert "not recorded" in text and "No per-slice metrics" in text
    assert any("registered before" in c for c in card["caveats"])


def test_a_not_pushed_model_gets_a_page_saying_why(tmp_path, inputs):
    page = str(tmp_path / "card.html")
    result = push.push(inputs["model"], inputs["not_blessed"], inputs["schema"],
                       inputs["statistics"], str(tmp_path / "registry"), "penguins",
                       model_card_path=page)
    assert not result.pushed and result.model_card == {}
    text = open(page, encoding="utf-8").read()
    assert "no model card" in text and "accuracy 0.410 &lt; threshold 0.800" in text


def test_markdown_escapes_cells():
    assert html_report.markdown_cell("a|b\nc <b>") == "a\\|b c &lt;b&gt;"
    assert html_report.markdown_cell(0.123456) == "0.1235"
    assert html_report.markdown_cell(None) == "—"


def test_the_model_card_command(pushed, tmp_path, capsys):
    registry = pushed["work"]["registry"]
    base = ["model-card", "--registry-uri", registry, "--model-name", "penguins"]
    assert cli.main(base + ["--format", "md"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Model card: penguins version 1")
    out = str(tmp_path / "card.html")
    assert cli.main(base + ["--version", "1", "--output", out]) == 0
    assert capsys.readouterr().out.strip() == out
    html = open(out, encoding="utf-8").read()
    assert "Model card: penguins version 1" in html and "champion" in html
    # an unknown version is an error that names what exists
    assert cli.main(base + ["--version", "7"]) == 2
    assert "has no version 7; versions are [1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(base + ["--format", "pdf"])
    assert "invalid choice: 'pdf'" in capsys.readouterr().err
