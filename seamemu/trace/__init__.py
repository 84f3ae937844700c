"""Disassembly with the SEAM-family override, instruction traces, and their rendering."""

from seamemu.trace.disasm import Insn, disassemble, disassemble_one

__all__ = ["Insn", "disassemble", "disassemble_one"]
