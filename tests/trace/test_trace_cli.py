# SPDX-License-Identifier: MIT
"""`seamemu trace`: text (colour only when asked or on a terminal), JSON, bad input."""

from __future__ import annotations

import io
import json

from seamemu.cli import main
from seamemu.trace import use_color


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_of_a_gp_names_the_rule_and_the_fixup(capsys):
    code, out, _ = run(capsys, "trace", "--cpl", "3", "--color", "never")
    assert code == 0
    assert "SEAMCALL decision: #GP -- #GP(0): CPL 3 > 0" in out
    assert "exception table: entry for __seamcall_ret+0x1e" in out
    assert "EX_TYPE_FAULT: RAX = 13 (the trap number)" in out
    assert "outcome: #GP   RAX = 0x8000ff000000000d" in out
    assert "\x1b[" not in out


def test_colour_always_marks_the_decision(capsys):
    code, out, _ = run(capsys, "trace", "--vmx", "off", "--color", "always")
    assert code == 0
    assert "\x1b[1;35m#UD\x1b[0m" in out          # #UD in purple
    assert "\x1b[1;35mseamcall\x1b[0m" in out


def test_auto_colour_follows_the_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color("auto", Tty()) is True
    assert use_color("auto", io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color("auto", Tty()) is False
    assert use_color("always", io.StringIO()) is True


def test_json_lists_every_step_with_its_decision(capsys):
    code, out, _ = run(capsys, "trace", "--module", "absent", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["outcome"] == "VMfailInvalid"
    seam = [s for s in doc["steps"] if s["traps"]]
    assert seam[0]["mnemonic"] == "seamcall" and seam[0]["bytes"] == "660f01cf"
    assert seam[0]["traps"][0]["check"] == "vmfail_no_module"
    assert seam[0]["flags"]["CF"] == {"old": 0, "new": 1}
    assert doc["result"]["rax_name"] == "TDX_SEAMCALL_VMFAILINVALID"


def test_after_and_alloc_prepare_a_successful_tdh_sys_info(capsys):
    code, out, _ = run(capsys, "trace", "--after", "TDH.SYS.INIT,TDH.SYS.LP.INIT",
                       "--leaf", "TDH.SYS.INFO", "--alloc", "rcx=1024", "--rdx", "1024",
                       "--alloc", "r8=512", "--r9", "32", "--color", "never")
    assert code == 0
    assert "module: TDH.SYS.INFO (leaf 32) -> TDX_SUCCESS" in out
    assert "module wrote 512 bytes at" in out and "(R8: PA of the CMR_INFO array" in out


def test_bad_input_is_one_line_and_exit_2(capsys):
    code, _, err = run(capsys, "trace", "--alloc", "rcx")
    assert code == 2 and "--alloc 'rcx': expected REG=SIZE[@ALIGN]" in err
    code, _, err = run(capsys, "trace", "--alloc", "rcx=64", "--rcx", "1")
    assert code == 2 and "--rcx is given too" in err
    code, _, err = run(capsys, "trace", "--after", "TDH.SYS.LP.INIT")
    assert code == 2 and "TDH.SYS.LP.INIT did not succeed" in err
    code, _, err = run(capsys, "trace", "--entry", "nope")
    assert code == 2 and "no symbol 'nope'" in err
