# SPDX-License-Identifier: MIT
"""The VMM behind TDG.VP.VMCALL: the GHCI sub-function in R11 (R10 = 0) picks the handler.

Spec: Linux arch/x86/kvm/vmx/tdx.c (KVM's TDX support, Linux 6.16 with Paolo Bonzini's series
<20250619180159.187358-*@redhat.com>): tdcall_to_vmx_exit_reason() sends the instruction
sub-functions (CPUID, HLT, IO, RDMSR, WRMSR, and the EPT violation as MMIO) to KVM's ordinary
exit handlers, handle_tdvmcall() serves MapGPA, ReportFatalError, GetTdVmCallInfo and GetQuote
and answers any other sub-function TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED; R10 != 0 is a KVM
hypercall (tdx_emulate_vmcall), which this VMM does not model.  The status goes in R10, an
output in R11 (tdvmcall_set_return_code / tdvmcall_set_return_val).  Handlers are in
ghci_calls.py and instructions.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from seamemu.arch.ghci import (
    TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
    TDX_HYPERCALL_STANDARD,
    subfunction,
    tdvmcall_status_name,
)
from seamemu.traps.target import GuestMemory, VmcallRecord, VmmReply

MASK64 = (1 << 64) - 1
Cpuid = Callable[[int, int], tuple[int, int, int, int]]


class PrivateMemory(Protocol):
    """What MapGPA needs of the TDX module's host side: convert a range between private and
    shared (KVM removes the private pages, or lets them be added again on the next access)."""

    def convert(self, gpa: int, size: int, private: bool) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A handler's answer: the R10 status, registers it sets (R11.. outputs), a note, or a stop."""

    status: int
    outputs: Mapping[str, int] = field(default_factory=dict)
    note: str = ""
    halt: str = ""


Handler = Callable[["Vmm", int, Mapping[str, int]], Answer]
HANDLERS: dict[int, Handler] = {}


def serves(number: int) -> Callable[[Handler], Handler]:
    """Register a handler for sub-function `number` (seamemu.arch.ghci)."""
    def register(fn: Handler) -> Handler:
        HANDLERS[number] = fn
        return fn
    return register


class Vmm:
    """Implements seamemu.traps.target.Vmm for one TD: KVM's answers, a COM1 serial port, no
    other device, no interrupt source."""

    def __init__(self, *, gpaw: int, cpuid: Cpuid | None = None,
                 memory: PrivateMemory | None = None) -> None:
        self.gpaw = gpaw
        self.cpuid = cpuid
        self.memory = memory
        self.records: list[VmcallRecord] = []
        self.console = bytearray()          # bytes the TD wrote to COM1's transmit register
        # MSRs KVM emulates for a TD and that this VMM answers: IA32_FEATURE_CONTROL (0x3A)
        # reads as locked (tdx_get_msr: FEAT_CTL_LOCKED) and is read-only; a test may add more.
        self.msrs: dict[int, int] = {0x3A: 1}
        self.read_only_msrs: set[int] = {0x3A}
        self._seq = 0

    @property
    def shared_bit(self) -> int:
        return 1 << (self.gpaw - 1)

    def tdvmcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> VmmReply:
        self._seq += 1
        r10, r11 = regs.get("r10"), regs.get("r11")
        sub = subfunction(r11) if r11 is not None else None
        number = r11 if r10 == TDX_HYPERCALL_STANDARD and r11 is not None else (r10 or 0)
        handler = HANDLERS.get(number) if r10 == TDX_HYPERCALL_STANDARD else None
        if r10 is None or r11 is None:
            answer = Answer(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
                            note="R10 and R11 were not passed (RCX did not select them): the "
                                 "VMM cannot tell what is asked")
        elif r10 != TDX_HYPERCALL_STANDARD:
            answer = Answer(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
                            note=f"R10 = 0x{r10:x}: a vendor-specific call (KVM takes it as KVM "
                                 "hypercall R10); not modelled")
        elif handler is None:
            answer = Answer(TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
                            note="a sub-function KVM does not serve" if sub is None else
                            f"{sub.title}: not served by this VMM")
        else:
            answer = handler(self, lp, regs)
        outputs = {"r10": answer.status & MASK64,
                   **{r: v & MASK64 for r, v in answer.outputs.items()}}
        if "r10" not in regs:
            outputs.pop("r10")
        name = sub.title if sub is not None and r10 == TDX_HYPERCALL_STANDARD else (
            f"TDG.VP.VMCALL<vendor 0x{number:x}>" if r10 else "TDG.VP.VMCALL<unknown>")
        record = VmcallRecord(self._seq, lp, number, name, dict(regs), outputs, answer.status,
                              tdvmcall_status_name(answer.status), answer.note or answer.halt)
        self.records.append(record)
        if answer.halt:
            return VmmReply({}, record, halt=f"{name}: {answer.halt}")
        return VmmReply({r: v for r, v in outputs.items() if r in regs}, record)


__all__ = ["Answer", "Cpuid", "HANDLERS", "PrivateMemory", "Vmm", "serves"]
