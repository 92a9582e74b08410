"""Validate's report shows each feature's distribution per split, in a real browser."""
import os

from kfp_mlops.components._shared import charts
from kfp_mlops.components.validate import core
from tests.components.validate.conftest import output_paths
from tests.support import browser


def test_every_feature_is_drawn_with_train_and_eval_overlaid(penguins_dataset, tmp_path):
    paths = output_paths(tmp_path)
    result = core.validate(penguins_dataset, label_column="species", **paths)
    seen = browser.look_at(paths["report_path"], str(tmp_path / "validate.png"))

    browser.assert_charts_drawn(seen, result.schema_feature_count)
    by_feature = {c.caption.split(":")[0]: c for c in seen.charts}
    assert set(by_feature) == {"species", "island", "bill_length_mm", "bill_depth_mm",
                               "flipper_length_mm", "body_mass_g", "sex", "year"}
    for chart in seen.charts:   # every split in the legend
        assert {"train", "eval", "test"} <= set(chart.texts), chart.texts
    assert "train/eval distance" in by_feature["body_mass_g"].caption
    assert {"Adelie", "Gentoo", "Chinstrap"} <= set(by_feature["species"].texts)


def test_the_report_is_the_same_page_when_drawn_again(penguins_dataset, tmp_path):
    import tensorflow_data_validation as tfdv

    paths = output_paths(tmp_path)
    result = core.validate(penguins_dataset, label_column="species", **paths)
    stats = {s: tfdv.load_stats_binary(os.path.join(paths["statistics_dir"], f"Split-{s}",
                                                    "FeatureStats.pb")) for s in result.splits}
    first, again = core.report_figures(result, stats), core.report_figures(result, stats)
    assert first == again and len(first[0]["figures"]) == result.schema_feature_count


def test_many_features_are_capped_and_the_page_says_so(tmp_path, make_dataset, monkeypatch):
    monkeypatch.setattr(charts, "MAX_FEATURE_FIGURES", 3)
    columns = {f"x{i}": [float(j * (i + 1)) for j in range(40)] for i in range(6)}
    dataset = make_dataset({"train": columns, "eval": columns})
    paths = output_paths(tmp_path)
    result = core.validate(dataset, **paths)
    seen = browser.look_at(paths["report_path"], str(tmp_path / "many.png"))

    browser.assert_charts_drawn(seen, 3)
    with open(paths["report_path"], encoding="utf-8") as f:
        page = f.read()
    assert f"3 of {result.schema_feature_count} features drawn" in page
