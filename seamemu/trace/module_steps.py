# SPDX-License-Identifier: MIT
"""Intel's module at work: the instructions it ran between a SEAMCALL and its SEAMRET.

`seamemu trace --module-binary PATH --into-module` shows them after the caller's own trace,
one block per SEAMCALL that reached the module: every instruction with its address in the
module's linear code region, `function+offset` from the module's own symbol table, and the
disassembly (the SEAM-family override names SEAMRET and SEAMOPS; RDMSR/WRMSR show as the
image has them, not as the UD2 seamemu patched in).  A line marks each change of function, so
the call path reads like a backtrace unrolled: tdx_seamcall_entry_point, tdx_vmm_dispatcher,
the leaf's handler, its helpers, tdx_seamret_to_vmm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from seamemu.disasm import Insn, disassemble_one
from seamemu.jsonout import JsonRecord, hex64, json_as


@dataclass(frozen=True)
class ModuleStep(JsonRecord):
    JSON_KEYS = ("address", "symbol", "bytes", ("insn", "text"), "target")

    address: int = field(metadata=json_as(hex64))
    symbol: str                      # "function+0xoff" in the module's symbol table
    insn: Insn
    target: str = ""                 # a direct call/jump's destination, symbolised

    @property
    def bytes(self) -> bytes:
        return self.insn.bytes

    @property
    def text(self) -> str:
        return self.insn.text

    @property
    def function(self) -> str:
        return self.symbol.split("+")[0]


@dataclass(frozen=True)
class ModuleRun(JsonRecord):
    """One SEAMCALL as the module executed it."""

    JSON_KEYS = ("seq", "leaf_name", "status_name", "instructions", "truncated", "steps")

    seq: int
    leaf_name: str
    status_name: str
    steps: tuple[ModuleStep, ...]
    truncated: bool

    @property
    def instructions(self) -> int:
        return len(self.steps)


def module_run(seq: int, leaf_name: str, status_name: str,
               raw: Sequence[tuple[int, bytes]], symbolize: Callable[[int], str],
               limit: int) -> ModuleRun:
    """Disassemble the (address, bytes) pairs the SEAM CPU recorded."""
    steps = []
    for a, code in raw:
        insn = disassemble_one(code, a)
        target = ""
        if insn.mnemonic.startswith(("call", "j")):
            try:
                target = symbolize(int(insn.op_str, 16))
            except ValueError:        # an indirect call or jump: no fixed destination
                pass
        steps.append(ModuleStep(a, symbolize(a), insn, target))
    return ModuleRun(seq, leaf_name, status_name, tuple(steps), len(raw) >= limit)


def format_module_runs(runs: Sequence[ModuleRun]) -> str:
    lines: list[str] = []
    for run in runs:
        lines.append("")
        lines.append(f"inside Intel's module: SEAMCALL #{run.seq} {run.leaf_name} -> "
                     f"{run.status_name}, {len(run.steps)} instructions"
                     f"{' (truncated)' if run.truncated else ''}")
        current = None
        for step in run.steps:
            if step.function != current:
                current = step.function
                lines.append(f"  {current}:")
            target = f" <{step.target}>" if step.target else ""
            lines.append(f"    0x{step.address:016x}  {step.symbol:<34} {step.insn.text}{target}")
    return "\n".join(lines)


__all__ = ["ModuleRun", "ModuleStep", "format_module_runs", "module_run"]
