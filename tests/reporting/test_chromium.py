"""The reports in a real browser: headless Chromium loads them without errors and shows
their tables and charts; the jobs table sorts when a header is clicked."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from sagescale.reporting import experiment_report, tuning_report

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian: apt-get install -y chromium)",
)

# records script errors and console.error calls into attributes of <html>
RECORDER = """<script>
(function(){var root=document.documentElement;
function note(m){var a='data-js-errors';root.setAttribute(a,(root.getAttribute(a)||'')+m+';');}
window.addEventListener('error',function(e){note(e.message||'resource error');},true);
window.addEventListener('unhandledrejection',function(e){note(String(e.reason));});
var orig=console.error;console.error=function(){note(Array.prototype.join.call(arguments,' '));
orig.apply(console,arguments);};})();
</script>"""
# marks that it ran; clicks the jobs table's objective header and records the job order,
# then clicks the first job's name (it opens that job's details)
SORTER = """<script>
(function(){document.documentElement.setAttribute('data-checked','1');
var t=document.getElementById('jobs');if(!t)return;
var heads=Array.prototype.slice.call(t.tHead.rows[0].cells);
var i=heads.findIndex(function(h){return h.textContent==='FinalObjectiveValue';});
heads[i].click();
var names=Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[0].textContent;});
document.documentElement.setAttribute('data-sorted',names.join(','));
t.tBodies[0].rows[0].cells[0].querySelector('a').click();})();
</script>"""


def _load(page: str, tmp_path: Path) -> tuple[str, list[str]]:
    """Open the page (file://) in headless Chromium: the DOM after load, console lines."""
    page = page.replace("<head>", "<head>" + RECORDER, 1).replace("</body>", SORTER + "</body>", 1)
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        path.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if "CONSOLE" in line]


def _check_loaded(dom: str, console: list[str]) -> None:
    assert not console, console
    root = re.search(r"<html[^>]*>", dom)
    assert root is not None
    assert "data-js-errors" not in root.group(0), root.group(0)
    assert 'data-checked="1"' in root.group(0)  # the injected scripts ran
    assert re.search(r'<body[^>]*\sdata-ready="1"', dom)  # the page's own script ran


def _body_rows(dom: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}".*?</table>', dom, re.S)
    assert table is not None, f"no table #{table_id} in the DOM"
    return re.findall(r"<tr[^>]*>.*?</tr>", table.group(0).split("<tbody>", 1)[1], re.S)


def test_tuning_report_in_chromium(
    tmp_path: Path, tuning_df: pd.DataFrame, curves_df: pd.DataFrame
) -> None:
    page = tuning_report(
        tuning_df, tuning_job_name="hpo-xgb", objective_name="rmse", curves=curves_df
    )
    dom, console = _load(page, tmp_path)
    _check_loaded(dom, console)
    assert len(re.findall(r"<svg\b", dom)) == 3
    assert len(_body_rows(dom, "jobs")) == 6
    assert re.search(r'<tr class="best"><td><a href="#job-3">hpo-004-j1k2l3</a></td>', dom)
    assert "<b>" not in dom  # escaped user data stays text
    assert "&lt;b&gt;bold&lt;/b&gt;" in dom
    assert re.search(r'<table id="job-hyperparameters"', dom)
    # ascending by objective; the failed job (no objective) last
    sorted_names = re.search(r'data-sorted="([^"]*)"', dom)
    assert sorted_names is not None
    assert sorted_names.group(1).split(",") == [
        "hpo-004-j1k2l3",
        "hpo-006-p7q8r9",
        "hpo-002-d4e5f6",
        "hpo-001-a1b2c3",
        "hpo-003-g7h8i9",
        "hpo-005-m4n5o6",
    ]
    opened = re.findall(r'<details id="(job-\d+)" open="">', dom)
    assert opened == ["job-3"]


def test_experiment_report_in_chromium(
    tmp_path: Path, experiment_df: pd.DataFrame, series_df: pd.DataFrame
) -> None:
    page = experiment_report(
        experiment_df, experiment_name="weather", series=series_df, chart_format="png"
    )
    dom, console = _load(page, tmp_path)
    _check_loaded(dom, console)
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', dom)) == 1
    assert len(_body_rows(dom, "components")) == 3
    assert "weather-&lt;x&gt;&amp;-training" in dom


def test_the_checks_catch_a_broken_page(tmp_path: Path) -> None:
    page = (
        "<!DOCTYPE html><html><head></head><body><p>x</p>"
        "<script>document.body.setAttribute('data-ready','1');no_such_function();</script>"
        "</body></html>"
    )
    dom, console = _load(page, tmp_path)
    with pytest.raises(AssertionError):
        _check_loaded(dom, [])
    assert 'data-js-errors="Uncaught ReferenceError: no_such_function is not defined;"' in dom
    assert console
