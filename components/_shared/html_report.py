"""What every HTML report of the components shares: one stylesheet and number formatting.

The reports are self-contained pages (no scripts needed to read them), shown by the KFP and
Vertex AI UIs for ``Output[HTML]`` artifacts.
"""
import html
import math
from typing import Any

STYLE = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#202124}
h1{font-size:22px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #dadce0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #dadce0;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f1f3f4} td.l,th.l{text-align:left}
.pass,.ok{color:#137333;font-weight:bold} .fail,.bad{color:#c5221f;font-weight:bold}
tr.bad td,tr.hit td{background:#fce8e6} .muted{color:#5f6368} ul{margin:4px 0}
"""


def fmt(x: Any) -> str:
    """A number as a person reads it (4 significant digits), or escaped text; None as a dash."""
    if x is None:
        return "—"
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
            return f"{x:.3e}"
        return f"{x:,.4g}" if abs(x) >= 1000 else f"{x:.4g}"
    return html.escape(str(x))
