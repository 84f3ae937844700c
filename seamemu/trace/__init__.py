# SPDX-License-Identifier: MIT
"""Disassembly with the SEAM-family override, instruction traces, and their rendering."""

from seamemu.trace.decode import decode_buffer
from seamemu.trace.disasm import Insn, disassemble, disassemble_one, instruction_sites
from seamemu.trace.module_steps import ModuleRun, ModuleStep, format_module_runs, module_run
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
    "ModuleRun",
    "ModuleStep",
    "RegChange",
    "Trace",
    "TraceStep",
    "TrapNote",
    "build_trace",
    "decode_buffer",
    "disassemble",
    "disassemble_one",
    "format_module_runs",
    "format_trace",
    "instruction_sites",
    "leaf_spec_or_none",
    "module_run",
    "rule_row",
    "rule_table",
    "use_color",
]
