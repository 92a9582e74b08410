"""The monitoring report (``report.json``): its format, its writer and its reader.

``monitor`` writes it into its ``drift_report`` artifact; ``alert`` and ``retrain`` (and a
team's own steps) read it through :func:`read_report`. The producer owns its artifact's
reader, as TFX's StatisticsGen does (``tfx/components/statistics_gen/stats_artifact_utils.py``
``load_statistics`` reads its artifact; SchemaGen's executor imports it), so the
consumers never depend on the monitor's core and its TensorFlow/TFDV imports.

Light: stdlib only at import time (the I/O layer is imported inside the functions).

The document, ``kind`` :data:`KIND`, ``version`` :data:`VERSION`:

=====================  ===================================================================
key                    value
=====================  ===================================================================
``drift_detected``     true when there is any finding
``decision_rule``      :data:`DECISION_RULE`, in words
``reasons``            one line per finding (``findings[*].message``)
``findings``           :class:`Finding` dicts: ``kind`` (:data:`SKEW`, :data:`DRIFT`,
                       :data:`ANOMALY`), ``feature``, ``message``, ``metric``, ``value``,
                       ``threshold`` (a test's finding: ``metric`` KS or CHI_SQUARED,
                       ``value`` its p-value, ``threshold`` the p-value it is below)
``decision``           how features are judged: ``decide_by``, ``p_value``, ``min_rows``,
                       ``test_max_rows`` (version 2)
``model``              ``name``, ``ref`` (as asked), ``version`` (resolved), ``uri``,
                       ``registry``, ``label_column``
``batch``              ``rows``, ``splits`` (rows per split)
``anomalies``          the batch's schema anomalies (SERVING environment), as text
``skew`` / ``drift``   ``baseline``, ``default_threshold``, ``thresholds``, ``features``
                       (every feature: :class:`FeatureCheck` -- its distance and
                       threshold as in version 1, and since version 2 every measure,
                       the test's p-value, which measure decided and why); drift also
                       ``measured``
``monitoring_entry``   the registry's history entry ("" when not recorded), and
``monitoring_seq``     its number (null when not recorded)
``run_name``           the pipeline run; ``monitored_at`` (UTC, ISO 8601); ``seconds``
``check``              what was monitored: :data:`DRIFT_CHECK` (the data, by ``monitor``) or
                       :data:`PERFORMANCE_CHECK` (predictions against the labels that
                       arrived later, by ``performance``); absent in reports written before
                       it was added, which are drift reports (:func:`check_of`)
``degraded``           performance reports: true when a metric is worse than the registered
                       evaluation by more than allowed (or labels of unknown classes came)
``performance``        performance reports: the ``metrics``, the registered ``baseline``
                       metrics, ``max_degradation``, every metric's ``checks``, the join
                       (``rows``, unmatched and skipped rows, ``unknown_labels``)
=====================  ===================================================================

One format for both checks, so alert and retrain work on either without parsing two: in a
performance report ``drift_detected`` is ``degraded`` (a model that got worse on the labels is
the concept drift those steps act on), ``findings`` are :data:`PERFORMANCE` findings (``feature``
the metric, ``value`` its value, ``threshold`` the bound it crossed), ``batch`` the joined
rows, and ``skew`` / ``drift`` / ``anomalies`` are present and empty. :func:`headline` says which
in words.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Optional

KIND = "kfp-mlops.monitoring-report"
#: 2: ``decision``, and every measure, test and verdict per feature (version 1's keys kept).
VERSION = 2
REPORT_FILE = "report.json"
#: Finding kinds, as they appear in the report and in alerts.
SKEW, DRIFT, ANOMALY = "skew", "drift", "anomaly"
#: A performance finding: a metric worse than the registered evaluation allows, or labels of
#: classes the model does not know.
PERFORMANCE = "performance"
#: What a report (and a monitoring history entry, its ``kind``) is about.
DRIFT_CHECK, PERFORMANCE_CHECK = "drift", "performance"
#: The split of the registered statistics that serving data is compared with.
BASELINE_SPLIT = "train"
DECISION_RULE = ("drift_detected is true when any feature is judged skewed or drifted, or "
                 "the batch has a schema anomaly (SERVING environment). A feature with fewer "
                 "than min_rows values on a side is not judged; one with a threshold of its "
                 "own is judged by its distance (L_INFTY or JENSEN_SHANNON_DIVERGENCE) "
                 "against it; otherwise decide_by says: 'distance', 'test' (KS or "
                 "chi-squared, p-value below p_value divided by the number of features "
                 "tested), or 'auto' (the test when both sides have at most test_max_rows "
                 "values, else the distance)")
#: How a feature's verdict was reached (``FeatureCheck.decided_by``).
BY_DISTANCE, BY_TEST, NOT_JUDGED = "distance", "test", ""


class ReportError(ValueError):
    """A path does not hold a kfp-mlops monitoring report."""


@dataclasses.dataclass
class Finding:
    """One reason for ``drift_detected``: a skewed/drifted feature or a schema anomaly."""

    kind: str                      # SKEW, DRIFT or ANOMALY
    feature: str                   # "" for a dataset-level anomaly
    message: str
    metric: str = ""
    value: Optional[float] = None
    threshold: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class FeatureCheck:
    """Every measure of one feature (skew or drift), and the verdict.

    The first six fields are the distance TFDV reports (``statistics.FeatureDistance``,
    version 1 of the report); ``exceeded`` still means ``value > threshold``, and
    ``drifted`` is the verdict, whichever measure reached it.
    """

    feature: str
    metric: str                     # L_INFTY or JENSEN_SHANNON_DIVERGENCE
    value: Optional[float]
    threshold: float
    exceeded: bool
    note: str = ""
    #: measure name -> value: the distance, PSI, WASSERSTEIN_NORMED (numeric features),
    #: and the test statistic (KS: sup |F1 - F2|; CHI_SQUARED: chi^2)
    measures: Dict[str, Optional[float]] = dataclasses.field(default_factory=dict)
    test: str = ""                  # KS or CHI_SQUARED
    p_value: Optional[float] = None
    p_value_threshold: Optional[float] = None   # when the test decided
    approximate: bool = False       # numeric measures from quantiles, not values
    rows: Optional[int] = None      # values on the smaller side
    decided_by: str = NOT_JUDGED    # BY_DISTANCE, BY_TEST, or NOT_JUDGED
    drifted: bool = False
    reason: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def document(result) -> Dict[str, Any]:
    """The report of a monitoring run (``monitor.core.MonitorResult``) as ``report.json``
    holds it: decision, findings, every feature's distances."""
    return {
        "kind": KIND,
        "version": VERSION,
        "check": DRIFT_CHECK,
        "drift_detected": result.drift_detected,
        "decision_rule": DECISION_RULE,
        "reasons": result.reasons,
        "findings": [f.to_dict() for f in result.findings],
        "model": {"name": result.model_name, "ref": result.model_ref,
                  "version": result.model_version, "uri": result.model_uri,
                  "registry": result.registry_uri, "label_column": result.label_column},
        "batch": {"rows": result.rows, "splits": dict(result.batch_splits)},
        "anomalies": list(result.anomalies),
        "decision": dict(getattr(result, "decision", None) or {}),
        "skew": {"baseline": f"registered statistics, split {BASELINE_SPLIT!r}",
                 "default_threshold": result.skew_threshold,
                 "thresholds": dict(result.skew_thresholds),
                 "features": [d.to_dict() for d in result.skew]},
        "drift": {"baseline": result.drift_baseline,
                  "measured": bool(result.drift_baseline),
                  "default_threshold": result.drift_threshold,
                  "thresholds": dict(result.drift_thresholds),
                  "features": [d.to_dict() for d in result.drift]},
        "monitoring_entry": result.monitoring_entry,
        "monitoring_seq": result.monitoring_seq,
        "run_name": result.run_name,
        "monitored_at": result.monitored_at,
        "seconds": round(result.seconds, 3),
    }


def performance_document(result) -> Dict[str, Any]:
    """The report of a performance monitoring run (``performance.core.PerformanceResult``)
    in the same format: the keys alert and retrain read, the drift sections empty, and the
    ``performance`` section."""
    return {
        "kind": KIND,
        "version": VERSION,
        "check": PERFORMANCE_CHECK,
        "drift_detected": result.degraded,
        "degraded": result.degraded,
        "decision_rule": PERFORMANCE_RULE,
        "reasons": result.reasons,
        "findings": [f.to_dict() for f in result.findings],
        "model": {"name": result.model_name, "ref": result.model_ref,
                  "version": result.model_version, "uri": result.model_uri,
                  "registry": result.registry_uri, "label_column": result.label_column},
        "batch": {"rows": result.rows, "splits": {}},
        "anomalies": [],
        "decision": {"min_rows": result.min_rows,
                     "max_degradation": dict(result.max_degradation)},
        "skew": {"baseline": "", "default_threshold": None, "thresholds": {}, "features": []},
        "drift": {"baseline": None, "measured": False, "default_threshold": None,
                  "thresholds": {}, "features": []},
        "performance": result.performance_json(),
        "monitoring_entry": result.monitoring_entry,
        "monitoring_seq": result.monitoring_seq,
        "run_name": result.run_name,
        "monitored_at": result.monitored_at,
        "seconds": round(result.seconds, 3),
    }


#: The decision of a performance report, in words.
PERFORMANCE_RULE = ("degraded (and so drift_detected) is true when a metric of the predictions "
                    "scored against the labels that arrived later is worse than the scoring "
                    "version's registered evaluation by more than max_degradation[metric] (an "
                    "absolute amount; default: the main metric may not get worse at all), or "
                    "when labels name classes the model does not know. A metric that cannot "
                    "be computed on the batch (e.g. AUC with one class present) is not judged.")


def check_of(report: Dict[str, Any]) -> str:
    """:data:`DRIFT_CHECK` or :data:`PERFORMANCE_CHECK`: what ``report`` monitored."""
    return report.get("check") or DRIFT_CHECK


def headline(report: Dict[str, Any]) -> str:
    """The decision in words: ``drift detected`` / ``no drift`` for a drift report,
    ``performance degraded`` / ``no performance degradation`` for a performance one."""
    detected = bool(report.get("drift_detected"))
    if check_of(report) == PERFORMANCE_CHECK:
        return "performance degraded" if detected else "no performance degradation"
    return "drift detected" if detected else "no drift"


def write_report(report_dir: str, result) -> str:
    """Writes :func:`document` of ``result`` to ``<report_dir>/report.json``; its path
    (:func:`performance_document` for a performance result)."""
    from kfp_mlops.components._shared import io

    path = os.path.join(report_dir, REPORT_FILE)
    is_performance = getattr(result, "check", DRIFT_CHECK) == PERFORMANCE_CHECK
    io.write_json(path, performance_document(result) if is_performance else document(result))
    return path


def read_report(report_dir: str) -> Dict[str, Any]:
    """The ``report.json`` a monitor run wrote (a directory holding it, or the file).

    Raises:
        ReportError: ``report_dir`` holds no ``report.json``, or one of another kind.
    """
    from kfp_mlops.components._shared import io

    path = report_dir if report_dir.endswith(".json") else os.path.join(report_dir, REPORT_FILE)
    if not os.path.isfile(path):
        raise ReportError(f"{report_dir!r} is not a monitoring report: {REPORT_FILE} is "
                          "missing")
    report = io.read_json(path)
    if not isinstance(report, dict) or report.get("kind") != KIND:
        raise ReportError(f"{path!r} is not a kfp-mlops monitoring report: expected "
                          f"\"kind\": {KIND!r}")
    return report
