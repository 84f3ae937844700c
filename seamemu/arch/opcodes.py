# SPDX-License-Identifier: MIT
"""Encodings of the SEAM instruction family and the few others the tools must name themselves.

Spec: Intel TDX CPU Architectural Extensions (SEAMCALL/SEAMRET/SEAMOPS/TDCALL); Linux
arch/x86/virt/vmx/tdx/tdxcall.S (`.byte 0x66,0x0f,0x01,0xcf`); LLVM X86InstrTDX.td;
Intel SDM Vol. 2 (VMXON, VMXOFF, RDMSR, WRMSR, SYSCALL, SYSENTER, ENDBR64).  Capstone 5 names 66 0F 01 CF
`encls` and cannot decode 66 0F 01 CC/CD/CE, so disassemblers consult this table first.
"""

from __future__ import annotations

# Sorted by bytes.
SEAM_OPCODES: tuple[tuple[bytes, str], ...] = (
    (bytes.fromhex("660f01cc"), "tdcall"),
    (bytes.fromhex("660f01cd"), "seamret"),
    (bytes.fromhex("660f01ce"), "seamops"),
    (bytes.fromhex("660f01cf"), "seamcall"),
)
SEAMCALL = bytes.fromhex("660f01cf")
TDCALL = bytes.fromhex("660f01cc")
SEAMRET = bytes.fromhex("660f01cd")
SEAMOPS = bytes.fromhex("660f01ce")

# Instructions keystone 0.9.2 does not know but kernel assembly uses.
ENDBR64 = bytes.fromhex("f30f1efa")
VMXOFF = bytes.fromhex("0f01c4")
RDMSR = bytes.fromhex("0f32")
WRMSR = bytes.fromhex("0f30")
SYSCALL = bytes.fromhex("0f05")
SYSENTER = bytes.fromhex("0f34")

MNEMONIC_BYTES: dict[str, bytes] = {
    "endbr64": ENDBR64,
    "seamcall": SEAMCALL,
    "seamops": SEAMOPS,
    "seamret": SEAMRET,
    "tdcall": TDCALL,
}


def seam_mnemonic(code: bytes) -> str | None:
    """Name the SEAM-family instruction at the start of `code`, or None."""
    head = bytes(code[:4])
    for pattern, name in SEAM_OPCODES:
        if head == pattern:
            return name
    return None


__all__ = [
    "ENDBR64",
    "MNEMONIC_BYTES",
    "RDMSR",
    "SEAMCALL",
    "SEAMOPS",
    "SEAMRET",
    "SEAM_OPCODES",
    "SYSCALL",
    "SYSENTER",
    "TDCALL",
    "VMXOFF",
    "WRMSR",
    "seam_mnemonic",
]
