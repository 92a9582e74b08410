"""PSI, normalised Wasserstein, KS and chi-squared from TFDV statistics, checked against
independent references on the raw samples: ``scipy.stats.wasserstein_distance``,
``scipy.stats.ks_2samp``, ``scipy.stats.chi2_contingency`` and PSI by hand from the formula.

Categorical measures come from exact counts and match to rounding. Numeric ones come from
the deciles TFDV keeps (the piecewise-linear CDF through them), and are approximations;
the tolerances below are the errors measured on the bundled penguins batches, and what
the module's comment promises.
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from kfp_mlops.components._shared import statistics as tfdv_stats
from tests.conftest import ROOT

DATA = ROOT / "pipelines" / "data"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
CATEGORICAL = ["island", "sex"]
KS_TOLERANCE = 0.05             # |D - scipy's D| (measured: at most 0.046)
WASSERSTEIN_TOLERANCE = 0.04    # |W1/std - scipy's|, in reference std (measured: 0.034)
#: PSI from the batch's deciles vs by hand on its raw counts: within 0.02 where there is no
#: drift (PSI < 0.1; measured 0.016), within 35 % beyond (measured: 0.29 for 0.43)
PSI_TOLERANCE, PSI_RELATIVE = 0.02, 0.35


def _statistics(frame: pd.DataFrame):
    with tfdv_stats.statistics_builder() as builder:
        builder.add(pa.RecordBatch.from_pandas(frame, preserve_index=False))
        return builder.result("data")


@pytest.fixture(scope="module")
def penguins():
    """(reference frame, its statistics, schema, {batch name: (frame, statistics)})."""
    import tensorflow_data_validation as tfdv

    reference = pd.read_csv(DATA / "penguins.csv").drop(columns=["species"])
    base = _statistics(reference)
    schema = tfdv.infer_schema(base)
    batches = {}
    for name in ("penguins_serving", "penguins_drifted"):
        frame = pd.read_csv(DATA / f"{name}.csv")
        batches[name] = (frame, _statistics(frame))
    return reference, base, schema, batches


def _measured(penguins, batch):
    """(reference frame, its statistics, the batch's frame, measures of the batch)."""
    reference, base, schema, batches = penguins
    frame, batch_stats = batches[batch]
    return reference, base, frame, tfdv_stats.feature_measures(base, batch_stats, schema)


def _raw(frame, column):
    return frame[column].dropna().to_numpy(dtype=float)


def _decile_edges(base_stats, column):
    """The inner edges of the reference's quantile buckets (the bins of our PSI)."""
    feature = next(f for f in base_stats.datasets[0].features if f.path.step == [column])
    hist = next(h for h in feature.num_stats.histograms if h.type == h.QUANTILES)
    edges = np.unique([hist.buckets[0].low_value] + [b.high_value for b in hist.buckets])
    return edges[1:-1]


def _psi_by_hand(expected_counts, actual_counts):
    e = np.maximum(np.asarray(expected_counts, float) / np.sum(expected_counts), 1e-4)
    a = np.maximum(np.asarray(actual_counts, float) / np.sum(actual_counts), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def _binned(values, inner_edges):
    """Counts in (-inf, e1), [e1, e2), ..., [ek, inf)."""
    index = np.searchsorted(inner_edges, values, side="right")
    return np.bincount(index, minlength=len(inner_edges) + 1)


@pytest.mark.parametrize("batch", ["penguins_serving", "penguins_drifted"])
def test_numeric_measures_against_scipy_on_raw_values(penguins, batch):
    reference, base, frame, measures = _measured(penguins, batch)
    for column in NUMERIC:
        m = measures[column]
        x, y = _raw(reference, column), _raw(frame, column)
        assert (m.kind, m.test, m.exact) == ("numeric", tfdv_stats.KS, False)
        assert (m.base_count, m.other_count) == (x.size, y.size)
        ks = stats.ks_2samp(x, y, method="asymp")
        assert m.test_statistic == pytest.approx(ks.statistic, abs=KS_TOLERANCE), column
        w = stats.wasserstein_distance(x, y) / np.std(x)
        assert m.wasserstein_normed == pytest.approx(w, abs=WASSERSTEIN_TOLERANCE), column
        inner = _decile_edges(base, column)
        psi = _psi_by_hand(_binned(x, inner), _binned(y, inner))
        assert m.psi == pytest.approx(psi, abs=PSI_TOLERANCE, rel=PSI_RELATIVE), column
        if psi < 0.1:
            assert m.psi == pytest.approx(psi, abs=PSI_TOLERANCE), column
        # the test's verdict at the monitor's default level agrees with scipy's
        alpha = 0.05 / 7
        assert (m.p_value < alpha) == (ks.pvalue < alpha), column


def test_ks_p_value_is_scipys_for_the_same_statistic():
    from kfp_mlops.components._shared.statistics import distances

    rng = np.random.default_rng(5)
    for n, m, shift in ((150, 344, 0.0), (150, 344, 0.4), (1000, 2000, 0.1), (40, 20, 1.0)):
        x, y = rng.normal(size=n), rng.normal(shift, size=m)
        expected = stats.ks_2samp(x, y, method="asymp")
        assert distances._ks_p_value(expected.statistic, n, m) == pytest.approx(
            expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("batch", ["penguins_serving", "penguins_drifted"])
def test_categorical_measures_are_exact(penguins, batch):
    reference, _, frame, measures = _measured(penguins, batch)
    for column in CATEGORICAL:
        m = measures[column]
        assert (m.kind, m.test, m.exact, m.wasserstein_normed) == (
            "categorical", tfdv_stats.CHI_SQUARED, True, None)
        x, y = reference[column].dropna(), frame[column].dropna()
        table = pd.crosstab(pd.concat([x, y]), np.r_[np.zeros(len(x)), np.ones(len(y))])
        chi2, p, _, _ = stats.chi2_contingency(table.to_numpy(), correction=False)
        assert m.test_statistic == pytest.approx(chi2, rel=1e-9)
        assert m.p_value == pytest.approx(p, rel=1e-9)
        counts = table.to_numpy().T
        assert m.psi == pytest.approx(_psi_by_hand(counts[0], counts[1]), rel=1e-9)


def test_two_categories_equal_the_two_proportion_z_test():
    """Evidently's test of a binary feature; chi-squared without correction is its square."""
    import tensorflow_data_validation as tfdv

    a = pd.DataFrame({"c": ["x"] * 60 + ["y"] * 40})
    b = pd.DataFrame({"c": ["x"] * 45 + ["y"] * 55})
    sa, sb = _statistics(a), _statistics(b)
    m = tfdv_stats.feature_measures(sa, sb, tfdv.infer_schema(sa))["c"]
    p1, p2, n1, n2 = 0.6, 0.45, 100, 100
    pooled = (60 + 45) / 200
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert m.test_statistic == pytest.approx(z ** 2, rel=1e-9)
    assert m.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_identical_and_disjoint_numeric_distributions():
    import tensorflow_data_validation as tfdv

    rng = np.random.default_rng(3)
    a = pd.DataFrame({"x": rng.random(2000)})
    sa = _statistics(a)
    schema = tfdv.infer_schema(sa)
    same = tfdv_stats.feature_measures(sa, sa, schema)["x"]
    assert same.test_statistic == 0.0 and same.wasserstein_normed == 0.0 and same.psi == 0.0
    assert same.p_value == 1.0
    far = tfdv_stats.feature_measures(sa, _statistics(pd.DataFrame({"x": 10 + rng.random(500)})),
                                      schema)["x"]
    assert far.test_statistic == pytest.approx(1.0)             # disjoint supports
    assert far.p_value < 1e-100
    # shifted by 10 = 10 / std(U[0,1)) = 34.6 standard deviations of the reference
    assert far.wasserstein_normed == pytest.approx(10 / np.std(a["x"]), rel=0.01)
    # all of it beyond the last decile: (1 - 0.1) ln 10 + 9 (1e-4 - 0.1) ln(1e-4 / 0.1)
    assert far.psi == pytest.approx(0.9 * np.log(10) + 9 * (1e-4 - 0.1) * np.log(1e-3),
                                    rel=0.01)


def test_missing_on_one_side_has_no_measure():
    import tensorflow_data_validation as tfdv

    a = _statistics(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    b = _statistics(pd.DataFrame({"c": ["a", "a", "b"]}))
    measures = tfdv_stats.feature_measures(a, b, tfdv.infer_schema(a))
    assert "x" not in measures and measures["c"].p_value is not None
