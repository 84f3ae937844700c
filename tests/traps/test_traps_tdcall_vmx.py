# SPDX-License-Identifier: MIT
"""TDCALL, VMXON and VMXOFF rule tables, row by row, and their effects."""

from __future__ import annotations

import pytest

from seamemu.arch.registers import RFLAGS_ARITH, RFLAGS_CF
from seamemu.traps import (
    TDCALL_CHECKS,
    VMXOFF_CHECKS,
    VMXON_CHECKS,
    CpuState,
    decide_tdcall,
    decide_vmxoff,
    decide_vmxon,
    execute_tdcall,
    execute_vmxoff,
    execute_vmxon,
)

HOST = CpuState()
OFF = HOST.with_(vmx_operation=False)


@pytest.mark.parametrize("cpu, check, kind", [
    (HOST, "ud_not_guest", "#UD"),
    (HOST.with_(vmx_non_root=True, cpl=3), "gp_cpl", "#GP"),
    (HOST.with_(td_guest=True, cpl=1), "gp_cpl", "#GP"),
    (HOST.with_(td_guest=True), "vmexit_td", "vmexit"),
    (HOST.with_(vmx_non_root=True), "vmexit_non_root", "vmexit"),
])
def test_tdcall_rows(cpu, check, kind):
    d = decide_tdcall(cpu)
    assert (d.check, d.kind) == (check, kind)
    if kind == "vmexit":
        assert d.exit_reason == 77


def test_tdcall_effects():
    assert execute_tdcall(HOST, 2).fault == (6, None)
    eff = execute_tdcall(HOST.with_(vmx_non_root=True), 2)
    assert eff.fault is None and eff.rip_advance == 0 and eff.decision.kind == "vmexit"


@pytest.mark.parametrize("cpu, pointer, check, kind", [
    (OFF, None, "ud_register_operand", "#UD"),
    (OFF.with_(cr4_vmxe=False), 0x1000, "ud_vmxe", "#UD"),
    (OFF.with_(long_mode=False), 0x1000, "ud_not_64bit", "#UD"),
    (OFF.with_(cpl=3), 0x1000, "gp_cpl_outside", "#GP"),
    (OFF, 0x1008, "vmfail_pointer", "VMfailInvalid"),
    (OFF, 1 << 52, "vmfail_pointer", "VMfailInvalid"),
    (OFF, 0x2000, "enter", "VMsucceed"),
    (HOST.with_(vmx_non_root=True, cpl=3), 0x1000, "vmexit_non_root", "vmexit"),
    (HOST.with_(cpl=3), 0x1000, "gp_cpl_root", "#GP"),
    (HOST, 0x1000, "vmfail_in_root", "VMfailInvalid"),
])
def test_vmxon_rows(cpu, pointer, check, kind):
    d = decide_vmxon(cpu, pointer)
    assert (d.check, d.kind) == (check, kind)


def test_vmxon_enters_vmx_operation_and_sets_vmsucceed():
    eff = execute_vmxon(OFF, 0x3000, 0x2 | RFLAGS_ARITH, 4)
    assert eff.cpu.vmx_operation and not eff.cpu.vmx_non_root
    assert eff.rflags == 0x2 and eff.rip_advance == 4


def test_vmxon_in_root_is_vmfailinvalid_and_keeps_state():
    eff = execute_vmxon(HOST, 0x3000, 0x2, 5)
    assert eff.cpu is None
    assert eff.rflags & RFLAGS_ARITH == RFLAGS_CF and eff.rip_advance == 5
    assert "error 15" in eff.decision.rule


@pytest.mark.parametrize("cpu, check, kind", [
    (OFF, "ud_not_vmx", "#UD"),
    (HOST.with_(long_mode=False), "ud_not_64bit", "#UD"),
    (HOST.with_(vmx_non_root=True, cpl=3), "vmexit_non_root", "vmexit"),
    (HOST.with_(cpl=2), "gp_cpl", "#GP"),
    (HOST, "leave", "VMsucceed"),
])
def test_vmxoff_rows(cpu, check, kind):
    d = decide_vmxoff(cpu)
    assert (d.check, d.kind) == (check, kind)


def test_vmxoff_leaves_vmx_operation():
    eff = execute_vmxoff(HOST, 0x2 | RFLAGS_CF)
    assert eff.cpu == HOST.with_(vmx_operation=False)
    assert eff.rflags == 0x2 and eff.rip_advance == 3
    assert execute_vmxoff(OFF, 2).fault == (6, None)


@pytest.mark.parametrize("table", [TDCALL_CHECKS, VMXON_CHECKS, VMXOFF_CHECKS])
def test_tables_have_unique_ids_and_sources(table):
    ids = [c.id for c in table]
    assert len(ids) == len(set(ids))
    assert all(c.sentence and c.source for c in table)
