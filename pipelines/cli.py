"""The ``kfp-mlops`` command: compile pipelines and run them on this machine.

    kfp-mlops list
    kfp-mlops compile [--output-dir DIR] [--image-registry R] [--image-tag T]
    kfp-mlops run PIPELINE [--param NAME=VALUE ...] [--output-dir DIR]
                  [--summary-json FILE] [--runner subprocess|docker] [--warm-tasks] [--no-cache]
                  [--dry-run]
                  [--quiet | --verbose]          (runs on this machine; --local is a no-op)
    kfp-mlops submit PIPELINE (--vertex --project P --region R --pipeline-root gs://...
                  | --kubeflow --host URL) [--param NAME=VALUE ...] [--cache | --no-cache]
                  [--experiment NAME] [--dry-run]
    kfp-mlops schedule PIPELINE (--vertex ... | --kubeflow ...) --cron "0 6 * * *"
                  [--param NAME=VALUE ...] [--dry-run]
    kfp-mlops publish --project P --region R --repository REPO --image-registry R
    kfp-mlops components [--check]        the per-component YAML catalogue
    kfp-mlops model-card --registry-uri URI --model-name M [--version V] [--format html|md]
                  [--output PATH]            the model card of a registered version
    kfp-mlops registry list|show|promote|rollback|history --registry-uri URI ...
                  (registry_cli.py: look into a registry; move aliases with an audit trail)
    kfp-mlops runs [--output-dir DIR] [--experiment E] [--tracking-uri URI] [--json]
                                          the recorded training runs side by side

Every command takes ``--quiet`` (warnings and errors only; ``run`` prints only its summary
and errors) or ``--verbose`` (DEBUG logs). Output that is not a terminal, or any output when
``NO_COLOR`` is set (https://no-color.org), carries no colour codes: kfp.local colours its
status lines, and those codes are taken out of what is written.
"""
import argparse
import contextlib
import io
import logging
import os
import re
import sys
from typing import Iterator, List, Optional, TextIO

from kfp_mlops.pipelines import __version__, cloud_cli, model_card_cli, registry_cli, runs_cli

logger = logging.getLogger("kfp-mlops")


class _Parser(argparse.ArgumentParser):
    """argparse with ``did you mean`` for a mistyped choice (a sub-command, ``--runner``);
    Python 3.14's ``suggest_on_error`` does the same in this same method."""

    def _check_value(self, action, value):
        if action.choices is not None and value not in action.choices:
            from kfp_mlops.pipelines.suggest import did_you_mean

            hint = did_you_mean(value, [str(c) for c in action.choices])
            if hint:
                raise argparse.ArgumentError(
                    action, f"invalid choice: {value!r}{hint}; choose from "
                            f"{', '.join(map(repr, action.choices))}")
        super()._check_value(action, value)


def _add_output_options(parser: argparse.ArgumentParser, default) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="only warnings and errors (run: only its summary and errors)")
    group.add_argument("-v", "--verbose", action="store_true", default=default,
                       help="DEBUG logs as well")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kfp-mlops",
        description=("Kubeflow Pipelines components and pipelines for tabular ML. Compile the "
                     "pipelines to specs for Kubeflow or Vertex AI, or run them on this machine."),
    )
    parser.add_argument("--version", action="version", version=f"kfp-mlops {__version__}")
    _add_output_options(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("list", help="list the pipelines and their parameters").set_defaults(
        func=_cmd_list)

    comp = sub.add_parser("compile", help="compile every pipeline to <pipeline-name>.yaml")
    comp.add_argument("--output-dir", default="build/pipelines",
                      help="folder for the compiled specs (default: %(default)s)")
    comp.add_argument("--image-registry", default=None,
                      help="registry path every component image is taken from, for example "
                           "europe-docker.pkg.dev/PROJECT/REPO (default: images built locally)")
    comp.add_argument("--image-tag", default=None,
                      help="tag of every component image (default: the package version)")
    comp.add_argument("--pipeline", action="append", default=None, metavar="NAME",
                      help="compile only this pipeline (repeatable)")
    comp.add_argument("--train-cpu", default="", metavar="CPU",
                      help="CPU request and limit of the train task, e.g. 8 or 500m")
    comp.add_argument("--train-memory", default="", metavar="MEMORY",
                      help="memory request and limit of the train task, e.g. 32G")
    comp.add_argument("--train-accelerator", default="", metavar="TYPE",
                      help="accelerator of the train task, e.g. NVIDIA_TESLA_T4 on Vertex AI "
                           "or nvidia.com/gpu on Kubeflow")
    comp.add_argument("--train-accelerator-count", type=int, default=1, metavar="N",
                      help="number of accelerators of the train task (default: %(default)s)")
    comp.add_argument("--train-workers", type=int, default=None, metavar="N",
                      help="run the train task as a Vertex AI custom job of N machines "
                           "(chief included; TF_CONFIG set by Vertex AI)")
    comp.add_argument("--train-machine-type", default="", metavar="TYPE",
                      help="machine type of the train custom job, e.g. n1-standard-8 "
                           "(default with --train-workers: n1-standard-4)")
    comp.set_defaults(func=_cmd_compile)

    run = sub.add_parser("run", help="run a pipeline on this machine with kfp.local")
    run.add_argument("pipeline", help="pipeline name (see `kfp-mlops list`)")
    run.add_argument("--local", action="store_true",
                     help="accepted and changes nothing: run always runs on this machine "
                          "(submit sends a pipeline to Vertex AI or Kubeflow)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a pipeline parameter; lists and dicts as JSON (repeatable)")
    run.add_argument("--output-dir", default="local_outputs",
                     help="where every task's outputs land (default: %(default)s)")
    run.add_argument("--summary-json", default=None, metavar="FILE",
                     help="write the run's status, tasks and artifacts as JSON to FILE")
    run.add_argument("--runner", choices=("subprocess", "docker"), default="subprocess",
                     help="subprocess: this Python environment; docker: the component images "
                          "(default: %(default)s)")
    run.add_argument("--warm-tasks", action="store_true",
                     help="subprocess runner: fork every task from one process that imported "
                          "TensorFlow, TFDV and MLflow once, instead of a fresh interpreter "
                          "each (faster on small data)")
    run.add_argument("--dry-run", action="store_true",
                     help="check the parameters as the run would, then stop: no task runs")
    cloud_cli.add_cache_options(run, local=True)
    _add_output_options(run, argparse.SUPPRESS)   # after the sub-command too
    run.set_defaults(func=_cmd_run)
    cloud_cli.add_parsers(sub)
    model_card_cli.add_parser(sub)
    registry_cli.add_parsers(sub)
    runs_cli.add_parser(sub)
    return parser


def _cmd_list(args) -> int:
    from kfp_mlops.pipelines import catalog, local

    for name in catalog.names():
        print(name)
        for param, spec in sorted(local.pipeline_parameters(name).items()):
            default = "required" if spec["required"] else f"default {spec['default']!r}"
            print(f"    {param:<20} {spec['type']:<8} {default}")
    return 0


def _cmd_compile(args) -> int:
    from kfp_mlops.pipelines import catalog, compiling

    names = args.pipeline or catalog.names()
    resources = None
    if args.train_workers is not None or args.train_machine_type:
        from kfp_mlops.pipelines.training import Resources
        from kfp_mlops.pipelines import vertex_training
        resources = Resources(custom_job=vertex_training.from_options(
            args.train_workers, args.train_machine_type, args.train_accelerator,
            args.train_accelerator_count))
    elif args.train_cpu or args.train_memory or args.train_accelerator:
        from kfp_mlops.pipelines.training import Resources
        if args.train_accelerator_count < 1:
            raise ValueError("--train-accelerator-count must be at least 1")
        resources = Resources(cpu=args.train_cpu, memory=args.train_memory,
                              accelerator_type=args.train_accelerator,
                              accelerator_count=args.train_accelerator_count)
    # unknown names and a bad image target fail before anything is written
    paths = compiling.compile_pipelines(args.output_dir, args.image_registry, args.image_tag,
                                        resources, names)
    for name, path in zip(names, paths):
        print(f"compiled {name} -> {path}")
    return 0


def _cmd_run(args) -> int:
    from kfp_mlops.pipelines import catalog, local

    if args.enable_caching:
        raise ValueError("--cache: kfp.local has no cache, every task runs every time; "
                         "--cache and --no-cache choose caching for submit and schedule")
    catalog.get(args.pipeline)
    parameters = local.parse_parameters(args.pipeline, args.param)
    _check_run_paths(args.output_dir, args.summary_json)
    if args.warm_tasks and args.runner != "subprocess":
        raise ValueError("--warm-tasks forks every task from a process of this Python "
                         f"environment: it needs --runner subprocess, not {args.runner}")
    if not args.dry_run:
        local.check_runtime(args.runner)
    if args.dry_run:
        from kfp_mlops.pipelines import preflight

        preflight.check(args.pipeline, parameters)
        print(f"the parameters of pipeline {args.pipeline!r} are valid; nothing run "
              "(--dry-run)")
        return 0
    logger.info("Running %s locally (%s runner); outputs under %s", args.pipeline, args.runner,
                args.output_dir)
    with _task_output(args.quiet):
        summary = local.run(args.pipeline, parameters, args.output_dir, runner=args.runner,
                            warm=args.warm_tasks)
    if not args.quiet:
        print()
    print(local.format_summary(summary))
    if args.summary_json:
        local.write_summary(summary, args.summary_json)
        print(f"Summary written to {args.summary_json}")
    if summary.status == "INTERRUPTED":
        # As a shell reports a command ended by a signal: 128 + its number (130 SIGINT,
        # 143 SIGTERM).
        import signal
        return 128 + int(signal.Signals[summary.interrupted_by])
    return 0 if summary.status == "SUCCESS" else 1


def _check_run_paths(output_dir: str, summary_json: Optional[str]) -> None:
    """Refuses, before any task runs, an ``--output-dir`` that is a file and a
    ``--summary-json`` that is a folder or whose folder cannot be made: the summary would
    otherwise fail to be written only after the whole run."""
    import os

    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"--output-dir {output_dir!r} is a file; expected a folder (it is "
                         "created if missing)")
    if summary_json is None:
        return
    if not summary_json or summary_json.endswith(os.sep) or os.path.isdir(summary_json):
        raise ValueError(f"--summary-json {summary_json!r} is a folder; expected a file path "
                         "such as local_outputs/summary.json")
    folder = os.path.dirname(os.path.abspath(summary_json))
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"--summary-json {summary_json!r}: {existing!r} is a file, so the "
                         "summary's folder cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--summary-json {summary_json!r}: {existing!r} is not writable")


@contextlib.contextmanager
def _task_output(quiet: bool) -> Iterator[None]:
    """``--quiet``: what the run prints on stdout while it runs (kfp.local's status lines,
    every task's streamed log) is dropped; the summary, printed after, holds each failed
    task's error, and this process's warnings and errors still reach stderr."""
    if not quiet:
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# CSI sequences (colours, cursor moves) and OSC sequences (titles, links).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def wants_plain(stream: TextIO, environ=None) -> bool:
    """Whether colour codes must be taken out of what goes to ``stream``: it is not a
    terminal, or ``NO_COLOR`` is set to anything but the empty string (https://no-color.org)."""
    environ = os.environ if environ is None else environ
    if environ.get("NO_COLOR"):
        return True
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


class _Plain(io.TextIOBase):
    """A text stream that writes to another with colour codes taken out.

    kfp.local colours its status lines unconditionally (``kfp/local/logging_utils.py``
    ``color_text``, kfp 2.13 and 2.17) and writes them through ``sys.stdout`` (a
    ``logging.StreamHandler(sys.stdout)`` made in ``local_logger_context``, and ``print``):
    filtering the stream is what works without reaching into kfp.local."""

    def __init__(self, stream: TextIO):
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(strip_ansi(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self):
        return getattr(self._stream, "encoding", "utf-8")


@contextlib.contextmanager
def _plain_output() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` without colour codes where :func:`wants_plain`."""
    kept = sys.stdout, sys.stderr
    if wants_plain(sys.stdout):
        sys.stdout = _Plain(sys.stdout)
    if wants_plain(sys.stderr):
        sys.stderr = _Plain(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = kept


@contextlib.contextmanager
def _log_level(args) -> Iterator[None]:
    """INFO by default, WARNING with ``--quiet``, DEBUG with ``--verbose`` (restored after)."""
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    root = logging.getLogger()
    kept = root.level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(kept)


def main(argv: Optional[List[str]] = None) -> int:
    with _plain_output():
        parser = _parser()
        args = parser.parse_args(argv)
        if args.quiet and args.verbose:
            parser.error("--quiet and --verbose: give one")
        with _log_level(args):
            logger.debug("kfp-mlops %s, Python %s, %s", __version__, sys.version.split()[0],
                         _kfp_version())
            try:
                return args.func(args)  # every sub-command sets func (set_defaults)
            except (KeyError, ValueError) as e:
                message = e.args[0] if isinstance(e, KeyError) and e.args else e
                print(f"kfp-mlops: error: {message}", file=sys.stderr)
                return 2


def _kfp_version() -> str:
    import kfp

    return f"kfp {kfp.__version__}"


if __name__ == "__main__":
    sys.exit(main())
