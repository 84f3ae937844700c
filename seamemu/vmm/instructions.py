# SPDX-License-Identifier: MIT
"""The instruction sub-functions: what the TD's #VE handler asks the VMM to do for it.

Spec: Linux arch/x86/kvm/vmx/tdx.c: tdx_emulate_cpuid() (R12 = EAX, R13 = ECX in; R12-R15 =
EAX, EBX, ECX, EDX out), tdx_emulate_io() (R12 size 1/2/4, R13 direction 0 in / 1 out, R14
port, R15 the value out; R11 the value in; else INVALID_OPERAND), tdx_emulate_mmio() (R12
size 1/2/4/8, R13 direction 0 read / 1 write, R14 a shared GPA, R15 the value written; R11 the
value read; else INVALID_OPERAND), RDMSR/WRMSR through KVM's MSR code (R12 the MSR, R13 the
value to write, R11 the value read; an MSR KVM does not emulate for a TD is INVALID_OPERAND),
HLT (R12 = 1: interrupts blocked).  The guest side is arch/x86/coco/tdx/tdx.c (handle_cpuid,
handle_io, handle_mmio, read_msr, write_msr, __halt).

This VMM has one device, COM1 (ports 0x3F8-0x3FF, the kernel's early console): what the TD
writes to the transmit register is kept in `console`, and the line status register says the
transmitter is empty.  No other port and no MMIO address has a device: reads answer all ones
(what an unclaimed ISA port or PCI address returns) and writes are dropped, and the record says
so.  There is no interrupt source: a HLT with interrupts blocked would sleep for ever, so the
VMM stops the TD; with interrupts enabled the vCPU is resumed at once (noted).
"""

from __future__ import annotations

from collections.abc import Mapping

from seamemu.arch.ghci import (
    TDVMCALL_CPUID,
    TDVMCALL_HLT,
    TDVMCALL_IO,
    TDVMCALL_MMIO,
    TDVMCALL_RDMSR,
    TDVMCALL_STATUS_INVALID_OPERAND,
    TDVMCALL_STATUS_SUCCESS,
    TDVMCALL_WRMSR,
)
from seamemu.vmm.vmm import Answer, Vmm, serves

COM1 = 0x3F8
COM1_THR = COM1             # transmit holding register (DLAB = 0)
COM1_LSR = COM1 + 5         # line status register
LSR_TX_EMPTY = 0x60         # THRE (bit 5) and TEMT (bit 6): ready for the next byte


def _ones(size: int) -> int:
    return (1 << (8 * size)) - 1


@serves(TDVMCALL_CPUID)
def cpuid(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    leaf, sub = regs.get("r12", 0) & 0xFFFF_FFFF, regs.get("r13", 0) & 0xFFFF_FFFF
    if vmm.cpuid is None:
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND, note="this VMM has no CPUID table")
    eax, ebx, ecx, edx = vmm.cpuid(leaf, sub)
    return Answer(TDVMCALL_STATUS_SUCCESS, {"r12": eax, "r13": ebx, "r14": ecx, "r15": edx},
                  note=f"CPUID leaf 0x{leaf:x} sub-leaf 0x{sub:x}")


@serves(TDVMCALL_HLT)
def hlt(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    if regs.get("r12", 0):
        return Answer(TDVMCALL_STATUS_SUCCESS,
                      halt="HLT with interrupts blocked (R12 = 1): nothing can wake the vCPU")
    return Answer(TDVMCALL_STATUS_SUCCESS,
                  note="HLT: no interrupt source is modelled, so the vCPU is resumed at once")


@serves(TDVMCALL_IO)
def io(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    size, write, port = regs.get("r12", 0), regs.get("r13", 0), regs.get("r14", 0) & 0xFFFF
    if write not in (0, 1) or size not in (1, 2, 4):
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND, note="size not 1, 2 or 4, or direction "
                                                            "not 0 or 1")
    value = regs.get("r15", 0) & _ones(size)
    if write:
        if port == COM1_THR:
            vmm.console.append(value & 0xFF)
            return Answer(TDVMCALL_STATUS_SUCCESS, note=f"COM1 <- {value & 0xFF:#04x}")
        if COM1 <= port < COM1 + 8:
            return Answer(TDVMCALL_STATUS_SUCCESS, note=f"COM1 register {port - COM1} written")
        return Answer(TDVMCALL_STATUS_SUCCESS, note=f"OUT to port 0x{port:x}: no device, dropped")
    if port == COM1_LSR:
        return Answer(TDVMCALL_STATUS_SUCCESS, {"r11": LSR_TX_EMPTY}, note="COM1 line status")
    if COM1 <= port < COM1 + 8:
        return Answer(TDVMCALL_STATUS_SUCCESS, {"r11": 0}, note=f"COM1 register {port - COM1}")
    return Answer(TDVMCALL_STATUS_SUCCESS, {"r11": _ones(size)},
                  note=f"IN from port 0x{port:x}: no device, all ones")


@serves(TDVMCALL_MMIO)
def mmio(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    size, write, gpa = regs.get("r12", 0), regs.get("r13", 0), regs.get("r14", 0)
    if size not in (1, 2, 4, 8) or write not in (0, 1):
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND, note="size not 1, 2, 4 or 8, or "
                                                            "direction not 0 or 1")
    shared = vmm.shared_bit
    if not gpa & shared or not (gpa + size - 1) & shared:
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND, note="MMIO to a private GPA")
    where = f"0x{gpa & ~shared:x}"
    if write:
        return Answer(TDVMCALL_STATUS_SUCCESS, note=f"MMIO write to {where}: no device, dropped")
    return Answer(TDVMCALL_STATUS_SUCCESS, {"r11": _ones(size)},
                  note=f"MMIO read of {where}: no device, all ones")


@serves(TDVMCALL_RDMSR)
def rdmsr(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    msr = regs.get("r12", 0) & 0xFFFF_FFFF
    if msr not in vmm.msrs:
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND, note=f"MSR 0x{msr:x} is not emulated")
    return Answer(TDVMCALL_STATUS_SUCCESS, {"r11": vmm.msrs[msr]}, note=f"RDMSR 0x{msr:x}")


@serves(TDVMCALL_WRMSR)
def wrmsr(vmm: Vmm, lp: int, regs: Mapping[str, int]) -> Answer:
    msr, value = regs.get("r12", 0) & 0xFFFF_FFFF, regs.get("r13", 0)
    if msr not in vmm.msrs or msr in vmm.read_only_msrs:
        return Answer(TDVMCALL_STATUS_INVALID_OPERAND,
                      note=f"MSR 0x{msr:x} is {'read-only' if msr in vmm.msrs else 'not emulated'}")
    vmm.msrs[msr] = value
    return Answer(TDVMCALL_STATUS_SUCCESS, note=f"WRMSR 0x{msr:x} = 0x{value:x}")


__all__ = ["COM1", "COM1_LSR", "COM1_THR", "LSR_TX_EMPTY", "cpuid", "hlt", "io", "mmio",
           "rdmsr", "wrmsr"]
