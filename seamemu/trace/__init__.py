# SPDX-License-Identifier: MIT
"""Disassembly with the SEAM-family override, instruction traces, and their rendering."""

from seamemu.trace.decode import decode_buffer
from seamemu.trace.disasm import Insn, disassemble, disassemble_one
from seamemu.trace.provenance import leaf_spec_or_none, rule_row, rule_table
from seamemu.trace.render import format_trace, use_color
from seamemu.trace.steps import (
    FLAG_BITS,
    FLAG_BITS_BY_NAME,
    FaultNote,
    LeafNote,
    MemWrite,
    RegChange,
    Trace,
    TraceStep,
    TrapNote,
    build_trace,
)

__all__ = [
    "FLAG_BITS",
    "FLAG_BITS_BY_NAME",
    "FaultNote",
    "Insn",
    "LeafNote",
    "MemWrite",
    "RegChange",
    "Trace",
    "TraceStep",
    "TrapNote",
    "build_trace",
    "decode_buffer",
    "disassemble",
    "disassemble_one",
    "format_trace",
    "leaf_spec_or_none",
    "rule_row",
    "rule_table",
    "use_color",
]
