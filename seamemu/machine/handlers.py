# SPDX-License-Identifier: MIT
"""The rows of the instruction table: SEAMCALL, TDCALL, VMXON, VMXOFF, RDMSR, WRMSR, SYSCALL, SYSENTER.

A TD's TDCALL goes to whatever the machine's TdcallPort holds (the module's guest side); the
handler knows only the contract (seamemu.traps.target.TdcallTarget).

Each handler turns the bytes and registers at RIP into the inputs of a `seamemu.traps`
function and returns its `Effect`; the LP applies it.  RDMSR/WRMSR (traps/msr.py) plug in
the same way through `InsnTable.add_address` on the instructions `Machine.attach_msrs`
patched; they read and write the LP's own MSR dict (`lp.msrs`).  SYSCALL and SYSENTER are
no invalid instructions to Unicorn (it steps over them); the LP's instruction hooks hand
them to this table all the same.
"""

from __future__ import annotations

from collections.abc import Callable

from seamemu.arch.opcodes import SEAMCALL, SYSCALL, SYSENTER, TDCALL, VMXOFF
from seamemu.arch.registers import ABI_ORDER
from seamemu.errors import InputError
from seamemu.machine.dispatch import InsnTable, memory_operand
from seamemu.machine.memory import PhysicalMemory
from seamemu.machine.regs import INDEX, NAMES, RFLAGS
from seamemu.traps.msr import EXECUTED, execute_rdmsr, execute_wrmsr, wrmsr_store
from seamemu.traps.rule_table import Decision, Effect
from seamemu.traps.seamcall import execute_seamcall
from seamemu.traps.syscall import execute_syscall, execute_sysenter
from seamemu.traps.target import AbiRegs, SeamTarget, TdcallTarget
from seamemu.traps.tdcall import execute_tdcall
from seamemu.traps.vmx import execute_vmxoff, execute_vmxon

# VMXON is F3 [REX] 0F C7 /6 with a memory operand.  Spec: SDM Vol. 2 / Vol. 3C §31.3.
VMXON_PREFIX = b"\xf3"
_RAX, _RCX, _RDX = INDEX["rax"], INDEX["rcx"], INDEX["rdx"]


def seamcall_handler(target: SeamTarget, memory: PhysicalMemory) -> Callable:
    def handle(lp, rip: int, code: bytes, vals: list[int]) -> Effect:
        # vals starts with the GPRs in ABI order (regs.NAMES), so zip takes exactly those,
        # each a 64-bit value read from the CPU: the target may take them unchecked.
        return execute_seamcall(lp.cpu, AbiRegs(zip(ABI_ORDER, vals)), vals[RFLAGS], target,
                                memory, lp.index)
    return handle


class TdcallPort:
    """What stands behind a TD's TDCALL in this machine (the module's guest side), or None:
    set once the session has built it (Machine.attach_td)."""

    def __init__(self, target: TdcallTarget | None = None) -> None:
        self.target = target


def tdcall_handler(port: TdcallPort, memory: PhysicalMemory) -> Callable:
    def handle(lp, rip: int, code: bytes, vals: list[int]) -> Effect:
        # Only a TD's TDCALL reaches the target; the registers are built for it alone.
        target = port.target
        regs = dict(zip(NAMES, vals)) if target is not None and lp.cpu.td_guest else None
        return execute_tdcall(lp.cpu, vals[RFLAGS], regs=regs, target=target, mem=memory,
                              lp=lp.index)
    return handle


def vmxoff_handler(lp, rip: int, code: bytes, vals: list[int]) -> Effect:
    return execute_vmxoff(lp.cpu, vals[RFLAGS])


def vmxon_handler(memory: PhysicalMemory) -> Callable:
    def handle(lp, rip: int, code: bytes, vals: list[int]) -> Effect | None:
        pos = 1
        rex = 0
        if len(code) > pos and 0x40 <= code[pos] <= 0x4F:
            rex, pos = code[pos], pos + 1
        if code[pos:pos + 2] != b"\x0f\xc7" or len(code) < pos + 3:
            return None
        ea, reg, n = memory_operand(code, pos + 2, rex, vals, rip)
        if reg != 6:
            return None  # another F3 0F C7 /r form: not VMXON, so #UD via the table
        length = pos + 2 + n
        pointer = None
        if ea is not None:
            try:
                pointer = memory.read_u64(ea)
            except InputError:
                rule = f"#PF: VMXON operand at 0x{ea:016x} is not present"
                return Effect(Decision("#PF", rule, "operand", 14, 0), fault=(14, 0))
        return execute_vmxon(lp.cpu, pointer, vals[RFLAGS], length)
    return handle


def rdmsr_handler(lp, rip: int, code: bytes, vals: list[int]) -> Effect:
    return execute_rdmsr(lp.cpu, lp.msrs, vals[_RCX], vals[RFLAGS])


def wrmsr_handler(lp, rip: int, code: bytes, vals: list[int]) -> Effect:
    effect = execute_wrmsr(lp.cpu, lp.msrs, vals[_RCX], vals[_RAX], vals[_RDX], vals[RFLAGS])
    if effect.decision.kind == EXECUTED:
        msr, value = wrmsr_store(vals[_RCX], vals[_RAX], vals[_RDX])
        lp.msrs[msr] = value
    return effect


def syscall_handler(lp, rip: int, code: bytes, vals: list[int]) -> Effect:
    return execute_syscall(lp.cpu, vals[RFLAGS])


def sysenter_handler(lp, rip: int, code: bytes, vals: list[int]) -> Effect:
    return execute_sysenter(lp.cpu, vals[RFLAGS])


MSR_HANDLERS: dict[str, Callable] = {"rdmsr": rdmsr_handler, "wrmsr": wrmsr_handler}


def install_builtin(table: InsnTable, target: SeamTarget, memory: PhysicalMemory,
                    tdcall: TdcallPort | None = None) -> None:
    """Register SEAMCALL first (the hot path), then the other SEAM/VMX instructions."""
    table.add_pattern(SEAMCALL, "seamcall", seamcall_handler(target, memory))
    table.add_pattern(TDCALL, "tdcall", tdcall_handler(tdcall or TdcallPort(), memory))
    table.add_pattern(VMXOFF, "vmxoff", vmxoff_handler)
    table.add_pattern(VMXON_PREFIX, "vmxon", vmxon_handler(memory))
    table.add_pattern(SYSCALL, "syscall", syscall_handler)
    table.add_pattern(SYSENTER, "sysenter", sysenter_handler)


__all__ = [
    "MSR_HANDLERS",
    "TdcallPort",
    "install_builtin",
    "rdmsr_handler",
    "seamcall_handler",
    "syscall_handler",
    "sysenter_handler",
    "tdcall_handler",
    "vmxoff_handler",
    "vmxon_handler",
    "wrmsr_handler",
]
