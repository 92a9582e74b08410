"""Google Cloud names, checked before a request is built: project ids, regions and labels.

One definition for the CLI's ``submit`` / ``publish`` and for the components that call
Vertex AI themselves (``retrain``, ``vertex_monitoring``), so all accept and refuse the same
names.
"""
from __future__ import annotations

import re
from typing import Any, Type

#: A project id (6-30 lowercase letters, digits and '-'), optionally domain-scoped
#: (``example.com:my-project``).
PROJECT_RE = re.compile(r"^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
#: What a label value may not hold: Google Cloud label values are lowercase letters, digits,
#: '_' and '-', at most 63 characters (Vertex AI, Pipelines and Monitoring share the rules).
_LABEL_BAD = re.compile(r"[^a-z0-9_-]+")
#: A region such as ``europe-west4`` or ``us-central1``.
REGION_RE = re.compile(r"^[a-z]+(-[a-z]+)+[0-9]+$")


def check_project_region(project: str, region: str, project_name: str = "project",
                         region_name: str = "region",
                         error: Type[Exception] = ValueError) -> None:
    """Raises ``error`` naming the input (``project_name`` / ``region_name``) when
    ``project`` is not a project id or ``region`` not a region."""
    if not project or not PROJECT_RE.match(project):
        raise error(f"{project_name} {project!r}: expected a Google Cloud project id such as "
                    "my-project (6 to 30 lowercase letters, digits and '-')")
    if not region or not REGION_RE.match(region):
        raise error(f"{region_name} {region!r}: expected a Google Cloud region such as "
                    "europe-west4 or us-central1")


def label_value(value: Any, default: str = "unknown") -> str:
    """``value`` as a Google Cloud label value (``0.1.0+dev`` -> ``0-1-0-dev``): lowercase
    ``[a-z0-9_-]``, at most 63 characters; ``default`` when nothing is left."""
    return _LABEL_BAD.sub("-", str(value).lower()).strip("-")[:63].strip("-") or default
