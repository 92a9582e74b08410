"""The ``images`` command of ``kfp-mlops``: build the images here, and check them.

    kfp-mlops images build [--engine auto|docker|podman] [--image NAME ...]
    kfp-mlops images check [--engine auto|docker|podman] [--image NAME ...]

``build`` builds every ``images/<folder>/Dockerfile`` tagged as compiled specs name it
(``kfp_mlops.images.uri``), with Docker when its engine answers and podman otherwise (set up
here when missing); ``kfp-mlops run PIPELINE --local --runner docker`` then runs each task in
them. ``check`` starts each image and checks its user, imports, versions and size.
``cli.py`` adds these with :func:`add_parsers` and hands them to :func:`dispatch`.
"""
import logging
from typing import Optional

logger = logging.getLogger("kfp-mlops")


def add_parsers(subparsers) -> None:
    """Adds ``images build`` and ``images check`` to the ``kfp-mlops`` sub-commands."""
    images = subparsers.add_parser(
        "images", help="build the component images on this machine, or check them",
        description="Builds the images under images/ with Docker or podman, tagged as the "
                    "compiled specs name them, or checks the images built.")
    actions = images.add_subparsers(dest="images_command", metavar="ACTION")
    actions.required = True
    build = actions.add_parser(
        "build", help="build every image (podman's layer cache makes a rebuild quick)")
    check = actions.add_parser(
        "check", help="start each image: non-root user, imports, the lock's versions, size")
    for parser in (build, check):
        parser.add_argument("--engine", choices=("auto", "docker", "podman"), default="auto",
                            help="auto: Docker when `docker info` answers, else podman "
                                 "(default: %(default)s)")
        parser.add_argument("--image", action="append", default=None, metavar="NAME",
                            help="only this image, e.g. kfp-mlops-python (repeatable)")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def _cmd_build(args) -> int:
    from kfp_mlops.pipelines import containers

    for result in containers.build_images(args.engine, args.image):
        print(f"built {result.uri} with {result.engine} from {result.base} in "
              f"{result.seconds:.1f} s ({_mb(result.size_bytes)})")
    return 0


def _cmd_check(args) -> int:
    from kfp_mlops.pipelines import containers

    failed = 0
    for result in containers.check_images(args.engine, args.image):
        verdict = "ok" if result.ok else "FAILED"
        print(f"{result.uri}: {verdict} (uid {result.uid}, {_mb(result.size_bytes)}, "
              f"checked in {result.seconds:.1f} s)")
        for problem in result.problems:
            print(f"    - {problem}")
        failed += not result.ok
    return 1 if failed else 0


def dispatch(args) -> Optional[int]:
    """Runs ``images build`` / ``images check``; None for any other command.

    Raises:
        ValueError: bad options (``cli.main`` prints them as errors).
    """
    if getattr(args, "command", None) != "images":
        return None
    from kfp_mlops.pipelines import containers

    handler = {"build": _cmd_build, "check": _cmd_check}[args.images_command]
    try:
        return handler(args)
    except containers.ContainerError as e:
        logger.error("%s", e)
        return 1
