"""HTML building blocks: escaped tables, inline charts and one self-contained page.

Nothing here refers to anything outside the page: no external URL, stylesheet, font or
script. Charts are inline SVG (text kept as text) or base64 PNG.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import numbers
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sagescale.errors import SpecError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "ChartFormat",
    "chart_html",
    "check_chart_format",
    "escape",
    "format_value",
    "key_value_table",
    "page",
    "snippet",
    "table_html",
]

ChartFormat = Literal["svg", "png"]
_SVG_META = {"Creator": None, "Date": None, "Format": None, "Type": None}
_chart_ids = itertools.count(1)

escape = html.escape


def check_chart_format(chart_format: str) -> ChartFormat:
    if chart_format == "svg":
        return "svg"
    if chart_format == "png":
        return "png"
    raise SpecError(
        f"chart_format={chart_format!r} must be 'svg' or 'png'",
        field="chart_format",
        value=chart_format,
    )


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple, dict, str)):
        return False
    import pandas as pd

    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def format_value(value: object) -> str:
    """A cell's text: numbers to 6 significant digits, times to the second, lists joined."""
    if _is_missing(value):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _sort_key(value: object) -> str | None:
    """The ``data-v`` attribute: a sortable number for numbers and times."""
    if _is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, datetime):
        return repr(value.timestamp())
    return None


def _cell(value: object, tag: str = "td") -> str:
    key = _sort_key(value)
    attr = f' data-v="{escape(key)}"' if key is not None else ""
    cls = ' class="num"' if key is not None else ""
    return f"<{tag}{attr}{cls}>{escape(format_value(value))}</{tag}>"


def table_html(
    df: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    highlight: int | None = None,
    sortable: bool = True,
    table_id: str | None = None,
    max_rows: int | None = None,
    link_prefix: str | None = None,
) -> str:
    """``df`` as an escaped HTML table; row ``highlight`` (position) gets ``class="best"``;
    with ``link_prefix`` the first cell of row ``i`` links to ``#<link_prefix><i>``."""
    cols = list(columns) if columns is not None else [str(c) for c in df.columns]
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in cols)
    rows = []
    frame = df if max_rows is None else df.iloc[:max_rows]
    for pos, record in enumerate(frame[cols].itertuples(index=False, name=None)):
        cls = ' class="best"' if pos == highlight else ""
        cells = [_cell(v) for v in record]
        if link_prefix is not None and cells:
            text = escape(format_value(record[0]))
            cells[0] = f'<td><a href="#{escape(link_prefix)}{pos}">{text}</a></td>'
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    more = ""
    if max_rows is not None and len(df) > max_rows:
        more = f'<p class="more">{len(df) - max_rows} more rows not shown</p>'
    attrs = f' id="{escape(table_id)}"' if table_id else ""
    classes = "data sortable" if sortable else "data"
    body = "".join(rows)
    return (
        f'<div class="scroll"><table{attrs} class="{classes}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{more}"
    )


def key_value_table(items: Iterable[tuple[str, object]], *, table_id: str | None = None) -> str:
    """A two-column table of names and values (a job's hyperparameters, a summary)."""
    attrs = f' id="{escape(table_id)}"' if table_id else ""
    rows = "".join(f'<tr><th scope="row">{escape(k)}</th>{_cell(v)}</tr>' for k, v in items)
    return f'<table{attrs} class="kv"><tbody>{rows}</tbody></table>'


def _svg_markup(fig: Figure) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata=_SVG_META)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    prefix = f"c{next(_chart_ids)}-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    return re.sub(r'(url\(#|href="#)([^")]+)', lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)


def _png_markup(fig: Figure, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def chart_html(fig: Figure, *, caption: str, chart_format: ChartFormat = "svg") -> str:
    """A ``<figure>`` holding the chart inline (SVG markup or a base64 PNG)."""
    body = _svg_markup(fig) if chart_format == "svg" else _png_markup(fig, caption)
    return f'<figure class="chart">{body}<figcaption>{escape(caption)}</figcaption></figure>'


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#16191f;
background:#f2f3f3}
header{background:#232f3e;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#d1d5db;font-size:13px}
main{padding:16px 24px}section{background:#fff;border:1px solid #e9ebed;border-radius:8px;
margin:0 0 16px;padding:12px 16px}section h2{font-size:16px;margin:0 0 10px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px}
table.data th,table.data td{border-bottom:1px solid #e9ebed;padding:4px 10px;text-align:left;
white-space:nowrap}table.data thead th{background:#fafafa;position:sticky;top:0}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#e6f4e1;font-weight:600}
table.kv th{text-align:left;padding:3px 14px 3px 0;font-weight:600}
table.kv td{padding:3px 0;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure.chart{margin:0;max-width:100%}
figure.chart svg,figure.chart img{max-width:100%;height:auto}
details{margin:2px 0}details summary{cursor:pointer}details table{margin:4px 0 8px 18px}
figcaption{font-size:12px;color:#5f6b7a;text-align:center}.more{font-size:12px;color:#5f6b7a}
"""

_JS = """
(function(){
function key(c){var v=c.getAttribute('data-v');return v===null?null:parseFloat(v);}
function cmp(a,b,asc){var x=key(a),y=key(b),s=asc?1:-1;
if(x!==null&&y!==null)return s*(x-y);if(x!==null)return -1;if(y!==null)return 1;
return s*a.textContent.localeCompare(b.textContent);}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(t){
var heads=t.tHead.rows[0].cells;
Array.prototype.forEach.call(heads,function(th,i){th.addEventListener('click',function(){
var asc=th.getAttribute('aria-sort')!=='ascending';
Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){return cmp(a.cells[i],b.cells[i],asc);});
rows.forEach(function(r){body.appendChild(r);});});});});
function reveal(id){var d=document.getElementById(id);if(d&&d.tagName==='DETAILS')d.open=true;}
document.addEventListener('click',function(e){var a=e.target.closest&&e.target.closest('a');
if(a&&a.getAttribute('href').charAt(0)==='#')reveal(a.getAttribute('href').slice(1));});
if(location.hash)reveal(location.hash.slice(1));
document.body.setAttribute('data-ready','1');
})();
"""


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """One self-contained HTML page; ``sections`` are ``(id, heading, inner HTML)``."""
    body = "".join(
        f'<section id="{escape(sid)}"><h2>{escape(heading)}</h2>{inner}</section>'
        for sid, heading, inner in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>"
        f"<main>{body}</main><script>{_JS}</script></body></html>\n"
    )


_SNIPPET_CSS = """
.sagescale-repr table{border-collapse:collapse;font-size:12px}
.sagescale-repr th,.sagescale-repr td{padding:2px 8px;text-align:left;white-space:nowrap}
.sagescale-repr td.num{text-align:right}.sagescale-repr tr.best td{background:#e6f4e1;
font-weight:600}.sagescale-repr p{margin:2px 0}
"""


def snippet(summary: str, inner: str) -> str:
    """An HTML fragment for ``_repr_html_``: scoped styles, no script."""
    return (
        f'<div class="sagescale-repr"><style>{_SNIPPET_CSS}</style>'
        f"<p>{escape(summary)}</p>{inner}</div>"
    )
