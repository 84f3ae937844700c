"""Capstone disassembly that names SEAMCALL, TDCALL, SEAMRET and SEAMOPS correctly.

Capstone 5 decodes 66 0F 01 CF as `encls` and returns nothing at all for 66 0F 01 CC/CD/CE,
which would end a listing at the first TDCALL; the SEAM opcode table is consulted first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import capstone

from seamemu.arch.opcodes import seam_mnemonic


@dataclass(frozen=True)
class Insn:
    address: int
    size: int
    bytes: bytes
    mnemonic: str
    op_str: str

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}".rstrip()


@lru_cache(maxsize=2)
def _engine(att: bool) -> capstone.Cs:
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    if att:
        cs.syntax = capstone.CS_OPT_SYNTAX_ATT
    return cs


def disassemble_one(code: bytes, address: int, att: bool = True) -> Insn:
    """Decode one instruction at the start of `code`; undecodable bytes become `(bad)`."""
    name = seam_mnemonic(code)
    if name is not None:
        return Insn(address, 4, bytes(code[:4]), name, "")
    for i in _engine(att).disasm(bytes(code[:16]), address, 1):
        return Insn(i.address, i.size, bytes(i.bytes), i.mnemonic, i.op_str)
    return Insn(address, 1, bytes(code[:1]), "(bad)", "")


def disassemble(code: bytes, address: int, att: bool = True) -> Iterator[Insn]:
    """Decode `code` linearly from `address`, never stopping early on a SEAM instruction."""
    off = 0
    while off < len(code):
        insn = disassemble_one(code[off:off + 16], address + off, att)
        yield insn
        off += insn.size
