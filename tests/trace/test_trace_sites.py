# SPDX-License-Identifier: MIT
"""Traces of real call sites: a kernel-style file's TDCALL, the stub's software codes written in
hex, and the buffers TDH.SYS.INFO writes read back as the structures they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seamemu.arch.kernel import TDX_SW_ERROR
from seamemu.arch.sysinfo import MAX_CMRS
from seamemu.cli import main
from seamemu.disasm import disassemble_one
from seamemu.learn.traced import trace_call
from seamemu.session import Session
from seamemu.stubs import DEFAULT_ENTRY
from seamemu.trace import decode_buffer, format_trace

ROOT = Path(__file__).resolve().parents[2]
KERNEL_STYLE = ROOT / "tests" / "session" / "kernel_style" / "caller.S"
TDH_SYS_INFO = 32


@pytest.fixture(scope="module")
def kernel_style() -> Session:
    return Session([KERNEL_STYLE], defines={"WANT_TDCALL": "1"}, num_lps=1)


@pytest.mark.parametrize("entry, name, opcode", [("ks_tdcall", "tdcall", "660f01cc"),
                                                 ("ks_seamcall", "seamcall", "660f01cf")])
def test_a_kernel_style_file_gets_its_seam_instruction_named(kernel_style, entry, name, opcode):
    run = trace_call(kernel_style, entry, leaf=1)
    (step,) = [s for s in run.trace.steps if s.traps]
    assert step.mnemonic == name and step.bytes == bytes.fromhex(opcode)
    assert step.traps[0].insn == name.upper()
    assert not {"encls", "(bad)"} & {s.mnemonic for s in run.trace.steps}
    assert f"{name.upper()} decision:" in format_trace(run.trace)


def test_the_tdcall_trace_from_the_command_line(capsys):
    code = main(["trace", "--asm", str(KERNEL_STYLE), "-D", "WANT_TDCALL=1", "--entry",
                 "ks_tdcall", "--color", "never"])
    out = capsys.readouterr().out
    assert code == 0
    assert "66 0f 01 cc" in out and "TDCALL decision: #UD" in out
    assert "unhandled" in out                # host=0: no exception-table entry for TDCALL


def test_immediates_with_the_top_bit_set_are_hex_like_the_kernel_writes_them():
    # movabsq $TDX_SW_ERROR, %rdi: capstone alone prints 9223652412319858688.
    code = b"\x48\xbf" + TDX_SW_ERROR.to_bytes(8, "little")
    assert disassemble_one(code, 0).text == f"movabsq $0x{TDX_SW_ERROR:x}, %rdi"
    assert disassemble_one(bytes.fromhex("48c7c0ffffffff"), 0).op_str == \
        "$0xffffffffffffffff, %rax"
    assert disassemble_one(bytes.fromhex("48c7c305000000"), 0).op_str == "$5, %rbx"
    assert disassemble_one(bytes.fromhex("4883c0f0"), 0).op_str == "$-0x10, %rax"


@pytest.fixture(scope="module")
def sys_info_run():
    session = Session(num_lps=1)
    session.call(DEFAULT_ENTRY, leaf=33)            # TDH.SYS.INIT
    session.call(DEFAULT_ENTRY, leaf=35)            # TDH.SYS.LP.INIT
    info, array = session.alloc(1024, 1024), session.alloc(512, 512)
    run = trace_call(session, DEFAULT_ENTRY, leaf=TDH_SYS_INFO,
                     inputs={"rcx": info, "rdx": 1024, "r8": array, "r9": MAX_CMRS})
    return session, run, info, array


def test_the_cmr_array_the_module_wrote_is_read_as_cmr_info(sys_info_run):
    session, run, _, array = sys_info_run
    leaf = next(s for s in run.trace.steps if s.traps).traps[0].leaf
    written = {w.address: w for w in leaf.memory}[array]
    cmrs = session.platform.cmrs
    assert written.decoded[0] == f"read as CMR_INFO[{MAX_CMRS}] (base, size):"
    for i, cmr in enumerate(cmrs):
        line = written.decoded[1 + i]
        assert line.split()[0] == f"[{i}]"
        assert f"base 0x{cmr.base:016x} size 0x{cmr.size:016x}" in line
    assert written.decoded[1 + len(cmrs)].split() == [f"[{len(cmrs)}..{MAX_CMRS - 1}]", "null",
                                                      "(size", "0)"]
    assert len(written.decoded) == 2 + len(cmrs)
    assert "read as CMR_INFO[32]" in format_trace(run.trace)


def test_the_tdsysinfo_struct_is_read_with_the_modules_version(sys_info_run):
    session, run, info, _ = sys_info_run
    leaf = next(s for s in run.trace.steps if s.traps).traps[0].leaf
    written = {w.address: w for w in leaf.memory}[info]
    raw = session.machine.memory.read(info, 1024)
    vendor = int.from_bytes(raw[4:8], "little")
    major, minor = int.from_bytes(raw[16:18], "little"), int.from_bytes(raw[14:16], "little")
    assert written.decoded[0] == "read as TDSYSINFO_STRUCT:"
    assert f"vendor_id 0x{vendor:04x}, version {major}.{minor} " in written.decoded[1]
    assert f"max_tdmrs {int.from_bytes(raw[32:34], 'little')}," in written.decoded[2]


def test_decoding_is_only_for_known_buffers_and_whole_layouts():
    assert decode_buffer("TDH.SYS.INFO", "r8", bytes(8)) == ()       # shorter than one entry
    assert decode_buffer("TDH.SYS.RD", "r8", bytes(512)) == ()       # not a buffer leaf
    assert decode_buffer("TDH.SYS.INFO", "R8", bytes(32))[1].split()[:2] == ["[0..1]", "null"]


def test_json_carries_the_decoded_lines(capsys):
    code = main(["trace", "--after", "TDH.SYS.INIT,TDH.SYS.LP.INIT", "--leaf", "TDH.SYS.INFO",
                 "--alloc", "rcx=1024", "--rdx", "1024", "--alloc", "r8=512", "--r9", "32",
                 "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    (seam,) = [s for s in doc["steps"] if s["traps"]]
    memory = seam["traps"][0]["leaf"]["memory"]
    assert [m["decoded"][0] for m in memory] == ["read as TDSYSINFO_STRUCT:",
                                                 "read as CMR_INFO[32] (base, size):"]
