# SPDX-License-Identifier: MIT
"""What the SEAMCALL and TDCALL traps hand to whatever sits behind them, and what they get back.

Any object with these methods can stand behind a trap (the TDX module model, a test double,
a recorded replay), the way any function can stand in for an httpx transport.  SEAMCALL's
target is the module's host side (`SeamTarget`); a TD's TDCALL reaches the module's guest side
(`TdcallTarget`), which hands a TDG.VP.VMCALL on to the VMM (`Vmm`): three contracts, so the
machine knows neither the model nor the VMM, and the model does not know which VMM it exits to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple, Protocol

from seamemu.jsonout import Converter, JsonRecord, hex64, hex_map, hex_short, json_as, record_json


class GuestMemory(Protocol):
    """Guest physical memory as the module sees it (the machine provides it)."""

    def read(self, pa: int, size: int) -> bytes: ...

    def write(self, pa: int, data: bytes) -> None: ...

    def present(self, pa: int, size: int) -> bool: ...


# Instruction-level outcomes a reply may ask for instead of a status (fault injection, and the
# P-SEAMLDR's one-LP-at-a-time rule): the trap applies them as the CPU would.
INJECTABLE_FAULTS = ("#GP", "#UD", "VMfailInvalid")
# A target that stopped for good inside the call (Intel's module hit its fatal path): the
# SEAMCALL never returns; the machine stops the run and reports the record's note.
HALT = "halt"


def _ranges_json(ranges: tuple[tuple[int, int], ...]) -> list:
    return [[hex_short(pa), size] for pa, size in ranges]


@dataclass(frozen=True)
class VmcallRecord(JsonRecord):
    """One TDG.VP.VMCALL the VMM served: the sub-function, its registers, the R10 status."""

    seq: int
    lp: int
    subfunction: int = field(metadata=json_as(hex64))   # R11 (R10 = 0), or the vendor's R10
    name: str                       # "TDG.VP.VMCALL<GetTdVmCallInfo>", or "unknown"
    inputs: Mapping[str, int] = field(metadata=json_as(hex_map))   # what the module passed
    outputs: Mapping[str, int] = field(metadata=json_as(hex_map))  # what the VMM changed
    status: int = field(metadata=json_as(hex64))        # R10
    status_name: str
    note: str = ""


# CallRecord's document (a NamedTuple's fields carry no metadata).
_RECORD_KEYS = ("seq", "lp", "leaf", "leaf_name", "version", "inputs", "consumed", "outputs",
                "status", "status_name", "state_before", "state_after", "note", "injected",
                "memory_written", "checks")
_RECORD_CONVERT: Mapping[str, Converter] = MappingProxyType(
    {"inputs": hex_map, "outputs": hex_map, "status": hex64, "memory_written": _ranges_json})


class CallRecord(NamedTuple):
    """One SEAMCALL that reached the module: everything a test, a log or --json needs.

    A NamedTuple, not a frozen dataclass: one is built per emulated SEAMCALL, and a frozen
    dataclass's field-by-field __init__ cost as much as the rest of the module's bookkeeping."""

    seq: int
    lp: int
    leaf: int                       # RAX bits 15:0 (or the full RAX for P-SEAMLDR leaves)
    leaf_name: str                  # "TDH.SYS.INFO", or "unknown" / "not modelled"
    version: int
    # Every register the SEAMCALL ABI can carry (RAX, RCX, RDX, R8-R15, RBX, RDI, RSI) as it
    # was at the SEAMCALL, whether the leaf read it or not; `consumed` names the ones it read.
    inputs: Mapping[str, int]
    outputs: Mapping[str, int]
    status: int
    status_name: str
    state_before: str = ""
    state_after: str = ""
    note: str = ""                  # e.g. "not modelled", "injected", "P-SEAMLDR"
    injected: str | None = None
    memory_written: tuple[tuple[int, int], ...] = ()  # (pa, size) ranges the leaf wrote
    checks: tuple[str, ...] = ()    # ids of the leaf checks evaluated, in order
    consumed: tuple[str, ...] = ()  # the registers of `inputs` the leaf read (RAX first)
    vmcall: VmcallRecord | None = None  # a TD's TDG.VP.VMCALL: what the VMM did with it

    @property
    def consumed_inputs(self) -> dict[str, int]:
        """The inputs the leaf read, in the order the leaf lists them."""
        return {r: self.inputs[r] for r in self.consumed if r in self.inputs}

    def to_json(self) -> dict:
        # TDG.VP.VMCALL's record only when a TD's call made one (SEAMCALL documents lack it).
        doc = record_json(self, _RECORD_KEYS, _RECORD_CONVERT)
        return doc | {"vmcall": self.vmcall.to_json()} if self.vmcall is not None else doc


class AbiRegs(dict):
    """The registers a SEAMCALL hands its target, as the machine builds them: every register
    of `seamemu.arch.registers.ABI_ORDER`, each a plain int in 0..2**64-1, in a dict made for
    this one call.  A target may take them as they are (no validation, no copy); any other
    Mapping it must check (what a test or a replay hands in)."""

    __slots__ = ()


_NO_REGS: Mapping[str, int] = MappingProxyType({})


class SeamReply(NamedTuple):
    """The module's answer: the registers it changed (always `rax`), or an instruction fault.
    (A NamedTuple, like CallRecord: one is built per SEAMCALL.)"""

    regs: Mapping[str, int] = _NO_REGS
    fault: str | None = None        # one of INJECTABLE_FAULTS, HALT, or None
    record: CallRecord | None = None


class SeamTarget(Protocol):
    """What sits behind SEAMCALL: the TDX module and the P-SEAMLDR."""

    def module_loaded(self) -> bool: ...

    def pseamldr_present(self) -> bool: ...

    def pseamldr_busy(self, lp: int) -> bool: ...

    def seamcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply: ...


class TdcallTarget(Protocol):
    """What a TD's TDCALL reaches: the TDX module's guest side.

    `regs` holds every GPR in ABI order and RBP.  The reply's `regs` are the registers the
    module changed in the TD (always `rax`, the completion status; RBP only through a
    TDG.VP.VMCALL that passed it); `fault` HALT when the TD stopped for good inside the call
    (the VMM ended it), with the record's note saying why.
    """

    def tdcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply: ...


@dataclass(frozen=True)
class VmmReply:
    """The VMM's answer to a TDG.VP.VMCALL: the selected registers it changed, or a stop."""

    regs: Mapping[str, int] = field(default_factory=dict)
    record: VmcallRecord | None = None
    halt: str = ""                  # not empty: the VMM stopped the TD (and why)


class Vmm(Protocol):
    """Where the TDX module sends a TD's TDG.VP.VMCALL: the host's VMM (KVM and its user space).

    `regs` are the registers the TD selected in RCX (the others are not passed), and `rcx`,
    the selection itself.  A reply register the TD did not select is ignored by the module.
    """

    def tdvmcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> VmmReply: ...


__all__ = ["AbiRegs", "CallRecord", "GuestMemory", "HALT", "INJECTABLE_FAULTS", "SeamReply",
           "SeamTarget", "TdcallTarget", "VmcallRecord", "Vmm", "VmmReply"]
