# SPDX-License-Identifier: MIT
"""The outcome matrix: every VMX x SEAMRR x CPL x module combination through one stub, on the
host and in a TD's vCPU (VMX on there: a TD runs in VMX non-root operation)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seamemu.arch.ghci import TDVMCALL_GET_TD_VM_CALL_INFO
from seamemu.arch.leaves import TDG_VP_INFO, TDG_VP_VMCALL, TDH_SYS_INIT
from seamemu.jsonout import JsonRecord, hex64, json_as
from seamemu.session.result import NO_CALL, rax_name
from seamemu.session.session import Session
from seamemu.stubs import DEFAULT_ENTRY

# TDH.SYS.INIT on a fresh module: the one leaf whose success needs nothing before it.
DEFAULT_MATRIX_LEAF = TDH_SYS_INIT
# A TD's: TDG.VP.INFO always answers; the hypercall asks the VMM for GetTdVmCallInfo.
DEFAULT_TD_LEAVES: dict[str, tuple[int, dict[str, int]]] = {
    "tdcall": (TDG_VP_INFO, {}),
    "hypercall": (TDG_VP_VMCALL, {"r10": 0, "r11": TDVMCALL_GET_TD_VM_CALL_INFO}),
}


def _on_off(on: bool) -> str:
    return "on" if on else "off"


@dataclass(frozen=True)
class MatrixRow(JsonRecord):
    JSON_KEYS = ("td", "vmx", "seamrr", "cpl", "module", "outcome", "rax", "rax_name", "rule",
                 "abi_preserved", "clobbered")

    vmx: bool = field(metadata=json_as(_on_off))
    seamrr: bool = field(metadata=json_as(_on_off))
    cpl: int
    module: bool = field(metadata=json_as(lambda loaded: "loaded" if loaded else "absent"))
    outcome: str
    rax: int = field(metadata=json_as(hex64))
    rule: str
    status_name: str
    abi_preserved: bool
    clobbered: tuple[str, ...]
    td: bool = field(default=False, metadata=json_as(_on_off))
    returned: bool = True            # False: the call never returned, so the ABI is unchecked

    @property
    def rax_name(self) -> str | None:   # None when nothing was called: RAX is then no status
        return None if self.outcome in NO_CALL else self.status_name


def outcome_matrix(asm: Sequence[str | Path] | None = None, entry: str = DEFAULT_ENTRY, *,
                   convention: str = "args", leaf: int | None = None,
                   platform=None, include_dirs=(), defines=None, backend: str = "keystone",
                   inputs=None, stubs=(), module_binary: str | Path | None = None,
                   alternatives: str = "cpu",
                   tds: Sequence[bool] = (False, True)) -> list[MatrixRow]:
    """Run `entry` once per CPU-state combination, each on a freshly booted module (and TD):
    on the host (td False) and, for True in `tds`, in a TD's vCPU.  The leaf defaults to
    TDH.SYS.INIT, or the guest convention's (DEFAULT_TD_LEAVES)."""
    rows = []
    if leaf is None:
        leaf, td_inputs = DEFAULT_TD_LEAVES.get(convention, (DEFAULT_MATRIX_LEAF, {}))
        inputs = {**td_inputs, **(inputs or {})}
    session = Session(asm, platform=platform, include_dirs=include_dirs, defines=defines,
                      backend=backend, num_lps=1, stubs=stubs, module_binary=module_binary,
                      alternatives=alternatives)
    states = [(td, vmx, seamrr, cpl, module) for td in tds
              for vmx, seamrr, cpl, module in itertools.product(
                  (True, False), (True, False), (0, 3), (True, False))
              if vmx or not td]
    for td, vmx, seamrr, cpl, module in states:
        session.reset_module()
        session.set_state(lp=0, vmx=vmx, seamrr=seamrr, cpl=cpl, module=module, td=td)
        r = session.call(entry, convention=convention, leaf=leaf, inputs=inputs)
        if r.outcome in NO_CALL:
            meaning = NO_CALL[r.outcome]
        elif r.outcome == "halted":
            meaning = "no return (the TD was stopped)"
        elif r.abi.returned:
            meaning = rax_name(r.rax, leaf, convention)
        else:
            meaning = "no return (unhandled fault)"
        rows.append(MatrixRow(vmx, seamrr, cpl, module, r.outcome, r.rax, r.rule,
                              meaning, r.abi.preserved, r.abi.clobbered, td, r.abi.returned))
    return rows


def format_matrix(rows: list[MatrixRow], markdown: bool = False) -> str:
    head = ("TD", "VMX", "SEAMRR", "CPL", "module", "outcome", "RAX", "meaning", "ABI")
    body = [("on" if r.td else "off", "on" if r.vmx else "off", "on" if r.seamrr else "off",
             str(r.cpl),
             "loaded" if r.module else "absent", r.outcome, hex64(r.rax), r.status_name,
             "ok" if r.abi_preserved else "-" if not r.returned
             else "BROKEN: " + ",".join(r.clobbered or ("rsp",)))
            for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = fmt.format(*("-" * w for w in widths))
    return "\n".join([fmt.format(*head), rule] + [fmt.format(*b) for b in body])


__all__ = ["DEFAULT_MATRIX_LEAF", "DEFAULT_TD_LEAVES", "MatrixRow", "format_matrix",
           "outcome_matrix"]
