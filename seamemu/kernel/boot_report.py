# SPDX-License-Identifier: MIT
"""What `seamemu boot` prints: the dmesg-like log, the outcome, and the JSON document."""

from __future__ import annotations

import json
from collections import Counter
from typing import IO

from seamemu.jsonout import hex64
from seamemu.kernel.bringup import BringUp
from seamemu.kernel.generations import generation
from seamemu.kernel.klog import errno_name


def outcome_text(b: BringUp) -> str:
    if b.refused == "oops":
        return "oops: a SEAMCALL faulted with no exception-table entry; the kernel dies"
    if b.refused:
        tail = "" if b.errno is None else f" ({b.errno} {errno_name(b.errno)})"
        return f"refused: {b.refused}{tail}"
    if b.errno == 0:
        return "module initialized (0)"
    return f"module initialization failed ({b.errno} {errno_name(b.errno)})"


def calls_by_leaf(b: BringUp) -> dict[str, int]:
    return dict(Counter(c.leaf_name for c in b.calls))


def format_bringup(b: BringUp) -> str:
    s = b.session
    head = (f"seamemu boot: kernel {b.kernel} ({generation(b.kernel).title}), platform "
            f"'{b.platform}', TDX module ABI {b.abi}")
    if s is not None and s.module is not s.model:       # say when Intel's module answered
        head += f" ({s.module_label})"
    if s is not None:
        p = s.platform
        head += (f", {p.packages} package(s) x {p.cores_per_package * p.threads_per_core} LPs, "
                 f"through asm/{s.asm[0].name}")
    lines = [head, ""]
    lines += [line.render() for line in b.log]
    if b.oops:
        lines += ["", "oops report (the fault the kernel could not fix up):"]
        lines += [f"  {line}" for line in b.oops.splitlines()]
    lines.append("")
    lines.append(f"result: {outcome_text(b)}; module state {b.state}")
    if b.tdmrs:
        covered = sum(t.size for t in b.tdmrs)
        freed = "" if b.ok or b.oops else " (freed on the error path)"
        lines.append(f"TDMRs: {len(b.tdmrs)} covering {covered >> 30} GiB; PAMT {b.pamt_kb} KB"
                     f"{freed}")
    if b.keyids is not None:
        k = b.keyids
        lines.append(f"KeyIDs: TDX [{k.first}, {k.first + k.count}), global {k.global_keyid}, "
                     f"guests [{k.first + 1}, {k.first + k.count})")
    per_leaf = ", ".join(f"{name} {n}" for name, n in calls_by_leaf(b).items())
    lines.append(f"SEAMCALLs: {len(b.calls)}{' (' + per_leaf + ')' if per_leaf else ''}; "
                 f"wall time {b.wall_s:.3f} s")
    return "\n".join(lines)


def bringup_json(b: BringUp) -> dict:
    info = b.sysinfo
    return {
        "schema": 1,
        "kernel": b.kernel,
        "platform": b.platform,
        "abi": b.abi,
        "module": b.session.module_label if b.session is not None else "",
        "use_tdx": b.use_tdx,
        "ok": b.ok,
        "errno": b.errno,
        "errno_name": errno_name(b.errno),
        "refused": b.refused,
        "oops": b.oops or None,
        "result": outcome_text(b),
        "state": b.state,
        "wall_s": round(b.wall_s, 6),
        "keyids": b.keyids.to_json() if b.keyids is not None else None,
        "sysinfo": info.to_json() if info is not None else None,
        "cmrs": [{"base": hex64(base), "size": hex64(size)}
                 for base, size in (info.cmrs if info is not None else ())],
        "tdx_memory": [m.to_json() for m in b.memlist],
        "tdmrs": [t.to_json() for t in b.tdmrs],
        "pamt_kb": b.pamt_kb,
        "key_config_lps": list(b.key_config_lps),
        "seamcalls": {"total": len(b.calls), "by_leaf": calls_by_leaf(b)},
        "log": [line.to_json() for line in b.log],
        "calls": [c.to_json() for c in b.calls],
    }


def write_call_log(b: BringUp, out: IO[str]) -> None:
    """Every SEAMCALL of the bring-up as JSON lines (one call record per line)."""
    for c in b.calls:
        out.write(json.dumps(c.to_json()) + "\n")


__all__ = ["bringup_json", "calls_by_leaf", "format_bringup", "outcome_text", "write_call_log"]
