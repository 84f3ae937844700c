# SPDX-License-Identifier: MIT
"""Instruction traces and their rendering (disassembly comes from seamemu.disasm)."""

from seamemu.trace.decode import decode_buffer
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
    "format_module_runs",
    "format_trace",
    "leaf_spec_or_none",
    "module_run",
    "rule_row",
    "rule_table",
    "use_color",
]
