"""Logging set-up for component bodies: one format, to stderr, INFO by default."""
import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(level: str = "") -> None:
    """Configures the root logger once per process (the level from KFP_MLOPS_LOG_LEVEL)."""
    level = level or os.environ.get("KFP_MLOPS_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    # Inside a KFP task the executor has already given the root logger a handler.
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("kfp_mlops.start").info("component code started")
    # TensorFlow's C++ logs drown the task log; keep warnings and errors.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
