# SPDX-License-Identifier: MIT
"""`seamemu demo`: the outcome matrix and one successful call, explained for a newcomer.

Every sentence about an outcome is built from what the emulator just did (the rule that
decided, the RAX that came back, the errno the kernel maps it to), not written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.kernel import errno_name, seamcall_errno
from seamemu.session.cmr import CmrReport, read_cmrs_info
from seamemu.session.matrix import DEFAULT_MATRIX_LEAF, MatrixRow, format_matrix, outcome_matrix
from seamemu.session.result import rax_name
from seamemu.session.session import Session
from seamemu.stubs import ARGS_STUB, DEFAULT_ENTRY


@dataclass(frozen=True)
class Demo:
    """What `seamemu demo` ran: the matrix and the CMR read, on one session."""

    session: Session
    rows: list[MatrixRow]
    report: CmrReport


def run_demo(platform=None, abi: str | None = None) -> Demo:
    s = Session(platform=platform, abi=abi)
    return Demo(s, outcome_matrix(platform=s.platform), read_cmrs_info(s))


def _first_per_outcome(rows: list[MatrixRow]) -> list[MatrixRow]:
    seen: dict[str, MatrixRow] = {}
    for r in rows:
        seen.setdefault(r.outcome, r)
    return list(seen.values())


def demo_json(d: Demo) -> dict:
    """What the demo showed, as JSON (schema 1): the platform, the matrix, the first row of
    each outcome with the kernel's errno, and the TDH.SYS.INFO call with the CMRs it wrote."""
    p, s = d.session.platform, d.session
    *setup, info = d.report.calls
    rec = info.calls[-1]
    return {
        "schema": 1,
        "platform": {"name": p.name, "lps": p.num_lps, "abi": s.module.abi, "cmrs": len(p.cmrs)},
        "stub": {"asm": f"asm/{ARGS_STUB}", "entry": DEFAULT_ENTRY},
        "matrix": {"leaf": DEFAULT_MATRIX_LEAF, "rows": [r.to_json() for r in d.rows]},
        "outcomes": [{"outcome": r.outcome, "rule": r.rule, "rax": f"0x{r.rax:016x}",
                      "rax_name": rax_name(r.rax), "errno": errno_name(seamcall_errno(r.rax))}
                     for r in _first_per_outcome(d.rows)],
        "abi_preserved": all(r.abi_preserved for r in d.rows),
        "call": {"setup": [c.to_json() for c in setup], "result": info.to_json()},
        "sysinfo": d.report.sysinfo,
        "cmr_entries_written": d.report.entries_written,
        "cmrs": [{"base": f"0x{b:016x}", "size": f"0x{n:016x}"} for b, n in d.report.cmrs],
        "leaf": rec.leaf_name,
    }


def demo_text(platform=None, abi: str | None = None, demo: Demo | None = None) -> str:
    d = demo or run_demo(platform, abi)
    s = d.session
    p = s.platform
    out = [
        "seamemu demo: the TDX SEAMCALL ABI on an emulated CPU, no TDX hardware needed",
        "",
        f"Platform '{p.name}': {p.packages} package(s) x {p.cores_per_package} core(s) x "
        f"{p.threads_per_core} thread(s) = {p.num_lps} logical processors; "
        f"TDX module ABI {s.module.abi}; {len(p.cmrs)} CMRs.",
        f"Stub: asm/{ARGS_STUB}, entry {DEFAULT_ENTRY} (the Linux kernel's TDX_MODULE_CALL shape),",
        "assembled by seamemu's front end over keystone and run on Unicorn.",
        "",
        f"1. The outcome matrix: leaf {DEFAULT_MATRIX_LEAF} (TDH.SYS.INIT) through {DEFAULT_ENTRY} "
        "under every CPU state",
        "",
    ]
    rows = d.rows
    out.append(format_matrix(rows))
    out += ["", "What happened, outcome by outcome (first row of each):"]
    for r in _first_per_outcome(rows):
        errno = seamcall_errno(r.rax)
        out.append(f"  {r.outcome:<14} {r.rule}")
        out.append(f"  {'':<14} -> RAX 0x{r.rax:016x} {rax_name(r.rax)}; the kernel returns "
                   f"{errno_name(errno)}")
    broken = [r for r in rows if not r.abi_preserved]
    out.append("  Callee-saved registers and RSP: " +
               ("preserved in every row." if not broken else f"BROKEN in {len(broken)} rows."))

    out += ["", "2. One successful call, explained: TDH.SYS.INFO writes the CMRs into guest memory", ""]
    report = d.report
    *setup, info = report.calls
    for call in setup:
        rec = call.calls[-1]
        out.append(f"  first {rec.leaf_name} on LP {call.lp}: {rec.status_name} "
                   f"(module state {rec.state_before} -> {rec.state_after})")
    rec = info.calls[-1]
    ev = info.events[-1]
    out.append(f"  then {rec.leaf_name} through {info.entry} on LP {info.lp}:")
    for reg, val in rec.consumed_inputs.items():
        out.append(f"    in  {reg.upper():<4} 0x{val:016x}")
    out.append(f"    SEAMCALL at {ev.symbol}: {ev.decision.rule}")
    out.append(f"    module: {rec.status_name}; wrote " + ", ".join(
        f"{n} bytes at 0x{a:x}" for a, n in sorted(set(rec.memory_written))))
    for reg, val in rec.outputs.items():
        out.append(f"    out {reg.upper():<4} 0x{val:016x}")
    si = report.sysinfo or {}
    out.append(f"  TDSYSINFO_STRUCT: vendor 0x{si.get('vendor_id', 0):x}, module "
               f"{si.get('major_version', 0)}.{si.get('minor_version', 0)} build {si.get('build_num', 0)}, "
               f"max {si.get('max_tdmrs', 0)} TDMRs, PAMT entry {si.get('pamt_entry_size', 0)} bytes")
    out.append(f"  CMR_INFO: {report.entries_written} entries written, {len(report.cmrs)} non-null "
               "(static since MCHECK verified them at boot):")
    for i, (base, size) in enumerate(report.cmrs):
        out.append(f"    CMR[{i}]: [0x{base:016x}, 0x{base + size:016x})  {size >> 20} MiB")
    out += ["", "Next: seamemu run --help, seamemu matrix --json, seamemu asm asm/seamcall.S"]
    return "\n".join(out)


__all__ = ["Demo", "demo_json", "demo_text", "run_demo"]
