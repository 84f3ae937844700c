# SPDX-License-Identifier: MIT
"""The core commands as a user runs them: output, JSON shape, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest

from seamemu.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_json_has_the_documented_fields(capsys):
    code, out, _ = run(capsys, "run", "--leaf", "TDH.SYS.INIT", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["outcome"] == "returned" and doc["rax"] == "0x0000000000000000"
    assert doc["calls"][0]["leaf_name"] == "TDH.SYS.INIT"
    assert doc["abi"]["preserved"] is True
    assert set(doc["regs"]) >= {"rax", "rcx", "rdx", "r8", "rbx", "rsp", "rflags"}
    assert doc["fault"] is None and doc["out"] is not None


def test_run_cpl3_reports_gp_with_the_rule(capsys):
    code, out, _ = run(capsys, "run", "--leaf", "33", "--cpl", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["outcome"], doc["rax"]) == ("#GP", "0x8000ff000000000d")
    assert doc["rule"] == "#GP(0): CPL 3 > 0"
    assert doc["fault"]["vector"] == 13 and doc["fault"]["handled"] is True
    assert doc["calls"] == []  # the module never saw it


def test_run_vmx_off_reports_ud(capsys):
    code, out, _ = run(capsys, "run", "--vmx", "off", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["outcome"], doc["rax"]) == ("#UD", "0x8000ff0000000006")
    assert doc["fault"]["name"] == "#UD"


def test_run_registers_reach_the_module(capsys):
    code, out, _ = run(capsys, "run", "--leaf", "TDH.SYS.INIT", "--rcx", "0x5", "--json")
    assert code == 0
    doc = json.loads(out)
    # TDH.SYS.INIT takes RCX = attributes, all reserved: a nonzero value is refused for RCX.
    assert doc["calls"][0]["inputs"]["rcx"] == "0x0000000000000005"
    assert doc["rax"] == "0xc000010000000001"


def test_run_text_output_for_people(capsys):
    code, out, _ = run(capsys, "run", "--module", "absent")
    assert code == 0
    assert "VMfailInvalid" in out and "TDX_SEAMCALL_VMFAILINVALID" in out and "-19" in out


@pytest.mark.parametrize("argv, needle", [
    (["run", "--rcx", "zebra"], "--rcx: 'zebra' is not a number"),
    (["run", "--rdx", str(1 << 64)], "--rdx"),
    (["run", "--leaf", "TDH.NOPE"], "--leaf 'TDH.NOPE'"),
    (["run", "--entry", "no_such_fn"], "no symbol 'no_such_fn'"),
    (["run", "--asm", "/nonexistent/x.S"], "x.S"),
    (["run", "--cpl", "7"], "--cpl 7"),
    (["run", "--lp", "99"], "99"),
    (["run", "--platform", "no-such-preset"], "no-such-preset"),
    (["run", "--convention", "legacy", "--r12", "1"], "register r12"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert needle in err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("seamemu") for line in lines)


def test_asm_listing_like_objdump(capsys, asm_dir):
    code, out, _ = run(capsys, "asm", str(asm_dir / "seamcall.S"))
    assert code == 0
    assert "<__seamcall_ret>:" in out
    assert "66 0f 01 cf" in out and "seamcall" in out and "encls" not in out
    assert "Exception table" in out and "EX_TYPE_FAULT" in out


def test_asm_json_has_symbols_and_extable(capsys, asm_dir):
    code, out, _ = run(capsys, "asm", str(asm_dir / "seamcall.S"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert {"__seamcall", "__seamcall_ret", "__seamcall_saved_ret"} <= set(doc["symbols"])
    assert len(doc["extable"]) == 3
    assert all(e["type"] == "EX_TYPE_FAULT" for e in doc["extable"])
    seamcalls = [i for i in doc["instructions"] if i["text"] == "seamcall"]
    assert {int(i["address"], 16) for i in seamcalls} == {int(e["fault"], 16) for e in doc["extable"]}


def test_asm_error_names_file_and_line(capsys, tmp_path):
    bad = tmp_path / "bad.S"
    bad.write_text("nop\n\tfrobnicate %rax\n")
    code, _, err = run(capsys, "asm", str(bad))
    assert code == 2 and "bad.S:2" in err


def test_demo_explains_the_matrix_and_one_call(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    for needle in ("#UD", "#GP", "VMfailInvalid", "returned", "TDH.SYS.INFO", "CMR[0]", "-EACCES"):
        assert needle in out


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "seamemu", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("seamemu ")


def test_runaway_guest_is_stopped_by_the_bound_and_reported(capsys, tmp_path):
    src = tmp_path / "spin.S"
    src.write_text(".text\n.globl spin\nspin:\n1:\tincq %rax\n\tjmp 1b\n")
    code, out, _ = run(capsys, "run", "--asm", str(src), "--entry", "spin", "--convention", "raw",
                       "--max-insns", "50000", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["outcome"] == "bound"
    assert doc["bound"]["kind"] == "instructions" and doc["bound"]["symbol"].startswith("spin")
    assert doc["bound"]["disasm"] in ("incq %rax", "jmp 0x400000")


def test_wild_access_is_reported_like_an_oops(capsys, tmp_path):
    src = tmp_path / "wild.S"
    src.write_text(".text\n.globl peek\npeek:\n\tmovq (%rdi), %rax\n\tret\n")
    code, out, _ = run(capsys, "run", "--asm", str(src), "--entry", "peek", "--convention", "raw",
                       "--rdi", "0x7fffffff0000")
    assert code == 0
    assert "unhandled" in out and "peek" in out and "0x00007fffffff0000" in out


def test_unhandled_fault_is_not_dressed_up_as_a_status(capsys, asm_dir):
    code, out, _ = run(capsys, "run", "--asm", str(asm_dir / "seamcall_legacy.S"), "--entry", "__seamcall",
                       "--convention", "legacy", "--cpl", "3", "--leaf", "33")
    assert code == 0
    assert "never returned" in out and "oops" in out
    assert "TDX_SUCCESS" not in out
