# SPDX-License-Identifier: MIT
"""`seamemu demo`: the outcome matrix and one successful call, explained for a newcomer.

Every sentence about an outcome is built from what the emulator just did (the rule that
decided, the RAX that came back, the errno the kernel generation maps it to), not written by
hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.kernel import errno_name
from seamemu.jsonout import hex64
from seamemu.kernel import Generation, generation, stub_files
from seamemu.kernel.cmr_read import CmrReport, read_cmrs_info
from seamemu.kernel.wrappers import status_errno
from seamemu.session.matrix import DEFAULT_MATRIX_LEAF, MatrixRow, format_matrix, outcome_matrix
from seamemu.session.result import rax_name
from seamemu.session.session import Session


@dataclass(frozen=True)
class Demo:
    """What `seamemu demo` ran: the matrix and the CMR read, on one session."""

    session: Session
    kernel: Generation
    rows: list[MatrixRow]
    report: CmrReport


def run_demo(platform=None, abi: str | None = None, kernel: str | None = None) -> Demo:
    gen = generation(kernel)
    asm = stub_files(gen)
    s = Session(asm, platform=platform, abi=abi)
    rows = outcome_matrix(asm, gen.entry, convention=gen.convention, platform=s.platform,
                          tds=(False,))
    return Demo(s, gen, rows, read_cmrs_info(s, 0, gen.entry, gen.convention))


def _first_per_outcome(rows: list[MatrixRow]) -> list[MatrixRow]:
    seen: dict[str, MatrixRow] = {}
    for r in rows:
        seen.setdefault(r.outcome, r)
    return list(seen.values())


def _returns(r: MatrixRow) -> bool:
    """Whether the row's call came back to the kernel (no unhandled fault)."""
    return not r.status_name.startswith("no return")


def _errno(d: Demo, r: MatrixRow) -> str | None:
    """What the kernel's wrapper returns for the row, or None when the call never returned."""
    return errno_name(status_errno(d.kernel, r.rax, DEFAULT_MATRIX_LEAF)) if _returns(r) else None


def demo_json(d: Demo) -> dict:
    """What the demo showed, as JSON (schema 1): the platform, the kernel generation, the
    matrix, the first row of each outcome with that kernel's errno (null: the call never
    returned, an oops), and the TDH.SYS.INFO call with the CMRs it wrote."""
    p, s, gen = d.session.platform, d.session, d.kernel
    *setup, info = d.report.calls
    rec = info.calls[-1]
    return {
        "schema": 1,
        "kernel": gen.name,
        "platform": {"name": p.name, "lps": p.num_lps, "abi": s.module.abi, "cmrs": len(p.cmrs)},
        "stub": {"asm": f"asm/{gen.stub}", "entry": gen.entry, "convention": gen.convention},
        "matrix": {"leaf": DEFAULT_MATRIX_LEAF, "rows": [r.to_json() for r in d.rows]},
        "outcomes": [{"outcome": r.outcome, "rule": r.rule, "rax": hex64(r.rax),
                      "rax_name": rax_name(r.rax), "errno": _errno(d, r)}
                     for r in _first_per_outcome(d.rows)],
        "abi_preserved": all(r.abi_preserved for r in d.rows),
        "call": {"setup": [c.to_json() for c in setup], "result": info.to_json()},
        "sysinfo": d.report.sysinfo,
        "cmr_entries_written": d.report.entries_written,
        "cmrs": [{"base": hex64(b), "size": hex64(n)} for b, n in d.report.cmrs],
        "leaf": rec.leaf_name,
    }


def demo_text(platform=None, abi: str | None = None, demo: Demo | None = None,
              kernel: str | None = None) -> str:
    d = demo or run_demo(platform, abi, kernel)
    s, gen = d.session, d.kernel
    entry = gen.entry
    p = s.platform
    out = [
        "seamemu demo: the TDX SEAMCALL ABI on an emulated CPU, no TDX hardware needed",
        "",
        f"Platform '{p.name}': {p.packages} package(s) x {p.cores_per_package} core(s) x "
        f"{p.threads_per_core} thread(s) = {p.num_lps} logical processors; "
        f"TDX module ABI {s.module.abi}; {len(p.cmrs)} CMRs.",
        f"Kernel {gen.name}: {gen.title}.",
        f"Stub: asm/{gen.stub}, entry {entry} ({gen.convention} convention; SEAMCALL #GP/#UD "
        + ("caught by the exception table" if gen.extable else "not caught: an oops") + "),",
        "assembled by seamemu's front end over keystone and run on Unicorn.",
        "",
        f"1. The outcome matrix: leaf {DEFAULT_MATRIX_LEAF} (TDH.SYS.INIT) through {entry} "
        "under every CPU state",
        "",
    ]
    rows = d.rows
    out.append(format_matrix(rows))
    out += ["", "What happened, outcome by outcome (first row of each):"]
    for r in _first_per_outcome(rows):
        out.append(f"  {r.outcome:<14} {r.rule}")
        errno = _errno(d, r)
        if errno is None:
            out.append(f"  {'':<14} -> the call never returns: no exception-table entry, the "
                       "kernel oopses")
            continue
        out.append(f"  {'':<14} -> RAX 0x{r.rax:016x} {rax_name(r.rax)}; the kernel returns "
                   f"{errno}")
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
    out += ["", f"Next: seamemu boot --kernel {gen.name}, seamemu run --help, seamemu matrix "
                f"--json, seamemu asm asm/{gen.stub}"]
    return "\n".join(out)


__all__ = ["Demo", "demo_json", "demo_text", "run_demo"]
