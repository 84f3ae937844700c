# SPDX-License-Identifier: MIT
"""`seamemu report`: one self-contained HTML page whose links all land, checked as written and
as headless Chromium renders it (skipped when Debian's `chromium` is not installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from seamemu.cli import main
from seamemu.learn.html_report import anchor

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


class Page(HTMLParser):
    """Ids, in-page links, external references and tag counts of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.external: list[str] = []
        self.tags: dict[str, int] = {}
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value and not value.startswith("#"):
                self.external.append(value)
        if tag in ("script", "link", "iframe", "img"):
            self.external.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--out", str(path)]) == 0
    return path


def check_page(page: Page) -> None:
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    missing = [h for h in page.hrefs if h.startswith("#") and h[1:] not in page.ids]
    assert not missing, f"links to nothing: {missing}"
    for outcome in ("returned", "VMfailInvalid", "#GP", "#UD"):
        assert anchor(outcome) in page.ids
        assert f"#{anchor(outcome)}" in page.hrefs
    for section in ("matrix", "figures", "traces", "cmrs"):
        assert section in page.ids and f"#{section}" in page.hrefs
    for fig in ("fig-decision", "fig-lifecycle", "fig-matrix"):
        assert fig in page.ids
    assert page.tags.get("svg", 0) == 3


def test_the_report_is_self_contained_and_its_links_land(report_file):
    page = Page(report_file.read_text(encoding="utf-8"))
    check_page(page)
    assert page.external == [], "the report must open without a server or other files"
    text = "".join(page.text)
    assert "SEAMCALL decision: #GP -- #GP(0): CPL 3 > 0" in text
    assert "module: TDH.SYS.INFO (leaf 32) -> TDX_SUCCESS" in text
    assert text.count("trace of __seamcall_ret") == 5      # one per outcome + TDH.SYS.INFO
    assert "0x0000000078000000" in text                     # CMR[0] of the default platform


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_headless_chromium_renders_the_report(report_file):
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
             report_file.as_uri()],
            capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = Page(dom.stdout)
    check_page(page)
    assert "One trace per outcome" in "".join(page.text)
    with tempfile.TemporaryDirectory() as profile:
        shot = Path(profile) / "shot.png"
        r = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
             "--window-size=1200,1600", report_file.as_uri()],
            capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000   # a page, not a blank


def test_traces_are_coloured_like_the_terminal_without_escape_codes(report_file):
    text = report_file.read_text(encoding="utf-8")
    assert "\x1b" not in text
    gp = text[text.index('id="trace-gp"'):text.index('id="trace-ud"')]
    assert '<span class="t-seam">seamcall</span>' in gp
    assert 'SEAMCALL decision: <span class="t-gp">#GP</span> -- #GP(0): CPL 3 &gt; 0' in gp
    assert "outcome: <span class=\"t-gp\">#GP</span>" in gp
    classes = set(re.findall(r'<span class="([^"]*)">', text))
    styled = set(re.findall(r"pre\.trace \.(t-[a-z]+)", text))
    assert classes and classes <= styled                    # every class has a style


def test_each_outcome_keeps_its_own_style_in_the_page(report_file):
    """#UD is painted as #UD, not in the SEAM-instruction style it shares a terminal colour
    with: the page's classes come from the style names, not from colour codes read back."""
    text = report_file.read_text(encoding="utf-8")
    ud = text[text.index('id="trace-ud"'):]
    ud = ud[:ud.index("</pre>")]
    assert 'SEAMCALL decision: <span class="t-ud">#UD</span>' in ud
    assert '<span class="t-seam">seamcall</span>' in ud
    vmfail = text[text.index('id="trace-vmfailinvalid"'):]
    vmfail = vmfail[:vmfail.index("</pre>")]
    assert '<span class="t-vmfailinvalid">VMfailInvalid</span>' in vmfail
    css = text[text.index("<style>"):text.index("</style>")]
    ud_rule = re.search(r"pre\.trace \.t-ud \{([^}]*)\}", css).group(1)
    seam_rule = re.search(r"pre\.trace \.t-seam \{([^}]*)\}", css).group(1)
    assert ud_rule != seam_rule


def test_trace_html_escapes_text_and_spans_only_styled_runs():
    from seamemu.trace.render import AnsiPainter, css_class

    assert css_class("#UD") == "t-ud" and css_class("VMfailInvalid") == "t-vmfailinvalid"
    assert AnsiPainter()("#UD", "#UD") == "\x1b[1;35m#UD\x1b[0m"
    assert AnsiPainter()("no-such-style", "x") == "x"
