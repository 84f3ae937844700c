# SPDX-License-Identifier: MIT
"""The module's SEAMCALL dispatcher: decode RAX, admit or refuse the leaf, run its handler and
record the call.

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/tdx_vmm_dispatcher.c (M15: reserved RAX bits
and versions first, then SYS_SHUTDOWN, then "not READY", then the leaf switch whose default is
TDX_OPERAND_INVALID(RAX)); qizhangz/tdx-module same file (M10: the whole RAX is the leaf
number, no reserved/version check, same admission order); intel/tdx-loader (81bf312)
p-seam-loader/src/pseamldr_dispatcher/pseamldr_dispatcher.c (unknown loader leaf:
PSEAMLDR_EBADPARAM).
A leaf the model does not implement answers TDX_OPERAND_INVALID(RAX) (PSEAMLDR_EBADPARAM for
the loader) once admitted, and says "not modelled" in the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from seamemu.arch.leaves import (
    RAX_LEAF_MASK,
    RAX_RESERVED_MASK,
    RAX_VERSION_SHIFT,
    SEAMLDR_MODE_BIT,
    leaf_info,
    seamldr_leaf_info,
)
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.status import MASK64, SeamldrStatus, TdxStatus, status_name, with_operand
from seamemu.model.context import Call, LeafExit, MemAccess, injection_matches
from seamemu.model.inject import impossible_status, status_possible
from seamemu.model.leaf_spec import LeafSpec, handler_for
from seamemu.model.module_state import SysState
from seamemu.traps.target import CallRecord, GuestMemory, SeamReply

if TYPE_CHECKING:  # pragma: no cover
    from seamemu.model.module import TdxModule


OPERAND_INVALID_RAX = with_operand(TdxStatus.TDX_OPERAND_INVALID, "RAX")


@dataclass(frozen=True)
class Decoded:
    """RAX as this module reads it."""

    loader: bool
    leaf: int           # module leaf number (1.5: bits 15:0; 1.0: all of RAX) or loader RAX
    version: int
    name: str           # spec name, or "unknown"
    reserved_bits: bool = False
    bad_version: bool = False
    before_ready: bool = False
    in_shutdown: bool = False


def decode_rax(rax: int, abi: str) -> Decoded:
    rax &= MASK64
    if rax & SEAMLDR_MODE_BIT:
        ldr = seamldr_leaf_info(rax)
        return Decoded(True, rax, 0, ldr.name if ldr else "unknown")
    if abi == "1.0":
        leaf, version = rax, 0
    else:
        leaf, version = rax & RAX_LEAF_MASK, (rax >> RAX_VERSION_SHIFT) & 0xFF
    info = leaf_info(leaf, abi)
    return Decoded(
        loader=False, leaf=leaf, version=version, name=info.name if info else "unknown",
        reserved_bits=abi != "1.0" and bool(rax & RAX_RESERVED_MASK),
        bad_version=version > 0 and not (info and info.versioned),
        before_ready=bool(info and info.before_ready),
        in_shutdown=bool(info and info.in_shutdown),
    )


def _admission(module: TdxModule, d: Decoded) -> tuple[int, str] | None:
    """The dispatcher's own answer before any handler runs, or None to go on."""
    if d.reserved_bits:
        return OPERAND_INVALID_RAX, "reserved RAX bits set"
    if d.bad_version:
        return OPERAND_INVALID_RAX, f"version {d.version} not supported by this leaf"
    st = module.state.sys_state
    if st == SysState.SYS_SHUTDOWN and not d.in_shutdown:
        return TdxStatus.TDX_SYS_SHUTDOWN, "module is shut down"
    if st not in (SysState.SYS_READY, SysState.SYS_SHUTDOWN) and not d.before_ready:
        return TdxStatus.TDX_SYS_NOT_READY, "leaf not admitted before SYS_READY"
    return None


def dispatch(module: TdxModule, lp: int, regs: Mapping[str, int],
             mem: GuestMemory) -> SeamReply:
    """One SEAMCALL from `lp`: never raises for any register values."""
    return dispatch_full(module, lp, {name: regs.get(name, 0) & MASK64 for name in ABI_ORDER},
                         mem)


def dispatch_full(module: TdxModule, lp: int, regs: dict[str, int],
                  mem: GuestMemory) -> SeamReply:
    """dispatch() for `regs` that already hold every ABI_ORDER register reduced to 64 bits
    (TdxModule.seamcall builds them while validating)."""
    rax = regs["rax"]
    seq = module.next_seq()
    before = module.state_name()
    # Every call decodes RAX and the same few leaves recur: each module keeps what it decoded
    # (Decoded is frozen), so a module built after the leaf tables change sees the change.
    d = module.decoded.get(rax)
    if d is None:
        if len(module.decoded) > 4096:
            module.decoded.clear()
        d = module.decoded[rax] = decode_rax(rax, module.abi)
    rec: dict[str, Any] = dict(seq=seq, lp=lp, leaf=d.leaf, leaf_name=d.name,
                               version=d.version, state_before=before)

    def fault(kind: str, note: str, injected: str | None = None) -> SeamReply:
        record = CallRecord(inputs=dict(regs), consumed=("rax",), outputs={}, status=rax,
                            status_name=kind,
                            state_after=module.state_name(), note=note, injected=injected,
                            **rec)
        module.records.append(record)
        return SeamReply(regs={}, fault=kind, record=record)

    if d.loader and not module.pseamldr_present():
        return fault("VMfailInvalid", "no P-SEAMLDR on this platform")
    if d.loader and module.pseamldr_busy(lp):
        return fault("VMfailInvalid", "another LP is inside the P-SEAMLDR")
    if not d.loader and not module.module_loaded():
        return fault("VMfailInvalid", "no TDX module loaded (SEAM_READY clear)")

    entry = handler_for(d.leaf, loader=d.loader, abi=module.abi)
    spec: LeafSpec | None = entry[0] if entry else None
    rule = module.injector.match(seq, lp, d.leaf, d.name) if module.injector else None
    if rule is not None and rule.fault:
        return fault(rule.fault, "injected", injected=rule.text)

    pending = None
    injected = None
    if rule is not None:
        injected, status = rule.text, rule.status
        assert status is not None  # a rule that injects no fault injects a status
        impossible = ""
        if spec is not None and rule.status is not None:
            if rule.impossible:
                if not status_possible(rule.status, spec.possible_statuses(module.abi),
                                       loader=d.loader):
                    impossible = (f"; impossible on real hardware: {spec.name} never returns "
                                  f"{_status_name(rule.status, d.loader, module.profile.statuses)}")
            else:
                # A rule with a leaf selector was checked when the module was built; this
                # catches rules that select calls by number or LP only.
                impossible_status(spec, rule, module.abi)
        points = [c for c in spec.checks_for(module.abi) if c.inject and
                  (rule.at is None or c.id == rule.at)] if spec else []
        if not impossible and any(injection_matches(status, c.status, loader=d.loader)
                                  for c in points):
            pending = status
        else:
            out = dict(spec.on_entry) if spec else {}
            return _finish(module, rec, regs, spec, status, out, (), [],
                           f"injected: {rule.text} (replaced the call{impossible})", injected,
                           d.loader)

    if not d.loader:
        refused = _admission(module, d)
        if refused is not None:
            note = refused[1]
            if spec is None and not (d.reserved_bits or d.bad_version):
                # The real module's answer, but the record still says the model has no leaf.
                note += "; " + ("not modelled" if leaf_info(d.leaf, module.abi)
                                else "unknown leaf")
            note += "; injection not reached" if pending is not None else ""
            return _finish(module, rec, regs, spec, refused[0], {}, (), [], note, injected,
                           d.loader)
    if spec is None:
        known = (seamldr_leaf_info(d.leaf) if d.loader else leaf_info(d.leaf, module.abi))
        status = SeamldrStatus.PSEAMLDR_EBADPARAM if d.loader else OPERAND_INVALID_RAX
        return _finish(module, rec, regs, None, status, {}, (), [],
                       "not modelled" if known else "unknown leaf", injected, d.loader)

    call = Call(module, spec, lp, regs, MemAccess(mem), version=d.version,
                injected_status=pending, injected_at=rule.at if rule is not None else None)
    status = 0
    try:
        entry[1](call)
    except LeafExit as done:
        status = done.status
    notes = call.notes + call.mem.notes
    if pending is not None:
        notes.append(f"injected at check {call.injection_applied}" if call.injection_applied
                     else "injection not reached")
    return _finish(module, rec, regs, spec, status, call.out, tuple(call.trace),
                   call.mem.written, "; ".join(notes), injected, d.loader)


# Naming a status decodes its detail bytes; the few statuses a run produces recur.
@lru_cache(maxsize=4096)
def _status_name(status: int, loader: bool, table: str) -> str:
    return status_name(status, loader=loader, table=table)


# id(spec) -> (spec, RAX and its input registers); holding the spec keeps its id unique.
_CONSUMED: dict[int, tuple[LeafSpec, tuple[str, ...]]] = {}


def _consumed(spec: LeafSpec | None) -> tuple[str, ...]:
    """The registers a leaf reads: RAX, then its spec's inputs (one tuple per spec)."""
    if spec is None:
        return ("rax",)
    found = _CONSUMED.get(id(spec))
    if found is None:
        found = _CONSUMED[id(spec)] = (spec, ("rax", *(reg for reg, _meaning in spec.inputs)))
    return found[1]


def _finish(module: TdxModule, rec: dict, regs: Mapping[str, int], spec: LeafSpec | None,
            status: int, out: Mapping[str, int], trace: tuple[str, ...],
            written: list[tuple[int, int]], note: str, injected: str | None,
            loader: bool) -> SeamReply:
    status &= MASK64
    consumed = _consumed(spec)
    record = CallRecord(inputs=dict(regs), consumed=consumed, outputs=dict(out), status=status,
                        status_name=_status_name(status, loader, module.profile.statuses),
                        state_after=module.state_name(), note=note, injected=injected,
                        memory_written=tuple(written), checks=trace, **rec)
    module.records.append(record)
    return SeamReply(regs={"rax": status, **out}, fault=None, record=record)


__all__ = ["Decoded", "OPERAND_INVALID_RAX", "decode_rax", "dispatch", "dispatch_full"]
