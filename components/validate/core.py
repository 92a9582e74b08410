"""Validate a dataset with TensorFlow Data Validation: statistics, schema, anomalies, skew.

Plain Python in, plain Python out (no kfp). For each split of a kfp-mlops dataset artifact:

1. statistics, computed in process by TFDV's combiner generators over streamed Parquet
   batches (memory flat in the number of rows), or by a Beam pipeline when
   ``beam_pipeline_args`` is given (e.g. Dataflow for data beyond one machine);
2. a schema inferred from the train split (or a curated ``schema.pbtxt``), with TRAINING
   and SERVING environments (the label is not expected in SERVING) and skew comparators;
3. anomalies of every split against the schema in the TRAINING environment;
4. train/eval skew of EVERY feature (L-infinity for categorical, Jensen-Shannon divergence
   for numeric features) against a default threshold and per-feature overrides;
5. a decision: passed when no split has an anomaly and no feature is skewed beyond its
   threshold, with one reason per anomaly and per skewed feature.

ID-like columns (a name, a row number: see ``columns.py``) and ``drop_columns`` are kept out
of the model by the schema written (``lifecycle_stage: DISABLED`` with the reason); the
result, the artifacts' metadata and the report name each with its reason.

Outputs use TFX's layouts, so TFDV and TFX tools read them: ``Split-<split>/FeatureStats.pb``,
``schema.pbtxt``, ``Split-<split>/SchemaDiff.pb``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from kfp_mlops.components._shared import html_report
from kfp_mlops.components._shared.schema import SCHEMA_FILE
from kfp_mlops.components._shared.statistics import DEFAULT_THRESHOLD as DEFAULT_SKEW_THRESHOLD

logger = logging.getLogger(__name__)

SKEW_FILE = "skew.json"
DECISION_FILE = "decision.json"
DEFAULT_BATCH_ROWS = 65_536
#: How errors name a curated ``schema_path``.
CURATED = "curated schema"


@dataclasses.dataclass
class ValidationResult:
    """What :func:`validate` decided and wrote."""

    passed: bool
    reasons: List[str]
    rows: Dict[str, int]                      # split -> number of rows
    anomalies: Dict[str, List[str]]           # split -> one reason per anomalous feature
    skew: List[Any]                           # statistics.FeatureDistance, every feature
    schema_feature_count: int
    label_column: str
    schema_source: str                        # "inferred" or the curated schema's path
    statistics_backend: str                   # "in-process" or "beam"
    seconds: float = 0.0
    infinite_values: Dict[str, Dict[str, int]] = dataclasses.field(default_factory=dict)
    #: feature -> why the schema keeps it out of the model (ID-like, drop_columns, ...).
    kept_out: Dict[str, str] = dataclasses.field(default_factory=dict)
    #: feature -> why it is kept in although it looked ID-like (keep_columns).
    kept_in: Dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def splits(self) -> List[str]:
        return list(self.rows)

    @property
    def anomaly_count(self) -> int:
        return sum(len(v) for v in self.anomalies.values())

    def _max_skew(self):
        measured = [d for d in self.skew if d.value is not None]
        return max(measured, key=lambda d: d.value) if measured else None

    def metrics(self) -> Dict[str, Any]:
        """Scalars for a KFP ``Metrics`` artifact (every value a number except max_skew_feature)."""
        top = self._max_skew()
        out: Dict[str, Any] = {
            "passed": int(self.passed),
            "anomaly_count": self.anomaly_count,
            "max_skew": float(top.value) if top else 0.0,
            "max_skew_feature": top.feature if top else "",
            "skewed_feature_count": sum(1 for d in self.skew if d.exceeded),
            "schema_feature_count": self.schema_feature_count,
        }
        for split, n in self.rows.items():
            out[f"rows_{split}"] = n
        return out

    def metadata(self) -> Dict[str, Any]:
        """Metadata for the output artifacts (JSON-serialisable)."""
        return {
            "split_names": self.splits,
            "rows": dict(self.rows),
            "schema_feature_count": self.schema_feature_count,
            "label_column": self.label_column,
            "schema_source": self.schema_source,
            "passed": self.passed,
            "infinite_values": {s: dict(c) for s, c in self.infinite_values.items()},
            "kept_out_features": dict(self.kept_out),
            "kept_in_features": dict(self.kept_in),
        }


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------

def check_settings(skew_threshold: float = DEFAULT_SKEW_THRESHOLD,
                   skew_thresholds: Optional[Mapping[str, float]] = None,
                   keep_columns: Optional[Sequence[str]] = None,
                   drop_columns: Optional[Sequence[str]] = None,
                   label_column: str = "") -> None:
    """Raises ValueError naming every skew threshold that is not a finite number >= 0, and
    every problem of ``keep_columns`` / ``drop_columns`` (not lists of names, a name in both,
    the label dropped). The feature names of ``skew_thresholds`` and the column names are
    checked against the data later, before any statistics."""
    from kfp_mlops.components._shared import checks
    from kfp_mlops.components.validate import columns

    checks.raise_all([checks.distance_threshold_problem("skew_threshold", skew_threshold),
                      *checks.distance_thresholds_problems("skew_thresholds", skew_thresholds),
                      *columns.settings_problems(keep_columns, drop_columns, label_column)])


def _check_inputs(dataset_dir: str, label_column: str, schema_path: str,
                  skew_threshold: float, batch_rows: int, keep_columns: Sequence[str] = (),
                  drop_columns: Sequence[str] = ()):
    """(splits, label, curated schema or None); raises on the first bad input."""
    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components._shared.schema import read_schema

    info = ds.read_info(dataset_dir)
    splits = ds.available_splits(dataset_dir)
    if "train" not in splits:
        raise ds.DatasetError(f"dataset {dataset_dir!r} has no 'train' split (it has "
                              f"{splits or 'no splits'}); the schema is inferred from train")
    columns = list(ds.arrow_schema(dataset_dir, "train").names)
    label = label_column or info.get("label_column") or ""
    if label and label not in columns:
        where = "label_column" if label_column else f"{ds.INFO_FILE}'s label_column"
        raise ValueError(f"{where} {label!r} is not a column of dataset {dataset_dir!r}; "
                         f"columns are: {columns}")
    from kfp_mlops.components._shared import checks
    from kfp_mlops.components.validate import columns as cols

    checks.raise_all(cols.settings_problems(keep_columns, drop_columns, label) +
                     cols.unknown_columns_problems(columns, f"dataset {dataset_dir!r}",
                                                   keep_columns, drop_columns))
    curated = read_schema(schema_path, CURATED) if schema_path else None
    check_settings(skew_threshold)
    if batch_rows <= 0:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    return splits, label, curated


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------

def compute_statistics(dataset_dir: str, split: str, options=None,
                       batch_rows: int = DEFAULT_BATCH_ROWS, skip_columns: Sequence[str] = (),
                       workers: int = 0):
    """Statistics of one split: a ``DatasetFeatureStatisticsList`` whose single dataset is
    named ``split`` (see :func:`compute_split_statistics`)."""
    return compute_split_statistics(dataset_dir, [split], options, batch_rows, skip_columns,
                                    workers)[split]


def compute_split_statistics(dataset_dir: str, splits: Sequence[str], options=None,
                             batch_rows: int = DEFAULT_BATCH_ROWS,
                             skip_columns: Sequence[str] = (), workers: int = 0):
    """Statistics of each split, streamed in batches of ``batch_rows`` through TFDV's
    combiners on ``workers`` threads (default: one per core, at most four). The splits go
    through one pool of threads, so one split's merge and extraction overlap the next one's
    work; each split's statistics are the same as when it is computed alone, and the same for
    any number of workers up to the sketches' approximation.

    Returns split -> ``DatasetFeatureStatisticsList`` whose single dataset is named ``split``.
    """
    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components._shared import statistics as tfdv_stats

    if not splits:
        return {}
    if options is None:
        schema = ds.arrow_schema(dataset_dir, splits[0])
        options = tfdv_stats.stats_options(tfdv_stats.bool_columns(schema))
        skip_columns = tuple(skip_columns) + tuple(tfdv_stats.unsupported_columns(schema))
    totals = {s: ds.num_rows(dataset_dir, s) for s in splits}
    # Integer columns of a narrow range: their quantiles sketch is exact, so it can take
    # (value, count) pairs (see statistics.flat); known from each split's Parquet metadata.
    exact_ints = {s: tfdv_stats.exact_int_columns(ds.split_path(dataset_dir, s),
                                                  options.epsilon) for s in splits}
    logger.info("statistics of %s on %d threads, %s; exact integer quantiles for %s",
                list(splits), workers or tfdv_stats.default_workers(),
                "flat columns fed to TFDV's combiners" if tfdv_stats.fast_path_available()
                else "TFDV's general path (not the TFDV version the flat path was tested with)",
                {s: sorted(c) for s, c in exact_ints.items()})
    started, last_log = time.time(), time.time()
    # Smallest split first: the statistics of the small ones are extracted while the
    # workers go through the largest, so only the last extraction is not overlapped.
    with tfdv_stats.StatisticsPool(options, skip_columns, workers,
                                   exact_int_columns=exact_ints) as pool:
        for split in sorted(splits, key=lambda s: (totals[s], s)):
            total = totals[split]
            for batch in ds.iter_batches(dataset_dir, split, batch_rows=batch_rows):
                pool.add(split, batch)
                if time.time() - last_log > 30:
                    last_log = time.time()
                    done = pool.num_rows[split]
                    logger.info("statistics of %s: %d/%d rows (%.0f rows/s overall)", split,
                                done, total, sum(pool.num_rows.values()) / (last_log - started))
            pool.finish(split)
        results = pool.results()
    return {s: results[s] for s in splits}


def _statistics_options(dataset_dir: str, curated_schema):
    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components._shared import statistics as tfdv_stats

    arrow = ds.arrow_schema(dataset_dir, "train")
    skip = tfdv_stats.unsupported_columns(arrow)
    if skip:
        logger.warning("columns %s have types TFDV cannot describe; they are left out", skip)
    return tfdv_stats.stats_options(tfdv_stats.bool_columns(arrow), curated_schema), skip


def _all_statistics(dataset_dir: str, splits: Sequence[str], options, skip: Sequence[str],
                    statistics_dir: str, beam_pipeline_args: Sequence[str], batch_rows: int):
    """Statistics of every split, written into ``statistics_dir``; returns split -> stats."""
    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components._shared import io
    from kfp_mlops.components._shared import statistics as tfdv_stats

    paths = {s: os.path.join(tfdv_stats.split_dir(statistics_dir, s), tfdv_stats.STATS_FILE)
             for s in splits}
    result = {}
    if beam_pipeline_args:
        logger.info("computing statistics of %s with Beam: %s", list(splits),
                    list(beam_pipeline_args))
        for path in paths.values():
            os.makedirs(os.path.dirname(path), exist_ok=True)
        tfdv_stats.statistics_with_beam({s: ds.split_path(dataset_dir, s) for s in splits},
                                        paths, beam_pipeline_args, options, skip)
        for s in splits:
            result[s] = tfdv_stats.load_statistics(paths[s], s)
    else:
        started = time.time()
        result = compute_split_statistics(dataset_dir, splits, options, batch_rows, skip)
        logger.info("statistics of %s: %s rows in %.1fs", list(splits),
                    [result[s].datasets[0].num_examples for s in splits], time.time() - started)
    for s in splits:  # (re)written so that the dataset carries the split's name
        io.write_bytes(paths[s], result[s].SerializeToString())
    return result


# --------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------

def _mark_booleans(schema, bool_features: Sequence[str]) -> None:
    """Inference turns bool_domain INT features into a "0"/"1" string domain: restore it."""
    dropped = set()
    for feature in schema.feature:
        if feature.name in bool_features:
            if feature.domain:
                dropped.add(feature.domain)
                feature.ClearField("domain")
            feature.bool_domain.SetInParent()
    if dropped:
        keep = [d for d in schema.string_domain if d.name not in dropped]
        del schema.string_domain[:]
        schema.string_domain.extend(keep)


def prepare_schema(schema, label_column: str = "", skew_threshold: float = DEFAULT_SKEW_THRESHOLD,
                   skew_thresholds: Optional[Mapping[str, float]] = None):
    """Adds TRAINING/SERVING environments, keeps the label out of SERVING, sets comparators."""
    from kfp_mlops.components._shared import statistics as tfdv_stats
    from kfp_mlops.components._shared.schema import add_environments

    add_environments(schema, label_column)
    tfdv_stats.set_comparators(schema, skew_threshold, skew_thresholds, mode="skew")
    return schema


def infer_schema(train_stats, label_column: str = "", bool_features: Sequence[str] = (),
                 skew_threshold: float = DEFAULT_SKEW_THRESHOLD,
                 skew_thresholds: Optional[Mapping[str, float]] = None,
                 time_features: Optional[Mapping[str, str]] = None):
    """``tfdv.infer_schema`` of the train statistics, prepared by :func:`prepare_schema`.

    ``time_features`` (column -> ``UNIX_DAYS`` / ``UNIX_SECONDS``, from
    ``statistics.time_columns``) are the date and timestamp columns, which the statistics
    describe as integers: their INT features get that ``time_domain``.
    """
    import tensorflow_data_validation as tfdv

    from kfp_mlops.components._shared import statistics as tfdv_stats

    schema = tfdv.infer_schema(train_stats)
    _mark_booleans(schema, bool_features)
    tfdv_stats.mark_time_domains(schema, dict(time_features or {}))
    return prepare_schema(schema, label_column, skew_threshold, skew_thresholds)


def add_infinite_anomalies(anomalies, counts: Mapping[str, int], split: str, rows: int) -> None:
    """Adds a FLOAT_TYPE_HAS_INF anomaly (severity ERROR) for each feature with +inf/-inf
    values, with their count, to one split's TFDV ``Anomalies``.

    TFDV's statistics keep no count of infinite values (an inf shows only as a min, max or
    mean of inf), and an inferred schema does not forbid them; ingest counts them as it
    writes each split (``dataset.infinite_counts``). NaN stays a missing value.
    """
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    for name, n in sorted(counts.items()):
        short = "Infinite values"
        detail = (f"{n:,} of {rows:,} rows of the {split} split hold +inf or -inf in "
                  f"feature {name!r} (NaN counts as missing; inf does not)")
        info = anomalies.anomaly_info[name]
        had = bool(info.reason)
        reason = info.reason.add()
        reason.type = anomalies_pb2.AnomalyInfo.FLOAT_TYPE_HAS_INF
        reason.short_description = short
        reason.description = detail
        info.severity = anomalies_pb2.AnomalyInfo.ERROR
        if had:
            info.short_description = "Multiple errors"
            info.description = f"{info.description} {detail}." if info.description else detail
        else:
            info.short_description = short
            info.description = detail


# --------------------------------------------------------------------------------------
# The whole validation
# --------------------------------------------------------------------------------------

def validate(dataset_dir: str, statistics_dir: str, schema_dir: str, anomalies_dir: str,
             report_path: str, label_column: str = "", schema_path: str = "",
             skew_threshold: float = DEFAULT_SKEW_THRESHOLD,
             skew_thresholds: Optional[Mapping[str, float]] = None,
             beam_pipeline_args: Optional[Sequence[str]] = None,
             batch_rows: int = DEFAULT_BATCH_ROWS,
             keep_columns: Optional[Sequence[str]] = None,
             drop_columns: Optional[Sequence[str]] = None) -> ValidationResult:
    """Computes statistics, schema, anomalies and train/eval skew of a dataset; decides.

    Args:
        dataset_dir: a kfp-mlops dataset artifact directory (``dataset.json`` + splits).
        statistics_dir: output directory: ``Split-<split>/FeatureStats.pb``.
        schema_dir: output directory: ``schema.pbtxt``.
        anomalies_dir: output directory: ``Split-<split>/SchemaDiff.pb``, ``skew.json``,
            ``decision.json``.
        report_path: output HTML file.
        label_column: the label; empty: the dataset's ``label_column``.
        schema_path: a curated ``schema.pbtxt`` (or a folder holding one), local or a
            ``gs://`` / ``s3://`` URI; empty: infer.
        skew_threshold: default train/eval skew threshold of every feature.
        skew_thresholds: per-feature thresholds overriding ``skew_threshold``.
        beam_pipeline_args: when non-empty, compute statistics with a Beam pipeline run with
            these options (e.g. ``["--runner=DataflowRunner", "--project=p", ...]``).
        batch_rows: rows per batch of the in-process statistics.
        keep_columns: columns kept in the model although they look ID-like (or a curated
            schema's lifecycle stage keeps them out).
        drop_columns: columns kept out of the model (never the label).

    Returns:
        A :class:`ValidationResult`.

    Raises:
        ValueError / FileNotFoundError / DatasetError: a bad input; nothing is written.
    """
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format

    from kfp_mlops.components._shared import dataset as ds
    from kfp_mlops.components._shared import io
    from kfp_mlops.components._shared import statistics as tfdv_stats
    from kfp_mlops.components._shared.schema import TRAINING, schema_file

    started = time.time()
    schema_path = schema_file(schema_path, CURATED) if schema_path else ""
    check_settings(skew_threshold, skew_thresholds, keep_columns, drop_columns)
    skew_thresholds = dict(skew_thresholds or {})
    keep_columns, drop_columns = list(keep_columns or ()), list(drop_columns or ())
    splits, label, curated = _check_inputs(dataset_dir, label_column, schema_path,
                                           skew_threshold, batch_rows, keep_columns,
                                           drop_columns)
    if curated is not None:
        tfdv_stats.check_thresholds([f.name for f in curated.feature], skew_thresholds)
        if label and label not in {f.name for f in curated.feature}:
            logger.warning("label %r is not a feature of the curated schema %s", label,
                           schema_path)
    else:
        tfdv_stats.check_thresholds(ds.arrow_schema(dataset_dir, "train").names,
                                    skew_thresholds)
    if beam_pipeline_args:
        tfdv_stats.beam_options(beam_pipeline_args)   # a bad Dataflow run fails before any work
    options, skip = _statistics_options(dataset_dir, curated)
    bool_features = [f for f in tfdv_stats.bool_columns(ds.arrow_schema(dataset_dir, "train"))]

    with contextlib.ExitStack() as stack:
        stats_out = stack.enter_context(io.output_dir(statistics_dir))
        schema_out = stack.enter_context(io.output_dir(schema_dir))
        anomalies_out = stack.enter_context(io.output_dir(anomalies_dir))

        statistics = _all_statistics(dataset_dir, splits, options, skip, stats_out,
                                     beam_pipeline_args or [], batch_rows)
        rows = {s: int(statistics[s].datasets[0].num_examples) for s in splits}

        if curated is not None:
            import copy
            schema = prepare_schema(copy.deepcopy(curated), label, skew_threshold,
                                    skew_thresholds)
            source = schema_path
        else:
            schema = infer_schema(statistics["train"], label, bool_features, skew_threshold,
                                  skew_thresholds, tfdv_stats.time_columns(
                                      ds.arrow_schema(dataset_dir, "train")))
            source = "inferred"
        decisions = _decide_columns(dataset_dir, schema, statistics["train"], label,
                                    keep_columns, drop_columns)
        io.write_text(os.path.join(schema_out, SCHEMA_FILE), text_format.MessageToString(schema))

        anomalies, reasons_by_split, infinite = {}, {}, {}
        for s in splits:
            anomalies[s] = tfdv.validate_statistics(statistics[s], schema,
                                                    environment=TRAINING)
            infinite[s] = ds.infinite_counts(dataset_dir, s)
            add_infinite_anomalies(anomalies[s], infinite[s], s, rows[s])
            reasons_by_split[s] = tfdv_stats.anomaly_reasons(anomalies[s], s)
            io.write_bytes(os.path.join(tfdv_stats.split_dir(anomalies_out, s),
                                        tfdv_stats.ANOMALIES_FILE),
                           anomalies[s].SerializeToString())
            logger.info("split %s: %d rows, %d anomalies", s, rows[s], len(reasons_by_split[s]))

        skew = []
        if "eval" in statistics:
            skew = tfdv_stats.feature_distances(statistics["train"], statistics["eval"], schema,
                                                skew_threshold, skew_thresholds, mode="skew")
            # TFDV compares no feature its schema keeps out (schema.proto: such stages "are
            # treated as DEPRECATED"); the report lists those with their reasons instead.
            skew = [d for d in skew if d.feature not in decisions.kept_out]
        else:
            logger.warning("dataset has no eval split: train/eval skew is not measured")

        reasons = [r for s in splits for r in reasons_by_split[s]]
        for d in skew:
            if d.exceeded:
                reasons.append(f"train/eval skew of feature {d.feature!r}: {d.metric} "
                               f"{d.value:.4f} > threshold {d.threshold:g}")
        passed = not reasons
        result = ValidationResult(
            passed=passed, reasons=reasons, rows=rows, anomalies=reasons_by_split, skew=skew,
            schema_feature_count=len(schema.feature), label_column=label, schema_source=source,
            statistics_backend="beam" if beam_pipeline_args else "in-process",
            infinite_values={s: c for s, c in infinite.items() if c},
            kept_out=dict(decisions.kept_out), kept_in=dict(decisions.kept_in))
        io.write_json(os.path.join(anomalies_out, SKEW_FILE),
                      {"baseline": "train", "compared": "eval" if skew else None,
                       "default_threshold": skew_threshold, "thresholds": skew_thresholds,
                       "features": [d.to_dict() for d in skew]})
        io.write_json(os.path.join(anomalies_out, DECISION_FILE),
                      {"passed": passed, "reasons": reasons})
        result.seconds = time.time() - started
        io.write_text(report_path, render_report(result, statistics, anomalies))
    logger.info("validation %s in %.1fs%s", "passed" if passed else "FAILED", result.seconds,
                "" if passed else ": " + "; ".join(reasons))
    return result


def _decide_columns(dataset_dir: str, schema, train_stats, label: str,
                    keep_columns: Sequence[str], drop_columns: Sequence[str]):
    """Recognises the ID-like features and applies keep/drop to ``schema`` (in place);
    returns the :class:`columns.ColumnDecisions`, each kept-out feature logged."""
    from kfp_mlops.components.validate import columns as cols

    candidates = {k: v for k, v in cols.integer_candidates(train_stats, schema, label).items()
                  if k not in drop_columns}
    unique = cols.unique_integer_columns(dataset_dir, candidates) if candidates else []
    found = cols.id_like(train_stats, schema, label, {k: candidates[k] for k in unique})
    decisions = cols.decide(schema, found, label, keep_columns, drop_columns)
    for name, reason in decisions.kept_out.items():
        logger.warning("column %r is kept out of the model: %s", name, reason)
    for name, reason in decisions.kept_in.items():
        logger.info("column %r stays a feature: %s", name, reason)
    return decisions


# --------------------------------------------------------------------------------------
# HTML report
# --------------------------------------------------------------------------------------

def report_data(result: ValidationResult, statistics: Mapping[str, Any],
                anomalies: Mapping[str, Any], facets: bool = True) -> Dict[str, Any]:
    """What the HTML report shows, as plain data (``templates/validate.html.j2``)."""
    from kfp_mlops.components._shared import statistics as tfdv_stats

    splits = list(statistics)
    summaries = {s: {r["feature"]: r for r in tfdv_stats.feature_summaries(statistics[s])}
                 for s in splits}
    features = list(summaries[splits[0]]) if splits else []
    for s in splits[1:]:
        features += [f for f in summaries[s] if f not in features]
    rows = []
    for f in features:
        present = [s for s in splits if f in summaries[s]]
        rows.append({"name": f, "type": summaries[present[0]][f]["type"],
                     "splits": [(s, summaries[s].get(f)) for s in splits]})
    anomaly_rows = []
    for s in splits:
        info = anomalies[s].anomaly_info
        anomaly_rows.append({"split": s, "rows": [
            {"feature": name, "short": info[name].short_description,
             "detail": info[name].description} for name in sorted(info)]})
    facets_page = ""
    if facets and "train" in statistics:
        other = "eval" if "eval" in statistics else None
        try:
            from tensorflow_data_validation.utils import display_util

            facets_page = display_util.get_statistics_html(
                statistics["train"], statistics[other] if other else None,
                lhs_name="train", rhs_name=other or "")
        except Exception as err:  # the summary above does not depend on it
            logger.warning("facets view not embedded: %s", err)
    return {
        "passed": result.passed, "reasons": list(result.reasons),
        "schema_source": result.schema_source,
        "schema_feature_count": result.schema_feature_count,
        "label_column": result.label_column, "statistics_backend": result.statistics_backend,
        "generated_at": f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC",
        "splits": [{"name": s, "rows": result.rows[s],
                    "anomalies": len(result.anomalies.get(s, []))} for s in splits],
        "features": rows, "anomalies": anomaly_rows,
        "skew": sorted(result.skew, key=lambda d: -(d.value if d.value is not None else -1)),
        "facets_page": facets_page,
        "kept_out": [{"feature": k, "reason": v} for k, v in result.kept_out.items()],
        "kept_in": [{"feature": k, "reason": v} for k, v in result.kept_in.items()],
        "figures": report_figures(result, statistics),
    }


def report_figures(result: ValidationResult, statistics: Mapping[str, Any]) -> List[Dict]:
    """The report's charts: each feature's distribution in every split overlaid (numeric:
    TFDV's equi-width histogram as a density; categorical: the top values' shares), the
    most skewed features first, at most ``charts.MAX_FEATURE_FIGURES``."""
    from kfp_mlops.components._shared import charts

    splits = list(statistics)
    dists = {s: charts.distributions(statistics[s]) for s in splits}
    skew = {d.feature: d.value for d in result.skew if d.value is not None}
    names: List[str] = []
    for s in splits:
        names += [f for f in dists[s] if f not in names]
    order = sorted(names, key=lambda f: (-skew.get(f, -1.0), names.index(f)))
    shown = order[:charts.MAX_FEATURE_FIGURES]
    figures = []
    for i, name in enumerate(shown):
        caption = name + (f": train/eval distance {skew[name]:.4f}" if name in skew else "")
        figures.append({"svg": charts.distribution_figure(
            name, [(s, dists[s].get(name)) for s in splits], key=f"validate-{i}"),
            "caption": caption})
    note = (f"{', '.join(splits)} overlaid; numeric features as densities of TFDV's "
            f"equi-width histograms, categorical ones as shares of the "
            f"{charts.MAX_CATEGORIES} most frequent values.")
    if len(order) > len(shown):
        note += (f" {len(shown)} of {len(order)} features drawn, the largest train/eval "
                 f"distance first; the tables above list every feature.")
    return [{"title": "Distributions", "note": note, "figures": figures}] if figures else []


def render_report(result: ValidationResult, statistics: Mapping[str, Any],
                  anomalies: Mapping[str, Any], facets: bool = True) -> str:
    """A self-contained HTML page: decision, rows, statistics, anomalies, skew."""
    return html_report.render("validate.html.j2",
                              **report_data(result, statistics, anomalies, facets))
