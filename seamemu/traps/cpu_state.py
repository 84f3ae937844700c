# SPDX-License-Identifier: MIT
"""The architectural state of one logical processor that the SEAM-family traps decide from.

A `CpuState` is a value: the machine keeps one per logical processor and replaces it when an
instruction (VMXON, VMXOFF) changes it.  The defaults describe a correctly configured TDX host
in VMX root operation at CPL 0 with SEAMRR valid and locked, so a test states only what it
changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from seamemu.errors import InputError

# IA32_SEAMRR_PHYS_MASK (MSR 0x1401) bits.  Spec: intel/tdx-module tdx_1.5
# src/common/x86_defs/msr_defs.h (ia32_seamrr_mask_t).
SEAMRR_MASK_LOCK = 1 << 10
SEAMRR_MASK_VALID = 1 << 11
# IA32_SEAMRR_PHYS_BASE (MSR 0x1400) bit 3 = CONFIGURED (same source).
SEAMRR_BASE_CONFIGURED = 1 << 3

# A 32 MiB SEAM range at 0x7E000000 on a 46-bit physical address space: base and mask keep
# bits 45:25 (32 MiB granularity); CONFIGURED in the base, LOCK and VALID in the mask.
DEFAULT_SEAMRR_BASE_MSR = 0x7E00_0000 | SEAMRR_BASE_CONFIGURED
DEFAULT_SEAMRR_MASK_MSR = (((1 << 46) - 1) & ~((32 << 20) - 1)) | SEAMRR_MASK_LOCK | SEAMRR_MASK_VALID


@dataclass(frozen=True)
class CpuState:
    """What SEAMCALL, TDCALL, VMXON and VMXOFF look at on one logical processor."""

    vmx_operation: bool = True   # VMXON executed (VMX root or non-root operation)
    vmx_non_root: bool = False   # running as a VMX guest
    smm: bool = False            # in system-management mode
    seam_mode: bool = False      # in SEAM root mode (inside the TDX module or P-SEAMLDR)
    long_mode: bool = True       # 64-bit mode (IA32_EFER.LMA = 1 and CS.L = 1)
    cpl: int = 0                 # current privilege level, kept as a model value (see machine)
    cr4_vmxe: bool = True        # CR4.VMXE, required by VMXON
    td_guest: bool = False       # running as a TD guest (SEAM non-root): TDCALL is legal
    seamrr_base_msr: int = DEFAULT_SEAMRR_BASE_MSR
    seamrr_mask_msr: int = DEFAULT_SEAMRR_MASK_MSR
    mov_ss_shadow: bool = False  # the previous instruction was MOV SS / POP SS

    def __post_init__(self) -> None:
        if not 0 <= self.cpl <= 3:
            raise InputError(f"CpuState.cpl must be 0..3, got {self.cpl}")
        for name in ("seamrr_base_msr", "seamrr_mask_msr"):
            value = getattr(self, name)
            if not 0 <= value < 1 << 64:
                raise InputError(f"CpuState.{name} must be a 64-bit value, got {value:#x}")

    @property
    def seamrr_valid(self) -> bool:
        return bool(self.seamrr_mask_msr & SEAMRR_MASK_VALID)

    @property
    def seamrr_locked(self) -> bool:
        return bool(self.seamrr_mask_msr & SEAMRR_MASK_LOCK)

    def with_(self, **changes: Any) -> CpuState:
        """A copy with some fields changed (a typo in a field name is a TypeError)."""
        return dataclasses.replace(self, **changes)


__all__ = [
    "CpuState",
    "DEFAULT_SEAMRR_BASE_MSR",
    "DEFAULT_SEAMRR_MASK_MSR",
    "SEAMRR_BASE_CONFIGURED",
    "SEAMRR_MASK_LOCK",
    "SEAMRR_MASK_VALID",
]
