# SPDX-License-Identifier: MIT
"""The module's SEAMCALL dispatcher: decode RAX, admit or refuse the leaf, run its handler and
record the call.

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/tdx_vmm_dispatcher.c (M15: reserved RAX bits
and versions first, then SYS_SHUTDOWN, then "not READY", then the leaf switch whose default is
TDX_OPERAND_INVALID(RAX)); the same file at intel/tdx-module 1666adc (2.0.08: after the
reserved bits, is_valid_tdx_io_host_call() refuses the TDX-IO leaves 128..166 with
TDX_OPERAND_INVALID(RAX) on a platform without TDX-IO, before the version and state checks;
the modelled platforms have no TDX-IO: MCHECK's io_sys_info_table_version is 0, which
tdh_sys_init.c is_tdx_io_supported() reads); qizhangz/tdx-module same file (M10: the whole RAX is the leaf
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
from typing import TYPE_CHECKING

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
from seamemu.model.context import Call, LeafExit, injection_matches
from seamemu.model.inject import impossible_status, status_possible
from seamemu.model.leaf_spec import LeafSpec, handler_for
from seamemu.model.module_state import SysState
from seamemu.traps.target import CallRecord, GuestMemory, SeamReply

if TYPE_CHECKING:  # pragma: no cover
    from seamemu.model.module import TdxModule


OPERAND_INVALID_RAX = with_operand(TdxStatus.TDX_OPERAND_INVALID, "RAX")
# A call record's first fields: (seq, lp, leaf, leaf_name, version, inputs).
_Head = tuple[int, int, int, str, int, Mapping[str, int]]


@dataclass(frozen=True)
class Decoded:
    """RAX as this module reads it."""

    loader: bool
    leaf: int           # module leaf number (1.5: bits 15:0; 1.0: all of RAX) or loader RAX
    version: int
    name: str           # spec name, or "unknown"
    reserved_bits: bool = False
    no_tdx_io: bool = False         # 2.0 TDX-IO leaf on a platform without TDX-IO
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
        no_tdx_io=bool(info and info.tdx_io),
        bad_version=version > 0 and not (info and info.versioned_in(abi)),
        before_ready=bool(info and info.before_ready),
        in_shutdown=bool(info and info.in_shutdown),
    )


def _admission(module: TdxModule, d: Decoded) -> tuple[int, str] | None:
    """The dispatcher's own answer before any handler runs, or None to go on."""
    if d.reserved_bits:
        return OPERAND_INVALID_RAX, "reserved RAX bits set"
    if d.no_tdx_io:
        return OPERAND_INVALID_RAX, "TDX-IO leaf: the platform has no TDX-IO (TDX Connect)"
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


def dispatch_full(module: TdxModule, lp: int, regs: Mapping[str, int],
                  mem: GuestMemory) -> SeamReply:
    """dispatch() for `regs` that already hold every ABI_ORDER register reduced to 64 bits
    (TdxModule.seamcall builds them while validating, or takes the machine's AbiRegs); the
    call record keeps `regs` itself, so the caller hands over a mapping nobody changes."""
    rax = regs["rax"]
    seq = module.next_seq()
    before = module.state_name()
    # Every call decodes RAX and the same few leaves recur: each module keeps what it decoded
    # (Decoded is frozen), so a module built after the leaf tables change sees the change.
    # The leaf's (spec, handler) is kept with it: the registry is filled at import.
    known = module.decoded.get(rax)
    if known is None:
        if len(module.decoded) > 4096:
            module.decoded.clear()
        dec = decode_rax(rax, module.abi)
        known = module.decoded[rax] = (dec, handler_for(dec.leaf, loader=dec.loader,
                                                        abi=module.abi))
    d, entry = known
    head: _Head = (seq, lp, d.leaf, d.name, d.version, regs)

    if d.loader:
        if not module.pseamldr_present():
            return _fault(module, head, before, "VMfailInvalid", "no P-SEAMLDR on this platform")
        if module.pseamldr_busy(lp):
            return _fault(module, head, before, "VMfailInvalid",
                          "another LP is inside the P-SEAMLDR")
    elif not module.module_loaded():
        return _fault(module, head, before, "VMfailInvalid",
                      "no TDX module loaded (SEAM_READY clear)")

    spec: LeafSpec | None = entry[0] if entry else None
    rule = module.injector.match(seq, lp, d.leaf, d.name) if module.injector else None
    if rule is not None and rule.fault:
        return _fault(module, head, before, rule.fault, "injected", injected=rule.text)

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
            return _finish(module, head, before, spec, status, out, (), (),
                           f"injected: {rule.text} (replaced the call{impossible})", injected,
                           d.loader)

    # A plain leaf on a READY module is admitted (_admission's every test passes): the
    # common case skips the call.
    if not d.loader and (d.reserved_bits or d.no_tdx_io or d.bad_version or
                         module.state.sys_state is not SysState.SYS_READY):
        refused = _admission(module, d)
        if refused is not None:
            note = refused[1]
            if spec is None and not (d.reserved_bits or d.bad_version or d.no_tdx_io):
                # The real module's answer, but the record still says the model has no leaf.
                note += "; " + ("not modelled" if leaf_info(d.leaf, module.abi)
                                else "unknown leaf")
            note += "; injection not reached" if pending is not None else ""
            return _finish(module, head, before, spec, refused[0], {}, (), (), note, injected,
                           d.loader)
    if spec is None:
        info = (seamldr_leaf_info(d.leaf) if d.loader else leaf_info(d.leaf, module.abi))
        status = SeamldrStatus.PSEAMLDR_EBADPARAM if d.loader else OPERAND_INVALID_RAX
        return _finish(module, head, before, None, status, {}, (), (),
                       "not modelled" if info else "unknown leaf", injected, d.loader)

    assert entry is not None  # spec came from it
    call = Call(module, spec, lp, regs, mem, d.version, pending,
                rule.at if rule is not None else None)
    status = 0
    try:
        entry[1](call)
    except LeafExit as done:
        status = done.status
    notes = call.notes + call.mem_notes if call.notes or call.touched_memory else []
    if pending is not None:
        notes.append(f"injected at check {call.injection_applied}" if call.injection_applied
                     else "injection not reached")
    return _finish(module, head, before, spec, status, call.out, tuple(call.trace),
                   tuple(call.mem_written) if call.touched_memory else (),
                   "; ".join(notes) if notes else "", injected, d.loader)


def _fault(module: TdxModule, head: _Head, before: str, kind: str, note: str,
           injected: str | None = None) -> SeamReply:
    """A call the dispatcher answers with an instruction-level outcome instead of a status."""
    record = CallRecord(*head, {}, head[5]["rax"], kind, before, module.state_name(), note,
                        injected, (), (), ("rax",))
    module.records.append(record)
    return SeamReply(regs={}, fault=kind, record=record)


# Naming a status decodes its detail bytes; the few statuses a run produces recur.
@lru_cache(maxsize=4096)
def _status_name(status: int, loader: bool, table: str) -> str:
    return status_name(status, loader=loader, table=table)


def _consumed(spec: LeafSpec | None) -> tuple[str, ...]:
    """The registers a leaf reads: RAX, then its spec's inputs."""
    return ("rax",) if spec is None else spec.consumed


def _finish(module: TdxModule, head: _Head, before: str, spec: LeafSpec | None, status: int,
            out: dict[str, int], trace: tuple[str, ...], written: tuple[tuple[int, int], ...],
            note: str, injected: str | None, loader: bool) -> SeamReply:
    # `head` is (seq, lp, leaf, leaf_name, version, inputs); `out` is the call's own dict.
    status &= MASK64
    # Every field, in CallRecord's order, through tuple.__new__: NamedTuple's own __new__ is
    # a Python function, and one record is built per emulated SEAMCALL.
    record = _new(CallRecord, (*head, out, status,
                               _status_name(status, loader, module.profile.statuses),
                               before, module.state_name(), note, injected, written, trace,
                               ("rax",) if spec is None else spec.consumed, None))
    module.records.append(record)
    regs = {"rax": status}
    regs.update(out)
    return _new(SeamReply, (regs, None, record))


_new = tuple.__new__
# _finish lists every field by position: a field added to either must be added there too.
assert CallRecord._fields[-1] == "vmcall" and len(CallRecord._fields) == 17
assert SeamReply._fields == ("regs", "fault", "record")


__all__ = ["Decoded", "OPERAND_INVALID_RAX", "decode_rax", "dispatch", "dispatch_full"]
