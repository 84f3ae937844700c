# SPDX-License-Identifier: MIT
"""The three ways `seamemu run` can call an entry point: args, legacy and raw.

- args:   u64 fn(u64 leaf, struct tdx_module_args *args)            (Linux since v6.6)
- legacy: u64 __seamcall(u64 fn, u64 rcx, u64 rdx, u64 r8, u64 r9,
                         struct tdx_module_output *out)            (the 2022 series)
- raw:    the registers exactly as given, RAX = leaf, no struct.
Spec: Linux arch/x86/virt/vmx/tdx/tdxcall.S (both generations), asm/shared/tdx.h.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.structs import (
    TDX_MODULE_ARGS_FIELDS,
    TDX_MODULE_ARGS_SIZE,
    TDX_MODULE_OUTPUT_FIELDS,
    TDX_MODULE_OUTPUT_SIZE,
)
from seamemu.errors import InputError

CONVENTIONS = ("args", "legacy", "raw")
# Registers a caller may give per convention (RAX is always the leaf, given separately).
INPUT_REGS: dict[str, tuple[str, ...]] = {
    "args": TDX_MODULE_ARGS_FIELDS,
    "legacy": ("rcx", "rdx", "r8", "r9"),
    "raw": tuple(r for r in ABI_ORDER if r != "rax") + ("rbp",),
}
# What an output struct holds before the call, so a field the stub never wrote stands out.
POISON = 0x5EA3_5EA3_5EA3_5EA3
# What each SysV callee-saved register holds on entry unless the caller gives it: distinct
# per register (its x86 number in the low byte), so a stub that zeroes or swaps one shows
# in the ABI check, and non-canonical, so one used as a pointer faults at once.
CANARY_BASE = 0xCA11_EE5A_FE00_0000
CANARIES: dict[str, int] = {name: CANARY_BASE | number for name, number in
                            (("rbx", 3), ("rbp", 5), ("r12", 12), ("r13", 13), ("r14", 14),
                             ("r15", 15))}


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


def place(convention: str, leaf: int, inputs: Mapping[str, int], memory) -> Placement:
    """Write the struct (if any) into scratch memory and return the call's registers.

    Callee-saved registers the caller does not give start at their CANARIES.
    """
    check_inputs(convention, inputs)
    if convention == "args":
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


__all__ = ["CANARIES", "CANARY_BASE", "CONVENTIONS", "INPUT_REGS", "POISON", "Placement", "check_inputs",
           "pack", "place", "unpack"]
