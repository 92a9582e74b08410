"""``kfp-mlops registry``: look into a model registry, promote, roll back, read the audit log.

    kfp-mlops registry list --registry-uri URI [MODEL] [--json]
    kfp-mlops registry show --registry-uri URI MODEL VERSION [--json]
    kfp-mlops registry promote --registry-uri URI MODEL VERSION --alias ALIAS --reason WHY
                               [--by WHO] [--json]
    kfp-mlops registry rollback --registry-uri URI MODEL --reason WHY [--alias champion]
                                [--endpoint NAME] [--by WHO] [--json]
    kfp-mlops registry history --registry-uri URI MODEL [--alias ALIAS] [--json]

The work is ``components/_shared/registry/operations.py``'s; this module only parses and
prints. ``cli.py`` adds the command with :func:`add_parsers`.
"""
import argparse
import json
import logging
import sys
from typing import Any, Dict, List

logger = logging.getLogger("kfp-mlops")

SYNOPSIS = """commands:
  kfp-mlops registry list --registry-uri URI [MODEL] [--json]
  kfp-mlops registry show --registry-uri URI MODEL VERSION [--json]
  kfp-mlops registry promote --registry-uri URI MODEL VERSION --alias ALIAS --reason WHY
                             [--by WHO] [--json]
  kfp-mlops registry rollback --registry-uri URI MODEL --reason WHY [--alias champion]
                              [--endpoint NAME] [--by WHO] [--json]
  kfp-mlops registry history --registry-uri URI MODEL [--alias ALIAS] [--json]

Every alias move is kept in the registry's audit log with who moved it (--by, default
user@host) and why (--reason, required). rollback moves the alias back to the version it
named before its current version was set; a second rollback goes further back, and
versions that no longer exist are skipped. With --endpoint (vertex:// registries), all of
that Vertex AI endpoint's traffic then goes to the version rolled back to."""

_URI_HELP = ("the registry: a local folder, gs://BUCKET/FOLDER, s3://BUCKET/FOLDER or "
             "vertex://projects/PROJECT/locations/REGION")


def add_parsers(subparsers) -> None:
    """Adds ``registry`` and its sub-commands (each sets ``func``)."""
    parser = subparsers.add_parser(
        "registry", help="list, show, promote, roll back and audit registered models",
        description="Look into a model registry; move its aliases with an audit trail.",
        epilog=SYNOPSIS, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="registry_command", metavar="REGISTRY_COMMAND")
    sub.required = True
    # each sub-command sets its own func; this one is for callers that read the parent's
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    def common(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--registry-uri", required=True, metavar="URI", help=_URI_HELP)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        return p

    p = common("list", "the models of a registry, or the versions of one model")
    p.add_argument("model", nargs="?", default="", metavar="MODEL",
                   help="a model: list its versions (default: list the models)")
    p.set_defaults(func=_cmd_list)

    p = common("show", "one version: lineage, evaluation, aliases, files, alias moves")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("version", metavar="VERSION",
                   help="a version number, an alias (champion) or latest")
    p.set_defaults(func=_cmd_show)

    p = common("promote", "move an alias to a version (compare-and-set against what it "
                          "named when read)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("version", metavar="VERSION",
                   help="a version number, an alias or latest")
    p.add_argument("--alias", required=True, help="the alias to move, e.g. champion")
    _audit_options(p)
    p.set_defaults(func=_cmd_promote)

    p = common("rollback", "move an alias back to the version it named before its current "
                           "one was set (from the audit log)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--alias", default="champion", help="the alias (default: champion)")
    p.add_argument("--endpoint", default="", metavar="NAME",
                   help="vertex:// only: then send all of this Vertex AI endpoint's traffic "
                        "to the version rolled back to (it must be deployed there)")
    _audit_options(p)
    p.set_defaults(func=_cmd_rollback)

    p = common("history", "the audit log: every alias move, oldest first")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--alias", default="", help="only this alias's moves")
    p.set_defaults(func=_cmd_history)


def _audit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", required=True, metavar="WHY",
                        help="why the alias moves (required; kept in the audit log)")
    parser.add_argument("--by", default="", metavar="WHO",
                        help="who moves it, for the audit log (default: USER@HOST)")


def _registry(args):
    from kfp_mlops.components._shared import registry as reg

    return reg.open_registry(args.registry_uri)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _table(rows: List[List[str]], header: List[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def _name(version) -> str:
    return "no version" if version in (None, "") else f"version {version}"


def _metrics(metrics: Dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in metrics.items()) or "-"


def _cmd_list(args) -> int:
    from kfp_mlops.components._shared.registry import operations

    registry = _registry(args)
    if not args.model:
        names = operations.list_models(registry)
        if args.json:
            _print_json(names)
        elif not names:
            print(f"registry {args.registry_uri} holds no model yet")
        else:
            print("\n".join(names))
        return 0
    rows = operations.list_versions(registry, args.model)
    if args.json:
        _print_json(rows)
        return 0
    _table([[r["version"], ",".join(r["aliases"]) or "-", r["created"][:19] or "-",
             _metrics(r["metrics"]), r["pipeline_run"] or "-"] for r in rows],
           ["VERSION", "ALIASES", "CREATED", "METRICS", "PIPELINE RUN"])
    return 0


def _cmd_show(args) -> int:
    from kfp_mlops.components._shared.registry import operations

    shown = operations.show(_registry(args), args.model, args.version)
    if args.json:
        _print_json(shown)
        return 0
    lineage = shown.get("lineage") or {}
    print(f"{shown['model_name']} version {shown['version']}")
    print(f"  aliases:       {', '.join(shown['aliases']) or '-'}")
    print(f"  created:       {shown.get('created') or lineage.get('created') or '-'}")
    print(f"  uri:           {shown['uri']}")
    print(f"  model hash:    {shown.get('model_hash') or '-'}")
    print(f"  metrics:       {_metrics((shown.get('evaluation') or {}).get('metrics') or {})}")
    print(f"  pipeline run:  {lineage.get('pipeline_run') or '-'}")
    print(f"  data:          {lineage.get('data_source') or '-'} "
          f"(sha256 {str(lineage.get('data_content_hash') or '-')[:12]})")
    reasons = lineage.get("reasons") or []
    print(f"  blessing:      {'; '.join(map(str, reasons)) or '-'}")
    for what, where in shown["files"]["folders"].items():
        print(f"  {what + ':':<14} {where}")
    print(f"  model files:   {', '.join(shown['files']['model']) or '-'}")
    for entry in shown["alias_moves"]:
        print(f"  alias move:    {_move_line(entry)}")
    return 0


def _move_line(entry: Dict[str, Any]) -> str:
    what = f" [{entry['operation']}]" if entry.get("operation") else ""
    by = entry.get("by") or "(unrecorded)"
    reason = entry.get("reason") or "(no reason recorded)"
    return (f"{entry.get('at', '')[:19]}  {entry['alias']}: {_name(entry.get('from'))} -> "
            f"{_name(entry.get('to'))}{what} by {by}: {reason}")


def _done(result: Dict[str, Any], args) -> None:
    if args.json:
        _print_json(result)
        return
    if not result["moved"]:
        print(f"{result['model_name']}: alias {result['alias']} already names version "
              f"{result['to']}; nothing moved")
        return
    skipped = result.get("skipped") or []
    gone = (f" (skipped {', '.join(skipped)}: no longer registered)" if skipped else "")
    print(f"{result['model_name']}: alias {result['alias']} moved from "
          f"{_name(result['from'])} to version {result['to']}{gone} by {result['by']}: "
          f"{result['reason']}")
    if result.get("endpoint"):
        split = ", ".join(f"deployed model {k} {v}%" for k, v in result["traffic_split"].items())
        print(f"{result['model_name']}: endpoint {result['endpoint']} now sends {split}")


def _cmd_promote(args) -> int:
    from kfp_mlops.components._shared.registry import operations

    reason = operations.check_reason(args.reason, "--reason")
    result = operations.promote(_registry(args), args.model, args.version, args.alias,
                                reason=reason, by=args.by)
    _done(result, args)
    return 0


def _cmd_rollback(args) -> int:
    from kfp_mlops.components._shared import registry as reg
    from kfp_mlops.components._shared.registry import operations

    reason = operations.check_reason(args.reason, "--reason")
    where = reg.parse_registry_uri(args.registry_uri)
    if args.endpoint and where.kind != "vertex":
        raise ValueError(f"--endpoint {args.endpoint!r} needs a vertex:// registry; "
                         f"--registry-uri {args.registry_uri!r} is a folder registry")
    registry = _registry(args)
    result = operations.rollback(registry, args.model, reason=reason, by=args.by,
                                 alias=args.alias)
    if args.endpoint:
        from kfp_mlops.components.push import deploy

        version = registry.resolve(args.model, result["to"])
        result["endpoint"] = args.endpoint
        result["traffic_split"] = deploy.route_traffic(version, args.endpoint, where.project,
                                                       where.location)
    _done(result, args)
    return 0


def _cmd_history(args) -> int:
    from kfp_mlops.components._shared.registry import operations

    entries = operations.history(_registry(args), args.model, args.alias)
    if args.json:
        _print_json(entries)
    elif not entries:
        print(f"{args.model}: no alias has moved yet"
              + (f" (alias {args.alias})" if args.alias else ""))
    else:
        for entry in entries:
            print(_move_line(entry))
    return 0


if __name__ == "__main__":  # pragma: no cover
    from kfp_mlops.pipelines import cli

    sys.exit(cli.main(["registry", *sys.argv[1:]]))
