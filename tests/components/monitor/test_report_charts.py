"""Monitor's report draws each feature against its baseline and over the history, in a real
browser."""
from kfp_mlops.components.monitor import core
from tests.components.monitor.conftest import DRIFTED_CSV, SERVING_CSV
from tests.support import browser


def test_every_feature_against_its_baseline_and_over_the_history(registry, batch, outputs,
                                                                 tmp_path):
    for i, source in enumerate((SERVING_CSV, SERVING_CSV, DRIFTED_CSV)):
        out = outputs(f"run{i}")
        result = core.monitor(batch(source, name=f"batch{i}"), registry, "penguins", **out)
    seen = browser.look_at(out["report_path"], str(tmp_path / "monitor.png"))

    assert result.drift_detected and result.monitoring_seq == 3
    browser.assert_charts_drawn(seen, len(result.skew))
    by_feature = {c.caption.split(" (")[0]: c for c in seen.charts}
    assert set(by_feature) == {d.feature for d in result.skew}
    # findings first, marked
    hits = {f.feature for f in result.findings if f.feature}
    assert [c.caption.endswith("(finding)") for c in seen.charts] == sorted(
        (c.caption.split(" (")[0] in hits for c in seen.charts), reverse=True)
    for d in result.skew:
        texts = by_feature[d.feature].texts
        if d.feature == result.label_column:    # not in serving data: the baseline alone
            assert "training baseline" in texts and "this batch" not in texts
            assert f"{d.feature} (absent from this batch)" in texts
            continue
        assert {"training baseline", "this batch", "monitoring entry"} <= set(texts)
        # three batches on the history's axis, and the skew threshold drawn
        assert {"1", "2", "3"} <= set(texts), texts
        assert f"skew ({d.metric}) threshold {d.threshold:g}" in texts
        if d.value is not None:
            assert f"drift ({d.metric}) threshold {d.threshold:g}" in texts
    # every measure and the reason of every verdict, in words, on the page
    from markupsafe import escape

    with open(out["report_path"], encoding="utf-8") as f:
        page = f.read()
    assert "How each feature was judged" in page
    for c in [*result.skew, *result.drift]:
        assert c.reason and str(escape(c.reason)) in page, c
    assert page.count("<span class='bad'>drift</span>") == sum(c.drifted for c in result.drift)


def test_a_first_batch_draws_one_point_and_no_drift(registry, batch, outputs, tmp_path):
    out = outputs()
    result = core.monitor(batch(SERVING_CSV), registry, "penguins", **out)
    seen = browser.look_at(out["report_path"], str(tmp_path / "first.png"))
    browser.assert_charts_drawn(seen, len(result.skew))
    for chart in seen.charts:
        assert not any(t.startswith("drift") for t in chart.texts), chart.texts
    with open(out["report_path"], encoding="utf-8") as f:
        assert "over the 1 monitored batches" in f.read()
