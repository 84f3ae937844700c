# SPDX-License-Identifier: MIT
"""Reproducer files: replayed exactly, explained, checked field by field, and aware of fixes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fuzz_helpers import campaign, materialize

from seamemu.cli import main
from seamemu.errors import ReplayError
from seamemu.fuzz import format_replay, load_reproducer, replay_file, replay_json


@pytest.fixture(scope="module")
def gp_copy(tmp_path_factory):
    """A private copy of the #GP-path plant (so a test can fix it) and one finding on it."""
    d = tmp_path_factory.mktemp("gp")
    s = campaign(d / "out", str(materialize("gp_truncated", d / "stub")), "__seamcall_ret",
                 runs=1500)
    (finding,) = s["findings"]
    return d, finding


def test_replay_explains_the_finding(gp_copy):
    _, f = gp_copy
    o = replay_file(f["reproducer"])
    assert o.reproduced and o.instruction == "#GP" and o.outcome == "returned"
    text = format_replay(o)
    assert "[REPRODUCED]" in text
    assert "RAX on return is the module's status" in text        # the rule's sentence
    assert f"rax-status at {f['location']}" in text
    assert any(line.lstrip().startswith(">>") and "orq" in line for line in text.splitlines())


def test_replay_json_shape(gp_copy):
    _, f = gp_copy
    d = replay_json(replay_file(f["reproducer"]))
    assert d["schema"] == 1 and d["reproduced"] is True
    assert d["expected"]["rule"] == "rax-status" and d["expected"]["location"] == f["location"]
    assert [x["rule"] for x in d["findings"]] == ["rax-status"]
    assert d["rax"] == "0x000000008000ff0d" and d["instruction"] == "#GP"
    assert d["trace"] and all(set(t) == {"address", "location", "source"} for t in d["trace"])
    assert d["reproducer"]["kind"] == "seamemu-fuzz-reproducer"


def test_run_replay_cli(gp_copy, capsys):
    _, f = gp_copy
    assert main(["run", "--replay", f["reproducer"]]) == 1
    assert "[REPRODUCED]" in capsys.readouterr().out
    assert main(["run", "--replay", f["reproducer"], "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["reproduced"] is True


def test_replay_after_a_fix_says_what_changed(gp_copy, tmp_path):
    d, f = gp_copy
    fixed = tmp_path / "stub"
    shutil.copytree(d / "stub", fixed)
    rep = json.loads(Path(f["reproducer"]).read_text())
    rep["asm"][0]["path"] = str(fixed / "seamcall.S")
    tdxcall = fixed / "tdxcall.S"
    text = tdxcall.read_text()
    assert "movl\t$0x8000FF00, %edi" in text
    tdxcall.write_text(text.replace("movl\t$0x8000FF00, %edi", "movq\t$TDX_SW_ERROR, %rdi"))
    path = tmp_path / "rep.json"
    path.write_text(json.dumps(rep))
    o = replay_file(path)
    assert not o.reproduced and o.findings == ()
    assert o.rax == 0x8000FF000000000D
    # The fix went into the file seamcall.S #includes, and the replay names it.
    assert o.changed == (str(tdxcall),)
    assert f"note: {tdxcall} changed since the reproducer was saved" in format_replay(o)
    assert main(["run", "--replay", str(path)]) == 0


def test_reproducer_records_the_included_files_not_seamemus_headers(gp_copy):
    _, f = gp_copy
    rep = json.loads(Path(f["reproducer"]).read_text())
    assert [s["path"] for s in rep["sources"]] == ["tdxcall.S"]
    assert load_reproducer(f["reproducer"]).target.changed() == ()


def _bad(tmp_path, gp_copy, edit) -> str:
    rep = json.loads(Path(gp_copy[1]["reproducer"]).read_text())
    edit(rep)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rep))
    return str(path)


@pytest.mark.parametrize("edit,message", [
    (lambda r: r.update(schema=2), "schema 2 is not supported"),
    (lambda r: r.update(kind="other"), "not a seamemu fuzz reproducer"),
    (lambda r: r["inputs"].update(rcx="0xzz"), "case.inputs.rcx: '0xzz' is not a number"),
    (lambda r: r["inputs"].update(rax="0x1"), "case.inputs: 'rax' is not one of"),
    (lambda r: r["cpu"].update(cpl=5), "case.cpu.cpl: 5 is not 0..3"),
    (lambda r: r["module_answer"].update(kind="#PF"), "case.module_answer.kind: '#PF'"),
    (lambda r: r["stack"].update(frame=[]), "case.stack.frame: expected a list of 8 words"),
    (lambda r: r["asm"][0].update(path="/nonexistent/x.S"), "assembly file /nonexistent/x.S not found"),
    (lambda r: r.update(entry="no_such_symbol"), "no_such_symbol: no such symbol"),
    (lambda r: r.update(convention="fastcall"), "convention 'fastcall'"),
    (lambda r: r["finding"].pop("rule"), "finding.rule: expected a string"),
    (lambda r: r.update(sources=[{"path": 1}]), "sources[0]: expected"),
])
def test_bad_reproducers_are_named(tmp_path, gp_copy, edit, message):
    path = _bad(tmp_path, gp_copy, edit)
    with pytest.raises(ReplayError, match=None) as exc:
        replay_file(path)
    assert message in str(exc.value) and path in str(exc.value)


def test_unreadable_reproducers(tmp_path, capsys):
    with pytest.raises(ReplayError, match="cannot read the reproducer"):
        load_reproducer(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ReplayError, match=r"not JSON \(line 1"):
        load_reproducer(tmp_path / "x.json")
    assert main(["run", "--replay", str(tmp_path / "x.json")]) == 2
    assert "error:" in capsys.readouterr().err
