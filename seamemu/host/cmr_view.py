# SPDX-License-Identifier: MIT
"""`seamemu cmr`: the CMRs as the module reports them through the stub, beside the memory map.

The CMRs are read the way the kernel reads them (seamemu.session.cmr: TDH.SYS.INFO on TDX
1.0, TDH.SYS.RD of NUM_CMRS / CMR_BASE[i] / CMR_SIZE[i] on 1.5); each memory-map region is
then marked with the CMRs that cover it, so a reader sees what is convertible.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.platform.facts import MemoryRegion
from seamemu.session import Session
from seamemu.session.cmr import read_cmrs
from seamemu.stubs import DEFAULT_ENTRY

GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10


@dataclass(frozen=True)
class RegionCoverage:
    region: MemoryRegion
    cmrs: tuple[int, ...]          # indices of the CMRs overlapping the region
    covered: int                   # bytes of the region inside some CMR

    @property
    def how(self) -> str:
        if self.covered == 0:
            return "none"
        return "full" if self.covered == self.region.size else "partial"


@dataclass(frozen=True)
class CmrView:
    platform: str
    abi: str
    method: str                                  # "TDH.SYS.INFO" or "TDH.SYS.RD"
    entry: str
    cmrs: tuple[tuple[int, int], ...]            # (base, size), non-null
    entries_written: int
    seamcalls: int
    memory_map: tuple[RegionCoverage, ...]
    module: str = ""                             # Session.module_label

    def to_json(self) -> dict:
        return {
            "schema": 1,
            "platform": self.platform,
            "abi": self.abi,
            "method": self.method,
            "entry": self.entry,
            "entries_written": self.entries_written,
            "seamcalls": self.seamcalls,
            "module": self.module,
            "cmrs": [{"base": f"0x{b:016x}", "size": f"0x{s:016x}"} for b, s in self.cmrs],
            "memory_map": [{
                "base": f"0x{c.region.base:016x}", "size": f"0x{c.region.size:016x}",
                "kind": c.region.kind, "node": c.region.node, "cmrs": list(c.cmrs),
                "covered": c.how,
            } for c in self.memory_map],
        }


def coverage(region: MemoryRegion, cmrs: tuple[tuple[int, int], ...]) -> RegionCoverage:
    hits, covered = [], 0
    for i, (base, size) in enumerate(cmrs):
        lo, hi = max(base, region.base), min(base + size, region.end)
        if lo < hi:
            hits.append(i)
            covered += hi - lo                   # CMRs never overlap (MCHECK checks it)
    return RegionCoverage(region, tuple(hits), covered)


def cmr_view(session: Session, lp: int = 0, method: str | None = None) -> CmrView:
    """Read the CMRs through DEFAULT_ENTRY on `lp` (TDH.SYS.INIT/LP.INIT first if needed),
    with TDH.SYS.INFO (`method` "info") or TDH.SYS.RD ("rd"; default: the generation's)."""
    report = read_cmrs(session, lp, DEFAULT_ENTRY, method)
    regions = sorted(session.platform.memory, key=lambda r: r.base)
    return CmrView(
        platform=session.platform.name, abi=session.module.abi, method=report.method,
        entry=DEFAULT_ENTRY, cmrs=report.cmrs, entries_written=report.entries_written,
        seamcalls=len(report.calls),
        memory_map=tuple(coverage(r, report.cmrs) for r in regions),
        module=session.module_label if session.module is not session.model else "")


def _size(n: int) -> str:
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} B"


def format_cmr_view(v: CmrView) -> str:
    how = ("NUM_CMRS" if v.method == "TDH.SYS.RD" else "R9 (entries written)")
    who = f" ({v.module})" if v.module else ""
    lines = [f"seamemu cmr: platform '{v.platform}', TDX module ABI {v.abi}{who}: {len(v.cmrs)} "
             f"CMRs read with {v.method} through {v.entry} ({how} = {v.entries_written}; "
             f"{v.seamcalls} SEAMCALLs)", "", "CMRs as the module reports them:"]
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


__all__ = ["CmrView", "RegionCoverage", "cmr_view", "coverage", "format_cmr_view"]
