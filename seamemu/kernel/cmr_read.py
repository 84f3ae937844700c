# SPDX-License-Identifier: MIT
"""The one CMR reader: TDH.SYS.INFO's TDSYSINFO_STRUCT and CMR_INFO array, or TDH.SYS.RD.

Two users.  The v5-2022 bring-up reads the CMRs as that kernel did (tdsysinfo.py: this
module's TDH.SYS.INFO buffers and decoding, then its own check_cmrs()).  `seamemu cmr`, the
demo, the HTML report and the hotplug emulation read them as seamemu's own look at what the
module reports, which no merged kernel does: TDH.SYS.INFO on a TDX 1.0 module; on 1.5,
TDH.SYS.RD of NUM_CMRS, then CMR_BASE[i] and CMR_SIZE[i] for each i (the field IDs of Intel's
module sources, global_sys_fields_lookup.c).  Both go through whichever stub entry the caller
names, so the result is what that assembly hands back.

Spec: intel/tdx-module tdh_sys_info.c (RCX/RDX/R8/R9 inputs, R9 out = entries written, null
entries padding the 32), tdh_sys_rd.c; TDSYSINFO_STRUCT/CMR_INFO layouts in arch.sysinfo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seamemu.arch.leaves import TDH_SYS_INFO, TDH_SYS_INIT, TDH_SYS_LP_INIT, TDH_SYS_RD
from seamemu.arch.metadata import global_field
from seamemu.arch.sysinfo import (
    CMR_INFO_ARRAY_ALIGNMENT,
    CMR_INFO_ENTRY_SIZE,
    MAX_CMRS,
    TDSYSINFO_STRUCT,
    TDSYSINFO_STRUCT_ALIGNMENT,
    TDSYSINFO_STRUCT_SIZE,
    unpack_cmr_array,
)
from seamemu.errors import InputError, SeamemuError
from seamemu.kernel.port import KernelPort
from seamemu.kernel.wrappers import rax_name

CMR_ARRAY_BYTES = MAX_CMRS * CMR_INFO_ENTRY_SIZE


class CmrReadError(SeamemuError):
    """A SEAMCALL on the way to the CMRs did not succeed; the message names it."""


@dataclass(frozen=True)
class SysInfoBuffers:
    """Where TDH.SYS.INFO writes: TDSYSINFO_STRUCT (1 KiB-aligned) and the CMR_INFO array."""

    info_pa: int
    cmr_pa: int

    @property
    def inputs(self) -> dict[str, int]:
        return {"rcx": self.info_pa, "rdx": TDSYSINFO_STRUCT_SIZE, "r8": self.cmr_pa,
                "r9": MAX_CMRS}


def sys_info_buffers(port: KernelPort) -> SysInfoBuffers:
    return SysInfoBuffers(port.alloc(TDSYSINFO_STRUCT_SIZE, TDSYSINFO_STRUCT_ALIGNMENT),
                          port.alloc(CMR_ARRAY_BYTES, CMR_INFO_ARRAY_ALIGNMENT))


def decode_sys_info(port: KernelPort, bufs: SysInfoBuffers,
                    entries: int) -> tuple[dict[str, int], list[tuple[int, int]]]:
    """TDSYSINFO_STRUCT's integer fields and the first `entries` CMR_INFO entries (nulls too)."""
    mem = port.machine.memory
    si = TDSYSINFO_STRUCT.unpack(mem.read(bufs.info_pa, TDSYSINFO_STRUCT_SIZE))
    cmrs = unpack_cmr_array(mem.read(bufs.cmr_pa, CMR_ARRAY_BYTES), min(entries, MAX_CMRS))
    return {k: v for k, v in si.items() if isinstance(v, int)}, cmrs


@dataclass(frozen=True)
class CmrReport:
    method: str                           # "TDH.SYS.INFO" or "TDH.SYS.RD"
    cmrs: tuple[tuple[int, int], ...]     # (base, size), null entries dropped
    entries_written: int                  # R9 out for TDH.SYS.INFO, NUM_CMRS for TDH.SYS.RD
    calls: tuple[Any, ...]                # the RunResults of every call made
    sysinfo: dict | None = None           # TDSYSINFO_STRUCT fields (TDH.SYS.INFO)
    # Every entry as the module wrote it, null ones in their places (the first
    # `entries_written` of the CMR_INFO array): what the v5 kernel's check_cmrs() reads.
    entries: tuple[tuple[int, int], ...] = ()


def _ok(r: Any, what: str) -> Any:
    if r.outcome != "returned" or r.rax >> 63:
        raise CmrReadError(f"{what}: {r.outcome}, RAX 0x{r.rax:016x} ({rax_name(r.rax)})")
    return r


def ensure_lp_ready(port: KernelPort, lp: int, entry: str, convention: str = "args") -> list:
    """TDH.SYS.INIT once and TDH.SYS.LP.INIT on `lp`, as far as the module still needs them."""
    calls = []
    state = port.module.state
    if state.sys_state.name == "SYSINIT_PENDING":
        calls.append(_ok(port.call(entry, convention=convention, leaf=TDH_SYS_INIT, lp=lp),
                         "TDH.SYS.INIT"))
    if lp not in port.module.state.lp_init:
        calls.append(_ok(port.call(entry, convention=convention, leaf=TDH_SYS_LP_INIT, lp=lp),
                         f"TDH.SYS.LP.INIT on LP {lp}"))
    return calls


def read_cmrs_info(port: KernelPort, lp: int, entry: str, convention: str = "args") -> CmrReport:
    calls = ensure_lp_ready(port, lp, entry, convention)
    bufs = sys_info_buffers(port)
    r = _ok(port.call(entry, convention=convention, leaf=TDH_SYS_INFO, lp=lp,
                      inputs=bufs.inputs), "TDH.SYS.INFO")
    calls.append(r)
    n = r.out["r9"] if r.out is not None else MAX_CMRS
    sysinfo, entries = decode_sys_info(port, bufs, n)
    # The module pads with null (size 0) entries; only the real ones are CMRs.
    return CmrReport("TDH.SYS.INFO", tuple((b, s) for b, s in entries if s), n, tuple(calls),
                     sysinfo, tuple(entries))


def read_field(port: KernelPort, field_id: int, lp: int, entry: str,
               convention: str = "args") -> tuple[int, Any]:
    r = _ok(port.call(entry, convention=convention, leaf=TDH_SYS_RD, lp=lp,
                      inputs={"rdx": field_id}), f"TDH.SYS.RD 0x{field_id:016x}")
    return (r.out or {}).get("r8", 0), r


def read_cmrs_rd(port: KernelPort, lp: int, entry: str, convention: str = "args") -> CmrReport:
    calls = ensure_lp_ready(port, lp, entry, convention)
    n, r = read_field(port, global_field("NUM_CMRS").field_id, lp, entry, convention)
    calls.append(r)
    cmrs = []
    for i in range(min(n, MAX_CMRS)):
        base, rb = read_field(port, global_field("CMR_BASE").element_id(i), lp, entry,
                              convention)
        size, rs = read_field(port, global_field("CMR_SIZE").element_id(i), lp, entry,
                              convention)
        calls += [rb, rs]
        if size:
            cmrs.append((base, size))
    return CmrReport("TDH.SYS.RD", tuple(cmrs), n, tuple(calls))


READ_METHODS = ("info", "rd")     # TDH.SYS.INFO (1.0, kept by 1.5), TDH.SYS.RD (1.5)


def read_cmrs(port: KernelPort, lp: int, entry: str, convention: str = "args",
              method: str | None = None) -> CmrReport:
    """The CMRs as this module reports them, through `entry`: with `method` "info" or "rd",
    or (None) the way the module's own generation is read (INFO on 1.0, RD on 1.5)."""
    if method is None:
        method = "info" if port.module.abi == "1.0" else "rd"
    if method not in READ_METHODS:
        raise InputError(f"--method {method}: expected one of {', '.join(READ_METHODS)}")
    if method == "rd" and port.module.abi == "1.0":
        raise InputError("--method rd: a TDX 1.0 module has no TDH.SYS.RD (use --method info)")
    read = read_cmrs_info if method == "info" else read_cmrs_rd
    return read(port, lp, entry, convention)


__all__ = [
    "CMR_ARRAY_BYTES",
    "CmrReadError",
    "CmrReport",
    "READ_METHODS",
    "SysInfoBuffers",
    "TDH_SYS_INFO",
    "decode_sys_info",
    "ensure_lp_ready",
    "read_cmrs",
    "read_cmrs_info",
    "read_cmrs_rd",
    "read_field",
    "sys_info_buffers",
]
