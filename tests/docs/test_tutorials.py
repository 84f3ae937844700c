# SPDX-License-Identifier: MIT
"""The tutorials are runnable: every `$ seamemu` command in them prints what the text shows, and
every figure they show is what `seamemu diagram` draws today."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from seamemu.cli import main
from seamemu.learn.diagram import figure_texts
from tools import doccheck

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
COMMANDS = [c for path in TUTORIALS for c in doccheck.commands(path)]
TITLES = (
    "Why SEAMCALL raises #UD before VMXON",
    "Why #GP when SEAMRR is off or CPL > 0",
    "What the kernel's exception table does with the fault",
    "VMfailInvalid: no module loaded",
    "Reading CMRs: TDH.SYS.INFO and TDH.SYS.RD",
    "Bringing the TDX module up",
    "TDCALL and SEAMCALL: one macro, two worlds",
)


def test_every_tutorial_is_there_and_runnable():
    titles = {p.read_text(encoding="utf-8").splitlines()[0].lstrip("# ") for p in TUTORIALS}
    assert set(TITLES) <= titles
    for path in TUTORIALS:
        if path.name != "README.md":
            assert doccheck.commands(path), f"{path.name} has no command to check"


@pytest.mark.parametrize("cmd", COMMANDS,
                         ids=lambda c: f"{c.path.name}:{c.line}:{' '.join(c.argv[1:3])}")
def test_the_shown_output_is_what_seamemu_prints(cmd):
    actual = doccheck.run(cmd.argv, ROOT, main).splitlines()
    assert doccheck.matches(cmd.expected, actual), (
        f"{cmd.path.name}:{cmd.line}: `{' '.join(cmd.argv)}` now prints:\n" + "\n".join(actual)
        + "\n(run python tools/update_docs.py)")


def test_placeholders_match_what_they_stand_for():
    assert doccheck.matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert doccheck.matches(["a", "...", "z"], ["a", "z"])
    assert not doccheck.matches(["a", "...", "z"], ["a", "b"])
    assert doccheck.matches(["[...] took ... s"], ["[    0.1] took 0.25 s"])
    assert not doccheck.matches(["x"], ["x", "extra"])
    assert doccheck.mask(["[    0.000047] took 0.427 s  "]) == ["[...] took ... s"]


def test_refresh_rewrites_a_stale_block(tmp_path):
    doc = tmp_path / "t.md"
    doc.write_text("intro\n\n```console\n$ seamemu explain --cpl 3 --json\nstale\n```\n")
    assert doccheck.check(doc, ROOT, main)
    assert doccheck.refresh(doc, ROOT, main)
    assert not doccheck.check(doc, ROOT, main)
    assert '"check": "gp_cpl"' in doc.read_text()
    assert not doccheck.refresh(doc, ROOT, main)          # up to date: untouched


def test_only_seamemu_commands_are_allowed(tmp_path):
    doc = tmp_path / "t.md"
    doc.write_text("```console\n$ rm -rf /\n```\n")
    with pytest.raises(ValueError, match="only `\\$ seamemu"):
        doccheck.commands(doc)


IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


def test_the_tutorials_figures_are_what_the_code_draws_today():
    shown = {(path.parent / link).resolve() for path in TUTORIALS
             for link in IMAGE.findall(path.read_text(encoding="utf-8"))}
    assert shown, "the tutorials show no figure"
    for target in shown:
        assert target.is_file(), f"a tutorial shows {target}, which does not exist"
    drawn = figure_texts()
    figures = ROOT / "docs" / "tutorials" / "figures"
    assert {p.name for p in shown} <= set(drawn)
    for name, text in drawn.items():
        assert (figures / name).read_text(encoding="utf-8") == text, (
            f"docs/tutorials/figures/{name} is stale (run python tools/update_docs.py)")


def test_the_documents_are_written_and_checked_with_the_model(monkeypatch, capsys):
    # An exported SEAMEMU_MODULE_BINARY (here a file that does not exist, so that using it
    # fails loudly) reaches neither the check nor tools/update_docs.py; the user's own
    # environment is left as it was.
    from tools import update_docs

    monkeypatch.setenv("SEAMEMU_MODULE_BINARY", "/nonexistent/libtdx.so")
    first = next(c for c in COMMANDS if c.path.name == "04-vmfailinvalid.md")
    actual = doccheck.run(first.argv, ROOT, main).splitlines()
    assert doccheck.matches(first.expected, actual), "\n".join(actual)
    assert update_docs.main(["--check", str(first.path)]) == 0, capsys.readouterr().out
    assert os.environ["SEAMEMU_MODULE_BINARY"] == "/nonexistent/libtdx.so"
