"""The cloud commands of ``kfp-mlops``: submit runs, schedule them, publish templates, compile
components.

    kfp-mlops submit PIPELINE --vertex --project P --region R --pipeline-root gs://B/ROOT
                     --image-registry REG [--image-tag T] [--service-account SA]
                     [--experiment NAME] [--param NAME=VALUE ...] [--cache | --no-cache]
                     [--run-name NAME] [--dry-run]
    kfp-mlops submit PIPELINE --kubeflow --host URL [--experiment E] [--namespace NS]
                     [--service-account SA] [--image-registry REG] [--image-tag T] ...
    kfp-mlops schedule PIPELINE (--vertex ... | --kubeflow ...) --cron "0 6 * * *"
                     [--name NAME] [--max-concurrent-runs N] [--max-runs N]
                     [--start-time T] [--end-time T] [--param ...] [--dry-run]
    kfp-mlops publish --project P --region R --repository REPO --image-registry REG
                      [--image-tag T] [--pipeline NAME ...] [--tag EXTRA ...] [--dry-run]
    kfp-mlops components [--output-root components] [--check]

``cli.py`` adds these with :func:`add_parsers`; each sets its handler as ``func``.
"""
import argparse
import json
import logging
import os
import sys
from typing import Any, Callable, Dict, Optional

logger = logging.getLogger("kfp-mlops")


def _image_options(parser: argparse.ArgumentParser, required_registry: bool) -> None:
    parser.add_argument("--image-registry", required=required_registry, default=None,
                        help="registry every component image is taken from, e.g. "
                             "europe-docker.pkg.dev/PROJECT/REPO"
                             + ("" if required_registry else " (default: images built locally)"))
    parser.add_argument("--image-tag", default=None,
                        help="tag of every component image, e.g. a commit (default: the "
                             "package version)")


def add_cache_options(parser: argparse.ArgumentParser, local: bool = False) -> None:
    """``--cache`` / ``--no-cache`` (mutually exclusive) as ``args.enable_caching``: True,
    False, or None (the default: each task's compiled setting, see pipelines/caching.py)."""
    if local:
        cache_help = ("refused: kfp.local has no cache, so every task runs every time "
                      "(--cache is for submit and schedule)")
        no_cache_help = "accepted and changes nothing: kfp.local never reuses a result"
    else:
        cache_help = ("let every task reuse cached results, even ingest, evaluate, push and "
                      "the monitoring tasks, which never do by default")
        no_cache_help = "run every task again, also validate and train"
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cache", dest="enable_caching", action="store_const", const=True,
                       help=cache_help)
    group.add_argument("--no-cache", dest="enable_caching", action="store_const", const=False,
                       help=no_cache_help)
    parser.set_defaults(enable_caching=None)


_CACHE_DEFAULT = ("Caching: by default each task keeps the setting compiled into the spec: "
                  "ingest, evaluate, push, and every task of the monitoring pipeline never "
                  "reuse an earlier result; validate and train do only for the very same "
                  "input artifacts, which a new ingest never hands them. --cache / "
                  "--no-cache override every task.")


def _target_options(sub: argparse.ArgumentParser, command: str) -> None:
    """The options shared by ``submit`` and ``schedule``: target, where, as whom, what."""
    verb = "run" if command == "submit" else "schedule runs"
    sub.add_argument("pipeline", help="pipeline name (see `kfp-mlops list`)")
    target = sub.add_mutually_exclusive_group(required=True)
    target.add_argument("--vertex", action="store_true", help=f"{verb} on Vertex AI Pipelines")
    target.add_argument("--kubeflow", action="store_true",
                        help=f"{verb} on a Kubeflow Pipelines host")
    vertex = sub.add_argument_group("Vertex AI (--vertex)")
    vertex.add_argument("--project", help="Google Cloud project")
    vertex.add_argument("--region", help="Vertex AI region, e.g. europe-west4")
    vertex.add_argument("--pipeline-root", help="gs:// folder for every task's outputs")
    kubeflow = sub.add_argument_group("Kubeflow (--kubeflow)")
    kubeflow.add_argument("--host", help="Kubeflow Pipelines endpoint, http(s)://...")
    kubeflow.add_argument("--namespace", default=None,
                          help="Kubernetes namespace (multi-user Kubeflow)")
    if command == "submit":
        sub.add_argument("--experiment", default=None, metavar="NAME",
                         help="Vertex AI: the Vertex AI experiment the run is associated with "
                              "(created if missing; 4-128 lowercase letters, digits, '-'); "
                              "Kubeflow: the KFP experiment the run is filed under "
                              "(default: Default)")
    else:
        kubeflow.add_argument("--experiment", default=None, metavar="NAME",
                              help="KFP experiment the runs are filed under, created if "
                                   "missing (default: Default)")
    sub.add_argument("--service-account", default=None,
                     help="identity the runs act as (Vertex: a Google service account e-mail; "
                          "Kubeflow: a Kubernetes service account)")
    sub.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a pipeline parameter; lists and dicts as JSON (repeatable). "
                          "Locations (data_uri, registry_uri, schema_uri, ...) must be "
                          "reachable from the target: no local paths, and /gcs/ only on "
                          "Vertex AI")
    add_cache_options(sub)
    sub.add_argument("--dry-run", action="store_true",
                     help="print the call as JSON and send nothing")
    sub.add_argument("--spec-dir", default=os.path.join("build", command),
                     help="where the compiled spec is kept (default: %(default)s)")
    sub.add_argument("--git-commit", default=None, metavar="SHA",
                     help="commit for the runs' git-commit label (default: asked of git)")
    _image_options(sub, required_registry=False)


def add_parsers(subparsers) -> None:
    """Adds ``submit``, ``schedule``, ``publish`` and ``components`` to the ``kfp-mlops``
    sub-commands, each with its handler as ``func`` (``args.func(args)`` runs it; handlers
    raise ValueError or KeyError for bad options, which ``cli.main`` prints as errors)."""
    sub = subparsers.add_parser(
        "submit", help="compile a pipeline and start a run on Vertex AI or Kubeflow",
        description="Compiles PIPELINE for the given images and starts one run. --dry-run "
                    "prints the exact call as JSON and sends nothing. " + _CACHE_DEFAULT)
    _target_options(sub, "submit")
    sub.add_argument("--run-name", default=None, help="display name of the run")
    sub.set_defaults(func=_cmd_submit)

    sched = subparsers.add_parser(
        "schedule", help="compile a pipeline and run it on a cron schedule on Vertex AI or "
                         "Kubeflow",
        description="Compiles PIPELINE for the given images and creates a schedule: a Vertex "
                    "AI PipelineJobSchedule, or a Kubeflow recurring run. --dry-run prints "
                    "the exact calls as JSON and sends nothing. " + _CACHE_DEFAULT)
    _target_options(sched, "schedule")
    sched.add_argument("--cron", required=True, metavar="EXPRESSION",
                       help="standard 5-field cron: minute hour day-of-month month "
                            "day-of-week, e.g. '0 6 * * *' (06:00 daily). Vertex AI: may "
                            "start with TZ=Area/City, e.g. 'TZ=Europe/Berlin 0 6 * * *'. "
                            "Kubeflow: "
                            "turned into Kubeflow's 6 fields with seconds first ('0 0 6 * * "
                            "*'), in the time zone of Kubeflow's scheduler")
    sched.add_argument("--name", default=None,
                       help="name of the schedule (default: PIPELINE-schedule)")
    sched.add_argument("--max-concurrent-runs", type=int, default=1, metavar="N",
                       help="most runs of the schedule at one time (default: %(default)s)")
    sched.add_argument("--max-runs", type=int, default=None, metavar="N",
                       help="Vertex AI: end the schedule after N runs (default: no limit)")
    sched.add_argument("--start-time", default=None, metavar="TIME",
                       help="first possible run, RFC 3339, e.g. 2026-01-31T06:00:00Z "
                            "(default: now)")
    sched.add_argument("--end-time", default=None, metavar="TIME",
                       help="no run after this time, RFC 3339 (default: never)")
    sched.set_defaults(func=_cmd_schedule)

    pub = subparsers.add_parser(
        "publish", help="compile pipelines and upload them as templates to Artifact Registry",
        description="Uploads each compiled pipeline to an Artifact Registry Kubeflow Pipelines "
                    "repository, tagged with the package version and latest.")
    pub.add_argument("--project", required=True, help="Google Cloud project")
    pub.add_argument("--region", required=True, help="region of the repository")
    pub.add_argument("--repository", required=True,
                     help="Artifact Registry repository of format Kubeflow Pipelines")
    pub.add_argument("--pipeline", action="append", default=None, metavar="NAME",
                     help="publish only this pipeline (repeatable; default: all)")
    pub.add_argument("--tag", action="append", default=[], metavar="TAG", dest="extra_tags",
                     help="a tag beyond the package version and latest, e.g. the commit")
    pub.add_argument("--dry-run", action="store_true",
                     help="print the uploads as JSON and send nothing")
    pub.add_argument("--spec-dir", default=os.path.join("build", "publish"),
                     help="where the compiled specs are kept (default: %(default)s)")
    _image_options(pub, required_registry=True)
    pub.set_defaults(func=_cmd_publish)

    comps = subparsers.add_parser(
        "components", help="compile every component to components/<name>/component.yaml")
    comps.add_argument("--output-root", default="components",
                       help="folder holding one sub-folder per component (default: %(default)s)")
    comps.add_argument("--check", action="store_true",
                       help="write nothing; fail and name the files that are stale")
    _image_options(comps, required_registry=False)
    comps.set_defaults(func=_cmd_components)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def _compile(pipeline: str, spec_dir: str, registry: Optional[str], tag: Optional[str]) -> str:
    from kfp_mlops.pipelines import compiling

    return compiling.compile_pipeline(pipeline, spec_dir, registry, tag)


def _run_request_builder(args, command: str,
                         run_name: Optional[str]) -> Callable[[str], Dict[str, Any]]:
    """Checks the pipeline, its parameters and the target options of ``submit`` or
    ``schedule`` before anything is compiled, and returns ``spec path -> run request``."""
    from kfp_mlops.pipelines import catalog, cloud, local, preflight

    catalog.get(args.pipeline)
    parameters = local.parse_parameters(args.pipeline, args.param)
    # --experiment names the pipeline's own tracking experiment too (the track task's),
    # unless --param experiment= says otherwise: one name for the run and its record
    if getattr(args, "experiment", None) and "experiment" not in parameters and \
            "experiment" in local.pipeline_parameters(args.pipeline):
        parameters["experiment"] = args.experiment
    # Every check that needs no data, the run's first task included (a required parameter
    # given as NAME=, nearly always an unset variable upstream, is one of them).
    preflight.check(args.pipeline, parameters)
    if args.vertex:
        missing = [f"--{n.replace('_', '-')}" for n in ("project", "region", "pipeline_root",
                                                         "image_registry")
                   if not getattr(args, n)]
        if missing:
            raise ValueError(f"{command} --vertex needs {', '.join(missing)} (Vertex AI "
                             "cannot pull images built on this machine, hence "
                             "--image-registry)")
    elif not args.host:
        raise ValueError(f"{command} --kubeflow needs --host, e.g. --host "
                         "http://localhost:8080")
    common = dict(parameters=parameters, enable_caching=args.enable_caching,
                  service_account=args.service_account or None, run_name=run_name)
    if args.vertex:
        commit = args.git_commit or cloud.git_commit()
        return lambda spec: cloud.vertex_request(
            args.pipeline, spec, project=args.project, region=args.region,
            pipeline_root=args.pipeline_root, commit=commit, experiment=args.experiment,
            **common)
    return lambda spec: cloud.kubeflow_request(
        args.pipeline, spec, host=args.host, experiment=args.experiment,
        namespace=args.namespace, **common)


def _compile_and_send(args, build: Callable[[str], Dict[str, Any]]) -> int:
    """Checks ``build`` on the spec's future path, compiles, then prints or sends."""
    from kfp_mlops.pipelines import cloud

    build(os.path.join(args.spec_dir, f"{args.pipeline}.yaml"))  # every check, before compiling
    if args.image_registry or args.image_tag:
        from kfp_mlops import images
        from kfp_mlops.pipelines import compiling
        compiling.check_image_target(args.image_registry or images.DEFAULT_REGISTRY,
                                     args.image_tag or images.DEFAULT_TAG)

    spec = _compile(args.pipeline, args.spec_dir, args.image_registry, args.image_tag)
    request = build(spec)
    if args.dry_run:
        _print_json(request)
        return 0
    logger.info("%s %s on %s", "Scheduling" if request["action"] == "schedule" else
                "Submitting", args.pipeline, request["target"])
    result = cloud.send(request)
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0


def _cmd_submit(args) -> int:
    return _compile_and_send(args, _run_request_builder(args, "submit", args.run_name))


def _cmd_schedule(args) -> int:
    from kfp_mlops.pipelines import cloud

    # The cron first: it is the option most often mistyped.
    (cloud.vertex_cron if args.vertex else cloud.kubeflow_cron)(args.cron)
    name = args.name or f"{args.pipeline}-schedule"
    if args.kubeflow and args.max_runs is not None:
        raise ValueError("--max-runs: Kubeflow recurring runs have no run limit; use "
                         "--end-time to end the schedule")
    run = _run_request_builder(args, "schedule", name)
    window = dict(cron=args.cron, max_concurrent_runs=args.max_concurrent_runs,
                  start_time=args.start_time, end_time=args.end_time)
    if args.vertex:
        build = lambda spec: cloud.vertex_schedule_request(  # noqa: E731
            run(spec), display_name=name, max_runs=args.max_runs, **window)
    else:
        build = lambda spec: cloud.kubeflow_schedule_request(  # noqa: E731
            run(spec), name=name, **window)
    return _compile_and_send(args, build)


def _cmd_publish(args) -> int:
    from kfp_mlops.pipelines import catalog, cloud, compiling

    names = args.pipeline or catalog.names()
    for name in names:
        catalog.get(name)
    host = cloud.registry_host(args.project, args.region, args.repository)
    cloud.template_tags(args.extra_tags)
    from kfp_mlops import images
    compiling.check_image_target(args.image_registry, args.image_tag or images.DEFAULT_TAG)

    specs = {name: _compile(name, args.spec_dir, args.image_registry, args.image_tag)
             for name in names}
    request = cloud.publish_request(host, specs, args.extra_tags)
    if args.dry_run:
        _print_json(request)
        return 0
    for item in cloud.upload(request):
        print(f"published {item['package']} version {item['version']} "
              f"({os.path.basename(item['file_name'])}) to {host}")
    return 0


def _cmd_components(args) -> int:
    from kfp_mlops.pipelines import components_catalog

    retargeted = bool(args.image_registry or args.image_tag)
    if retargeted:
        if args.check:
            raise ValueError("--check compares with the committed catalogue, which names the "
                             "default images; leave out --image-registry/--image-tag")
        from kfp_mlops import images
        from kfp_mlops.pipelines import compiling
        compiling.check_image_target(args.image_registry or images.DEFAULT_REGISTRY,
                                     args.image_tag or images.DEFAULT_TAG)
        os.makedirs(args.output_root, exist_ok=True)
    if not os.path.isdir(args.output_root):
        raise ValueError(f"--output-root {args.output_root!r} is not a folder; run from the "
                         "repository root or pass the folder holding the component folders")
    if args.check:
        stale = components_catalog.stale(args.output_root)
        if stale:
            print("stale component specs (run `kfp-mlops components` to rewrite them):",
                  file=sys.stderr)
            for path in stale:
                print(f"  {path}", file=sys.stderr)
            return 1
        print(f"{len(components_catalog.names())} component specs are up to date")
        return 0
    written = components_catalog.write_all(args.output_root, args.image_registry,
                                           args.image_tag)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(components_catalog.names())} component specs, {len(written)} rewritten")
    return 0

