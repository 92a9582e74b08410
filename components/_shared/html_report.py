"""What every HTML report of the components shares: Jinja2 templates, number formatting.

The reports are self-contained pages (no scripts needed to read them), shown by the KFP and
Vertex AI UIs for ``Output[HTML]`` artifacts. Each component's core computes its report's
content as plain data and calls :func:`render` with its template; the templates live in
``templates/`` beside this module (shipped as package data, see setup.py):

* ``base.html.j2``: the page shell and stylesheet, with the blocks a report fills:
  ``title``, ``content``, ``figures`` (charts, after the tables) and ``appendix``;
* ``macros.html.j2``: what several reports show: a table, a list of reasons, the Facets view;
* ``<component>.html.j2``: one report, extending the base.

Everything a template prints is HTML-escaped (autoescape); markup made by code (a Facets
page embedded in an iframe) is passed as text and escaped too.

Markdown (``*.md.j2``, :func:`render_markdown`) renders in an environment of its own without
HTML autoescape -- a Markdown page is not HTML, and ``&lt;`` would show as such -- and with
the ``md`` filter, which makes any value safe for one Markdown table cell or line (``|``
escaped, line breaks joined, HTML's ``<`` and ``>`` as entities so nothing is read as markup).
"""
import functools
import math
import os
from typing import Any

#: The folder of the report templates.
TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def fmt(x: Any) -> str:
    """A number as a person reads it (4 significant digits), or text; None as a dash.

    The ``num`` filter of the templates (which escape what it returns).
    """
    if x is None:
        return "—"
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
            return f"{x:.3e}"
        return f"{x:,.4g}" if abs(x) >= 1000 else f"{x:.4g}"
    return str(x)


def count(n: Any) -> str:
    """A whole number with thousands separators (the ``count`` filter): 12,345."""
    return f"{int(n):,}"


def markdown_cell(x: Any) -> str:
    """A value as one Markdown table cell or inline text (the ``md`` filter): numbers as
    :func:`fmt` writes them, ``|`` escaped, line breaks as spaces, ``<`` / ``>`` / ``&`` as
    HTML entities (a Markdown viewer would otherwise read ``<script>`` as markup)."""
    text = fmt(x) if not isinstance(x, str) else x
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.replace("|", "\\|").split())


@functools.lru_cache(maxsize=None)
def _environment(markdown: bool = False):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=not markdown,
        undefined=jinja2.StrictUndefined,   # a missing value is an error, not an empty cell
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(num=fmt, count=count, md=markdown_cell)
    return env


def render(template: str, **context: Any) -> str:
    """The page ``templates/<template>`` renders with ``context``.

    Raises:
        jinja2.TemplateNotFound: no such template in :data:`TEMPLATES_DIR`.
        jinja2.UndefinedError: the template uses a value ``context`` does not give.
    """
    return _environment().get_template(template).render(**context)


def render_markdown(template: str, **context: Any) -> str:
    """The Markdown page ``templates/<template>`` (a ``.md.j2``) renders with ``context``;
    no HTML autoescape: the template passes each value through the ``md`` filter.

    Raises:
        jinja2.TemplateNotFound, jinja2.UndefinedError: as :func:`render`.
    """
    if not template.endswith(".md.j2"):
        raise ValueError(f"template {template!r}: a Markdown template ends in .md.j2")
    return _environment(markdown=True).get_template(template).render(**context)
