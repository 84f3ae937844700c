# SPDX-License-Identifier: MIT
"""The GHCI's own sub-functions as KVM serves them: GetTdVmCallInfo, MapGPA, ReportFatalError,
GetQuote.

Spec: Linux arch/x86/kvm/vmx/tdx.c: tdx_get_td_vm_call_info() (R12 = 0: success, R11-R14 = 0;
R12 = 1: the bitmap of TDVMCALLs beyond the base set, from user space; other R12:
TDVMCALL_STATUS_INVALID_OPERAND), tdx_map_gpa() (INVALID_OPERAND when the range is empty,
wraps, leaves the TD's GPA width or mixes private and shared; ALIGN_ERROR when not 4 KiB
aligned; R11 = the GPA on error; converted 2 MiB at a time, RETRY with R11 = the next GPA when
an interrupt is pending, which never happens here), tdx_report_fatal_error() (the TD stops:
KVM_SYSTEM_EVENT_TDX_FATAL), tdx_get_quote() (user space answers; KVM's default,
SUBFUNC_UNSUPPORTED, is what a VMM without a quote service says).  The panic message layout
(R14, R15, RBX, RDI, RSI, R8, R9, RDX, 64 bytes; R12 = 0 for a panic) is the kernel's
tdx_panic() in arch/x86/coco/tdx/tdx.c.
"""

from __future__ import annotations

from collections.abc import Mapping

from seamemu.arch.ghci import (
    TDVMCALL_GET_QUOTE,
    TDVMCALL_GET_TD_VM_CALL_INFO,
    TDVMCALL_MAP_GPA,
    TDVMCALL_REPORT_FATAL_ERROR,
    TDVMCALL_STATUS_ALIGN_ERROR,
    TDVMCALL_STATUS_INVALID_OPERAND,
    TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
    TDVMCALL_STATUS_SUCCESS,
)
from seamemu.vmm.vmm import Answer, Vmm, serves

PAGE = 4096
# The order the kernel's tdx_panic() packs its 64-byte message into.
PANIC_MESSAGE_REGS = ("r14", "r15", "rbx", "rdi", "rsi", "r8", "r9", "rdx")


@serves(TDVMCALL_GET_TD_VM_CALL_INFO)
def get_td_vm_call_info(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    leaf = regs.get("r12", 0)
    if leaf == 0:
        return Answer(TDVMCALL_STATUS_SUCCESS, {"r11": 0, "r12": 0, "r13": 0, "r14": 0})
    if leaf == 1:
        # User space answers in KVM; this VMM serves no TDVMCALL beyond the base set.
        return Answer(TDVMCALL_STATUS_SUCCESS, {"r11": 0, "r12": 0, "r13": 0, "r14": 0},
                      note="leaf 1: no TDVMCALL beyond the GHCI base set is served")
    return Answer(TDVMCALL_STATUS_INVALID_OPERAND, note=f"leaf R12 = 0x{leaf:x} is not 0 or 1")


@serves(TDVMCALL_MAP_GPA)
def map_gpa(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    gpa, size = regs.get("r12", 0), regs.get("r13", 0)
    end = gpa + size
    legal = (1 << vmm.gpaw) - 1
    shared = vmm.shared_bit
    if (end <= gpa or end - 1 > (1 << 64) - 1 or gpa & ~legal or (end - 1) & ~legal
            or bool(gpa & shared) != bool((end - 1) & shared)):
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND, {"r11": gpa},
                      note="the range is empty, wraps, leaves the GPA width or mixes private "
                           "and shared")
    if gpa % PAGE or size % PAGE:
        return Answer(TDVMCALL_STATUS_ALIGN_ERROR, {"r11": gpa}, note="not 4 KiB aligned")
    private = not gpa & shared
    if vmm.memory is not None:
        vmm.memory.convert(gpa & ~shared, size, private)
    return Answer(TDVMCALL_STATUS_SUCCESS,
                  note=f"0x{gpa & ~shared:x}+0x{size:x} is now {'private' if private else 'shared'}")


@serves(TDVMCALL_REPORT_FATAL_ERROR)
def report_fatal_error(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    code = regs.get("r12", 0)
    raw = b"".join(regs.get(r, 0).to_bytes(8, "little") for r in PANIC_MESSAGE_REGS)
    text = raw.split(b"\0", 1)[0].decode("latin-1")
    said = f": {text!r}" if text else ""
    return Answer(TDVMCALL_STATUS_SUCCESS,
                  halt=f"the TD reported a fatal error (R12 = 0x{code:x}{', a panic' if code == 0 else ''})"
                       f"{said}; the VMM stops it")


@serves(TDVMCALL_GET_QUOTE)
def get_quote(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    if not regs.get("r12", 0) & vmm.shared_bit:
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND, note="the buffer's GPA is not shared")
    return Answer(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
                  note="no quote service behind this VMM (KVM's answer when user space has none)")


__all__ = ["PANIC_MESSAGE_REGS", "get_quote", "get_td_vm_call_info", "map_gpa",
           "report_fatal_error"]
