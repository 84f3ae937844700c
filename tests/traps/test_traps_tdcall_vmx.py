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
from seamemu.traps.tdcall import TDCALL_REGS

HOST = CpuState()
OFF = HOST.with_(vmx_operation=False)


TD = HOST.with_(vmx_non_root=True, td_guest=True)


@pytest.mark.parametrize("cpu, check, kind", [
    (HOST, "ud_not_guest", "#UD"),
    (HOST.with_(cpl=3), "ud_not_guest", "#UD"),            # #UD before the CPL check
    (HOST.with_(vmx_non_root=True, cpl=3), "gp_cpl", "#GP"),
    (TD.with_(cpl=1), "gp_cpl", "#GP"),
    (HOST.with_(vmx_non_root=True), "vmexit_non_root", "vmexit"),
    (TD.with_(long_mode=False), "gp_td_not_64bit", "#GP"),
    (TD, "to_module", "module"),
])
def test_tdcall_rows(cpu, check, kind):
    d = decide_tdcall(cpu)
    assert (d.check, d.kind) == (check, kind)
    if kind in ("vmexit", "module"):
        assert d.exit_reason == 77


def test_tdcall_effects():
    assert execute_tdcall(HOST, 2).fault == (6, None)
    eff = execute_tdcall(HOST.with_(vmx_non_root=True), 2)
    assert eff.fault is None and eff.rip_advance == 0 and eff.decision.kind == "vmexit"
    # A TD with nothing behind TDCALL: the exit stops the run, nothing is guessed.
    eff = execute_tdcall(TD, 2)
    assert eff.decision.kind == "vmexit" and eff.decision.check == "no_target"


class _Module:
    def __init__(self, reply):
        self.reply, self.seen = reply, None

    def tdcall(self, lp, regs, mem):
        self.seen = (lp, dict(regs))
        return self.reply


REGS = {r: i for i, r in enumerate(TDCALL_REGS)} | {"rsp": 0x1000, "rip": 0x400000}


def test_a_td_tdcall_hands_every_gpr_to_the_module_and_keeps_rflags():
    from seamemu.traps.target import SeamReply

    module = _Module(SeamReply({"rax": 0, "rcx": 48}))
    eff = execute_tdcall(TD, 0x8D5, regs=REGS, target=module, mem=object(), lp=3)
    assert module.seen == (3, {r: REGS[r] for r in TDCALL_REGS})   # no RSP/RIP
    assert eff.regs == {"rax": 0, "rcx": 48} and eff.rip_advance == 4
    assert eff.rflags is None                                        # RFLAGS as the TD had it


def test_a_td_tdcall_reply_that_stops_or_faults():
    from seamemu.errors import InputError
    from seamemu.traps.target import HALT, CallRecord, SeamReply

    rec = CallRecord(1, 0, 0, "TDG.VP.VMCALL", 0, {}, {}, 0, "", note="the VMM stopped the TD")
    eff = execute_tdcall(TD, 2, regs=REGS, target=_Module(SeamReply({}, HALT, rec)), mem=object())
    assert eff.decision.kind == "halt" and eff.decision.rule == "the VMM stopped the TD"
    eff = execute_tdcall(TD, 2, regs=REGS, target=_Module(SeamReply({}, "#GP")), mem=object())
    assert eff.fault == (13, 0)
    with pytest.raises(InputError, match="rsp"):
        execute_tdcall(TD, 2, regs=REGS, target=_Module(SeamReply({"rax": 0, "rsp": 1})),
                       mem=object())


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
