# SPDX-License-Identifier: MIT
"""The value tables every generator draws from: boundary values, bit patterns, leaf words, statuses.

The fast generator (generate.py) and the Hypothesis strategies (strategies.py) both build on
these tables, so a property a user writes explores the same space `seamemu fuzz` does.
"""

from __future__ import annotations

from seamemu.arch.kernel import TDX_SEAMCALL_GP, TDX_SEAMCALL_UD, TDX_SEAMCALL_VMFAILINVALID
from seamemu.arch.leaves import (
    RAX_VERSION_SHIFT,
    SEAMCALL_LEAVES,
    SEAMLDR_LEAVES,
    SEAMLDR_MODE_BIT,
)
from seamemu.arch.status import SEAMLDR_STATUSES, STATUS_CLASS_SHIFT, STATUS_CLASSES, TDX_STATUSES

MASK64 = (1 << 64) - 1

# Integer boundaries of every width a register or field is read at, and their neighbours.
BOUNDARY: tuple[int, ...] = tuple(sorted({
    v & MASK64
    for bits in (8, 16, 32, 63, 64)
    for v in ((1 << bits) - 2, (1 << bits) - 1, 1 << bits, (1 << bits) + 1,
              (1 << (bits - 1)) - 1, 1 << (bits - 1), (1 << (bits - 1)) + 1)
} | {0, 1, 2, 3, 4, 7, 8, 15, 16, 0xFFFF_FFFF_FFFF_FFFE, MASK64}))

# Bit patterns: alternating, byte-repeated, and 32-bit halves swapped or sign-extended.
PATTERNS: tuple[int, ...] = (
    0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA, 0x0101_0101_0101_0101,
    0x8080_8080_8080_8080, 0x7F7F_7F7F_7F7F_7F7F, 0xFEFE_FEFE_FEFE_FEFE,
    0x0000_0000_FFFF_FFFF, 0xFFFF_FFFF_0000_0000, 0x0123_4567_89AB_CDEF,
    0xFEDC_BA98_7654_3210, 0xDEAD_BEEF_DEAD_BEEF, 0xFFFF_FFFF_8000_0000,
)

# The kernel's own codes: a module answer equal to one of them must still come back as is.
SW_CODES: tuple[int, ...] = (TDX_SEAMCALL_VMFAILINVALID, TDX_SEAMCALL_GP, TDX_SEAMCALL_UD)

# Module leaf numbers of the 1.0 and 1.5 ABI generations (the kernel's; 2.0's TDX-IO and
# PAMT.ADD/REMOVE leaves are left out so a campaign's draws stay what they were), and P-SEAMLDR
# leaf words (RAX bit 63 set).
# Spec: seamemu.arch.leaves (Linux tdx.h 43db111; intel/tdx-module tdx_1.5 tdx_api_defs.h).
VALID_LEAVES: tuple[int, ...] = tuple(sorted({
    leaf.number for leaf in SEAMCALL_LEAVES if {"1.0", "1.5"} & set(leaf.generations)}))
SEAMLDR_LEAF_WORDS: tuple[int, ...] = tuple(sorted(leaf.rax for leaf in SEAMLDR_LEAVES))
# Leaf numbers no ABI generation defines (gaps and the top of the 16-bit leaf field).
INVALID_LEAVES: tuple[int, ...] = tuple(
    n for n in (5, 12, 13, 14, 15, 25, 27, 37, 39, 42, 44, 46, 47, 48, 0xFE, 0xFF, 0x7FFF, 0xFFFF)
    if n not in VALID_LEAVES)
# Version values for RAX bits 23:16 (TDH.VP.INIT is called with version 1).
VERSIONS: tuple[int, ...] = (1, 2, 0x7F, 0xFF)
# Reserved RAX bits (31:24 and 62:32) a stub must pass through untouched.
RESERVED_BITS: tuple[int, ...] = (1 << 24, 1 << 31, 1 << 32, 1 << 62, 0x7FFF_FFFF_FF00_0000)

# Completion statuses: every named one, plus error statuses of every class the spec groups
# (bits 47:40), each with no operand, operand 1 and the SEPT operand ID.  Class 0xFF is the
# OS's (TDX_SW_ERROR): a module answer in it still has to come back to the caller as is.
# Spec: seamemu.arch.status (intel/tdx-module tdx_1.5 tdx_error_codes_defs.h).
STATUS_CLASS_NUMBERS: tuple[int, ...] = tuple(cls for cls, _ in STATUS_CLASSES)
_CLASS_SAMPLES = tuple(
    (1 << 63) | (cls << STATUS_CLASS_SHIFT) | operand
    for cls in STATUS_CLASS_NUMBERS
    for operand in (0, 1, 0x92)
)
STATUSES: tuple[int, ...] = tuple(sorted(
    {s.value for s in TDX_STATUSES} | {s.value for s in SEAMLDR_STATUSES} | set(_CLASS_SAMPLES)
))

# What the module can do instead of answering (seamemu.traps.target.INJECTABLE_FAULTS).
ANSWER_KINDS: tuple[str, ...] = ("status", "#GP", "#UD", "VMfailInvalid")


def leaf_word(number: int, version: int = 0, reserved: int = 0, loader: bool = False) -> int:
    """A RAX leaf word: leaf in bits 15:0, version in 23:16, reserved bits, loader bit 63."""
    word = (number & 0xFFFF) | ((version & 0xFF) << RAX_VERSION_SHIFT) | reserved
    return (word | SEAMLDR_MODE_BIT if loader else word) & MASK64


__all__ = [
    "ANSWER_KINDS",
    "BOUNDARY",
    "INVALID_LEAVES",
    "MASK64",
    "PATTERNS",
    "RESERVED_BITS",
    "SEAMLDR_LEAF_WORDS",
    "STATUSES",
    "STATUS_CLASS_NUMBERS",
    "SW_CODES",
    "VALID_LEAVES",
    "VERSIONS",
    "leaf_word",
]
