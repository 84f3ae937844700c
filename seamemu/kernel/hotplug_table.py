# SPDX-License-Identifier: MIT
"""The full decision table (every event x place x use_tdx x policy) for `hotplug --table`.

Each memory event is tried on one sample range per place, chosen from the platform: `inside` is
the last 128 MiB (one x86 memory block) of the last CMR, `outside` the first 128 MiB of memory
outside every CMR (an empty slot, persistent memory or a hole), `partial` 128 MiB straddling
the end of the last CMR.  The module counts as initialised whenever use_tdx is on and it can be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from seamemu.errors import InputError
from seamemu.jsonout import JsonRecord, hex64
from seamemu.kernel.hotplug import get_policy, policy_names, situation_for
from seamemu.platform.events import (
    EVENTS,
    INSIDE,
    MEMORY_EVENTS,
    NO_PLACE,
    OUTSIDE,
    PARTIAL,
    PLACES,
    Decision,
    Event,
)
from seamemu.platform.facts import MiB, Platform
from seamemu.platform.hotplug_policy import decide
from seamemu.platform.units import fmt_mem

MEMORY_BLOCK = 128 * MiB  # x86-64 memory hotplug granularity (memory block size)
SAMPLE_LP = 1             # the CPU a sample CPU event adds or removes


@dataclass(frozen=True)
class TableRow(JsonRecord):
    event: str
    place: str
    use_tdx: bool
    policy: str
    decision: Decision
    base: int = 0
    size: int = 0

    def to_json(self) -> dict:
        # One flat row: the decision's keys beside the event's, a range only for memory events.
        row = {"event": self.event, "place": self.place, "use_tdx": self.use_tdx,
               "policy": self.policy, **self.decision.to_json()}
        if self.event in MEMORY_EVENTS:
            row["range"] = [hex64(self.base), hex64(self.base + self.size)]
        return row


def sample_ranges(platform: Platform) -> dict[str, tuple[int, int]]:
    """(base, size) of one memory-block-sized range per place, chosen from the platform."""
    if not platform.cmrs:
        raise InputError(f"platform {platform.name}: no CMRs, so no range lies inside one")
    last = max(platform.cmrs, key=lambda c: c.end)
    cmr_spans = sorted((c.base, c.end) for c in platform.cmrs)

    def outside_cmrs(base: int) -> bool:
        return all(base + MEMORY_BLOCK <= b or e <= base for b, e in cmr_spans)

    # Prefer an empty slot (where ACPI hot-add really lands), then persistent memory.
    candidates = (sorted(m.base for m in platform.memory if m.kind == "hotplug")
                  + sorted(m.base for m in platform.memory if m.kind == "persistent"))
    candidates.append(last.end + MEMORY_BLOCK)  # a hole past the last CMR as a fallback
    outside = next(b for b in candidates if outside_cmrs(b))
    return {
        INSIDE: (last.end - MEMORY_BLOCK, MEMORY_BLOCK),
        OUTSIDE: (outside, MEMORY_BLOCK),
        PARTIAL: (last.end - MEMORY_BLOCK // 2, MEMORY_BLOCK),
    }


def sample_events(platform: Platform) -> list[tuple[Event, str]]:
    """One (event, place) pair per table row group, in EVENTS order."""
    ranges = sample_ranges(platform)
    out = []
    for kind in EVENTS:
        if kind in MEMORY_EVENTS:
            out += [(Event(kind, *ranges[place]), place) for place in PLACES]
        else:
            out.append((Event(kind, lp=SAMPLE_LP if kind.startswith("acpi-cpu") else None),
                        NO_PLACE))
    return out


def decision_table(platform: Platform, policies: tuple[str, ...] | None = None) -> list[TableRow]:
    """Every event x place x use_tdx (on, off) x policy, decided on `platform`."""
    rows = []
    for name in policies or tuple(policy_names()):
        pol = get_policy(name)
        for use_tdx in (True, False):
            situation = situation_for(platform, pol, use_tdx=use_tdx)
            for event, place in sample_events(platform):
                rows.append(TableRow(event.kind, place, use_tdx, pol.name,
                                     decide(pol, event, place, situation), event.base, event.size))
    return rows


_COLUMNS = ("policy", "event", "place", "use_tdx", "decision", "severity", "rule", "message")


def _cells(row: TableRow) -> tuple[str, ...]:
    d = row.decision
    said = d.message or "(prints nothing)"
    return (row.policy, row.event, row.place, "on" if row.use_tdx else "off",
            "allow" if d.allow else "reject", d.severity, d.rule, said)


def format_table(rows: list[TableRow], fmt: str = "text") -> str:
    """The table as aligned text, a Markdown table, or JSON (a list of row objects)."""
    if fmt == "json":
        return json.dumps([r.to_json() for r in rows], indent=2)
    cells = [_cells(r) for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise InputError(f"unknown table format '{fmt}' (text, markdown, json)")
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(_COLUMNS[:-1])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths)) + "  message"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in cells]
    return "\n".join(lines) + "\n"


def sample_description(platform: Platform) -> str:
    """One line per place naming the sample range the table used (for the CLI's header)."""
    ranges = sample_ranges(platform)
    return "\n".join(f"{place}: {fmt_mem(b, n)}" for place, (b, n) in ranges.items())


__all__ = [
    "MEMORY_BLOCK",
    "TableRow",
    "decision_table",
    "format_table",
    "sample_description",
    "sample_events",
    "sample_ranges",
]
