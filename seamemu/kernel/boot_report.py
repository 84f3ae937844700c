# SPDX-License-Identifier: MIT
"""What `seamemu boot` prints: the dmesg-like log, the outcome, and the JSON document."""

from __future__ import annotations

import json
from typing import IO

from seamemu.kernel.bringup import BringUp
from seamemu.kernel.generations import generation


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
    lines.append(f"result: {b.result}; module state {b.state}")
    if b.tdmrs:
        covered = sum(t.size for t in b.tdmrs)
        freed = "" if b.ok or b.oops else " (freed on the error path)"
        lines.append(f"TDMRs: {len(b.tdmrs)} covering {covered >> 30} GiB; PAMT {b.pamt_kb} KB"
                     f"{freed}")
    if b.keyids is not None:
        k = b.keyids
        lines.append(f"KeyIDs: TDX [{k.first}, {k.first + k.count}), global {k.global_keyid}, "
                     f"guests [{k.first + 1}, {k.first + k.count})")
    per_leaf = ", ".join(f"{name} {n}" for name, n in b.calls_by_leaf.items())
    lines.append(f"SEAMCALLs: {len(b.calls)}{' (' + per_leaf + ')' if per_leaf else ''}; "
                 f"wall time {b.wall_s:.3f} s")
    return "\n".join(lines)


def bringup_json(b: BringUp) -> dict:
    """`seamemu boot --json` (schema 1)."""
    return b.to_json()


def write_call_log(b: BringUp, out: IO[str]) -> None:
    """Every SEAMCALL of the bring-up as JSON lines (one call record per line)."""
    for c in b.calls:
        out.write(json.dumps(c.to_json()) + "\n")


__all__ = ["bringup_json", "format_bringup", "write_call_log"]
