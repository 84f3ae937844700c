# SPDX-License-Identifier: MIT
"""What Unicorn's own CPU model answers to CPUID, for the fields no platform fact decides.

A private Unicorn instance (same default CPU model and control registers as every LP) runs a
lone CPUID once per (leaf, sub-leaf); the answers are cached for the process.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

from unicorn import UC_ARCH_X86, UC_MODE_64, UC_PROT_ALL, Uc
from unicorn import x86_const as X

_BASE = 0x1000
_CPUID = b"\x0f\xa2"
_OUT = (X.UC_X86_REG_EAX, X.UC_X86_REG_EBX, X.UC_X86_REG_ECX, X.UC_X86_REG_EDX)
_probe: list = []  # [Uc, its backing buffer], built on first use


@lru_cache(maxsize=256)
def model_cpuid(leaf: int, subleaf: int) -> tuple[int, int, int, int]:
    """(EAX, EBX, ECX, EDX) of Unicorn's CPU model for CPUID(leaf, subleaf)."""
    if not _probe:
        uc = Uc(UC_ARCH_X86, UC_MODE_64)
        buf = ctypes.create_string_buffer(0x1000)
        uc.mem_map_ptr(_BASE, 0x1000, UC_PROT_ALL, ctypes.addressof(buf))
        uc.mem_write(_BASE, _CPUID)
        _probe[:] = [uc, buf]
    uc = _probe[0]
    uc.reg_write(X.UC_X86_REG_RAX, leaf & 0xFFFF_FFFF)
    uc.reg_write(X.UC_X86_REG_RCX, subleaf & 0xFFFF_FFFF)
    uc.emu_start(_BASE, _BASE + len(_CPUID))
    eax, ebx, ecx, edx = (int(uc.reg_read(r)) for r in _OUT)
    return eax, ebx, ecx, edx


__all__ = ["model_cpuid"]
