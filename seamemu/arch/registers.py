# SPDX-License-Identifier: MIT
"""x86-64 general-purpose registers in the orders the TDX ABI and the SysV ABI use.

Spec: Intel SDM Vol. 1 §3.4.1 (GPRs); System V AMD64 psABI §3.2.1 (callee-saved registers);
Linux arch/x86/include/asm/shared/tdx.h (struct tdx_module_args field order).
"""

from __future__ import annotations

# Registers listed in TDX ABI order: RAX first (leaf in, status out), then the order in which
# the kernel's struct tdx_module_args lays out its fields.
ABI_ORDER: tuple[str, ...] = (
    "rax", "rcx", "rdx", "r8", "r9", "r10", "r11",
    "r12", "r13", "r14", "r15", "rbx", "rdi", "rsi",
)

# Every GPR, in ABI order then the stack registers.
GPRS: tuple[str, ...] = ABI_ORDER + ("rbp", "rsp")

# SysV: a callee must return these unchanged (RSP by returning to its caller with it balanced).
CALLEE_SAVED: tuple[str, ...] = ("rbx", "rbp", "r12", "r13", "r14", "r15")

# SysV integer argument registers, in order.
SYSV_ARGS: tuple[str, ...] = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")

# RFLAGS bits the SEAMCALL family and the ABI checks look at.  Spec: SDM Vol. 1 §3.4.3.
RFLAGS_CF = 1 << 0
RFLAGS_PF = 1 << 2
RFLAGS_AF = 1 << 4
RFLAGS_ZF = 1 << 6
RFLAGS_SF = 1 << 7
RFLAGS_IF = 1 << 9
RFLAGS_DF = 1 << 10
RFLAGS_OF = 1 << 11
# The six arithmetic flags that VMsucceed / VMfailInvalid / VMfailValid define.
# Spec: SDM Vol. 3C §31.2 "Conventions" (VMX instruction status flags).
RFLAGS_ARITH = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF

__all__ = [
    "ABI_ORDER",
    "CALLEE_SAVED",
    "GPRS",
    "RFLAGS_AF",
    "RFLAGS_ARITH",
    "RFLAGS_CF",
    "RFLAGS_DF",
    "RFLAGS_IF",
    "RFLAGS_OF",
    "RFLAGS_PF",
    "RFLAGS_SF",
    "RFLAGS_ZF",
    "SYSV_ARGS",
]
