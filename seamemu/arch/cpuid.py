# SPDX-License-Identifier: MIT
"""CPUID fields the emulated CPU answers from the platform: leaf, sub-leaf, register, bits.

Spec: Intel SDM Vol. 2A "CPUID—CPU Identification" (tables named by title: their numbers
change between editions): "Feature Information Returned in the ECX Register" (CPUID.01H:ECX
bit 5 VMX, bit 6 SMX, bit 31 "not used, always returns 0"); "Information Returned by CPUID
Instruction", leaf 07H sub-leaf 0 (ECX bit 13 TME_EN: IA32_TME_CAPABILITY and
IA32_TME_ACTIVATE are supported) and leaf 80000008H
(EAX bits 7:0 physical-address bits, 15:8 linear-address bits); leaf 21H is what a TDX guest
probes: Linux arch/x86/include/asm/shared/tdx.h (TDX_CPUID_LEAF_ID 0x21, TDX_IDENT
"IntelTDX    " in EBX, EDX, ECX) and arch/x86/coco/tdx/tdx.c (tdx_early_init).
"""

from __future__ import annotations

from typing import NamedTuple

LEAF_FEATURES = 0x1
LEAF_STRUCTURED_FEATURES = 0x7
LEAF_TDX_GUEST = 0x21
LEAF_ADDRESS_SIZES = 0x80000008
TDX_GUEST_SIGNATURE = "IntelTDX    "

REGISTERS = ("eax", "ebx", "ecx", "edx")
_SDM = "Intel SDM Vol. 2A CPUID"
_ECX_TABLE = "table 'Feature Information Returned in the ECX Register'"


class CpuidField(NamedTuple):
    """Bits hi:lo of one output register of CPUID(leaf, sub-leaf); sub-leaf None: any."""

    leaf: int
    subleaf: int | None
    register: str
    lo: int
    hi: int
    name: str
    source: str

    @property
    def mask(self) -> int:
        return ((1 << (self.hi - self.lo + 1)) - 1) << self.lo


# Sorted by (leaf, register, lo).
VMX = CpuidField(LEAF_FEATURES, None, "ecx", 5, 5, "VMX", f"{_SDM} {_ECX_TABLE}, CPUID.01H:ECX[5]")
SMX = CpuidField(LEAF_FEATURES, None, "ecx", 6, 6, "SMX", f"{_SDM} {_ECX_TABLE}, CPUID.01H:ECX[6]")
NOT_USED_31 = CpuidField(LEAF_FEATURES, None, "ecx", 31, 31, "not used (always 0)",
                         f"{_SDM} {_ECX_TABLE}, CPUID.01H:ECX[31]")
TME_EN = CpuidField(LEAF_STRUCTURED_FEATURES, 0, "ecx", 13, 13, "TME_EN",
                    f"{_SDM} leaf 07H sub-leaf 0, ECX[13]")
PHYS_ADDR_BITS = CpuidField(LEAF_ADDRESS_SIZES, None, "eax", 0, 7, "physical-address bits",
                            f"{_SDM} leaf 80000008H, EAX[7:0]")
LINEAR_ADDR_BITS = CpuidField(LEAF_ADDRESS_SIZES, None, "eax", 8, 15, "linear-address bits",
                              f"{_SDM} leaf 80000008H, EAX[15:8]")

CPUID_FIELDS: tuple[CpuidField, ...] = (VMX, SMX, NOT_USED_31, TME_EN, PHYS_ADDR_BITS,
                                        LINEAR_ADDR_BITS)


def signature_registers(text: str) -> tuple[int, int, int]:
    """A 12-character CPUID signature as (EBX, EDX, ECX), four little-endian bytes each."""
    raw = text.encode("ascii")
    if len(raw) != 12:
        raise ValueError(f"a CPUID signature has 12 characters, not {len(raw)}: {text!r}")
    return tuple(int.from_bytes(raw[i:i + 4], "little") for i in (0, 4, 8))  # type: ignore[return-value]


__all__ = [
    "CPUID_FIELDS",
    "CpuidField",
    "LEAF_ADDRESS_SIZES",
    "LEAF_FEATURES",
    "LEAF_STRUCTURED_FEATURES",
    "LEAF_TDX_GUEST",
    "LINEAR_ADDR_BITS",
    "NOT_USED_31",
    "PHYS_ADDR_BITS",
    "REGISTERS",
    "SMX",
    "TDX_GUEST_SIGNATURE",
    "TME_EN",
    "VMX",
    "signature_registers",
]
