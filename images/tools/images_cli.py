"""Build the component images on this machine, check them, and give them a Docker API.

    python images/tools/images_cli.py build [--engine auto|docker|podman] [--image NAME ...]
    python images/tools/images_cli.py check [--engine auto|docker|podman] [--image NAME ...]
    python images/tools/images_cli.py with-api [--engine auto|docker|podman] -- COMMAND ...

``build`` builds every ``images/<folder>/Dockerfile`` tagged as compiled specs name it
(``kfp_mlops.images.uri``), with Docker when its engine answers and podman otherwise (set up
here when missing); ``make images`` runs it. ``check`` starts each image and checks its user,
imports, versions and size. ``with-api`` runs COMMAND with a Docker API at ``DOCKER_HOST``
(podman's, started for it, when no Docker engine answers), e.g.
``kfp-mlops run training --runner docker ...``.

A developer's and CI's tool (run it with the virtualenv that has kfp-mlops installed, as the
Makefile does); it is not part of the installed package.
"""
import argparse
import logging
import subprocess
import sys
from typing import List, Optional

import local_images

logger = logging.getLogger("kfp-mlops-images")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="images_cli.py",
        description="Builds the images under images/ with Docker or podman, tagged as the "
                    "compiled specs name them, checks the images built, or runs a command "
                    "with a Docker API.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    build = actions.add_parser(
        "build", help="build every image (podman's layer cache makes a rebuild quick)")
    build.set_defaults(func=_cmd_build)
    check = actions.add_parser(
        "check", help="start each image: non-root user, imports, the lock's versions, size")
    check.set_defaults(func=_cmd_check)
    api = actions.add_parser(
        "with-api", help="run a command with a Docker API at DOCKER_HOST (podman's when no "
                         "Docker engine answers)")
    api.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                     help="the command and its arguments, after --")
    api.set_defaults(func=_cmd_with_api)
    for action in (build, check, api):
        action.add_argument("--engine", choices=("auto", "docker", "podman"), default="auto",
                            help="auto: Docker when `docker info` answers, else podman "
                                 "(default: %(default)s)")
    for action in (build, check):
        action.add_argument("--image", action="append", default=None, metavar="NAME",
                            help="only this image, e.g. kfp-mlops-python (repeatable)")
    return parser


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def _cmd_build(args) -> int:
    for result in local_images.build_images(args.engine, args.image):
        print(f"built {result.uri} with {result.engine} from {result.base} in "
              f"{result.seconds:.1f} s ({_mb(result.size_bytes)})")
    return 0


def _cmd_check(args) -> int:
    failed = 0
    for result in local_images.check_images(args.engine, args.image):
        verdict = "ok" if result.ok else "FAILED"
        print(f"{result.uri}: {verdict} (uid {result.uid}, {_mb(result.size_bytes)}, "
              f"checked in {result.seconds:.1f} s)")
        for problem in result.problems:
            print(f"    - {problem}")
        failed += not result.ok
    return 1 if failed else 0


def _cmd_with_api(args) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ValueError("with-api: expected a command after --, e.g. "
                         "with-api -- kfp-mlops run training --runner docker ...")
    with local_images.docker_api(args.engine):
        return subprocess.run(command).returncode


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except local_images.ContainerError as e:
        logger.error("%s", e)
        return 1
    except ValueError as e:
        print(f"images_cli.py: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
