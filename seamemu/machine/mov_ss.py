# SPDX-License-Identifier: MIT
"""MOV SS observed without a per-instruction hook: patched sites, emulated, and their shadow.

Unicorn runs MOV SS itself and keeps no interrupt shadow a hook could read, and hooking every
instruction would cost the fast path several times over.  So `Machine.attach_mov_ss`
patches each MOV SS the loader found in the image (session/msr_sites.py decodes the code, as
for RDMSR/WRMSR) to UD2, registered by address in the instruction table; `mov_ss_handler`
then does what the instruction does: it reads the selector (register or memory operand), lets
traps/mov_ss.py decide from the descriptor in the GDT, loads SS, and arms the shadow for the
next instruction.  The shadow is observable here only through an instruction this machine
itself executes (SEAMCALL, TDCALL, VMXON, ... which the LP dispatches through the same table):
the LP hands that one instruction a CpuState with `mov_ss_shadow` set.  Interrupts and
debug traps, which the shadow also blocks, are not modelled.

A MOV SS the loader cannot see (code written at run time, or bytes hidden in data) is run
by Unicorn as it is: SS is loaded but no shadow is armed, so a SEAMCALL right after such an
instruction is decided as if there were none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from unicorn import x86_const as X

from seamemu.arch.kernel import X86_TRAP_GP, X86_TRAP_PF
from seamemu.errors import InputError
from seamemu.machine.dispatch import memory_operand
from seamemu.machine.faults import pf_error_code
from seamemu.machine.linear import NON_CANONICAL
from seamemu.machine.memory import PhysicalMemory
from seamemu.machine.regs import GPR_BY_NUMBER
from seamemu.traps.mov_ss import EXECUTED, accessed, execute_mov_ss
from seamemu.traps.rule_table import Decision, Effect

if TYPE_CHECKING:
    from seamemu.machine.lp import LogicalProcessor

MOV_SREG = 0x8E
SREG_SS = 2
# Legacy prefixes that may precede MOV Sreg (operand size, address size, segment overrides,
# LOCK and REP are still bytes of the instruction, whatever they mean for it).
_LEGACY_PREFIXES = frozenset({0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3})
_SEG_BASE = {0x64: X.UC_X86_REG_FS_BASE, 0x65: X.UC_X86_REG_GS_BASE}


def decode_mov_ss(code: bytes) -> tuple[int, int, tuple[int, ...]] | None:
    """(ModRM offset, REX, prefixes) when `code` starts with MOV SS, r/m16 (8E /2); else None."""
    pos = 0
    prefixes = []
    while pos < len(code) and code[pos] in _LEGACY_PREFIXES:
        prefixes.append(code[pos])
        pos += 1
    rex = 0
    if pos < len(code) and 0x40 <= code[pos] <= 0x4F:
        rex, pos = code[pos], pos + 1
    if pos + 1 >= len(code) or code[pos] != MOV_SREG or (code[pos + 1] >> 3) & 7 != SREG_SS:
        return None
    return pos + 1, rex, tuple(prefixes)


def _fault(kind: str, vector: int, error_code: int | None, rule: str) -> Effect:
    return Effect(Decision(kind, rule, "operand", vector, error_code), fault=(vector, error_code))


def mov_ss_handler(memory: PhysicalMemory) -> Callable:
    def handle(lp: LogicalProcessor, rip: int, code: bytes, vals: list[int]) -> Effect | None:
        original = lp.code_patches.get(rip, b"")
        full = original + code[len(original):]
        decoded = decode_mov_ss(full)
        if decoded is None:
            return None
        pos, rex, prefixes = decoded
        ea, _reg, n = memory_operand(full, pos, rex, vals, rip)
        length = pos + n
        if ea is None:
            selector = vals[GPR_BY_NUMBER[(full[pos] & 7) | ((rex & 1) << 3)]] & 0xFFFF
        else:
            for prefix in prefixes:
                if prefix in _SEG_BASE:
                    ea = (ea + lp.uc.reg_read(_SEG_BASE[prefix])) & ((1 << 64) - 1)
            refusal = lp.linear.refusal(ea) or lp.linear.refusal(ea + 1)
            if refusal == NON_CANONICAL:
                return _fault("#GP", X86_TRAP_GP, 0,
                              f"#GP(0): MOV SS operand at non-canonical 0x{ea:016x}")
            if refusal is not None or not memory.present(ea, 2):
                return _fault("#PF", X86_TRAP_PF, pf_error_code(False, False, lp.cpu.cpl == 3,
                                                                False),
                              f"#PF: MOV SS operand at 0x{ea:016x} is not mapped")
            selector = int.from_bytes(memory.read(ea, 2), "little")
        try:
            descriptor, slot = _descriptor(lp, memory, selector)
        except InputError as exc:
            return _fault("#PF", X86_TRAP_PF, pf_error_code(False, False, lp.cpu.cpl == 3,
                                                            False), f"#PF: {exc}")
        effect = execute_mov_ss(lp.cpu, selector, descriptor, length)
        if effect.decision.kind != EXECUTED:
            return effect
        if slot is not None and descriptor is not None:
            memory.write(slot, accessed(descriptor).to_bytes(8, "little"))
        lp.uc.reg_write(X.UC_X86_REG_SS, selector)
        lp.arm_mov_ss_shadow(rip + length)
        return effect
    return handle


def _descriptor(lp: LogicalProcessor, memory: PhysicalMemory,
                selector: int) -> tuple[int | None, int | None]:
    """The GDT descriptor `selector` names and its address, or (None, None) when there is none.

    InputError when the GDT entry itself is not mapped (the CPU's read of it page-faults).
    """
    if selector & 0xFFFC == 0 or selector & 4:  # NULL, or TI = 1 with no LDT on this machine
        return None, None
    _sel, base, limit, _flags = lp.uc.reg_read(X.UC_X86_REG_GDTR)
    index = selector & ~7
    if index + 7 > limit:
        return None, None
    slot = base + index
    if not lp.linear.mapped(slot, 8) or not memory.present(slot, 8):
        raise InputError(f"GDT entry at 0x{slot:016x} for MOV SS is not mapped")
    return int.from_bytes(memory.read(slot, 8), "little"), slot


__all__ = ["MOV_SREG", "SREG_SS", "decode_mov_ss", "mov_ss_handler"]
