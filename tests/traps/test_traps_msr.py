# SPDX-License-Identifier: MIT
"""RDMSR/WRMSR rule tables row by row, and the effects the machine applies (no Unicorn)."""

from __future__ import annotations

import dataclasses

import pytest

from seamemu.arch import msrs as m
from seamemu.platform import load_platform, msr_values
from seamemu.traps import CpuState
from seamemu.traps.msr import (
    EXECUTED,
    RDMSR_CHECKS,
    WRMSR_CHECKS,
    decide_rdmsr,
    decide_wrmsr,
    effective_msrs,
    execute_rdmsr,
    execute_wrmsr,
    wrmsr_store,
)

PLATFORM = load_platform()
LP0 = msr_values(PLATFORM, 0)
SEAMRR = PLATFORM.seamrr[0]
HOST = CpuState(seamrr_base_msr=SEAMRR.base_msr, seamrr_mask_msr=SEAMRR.mask_msr)
UNLOCKED = HOST.with_(seamrr_mask_msr=SEAMRR.mask_msr & ~m.SEAMRR_MASK_LOCKED)


def test_rdmsr_returns_edx_eax_and_clears_the_upper_halves():
    eff = execute_rdmsr(HOST, LP0, m.IA32_MKTME_KEYID_PARTITIONING, 2)
    assert eff.fault is None and eff.rip_advance == 2
    assert eff.regs == {"rax": PLATFORM.mktme_keyids, "rdx": PLATFORM.tdx_keyids}
    assert eff.decision.kind == EXECUTED
    assert "IA32_MKTME_KEYID_PARTITIONING" in eff.decision.rule


def test_rdmsr_ignores_rcx_bits_63_32():
    eff = execute_rdmsr(HOST, LP0, (0xDEAD << 32) | m.IA32_MTRRCAP, 2)
    assert (eff.regs["rdx"] << 32 | eff.regs["rax"]) == LP0[m.IA32_MTRRCAP]


def test_seamrr_reads_come_from_the_cpu_state():
    # set_state(seamrr=off) changes the CpuState: RDMSR must see the same thing SEAMCALL does.
    off = HOST.with_(seamrr_mask_msr=0)
    eff = execute_rdmsr(off, LP0, m.IA32_SEAMRR_PHYS_MASK, 2)
    assert eff.regs == {"rax": 0, "rdx": 0}
    assert effective_msrs(off, LP0)[m.IA32_SEAMRR_PHYS_BASE] == SEAMRR.base_msr


@pytest.mark.parametrize("cpu, msr, check, kind", [
    (HOST.with_(cpl=3), m.IA32_MTRRCAP, "gp_cpl", "#GP"),
    (HOST.with_(cpl=1, vmx_non_root=True), 0x12345, "gp_cpl", "#GP"),   # privilege first
    (HOST.with_(vmx_non_root=True), 0x12345, "vmexit_guest", "vmexit"),
    (HOST.with_(td_guest=True), m.IA32_MTRRCAP, "vmexit_guest", "vmexit"),
    (HOST, 0x12345, "gp_unknown", "#GP"),
    (HOST, 0xC0000080, "gp_unknown", "#GP"),  # IA32_EFER: not in this platform's table
])
def test_rdmsr_rows(cpu, msr, check, kind):
    d = decide_rdmsr(cpu, LP0, msr)
    assert (d.check, d.kind) == (check, kind)
    if kind == "#GP":
        assert (d.vector, d.error_code) == (13, 0)
    if kind == "vmexit":
        assert d.exit_reason == 31


def test_rdmsr_of_seamrr_faults_without_mtrrcap_seamrr():
    no_cap = msr_values(dataclasses.replace(PLATFORM, mtrrcap_seamrr=False), 0)
    d = decide_rdmsr(HOST, no_cap, m.IA32_SEAMRR_PHYS_BASE)
    assert (d.check, d.kind) == ("gp_unknown", "#GP")
    assert "IA32_SEAMRR_PHYS_BASE" in d.rule and "not implemented" in d.rule


@pytest.mark.parametrize("cpu, msr, value, check", [
    (HOST.with_(cpl=3), m.IA32_FEATURE_CONTROL, 5, "gp_cpl"),
    (HOST.with_(vmx_non_root=True), m.IA32_FEATURE_CONTROL, 5, "vmexit_guest"),
    (HOST, 0x12345, 0, "gp_unknown"),
    (HOST, m.IA32_MKTME_KEYID_PARTITIONING, 0, "gp_read_only"),
    (HOST, m.IA32_VMX_BASIC, 0, "gp_read_only"),
    (HOST, m.IA32_MTRRCAP, 0, "gp_read_only"),
    (HOST, m.IA32_FEATURE_CONTROL, 5, "gp_locked"),
    (HOST, m.IA32_SEAMRR_PHYS_BASE, 0x80000008, "gp_locked"),
    (HOST, m.IA32_SEAMRR_PHYS_MASK, 0, "gp_locked"),
    (UNLOCKED, m.IA32_SEAMRR_PHYS_BASE, 0x80000001, "gp_reserved"),
])
def test_wrmsr_rows(cpu, msr, value, check):
    d = decide_wrmsr(cpu, LP0, msr, value & 0xFFFFFFFF, value >> 32)
    assert d.check == check
    assert d.kind == ("vmexit" if check == "vmexit_guest" else "#GP")
    if check == "gp_locked":
        assert "locked" in d.rule and "bit" in d.rule


def test_wrmsr_to_unlocked_seamrr_updates_the_cpu_state_and_locks_it():
    value = 0x80000000 | m.SEAMRR_BASE_CONFIGURED
    eff = execute_wrmsr(UNLOCKED, LP0, m.IA32_SEAMRR_PHYS_BASE, value, 0, 2)
    assert eff.fault is None and eff.rip_advance == 2 and eff.decision.kind == EXECUTED
    assert eff.cpu.seamrr_base_msr == value
    # Now set LOCK in the mask: after that every write to either MSR faults.
    eff = execute_wrmsr(eff.cpu, LP0, m.IA32_SEAMRR_PHYS_MASK, UNLOCKED.seamrr_mask_msr
                        | m.SEAMRR_MASK_LOCKED, 0, 2)
    assert eff.cpu.seamrr_locked
    again = execute_wrmsr(eff.cpu, LP0, m.IA32_SEAMRR_PHYS_BASE, value, 0, 2)
    assert again.fault == (13, 0) and again.decision.check == "gp_locked"


def test_wrmsr_store_takes_edx_eax_only():
    assert wrmsr_store(0xFFFF_0000_0000_0087, 0xAAAA_0000_1111_2222, 0xBBBB_0000_3333_4444) == \
        (0x87, 0x3333_4444_1111_2222)


def test_wrmsr_of_an_unlocked_rw_msr_changes_no_cpu_state():
    open_fc = {**LP0, m.IA32_FEATURE_CONTROL: m.FEATURE_CONTROL_VMX_OUTSIDE_SMX}
    eff = execute_wrmsr(HOST, open_fc, m.IA32_FEATURE_CONTROL, 5, 0, 2)
    assert eff.fault is None and eff.cpu is None and eff.decision.check == "write"


def test_tables_are_well_formed():
    for table in (RDMSR_CHECKS, WRMSR_CHECKS):
        ids = [c.id for c in table]
        assert len(ids) == len(set(ids)) and all(c.source and c.sentence for c in table)
        assert ids[0] == "gp_cpl"  # privilege faults outrank VM exits (SDM Vol. 3C §26.1.1)
