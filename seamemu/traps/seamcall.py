# SPDX-License-Identifier: MIT
"""SEAMCALL (66 0F 01 CF): the instruction's checks as a table, and the effect of executing it.

Spec: Intel TDX CPU Architectural Extensions, SEAMCALL.  Its pseudo-code could not be
retrieved; the rules below are Intel's SDM description of SEAMCALL as quoted on the
HJLebbink/asm-dude wiki page "SEAMCALL", Linux commit 7b804135 ("x86/virt/tdx: Make
TDX_MODULE_CALL handle SEAMCALL #UD and #GP") for #UD before VMXON, and KVM commit 9d7dfb95
("KVM: VMX: Inject #UD if guest tries to execute SEAMCALL or TDCALL") for the CPL ordering.
Not confirmed by any of them: the exact priority of the #UD/#GP/VMfailInvalid checks, the
RFLAGS of a successful SEAMCALL, and whether SEAMRR_MASK.LOCK is checked (only VALID is).

Order of the rows (first match wins):
  1. #UD rows: not in VMX operation, in SMM, in SEAM root mode, not in 64-bit mode.
  2. #GP(0) if CPL > 0.  KVM commit 9d7dfb95 ("KVM: VMX: Inject #UD if guest tries to execute
     SEAMCALL or TDCALL") reports that on SPR and EMR the CPL check happens *before* the VMX
     non-root VM exit, although the spec's pseudo-code lists it after; we follow the hardware.
  3. VM exit (basic reason 76) in VMX non-root operation; from a TD the exit goes to the TDX
     module, which injects #UD (intel/tdx-module tdx_1.5 src/td_dispatcher/tdx_td_dispatcher.c,
     tdx_td_dispatcher(): VMEXIT_REASON_SEAMCALL -> inject_ud()).
  4. #GP(0) if SEAMRR is not valid (IA32_SEAMRR_PHYS_MASK bit 11 clear).  A LOCK-bit row
     (bit 10) is kept in the table but inactive: only VALID is confirmed as a SEAMCALL check
     (the description names only VALID); `seamcall_checks(require_seamrr_lock=True)`
     builds the stricter table for experiments.  #GP(0) in a MOV SS / POP SS shadow.
  5. VMfailInvalid if the target is not available (RAX bit 63 picks it).
  6. Otherwise the call goes to the TDX module (bit 63 = 0) or the P-SEAMLDR (bit 63 = 1).
Rows 1-4 depend on the CPU state only, so a `SeamcallTable` remembers their verdict per
`CpuState`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch.registers import ABI_ORDER, RFLAGS_ARITH
from seamemu.errors import InputError
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import (
    FAULT_VECTORS,
    Check,
    Decision,
    Effect,
    check_reply_regs,
    decide,
    halt_effect,
    vmexit_in_non_root,
    vmfail_invalid,
)
from seamemu.traps.target import HALT, INJECTABLE_FAULTS, AbiRegs, GuestMemory, SeamReply, SeamTarget

SEAMCALL_LENGTH = 4
EXIT_REASON_SEAMCALL = 76  # Spec: SDM Appendix C; Linux arch/x86/include/uapi/asm/vmx.h
LOADER_BIT = 1 << 63       # RAX bit 63: 1 = P-SEAMLDR (loader mode), 0 = TDX module

_ASM_DUDE = "Intel SDM SEAMCALL description (github.com/HJLebbink/asm-dude/wiki/SEAMCALL)"
_KVM = "KVM commit 9d7dfb95 (hardware order on SPR/EMR)"
_K7B = "Linux commit 7b804135 (TDX_MODULE_CALL handles #UD/#GP)"
_TD = ("intel/tdx-module tdx_1.5 src/td_dispatcher/tdx_td_dispatcher.c (tdx_td_dispatcher: "
       "VMEXIT_REASON_SEAMCALL -> inject_ud)")


@dataclass(frozen=True, slots=True)
class SeamcallInputs:
    """Everything the SEAMCALL table reads."""

    cpu: CpuState
    rax: int = 0
    module_loaded: bool = True
    pseamldr_present: bool = True
    pseamldr_busy: bool = False

    @property
    def loader(self) -> bool:
        return bool(self.rax & LOADER_BIT)


def _row(id, sentence, pred, kind, rule, source, **kw) -> Check:
    return Check(id=id, sentence=sentence, predicate=pred, kind=kind, rule=rule, source=source, **kw)


# Rows that read only the CPU state (their rule templates may use only {i.cpu...}).
_CPU_ROWS: tuple[Check, ...] = (
    _row("ud_not_vmx", "SEAMCALL outside VMX operation (before VMXON) raises #UD.",
         lambda i: not i.cpu.vmx_operation, "#UD",
         "#UD: SEAMCALL outside VMX operation (no VMXON on this logical processor)",
         f"{_ASM_DUDE}; {_K7B}"),
    _row("ud_smm", "SEAMCALL in system-management mode raises #UD.",
         lambda i: i.cpu.smm, "#UD", "#UD: SEAMCALL in SMM", _ASM_DUDE),
    _row("ud_in_seam", "SEAMCALL in SEAM root mode raises #UD.",
         lambda i: i.cpu.seam_mode, "#UD", "#UD: SEAMCALL in SEAM root mode", _ASM_DUDE),
    _row("ud_not_64bit", "SEAMCALL outside 64-bit mode raises #UD.",
         lambda i: not i.cpu.long_mode, "#UD",
         "#UD: SEAMCALL outside 64-bit mode (compatibility or legacy mode)", _ASM_DUDE),
    _row("gp_cpl", "SEAMCALL at CPL > 0 raises #GP(0), checked before the VM exit.",
         lambda i: i.cpu.cpl > 0, "#GP", "#GP(0): CPL {i.cpu.cpl} > 0", _KVM),
    _row("ud_td", "SEAMCALL in a TD exits to the TDX module (reason 76), which injects #UD.",
         lambda i: i.cpu.td_guest, "#UD",
         "#UD: SEAMCALL in a TD: VM exit (basic reason 76) to the TDX module, which injects #UD "
         "into the TD", f"{_ASM_DUDE}; {_TD}"),
    vmexit_in_non_root("SEAMCALL", EXIT_REASON_SEAMCALL, _ASM_DUDE),
    _row("gp_seamrr_invalid", "SEAMCALL raises #GP(0) when SEAMRR is not valid (MASK bit 11).",
         lambda i: not i.cpu.seamrr_valid, "#GP",
         "#GP(0): SEAMRR not enabled (IA32_SEAMRR_PHYS_MASK 0x{i.cpu.seamrr_mask_msr:016x} "
         "bit 11 VALID clear)", f"{_ASM_DUDE}; {_K7B}"),
    _row("gp_seamrr_unlocked", "SEAMCALL raises #GP(0) when SEAMRR is not locked (MASK bit 10); "
         "unconfirmed, so inactive by default.",
         lambda i: not i.cpu.seamrr_locked, "#GP",
         "#GP(0): SEAMRR not locked (IA32_SEAMRR_PHYS_MASK 0x{i.cpu.seamrr_mask_msr:016x} "
         "bit 10 LOCK clear)", "unconfirmed: the SEAMCALL description names only VALID", active=False),
    _row("gp_mov_ss", "SEAMCALL right after MOV SS / POP SS raises #GP(0).",
         lambda i: i.cpu.mov_ss_shadow, "#GP",
         "#GP(0): SEAMCALL in a MOV SS / POP SS shadow", _ASM_DUDE),
)

# Rows that also read RAX bit 63 and the target's availability (templates use no field, so
# their decisions are cached per (bit 63, loaded, present, busy)).
_TARGET_ROWS: tuple[Check, ...] = (
    _row("vmfail_no_module", "Module mode with no TDX module loaded fails with VMfailInvalid.",
         lambda i: not i.loader and not i.module_loaded, "VMfailInvalid",
         "VMfailInvalid: RAX bit 63 = 0 and no TDX module is loaded (CF=1, RAX unchanged)",
         f"{_ASM_DUDE}; Linux tdxcall.S"),
    _row("vmfail_no_pseamldr", "Loader mode with no P-SEAMLDR fails with VMfailInvalid.",
         lambda i: i.loader and not i.pseamldr_present, "VMfailInvalid",
         "VMfailInvalid: RAX bit 63 = 1 and no P-SEAMLDR is present (CF=1, RAX unchanged)",
         _ASM_DUDE),
    _row("vmfail_pseamldr_busy", "Loader mode while another LP is in the P-SEAMLDR fails "
         "with VMfailInvalid.",
         lambda i: i.loader and i.pseamldr_busy, "VMfailInvalid",
         "VMfailInvalid: RAX bit 63 = 1 and the P-SEAMLDR is busy on another logical "
         "processor (CF=1, RAX unchanged)", f"{_ASM_DUDE}; Linux seamldr.c"),
    _row("to_module", "Otherwise, with RAX bit 63 = 0, the call enters the TDX module.",
         lambda i: not i.loader, "module",
         "SEAMCALL to the TDX module (RAX bit 63 = 0)", _ASM_DUDE),
    _row("to_pseamldr", "Otherwise, with RAX bit 63 = 1, the call enters the P-SEAMLDR.",
         lambda i: i.loader, "pseamldr",
         "SEAMCALL to the P-SEAMLDR (RAX bit 63 = 1)", _ASM_DUDE),
)

class SeamcallTable:
    """A SEAMCALL table ready to run: its rows, and the verdicts they give, worked out by the
    table itself.

    Rows 1-4 read the CPU state only, so the table remembers their verdict per `CpuState`
    (frozen and hashable; an LP keeps its state object between instructions, so the last one
    is checked by identity first); the target rows have 16 inputs, decided when the table is
    built.  A table never changes: another table (a test's, a stricter one) is another object
    with its own memory, so nothing ever has to be cleared.
    """

    __slots__ = ("_cpu_rows", "_targets", "_verdicts", "checks", "last_cpu", "last_verdict")
    _MEMO = 512              # CPU states remembered (a run sees a handful)

    def __init__(self, cpu_rows: tuple[Check, ...], target_rows: tuple[Check, ...]):
        self.checks = cpu_rows + target_rows
        self._cpu_rows = cpu_rows
        self._targets = {key: self._target_verdict(target_rows, *key) for key in _TARGET_KEYS}
        self._verdicts: dict[CpuState, Decision | None] = {}
        self.last_cpu: CpuState | None = None
        self.last_verdict: Decision | None = None

    @staticmethod
    def _target_verdict(rows: tuple[Check, ...], loader: bool, loaded: bool, present: bool,
                        busy: bool) -> Decision:
        inputs = SeamcallInputs(CpuState(), LOADER_BIT if loader else 0, loaded, present, busy)
        verdict = decide(rows, inputs)
        if verdict is None:
            raise InputError("SEAMCALL table has no row for this state (missing to_module row?)")
        return verdict

    def cpu_verdict(self, cpu: CpuState) -> Decision | None:
        """The decision of the CPU-only rows, or None when the target rows decide."""
        if cpu is self.last_cpu:
            return self.last_verdict
        verdicts = self._verdicts
        if cpu in verdicts:
            verdict = verdicts[cpu]
        else:
            if len(verdicts) >= self._MEMO:
                verdicts.clear()
            verdict = verdicts[cpu] = decide(self._cpu_rows, SeamcallInputs(cpu))
        self.last_cpu, self.last_verdict = cpu, verdict
        return verdict

    def target_verdict(self, loader: bool, loaded: bool, present: bool, busy: bool) -> Decision:
        return self._targets[loader, loaded, present, busy]


# The (RAX bit 63, module loaded, P-SEAMLDR present, P-SEAMLDR busy) combinations.
_TARGET_KEYS = tuple((a, b, c, d) for a in (False, True) for b in (False, True)
                     for c in (False, True) for d in (False, True))

# The table SEAMCALL runs on (looked up at each call, so a test may put another in its place).
SEAMCALL_TABLE = SeamcallTable(_CPU_ROWS, _TARGET_ROWS)
SEAMCALL_CHECKS: tuple[Check, ...] = SEAMCALL_TABLE.checks


def seamcall_checks(require_seamrr_lock: bool = False) -> tuple[Check, ...]:
    """The SEAMCALL table; with `require_seamrr_lock` the LOCK-bit row is active."""
    if not require_seamrr_lock:
        return SEAMCALL_CHECKS
    return tuple(
        Check(**{**c.__dict__, "active": True}) if c.id == "gp_seamrr_unlocked" else c
        for c in SEAMCALL_CHECKS
    )


def decide_seamcall(cpu: CpuState, rax: int, module_loaded: bool, pseamldr_present: bool,
                    pseamldr_busy: bool, *, checks: tuple[Check, ...] | None = None,
                    table: SeamcallTable | None = None) -> Decision:
    """What SEAMCALL does in this state with this RAX: the first matching row of `checks`,
    or of `table` (default: SEAMCALL_TABLE, the table SEAMCALL runs on)."""
    if checks is None:
        table = SEAMCALL_TABLE if table is None else table
        verdict = table.cpu_verdict(cpu)
        if verdict is not None:
            return verdict
        return table.target_verdict(bool(rax & LOADER_BIT), bool(module_loaded),
                                    bool(pseamldr_present), bool(pseamldr_busy))
    inputs = SeamcallInputs(cpu, rax, bool(module_loaded), bool(pseamldr_present),
                            bool(pseamldr_busy))
    verdict = decide(checks, inputs)
    if verdict is None:  # only a hand-made table can run out of rows
        raise InputError("SEAMCALL table has no row for this state (missing to_module row?)")
    return verdict


_INJECTED: dict[str, Decision] = {
    "#GP": Decision("#GP", "#GP(0) injected by the SEAMCALL target (fault injection)",
                    "injected", *FAULT_VECTORS["#GP"]),
    "#UD": Decision("#UD", "#UD injected by the SEAMCALL target (fault injection)",
                    "injected", *FAULT_VECTORS["#UD"]),
    "VMfailInvalid": Decision("VMfailInvalid", "VMfailInvalid returned by the SEAMCALL target "
                              "(fault injection or P-SEAMLDR busy); CF=1, RAX unchanged",
                              "injected"),
}
_ABI_SET = frozenset(ABI_ORDER)
_MASK64 = (1 << 64) - 1
_NOT_ARITH = ~RFLAGS_ARITH  # VMsucceed clears the six arithmetic flags (table.vmsucceed)


def execute_seamcall(cpu: CpuState, regs: Mapping[str, int], rflags: int, target: SeamTarget,
                     mem: GuestMemory, lp: int, *, table: SeamcallTable | None = None) -> Effect:
    """Execute one SEAMCALL: decide, call the target if the decision allows, shape the effect.

    `regs` must hold every GPR in ABI order; they are handed to the target unchanged.
    Success writes the reply's registers, sets VMsucceed flags (the six arithmetic flags
    cleared, the others kept) and advances RIP by 4.  `table`: SEAMCALL_TABLE by default.
    """
    if regs.__class__ is not AbiRegs and (len(regs) < len(ABI_ORDER)
                                          or not _ABI_SET.issubset(regs)):
        missing = ", ".join(r for r in ABI_ORDER if r not in regs)
        raise InputError(f"execute_seamcall: regs lacks {missing}")
    rax = regs["rax"]
    t = SEAMCALL_TABLE if table is None else table
    # The table's own identity check, inlined: this runs once per emulated SEAMCALL.
    decision = t.last_verdict if cpu is t.last_cpu else t.cpu_verdict(cpu)
    if decision is None:
        # Ask the target only what the row needs: module mode never queries the P-SEAMLDR.
        loader = bool(rax & LOADER_BIT)
        loaded = bool(target.module_loaded())
        present = bool(target.pseamldr_present()) if loader else False
        busy = bool(target.pseamldr_busy(lp)) if loader and present else False
        decision = t.target_verdict(loader, loaded, present, busy)
    kind = decision.kind
    if kind == "module" or kind == "pseamldr":
        return _apply_reply(decision, target.seamcall(lp, regs, mem), rflags)
    fault = FAULT_VECTORS.get(kind)      # the row's decision carries the same vector
    if fault is not None:
        return Effect(decision, fault=fault)
    if kind == "vmexit":
        return Effect(decision)
    return Effect(decision, rflags=vmfail_invalid(rflags), rip_advance=SEAMCALL_LENGTH)


def _apply_reply(decision: Decision, reply: SeamReply, rflags: int) -> Effect:
    if not isinstance(reply, SeamReply):
        raise InputError(f"SEAMCALL target returned {type(reply).__name__}, not a SeamReply")
    if reply.fault == HALT:
        return halt_effect(reply, "the SEAMCALL target halted")
    if reply.fault is not None:
        injected = _INJECTED.get(reply.fault)
        if injected is None or reply.fault not in INJECTABLE_FAULTS:
            raise InputError(f"SeamReply.fault {reply.fault!r} is not one of {INJECTABLE_FAULTS}")
        if injected.kind in FAULT_VECTORS:
            assert injected.vector is not None  # a fault decision names its vector
            return Effect(injected, fault=(injected.vector, injected.error_code), reply=reply,
                          record=reply.record)
        return Effect(injected, rflags=vmfail_invalid(rflags), rip_advance=SEAMCALL_LENGTH,
                      reply=reply, record=reply.record)
    out = reply.regs
    if "rax" not in out or not out.keys() <= _ABI_SET:   # the cheap test first: the hot path
        check_reply_regs(out, _ABI_SET, "SeamReply.regs")
    for value in out.values():
        if not 0 <= value <= _MASK64:
            check_reply_regs(out, _ABI_SET, "SeamReply.regs")
    # Positional: this Effect is built once per emulated SEAMCALL.
    return Effect(decision, out, rflags & _NOT_ARITH, SEAMCALL_LENGTH, None, reply, reply.record)


__all__ = [
    "EXIT_REASON_SEAMCALL",
    "LOADER_BIT",
    "SEAMCALL_CHECKS",
    "SEAMCALL_LENGTH",
    "SEAMCALL_TABLE",
    "SeamcallInputs",
    "SeamcallTable",
    "decide_seamcall",
    "execute_seamcall",
    "seamcall_checks",
]
