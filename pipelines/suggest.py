"""``did you mean 'training'?`` for a name that is not one of the known ones (difflib)."""
import difflib
from typing import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'training'?)"`` when ``name`` is close to one of ``known`` (the
    closest, by difflib's ratio of 0.6 or more), else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
