"""Checks of parameter values that need no data: numbers, ranges, distance thresholds.

The components call these at run time and ``kfp_mlops.pipelines.preflight`` calls the
components' checks before a pipeline's first task, so a rule has one home and gives the same
message either way. Each helper returns a problem (``""`` when the value is fine), and
:func:`raise_all` raises every problem of one component at once.

Pure Python: stdlib only.
"""
from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional, Sequence, Type


def is_number(value: Any) -> bool:
    """A finite int or float; never a bool (``True`` is an int to Python, not a number to us)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def is_whole(value: Any) -> bool:
    """A finite whole number: an int, or a float such as ``30.0`` (JSON and KFP structs carry
    whole numbers as floats)."""
    return is_number(value) and float(value).is_integer()


def number_problem(name: str, value: Any, *, whole: bool = False,
                   minimum: Optional[float] = None, above: Optional[float] = None,
                   maximum: Optional[float] = None, below: Optional[float] = None) -> str:
    """``""`` when ``value`` is a finite number (whole with ``whole``) in range, else what is
    wrong with it, naming ``name`` and the range: ``epochs=0: expected a whole number >= 1``."""
    bounds = []
    if minimum is not None:
        bounds.append(f">= {minimum:g}")
    if above is not None:
        bounds.append(f"> {above:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
    if below is not None:
        bounds.append(f"< {below:g}")
    expected = ("a whole number" if whole else "a finite number") + \
        (" " + " and ".join(bounds) if bounds else "")
    ok = is_whole(value) if whole else is_number(value)
    if ok:
        ok = ((minimum is None or value >= minimum) and (above is None or value > above)
              and (maximum is None or value <= maximum) and (below is None or value < below))
    return "" if ok else f"{name}={value!r}: expected {expected}"


def distance_threshold_problem(name: str, value: Any) -> str:
    """A skew or drift threshold (an L-infinity distance or a Jensen-Shannon divergence, as
    TFDV compares them) must be a finite number >= 0."""
    if is_number(value) and value >= 0:
        return ""
    return f"{name} must be a number >= 0 (finite, not a bool), got {value!r}"


def distance_thresholds_problems(name: str, thresholds: Any) -> List[str]:
    """Per-feature thresholds: a mapping of feature names (non-empty text) to thresholds."""
    if thresholds is None:
        return []
    if not isinstance(thresholds, Mapping):
        return [f"{name} must be a mapping of feature name to threshold, got {thresholds!r}"]
    problems = []
    for feature, value in thresholds.items():
        if not isinstance(feature, str) or not feature.strip():
            problems.append(f"{name} has a key {feature!r}: expected a feature name")
            continue
        problem = distance_threshold_problem(f"{name}[{feature!r}]", value)
        if problem:
            problems.append(problem)
    return problems


def raise_all(problems: Sequence[str], error: Type[Exception] = ValueError) -> None:
    """Raises ``error`` with every non-empty problem, ``"; "``-joined; its ``problems``
    attribute holds them one by one (``preflight`` lists them one a line)."""
    found = [p for p in problems if p]
    if found:
        e = error("; ".join(found))
        e.problems = found  # type: ignore[attr-defined]
        raise e

