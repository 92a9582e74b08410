"""Runs ``kfp-mlops`` command lines in-process."""
from typing import List

from kfp_mlops.pipelines import cli


def run_cli(argv: List[str]) -> int:
    """``kfp-mlops ARGV``: its exit code (2 for a usage error, printed to stderr)."""
    return cli.main(argv)
