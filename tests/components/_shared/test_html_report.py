"""The shared report templates: escaping, missing values, package data, the figures block."""
import fnmatch
import os
import re

import jinja2
import pytest

from kfp_mlops.components._shared import html_report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def _evaluate_context(**changes):
    table = {"header": ["metric", "value", "better"], "rows": [["accuracy", 0.5, "higher"]]}
    context = {"task": "classification", "model_dir": "/m", "label": "species", "rows": 10,
               "split": "test", "skipped_rows": 0, "blessed": True, "reasons": ["BLESSED"],
               "metrics": table, "champion": None, "per_class": None,
               "confusion_matrix": None, "slices": [], "cell": str, "roc_class": None,
               "figures": []}
    context.update(changes)
    return context


def test_everything_printed_is_escaped():
    hostile = "<script>alert('x')</script>"
    page = html_report.render("evaluate.html.j2", **_evaluate_context(
        model_dir=hostile, reasons=[hostile],
        slices=[{"column": hostile, "header": [hostile, "count"], "rows": [[hostile, 3]]}]))
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") == 5
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</body></html>")


def test_a_value_the_template_needs_and_is_not_given_is_an_error():
    context = _evaluate_context()
    del context["champion"]
    with pytest.raises(jinja2.UndefinedError, match="champion"):
        html_report.render("evaluate.html.j2", **context)


def test_the_facets_page_goes_escaped_into_srcdoc():
    page = html_report._environment().from_string(
        '{% import "macros.html.j2" as m %}{{ m.facets(page) }}').render(
            page='<html><body onload="x()">"quoted" & more</body></html>')
    srcdoc = re.search(r'srcdoc="([^"]*)"', page).group(1)
    assert srcdoc == ("&lt;html&gt;&lt;body onload=&#34;x()&#34;&gt;&#34;quoted&#34; &amp; "
                      "more&lt;/body&gt;&lt;/html&gt;")


def test_a_report_adds_figures_after_its_tables():
    child = html_report._environment().from_string(
        '{% extends "base.html.j2" %}{% import "macros.html.j2" as m %}'
        '{% block title %}T{% endblock %}{% block content %}<table></table>{% endblock %}'
        '{% block figures %}{{ m.figure(svg|safe, "a <caption>") }}{% endblock %}')
    page = child.render(svg="<svg width='10'></svg>")
    assert "<title>T</title>" in page
    figure = "<figure><svg width='10'></svg><figcaption>a &lt;caption&gt;</figcaption></figure>"
    assert page.index("<table></table>") < page.index(figure) < page.index("</body>")


def test_numbers_as_people_read_them():
    assert [html_report.fmt(x) for x in (None, float("nan"), 0.0, 0.12345, 1234.5, 2e7, 3e-5,
                                         "a<b", 7)] == \
        ["—", "nan", "0", "0.1235", "1,234", "2.000e+07", "3.000e-05", "a<b", "7"]
    assert html_report.count(1234567) == "1,234,567"


def test_every_template_ships_in_the_wheel():
    """setup.py's package_data names the templates folder (setuptools copies package data
    that matches a pattern relative to the package's folder), and every template matches."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        setup_text = f.read()
    patterns = ["_shared/templates/*.html.j2", "_shared/templates/*.md.j2"]
    for pattern in patterns:
        assert f'"{pattern}"' in setup_text
    components = os.path.join(ROOT, "components")
    templates = sorted(os.listdir(html_report.TEMPLATES_DIR))
    assert {"base.html.j2", "macros.html.j2", "validate.html.j2", "evaluate.html.j2",
            "monitor.html.j2", "model_card.html.j2", "model_card.md.j2"} <= set(templates)
    for name in templates:
        rel = os.path.relpath(os.path.join(html_report.TEMPLATES_DIR, name), components)
        assert any(fnmatch.fnmatch(rel, p) for p in patterns), f"{rel} is not package data"
