# SPDX-License-Identifier: MIT
"""x86-64 disassembly: the only package that imports capstone (SEAM family named by seamemu)."""

from seamemu.disasm.structure import Decoded, Operand, decode_structure
from seamemu.disasm.text import (
    Insn,
    branch_sites,
    disassemble,
    disassemble_one,
    instruction_sites,
)

__all__ = ["Decoded", "Insn", "Operand", "branch_sites", "decode_structure", "disassemble",
           "disassemble_one", "instruction_sites"]
