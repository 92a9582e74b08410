"""The model card of a registered version: HTML and Markdown, made from the version alone.

The sections follow Mitchell et al. 2019, "Model Cards for Model Reporting"
(https://arxiv.org/abs/1810.03993): model details, intended use, factors, metrics,
evaluation data, training data, quantitative analyses, ethical considerations, caveats and
recommendations; with two more a registry knows: the blessing and the lineage.

Everything comes from what a :class:`~kfp_mlops.components._shared.registry.ModelVersion`
holds -- its evaluation, lineage, schema, statistics and the model's metadata
(``assets.extra/kfp_mlops_model.json``) -- so a card can be made for any registered version,
also one pushed before cards existed (a field it lacks is shown as not recorded):

* :func:`read_parts` reads the schema, statistics and model metadata of a version (the only
  I/O; local, ``gs://``, ``s3://``);
* :func:`build` turns a version and those parts into the card's content, plain data (pure);
* :func:`render_html` / :func:`render_markdown` render it (``templates/model_card.html.j2``,
  ``model_card.md.j2``, through :mod:`html_report`);
* :func:`write` stores ``model_card.html`` and ``model_card.md`` in the version's folder.

Push writes the card create-only right after the version is registered (see :func:`write` for
why then); ``kfp-mlops model-card`` makes it for any version on demand. Push owns the card
(it produces it), so its reader lives here (STYLE.md habit 8); the per-slice gaps are
evaluate's (``evaluate/slices.py``).
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence

from kfp_mlops.components._shared import html_report
from kfp_mlops.components._shared import io
from kfp_mlops.components._shared import model_io
from kfp_mlops.components.evaluate import slices as slice_gaps

logger = logging.getLogger(__name__)

HTML_FILE = "model_card.html"
MARKDOWN_FILE = "model_card.md"
FORMATS = {"html": HTML_FILE, "md": MARKDOWN_FILE}
#: The card's sections, in order; both formats show each as a heading.
SECTIONS = ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data",
            "Training data", "Quantitative analyses", "Blessing", "Lineage",
            "Ethical considerations", "Caveats and recommendations")
NOT_RECORDED = "not recorded"
#: The main metric of a version whose blessing did not record its ``main_metric`` (one
#: pushed before the blessing was kept in the lineage): evaluate's ``MAIN_METRIC``.
_MAIN = {model_io.CLASSIFICATION: "accuracy", model_io.REGRESSION: "rmse"}


class ModelCardError(ValueError):
    """A model card cannot be made; the message names what is missing."""


# --------------------------------------------------------------------------- reading

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_statistics(statistics_dir: str) -> Dict[str, Dict[str, Any]]:
    """``{split: {"rows", "content_hash", "features"}}`` of a registered statistics folder
    (``Split-<split>/FeatureStats.pb``; the features as :func:`statistics.feature_summaries`
    lists them); {} when the folder holds none."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from kfp_mlops.components._shared.statistics import SPLIT_PREFIX, STATS_FILE
    from kfp_mlops.components._shared.statistics.views import feature_summaries

    out: Dict[str, Dict[str, Any]] = {}
    for name in io.listdir(statistics_dir):
        if not name.startswith(SPLIT_PREFIX):
            continue
        try:
            data = io.read_bytes(io.join(statistics_dir, name, STATS_FILE))
        except FileNotFoundError:
            continue
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(data)
        rows = stats.datasets[0].num_examples if stats.datasets else 0
        out[name[len(SPLIT_PREFIX):]] = {"rows": int(rows), "content_hash": _sha256(data),
                                         "features": feature_summaries(stats)}
    return out


def read_model_metadata(version) -> Dict[str, Any]:
    """The model's ``assets.extra/kfp_mlops_model.json``: read from the registered model
    (:func:`model_io.read_metadata` for a local one), else the copy push put in the
    lineage (``model_info``); {} when neither is there."""
    try:
        if io.is_remote(version.model_dir):
            return io.read_json(io.join(version.model_dir, *model_io.METADATA_PATH.split("/")))
        return model_io.read_metadata(io.strip_file_scheme(version.model_dir))
    except (OSError, ValueError) as e:   # ModelError is a ValueError
        logger.info("model metadata of %s not read (%s); using the lineage's copy",
                    version.model_dir, e)
        return dict((version.lineage or {}).get("model_info") or {})


def read_parts(version) -> Dict[str, Any]:
    """What :func:`build` needs beyond the version record: ``metadata``, ``schema`` (the
    ``schema_pb2.Schema`` or None), ``schema_hash`` and ``statistics``."""
    from kfp_mlops.components._shared import schema as schema_io

    schema, schema_hash = None, ""
    try:
        data = io.read_bytes(version.schema_path)
        schema_hash = _sha256(data)
        schema = schema_io.read_schema(version.schema_path, "the registered schema")
    except (OSError, ValueError) as e:
        logger.warning("schema of %s version %s not read: %s", version.model_name,
                       version.version, e)
    return {"metadata": read_model_metadata(version), "schema": schema,
            "schema_hash": schema_hash, "statistics": read_statistics(version.statistics_dir)}


# --------------------------------------------------------------------------- building

def _defined(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def _kept_out(schema, metadata: Mapping[str, Any]) -> Dict[str, str]:
    """``{column: why}`` kept out of the model: the schema's decisions (validate's ID-like
    columns, drop_columns, a curated schema's lifecycle stage), else train's record."""
    out: Dict[str, str] = {}
    if schema is not None:
        from kfp_mlops.components._shared import schema as schema_io

        out.update(schema_io.kept_out_features(schema))
    for name, why in (metadata.get("kept_out_features") or {}).items():
        out.setdefault(str(name), str(why))
    return out


def _metric_names(metrics: Mapping[str, Any]) -> List[str]:
    """The recorded metrics in evaluate's order (``slices.DIRECTIONS``), then any other."""
    known = list(slice_gaps.DIRECTIONS)
    return [m for m in known if m in metrics] + sorted(m for m in metrics if m not in known)


def _direction(metric: str) -> str:
    try:
        return slice_gaps.direction(metric)
    except KeyError:
        return ""


def build(version, metadata: Optional[Mapping[str, Any]] = None, schema=None,
          statistics: Optional[Mapping[str, Mapping[str, Any]]] = None, schema_hash: str = "",
          registry_uri: str = "") -> Dict[str, Any]:
    """The card's content as plain data (see the module doc); pure.

    Args:
        version: The registered :class:`ModelVersion`.
        metadata: The model's metadata (:func:`read_model_metadata`); {} when unknown.
        schema: The version's ``schema_pb2.Schema``, or None when it could not be read.
        statistics: :func:`read_statistics` of the version.
        schema_hash: SHA-256 of the registered ``schema.pbtxt``.
        registry_uri: The registry the version is in, as the user named it.
    """
    metadata = dict(metadata or {})
    statistics = dict(statistics or {})
    evaluation = dict(version.evaluation or {})
    lineage = dict(version.lineage or {})
    blessing = dict(lineage.get("blessing") or {})
    task = str(evaluation.get("task") or metadata.get("task") or blessing.get("task") or "")
    label = str(evaluation.get("label") or metadata.get("label") or "")
    if not label and schema is not None:
        from kfp_mlops.components._shared import schema as schema_io

        label = schema_io.label_of(schema, lineage)
    metrics = dict(evaluation.get("metrics") or lineage.get("blessing_metrics") or {})
    names = _metric_names(metrics)
    main = str(blessing.get("main_metric") or _MAIN.get(task, names[0] if names else ""))
    min_rows = int(blessing.get("min_slice_rows") or slice_gaps.DEFAULT_MIN_SLICE_ROWS)
    sliced = {str(c): dict(v) for c, v in (evaluation.get("slices") or {}).items()
              if isinstance(v, Mapping) and all(isinstance(m, Mapping) for m in v.values())}
    features = [{"name": f.get("name", ""), "kind": f.get("kind", "")}
                for f in metadata.get("features") or [] if isinstance(f, Mapping)]
    kept_out = _kept_out(schema, metadata)
    hyper = dict(metadata.get("hyperparameters") or {})
    vocabulary = list(evaluation.get("label_vocabulary") or metadata.get("label_vocabulary") or [])
    created = version.created or lineage.get("created") or NOT_RECORDED
    model_hash = version.model_hash or lineage.get("model_content_hash") or NOT_RECORDED
    splits = dict(lineage.get("data_splits") or {})
    split = str(evaluation.get("split") or "test")

    details = [
        ("name", version.model_name), ("version", str(version.version)),
        ("created", created), ("aliases", ", ".join(version.aliases) or "none"),
        ("task", task or NOT_RECORDED), ("label", label or NOT_RECORDED),
        ("classes", ", ".join(vocabulary) if vocabulary else "—"),
        ("positive class", metadata.get("positive_class") or "—"),
        ("architecture / trainer", metadata.get("trainer") or NOT_RECORDED),
        ("hidden units", ", ".join(map(str, hyper.get("hidden_units") or [])) or "—"),
        ("hyperparameters", ", ".join(f"{k}={v}" for k, v in sorted(hyper.items()))
         or NOT_RECORDED),
        ("framework", " ".join(str(x) for x in (metadata.get("framework"),
                                                  metadata.get("framework_version")) if x)
         or NOT_RECORDED),
        ("format", f"{metadata.get('format', 'saved_model')}, signature "
                   f"{metadata.get('signature', model_io.SIGNATURE_KEY)}"),
        ("model hash (SHA-256)", model_hash),
        ("registry", registry_uri or NOT_RECORDED), ("version URI", version.uri),
        ("model URI", version.model_dir),
        ("training run", lineage.get("pipeline_run") or NOT_RECORDED),
    ]

    # metrics overall (and the champion's, when compared)
    champion = evaluation.get("champion") or lineage.get("previous_champion") or None
    champion_metrics = (champion or {}).get("metrics") or {}
    overall = [{"metric": m, "value": metrics.get(m), "direction": _direction(m),
                "champion": champion_metrics.get(m) if champion_metrics else None}
               for m in names]
    per_class = [{"class": c, **{k: v for k, v in m.items()}}
                 for c, m in (evaluation.get("per_class") or {}).items()]

    # quantitative analyses: per slice, and the gap of each metric
    gap_metrics = [m for m in names if _direction(m)]
    slices_out = []
    for column, values in sliced.items():
        rows = [{"value": v, "count": int(m.get("count") or 0), "small":
                 int(m.get("count") or 0) < min_rows,
                 "metrics": [m.get(k) for k in names]} for v, m in values.items()]
        gaps = [g.to_dict() for g in (slice_gaps.column_gap(column, values, m, min_rows)
                                      for m in gap_metrics)]
        slices_out.append({"column": column, "rows": rows, "gaps": gaps,
                           "figure": _slice_svg(column, values, main, metrics.get(main), len(
                               slices_out))})

    # the blessing
    checks = [c for c in blessing.get("checks") or [] if isinstance(c, Mapping)]
    reasons = [str(r) for r in lineage.get("reasons") or blessing.get("reasons") or []]
    blessing_out = {
        "blessed": blessing.get("blessed", True),   # a registered version was blessed
        "reasons": reasons,
        "recorded": bool(blessing),
        "thresholds": dict(blessing.get("thresholds") or {}),
        "max_regression": dict(blessing.get("max_regression") or {}),
        "max_slice_gap": dict(blessing.get("max_slice_gap") or {}),
        "min_slice_rows": min_rows,
        "checks": [{"kind": c.get("kind", ""), "metric": c.get("metric", ""),
                    "column": c.get("column", ""), "value": c.get("value"),
                    "bound": c.get("bound"), "passed": bool(c.get("passed"))} for c in checks],
        "champion": (f"version {champion.get('version')}" if champion and champion.get("version")
                     else "compared with a champion" if champion else "none (a first version)"),
    }

    data_hash = lineage.get("data_content_hash") or NOT_RECORDED
    stats_rows = [{"split": s, "rows": v.get("rows"), "content_hash": v.get("content_hash", ""),
                   "features": v.get("features") or []} for s, v in sorted(statistics.items())]
    train_stats = next((s for s in stats_rows if s["split"] == "train"), None)
    other_stats = [s for s in stats_rows if s["split"] != "train"]
    evaluation_data = {
        "split": split, "rows": evaluation.get("rows"),
        "skipped_rows": evaluation.get("skipped_rows") or 0,
        "split_rows": splits.get(split), "source": lineage.get("data_source") or NOT_RECORDED,
        "data_hash": data_hash, "statistics": other_stats,
    }
    training_data = {
        "source": lineage.get("data_source") or NOT_RECORDED, "data_hash": data_hash,
        "splits": [{"split": s, "rows": n} for s, n in splits.items()],
        "training_rows": metadata.get("training_rows"), "eval_rows": metadata.get("eval_rows"),
        "statistics": train_stats, "schema_hash": schema_hash or NOT_RECORDED,
        "schema_path": version.schema_path, "statistics_dir": version.statistics_dir,
    }
    lineage_out = [
        ("data URI", lineage.get("data_source") or NOT_RECORDED),
        ("data content hash", data_hash),
        ("schema hash (SHA-256)", schema_hash or NOT_RECORDED),
        ("statistics hashes (SHA-256)", ", ".join(f"{s['split']}: {s['content_hash']}"
                                                  for s in stats_rows) or NOT_RECORDED),
        ("model hash (SHA-256)", model_hash),
        ("parent champion", blessing_out["champion"]),
        ("pipeline run", lineage.get("pipeline_run") or NOT_RECORDED),
        ("model artifact of the run", lineage.get("model_artifact") or NOT_RECORDED),
    ]

    intended = {
        "label": label or NOT_RECORDED, "task": task or NOT_RECORDED,
        "summary": _intended_summary(task, label, vocabulary, features),
        "features": features,
        "kept_out": [{"column": c, "reason": r} for c, r in kept_out.items()],
    }
    factors = {"columns": list(sliced), "min_slice_rows": min_rows}
    card = {
        "title": f"Model card: {version.model_name} version {version.version}",
        "sections": list(SECTIONS), "model_name": version.model_name,
        "version": str(version.version), "details": details, "intended_use": intended,
        "factors": factors, "metric_names": names, "main_metric": main,
        "metrics": {"overall": overall, "has_champion": bool(champion_metrics),
                    "per_class": per_class,
                    "per_class_keys": ["precision", "recall", "f1", "auc", "pr_auc", "support"]},
        "evaluation_data": evaluation_data, "training_data": training_data,
        "slices": slices_out, "blessing": blessing_out, "lineage": lineage_out,
    }
    card["ethics"] = _ethics(card, kept_out)
    card["caveats"] = _caveats(card, features, kept_out, blessing)
    return card


def _intended_summary(task: str, label: str, vocabulary: Sequence[str],
                      features: Sequence[Mapping[str, str]]) -> str:
    what = (f"classifies rows into the {len(vocabulary)} values of {label!r}"
            if task == model_io.CLASSIFICATION and vocabulary else
            f"predicts {label!r} ({task})" if task else f"predicts {label!r}")
    return (f"The model {what} from {len(features)} feature(s) of rows shaped like its "
            "training data (the registered schema), called through its serving signature. "
            "It is meant to be served where that data comes from; a use on other data is not "
            "covered by this evaluation.")


def _ethics(card: Mapping[str, Any], kept_out: Mapping[str, str]) -> List[str]:
    out = [f"The model learned from {card['training_data']['source']}; whatever bias that data "
           "holds (who is in it, who labelled it) the model may repeat."]
    if card["factors"]["columns"]:
        worst = [g for s in card["slices"] for g in s["gaps"]
                 if g["metric"] == card["main_metric"] and g["gap"] is not None]
        for g in worst:
            out.append(f"{g['metric']} differs by {html_report.fmt(g['gap'])} across "
                       f"{g['column']}: best {g['best']!r} {html_report.fmt(g['best_value'])}, "
                       f"worst {g['worst']!r} {html_report.fmt(g['worst_value'])}.")
    else:
        out.append("No slice column was given, so how the model does for different groups "
                   "was not measured.")
    if kept_out:
        out.append("Columns kept out of the model (" + ", ".join(kept_out) + ") cannot be "
                   "used by it directly, but other features may still stand in for them.")
    return out


def _caveats(card: Mapping[str, Any], features: Sequence[Mapping[str, str]],
             kept_out: Mapping[str, str], blessing: Mapping[str, Any]) -> List[str]:
    out = []
    min_rows = card["factors"]["min_slice_rows"]
    for s in card["slices"]:
        small = [f"{r['value']!r} (n={r['count']})" for r in s["rows"] if r["small"]]
        if small:
            out.append(f"Small slices of {s['column']}: {', '.join(small)} have fewer than "
                       f"{min_rows} rows; their metrics are rough and they are left out of the "
                       "slice gaps.")
    for column, why in kept_out.items():
        out.append(f"Column {column!r} is kept out of the model: {why}.")
    dates = [f["name"] for f in features if f.get("kind") in model_io.TIME_KINDS]
    if dates:
        out.append(f"The model reads date/time feature(s) {', '.join(dates)}: data from after "
                   "the training period may be scored less well; watch it with monitoring.")
    ev = card["evaluation_data"]
    if ev["skipped_rows"]:
        out.append(f"{ev['skipped_rows']} {ev['split']} row(s) had no usable label and were not "
                   "scored.")
    out.append(f"Measured on {ev['rows'] if ev['rows'] is not None else 'an unrecorded number of'}"
               f" {ev['split']} rows from the same source as the training data; performance on "
               "other data, over time, or with a different serving population was not "
               "measured.")
    if not blessing:
        out.append("This version was registered before its blessing's thresholds and checks "
                   "were recorded with it; only the blessing's reasons are known.")
    if not card["metric_names"]:
        out.append("No evaluation metrics are recorded with this version.")
    return out


def _slice_svg(column: str, values: Mapping[str, Mapping[str, Any]], metric: str,
               overall: Any, index: int) -> str:
    """The per-slice bars of the main metric (:func:`charts.slice_figure`); "" without one."""
    if not metric or not values:
        return ""
    from kfp_mlops.components._shared import charts

    return charts.slice_figure(column, [(str(v), m.get(metric) if _defined(m.get(metric))
                                         else None, int(m.get("count") or 0))
                                        for v, m in values.items()], metric,
                               overall if _defined(overall) else None,
                               key=f"card-slice-{index}")


# --------------------------------------------------------------------------- rendering

def render_html(card: Mapping[str, Any]) -> str:
    """The card as a standalone HTML page (``templates/model_card.html.j2``)."""
    return html_report.render("model_card.html.j2", **card)


def render_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (``templates/model_card.md.j2``)."""
    return html_report.render_markdown("model_card.md.j2", **card)


def render(card: Mapping[str, Any], fmt: str = "html") -> str:
    """The card in ``fmt``: ``html`` or ``md``."""
    if fmt not in FORMATS:
        raise ModelCardError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return render_html(card) if fmt == "html" else render_markdown(card)


def render_absent(model_name: str, reasons: Sequence[str]) -> str:
    """The page push shows in place of a card when the model was not pushed."""
    return html_report.render("model_card_absent.html.j2", model_name=model_name,
                              reasons=list(reasons))


def make(version, registry_uri: str = "") -> Dict[str, Any]:
    """The card of a registered version: :func:`read_parts`, then :func:`build`."""
    return build(version, registry_uri=registry_uri, **read_parts(version))


def card_folder(version) -> str:
    """Where a version's card lives: the folder holding its companions (``statistics/``,
    ``evaluation.json``, ...) -- a folder registry's version folder, the companion folder
    ``<model>.kfp_mlops/`` on Vertex AI."""
    return version.statistics_dir.rstrip("/").rsplit("/", 1)[0]


def write(version, registry_uri: str = "", card: Optional[Mapping[str, Any]] = None
          ) -> Dict[str, str]:
    """Stores ``model_card.html`` and ``model_card.md`` beside the version's companions,
    create-only; returns ``{format: uri}`` of the cards now there.

    Written right after the version is registered, not inside ``register``: the card names
    the version number and its creation time, which exist only once the registry assigned
    them (a claimed number on a folder registry, the upload's version ID on Vertex AI),
    and ``_shared/registry`` may not import push. A card already there is kept (a push of
    the same model bytes reuses its version, and the card describes the version as it was
    registered). A version left without a card (pushed before cards, or a push that died
    between the two steps) gets one from ``kfp-mlops model-card``: it is made from the
    version alone.
    """
    card = card if card is not None else make(version, registry_uri)
    folder = card_folder(version)
    out = {}
    for fmt, name in FORMATS.items():
        uri = io.join(folder, name)
        if io.create_exclusive(uri, render(card, fmt).encode("utf-8")):
            logger.info("wrote the model card %s", uri)
        else:
            logger.info("model card %s already exists; kept", uri)
        out[fmt] = uri
    return out
