# SPDX-License-Identifier: MIT
"""The kernels' SEAMCALL calling conventions: what each passes where, and how a call is placed.

- args:   u64 fn(u64 leaf, struct tdx_module_args *args)                  (Linux since v6.6)
    __seamcall            RCX, RDX, R8-R11 in; nothing written back
    __seamcall_ret        the same in; RCX, RDX, R8-R11 written back
    __seamcall_saved_ret  all 13 struct registers in and written back (TDH.VP.ENTER)
- legacy: u64 __seamcall(u64 fn, u64 rcx, u64 rdx, u64 r8, u64 r9,
                         struct tdx_module_output *out)                   (2022, v5 series)
    RDI->RAX, RSI->RCX, RDX->RDX, RCX->R8, R8->R9; RCX-R11 copied to *out when not NULL
- raw:    the registers exactly as given, RAX = leaf, no struct (seamemu's own, for any code).
The TD guest's side (Linux since v6.6, arch/x86/coco/tdx/tdcall.S and tdx.c):
- tdcall:    u64 fn(u64 leaf, struct tdx_module_args *args), as args but with TDCALL:
    __tdcall, __tdcall_ret, __tdcall_saved_ret (the same three variants)
- hypercall: u64 __tdx_hypercall(struct tdx_module_args *args)
    RAX = TDG.VP.VMCALL (0) and RCX = TDVMCALL_EXPOSE_REGS_MASK are the wrapper's; the
    caller gives the exposed registers (RDX, RBX, RSI, RDI, R8-R15: R10 = 0 and R11 the GHCI
    sub-function, R12.. its operands), all 13 fields come back, and R10 (the VMM's status)
    is the return value.
Which generation uses which convention, and what its stub does on a failed SEAMCALL, is in
kernel.generations.  Spec: Linux arch/x86/virt/vmx/tdx/tdxcall.S and seamcall.S (v6.6+),
arch/x86/include/asm/shared/tdx.h; v5.19 tdxcall.S for the 2022 register order; for the guest,
arch/x86/coco/tdx/tdcall.S and tdx.c (__tdx_hypercall) after Kai Huang's "x86/tdx: Unify
TDX_HYPERCALL and TDX_MODULE_CALL assembly"
(<c22a4697cfe90ab4e1de18d27aa48ea2152dbcfa.1689151537.git.kai.huang@intel.com>).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from seamemu.arch.ghci import TDVMCALL_EXPOSE_REGS
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.structs import (
    TDX_MODULE_ARGS_FIELDS,
    TDX_MODULE_ARGS_SIZE,
    TDX_MODULE_OUTPUT_FIELDS,
    TDX_MODULE_OUTPUT_SIZE,
)
from seamemu.errors import InputError

CONVENTIONS = ("args", "legacy", "raw", "tdcall", "hypercall")
# The conventions of the TD guest's side: their instruction is TDCALL, not SEAMCALL.
GUEST_CONVENTIONS = ("tdcall", "hypercall")
ARGS_VARIANTS = ("plain", "ret", "saved")
# The registers every leaf may take and answer in (the basic TDX_MODULE_CALL set).
BASIC_REGS = ("rcx", "rdx", "r8", "r9", "r10", "r11")
# Registers a caller may give per convention (RAX is always the leaf, given separately).
INPUT_REGS: dict[str, tuple[str, ...]] = {
    "args": TDX_MODULE_ARGS_FIELDS,
    "legacy": ("rcx", "rdx", "r8", "r9"),
    "raw": tuple(r for r in ABI_ORDER if r != "rax") + ("rbp",),
    "tdcall": TDX_MODULE_ARGS_FIELDS,
    "hypercall": tuple(f for f in TDX_MODULE_ARGS_FIELDS if f in TDVMCALL_EXPOSE_REGS),
}
# SysV argument registers each convention uses for its own arguments.
ARG_REGS: dict[str, tuple[str, ...]] = {
    "args": ("rdi", "rsi"),
    "legacy": ("rdi", "rsi", "rdx", "rcx", "r8", "r9"),
    "raw": ABI_ORDER + ("rbp",),
    "tdcall": ("rdi", "rsi"),
    "hypercall": ("rdi",),
}
# legacy: the SysV register each module input arrives in (RDI is the leaf, R9 the out pointer).
LEGACY_ARG_OF = {"rcx": "rsi", "rdx": "rdx", "r8": "rcx", "r9": "r8"}
# What an output struct holds before the call, so a field the stub never wrote stands out.
POISON = 0x5EA3_5EA3_5EA3_5EA3
# What each SysV callee-saved register holds on entry unless the caller gives it: distinct
# per register (its x86 number in the low byte), so a stub that zeroes or swaps one shows
# in the ABI check, and non-canonical, so one used as a pointer faults at once.
CANARY_BASE = 0xCA11_EE5A_FE00_0000
CANARIES: dict[str, int] = {name: CANARY_BASE | number for name, number in
                            (("rbx", 3), ("rbp", 5), ("r12", 12), ("r13", 13), ("r14", 14),
                             ("r15", 15))}


def args_registers(variant: str) -> tuple[str, ...]:
    """The registers an args entry loads from (and, unless plain, writes back into) the struct."""
    return TDX_MODULE_ARGS_FIELDS if variant == "saved" else BASIC_REGS


def args_writeback(variant: str) -> tuple[str, ...]:
    return () if variant == "plain" else args_registers(variant)


def variant_of(entry: str) -> str:
    """The args variant an entry name implies, the way the kernel names its wrappers."""
    name = entry.lower()
    if "saved" in name:
        return "saved"
    if name.endswith("ret"):
        return "ret"
    return "plain"


class ScratchMemory(Protocol):
    def alloc(self, size: int, align: int = ...) -> int: ...
    def write(self, pa: int, data: bytes) -> None: ...


@dataclass(frozen=True)
class Placement:
    """How one call was set up: SysV argument registers, other registers, the struct's place."""

    args: tuple[int, ...]
    regs: Mapping[str, int]
    struct_pa: int | None
    struct_fields: tuple[str, ...]


def check_inputs(convention: str, inputs: Mapping[str, int]) -> None:
    """Refuse registers the convention cannot deliver, naming the register."""
    if convention not in CONVENTIONS:
        raise InputError(f"convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    allowed = INPUT_REGS[convention]
    for name, value in inputs.items():
        if name not in allowed:
            raise InputError(f"register {name}: the {convention} convention takes only "
                             f"{', '.join(allowed)}")
        if not isinstance(value, int) or not 0 <= value < 1 << 64:
            raise InputError(f"register {name}: {value!r} is not a 64-bit value")


def place(convention: str, leaf: int, inputs: Mapping[str, int],
          memory: ScratchMemory) -> Placement:
    """Write the struct (if any) into scratch memory and return the call's registers.

    Callee-saved registers the caller does not give start at their CANARIES.
    """
    check_inputs(convention, inputs)
    if convention == "hypercall":
        if leaf:
            raise InputError(f"leaf 0x{leaf:x}: __tdx_hypercall makes TDCALL leaf TDG.VP.VMCALL "
                             "(0) itself; give the GHCI sub-function in R11 (R10 = 0)")
        pa = memory.alloc(TDX_MODULE_ARGS_SIZE, 64)
        memory.write(pa, pack(TDX_MODULE_ARGS_FIELDS, inputs))
        return Placement((pa,), dict(CANARIES), pa, TDX_MODULE_ARGS_FIELDS)
    if convention in ("args", "tdcall"):
        pa = memory.alloc(TDX_MODULE_ARGS_SIZE, 64)
        memory.write(pa, pack(TDX_MODULE_ARGS_FIELDS, inputs))
        return Placement((leaf, pa), dict(CANARIES), pa, TDX_MODULE_ARGS_FIELDS)
    if convention == "legacy":
        pa = memory.alloc(TDX_MODULE_OUTPUT_SIZE, 64)
        memory.write(pa, struct.pack(f"<{len(TDX_MODULE_OUTPUT_FIELDS)}Q",
                                     *([POISON] * len(TDX_MODULE_OUTPUT_FIELDS))))
        args = (leaf, inputs.get("rcx", 0), inputs.get("rdx", 0), inputs.get("r8", 0),
                inputs.get("r9", 0), pa)
        return Placement(args, dict(CANARIES), pa, TDX_MODULE_OUTPUT_FIELDS)
    regs = {**CANARIES, **inputs}
    regs["rax"] = leaf
    return Placement((), regs, None, ())


def pack(fields: tuple[str, ...], values: Mapping[str, int]) -> bytes:
    return struct.pack(f"<{len(fields)}Q", *(values.get(f, 0) for f in fields))


def unpack(fields: tuple[str, ...], data: bytes) -> dict[str, int]:
    return dict(zip(fields, struct.unpack(f"<{len(fields)}Q", data)))


__all__ = [
    "ARGS_VARIANTS",
    "ARG_REGS",
    "BASIC_REGS",
    "CANARIES",
    "CANARY_BASE",
    "CONVENTIONS",
    "GUEST_CONVENTIONS",
    "INPUT_REGS",
    "LEGACY_ARG_OF",
    "POISON",
    "Placement",
    "ScratchMemory",
    "args_registers",
    "args_writeback",
    "check_inputs",
    "pack",
    "place",
    "unpack",
    "variant_of",
]
