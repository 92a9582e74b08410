"""The report pictures: inline SVG, byte-identical on a rerun, data escaped, no global state."""
import pytest

from kfp_mlops.components._shared import charts

NUMERIC = {"kind": "numeric", "edges": [0.0, 1.0, 2.0, 3.0], "counts": [1.0, 5.0, 2.0],
           "total": 8.0}
CATEGORICAL = {"kind": "categorical", "values": [("<script>alert(1)</script>", 3.0),
                                                 ("$x^2$", 2.0)], "total": 5.0, "unique": 2}


def test_a_figure_is_an_inline_svg_without_date_and_the_same_when_drawn_again():
    first = charts.distribution_figure("x", [("train", NUMERIC), ("eval", NUMERIC)])
    assert first.startswith("<svg") and first.rstrip().endswith("</svg>")
    assert "<?xml" not in first and "<dc:date>" not in first
    assert first == charts.distribution_figure("x", [("train", NUMERIC), ("eval", NUMERIC)])


def test_figures_of_one_page_have_ids_of_their_own():
    import re

    a = charts.distribution_figure("x", [("train", NUMERIC)], key="a")
    b = charts.distribution_figure("x", [("train", NUMERIC)], key="b")
    ids = lambda svg: set(re.findall(r'id="([^"]+)"', svg))   # noqa: E731
    assert ids(a) and not ids(a) & ids(b)


def test_values_from_the_data_are_escaped_text_not_markup_or_math():
    svg = charts.distribution_figure("c", [("train", CATEGORICAL)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "$x^2$" in svg      # mathtext off: the value as written


def test_drawing_leaves_the_callers_matplotlib_settings_alone():
    import matplotlib

    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    charts.roc_figure([{"class": "a", "fpr": [0, 1], "tpr": [0, 1], "auc": 0.5}])
    assert dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend


def test_every_chart_kind_draws_with_empty_or_degenerate_input():
    constant = {"kind": "numeric", "edges": [4.0, 4.0], "counts": [9.0], "total": 9.0}
    for svg in (charts.distribution_figure("k", [("train", constant), ("eval", None)]),
                charts.distribution_figure("none", []),
                charts.monitoring_figure("m", [("baseline", NUMERIC), ("batch", None)],
                                         [{"name": "skew", "points": [(1, None), (2, 0.2)],
                                           "threshold": 0.1}]),
                charts.pr_figure([]), charts.calibration_figure([]),
                charts.confusion_figure(["a"], [[3]]),
                charts.slice_figure("s", [("v", None, 3)], "accuracy"),
                charts.prediction_figure([], [])):
        assert svg.startswith("<svg")


def test_distributions_read_tfdv_histograms_and_top_values():
    import pyarrow as pa

    from kfp_mlops.components._shared import statistics

    batch = pa.record_batch([pa.array([float(i) for i in range(100)]),
                             pa.array(["a"] * 70 + ["b"] * 30)], names=["n", "c"])
    stats = statistics.statistics_from_batches([batch], "train")
    d = charts.distributions(stats)
    # TFDV's equi-width buckets hold fractional counts: their sum is 100 up to rounding
    assert d["n"]["kind"] == "numeric" and d["n"]["total"] == pytest.approx(100)
    assert d["n"]["edges"][0] == 0.0 and d["n"]["edges"][-1] == 99.0
    assert len(d["n"]["edges"]) == len(d["n"]["counts"]) + 1
    assert d["c"]["values"] == [("a", 70.0), ("b", 30.0)] and d["c"]["total"] == 100


def test_thin_keeps_ends_and_at_most_the_limit():
    assert charts.thin(5, 10) == [0, 1, 2, 3, 4]
    kept = charts.thin(1000, 7)
    assert kept[0] == 0 and kept[-1] == 999 and len(kept) == 7
