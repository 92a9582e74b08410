"""Monitor a batch of serving data against a registered model, with TFDV.

Plain Python in, plain Python out (no kfp). For one batch (every row of every split of a
kfp-mlops dataset artifact) and one model version of the registry push wrote:

1. batch statistics, streamed through TFDV's combiners (memory flat in the number of rows);
2. schema anomalies of the batch against the version's schema in the SERVING environment
   (the label is not expected in serving data);
3. training-serving skew of EVERY feature against the version's baseline statistics (the
   train split push registered), and drift of EVERY feature against the previous batch
   monitored for the same version (from the registry's monitoring history), when there is
   one: L-infinity distance for categorical features, Jensen-Shannon divergence for numeric
   ones, a default threshold and per-feature overrides; and from the same statistics PSI,
   normalised Wasserstein distance (numeric features) and a two-sample test, KS for numeric
   and chi-squared for categorical features (``statistics.feature_measures``);
4. per feature, a verdict (:func:`judge`): not judged below ``min_rows`` values; by its
   distance when it has a threshold of its own; else by ``decide_by``: the test on small
   samples and the distance on large ones (``auto``, Evidently's rule), or always one;
5. a decision: ``drift_detected`` is true when there is any *finding* -- a feature judged
   skewed or drifted, or a schema anomaly of the batch -- with one reason per finding;
6. the batch statistics recorded in the registry's monitoring history of that version, so
   the next batch's drift is measured against this one.

Bad input (an unknown model or version, a batch with none of the model's features, an
empty batch, bad thresholds) raises before anything is written: no output and no registry
entry.

Outputs use TFX's layout: ``Split-serving/FeatureStats.pb`` (``tfdv.load_stats_binary``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from kfp_mlops.components._shared import html_report
from kfp_mlops.components._shared.statistics import DEFAULT_THRESHOLD
from kfp_mlops.components.monitor import report as monitoring_report
from kfp_mlops.components.monitor.report import (
    ANOMALY, BY_DISTANCE, BY_TEST, DRIFT, SKEW, FeatureCheck, Finding)

logger = logging.getLogger(__name__)

#: The split name of the batch statistics (``Split-serving/FeatureStats.pb``).
SERVING_SPLIT = "serving"
#: The split of the registered statistics that serving data is compared with.
BASELINE_SPLIT = monitoring_report.BASELINE_SPLIT
DEFAULT_BATCH_ROWS = 65_536
CHAMPION = "champion"
#: How features are judged (``decide_by``): by sample size, by the distance, by the test.
AUTO, DISTANCE, TEST = "auto", "distance", "test"
DECIDE_BY = (AUTO, DISTANCE, TEST)
#: The family-wise significance level of the tests of one comparison (Evidently's 0.95
#: confidence, evidently/legacy/calculations/stattests/registry.py, StatTest's default).
DEFAULT_P_VALUE = 0.05
#: Fewer values than this on a side: the feature is not judged ("not enough rows").
DEFAULT_MIN_ROWS = 30
#: ``auto``: tests when both sides have at most this many values, else the distance
#: (Evidently's ``_get_default_stattest``, stattests/registry.py: 1000 reference rows).
TEST_MAX_ROWS = 1000


class MonitorError(ValueError):
    """The model reference or the batch is not something monitoring can compare."""


@dataclasses.dataclass
class MonitorResult:
    """What :func:`monitor` measured and decided."""

    drift_detected: bool
    findings: List[Finding]
    model_name: str
    model_ref: str                          # what was asked: an alias, a number, "latest"
    model_version: str                      # what it resolved to
    model_uri: str
    registry_uri: str
    rows: int
    batch_splits: Dict[str, int]
    label_column: str
    anomalies: List[str]
    skew: List[Any]                         # statistics.FeatureDistance, every feature
    drift: List[Any]                        # idem; [] when there is no previous batch
    drift_baseline: Optional[Dict[str, Any]]  # the previous monitoring entry compared with
    skew_threshold: float
    skew_thresholds: Dict[str, float]
    drift_threshold: float
    drift_thresholds: Dict[str, float]
    decision: Dict[str, Any] = dataclasses.field(default_factory=dict)  # decide_by, ...
    monitoring_entry: str = ""              # the registry's history entry ("" if not recorded)
    monitoring_seq: Optional[int] = None
    run_name: str = ""
    monitored_at: str = ""
    seconds: float = 0.0

    @property
    def reasons(self) -> List[str]:
        return [f.message for f in self.findings]

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @staticmethod
    def _top(distances):
        measured = [d for d in distances if d.value is not None]
        return max(measured, key=lambda d: d.value) if measured else None

    def metrics(self) -> Dict[str, float]:
        """Numbers for a KFP ``Metrics`` artifact: one per feature and the counts."""
        out: Dict[str, float] = {
            "drift_detected": int(self.drift_detected),
            "rows": self.rows,
            "finding_count": len(self.findings),
            "anomaly_count": self.count(ANOMALY),
            "skewed_feature_count": self.count(SKEW),
            "drifted_feature_count": self.count(DRIFT),
            "features_measured": sum(1 for d in self.skew if d.value is not None),
        }
        top_skew, top_drift = self._top(self.skew), self._top(self.drift)
        out["max_skew"] = float(top_skew.value) if top_skew else 0.0
        if self.drift:
            out["max_drift"] = float(top_drift.value) if top_drift else 0.0
        for d in self.skew:
            if d.value is not None:
                out[f"skew/{d.feature}"] = float(d.value)
        for d in self.drift:
            if d.value is not None:
                out[f"drift/{d.feature}"] = float(d.value)
        return out

    def metadata(self) -> Dict[str, Any]:
        """JSON-serialisable metadata for the output artifacts."""
        top_skew, top_drift = self._top(self.skew), self._top(self.drift)
        out = {
            "drift_detected": self.drift_detected,
            "reasons": self.reasons,
            "finding_count": len(self.findings),
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_ref": self.model_ref,
            "model_uri": self.model_uri,
            "registry": self.registry_uri,
            "rows": self.rows,
            "max_skew_feature": top_skew.feature if top_skew else "",
            "max_drift_feature": top_drift.feature if top_drift else "",
            "monitoring_entry": self.monitoring_entry,
        }
        # Absent, not null, when there is no value: the Kubeflow launcher cannot record a
        # top-level null (kubeflow/pipelines backend/src/v2/metadata/converter.go,
        # StructValueToMLMDValue); see kfp_mlops.pipelines.launcher_contract.
        compared_with = (self.drift_baseline or {}).get("seq")
        if compared_with is not None:   # a first monitored batch has nothing to compare with
            out["drift_compared_with"] = compared_with
        if self.monitoring_seq is not None:     # not recorded in the registry's history
            out["monitoring_seq"] = self.monitoring_seq
        return out

    def to_json(self) -> Dict[str, Any]:
        """The whole report (``report.json``): decision, findings, every feature's distances
        (:func:`kfp_mlops.components.monitor.report.document`)."""
        return monitoring_report.document(self)


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------

def check_settings(model_version: str = CHAMPION,
                   skew_threshold: float = DEFAULT_THRESHOLD,
                   skew_thresholds: Optional[Mapping[str, float]] = None,
                   drift_threshold: float = DEFAULT_THRESHOLD,
                   drift_thresholds: Optional[Mapping[str, float]] = None,
                   decide_by: str = AUTO, p_value: float = DEFAULT_P_VALUE,
                   min_rows: int = DEFAULT_MIN_ROWS) -> None:
    """Raises :class:`MonitorError` naming every setting that is wrong whatever the data:
    a ``model_version`` the registry cannot look up, a threshold that is not a finite number
    >= 0 (feature names are checked against the model's schema later), a ``decide_by``
    not in :data:`DECIDE_BY`, a ``p_value`` not strictly between 0 and 1, a negative
    ``min_rows``."""
    from kfp_mlops.components._shared import checks
    from kfp_mlops.components._shared import registry as reg

    problems = []
    try:
        reg.check_version_ref(model_version)
    except reg.RegistryError as e:
        problems.append(str(e))
    problems += [checks.distance_threshold_problem("skew_threshold", skew_threshold),
                 *checks.distance_thresholds_problems("skew_thresholds", skew_thresholds),
                 checks.distance_threshold_problem("drift_threshold", drift_threshold),
                 *checks.distance_thresholds_problems("drift_thresholds", drift_thresholds)]
    if decide_by not in DECIDE_BY:
        problems.append(f"decide_by must be one of {list(DECIDE_BY)}, got {decide_by!r}")
    if isinstance(p_value, bool) or not isinstance(p_value, (int, float)) \
            or not 0.0 < float(p_value) < 1.0:
        problems.append(f"p_value must be a number strictly between 0 and 1, got {p_value!r}")
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        problems.append(f"min_rows must be a whole number >= 0, got {min_rows!r}")
    checks.raise_all(problems, MonitorError)


def _batch_splits(dataset_dir: str) -> Dict[str, int]:
    """Rows of every split present; raises when the batch holds no row."""
    from kfp_mlops.components._shared import dataset as ds

    ds.read_info(dataset_dir)  # raises DatasetError for something that is not a dataset
    splits = {s: ds.num_rows(dataset_dir, s) for s in ds.available_splits(dataset_dir)}
    if not sum(splits.values()):
        raise MonitorError(f"the serving batch {dataset_dir!r} is empty: its splits "
                           f"{splits or '(none)'} hold no rows; expected at least one row")
    return splits


def _resolve(registry_uri: str, model_name: str, model_version: str):
    from kfp_mlops.components._shared import registry as reg

    registry = reg.open_registry(registry_uri)
    try:
        return registry, registry.resolve(model_name, model_version or CHAMPION)
    except reg.ModelNotFoundError as e:
        raise MonitorError(f"model_name {model_name!r} is not in the registry "
                           f"{registry_uri!r}: {e}") from e
    except reg.VersionNotFoundError as e:
        raise MonitorError(f"model_version {model_version!r} of model {model_name!r} is "
                           f"not in the registry {registry_uri!r}: {e}") from e


def load_schema(path: str):
    """The registered schema at ``path`` (:func:`_shared.schema.read_schema`: local, ``gs://``
    or ``s3://``); a missing or unreadable one is a :class:`MonitorError`."""
    from kfp_mlops.components._shared.schema import SchemaError, read_schema

    try:
        return read_schema(path, "the registered schema")
    except SchemaError as e:
        raise MonitorError(str(e)) from e


def load_registered_statistics(uri: str, name: str):
    """A statistics file of the registry (local, ``gs://`` or ``s3://``), read from a local
    copy when it is remote."""
    from kfp_mlops.components._shared import io
    from kfp_mlops.components._shared import statistics as tfdv_stats

    with io.local_copy(uri) as path:
        return tfdv_stats.load_statistics(path, name)


def _stats_file(statistics_dir: str, split: str) -> str:
    from kfp_mlops.components._shared import io
    from kfp_mlops.components._shared import statistics as tfdv_stats

    return io.join(statistics_dir, tfdv_stats.SPLIT_PREFIX + split, tfdv_stats.STATS_FILE)


def serving_schema(schema, label_column: str = ""):
    """The schema with TRAINING/SERVING environments, the label kept out of SERVING.

    Schemas written by ``validate`` already are; a curated schema without environments
    gets them here, so a serving batch without its label is not an anomaly.
    """
    from kfp_mlops.components._shared.schema import add_environments

    return add_environments(schema, label_column)


def _baseline_path(statistics_dir: str) -> str:
    from kfp_mlops.components._shared import io

    path = _stats_file(statistics_dir, BASELINE_SPLIT)
    if not io.isfile(path):
        raise MonitorError(f"the registered baseline statistics {path!r} do not exist "
                           f"(expected Split-{BASELINE_SPLIT}/FeatureStats.pb in "
                           f"{statistics_dir!r})")
    return path


def _previous_batch(history: Sequence[Mapping[str, Any]]):
    """The newest history entry with statistics, and its statistics file (or None, "")."""
    from kfp_mlops.components._shared import io

    for entry in reversed(list(history)):
        stats_dir = entry.get("statistics_path") or ""
        if not stats_dir:
            continue
        path = _stats_file(stats_dir, SERVING_SPLIT)
        if io.isfile(path):
            return entry, path
        logger.warning("monitoring entry %s has no %s; skipped", entry.get("entry"), path)
    return None, ""


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------

def batch_statistics(dataset_dir: str, splits: Sequence[str], options=None,
                     skip_columns: Sequence[str] = (), batch_rows: int = DEFAULT_BATCH_ROWS):
    """Statistics of every row of every split, as one dataset named ``serving``."""
    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components._shared import statistics as tfdv_stats

    total = sum(ds.num_rows(dataset_dir, s) for s in splits)
    started = last_log = time.time()
    with tfdv_stats.statistics_builder(options, skip_columns) as builder:
        for split in splits:
            for batch in ds.iter_batches(dataset_dir, split, batch_rows=batch_rows):
                builder.add(batch)
                if time.time() - last_log > 30:
                    last_log = time.time()
                    logger.info("batch statistics: %d/%d rows (%.0f rows/s)", builder.num_rows,
                                total, builder.num_rows / (last_log - started))
        return builder.result(SERVING_SPLIT)


# --------------------------------------------------------------------------------------
# The whole monitoring run
# --------------------------------------------------------------------------------------

def monitor(dataset_dir: str, registry_uri: str, model_name: str, statistics_dir: str,
            report_dir: str, report_path: str, model_version: str = CHAMPION,
            skew_threshold: float = DEFAULT_THRESHOLD,
            skew_thresholds: Optional[Mapping[str, float]] = None,
            drift_threshold: float = DEFAULT_THRESHOLD,
            drift_thresholds: Optional[Mapping[str, float]] = None,
            record_history: bool = True, run_name: str = "",
            batch_rows: int = DEFAULT_BATCH_ROWS, decide_by: str = AUTO,
            p_value: float = DEFAULT_P_VALUE,
            min_rows: int = DEFAULT_MIN_ROWS) -> MonitorResult:
    """Compares a serving batch with a registered model version's schema and statistics.

    Args:
        dataset_dir: the serving batch: a kfp-mlops dataset artifact; every row of every
            split present is monitored, and the label may be absent.
        registry_uri: the registry push wrote (local path, ``file://``, ``gs://``,
            ``s3://``, ``/gcs/`` or ``vertex://``).
        model_name: the registered model.
        statistics_dir: output directory: ``Split-serving/FeatureStats.pb``.
        report_dir: output directory: ``report.json`` (the whole report, see
            :meth:`MonitorResult.to_json`).
        report_path: output HTML file.
        model_version: a version number, an alias (default ``champion``) or ``latest``.
        skew_threshold: default training-serving skew threshold of every feature.
        skew_thresholds: per-feature skew thresholds.
        drift_threshold: default drift threshold (against the previous monitored batch).
        drift_thresholds: per-feature drift thresholds.
        record_history: record the batch statistics in the version's monitoring history.
        run_name: the pipeline run, recorded in the history.
        batch_rows: rows per batch of the statistics.
        decide_by: how a feature without a threshold of its own is judged: ``auto`` (the
            test -- KS / chi-squared -- when both sides have at most 1000 values, the
            distance beyond), ``distance`` (L-infinity / Jensen-Shannon against the
            thresholds: the decision before version 2 of the report) or ``test``.
        p_value: family-wise significance level of the tests of one comparison: a tested
            feature is judged skewed (drifted) when its p-value is below ``p_value``
            divided by the number of features tested (Bonferroni).
        min_rows: a feature with fewer values on a side is not judged ("not enough rows
            to judge"); 0 judges every feature.

    Returns:
        A :class:`MonitorResult`.

    Raises:
        MonitorError / RegistryError / DatasetError: bad input; nothing is written (no
            output and no registry entry).
    """
    import tensorflow_data_validation as tfdv

    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components._shared import io
    from kfp_mlops.components._shared import statistics as tfdv_stats
    from kfp_mlops.components._shared import schema as schema_io
    from kfp_mlops.components._shared.schema import SERVING

    started = time.time()
    check_settings(model_version, skew_threshold, skew_thresholds, drift_threshold,
                   drift_thresholds, decide_by, p_value, min_rows)
    skew_threshold, drift_threshold = float(skew_threshold), float(drift_threshold)
    skew_thresholds = {k: float(v) for k, v in dict(skew_thresholds or {}).items()}
    drift_thresholds = {k: float(v) for k, v in dict(drift_thresholds or {}).items()}
    if batch_rows <= 0:
        raise MonitorError(f"batch_rows must be positive, got {batch_rows}")

    # 1. everything that can be wrong with the input, before anything is computed or written
    splits = _batch_splits(dataset_dir)
    registry, version = _resolve(registry_uri, model_name, model_version)
    schema = load_schema(version.schema_path)
    label = schema_io.label_of(schema, version.lineage)
    schema = serving_schema(schema, label)
    baseline_path = _baseline_path(version.statistics_dir)
    features = [f.name for f in schema.feature]
    tfdv_stats.check_thresholds(features, skew_thresholds)
    tfdv_stats.check_thresholds(features, drift_thresholds, what="drift_thresholds")
    present = [s for s, n in splits.items() if n]
    arrow = ds.arrow_schema(dataset_dir, present[0])
    model_features = [f for f in features if f != label]
    shared = [c for c in arrow.names if c in model_features]
    if not shared:
        raise MonitorError(
            f"the serving batch {dataset_dir!r} has none of the features of model "
            f"{model_name!r} version {version.version}: its columns are {list(arrow.names)}, "
            f"the model's features are {model_features}")
    missing = [f for f in model_features if f not in arrow.names]
    if missing:
        logger.warning("the batch lacks model features %s (a schema anomaly)", missing)
    history = registry.monitoring_history(model_name, version.version)
    previous, previous_path = _previous_batch(history)

    # 2. statistics, anomalies and distances
    skip = tfdv_stats.unsupported_columns(arrow)
    if skip:
        logger.warning("columns %s have types TFDV cannot describe; they are left out", skip)
    options = tfdv_stats.stats_options(tfdv_stats.bool_columns(arrow), schema)
    stats = batch_statistics(dataset_dir, present, options, skip, batch_rows)
    rows = int(stats.datasets[0].num_examples)
    baseline = load_registered_statistics(baseline_path, BASELINE_SPLIT)
    logger.info("batch: %d rows from splits %s; model %r version %s (%s); baseline %s",
                rows, present, model_name, version.version, model_version, baseline_path)

    anomalies = tfdv.validate_statistics(stats, schema, environment=SERVING)
    _allow_label(anomalies, label)
    anomaly_reasons = tfdv_stats.anomaly_reasons(anomalies)
    decision = {"decide_by": decide_by, "p_value": float(p_value), "min_rows": int(min_rows),
                "test_max_rows": TEST_MAX_ROWS}
    unjudged = _unjudged_features(schema)
    skew = judge(tfdv_stats.feature_distances(baseline, stats, schema, skew_threshold,
                                              skew_thresholds, mode="skew"),
                 tfdv_stats.feature_measures(baseline, stats, schema), skew_thresholds,
                 "skew_thresholds", unjudged=unjudged, **decision)
    drift, drift_baseline = [], None
    if previous is not None:
        previous_stats = load_registered_statistics(previous_path, "previous")
        drift = judge(tfdv_stats.feature_distances(previous_stats, stats, schema,
                                                   drift_threshold, drift_thresholds,
                                                   mode="drift"),
                      tfdv_stats.feature_measures(previous_stats, stats, schema),
                      drift_thresholds, "drift_thresholds", unjudged=unjudged,
                      **decision)
        drift_baseline = {"seq": previous.get("seq"), "entry": previous.get("entry", ""),
                          "recorded_at": previous.get("recorded_at", ""),
                          "run_name": previous.get("run_name", ""),
                          "rows": previous.get("rows")}
    else:
        logger.info("no earlier monitored batch of %r version %s: drift is not measured",
                    model_name, version.version)
    for distances in (skew, drift):
        for d in distances:
            if d.feature == label and d.value is None:
                d.note = d.reason = "the label: not expected in serving data"

    findings = _findings(anomalies, skew, drift)
    result = MonitorResult(
        drift_detected=bool(findings), findings=findings, model_name=model_name,
        model_ref=str(model_version or CHAMPION), model_version=str(version.version),
        model_uri=version.uri, registry_uri=registry_uri, rows=rows,
        batch_splits={s: int(n) for s, n in splits.items()}, label_column=label,
        anomalies=anomaly_reasons, skew=skew, drift=drift, drift_baseline=drift_baseline,
        skew_threshold=skew_threshold, skew_thresholds=skew_thresholds,
        drift_threshold=drift_threshold, drift_thresholds=drift_thresholds,
        decision=decision, run_name=run_name,
        monitored_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))

    # 3. outputs, then the registry entry (last: a failure before it leaves no entry)
    with contextlib.ExitStack() as stack:
        stats_out = stack.enter_context(io.output_dir(statistics_dir))
        report_out = stack.enter_context(io.output_dir(report_dir))
        io.write_bytes(os.path.join(tfdv_stats.split_dir(stats_out, SERVING_SPLIT),
                                    tfdv_stats.STATS_FILE), stats.SerializeToString())
        if record_history:
            record = {"kind": monitoring_report.DRIFT_CHECK,
                      "run_name": run_name, "rows": rows, "model_ref": result.model_ref,
                      "drift_detected": result.drift_detected, "reasons": result.reasons,
                      "skew": {d.feature: d.value for d in skew},
                      "drift": {d.feature: d.value for d in drift},
                      "skew_checks": {d.feature: _history_check(d) for d in skew},
                      "drift_checks": {d.feature: _history_check(d) for d in drift},
                      "drift_compared_with": (drift_baseline or {}).get("seq"),
                      "anomalies": anomaly_reasons}
            result.monitoring_entry = registry.record_monitoring(
                model_name, version.version, record, statistics_path=stats_out)
            result.monitoring_seq = _seq_of(result.monitoring_entry)
        result.seconds = time.time() - started
        monitoring_report.write_report(report_out, result)
        io.write_text(report_path, render_report(result, baseline, stats, history=history))
    logger.info("monitoring of %r version %s: %s in %.1fs%s", model_name, version.version,
                "DRIFT DETECTED" if result.drift_detected else "no drift", result.seconds,
                "" if not findings else ": " + "; ".join(result.reasons))
    return result


def _allow_label(anomalies, label: str) -> None:
    """A serving batch that carries its label (ground truth joined later) is not anomalous.

    TFDV reports the label, kept out of the SERVING environment, as a new column when it is
    there; that one anomaly is dropped (the label's skew and drift are still measured).
    """
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    info = anomalies.anomaly_info.get(label) if label else None
    if info is not None and info.reason and all(
            r.type == anomalies_pb2.AnomalyInfo.SCHEMA_NEW_COLUMN for r in info.reason):
        del anomalies.anomaly_info[label]


def _seq_of(entry: str) -> Optional[int]:
    head = os.path.basename(entry.rstrip("/")).split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _findings(anomalies, skew, drift) -> List[Finding]:
    out: List[Finding] = []
    for name in sorted(anomalies.anomaly_info):
        info = anomalies.anomaly_info[name]
        out.append(Finding(ANOMALY, name, _anomaly_text(info, name)))
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        out.append(Finding(ANOMALY, "", f"schema anomaly of the batch: "
                                        f"{info.short_description} ({info.description})"))
    for kind, distances, what in ((SKEW, skew, "training-serving skew"),
                                  (DRIFT, drift, "drift since the previous batch")):
        for d in distances:
            if not getattr(d, "drifted", d.exceeded):
                continue
            if getattr(d, "decided_by", BY_DISTANCE) == BY_TEST:
                out.append(Finding(kind, d.feature, f"{what} of feature {d.feature!r}: "
                                   f"{d.test} test p-value {d.p_value:.3g} < "
                                   f"{d.p_value_threshold:.3g} ({d.reason})",
                                   d.test, float(d.p_value), float(d.p_value_threshold)))
            else:
                out.append(Finding(kind, d.feature,
                                   f"{what} of feature {d.feature!r}: {d.metric} "
                                   f"{d.value:.4f} > threshold {d.threshold:g}",
                                   d.metric, float(d.value), float(d.threshold)))
    return out


def _unjudged_features(schema) -> Dict[str, str]:
    """``{feature: why}``: the features whose change is no sign the model is failing.

    - a date or timestamp: every batch served after training is later than the training
      data, so its dates would raise an alarm (and a retraining) on every run;
    - a feature the schema keeps out of the model (validate's ID-like columns,
      ``_shared.schema.is_kept_out``): the model does not read it, and an ID's serving values
      are all new by nature.
    """
    from kfp_mlops.components._shared import schema as schema_io

    found = {}
    for f in schema.feature:
        if schema_io.is_kept_out(f):
            found[f.name] = "kept out of the model"
        elif f.HasField("time_domain"):
            found[f.name] = "a date or timestamp: later batches move it by nature"
    return found


def judge(distances, measures: Mapping[str, Any], own_thresholds: Mapping[str, float],
          thresholds_name: str = "thresholds", decide_by: str = AUTO,
          p_value: float = DEFAULT_P_VALUE, min_rows: int = DEFAULT_MIN_ROWS,
          test_max_rows: int = TEST_MAX_ROWS,
          unjudged: Optional[Mapping[str, str]] = None) -> List[FeatureCheck]:
    """Every feature's measures and verdict, one :class:`FeatureCheck` per distance.

    In turn: a feature without a distance (absent on a side) is not judged; one with fewer
    than ``min_rows`` values on a side is not judged ("not enough rows to judge"); one in
    ``own_thresholds`` is judged by its distance against that threshold (it was set for
    it); one in ``unjudged`` (:func:`_unjudged_features`: feature -> why) without one is
    measured and shown but not judged; the others by ``decide_by``: ``distance``, ``test``, or ``auto`` -- the test when
    both sides have at most ``test_max_rows`` values, the distance beyond. Evidently's
    default rule looks at the reference's rows only (``_get_default_stattest``); here the
    smaller side counts, since it bounds what a test can resolve (KS's effective size
    n m / (n + m) is below both), and the baseline is usually the larger one. A tested
    feature is judged skewed/drifted when its p-value is below ``p_value`` / (features
    tested): Bonferroni, so that a batch from the baseline's own distribution raises an
    alarm on any feature in at most ``p_value`` of the batches, as few as with the
    distances, where a test at 0.05 per feature would on about 1 - 0.95^k of them.
    """
    from kfp_mlops.components._shared import statistics as tfdv_stats

    checks: List[FeatureCheck] = []
    for d in distances:
        c = FeatureCheck(d.feature, d.metric, d.value, d.threshold, d.exceeded, d.note,
                         measures={d.metric: d.value})
        m = measures.get(d.feature)
        if m is not None:
            c.measures[tfdv_stats.PSI] = m.psi
            if m.kind == "numeric":
                c.measures[tfdv_stats.WASSERSTEIN_NORMED] = m.wasserstein_normed
            c.measures[m.test] = m.test_statistic
            c.test, c.p_value, c.approximate = m.test, m.p_value, not m.exact
            c.rows = min(m.base_count, m.other_count)
        checks.append(c)
        if d.value is None:
            c.reason = d.note or "not measured"
        elif c.rows is not None and c.rows < min_rows:
            c.reason = (f"not enough rows to judge: {c.rows} values on the smaller side, at "
                        f"least {min_rows} needed (min_rows)")
        elif d.feature in own_thresholds:
            c.decided_by = BY_DISTANCE
            c.reason = f"its own threshold ({thresholds_name})"
        elif d.feature in (unjudged or {}):
            c.reason = (f"{unjudged[d.feature]}, so it is measured, not judged; give it a "
                        f"threshold in {thresholds_name} to watch it")
        elif decide_by == DISTANCE or c.p_value is None:
            c.decided_by = BY_DISTANCE
            c.reason = f"decide_by {decide_by!r}" if decide_by == DISTANCE else "no test"
        elif decide_by == TEST or c.rows <= test_max_rows:
            c.decided_by = BY_TEST
        else:
            c.decided_by = BY_DISTANCE
            c.reason = f"{c.rows} values > {test_max_rows}: the distance decides"
    tested = [c for c in checks if c.decided_by == BY_TEST]
    alpha = p_value / max(len(tested), 1)
    for c in checks:
        if c.decided_by == BY_DISTANCE:
            c.drifted = bool(c.exceeded)
            c.reason += (f": {c.metric} {c.value:.4f} {'>' if c.drifted else '<='} threshold "
                         f"{c.threshold:g}")
        elif c.decided_by == BY_TEST:
            c.p_value_threshold = alpha
            c.drifted = c.p_value < alpha
            size = (f"decide_by {TEST!r}" if decide_by == TEST
                    else f"{c.rows} values <= {test_max_rows}")
            c.reason = (f"{size}: the {c.test} test decides, p-value {c.p_value:.3g} "
                        f"{'<' if c.drifted else '>='} {alpha:.3g} = {p_value:g} / "
                        f"{len(tested)} features tested"
                        + ("; from quantiles, approximate" if c.approximate else ""))
    return checks


def _history_check(c) -> Dict[str, Any]:
    """What the monitoring history keeps of a feature's check (charts over time)."""
    return {"measures": dict(getattr(c, "measures", {})), "p_value": getattr(c, "p_value", None),
            "decided_by": getattr(c, "decided_by", ""), "drifted": getattr(c, "drifted", False)}


def _anomaly_text(info, name: str) -> str:
    short = info.short_description or "anomaly"
    detail = info.description or "; ".join(r.description for r in info.reason)
    return f"schema anomaly of feature {name!r}: {short}" + (f" ({detail})" if detail else "")


# --------------------------------------------------------------------------------------
# HTML report
# --------------------------------------------------------------------------------------

def report_data(result: MonitorResult, baseline_stats, batch_stats,
                facets: bool = True,
                history: Sequence[Mapping[str, Any]] = ()) -> Dict[str, Any]:
    """What the HTML report shows, as plain data (``templates/monitor.html.j2``);
    ``history``: the version's monitoring records before this batch, oldest first."""
    from kfp_mlops.components._shared import statistics as tfdv_stats

    base = {r["feature"]: r for r in tfdv_stats.feature_summaries(baseline_stats)}
    batch = {r["feature"]: r for r in tfdv_stats.feature_summaries(batch_stats)}
    drift = {d.feature: d for d in result.drift}
    features = []
    for d in result.skew:
        dr = drift.get(d.feature)
        features.append({
            "skew": d, "drift": dr,
            "hit": getattr(d, "drifted", d.exceeded) or (
                dr is not None and getattr(dr, "drifted", dr.exceeded)),
            "notes": "; ".join(n for n in (d.note, dr.note if dr else "") if n),
            "baseline": base.get(d.feature), "batch": batch.get(d.feature)})
    drift_baseline = None
    if result.drift_baseline:
        b = result.drift_baseline
        drift_baseline = {"seq": str(b.get("seq")), "recorded_at": str(b.get("recorded_at", "")),
                          "run_name": str(b.get("run_name") or "—")}
    facets_page = ""
    if facets:
        try:
            from tensorflow_data_validation.utils import display_util

            facets_page = display_util.get_statistics_html(batch_stats, baseline_stats,
                                                           lhs_name="serving", rhs_name="train")
        except Exception as err:  # the summary above does not depend on it
            logger.warning("facets view not embedded: %s", err)
    return {
        "model_name": result.model_name, "model_version": result.model_version,
        "model_ref": result.model_ref, "registry_uri": result.registry_uri,
        "monitored_at": result.monitored_at, "drift_detected": result.drift_detected,
        "rows": result.rows, "findings": [f.message for f in result.findings],
        "drift_baseline": drift_baseline, "features": features,
        "anomalies": list(result.anomalies),
        "batch_splits": [(s, n) for s, n in result.batch_splits.items() if n],
        "monitoring_entry": result.monitoring_entry,
        "monitoring_seq": str(result.monitoring_seq), "facets_page": facets_page,
        "figures": report_figures(result, baseline_stats, batch_stats, history),
    }


#: The distances of a monitoring record drawn over the history: (record key, what the
#: result holds it in, legend name). A new measure recorded per feature joins here.
HISTORY_SERIES = (("skew", "skew", "skew"), ("drift", "drift", "drift"))


def report_figures(result: MonitorResult, baseline_stats, batch_stats,
                   history: Sequence[Mapping[str, Any]] = ()) -> List[Dict[str, Any]]:
    """The report's charts, one figure per feature: its distribution in the training
    baseline and in this batch overlaid, and each distance over the monitoring history
    (the records before this batch, then this batch) with its threshold. Features with a
    finding first, then by skew; at most ``charts.MAX_FEATURE_FIGURES``."""
    from kfp_mlops.components._shared import charts

    base, batch = charts.distributions(baseline_stats), charts.distributions(batch_stats)
    # the drift entries: a performance entry of the same history measures no feature
    records = [h for h in history if isinstance(h, Mapping) and h.get(
        "kind", monitoring_report.DRIFT_CHECK) == monitoring_report.DRIFT_CHECK]
    this = str(result.monitoring_seq) if result.monitoring_seq is not None else "this batch"
    now = {key: {d.feature: d for d in getattr(result, attr)}
           for key, attr, _ in HISTORY_SERIES}
    hits = {f.feature for f in result.findings}
    order = sorted(result.skew, key=lambda d: (d.feature not in hits,
                                               -(d.value if d.value is not None else -1.0)))
    shown = order[:charts.MAX_FEATURE_FIGURES]
    figures = []
    for i, d in enumerate(shown):
        series = []
        for key, _, name in HISTORY_SERIES:
            current = now[key].get(d.feature)
            points = [(h.get("seq", j + 1), (h.get(key) or {}).get(d.feature))
                      for j, h in enumerate(records)]
            points.append((this, current.value if current is not None else None))
            if any(v is not None for _, v in points):
                metric = current.metric if current is not None else ""
                series.append({"name": f"{name} ({metric})" if metric else name,
                               "points": points,
                               "threshold": current.threshold if current is not None
                               else None})
        figures.append({"svg": charts.monitoring_figure(
            d.feature, [("training baseline", base.get(d.feature)),
                        ("this batch", batch.get(d.feature))], series, key=f"monitor-{i}"),
            "caption": d.feature + (" (finding)" if d.feature in hits else "")})
    note = (f"Left: the training baseline and this batch overlaid. Right: each distance over "
            f"the {len(records) + 1} monitored batches of this version, with its current "
            f"threshold (dashed).")
    if len(order) > len(shown):
        note += (f" {len(shown)} of {len(order)} features drawn, findings and the largest "
                 "skew first; the table above lists every feature.")
    return [{"title": "Charts", "note": note, "figures": figures}] if figures else []


def render_report(result: MonitorResult, baseline_stats, batch_stats, facets: bool = True,
                  history: Sequence[Mapping[str, Any]] = ()) -> str:
    """A self-contained HTML page: decision, findings, every feature's skew and drift."""
    return html_report.render("monitor.html.j2", **report_data(
        result, baseline_stats, batch_stats, facets, history))


def history_summary(registry_uri: str, model_name: str, model_version: str = CHAMPION
                    ) -> List[Dict[str, Any]]:
    """The monitoring history of a version, oldest first, as plain dicts (for people)."""
    from kfp_mlops.components._shared import registry as reg

    registry = reg.open_registry(registry_uri)
    version = registry.resolve(model_name, model_version)
    return [json.loads(json.dumps(h, default=str))
            for h in registry.monitoring_history(model_name, version.version)]
