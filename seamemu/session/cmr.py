# SPDX-License-Identifier: MIT
"""Read the CMRs the way the kernel does, through the assembly stub: TDH.SYS.INFO on TDX 1.0,
TDH.SYS.RD of NUM_CMRS / CMR_BASE[i] / CMR_SIZE[i] on TDX 1.5.

Spec: Linux (pre-6.8 forks) arch/x86/virt/vmx/tdx/tdx.c get_tdx_sysinfo()/print_cmrs();
2024 series get_tdx_sys_info_cmr(); intel/tdx-module tdh_sys_info.c, tdh_sys_rd.c.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
from seamemu.session.result import RunResult, rax_name
from seamemu.session.session import Session
from seamemu.stubs import DEFAULT_ENTRY


class CmrReadError(SeamemuError):
    """A SEAMCALL on the way to the CMRs did not succeed; the message names it."""


@dataclass(frozen=True)
class CmrReport:
    method: str                           # "TDH.SYS.INFO" or "TDH.SYS.RD"
    cmrs: tuple[tuple[int, int], ...]     # (base, size), null entries dropped
    entries_written: int                  # R9 out for TDH.SYS.INFO, NUM_CMRS for TDH.SYS.RD
    calls: tuple[RunResult, ...]
    sysinfo: dict | None = None           # TDSYSINFO_STRUCT fields (1.0 path)


def _ok(r: RunResult, what: str) -> RunResult:
    if r.outcome != "returned" or r.rax >> 63:
        raise CmrReadError(f"{what}: {r.outcome}, RAX 0x{r.rax:016x} ({rax_name(r.rax)})")
    return r


def ensure_lp_ready(s: Session, lp: int, entry: str = DEFAULT_ENTRY) -> list[RunResult]:
    """TDH.SYS.INIT once and TDH.SYS.LP.INIT on `lp`, as far as the module still needs them."""
    calls = []
    if s.module.state.sys_state.name == "SYSINIT_PENDING":
        calls.append(_ok(s.call(entry, leaf=TDH_SYS_INIT, lp=lp), "TDH.SYS.INIT"))
    if lp not in s.module.state.lp_init:
        calls.append(_ok(s.call(entry, leaf=TDH_SYS_LP_INIT, lp=lp), f"TDH.SYS.LP.INIT on LP {lp}"))
    return calls


def read_cmrs_info(s: Session, lp: int = 0, entry: str = DEFAULT_ENTRY) -> CmrReport:
    calls = ensure_lp_ready(s, lp, entry)
    info = s.alloc(TDSYSINFO_STRUCT_SIZE, TDSYSINFO_STRUCT_ALIGNMENT)
    array = s.alloc(MAX_CMRS * CMR_INFO_ENTRY_SIZE, CMR_INFO_ARRAY_ALIGNMENT)
    r = _ok(s.call(entry, leaf=TDH_SYS_INFO, lp=lp, inputs={
        "rcx": info, "rdx": TDSYSINFO_STRUCT_SIZE, "r8": array, "r9": MAX_CMRS}), "TDH.SYS.INFO")
    calls.append(r)
    mem = s.machine.memory
    n = _out(r)["r9"]
    # The module pads with null (size 0) entries; only the real ones are CMRs.
    cmrs = [(base, size) for base, size in
            unpack_cmr_array(mem.read(array, MAX_CMRS * CMR_INFO_ENTRY_SIZE), n) if size]
    sysinfo = TDSYSINFO_STRUCT.unpack(mem.read(info, TDSYSINFO_STRUCT_SIZE))
    sysinfo = {k: v for k, v in sysinfo.items() if isinstance(v, int)}
    return CmrReport("TDH.SYS.INFO", tuple(cmrs), n, tuple(calls), sysinfo)


def read_field(s: Session, field_id: int, lp: int = 0, entry: str = DEFAULT_ENTRY) -> tuple[int, RunResult]:
    r = _ok(s.call(entry, leaf=TDH_SYS_RD, lp=lp, inputs={"rdx": field_id}),
            f"TDH.SYS.RD 0x{field_id:016x}")
    return _out(r)["r8"], r


def _out(r: RunResult) -> Mapping[str, int]:
    """The output registers of a call _ok() accepted (it returned, so they were read)."""
    assert r.out is not None
    return r.out


def read_cmrs_rd(s: Session, lp: int = 0, entry: str = DEFAULT_ENTRY) -> CmrReport:
    calls = ensure_lp_ready(s, lp, entry)
    n, r = read_field(s, global_field("NUM_CMRS").field_id, lp, entry)
    calls.append(r)
    cmrs = []
    for i in range(min(n, MAX_CMRS)):
        base, rb = read_field(s, global_field("CMR_BASE").element_id(i), lp, entry)
        size, rs = read_field(s, global_field("CMR_SIZE").element_id(i), lp, entry)
        calls += [rb, rs]
        if size:
            cmrs.append((base, size))
    return CmrReport("TDH.SYS.RD", tuple(cmrs), n, tuple(calls))


READ_METHODS = ("info", "rd")     # TDH.SYS.INFO (1.0, kept by 1.5), TDH.SYS.RD (1.5)


def read_cmrs(s: Session, lp: int = 0, entry: str = DEFAULT_ENTRY,
              method: str | None = None) -> CmrReport:
    """The CMRs as this session's module reports them: with `method` "info" or "rd", or (None)
    the way the kernel of the module's generation reads them."""
    if method is None:
        method = "info" if s.module.abi == "1.0" else "rd"
    if method not in READ_METHODS:
        raise InputError(f"--method {method}: expected one of {', '.join(READ_METHODS)}")
    if method == "rd" and s.module.abi == "1.0":
        raise InputError("--method rd: a TDX 1.0 module has no TDH.SYS.RD (use --method info)")
    return read_cmrs_info(s, lp, entry) if method == "info" else read_cmrs_rd(s, lp, entry)


__all__ = [
    "CmrReadError",
    "CmrReport",
    "READ_METHODS",
    "ensure_lp_ready",
    "read_cmrs",
    "read_cmrs_info",
    "read_cmrs_rd",
    "read_field",
]
