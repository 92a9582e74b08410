"""Google Cloud names, checked before a request is built: project ids and regions.

One definition for the CLI's ``submit`` / ``publish`` and for the components that call
Vertex AI themselves (``retrain``), so both accept and refuse the same names.
"""
from __future__ import annotations

import re
from typing import Type

#: A project id (6-30 lowercase letters, digits and '-'), optionally domain-scoped
#: (``example.com:my-project``).
PROJECT_RE = re.compile(r"^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
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
