# SPDX-License-Identifier: MIT
"""Text disassembly (capstone) that names SEAMCALL, TDCALL, SEAMRET and SEAMOPS correctly.

Capstone 5 decodes 66 0F 01 CF as `encls` and returns nothing at all for 66 0F 01 CC/CD/CE,
which would end a listing at the first TDCALL; the SEAM opcode table is consulted first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from seamemu.arch.opcodes import seam_mnemonic

if TYPE_CHECKING:
    import capstone


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


# Capstone 5 prints an immediate whose top bit is set in decimal (`movabsq
# $9223652412319858688, %rdi` for TDX_SW_ERROR) while it prints every other one above 9 in hex;
# objdump, and the kernel's headers, write them in hex, so the trace does too.
_DECIMAL_IMM = re.compile(r"\$(\d{2,})\b")


def _hex_immediates(op_str: str) -> str:
    return _DECIMAL_IMM.sub(lambda m: f"${int(m.group(1)):#x}", op_str)


@lru_cache(maxsize=4)
def engine(att: bool = True, detail: bool = False) -> capstone.Cs:
    """A 64-bit x86 capstone engine; capstone is imported on first use, not with seamemu."""
    import capstone

    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    if att:
        cs.syntax = capstone.CS_OPT_SYNTAX_ATT
    cs.detail = detail
    return cs


def disassemble_one(code: bytes, address: int, att: bool = True) -> Insn:
    """Decode one instruction at the start of `code`; undecodable bytes become `(bad)`."""
    name = seam_mnemonic(code)
    if name is not None:
        return Insn(address, 4, bytes(code[:4]), name, "")
    for i in engine(att).disasm(bytes(code[:16]), address, 1):
        return Insn(i.address, i.size, bytes(i.bytes), i.mnemonic, _hex_immediates(i.op_str))
    return Insn(address, 1, bytes(code[:1]), "(bad)", "")


def disassemble(code: bytes, address: int, att: bool = True) -> Iterator[Insn]:
    """Decode `code` linearly from `address`, never stopping early on a SEAM instruction."""
    off = 0
    while off < len(code):
        insn = disassemble_one(code[off:off + 16], address + off, att)
        yield insn
        off += insn.size


def instruction_sites(code: bytes, address: int, mnemonics: frozenset[str]) -> dict[int, str]:
    """Address -> mnemonic of every `mnemonics` instruction in a linear sweep of compiled code.

    For a compiler's .text (no data between functions) a sweep that skips undecodable bytes
    finds what `objdump -d` finds; capstone's lite mode does it in C.  SEAM opcodes, which
    capstone cannot decode, are skipped as data and never reported.
    """
    import capstone

    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    cs.skipdata = True
    return {addr: mnemonic for addr, _size, mnemonic, _ops in cs.disasm_lite(bytes(code), address)
            if mnemonic in mnemonics}


_CANONICAL_LOW_END, _CANONICAL_HIGH_START = 1 << 47, 0xFFFF_8000_0000_0000


def branch_sites(code: bytes, address: int) -> tuple[int, ...]:
    """Addresses of the near branches in a linear sweep of compiled code that may send RIP to
    a non-canonical address: every RET, every indirect JMP or CALL, and a direct one whose
    target is non-canonical (the machine watches them to report such a branch where the CPU
    does: machine/noncanonical.py)."""
    import capstone

    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)   # Intel syntax: `jmp rax`
    cs.skipdata = True
    out = []
    for addr, _size, mnemonic, op_str in cs.disasm_lite(bytes(code), address):
        if mnemonic in ("ret", "retq"):
            out.append(addr)
        elif mnemonic in ("jmp", "call"):
            try:
                target = int(op_str, 0)
            except ValueError:           # a register or memory operand: indirect
                out.append(addr)
                continue
            if _CANONICAL_LOW_END <= target < _CANONICAL_HIGH_START:
                out.append(addr)
    return tuple(out)


__all__ = ["Insn", "branch_sites", "disassemble", "disassemble_one", "engine",
           "instruction_sites"]
