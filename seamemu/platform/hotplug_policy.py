# SPDX-License-Identifier: MIT
"""The hotplug policy engine: pure decisions, and what an allowed event does to the platform.

`decide()` runs a policy's ordered rule table (hotplug_rules.py; the kernels' tables are in
seamemu.kernel.hotplug_policies) over an event, where its range lies relative to the CMRs, and
the kernel's situation.  `apply_hotplug()` returns the platform after
an event: memory appears or disappears in the memory map and LPs come and go, but the CMRs never
change (MCHECK verified them at boot).  `present()` is the predicate the machine backs guest
memory with, so an access or a SEAMCALL touching removed memory finds nothing there.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable

from seamemu.errors import InputError
from seamemu.jsonout import hex64
from seamemu.platform.events import (
    ADD_EVENTS,
    CPU_EVENTS,
    DRIVER_MEM_ADD,
    MEMORY_EVENTS,
    Decision,
    Event,
    Situation,
    covered,
)
from seamemu.platform.facts import MemoryRegion, Platform
from seamemu.platform.hotplug_rules import Policy
from seamemu.platform.units import cut_out, fmt_mem, fmt_range

_EMPTY_SLOT = "hotplug"


def decide(policy: Policy, event: Event, place: str, situation: Situation) -> Decision:
    """The first rule of `policy` that matches decides; its texts are filled in for `event`."""
    for rule in policy.rules:
        if rule.matches(event, place, situation):
            mem = fmt_mem(event.base, event.size) if event.kind in MEMORY_EVENTS else ""
            fill = {"mem": mem, "cpu": f"CPU {event.lp}", "start": f"0x{event.base:x}",
                    "end": f"0x{event.end:x}"}
            return Decision(rule.allow, rule.severity, rule.message.format(**fill), rule.id,
                            rule.source, rule.note.format(**fill))
    # Every policy ends in catch-all rules for each event; reaching here is a table bug.
    raise RuntimeError(f"policy {policy.name}: no rule for {event.describe()} ({place})")


def tdx_memory_blocks(platform: Platform) -> tuple[tuple[int, int], ...]:
    """The RAM the kernel hands the module at init: usable regions, adjacent ones merged."""
    blocks: list[list[int]] = []
    for m in sorted(platform.memory, key=lambda r: r.base):
        if m.kind != "usable":
            continue
        if blocks and blocks[-1][1] == m.base and blocks[-1][2] == m.node:
            blocks[-1][1] = m.end
        else:
            blocks.append([m.base, m.end, m.node])
    return tuple((b, e - b) for b, e, _ in blocks)


def convertible(platform: Platform) -> bool:
    """Every usable range lies in the CMRs (else TDH.SYS.CONFIG refuses the TDMRs)."""
    cmrs = [(c.base, c.end) for c in platform.cmrs]
    return all(covered(cmrs, b, b + n) == n for b, n in tdx_memory_blocks(platform))


def _carve(memory: tuple[MemoryRegion, ...], base: int, end: int) -> list[MemoryRegion]:
    """The memory map with [base, end) cut out of every region it touches."""
    return [dataclasses.replace(m, base=s, size=e - s)
            for m in memory for s, e in cut_out([(m.base, m.end)], base, end)]


def _normalise(regions: list[MemoryRegion]) -> tuple[MemoryRegion, ...]:
    """Sorted by base; adjacent RAM (or empty-slot) regions of one node merged.

    Only the kinds hotplug creates are merged, so reserved, ACPI and persistent entries keep
    the shape the description gave them.
    """
    out: list[MemoryRegion] = []
    for m in sorted(regions, key=lambda r: r.base):
        last = out[-1] if out else None
        if (last and last.end == m.base and last.kind == m.kind and last.node == m.node
                and m.kind in ("usable", _EMPTY_SLOT)):
            out[-1] = dataclasses.replace(last, size=last.size + m.size)
        else:
            out.append(m)
    return tuple(out)


def _apply_memory(p: Platform, e: Event) -> tuple[MemoryRegion, ...]:
    touching = [m for m in p.memory if m.base < e.end and e.base < m.end]
    if e.kind in ADD_EVENTS:
        # A driver may also hand present device memory to the kernel: dax/kmem onlines
        # persistent memory as System RAM.  ACPI hot-add only fills empty slots and holes.
        fillable = (_EMPTY_SLOT, "persistent") if e.kind == DRIVER_MEM_ADD else (_EMPTY_SLOT,)
        busy = [m for m in touching if m.kind not in fillable]
        if busy:
            b = busy[0]
            what = ("empty slots, holes or persistent memory" if e.kind == DRIVER_MEM_ADD
                    else "empty slots or holes")
            raise InputError(f"{e.describe()}: overlaps present {b.kind} memory "
                             f"{fmt_range(b.base, b.size)}; only {what} can gain memory")
        limit = 1 << (p.max_pa - p.keyid_bits)
        if e.end > limit:
            raise InputError(f"{e.describe()}: reaches above {hex64(limit)}, where the KeyID "
                             "bits of the physical address start")
        node = touching[0].node if touching else 0
        return _normalise(_carve(p.memory, e.base, e.end) + [MemoryRegion(e.base, e.size,
                                                                          "usable", node)])
    ram = [(m.base, m.end) for m in touching if m.kind == "usable"]
    if covered(ram, e.base, e.end) != e.size:
        raise InputError(f"{e.describe()}: not all of it is present RAM, so it cannot be removed")
    slots = [MemoryRegion(max(m.base, e.base), min(m.end, e.end) - max(m.base, e.base),
                          _EMPTY_SLOT, m.node) for m in touching]
    return _normalise(_carve(p.memory, e.base, e.end) + slots)


def apply_hotplug(platform: Platform, event: Event) -> Platform:
    """The platform after `event` took effect (call it only for an allowed event).

    Memory add: the range (an empty slot or a hole; for a driver add also persistent memory,
    as dax/kmem onlines it) becomes usable RAM.  Memory remove: the RAM
    becomes an empty slot, absent from then on.  CPU add/remove: the LP becomes present/absent.
    kexec changes nothing physical.  The CMRs are never touched.  Raises InputError when the
    event does not fit the platform (adding over present memory, removing what is not there).
    """
    memory, absent = platform.memory, platform.absent_lps
    if event.kind in MEMORY_EVENTS:
        memory = _apply_memory(platform, event)
    elif event.kind in CPU_EVENTS:
        lp = event.lp
        assert lp is not None  # Event requires it of a CPU event
        if lp >= platform.num_lps:
            raise InputError(f"{event.describe()}: LP {lp} is outside the topology "
                             f"(LPs 0..{platform.num_lps - 1})")
        adding = event.kind == "acpi-cpu-add"
        if adding != (lp in absent):
            state = "already present" if adding else "already absent"
            raise InputError(f"{event.describe()}: CPU {lp} is {state}")
        absent = absent - {lp} if adding else absent | {lp}
    return dataclasses.replace(platform, memory=memory, absent_lps=frozenset(absent),
                               hotplug_log=platform.hotplug_log + (event.describe(),))


def present(platform: Platform) -> Callable[[int, int], bool]:
    """A predicate (pa, size) -> whether every byte is backed by memory right now.

    Holes in the map and empty hot-pluggable slots (including removed memory) are not present.
    """
    spans: list[list[int]] = []
    for m in sorted(platform.memory, key=lambda r: r.base):
        if m.kind == _EMPTY_SLOT:
            continue
        if spans and spans[-1][1] >= m.base:
            spans[-1][1] = max(spans[-1][1], m.end)
        else:
            spans.append([m.base, m.end])
    starts = [s[0] for s in spans]

    def is_present(pa: int, size: int = 1) -> bool:
        i = bisect.bisect_right(starts, pa) - 1
        return i >= 0 and spans[i][0] <= pa and pa + max(size, 1) <= spans[i][1]

    return is_present


_LOGGED_RANGE = re.compile(r"^(\S+) \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]$")


def absence_reason(platform: Platform, pa: int) -> str | None:
    """Why nothing is at physical address `pa` (None when memory is there), for error reports."""
    if present(platform)(pa, 1):
        return None
    for entry in reversed(platform.hotplug_log):
        m = _LOGGED_RANGE.match(entry)
        if m and m.group(1).endswith("remove") and int(m.group(2), 16) <= pa <= int(m.group(3), 16):
            return f"{hex64(pa)} was hot-removed ({entry})"
    for region in platform.memory:
        if region.base <= pa < region.end:
            return (f"{hex64(pa)} lies in an empty hot-pluggable slot "
                    f"{fmt_range(region.base, region.size)}")
    return f"{hex64(pa)} lies in a hole of the memory map (no memory there)"


__all__ = [
    "absence_reason",
    "apply_hotplug",
    "convertible",
    "decide",
    "present",
    "tdx_memory_blocks",
]
