"""A report as a real browser shows it: headless Chromium (Debian's ``chromium``).

:func:`look_at` opens an HTML report twice, offline: once a copy with a small probe script
added (its ``--dump-dom`` gives where each chart is on the page and what it holds), once the
report itself for a screenshot of the whole page. :func:`assert_charts_drawn` then checks
that every chart is in the page and that its part of the screenshot is not blank.

Chromium is required: without it these tests fail (CI installs it), they do not skip.
Nothing leaves loopback: host names resolve to nothing and every request goes to a proxy on
127.0.0.1:9, where nothing listens (the Facets view of the appendix then stays empty, as it
would offline).
"""
import dataclasses
import json
import os
import shutil
import subprocess
from typing import List

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WIDTH = 1280
#: Chromium's largest screenshot side is 16384 px.
MAX_HEIGHT = 16384
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         "--hide-scrollbars", "--force-device-scale-factor=1", "--mute-audio",
         "--no-first-run", "--disable-extensions"]
PROBE_ID = "kfp-mlops-probe"
#: Written into the copy: each chart's box on the page and how many shapes and texts it holds.
PROBE = f"""<pre id="{PROBE_ID}"></pre><script>
const figures = [...document.querySelectorAll('figure')].map(f => {{
  const svg = f.querySelector('svg'); const r = (svg || f).getBoundingClientRect();
  return {{x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,
          height: r.height, svg: !!svg,
          shapes: svg ? svg.querySelectorAll('path,rect,line,polyline,circle,use').length : 0,
          texts: svg ? [...svg.querySelectorAll('text')].map(t => t.textContent) : [],
          caption: (f.querySelector('figcaption') || {{}}).textContent || ''}};
}});
document.getElementById('{PROBE_ID}').textContent = JSON.stringify(
  {{height: document.documentElement.scrollHeight, figures: figures}});
</script>"""


@dataclasses.dataclass
class Chart:
    x: float
    y: float
    width: float
    height: float
    svg: bool
    shapes: int
    texts: List[str]
    caption: str


@dataclasses.dataclass
class Seen:
    """What the browser showed: the page height, its charts, the screenshot."""
    height: int
    charts: List[Chart]
    screenshot: str
    dom: str


def _chromium(*args: str, timeout: float = 180) -> str:
    assert os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK), (
        f"headless Chromium is needed to check the reports' charts and {CHROMIUM!r} is not "
        "an executable: install Debian's chromium (apt-get install chromium) or set CHROMIUM")
    done = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"chromium {args} failed: {done.stderr[-2000:]}"
    return done.stdout


def look_at(report_path: str, screenshot_path: str) -> Seen:
    """Opens ``report_path`` (a ``.html`` file) in headless Chromium; see the module doc."""
    assert report_path.endswith(".html"), f"{report_path!r}: a report file ends in .html"
    with open(report_path, encoding="utf-8") as f:
        page = f.read()
    probe = os.path.join(os.path.dirname(os.path.abspath(screenshot_path)),
                         "probe-" + os.path.basename(report_path))
    with open(probe, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", PROBE + "</body>", 1))
    dom = _chromium(f"--window-size={WIDTH},1000", "--dump-dom", "file://" + probe)
    start = dom.index(f'id="{PROBE_ID}">') + len(f'id="{PROBE_ID}">')
    found = json.loads(dom[start:dom.index("</pre>", start)].replace("&quot;", '"')
                       .replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    height = min(int(found["height"]) + 16, MAX_HEIGHT)
    _chromium(f"--window-size={WIDTH},{height}", f"--screenshot={screenshot_path}",
              "file://" + os.path.abspath(report_path))
    assert os.path.isfile(screenshot_path), f"chromium wrote no screenshot {screenshot_path}"
    return Seen(height=height, charts=[Chart(**c) for c in found["figures"]],
                screenshot=screenshot_path, dom=dom)


def ink(screenshot: str, chart: Chart):
    """(share of the chart's pixels that are not the white page, share in colour) in its
    part of the screenshot."""
    from PIL import Image

    with Image.open(screenshot) as image:
        box = (int(chart.x), int(chart.y), int(chart.x + chart.width),
               int(chart.y + chart.height))
        region = image.convert("RGB").crop(box)
        pixels = list(region.getdata())
    if not pixels:
        return 0.0, 0.0
    drawn = sum(1 for p in pixels if min(p) < 235)
    colour = sum(1 for p in pixels if max(p) - min(p) > 60)
    return drawn / len(pixels), colour / len(pixels)


def assert_charts_drawn(seen: Seen, expected: int) -> None:
    """Exactly ``expected`` charts, each an SVG with shapes and text, each visible in the
    screenshot with ink and colour in its box."""
    assert len(seen.charts) == expected, (
        f"{len(seen.charts)} figures in the page, expected {expected}: "
        f"{[c.caption for c in seen.charts]}")
    assert seen.dom.count("<svg") >= expected
    for chart in seen.charts:
        assert chart.svg, f"figure {chart.caption!r} holds no <svg>"
        assert chart.width >= 150 and chart.height >= 100, (
            f"figure {chart.caption!r} is {chart.width}x{chart.height} px")
        assert chart.shapes >= 5 and chart.texts, (
            f"figure {chart.caption!r}: {chart.shapes} shapes, texts {chart.texts}")
        assert chart.y + chart.height <= seen.height, (
            f"figure {chart.caption!r} is below the {seen.height} px screenshot")
        drawn, colour = ink(seen.screenshot, chart)
        assert drawn > 0.02 and colour > 0.002, (
            f"figure {chart.caption!r} looks blank in {seen.screenshot}: {drawn:.1%} of its "
            f"pixels drawn, {colour:.2%} in colour")


#: :data:`FLAGS` for a page served on loopback: host names still resolve to nothing and every
#: other request still goes to the dead proxy, but 127.0.0.1 is reached directly (Chromium
#: never sends a loopback address through a proxy).
LOOPBACK_FLAGS = [("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
                   if f.startswith("--host-resolver-rules=") else f) for f in FLAGS]


def rendered_page(url: str, budget_ms: int = 30000, timeout: float = 240) -> str:
    """The DOM of ``url`` on 127.0.0.1 after its scripts ran (``--dump-dom`` once the
    ``--virtual-time-budget`` is spent, which waits for the page's own requests): what a
    JavaScript app such as the MLflow UI shows, as text without tags, scripts and styles."""
    import html
    import re

    assert url.startswith("http://127.0.0.1:"), f"{url!r}: only pages served on loopback"
    assert os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK), (
        f"headless Chromium is needed and {CHROMIUM!r} is not an executable: install "
        "Debian's chromium (make browser) or set CHROMIUM")
    done = subprocess.run([CHROMIUM, *LOOPBACK_FLAGS, "--window-size=1600,1200",
                           "--dump-dom", f"--virtual-time-budget={budget_ms}", url],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"chromium {url} failed: {done.stderr[-2000:]}"
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", done.stdout, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()
