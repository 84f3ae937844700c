# SPDX-License-Identifier: MIT
"""SEAMCALL rule table: each row fires with its outcome and text, in the documented order."""

from __future__ import annotations

import pytest

from seamemu.arch.registers import ABI_ORDER, RFLAGS_ARITH, RFLAGS_CF, RFLAGS_ZF
from seamemu.errors import InputError
from seamemu.traps import (
    LOADER_BIT,
    SEAMCALL_CHECKS,
    CpuState,
    decide_seamcall,
    execute_seamcall,
    render_table,
    seamcall_checks,
)
from seamemu.traps.cpu_state import SEAMRR_MASK_LOCK, SEAMRR_MASK_VALID
from seamemu.traps.target import CallRecord, SeamReply
from tests.machine.machine_helpers import StubTarget

HOST = CpuState()
UNLOCKED = HOST.seamrr_mask_msr & ~SEAMRR_MASK_LOCK
INVALID = HOST.seamrr_mask_msr & ~SEAMRR_MASK_VALID


def decide(cpu=HOST, rax=0, loaded=True, present=True, busy=False, **kw):
    return decide_seamcall(cpu, rax, loaded, present, busy, **kw)


@pytest.mark.parametrize("cpu, rax, loaded, present, busy, check, kind, text", [
    (HOST.with_(vmx_operation=False), 0, True, True, False, "ud_not_vmx", "#UD", "outside VMX operation"),
    (HOST.with_(smm=True), 0, True, True, False, "ud_smm", "#UD", "SMM"),
    (HOST.with_(seam_mode=True), 0, True, True, False, "ud_in_seam", "#UD", "SEAM root"),
    (HOST.with_(long_mode=False), 0, True, True, False, "ud_not_64bit", "#UD", "64-bit"),
    (HOST.with_(cpl=3), 0, True, True, False, "gp_cpl", "#GP", "#GP(0): CPL 3 > 0"),
    (HOST.with_(vmx_non_root=True, td_guest=True), 0, True, True, False, "ud_td", "#UD",
     "which injects #UD"),
    (HOST.with_(vmx_non_root=True), 0, True, True, False, "vmexit_non_root", "vmexit", "reason 76"),
    (HOST.with_(seamrr_mask_msr=INVALID), 0, True, True, False, "gp_seamrr_invalid", "#GP", "bit 11"),
    (HOST.with_(mov_ss_shadow=True), 0, True, True, False, "gp_mov_ss", "#GP", "MOV SS"),
    (HOST, 0, False, True, False, "vmfail_no_module", "VMfailInvalid", "no TDX module"),
    (HOST, LOADER_BIT, True, False, False, "vmfail_no_pseamldr", "VMfailInvalid", "no P-SEAMLDR"),
    (HOST, LOADER_BIT, True, True, True, "vmfail_pseamldr_busy", "VMfailInvalid", "busy"),
    (HOST, 0x21, True, True, False, "to_module", "module", "TDX module"),
    (HOST, LOADER_BIT | 1, False, True, False, "to_pseamldr", "pseamldr", "P-SEAMLDR"),
])
def test_each_row_fires(cpu, rax, loaded, present, busy, check, kind, text):
    d = decide(cpu, rax, loaded, present, busy)
    assert (d.check, d.kind) == (check, kind)
    assert text in d.rule


def test_fault_rows_carry_vector_and_error_code():
    ud = decide(HOST.with_(vmx_operation=False))
    gp = decide(HOST.with_(cpl=1))
    assert (ud.vector, ud.error_code) == (6, None)
    assert (gp.vector, gp.error_code) == (13, 0)
    assert decide(HOST.with_(vmx_non_root=True)).exit_reason == 76


@pytest.mark.parametrize("cpu, expected", [
    # #UD rows come before the CPL check: not in VMX operation at CPL 3 is #UD.
    (HOST.with_(vmx_operation=False, cpl=3), "ud_not_vmx"),
    # KVM 9d7dfb95: CPL is checked before the VMX non-root VM exit.
    (HOST.with_(vmx_non_root=True, cpl=3), "gp_cpl"),
    # The VM exit precedes the SEAMRR #GP.
    (HOST.with_(vmx_non_root=True, seamrr_mask_msr=0), "vmexit_non_root"),
    (HOST.with_(smm=True, seamrr_mask_msr=0, cpl=2), "ud_smm"),
    # In a TD: CPL first, then the exit to the TDX module, whose #UD beats every later row.
    (HOST.with_(vmx_non_root=True, td_guest=True, cpl=3), "gp_cpl"),
    (HOST.with_(vmx_non_root=True, td_guest=True, seamrr_mask_msr=0), "ud_td"),
])
def test_order_of_rows(cpu, expected):
    assert decide(cpu, loaded=False).check == expected


def test_cpu_rows_beat_target_rows():
    # A missing module does not matter when the CPU state already faults.
    assert decide(HOST.with_(cpl=3), loaded=False).kind == "#GP"


def test_lock_row_is_documented_but_inactive_by_default():
    rows = {r["id"]: r for r in render_table(SEAMCALL_CHECKS)}
    assert rows["gp_seamrr_unlocked"]["active"] is False
    cpu = HOST.with_(seamrr_mask_msr=UNLOCKED)
    assert decide(cpu).kind == "module"
    strict = decide(cpu, checks=seamcall_checks(require_seamrr_lock=True))
    assert (strict.check, strict.kind) == ("gp_seamrr_unlocked", "#GP")


def test_table_rows_are_unique_and_rendered_in_order():
    ids = [c.id for c in SEAMCALL_CHECKS]
    assert len(ids) == len(set(ids))
    assert [r["id"] for r in render_table(SEAMCALL_CHECKS)] == ids
    assert all(r["sentence"] and r["source"] for r in render_table(SEAMCALL_CHECKS))


# -- execute_seamcall ----------------------------------------------------------------------------

def Target(loaded=True, present=True, busy=False, reply=None):
    """The machine tests' StubTarget, answering every SEAMCALL with `reply`."""
    answer = reply or SeamReply({"rax": 0, "rcx": 0x1234})
    return StubTarget(loaded, present, busy, answer=lambda lp, regs, mem: answer)


REGS = {name: i + 1 for i, name in enumerate(ABI_ORDER)}
FLAGS_IN = 0x2 | RFLAGS_ARITH | (1 << 9)  # all six arithmetic flags set, IF set


def test_success_writes_reply_and_sets_vmsucceed():
    t = Target()
    eff = execute_seamcall(HOST, REGS, FLAGS_IN, t, None, 3)
    assert t.calls == [(3, REGS)]
    assert dict(eff.regs) == {"rax": 0, "rcx": 0x1234}
    assert eff.rflags == 0x2 | (1 << 9)  # arithmetic flags cleared, others kept
    assert (eff.rip_advance, eff.fault, eff.decision.kind) == (4, None, "module")


def test_vmfailinvalid_sets_cf_only_and_keeps_rax():
    t = Target(loaded=False)
    eff = execute_seamcall(HOST, REGS, FLAGS_IN, t, None, 0)
    assert t.calls == []
    assert eff.rflags & RFLAGS_ARITH == RFLAGS_CF
    assert eff.rflags & (1 << 9)
    assert dict(eff.regs) == {} and eff.rip_advance == 4


def test_fault_does_not_advance_or_call_target():
    t = Target()
    eff = execute_seamcall(HOST.with_(cpl=3), REGS, FLAGS_IN, t, None, 0)
    assert (eff.fault, eff.rip_advance, eff.rflags) == ((13, 0), 0, None)
    assert t.calls == []


def test_busy_pseamldr_in_loader_mode_only():
    t = Target(busy=True)
    assert execute_seamcall(HOST, {**REGS, "rax": LOADER_BIT}, 2, t, None, 0).decision.kind == "VMfailInvalid"
    assert execute_seamcall(HOST, REGS, 2, t, None, 0).decision.kind == "module"


@pytest.mark.parametrize("fault, vector, rflags_cf", [("#GP", 13, None), ("#UD", 6, None),
                                                        ("VMfailInvalid", None, RFLAGS_CF)])
def test_injected_faults_apply_as_the_instruction_would(fault, vector, rflags_cf):
    record = CallRecord(0, 0, 33, "TDH.SYS.INIT", 0, {}, {}, 0, "TDX_SUCCESS", injected=fault)
    eff = execute_seamcall(HOST, REGS, FLAGS_IN, Target(reply=SeamReply(fault=fault, record=record)), None, 0)
    assert eff.decision.check == "injected"
    assert eff.record is record
    if vector is None:
        assert eff.fault is None and eff.rflags & RFLAGS_ARITH == rflags_cf and eff.rip_advance == 4
    else:
        assert eff.fault[0] == vector and eff.rip_advance == 0


@pytest.mark.parametrize("reply, message", [
    (SeamReply({"rcx": 1}), "rax"),
    (SeamReply({"rax": 0, "rip": 1}), "'rip'"),
    (SeamReply({"rax": 1 << 64}), "64-bit"),
    (SeamReply(fault="#PF"), "#PF"),
])
def test_bad_replies_are_named(reply, message):
    with pytest.raises(InputError, match=message):
        execute_seamcall(HOST, REGS, 2, Target(reply=reply), None, 0)


def test_missing_registers_are_named():
    with pytest.raises(InputError, match="rsi"):
        execute_seamcall(HOST, {k: v for k, v in REGS.items() if k != "rsi"}, 2, Target(), None, 0)


def test_cpu_state_validates_cpl():
    with pytest.raises(InputError, match="cpl"):
        CpuState(cpl=4)
    with pytest.raises(TypeError):
        HOST.with_(cpl_typo=1)


def test_flag_helpers_match_sdm_conventions():
    from seamemu.traps import vmfail_invalid, vmfail_valid, vmsucceed
    assert vmsucceed(0xFFF) & RFLAGS_ARITH == 0
    assert vmfail_invalid(0) & RFLAGS_ARITH == RFLAGS_CF
    assert vmfail_valid(RFLAGS_CF) & RFLAGS_ARITH == RFLAGS_ZF


def test_each_table_keeps_its_own_verdicts():
    """The verdict memory belongs to a table: a stricter table and the default one, asked in
    turn about the same CpuState object, each answer from their own rows."""
    from seamemu.traps.seamcall import _TARGET_ROWS, SeamcallTable

    strict_rows = seamcall_checks(require_seamrr_lock=True)[:-len(_TARGET_ROWS)]
    strict = SeamcallTable(strict_rows, _TARGET_ROWS)
    cpu, t = HOST.with_(seamrr_mask_msr=UNLOCKED), Target()
    for _ in range(2):
        assert execute_seamcall(cpu, REGS, 2, t, None, 0).decision.kind == "module"
        strict_kind = execute_seamcall(cpu, REGS, 2, t, None, 0, table=strict).decision
        assert (strict_kind.kind, strict_kind.check) == ("#GP", "gp_seamrr_unlocked")
    assert len(t.calls) == 2
