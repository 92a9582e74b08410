"""What push reads and writes that other components read too: the blessing evaluate gives
it, the dataset record, and ``push.json``, the decision push leaves in its ``pushed_model``
artifact (track records it; the model card shows it). Light: stdlib and ``_shared.io``."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

from kfp_mlops.components._shared import io

BLESSING_FILE = "blessing.json"
EVALUATION_FILE = "evaluation.json"
PUSH_FILE = "push.json"
MODEL_INFO_FILE = os.path.join("assets.extra", "kfp_mlops_model.json")
DATASET_INFO_FILE = "dataset.json"


class PushError(ValueError):
    """An input of push is missing or malformed; the message names it."""


def _read_decision(artifact_dir: str, filename: str, flag: str, what: str,
                   producer: str) -> Dict[str, Any]:
    """``filename`` of an artifact: a JSON object whose ``flag`` is true or false."""
    path = os.path.join(artifact_dir, filename)
    if not os.path.isfile(path):
        raise PushError(f"{what} {artifact_dir!r} holds no {filename}; expected the "
                        f"{producer}")
    try:
        found = io.read_json(path)
    except ValueError as e:
        raise PushError(f"{what} file {path!r} is not valid JSON: {e}") from e
    if not isinstance(found, dict) or not isinstance(found.get(flag), bool):
        raise PushError(f"{what} file {path!r} must be a JSON object whose {flag!r} is "
                        f"true or false; got {found!r:.200}")
    return found


def read_blessing(blessing_dir: str) -> Dict[str, Any]:
    """Reads and checks ``blessing.json`` of an evaluate blessing artifact."""
    blessing = _read_decision(blessing_dir, BLESSING_FILE, "blessed", "blessing",
                              "blessing artifact of the evaluate component")
    reasons = blessing.get("reasons", [])
    if not isinstance(reasons, list):
        raise PushError(f"blessing file {os.path.join(blessing_dir, BLESSING_FILE)!r}: "
                        "'reasons' must be a list of strings")
    blessing["reasons"] = [str(r) for r in reasons]
    return blessing


def read_record(pushed_dir: str) -> Dict[str, Any]:
    """Reads and checks ``push.json`` of push's ``pushed_model`` artifact: what push decided
    (:meth:`PushResult.metadata`), for the components that record or act on it."""
    return _read_decision(pushed_dir, PUSH_FILE, "pushed", "pushed model",
                          "pushed_model artifact of the push component")


def dataset_info(dataset_dir: str = "", metadata: Optional[Dict] = None) -> Dict[str, Any]:
    """The dataset's ``dataset.json`` when it is there, else the artifact's metadata."""
    path = os.path.join(dataset_dir, DATASET_INFO_FILE) if dataset_dir else ""
    if path and os.path.isfile(path):
        return io.read_json(path)
    return dict(metadata or {})
