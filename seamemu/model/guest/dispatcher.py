# SPDX-License-Identifier: MIT
"""The TDX module's guest side: a TD's TDCALL, decoded, admitted, run by its leaf, recorded.

Spec: intel/tdx-module tdx_1.5 src/td_dispatcher/tdx_td_dispatcher.c (TDX_1.5.01, 72d8cff),
td_call(): RAX is read as leaf (15:0), version (23:16) and reserved bits (63:24); reserved bits
set, a version on any leaf but TDG.VM.RD, or an unknown leaf answer TDX_OPERAND_INVALID(RAX)
and the TD resumes after its TDCALL with the status in RAX.  A leaf the model does not
implement answers the same and says "not modelled" in its record.  TDG.VP.VMCALL exits to the
VMM (`seamemu.traps.target.Vmm`), which this side reaches only through that contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seamemu.arch.leaves import (
    RAX_LEAF_MASK,
    RAX_VERSION_SHIFT,
    TDG_VM_RD,
    tdcall_leaf_info,
)
from seamemu.arch.status import MASK64, TdxStatus, status_name, with_operand
from seamemu.model.context import Call, LeafExit
from seamemu.model.guest.td import TdConfig, TdState, TdStopped
from seamemu.model.leaf_spec import LeafSpec, tdg_handler_for
from seamemu.traps.target import HALT, CallRecord, GuestMemory, SeamReply, VmcallRecord, Vmm
from seamemu.traps.tdcall import TDCALL_REGS

OPERAND_INVALID_RAX = with_operand(TdxStatus.TDX_OPERAND_INVALID, "RAX")
RAX_RESERVED = ~((1 << 24) - 1) & MASK64   # bits 63:24
# The TD's operating state while its vCPUs run (TDCS OP_STATE), for the records.
RUNNABLE = "RUNNABLE"


class TdGuest:
    """Implements seamemu.traps.target.TdcallTarget for one TD of one platform."""

    abi = "1.5"        # the guest side is modelled for the 1.5 module (TDX_1.5.01)
    rules: Any = None  # host-side address rules: no TDCALL leaf reads them

    def __init__(self, config: TdConfig, vmm: Vmm | None = None, *, num_vcpus: int = 1) -> None:
        self.config = config
        self.state = TdState(config, num_vcpus=num_vcpus)
        self.vmm = vmm
        self.records: list[CallRecord] = []
        self._seq = 0
        self.vmcall: VmcallRecord | None = None   # set by TDG.VP.VMCALL during one call
        # Said first in every record's note (the session says who else is in the machine).
        self.preface = ""

    def tdcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply:
        full = {name: regs.get(name, 0) & MASK64 for name in TDCALL_REGS}
        rax = full["rax"]
        self._seq += 1
        leaf, version = rax & RAX_LEAF_MASK, (rax >> RAX_VERSION_SHIFT) & 0xFF
        info = tdcall_leaf_info(leaf)
        rec: dict[str, Any] = dict(seq=self._seq, lp=lp, leaf=leaf,
                                   leaf_name=info.name if info else "unknown", version=version,
                                   inputs=full, state_before=RUNNABLE)
        self.vmcall = None
        if rax & RAX_RESERVED:
            return self._finish(rec, None, OPERAND_INVALID_RAX, {}, (), [], "reserved RAX bits set")
        if version and leaf != TDG_VM_RD:
            return self._finish(rec, None, OPERAND_INVALID_RAX, {}, (), [],
                                f"version {version} not supported by this leaf")
        entry = tdg_handler_for(leaf)
        if entry is None:
            return self._finish(rec, None, OPERAND_INVALID_RAX, {}, (), [],
                                "not modelled" if info else "unknown leaf")
        spec, handler = entry
        call = Call(self, spec, lp, full, mem, version=version)
        status = 0
        try:
            handler(call)
        except LeafExit as done:
            status = done.status
        except TdStopped as stop:
            record = CallRecord(consumed=_consumed(spec), outputs={}, status=0,
                                status_name="halted", state_after="STOPPED",
                                note=self._note(stop.note),
                                checks=tuple(call.trace), vmcall=stop.vmcall, **rec)
            self.records.append(record)
            return SeamReply({}, fault=HALT, record=record)
        return self._finish(rec, spec, status, call.out, tuple(call.trace), call.mem_written,
                            "; ".join(call.notes + call.mem_notes))

    def _finish(self, rec: dict, spec: LeafSpec | None, status: int, out: Mapping[str, int],
                trace: tuple[str, ...], written: list[tuple[int, int]], note: str) -> SeamReply:
        status &= MASK64
        changed = {r: v for r, v in out.items() if rec["inputs"].get(r) != v}
        record = CallRecord(consumed=_consumed(spec), outputs=changed, status=status,
                            status_name=status_name(status), state_after=RUNNABLE,
                            note=self._note(note),
                            memory_written=tuple(written), checks=trace, vmcall=self.vmcall,
                            **rec)
        self.records.append(record)
        return SeamReply({"rax": status, **out}, record=record)

    def _note(self, note: str) -> str:
        return "; ".join(n for n in (self.preface, note) if n)

    def log_lines(self) -> list[str]:
        from seamemu.model.module import format_record

        return [format_record(r) for r in self.records]


def _consumed(spec: LeafSpec | None) -> tuple[str, ...]:
    return ("rax",) if spec is None else ("rax", *(reg for reg, _ in spec.inputs))


__all__ = ["OPERAND_INVALID_RAX", "RUNNABLE", "TdGuest"]
