"""Which columns a model may use: ID-like columns recognised, ``keep_columns`` / ``drop_columns``.

A column unique per row -- a name, an order number, a date kept as text, a row number -- is
no feature: a vocabulary of it holds one entry per training row, every serving value is out
of vocabulary, and a skew or drift distance cannot notice (each value is 1/n of the data on
either side). validate recognises such columns from the train split's statistics and keeps
them out of the model by marking them in the schema it writes (``lifecycle_stage: DISABLED``,
the reason in the feature's annotation; see ``_shared/schema.py``), which is where train,
push and monitor read the features from.

The rule (thresholds below, each with its reason):

* **string columns** (and integers a curated schema marks categorical: TFDV gives both string
  statistics): ID-like when the train split has at least :data:`MIN_ROWS` values and at least
  :data:`MIN_DISTINCT_RATIO` of them are distinct (``string_stats.unique`` against
  ``common_stats.num_non_missing``, the numbers Facets shows as "unique" and "count").
  ydata-profiling raises its UNIQUE alert at ``n_distinct == n`` (src/ydata_profiling/model/
  alerts.py, ``supported_alerts``); 90 % rather than 100 % so that a name column with a few
  namesakes is still caught, while a high-cardinality column whose values repeat (a postcode,
  a product) is far below it and stays a feature.
* **integer columns**: ID-like when every train value is distinct and the values fill at least
  :data:`MIN_INTEGER_DENSITY` of the range between their minimum and maximum: consecutive
  numbers given row by row (a row number, a sequence id), of which a train split of a share
  p of the rows holds about p. Genuine integer features unique per row (an amount in cents, a
  timestamp in seconds) spread over a range far wider than the row count and stay features;
  a dense one-row-per-year series of 50 years or more would be taken for a row number, and
  ``keep_columns`` keeps it. Uniqueness is not in TFDV's numeric statistics, so it is checked
  on the train split for the candidates the statistics leave (``n >= MIN_ROWS`` and dense
  enough), with one byte of memory per value of the range.
* **floats** are never ID-like (continuous measurements are unique per row as a rule).

The label is never kept out. ``drop_columns`` keeps named columns out; ``keep_columns`` keeps
named columns in (an ID-like one, or one a curated schema's lifecycle stage keeps out). A
curated schema's own lifecycle stages are respected: only features without a stage are
judged ID-like.

Pure Python; TFDV protos, numpy and pyarrow are imported inside functions.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence

#: Fewer train values than this: too few to tell an ID from a small categorical sample.
MIN_ROWS = 50
#: String columns with at least this share of distinct values among the train values are IDs.
MIN_DISTINCT_RATIO = 0.9
#: Integer columns unique per row that fill at least this share of their range are row numbers.
MIN_INTEGER_DENSITY = 0.5
#: Why: the words the reasons end with.
HOW_TO_KEEP = "keep_columns keeps it"


@dataclasses.dataclass
class ColumnDecisions:
    """What :func:`decide` did to a schema."""

    kept_out: Dict[str, str] = dataclasses.field(default_factory=dict)   # feature -> reason
    kept_in: Dict[str, str] = dataclasses.field(default_factory=dict)    # feature -> reason
    id_like: Dict[str, str] = dataclasses.field(default_factory=dict)    # feature -> evidence


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------

def _names_problems(name: str, value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        return [f"{name}={value!r}: expected a list of column names"]
    problems = [f"{name} has {v!r}: expected a column name (non-empty text)"
                for v in value if not isinstance(v, str) or not v.strip()]
    repeated = sorted({v for v in value if isinstance(v, str) and list(value).count(v) > 1})
    if repeated:
        problems.append(f"{name} names {repeated} more than once")
    return problems


def settings_problems(keep_columns: Optional[Sequence[str]] = None,
                      drop_columns: Optional[Sequence[str]] = None,
                      label_column: str = "") -> List[str]:
    """What is wrong with ``keep_columns`` / ``drop_columns`` whatever the data: not lists of
    names, a name in both, the label among the dropped ones."""
    problems = _names_problems("keep_columns", keep_columns) + \
        _names_problems("drop_columns", drop_columns)
    if problems:
        return problems
    both = sorted(set(keep_columns or ()) & set(drop_columns or ()))
    if both:
        problems.append(f"keep_columns and drop_columns both name {both}; name each column "
                        "in one of them")
    if isinstance(label_column, str) and label_column in set(drop_columns or ()):
        problems.append(f"drop_columns names the label {label_column!r}; the label is never "
                        "dropped")
    return problems


def unknown_columns_problems(columns: Sequence[str], where: str,
                             keep_columns: Sequence[str] = (),
                             drop_columns: Sequence[str] = ()) -> List[str]:
    """A problem for each of ``keep_columns`` / ``drop_columns`` naming a column ``where``
    (``"dataset '/d'"``) does not have, listing the columns it has."""
    known = set(columns)
    problems = []
    for name, values in (("keep_columns", keep_columns), ("drop_columns", drop_columns)):
        unknown = [v for v in values or () if v not in known]
        if unknown:
            problems.append(f"{name} names {unknown}, which are not columns of {where}; "
                            f"columns are: {list(columns)}")
    return problems


# --------------------------------------------------------------------------------------
# Recognition
# --------------------------------------------------------------------------------------

def _stats_by_name(stats) -> Dict[str, Any]:
    dataset = stats.datasets[0] if stats.datasets else None
    return {(".".join(f.path.step) if f.path.step else f.name): f
            for f in (dataset.features if dataset else ())}


def _string_evidence(feature_stats) -> str:
    s = feature_stats.string_stats
    n = int(s.common_stats.num_non_missing)
    if n < MIN_ROWS or n == 0:
        return ""
    ratio = s.unique / n
    if ratio < MIN_DISTINCT_RATIO:
        return ""
    return (f"ID-like: {s.unique:,} distinct values in {n:,} train rows ({ratio:.0%} "
            f"distinct; {MIN_DISTINCT_RATIO:.0%} or more keeps a string column out): a "
            f"vocabulary would hold about one entry per row and serving values would be out "
            f"of it; {HOW_TO_KEEP}")


def _judged(feature, label: str) -> bool:
    """Whether a schema feature is one to judge: not the label, not a feature a stage was
    already given (a person's curated choice), not a date or timestamp (a daily series is
    unique per row and dense: it is the model's calendar, not an id)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    return not (feature.name == label or feature.deprecated
                or feature.lifecycle_stage != schema_pb2.UNKNOWN_STAGE
                or feature.HasField("time_domain"))


def integer_candidates(train_stats, schema, label: str = "") -> Dict[str, tuple]:
    """``{feature: (min, max, values)}``: plain integer features of ``schema`` whose train
    statistics allow a row number (enough values, dense enough in their range); only
    features without a lifecycle stage, never the label, never a date or timestamp (a daily
    series is unique per row and dense, and is the model's calendar, not an id)."""
    from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

    from kfp_mlops.components._shared.statistics import distances

    by_name = _stats_by_name(train_stats)
    found = {}
    for f in schema.feature:
        if not _judged(f, label):
            continue
        stats = by_name.get(f.name)
        if (f.type != schema_pb2.INT or distances.is_categorical(f) or stats is None
                or stats.type != statistics_pb2.FeatureNameStatistics.INT
                or not stats.HasField("num_stats")):
            continue
        n = int(stats.num_stats.common_stats.num_non_missing)
        low, high = stats.num_stats.min, stats.num_stats.max
        span = high - low + 1
        if n >= MIN_ROWS and span >= n and n / span >= MIN_INTEGER_DENSITY:
            found[f.name] = (int(low), int(high), n)
    return found


def unique_integer_columns(dataset_dir: str, candidates: Mapping[str, tuple],
                           split: str = "train", batch_rows: int = 65_536) -> List[str]:
    """The ``candidates`` (from :func:`integer_candidates`) whose values in ``split`` are all
    distinct: one pass over those columns with one byte per value of each range (a
    candidate's range is at most twice its row count), a column dropped at its first
    repeated value."""
    import numpy as np

    from kfp_mlops.components._shared import dataset as ds

    seen = {name: np.zeros(high - low + 1, dtype=bool) for name, (low, high, _) in
            candidates.items()}
    alive = set(seen)
    for batch in ds.iter_batches(dataset_dir, split, columns=sorted(alive),
                                 batch_rows=batch_rows):
        for name in sorted(alive):
            column = batch.column(batch.schema.get_field_index(name))
            values = column.drop_null().to_numpy(zero_copy_only=False).astype(np.int64)
            index = values - candidates[name][0]
            if index.size and (index.min() < 0 or index.max() >= seen[name].size):
                alive.discard(name)           # outside the statistics' range: not ours to judge
                continue
            if seen[name][index].any() or np.unique(index).size != index.size:
                alive.discard(name)
                continue
            seen[name][index] = True
        if not alive:
            break
    return sorted(alive)


def _integer_evidence(name: str, candidate: tuple) -> str:
    low, high, n = candidate
    span = high - low + 1
    return (f"ID-like: {n:,} train rows hold {n:,} different integers, filling "
            f"{n / span:.0%} of the range {low:,}..{high:,} (a row number; "
            f"{MIN_INTEGER_DENSITY:.0%} or more keeps an integer column unique per row out): "
            f"as a number it orders rows by when they were numbered; {HOW_TO_KEEP}")


def id_like(train_stats, schema, label: str = "",
            unique_integers: Mapping[str, tuple] = None) -> Dict[str, str]:
    """``{feature: evidence}`` for the ID-like features of ``schema``: string features from
    ``train_stats``, integer ones among ``unique_integers`` (candidates confirmed unique by
    :func:`unique_integer_columns`). Features with a lifecycle stage and the label are not
    judged."""
    by_name = _stats_by_name(train_stats)
    unique_integers = dict(unique_integers or {})
    found = {}
    for f in schema.feature:
        if not _judged(f, label):
            continue
        stats = by_name.get(f.name)
        if f.name in unique_integers:
            found[f.name] = _integer_evidence(f.name, unique_integers[f.name])
        elif stats is not None and stats.HasField("string_stats") and \
                not f.HasField("bool_domain"):
            evidence = _string_evidence(stats)
            if evidence:
                found[f.name] = evidence
    return found


def decide(schema, id_like_features: Mapping[str, str], label: str = "",
           keep_columns: Sequence[str] = (), drop_columns: Sequence[str] = ()
           ) -> ColumnDecisions:
    """Marks ``schema`` (in place): ``drop_columns`` and the ID-like features kept out, with
    their reasons; ``keep_columns`` kept in. Returns every feature the schema now keeps out
    (whoever decided it) and those kept in against the evidence."""
    from kfp_mlops.components._shared import schema as sch

    keep, drop = set(keep_columns or ()), set(drop_columns or ())
    decisions = ColumnDecisions(id_like=dict(id_like_features))
    for f in schema.feature:
        if f.name == label:
            continue
        if f.name in drop:
            sch.keep_out(f, "drop_columns names it")
        elif f.name in keep:
            why = id_like_features.get(f.name) or sch.kept_out_reason(f)
            sch.keep_in(f)
            if why:
                decisions.kept_in[f.name] = f"keep_columns keeps it ({why})"
        elif f.name in id_like_features:
            sch.keep_out(f, id_like_features[f.name])
    decisions.kept_out = sch.kept_out_features(schema)
    return decisions
