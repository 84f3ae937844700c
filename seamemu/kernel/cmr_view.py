# SPDX-License-Identifier: MIT
"""`seamemu cmr`: the CMRs as the module reports them through a kernel's stub, beside the map.

With a generation that reads the CMRs (v5-2022: TDH.SYS.INFO and check_cmrs()), the view is
that kernel's read, its messages included.  The merged kernels read no CMR: the view is then
seamemu's own read (kernel.cmr_read: TDH.SYS.INFO on TDX 1.0, TDH.SYS.RD of NUM_CMRS /
CMR_BASE[i] / CMR_SIZE[i] on 1.5) through that generation's stub, and says so.  Each
memory-map region is marked with the CMRs that cover it, so a reader sees what is convertible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from seamemu.jsonout import JsonRecord, hex64, hex_span, json_as
from seamemu.kernel.cmr_read import TDH_SYS_INFO, read_cmrs
from seamemu.kernel.generations import Generation, generation
from seamemu.kernel.klog import KernelLog
from seamemu.kernel.port import KernelPort
from seamemu.kernel.tdsysinfo import check_cmrs
from seamemu.platform.facts import MemoryRegion

GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10


@dataclass(frozen=True)
class RegionCoverage(JsonRecord):
    region: MemoryRegion
    cmrs: tuple[int, ...]          # indices of the CMRs overlapping the region
    covered: int                   # bytes of the region inside some CMR

    def to_json(self) -> dict:
        # The region's own fields, then what covers it ("covered": how, not the byte count).
        r = self.region
        return {"base": hex64(r.base), "size": hex64(r.size), "kind": r.kind, "node": r.node,
                "cmrs": list(self.cmrs), "covered": self.how}

    @property
    def how(self) -> str:
        if self.covered == 0:
            return "none"
        return "full" if self.covered == self.region.size else "partial"


@dataclass(frozen=True)
class CmrView(JsonRecord):
    JSON_KEYS = ("schema", "kernel", "read_by", ("kernel_messages", "messages"), "problem",
                 "platform", "abi", "method", "entry", "entries_written", "seamcalls", "module",
                 "cmrs", "memory_map")
    schema: ClassVar[int] = 1

    kernel: str
    by_kernel: bool                              # the generation's own read, or seamemu's
    platform: str
    abi: str
    method: str                                  # "TDH.SYS.INFO" or "TDH.SYS.RD"
    entry: str
    cmrs: tuple[tuple[int, int], ...] = field(          # (base, size), non-null
        metadata=json_as(lambda spans: [hex_span(s) for s in spans]))
    entries_written: int
    seamcalls: int
    memory_map: tuple[RegionCoverage, ...]
    messages: tuple[str, ...] = ()               # what the kernel printed (its own read only)
    problem: str = field(default="",                     # why that kernel would refuse them
                         metadata=json_as(lambda why: why or None))
    module: str = ""                             # Session.module_label when not the model
    reads_cmrs: bool = False                     # whether the generation reads them at all

    @property
    def read_by(self) -> str:
        return "kernel" if self.by_kernel else "seamemu"


def coverage(region: MemoryRegion, cmrs: tuple[tuple[int, int], ...]) -> RegionCoverage:
    hits, covered = [], 0
    for i, (base, size) in enumerate(cmrs):
        lo, hi = max(base, region.base), min(base + size, region.end)
        if lo < hi:
            hits.append(i)
            covered += hi - lo                   # CMRs never overlap (MCHECK checks it)
    return RegionCoverage(region, tuple(hits), covered)


def cmr_view(session: KernelPort, lp: int = 0, kernel: Generation | str | None = None,
             method: str | None = None) -> CmrView:
    """Read the CMRs through the generation's entry on `lp` (TDH.SYS.INIT/LP.INIT first if
    needed); `session` runs that generation's stub.  `method` ("info" or "rd") asks for
    seamemu's own read that way instead of the kernel's."""
    gen = generation(kernel)
    if gen.reads_cmrs and method in (None, "info"):
        return _kernel_view(session, lp, gen)
    report = read_cmrs(session, lp, gen.entry, gen.convention, method)
    return _view(session, gen, False, report.method, report.cmrs, report.entries_written,
                 len(report.calls))


def _kernel_view(session: KernelPort, lp: int, gen: Generation) -> CmrView:
    """v5-2022: TDH.SYS.INFO as that kernel makes it, the entries checked as it checks them."""
    from seamemu.kernel.cmr_read import read_cmrs_info
    from seamemu.kernel.klog import KernelFailure

    report = read_cmrs_info(session, lp, gen.entry, gen.convention)
    log = KernelLog(gen.pr_fmt)
    problem = ""
    try:
        # The entries as written, nulls in place, as the bring-up's tdx_get_sysinfo() checks
        # them ([PATCH v5 11/22] check_cmrs(): a valid entry after a null one is a firmware
        # bug), so `cmr` and `boot` refuse the same layouts.
        check_cmrs(log, report.entries)
    except KernelFailure as failure:
        problem = f"check_cmrs() refuses them ({failure})"
    return _view(session, gen, True, "TDH.SYS.INFO", report.cmrs, report.entries_written,
                 len(report.calls), tuple(log.kernel_texts()), problem)


def _view(session: KernelPort, gen: Generation, by_kernel: bool, method: str,
          cmrs: tuple[tuple[int, int], ...], written: int, calls: int,
          messages: tuple[str, ...] = (), problem: str = "") -> CmrView:
    regions = sorted(session.platform.memory, key=lambda r: r.base)
    return CmrView(
        kernel=gen.name, by_kernel=by_kernel, platform=session.platform.name,
        abi=session.module.abi, method=method, entry=gen.entry, cmrs=cmrs,
        entries_written=written, seamcalls=calls,
        memory_map=tuple(coverage(r, cmrs) for r in regions), messages=messages,
        problem=problem, reads_cmrs=gen.reads_cmrs,
        module=session.module_label if session.module is not session.model else "")


def _size(n: int) -> str:
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} B"


def format_cmr_view(v: CmrView) -> str:
    how = ("NUM_CMRS" if v.method == "TDH.SYS.RD" else "R9 (entries written)")
    who = f" ({v.module})" if v.module else ""
    lines = [f"seamemu cmr: kernel {v.kernel}, platform '{v.platform}', TDX module ABI "
             f"{v.abi}{who}: {len(v.cmrs)} CMRs read with {v.method} through {v.entry} ({how} "
             f"= {v.entries_written}; {v.seamcalls} SEAMCALLs)"]
    if v.by_kernel:
        lines += ["", f"kernel {v.kernel} reads them itself at bring-up; what it prints:"]
        lines += [f"  {m}" for m in v.messages]
        if v.problem:
            lines.append(f"  => the bring-up would stop here: {v.problem}")
    elif v.reads_cmrs:
        lines += ["", f"seamemu: kernel {v.kernel} reads them with TDH.SYS.INFO at bring-up; "
                      f"this is seamemu's own read with {v.method}, as asked"]
    else:
        lines += ["", f"seamemu: kernel {v.kernel} reads no CMR (TDH.SYS.CONFIG checks the "
                      "TDMRs against them); this is seamemu's own read of what the module "
                      "reports"]
    lines += ["", "CMRs as the module reports them:"]
    for i, (base, size) in enumerate(v.cmrs):
        lines.append(f"  CMR[{i}]  [0x{base:016x}, 0x{base + size:016x})  {_size(size):>9}")
    lines += ["", "Platform memory map:"]
    for c in v.memory_map:
        r = c.region
        if c.how == "none":
            where = "outside every CMR"
        else:
            names = ", ".join(f"CMR[{i}]" for i in c.cmrs)
            where = f"in {names}" if c.how == "full" else f"partly in {names} " \
                f"({_size(c.covered)} of {_size(r.size)})"
        lines.append(f"  [0x{r.base:016x}, 0x{r.end:016x})  {_size(r.size):>9}  "
                     f"{r.kind:<10} node {r.node}  {where}")
    return "\n".join(lines)


__all__ = ["CmrView", "RegionCoverage", "TDH_SYS_INFO", "cmr_view", "coverage",
           "format_cmr_view"]
