# SPDX-License-Identifier: MIT
"""One instruction decoded into plain values (mnemonic, prefixes, operands) for checking encodings.

The assembler front end compares what it asked keystone for with what keystone emitted; it
needs the operands as data (registers, scale, displacement, immediate), not as text, and must
not import capstone itself.  AT&T operand order, as the source is written.
Spec: capstone 5 x86 detail (cs_x86, cs_x86_op); Intel SDM Vol. 2 §2.1 (instruction format).
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.opcodes import seam_mnemonic
from seamemu.disasm.text import engine

# capstone's X86_OP_REG / X86_OP_IMM / X86_OP_MEM (capstone/x86_const.py).
_OP_REG, _OP_IMM, _OP_MEM = 1, 2, 3


@dataclass(frozen=True)
class Operand:
    """A decoded operand; registers are lowercase names without `%` ("" when absent)."""

    kind: str           # "reg", "imm" or "mem"
    size: int           # bytes, as capstone reports it
    reg: str = ""
    imm: int = 0        # as decoded, sign-extended where the encoding sign-extends
    segment: str = ""
    base: str = ""
    index: str = ""     # "" also for %riz/%eiz, which name "no index"
    scale: int = 1
    disp: int = 0


@dataclass(frozen=True)
class Decoded:
    """The first instruction of some bytes: its length and what it is."""

    size: int
    mnemonic: str                 # without prefix words ("addq", "movsb", "retq")
    prefixes: tuple[str, ...]     # prefix words capstone printed ("lock", "rep", "bnd", ...)
    operands: tuple[Operand, ...]
    text: str                     # capstone's AT&T text, prefixes included


def decode_structure(code: bytes, address: int = 0) -> Decoded | None:
    """Decode the instruction at the start of `code`, placed at `address` (branch targets
    are absolute); None when it is not a valid x86-64 instruction.

    Capstone refuses what a 64-bit CPU raises #UD on for its encoding alone (opcodes invalid
    in 64-bit mode such as INTO or AAA, LOCK on an instruction that cannot take it); the SEAM
    family is named from seamemu.arch.opcodes, as capstone 5 cannot decode it.
    """
    name = seam_mnemonic(code)
    if name is not None:
        return Decoded(4, name, (), (), name)
    cs = engine(att=True, detail=True)
    for insn in cs.disasm(bytes(code[:16]), address, 1):
        words = insn.mnemonic.split()
        operands = tuple(_operand(insn, op) for op in insn.operands)
        return Decoded(insn.size, words[-1], tuple(words[:-1]), operands,
                       f"{insn.mnemonic} {insn.op_str}".rstrip())
    return None


def _reg(insn, reg: int) -> str:
    if not reg:
        return ""
    name = insn.reg_name(reg) or ""
    return "" if name in ("riz", "eiz") else name


def _operand(insn, op) -> Operand:
    if op.type == _OP_REG:
        return Operand("reg", op.size, reg=_reg(insn, op.reg))
    if op.type == _OP_IMM:
        return Operand("imm", op.size, imm=op.imm)
    mem = op.mem
    return Operand("mem", op.size, segment=_reg(insn, mem.segment), base=_reg(insn, mem.base),
                   index=_reg(insn, mem.index), scale=mem.scale, disp=mem.disp)


__all__ = ["Decoded", "Operand", "decode_structure"]
