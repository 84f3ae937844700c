# SPDX-License-Identifier: MIT
"""Instruction traces and their rendering (disassembly comes from seamemu.disasm)."""

from seamemu.trace import steps
from seamemu.trace.decode import decode_buffer
from seamemu.trace.module_steps import ModuleRun, ModuleStep, format_module_runs, module_run
from seamemu.trace.provenance import leaf_spec_or_none, rule_row, rule_table
from seamemu.trace.render import format_trace, use_color
from seamemu.trace.steps import *  # noqa: F403  (steps.__all__: the trace's own types)

# The package's names: its own, then steps' (one list, in steps), kept sorted as everywhere.
__all__ = [
    "ModuleRun",
    "ModuleStep",
    "decode_buffer",
    "format_module_runs",
    "format_trace",
    "leaf_spec_or_none",
    "module_run",
    "rule_row",
    "rule_table",
    "use_color",
]
__all__ += steps.__all__
__all__.sort()
