# SPDX-License-Identifier: MIT
"""TDG.VP.VMCALL as the GHCI defines it: sub-functions, the R10 status codes, the register bitmap.

A TD asks its VMM for a service with TDCALL leaf TDG.VP.VMCALL (RAX = 0).  RCX is a bitmap of
the GPRs the TDX module copies to the VMM and back (bit n = register number n: 2 RDX, 3 RBX,
5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15); R10 = 0 selects the standard GHCI ABI and R11 the
sub-function; on return R10 holds the VMM's status and R11.. the outputs.  The instruction
sub-functions reuse the VMX basic exit reasons.

Spec: Intel TDX Guest-Hypervisor Communication Interface (GHCI), "TDG.VP.VMCALL" and its
sub-function sections; Linux arch/x86/include/asm/shared/tdx.h (TDX_HYPERCALL_STANDARD,
TDVMCALL_* sub-functions and TDVMCALL_STATUS_* codes, TDVMCALL_EXPOSE_REGS_MASK, hcall_func()
= the exit reason) and arch/x86/include/uapi/asm/vmx.h (EXIT_REASON_*); the register bitmap's
checks from intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/tdg_vp_vmcall.c (TDX_1.5.01,
72d8cff).  SUBFUNC_UNSUPPORTED came with Paolo Bonzini's series
<20250619180159.187358-*@redhat.com> ("KVM: TDX: ... TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED").
"""

from __future__ import annotations

from dataclasses import dataclass

# R10 on the way in: 0 = a GHCI sub-function in R11; anything else is a vendor ABI (KVM takes
# it as a KVM hypercall number).
TDX_HYPERCALL_STANDARD = 0


@dataclass(frozen=True)
class Subfunction:
    """One TDG.VP.VMCALL sub-function (R11 with R10 = 0)."""

    number: int
    name: str              # the GHCI's name, as TDG.VP.VMCALL<name>
    kernel: str            # the kernel's macro (TDVMCALL_* or EXIT_REASON_*)

    @property
    def title(self) -> str:
        return f"TDG.VP.VMCALL<{self.name}>"


# Sorted by number.  The instruction exits are the VMX basic exit reasons (hcall_func()).
SUBFUNCTIONS: tuple[Subfunction, ...] = (
    Subfunction(10, "Instruction.CPUID", "EXIT_REASON_CPUID"),
    Subfunction(12, "Instruction.HLT", "EXIT_REASON_HLT"),
    Subfunction(30, "Instruction.IO", "EXIT_REASON_IO_INSTRUCTION"),
    Subfunction(31, "Instruction.RDMSR", "EXIT_REASON_MSR_READ"),
    Subfunction(32, "Instruction.WRMSR", "EXIT_REASON_MSR_WRITE"),
    Subfunction(48, "#VE.RequestMMIO", "EXIT_REASON_EPT_VIOLATION"),
    Subfunction(0x10000, "GetTdVmCallInfo", "TDVMCALL_GET_TD_VM_CALL_INFO"),
    Subfunction(0x10001, "MapGPA", "TDVMCALL_MAP_GPA"),
    Subfunction(0x10002, "GetQuote", "TDVMCALL_GET_QUOTE"),
    Subfunction(0x10003, "ReportFatalError", "TDVMCALL_REPORT_FATAL_ERROR"),
    Subfunction(0x10004, "SetupEventNotifyInterrupt", "TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT"),
)
_BY_NUMBER: dict[int, Subfunction] = {s.number: s for s in SUBFUNCTIONS}
_BY_NAME: dict[str, Subfunction] = {s.name.lower(): s for s in SUBFUNCTIONS}


def subfunction(number: int) -> Subfunction | None:
    return _BY_NUMBER.get(number)


def subfunction_by_name(name: str) -> Subfunction | None:
    """By the GHCI's name ("GetTdVmCallInfo", "Instruction.CPUID"), any case."""
    return _BY_NAME.get(name.lower())


TDVMCALL_CPUID = 10
TDVMCALL_HLT = 12
TDVMCALL_IO = 30
TDVMCALL_RDMSR = 31
TDVMCALL_WRMSR = 32
TDVMCALL_MMIO = 48
TDVMCALL_GET_TD_VM_CALL_INFO = 0x10000
TDVMCALL_MAP_GPA = 0x10001
TDVMCALL_GET_QUOTE = 0x10002
TDVMCALL_REPORT_FATAL_ERROR = 0x10003

# R10 on the way out.  Sorted by value.
TDVMCALL_STATUSES: tuple[tuple[str, int], ...] = (
    ("TDVMCALL_STATUS_SUCCESS", 0x0000000000000000),
    ("TDVMCALL_STATUS_RETRY", 0x0000000000000001),
    ("TDVMCALL_STATUS_INVALID_OPERAND", 0x8000000000000000),
    ("TDVMCALL_STATUS_ALIGN_ERROR", 0x8000000000000002),
    ("TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED", 0x8000000000000003),
)
TDVMCALL_STATUS_NAMES: dict[int, str] = {v: n for n, v in TDVMCALL_STATUSES}
TDVMCALL_STATUS_SUCCESS = 0x0000000000000000
TDVMCALL_STATUS_RETRY = 0x0000000000000001
TDVMCALL_STATUS_INVALID_OPERAND = 0x8000000000000000
TDVMCALL_STATUS_ALIGN_ERROR = 0x8000000000000002
TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED = 0x8000000000000003


def tdvmcall_status_name(value: int) -> str:
    """The kernel's name for an R10 status, or its hex when it has none."""
    return TDVMCALL_STATUS_NAMES.get(value) or f"0x{value:016x}"


# Register numbers in the RCX bitmap (x86 encoding).  RAX (0), RCX (1) and RSP (4) can never
# be passed; RBP (5) not when the TD's config flag NO_RBP_MOD is set (tdg_vp_vmcall.c).
GPR_NUMBERS: dict[str, int] = {
    "rax": 0, "rcx": 1, "rdx": 2, "rbx": 3, "rsp": 4, "rbp": 5, "rsi": 6, "rdi": 7,
    "r8": 8, "r9": 9, "r10": 10, "r11": 11, "r12": 12, "r13": 13, "r14": 14, "r15": 15,
}
GPR_SELECT_NEVER = (1 << 0) | (1 << 1) | (1 << 4)
GPR_SELECT_RBP = 1 << 5
# RCX[15:0] the GPR bitmap, RCX[31:16] the XMM bitmap, RCX[63:32] reserved (must be 0).
GPR_SELECT_MASK = 0xFFFF
RCX_RESERVED_MASK = 0xFFFF_FFFF_0000_0000

# The registers the kernel lets the VMM see and change on every TDG.VP.VMCALL:
# RDX, RBX, RSI, RDI, R8-R15 (TDVMCALL_EXPOSE_REGS_MASK).
TDVMCALL_EXPOSE_REGS: tuple[str, ...] = (
    "rdx", "rbx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
)
TDVMCALL_EXPOSE_REGS_MASK = sum(1 << GPR_NUMBERS[r] for r in TDVMCALL_EXPOSE_REGS)


def selected_registers(rcx: int) -> tuple[str, ...]:
    """The registers an RCX bitmap selects, by x86 number."""
    by_number = {n: r for r, n in GPR_NUMBERS.items()}
    return tuple(by_number[n] for n in range(16) if rcx >> n & 1)


__all__ = [
    "GPR_NUMBERS",
    "GPR_SELECT_MASK",
    "GPR_SELECT_NEVER",
    "GPR_SELECT_RBP",
    "RCX_RESERVED_MASK",
    "SUBFUNCTIONS",
    "Subfunction",
    "TDVMCALL_CPUID",
    "TDVMCALL_EXPOSE_REGS",
    "TDVMCALL_EXPOSE_REGS_MASK",
    "TDVMCALL_GET_QUOTE",
    "TDVMCALL_GET_TD_VM_CALL_INFO",
    "TDVMCALL_HLT",
    "TDVMCALL_IO",
    "TDVMCALL_MAP_GPA",
    "TDVMCALL_MMIO",
    "TDVMCALL_RDMSR",
    "TDVMCALL_REPORT_FATAL_ERROR",
    "TDVMCALL_STATUSES",
    "TDVMCALL_STATUS_ALIGN_ERROR",
    "TDVMCALL_STATUS_INVALID_OPERAND",
    "TDVMCALL_STATUS_NAMES",
    "TDVMCALL_STATUS_RETRY",
    "TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED",
    "TDVMCALL_STATUS_SUCCESS",
    "TDVMCALL_WRMSR",
    "TDX_HYPERCALL_STANDARD",
    "selected_registers",
    "subfunction",
    "subfunction_by_name",
    "tdvmcall_status_name",
]
