# SPDX-License-Identifier: MIT
"""CPUID: the LP's CPUID table on a host, and a VM exit in a guest."""

from __future__ import annotations

from seamemu.traps.cpu_state import CpuState
from seamemu.traps.cpuid import execute_cpuid

TABLE = {(0, 0): (0x23, 0x756E6547, 0x6C65746E, 0x49656E69), (0x7, 0): (0, 1, 2, 3),
         (0x7, 1): (4, 5, 6, 7), (0x80000000, 0): (0x80000008, 0, 0, 0),
         (0x80000008, 0): (0x3034, 0x200, 0, 0)}


def test_host_cpuid_writes_the_four_registers_from_the_table():
    e = execute_cpuid(CpuState(), TABLE, 0x80000008, 0)
    assert e.regs == {"rax": 0x3034, "rbx": 0x200, "rcx": 0, "rdx": 0}
    assert (e.rip_advance, e.decision.kind) == (2, "executed")
    assert "the platform's CPUID table" in e.decision.rule


def test_subleaves_are_told_apart_and_absent_leaves_read_zero():
    assert execute_cpuid(CpuState(), TABLE, 7, 1).regs["rax"] == 4
    assert execute_cpuid(CpuState(), TABLE, 7, 0).regs["rbx"] == 1
    assert set(execute_cpuid(CpuState(), TABLE, 0x21, 0).regs.values()) == {0}


def test_a_leaf_above_the_maximum_answers_as_the_highest_basic_leaf():
    """SDM Vol. 2A CPUID: above the highest basic or extended leaf, the highest basic leaf."""
    for leaf in (0x24, 0x40000000, 0x80000009):
        assert execute_cpuid(CpuState(), {**TABLE, (0x23, 0): (9, 9, 9, 9)}, leaf, 0).regs == \
            {"rax": 9, "rbx": 9, "rcx": 9, "rdx": 9}


def test_cpuid_in_a_guest_is_a_vm_exit():
    for cpu in (CpuState(vmx_non_root=True), CpuState(td_guest=True)):
        d = execute_cpuid(cpu, TABLE, 1, 0).decision
        assert (d.kind, d.exit_reason) == ("vmexit", 10)
