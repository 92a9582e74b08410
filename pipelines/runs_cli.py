"""``kfp-mlops runs``: the recorded training runs side by side.

    kfp-mlops runs [--output-dir DIR] [--experiment E] [--tracking-uri URI] [--all-metrics]
                   [--json]

Reads the MLflow store the track component wrote -- by default the embedded one of
``kfp-mlops run``'s output folder, ``sqlite:///<DIR>/mlflow.db`` -- and prints one column per
run: the parameters that differ between the runs, the overall metrics (``--all-metrics``:
per class and per slice too), and the decisions (blessed or not, pushed, the registered
version) with each run's reasons below the table. ``--json``
prints every run's parameters, metrics and tags instead.
"""
import argparse
import json
import os
from typing import Any, Dict, List, Sequence

#: Longest cell of the table; longer values are cut with an ellipsis.
CELL = 28
#: Runs shown at most (the newest); --json holds every run.
MAX_RUNS = 8


def add_parser(sub) -> None:
    """Adds ``runs`` to the ``kfp-mlops`` sub-commands."""
    runs = sub.add_parser("runs", help="show the recorded training runs side by side "
                                       "(parameters that differ, metrics, decisions)")
    runs.add_argument("--output-dir", default="local_outputs",
                      help="the output folder of `kfp-mlops run`, whose mlflow.db holds its "
                           "runs (default: %(default)s)")
    runs.add_argument("--tracking-uri", default=None, metavar="URI",
                      help="an MLflow tracking URI instead (sqlite:///path/mlflow.db or a "
                           "tracking server http://host:port)")
    runs.add_argument("--experiment", default=None, metavar="NAME",
                      help="only this experiment's runs (default: every experiment's)")
    runs.add_argument("--all-metrics", action="store_true",
                      help="show the per-class and per-slice metrics too")
    runs.add_argument("--json", action="store_true",
                      help="print every run's parameters, metrics and tags as JSON")
    runs.set_defaults(func=_cmd_runs)


def tracking_uri(args) -> str:
    """``--tracking-uri``, or the output folder's embedded store (which must exist)."""
    from kfp_mlops.pipelines import local

    if args.tracking_uri:
        return args.tracking_uri
    database = os.path.join(os.path.abspath(args.output_dir), local.TRACKING_DB)
    if not os.path.isfile(database):
        raise ValueError(f"--output-dir {args.output_dir!r} holds no {local.TRACKING_DB}: no "
                         "run was recorded there; run `kfp-mlops run training --output-dir "
                         f"{args.output_dir}` first, or give --tracking-uri")
    return f"sqlite:///{database}"


def _cmd_runs(args) -> int:
    from kfp_mlops.components.track import core

    uri = tracking_uri(args)
    try:
        runs = core.read_runs(uri, args.experiment or "")
    except core.TrackError as e:
        raise ValueError(str(e)) from None
    if args.json:
        print(json.dumps(runs, indent=2, sort_keys=True))
        return 0
    print(format_runs(runs, all_metrics=args.all_metrics))
    return 0


def differing(values: Sequence[Dict[str, str]]) -> List[str]:
    """The keys whose value is not the same in every one of ``values`` (missing counts)."""
    keys = sorted({k for v in values for k in v})
    return [k for k in keys if len({v.get(k) for v in values}) > 1]


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value).replace("\n", "; ")
    if len(text) <= CELL:
        return text
    # the middle goes: run names differ in their tails (the time), paths in both ends
    head = (CELL - 1) // 2
    return text[:head] + "…" + text[len(text) - (CELL - 1 - head):]


def _table(rows: List[List[str]]) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def format_runs(runs: List[Dict[str, Any]], all_metrics: bool = False) -> str:
    """The plain-text comparison of :func:`kfp_mlops.components.track.core.read_runs`'s
    runs: a header, the differing parameters, the metrics (overall ones only unless
    ``all_metrics``), the decisions, then each run's reasons."""
    from kfp_mlops.components.track import core

    if not runs:
        return "No runs recorded yet."
    shown = runs[-MAX_RUNS:]
    lines = [f"{len(runs)} run(s)" + (f", the newest {len(shown)} shown" if len(shown) < len(runs)
                                      else "")]
    header = ["", *[f"#{i + 1}" for i in range(len(shown))]]
    rows = [header,
            ["run", *[_cell(r["run_name"]) for r in shown]],
            ["experiment", *[_cell(r["experiment"]) for r in shown]],
            ["status", *[_cell(r["status"]) for r in shown]]]
    params = [r["params"] for r in shown]
    changed = differing(params) if len(shown) > 1 else []
    rows.append(["parameters that differ:" if len(shown) > 1 else "parameters: (one run)",
                 *[""] * len(shown)])
    if len(shown) > 1 and not changed:
        rows.append(["  (none: every parameter is the same)", *[""] * len(shown)])
    for key in changed:
        rows.append([f"  {key}", *[_cell(p.get(key)) for p in params]])
    names = []
    for run in shown:
        for name, _ in core.sorted_metrics(run["metrics"]):
            if name not in names:
                names.append(name)
    detailed = [n for n in names if n.startswith(("class/", "slice/"))]
    rows.append(["metrics:", *[""] * len(shown)])
    for name in names if all_metrics else [n for n in names if n not in detailed]:
        rows.append([f"  {name}", *[_cell(r["metrics"].get(name)) for r in shown]])
    if detailed and not all_metrics:
        rows.append([f"  ({len(detailed)} per class and per slice: --all-metrics)",
                     *[""] * len(shown)])
    rows.append(["decision:", *[""] * len(shown)])
    labels = {"blessed": "blessed", "pushed": "pushed", "registered_version": "version",
              "champion": "champion"}
    for tag, label in labels.items():
        rows.append([f"  {label}", *[_cell(_yes_no(r["tags"].get(tag))) for r in shown]])
    lines.extend(_table(rows))
    lines.append("")
    lines.append("Why:")
    for i, run in enumerate(shown):
        reasons = [r for r in (run["tags"].get("reasons") or "").splitlines() if r]
        lines.append(f"  #{i + 1} {run['run_name']}:")
        lines.extend(f"      - {reason}" for reason in reasons or ["(no reasons recorded)"])
    return "\n".join(lines)


def _yes_no(value: Any) -> Any:
    return {"true": "yes", "false": "no"}.get(value, value)
