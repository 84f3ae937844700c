# SPDX-License-Identifier: MIT
"""An entry that returns without executing SEAMCALL is reported as such, never as a status."""

import json
from types import SimpleNamespace

import pytest

from seamemu.cli import main
from seamemu.pytest_plugin import assert_status

STUB = """
.text
.globl forgot_seamcall
forgot_seamcall:
	xorl	%eax, %eax	/* RAX = 0 reads like TDX_SUCCESS */
	ret
"""
TEXT = "no SEAMCALL was executed"


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "forgot.S"
    path.write_text(STUB)
    return str(path)


def out_of(capsys, *argv) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_run_says_no_seamcall(capsys, src):
    args = ("run", "--asm", src, "--entry", "forgot_seamcall")
    doc = json.loads(out_of(capsys, *args, "--json"))
    assert doc["outcome"] == "no-seamcall" and doc["rax_name"] is None and doc["calls"] == []
    text = out_of(capsys, *args)
    assert TEXT in text and "TDX_SUCCESS" not in text and "errno" not in text


def test_matrix_says_no_seamcall_on_every_row(capsys, src):
    args = ("matrix", "--asm", src, "--entry", "forgot_seamcall")
    rows = json.loads(out_of(capsys, *args, "--json"))["rows"]
    assert len(rows) == 24
    assert {r["outcome"] for r in rows} == {"no-seamcall"} and {r["rax_name"] for r in rows} == {None}
    text = out_of(capsys, *args)
    assert text.count(TEXT) == 24 and "TDX_SUCCESS" not in text and "returned" not in text


def test_trace_says_no_seamcall(capsys, src):
    args = ("trace", "--asm", src, "--entry", "forgot_seamcall")
    assert json.loads(out_of(capsys, *args, "--json"))["outcome"] == "no-seamcall"
    assert f"outcome: no-seamcall   {TEXT}" in out_of(capsys, *args)


def test_explain_invents_no_decision_and_no_errno(capsys, src):
    args = ("explain", "--asm", src, "--entry", "forgot_seamcall")
    doc = json.loads(out_of(capsys, *args, "--json"))
    assert doc["outcome"] == "no-seamcall" and doc["decision"] is None and doc["kernel"] is None
    text = out_of(capsys, *args)
    assert TEXT in text and "-EIO" not in text and "The CPU enters SEAM root mode" not in text


def test_assert_status_refuses_rax_of_a_call_without_seamcall():
    result = SimpleNamespace(outcome="no-seamcall", rax=0, rule="", fault=None)
    with pytest.raises(AssertionError, match=TEXT):
        assert_status(result, "TDX_SUCCESS")
