"""TFDV statistics, in process: what ``validate``, ``monitor`` and the benchmarks call.

* statistics of streams of Arrow record batches (the splits of a dataset, a serving batch)
  computed in process with TFDV's own combiner generators -- the code TFDV's Beam pipeline
  runs, without Beam's per-element overhead -- on a few threads, with constant memory
  (:class:`StatisticsPool`, :func:`statistics_builder`, :func:`statistics_from_batches`);
  or with a Beam pipeline when the data is beyond one machine (:func:`statistics_with_beam`);
* per-feature distances between two statistics (L-infinity for categorical features,
  Jensen-Shannon divergence for numeric ones) for EVERY feature, not only the anomalous ones
  (:func:`feature_distances`), and the comparators and thresholds behind them;
* dates and timestamps described as TFDV integers -- days / seconds since the epoch, with the
  schema's ``time_domain`` -- converted in one place (:mod:`.reference`'s ``canonical_array``;
  :func:`time_columns`, :func:`mark_time_domains`);
* more measures per feature, from the same statistics: PSI, normalised Wasserstein
  distance, and a two-sample test (KS for numeric, chi-squared for categorical features)
  (:func:`feature_measures`);
* readable views of statistics and anomalies (:func:`feature_summaries`,
  :func:`anomaly_reasons`);
* TFX's file layout of statistics and anomalies artifacts (:func:`split_dir`, ...).

Two paths give the same statistics, byte for byte (tests/components/_shared/statistics):

* **the reference**, TFDV's own path (:mod:`.reference`): every column converted to TFDV's
  canonical form (one ``large_list`` per column, as ``tfdv.generate_statistics_from_dataframe``
  does) and fed to each generator's ``add_input``; merging, compaction and extraction are
  TFDV's;
* **the flat path** (:mod:`.flat`): flat int64/float64/string/binary columns fill the same
  accumulators of TFDV's basic and top-k generators directly, and extraction builds TFDV's
  equi-width histograms on arrays. It reaches into TFDV's private classes
  (``_PartialBasicStats``, the top-k generator's sketches, ``quantiles_util``).

Which TFDV takes which path, decided in one place (:func:`fast_path_available`): the flat
path is taken only when the installed ``tensorflow-data-validation`` is exactly one of
:data:`TESTED_TFDV` (1.16.1, the locked version). With any other version -- or for
generators, options (example weights, a feature hasher, generators beyond basic and top-k)
and column types it does not cover -- every column takes the reference path and TFDV's own
extraction: the same statistics, only slower. Nothing fails; ``validate`` logs which path
its statistics take. Moving the TFDV lock means running the byte-identity tests on the new
version, then adding it here.

Module tops import only the standard library; TFDV, TensorFlow and pyarrow are imported
inside the functions that need them.
"""
from __future__ import annotations

import os

# The constants come before the submodules' imports below: those read them from here.

#: TFDV releases whose private combiner internals the flat path fills (see above).
TESTED_TFDV = ("1.16.1",)
#: Vertex AI Model Monitoring's default skew/drift threshold.
DEFAULT_THRESHOLD = 0.3
#: Statistics file name and folder prefix of TFX's StatisticsGen/ExampleValidator layout.
STATS_FILE = "FeatureStats.pb"
ANOMALIES_FILE = "SchemaDiff.pb"
SPLIT_PREFIX = "Split-"


def split_dir(root: str, split: str) -> str:
    """``<root>/Split-<split>``: TFX's folder for one split of a statistics/anomalies artifact."""
    return os.path.join(root, SPLIT_PREFIX + split)


from kfp_mlops.components._shared.statistics.builder import (  # noqa: E402
    StatisticsPool, default_workers, statistics_builder, statistics_from_batches)
from kfp_mlops.components._shared.statistics.distances import (  # noqa: E402
    CHI_SQUARED, JENSEN_SHANNON_DIVERGENCE, KS, L_INFTY, PSI, WASSERSTEIN_NORMED,
    FeatureDistance, FeatureMeasures, check_thresholds, feature_distances, feature_measures,
    set_comparators)
from kfp_mlops.components._shared.statistics.flat import (  # noqa: E402
    exact_int_columns, fast_path_available)
from kfp_mlops.components._shared.statistics.reference import (  # noqa: E402
    UNIX_DAYS, UNIX_SECONDS, bool_columns, load_statistics, mark_time_domains,
    beam_options, statistics_with_beam, stats_options, time_columns, time_format,
    unsupported_columns)
from kfp_mlops.components._shared.statistics.views import (  # noqa: E402
    anomaly_reasons, feature_summaries)

__all__ = [
    "TESTED_TFDV", "DEFAULT_THRESHOLD", "STATS_FILE", "ANOMALIES_FILE", "SPLIT_PREFIX",
    "split_dir",
    # statistics
    "stats_options", "bool_columns", "unsupported_columns", "exact_int_columns",
    "fast_path_available", "default_workers", "StatisticsPool", "statistics_builder",
    "statistics_from_batches", "beam_options", "statistics_with_beam", "load_statistics",
    # dates and timestamps as integers with a time_domain
    "UNIX_DAYS", "UNIX_SECONDS", "time_format", "time_columns", "mark_time_domains",
    # distances and comparators
    "L_INFTY", "JENSEN_SHANNON_DIVERGENCE", "FeatureDistance", "feature_distances",
    "set_comparators", "check_thresholds",
    "PSI", "WASSERSTEIN_NORMED", "KS", "CHI_SQUARED", "FeatureMeasures", "feature_measures",
    # readable views
    "anomaly_reasons", "feature_summaries",
]
