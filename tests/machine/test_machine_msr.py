# SPDX-License-Identifier: MIT
"""RDMSR/WRMSR in guest code: patched sites trap to traps/msr.py with per-LP MSR values."""

from __future__ import annotations

import pytest
from machine_helpers import StubTarget, build

from seamemu.errors import InputError
from seamemu.machine import Machine
from seamemu.traps import CpuState

MTRRCAP, KEYIDS, FEATURE_CONTROL = 0xFE, 0x87, 0x3A
SEAMRR_BASE, SEAMRR_MASK = 0x1400, 0x1401
TABLE = {
    FEATURE_CONTROL: 0x5,                      # locked
    KEYIDS: (32 << 32) | 31,
    MTRRCAP: 0xDD0A,
    SEAMRR_BASE: 0x7C000008,
    SEAMRR_MASK: 0x3FFFFC000C00,
}

CODE = """
rd:
    mov ecx, edi
rd_insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    ret
rd_fixup:
    ret
wr:
    mov ecx, edi
    mov rax, rsi
    mov rdx, rsi
    shr rdx, 32
wr_insn:
    wrmsr
    xor eax, eax
    ret
bug:
    ud2
    ret
"""


def machine(tables=None, extable=(), num_lps=2, cpu=None):
    img = build(CODE, extable=extable)
    m = Machine(img, StubTarget(), num_lps=num_lps, cpu=cpu)
    m.attach_msrs(tables or [TABLE] * num_lps,
                  [(img.symbols["rd_insn"], "rdmsr"), (img.symbols["wr_insn"], "wrmsr")])
    return m, img


def test_rdmsr_reads_each_lps_own_values():
    other = {**TABLE, SEAMRR_BASE: 0x78000008}
    m, _ = machine([TABLE, other])
    assert m.call("rd", [KEYIDS]).rax == (32 << 32) | 31
    assert m.call("rd", [SEAMRR_BASE], lp=0).rax == 0x7C000008
    assert m.call("rd", [SEAMRR_BASE], lp=1).rax == 0x78000008
    r = m.call("rd", [MTRRCAP])
    assert r.seam_events[-1].insn == "rdmsr" and "IA32_MTRRCAP" in r.seam_events[-1].decision.rule


def test_attach_gives_the_cpu_state_the_seamrr_values():
    m, _ = machine([TABLE, {**TABLE, SEAMRR_MASK: 0}])
    assert m.lps[0].cpu.seamrr_mask_msr == TABLE[SEAMRR_MASK]
    assert not m.lps[1].cpu.seamrr_valid  # SEAMCALL on LP 1 would now #GP


def test_unknown_msr_gp_goes_through_the_exception_table():
    m, img = machine(extable=[("rd_insn", "rd_fixup", "fault")])
    r = m.call("rd", [0x12345])
    assert r.outcome == "returned" and r.rax == 13      # EX_TYPE_FAULT: RAX = trap number
    f = r.faults[0]
    assert (f.name, f.handled_by, f.address) == ("#GP", "extable", img.symbols["rd_insn"])


def test_unhandled_gp_is_reported_with_the_original_instruction():
    m, _img = machine()
    r = m.call("rd", [0x12345])
    assert r.outcome == "fault"
    f = r.fault
    assert (f.name, f.error_code, f.handled_by) == ("#GP", 0, None)
    assert f.insn[:2] == b"\x0f\x32"                   # rdmsr, not the UD2 it was patched to
    assert "MSR 0x12345" in f.detail and "not implemented" in f.detail
    assert f.symbol == "rd_insn"


def test_wrmsr_is_per_lp_and_read_only_or_locked_msrs_fault():
    unlocked = {**TABLE, FEATURE_CONTROL: 0x4}
    m, _ = machine([unlocked, unlocked])
    assert m.call("wr", [FEATURE_CONTROL, 0x5]).outcome == "returned"
    assert m.call("rd", [FEATURE_CONTROL], lp=0).rax == 0x5
    assert m.call("rd", [FEATURE_CONTROL], lp=1).rax == 0x4    # LP 1 untouched
    locked = m.call("wr", [FEATURE_CONTROL, 0x7])                 # now locked on LP 0
    assert locked.outcome == "fault" and "locked" in locked.fault.detail
    ro = m.call("wr", [KEYIDS, 0], lp=1)
    assert ro.fault.name == "#GP" and "read-only" in ro.fault.detail
    assert ro.fault.insn[:2] == b"\x0f\x30"


def test_rdmsr_at_cpl3_faults():
    m, _ = machine(cpu=CpuState(cpl=3))
    r = m.call("rd", [MTRRCAP])
    assert r.fault.name == "#GP" and "CPL 3" in r.fault.detail


def test_a_genuine_ud2_still_raises_ud():
    m, _ = machine()
    r = m.call("bug")
    assert r.fault.name == "#UD" and r.seam_events == ()


def test_patched_bytes_are_ud2_but_code_bytes_shows_the_original():
    m, img = machine()
    site = img.symbols["rd_insn"]
    assert m.memory.read(site, 2) == b"\x0f\x0b"
    assert m.code_bytes(site - 2, 6)[2:4] == b"\x0f\x32"
    assert m.msr_sites == {site: "rdmsr", img.symbols["wr_insn"]: "wrmsr"}


def test_snapshot_restore_rolls_back_msr_writes():
    m, _ = machine([{**TABLE, FEATURE_CONTROL: 0x4}] * 2)
    snap = m.snapshot()
    m.call("wr", [FEATURE_CONTROL, 0x5])
    m.restore(snap)
    assert m.call("rd", [FEATURE_CONTROL]).rax == 0x4


def test_attach_refuses_sites_that_are_not_rdmsr_or_wrmsr():
    img = build(CODE)
    m = Machine(img, StubTarget(), num_lps=1)
    with pytest.raises(InputError, match=r"holds .* not 0f 32"):
        m.attach_msrs([TABLE], [(img.symbols["rd"], "rdmsr")])
    with pytest.raises(InputError, match="not rdmsr or wrmsr"):
        m.attach_msrs([TABLE], [(img.symbols["rd_insn"], "cpuid")])
    with pytest.raises(InputError, match="not in an executable section"):
        m.attach_msrs([TABLE], [(0x10000, "rdmsr")])
    with pytest.raises(InputError, match="2 MSR tables for 1 logical"):
        m.attach_msrs([TABLE, TABLE], [])
