"""Showing URLs without the secrets they carry: the one redaction every record uses.

Webhook URLs are credentials: ``https://user:password@host/...``, a token in the path
(``https://hooks.slack.com/services/T000/B000/XXXX``) or in the query (``?token=...``).
Wherever a URL is shown -- a log line, artifact metadata, a report, the run summary, the
streamed task log -- it is shown as ``scheme://host/…``: no user information, no path, no
query. :func:`url` does that for one URL. :func:`text` scrubs free text (a streamed log):
every http(s) URL that carries user information, a query or a fragment is shown as
:func:`url` shows it, and the secret parts of URLs the caller knows (:func:`secret_parts`,
e.g. of the run's parameters) are replaced wherever they appear -- a path token cannot be
told from an ordinary path otherwise, so other URLs with a path (a console link) are kept.
:func:`value` does the same for a JSON-like value.
"""
import json
import re
import urllib.parse
from typing import Any, Iterable, List

ELLIPSIS = "…"
#: An http(s) URL inside free text: up to the first character that cannot be part of it
#: (whitespace, quotes, brackets, a backslash of a JSON escape).
_URL_IN_TEXT = re.compile(r"""(?i)\bhttps?://[^\s'"<>`\\\])}]+""")
#: A value that is one URL (a parameter): all of it counts, a space or line break included.
_WHOLE_URL = re.compile(r"(?i)^\s*https?://")
_AUTHORITY = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)$",
                        re.S)


def url(value: str) -> str:
    """``scheme://host[:port]/…``: ``value`` without user information, path, query or fragment.

    A URL with nothing after its host is returned as it is; text that is not a URL becomes
    ``…`` (it may be a secret typed in the wrong place)."""
    match = _AUTHORITY.match(value.strip()) if isinstance(value, str) else None
    if not match:
        return ELLIPSIS if value else ""
    host = match.group("authority").rsplit("@", 1)[-1]
    had_more = "@" in match.group("authority") or match.group("rest") not in ("", "/")
    shown = f"{match.group('scheme')}://{host}"
    return shown + "/" + ELLIPSIS if had_more else shown


def secret_parts(value: str) -> List[str]:
    """The parts of a URL that may be secret: user, password, path, query and its values.

    Used to scrub an error message that quoted a piece of the URL (``http.client`` quotes
    the path of a URL it refuses)."""
    if not value:
        return []
    try:
        parts = urllib.parse.urlsplit(value.strip())
    except ValueError:
        return [value]
    found = [parts.username or "", parts.password or "", parts.query, parts.fragment]
    if parts.path not in ("", "/"):
        found.append(parts.path)
    # urlsplit drops line breaks and tabs: the text after the host as it was given, too.
    raw = _AUTHORITY.match(value.strip())
    if raw:
        found += [raw.group("rest"), raw.group("authority").rsplit("@", 1)[0]
                  if "@" in raw.group("authority") else ""]
    found += [v for _, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    # As a JSON text shows them too (kfp's executor prints its input as JSON: a line break
    # in a pasted URL appears as \n there).
    found += [json.dumps(p)[1:-1] for p in found]
    # Pieces shorter than 4 characters are not worth hiding and would mangle every message.
    return sorted({p for p in found if len(p) >= 4}, key=len, reverse=True)


def _scrub_url(found: str, queries: bool) -> str:
    parts = _AUTHORITY.match(found)
    if parts and ("@" in parts.group("authority")
                  or (queries and ("?" in found or "#" in found))):
        return url(found)
    return found


def text(message: str, secrets: Iterable[str] = (), queries: bool = True) -> str:
    """``message`` with every http(s) URL that has user information (or, with ``queries``,
    a query or a fragment) shown as :func:`url` shows it, and every string of ``secrets``
    (see :func:`secret_parts`) replaced by ``…``."""
    if not isinstance(message, str) or not message:
        return message
    shown = _URL_IN_TEXT.sub(lambda m: _scrub_url(m.group(0), queries), message)
    for secret in secrets:
        if secret:
            shown = shown.replace(secret, ELLIPSIS)
    return shown


def value(data: Any, secrets: Iterable[str] = (), queries: bool = True) -> Any:
    """:func:`text` applied to every string inside a JSON-like value (keys included)."""
    secrets = list(secrets)
    if isinstance(data, str):
        return text(data, secrets, queries)
    if isinstance(data, dict):
        return {value(k, secrets, queries): value(v, secrets, queries)
                for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [value(v, secrets, queries) for v in data]
    return data


def url_secrets(data: Any) -> List[str]:
    """:func:`secret_parts` of every http(s) URL among the strings of a JSON-like value (the
    run's parameters): what a log or summary of that run must not show."""
    found: List[str] = []
    if isinstance(data, str):
        if _WHOLE_URL.match(data):     # all of it, up to a stray space or line break
            found.extend(secret_parts(data))
        for match in _URL_IN_TEXT.finditer(data):
            found.extend(secret_parts(match.group(0)))
    elif isinstance(data, dict):
        for v in data.values():
            found.extend(url_secrets(v))
    elif isinstance(data, (list, tuple)):
        for v in data:
            found.extend(url_secrets(v))
    return sorted(set(found), key=len, reverse=True)


def parameters(data: Any) -> Any:
    """A run's parameters as they may be shown: every string that is an http(s) URL (or holds
    one) with its URLs shown as :func:`url` shows them."""
    if isinstance(data, str):
        if _WHOLE_URL.match(data):
            return url(data)
        return _URL_IN_TEXT.sub(lambda m: url(m.group(0)), data)
    if isinstance(data, dict):
        return {k: parameters(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [parameters(v) for v in data]
    return data
