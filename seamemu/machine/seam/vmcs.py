# SPDX-License-Identifier: MIT
"""VMCS contents behind VMREAD/VMWRITE/VMPTRLD/VMCLEAR, kept by VMCS physical address.

The VMCS memory format is implementation-specific and software may only reach it through the
VMX instructions (SDM Vol. 3C §25.11.1), so seamemu keeps each VMCS as a field table keyed by
its physical address, and each logical processor's current-VMCS pointer.  Field encodings
carry their width in bits 14:13 (16-bit, 64-bit, 32-bit, natural) and bit 0 selects the high
half of a 64-bit field (SDM Vol. 3C §25.11.2, Appendix B); reads and writes are cut to that
width.  Failures follow the VMX conventions (SDM Vol. 3C §31.2): no current VMCS is
VMfailInvalid (CF=1).  VMfailValid (unsupported field, error 12) is never given: every
encoding is accepted, which real hardware would refuse for fields it does not implement.

The fields the SEAMCALL VM exit and SEAMRET use: intel/tdx-module src/common/x86_defs/
vmcs_defs.h (VMX_VM_EXIT_REASON_ENCODE 0x4402, VMX_VM_EXIT_INSTRUCTION_LENGTH_ENCODE 0x440C,
VMX_GUEST_RSP/RIP/RFLAGS 0x681C/0x681E/0x6820, guest interruptibility 0x4824, pending debug
exceptions 0x6822, guest IA32_DEBUGCTL 0x2802).
"""

from __future__ import annotations

EXIT_REASON = 0x4402
EXIT_INSTRUCTION_LENGTH = 0x440C
EXIT_QUALIFICATION = 0x6400
GUEST_DEBUGCTL = 0x2802
GUEST_INTERRUPTIBILITY = 0x4824
GUEST_RSP = 0x681C
GUEST_RIP = 0x681E
GUEST_RFLAGS = 0x6820
GUEST_PENDING_DEBUG = 0x6822
HOST_FS_BASE = 0x6C06
_WIDTH_MASK = {0: 0xFFFF, 1: (1 << 64) - 1, 2: 0xFFFFFFFF, 3: (1 << 64) - 1}


def field_mask(encoding: int) -> int:
    return _WIDTH_MASK[(encoding >> 13) & 3]


class VmcsStore:
    """Every VMCS the module touched, and the current VMCS of each logical processor."""

    def __init__(self) -> None:
        self.vmcs: dict[int, dict[int, int]] = {}
        self.current: dict[int, int | None] = {}

    def region(self, pa: int) -> dict[int, int]:
        return self.vmcs.setdefault(pa, {})

    def make_current(self, lp: int, pa: int) -> None:
        self.current[lp] = pa
        self.region(pa)

    def clear(self, lp: int, pa: int) -> None:
        """VMCLEAR: the VMCS is written back (nothing to do here) and stops being current."""
        if self.current.get(lp) == pa:
            self.current[lp] = None

    def read(self, lp: int, encoding: int) -> int | None:
        """VMREAD of the current VMCS; None means VMfailInvalid (no current VMCS)."""
        pa = self.current.get(lp)
        if pa is None:
            return None
        fields = self.vmcs[pa]
        if encoding & 1 and (encoding >> 13) & 3 == 1:      # high half of a 64-bit field
            return fields.get(encoding & ~1, 0) >> 32
        return fields.get(encoding, 0) & field_mask(encoding)

    def write(self, lp: int, encoding: int, value: int) -> bool:
        """VMWRITE to the current VMCS; False means VMfailInvalid."""
        pa = self.current.get(lp)
        if pa is None:
            return False
        fields = self.vmcs[pa]
        if encoding & 1 and (encoding >> 13) & 3 == 1:
            full = encoding & ~1
            fields[full] = (fields.get(full, 0) & 0xFFFFFFFF) | (value & 0xFFFFFFFF) << 32
        else:
            fields[encoding] = value & field_mask(encoding)
        return True


__all__ = [
    "EXIT_INSTRUCTION_LENGTH",
    "EXIT_QUALIFICATION",
    "EXIT_REASON",
    "GUEST_DEBUGCTL",
    "GUEST_INTERRUPTIBILITY",
    "GUEST_PENDING_DEBUG",
    "GUEST_RFLAGS",
    "GUEST_RIP",
    "GUEST_RSP",
    "HOST_FS_BASE",
    "VmcsStore",
    "field_mask",
]
