# SPDX-License-Identifier: MIT
"""The values the hotplug policy engine works on: an event, the kernel's situation, a decision."""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.errors import InputError
from seamemu.jsonout import JsonRecord, hex64
from seamemu.platform.facts import Cmr, KiB
from seamemu.platform.units import fmt_mem

ACPI_MEM_ADD = "acpi-mem-add"
ACPI_MEM_REMOVE = "acpi-mem-remove"
DRIVER_MEM_ADD = "driver-mem-add"        # dax/kmem, virtio-mem, CXL: memory handed to core-mm
DRIVER_MEM_REMOVE = "driver-mem-remove"  # ... and taken back from it
ACPI_CPU_ADD = "acpi-cpu-add"
ACPI_CPU_REMOVE = "acpi-cpu-remove"
KEXEC = "kexec"

EVENTS = (ACPI_MEM_ADD, ACPI_MEM_REMOVE, DRIVER_MEM_ADD, DRIVER_MEM_REMOVE,
          ACPI_CPU_ADD, ACPI_CPU_REMOVE, KEXEC)
MEMORY_EVENTS = frozenset({ACPI_MEM_ADD, ACPI_MEM_REMOVE, DRIVER_MEM_ADD, DRIVER_MEM_REMOVE})
ADD_EVENTS = frozenset({ACPI_MEM_ADD, DRIVER_MEM_ADD})
REMOVE_EVENTS = frozenset({ACPI_MEM_REMOVE, DRIVER_MEM_REMOVE})
CPU_EVENTS = frozenset({ACPI_CPU_ADD, ACPI_CPU_REMOVE})

# Where a memory event's range lies relative to the CMRs; "-" for CPU events and kexec.
INSIDE, OUTSIDE, PARTIAL, NO_PLACE = "inside", "outside", "partial", "-"
PLACES = (INSIDE, OUTSIDE, PARTIAL)
CMR_PLACES = frozenset({INSIDE, PARTIAL})   # the range holds some CMR memory

SEVERITIES = ("info", "warning", "error", "critical")


@dataclass(frozen=True)
class Event:
    """A hotplug event: a range for memory events, an LP for CPU events, nothing for kexec."""

    kind: str
    base: int = 0
    size: int = 0
    lp: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENTS:
            raise InputError(f"unknown hotplug event '{self.kind}' (known: {', '.join(EVENTS)})")
        if self.kind in MEMORY_EVENTS:
            if self.size <= 0 or self.base < 0:
                raise InputError(f"{self.kind}: needs a memory range with a positive size")
            if self.base % (4 * KiB) or self.size % (4 * KiB):
                raise InputError(f"{self.kind}: range {fmt_mem(self.base, self.size)} is not "
                                 "4 KiB aligned (memory is added and removed in whole pages)")
        if self.kind in CPU_EVENTS and (self.lp is None or self.lp < 0):
            raise InputError(f"{self.kind}: needs the logical CPU (lp) it adds or removes")

    @property
    def end(self) -> int:
        return self.base + self.size

    def describe(self) -> str:
        if self.kind in MEMORY_EVENTS:
            return f"{self.kind} {fmt_mem(self.base, self.size)}"
        if self.kind in CPU_EVENTS:
            return f"{self.kind} CPU {self.lp}"
        return self.kind

    def to_json(self) -> dict:
        # The kind in words, and what the kind has: a range (memory) or a CPU.
        doc: dict[str, object] = {"kind": self.kind, "description": self.describe()}
        if self.kind in MEMORY_EVENTS:
            doc["range"] = [hex64(self.base), hex64(self.end)]
        if self.kind in CPU_EVENTS:
            doc["cpu"] = self.lp
        return doc


@dataclass(frozen=True)
class Situation:
    """What the kernel knows and has done when the event arrives."""

    tdx_enabled_by_bios: bool
    module_initialized: bool = False
    use_tdx: bool = True                 # the discussion's use_tdx=; upstream: kvm_intel.tdx
    cmrs_read_at_boot: bool = False
    tdx_memory: tuple[tuple[int, int], ...] = ()  # (base, size) blocks fixed at module init
    pw_mce_bug: bool = False             # X86_BUG_TDX_PW_MCE


@dataclass(frozen=True)
class Decision(JsonRecord):
    """The kernel's verdict on one event: its own line (if any), seamemu's note, the rule."""

    JSON_KEYS = ("allow", "severity", "message", "note", "rule", "source")

    allow: bool
    severity: str
    message: str                  # what the kernel prints ("" when it prints nothing)
    rule: str
    source: str = ""
    note: str = ""                # seamemu's account, never shown as the kernel's


def covered(ranges: list[tuple[int, int]], base: int, end: int) -> int:
    """How many bytes of [base, end) the (start, end) ranges cover."""
    total, pos = 0, base
    for r0, r1 in sorted(ranges):
        lo, hi = max(r0, pos), min(r1, end)
        if hi > lo:
            total += hi - lo
            pos = hi
    return total


def place_of(cmrs: tuple[Cmr, ...], event: Event) -> str:
    """inside / outside / partial: where a memory event's range lies relative to the CMRs.

    Adjacent CMRs count as one (as the module treats them for PAMTs).
    """
    if event.kind not in MEMORY_EVENTS:
        return NO_PLACE
    n = covered([(c.base, c.end) for c in cmrs], event.base, event.end)
    return INSIDE if n == event.size else OUTSIDE if n == 0 else PARTIAL


__all__ = [
    "ACPI_CPU_ADD",
    "ACPI_CPU_REMOVE",
    "ACPI_MEM_ADD",
    "ACPI_MEM_REMOVE",
    "ADD_EVENTS",
    "CMR_PLACES",
    "CPU_EVENTS",
    "DRIVER_MEM_ADD",
    "DRIVER_MEM_REMOVE",
    "Decision",
    "EVENTS",
    "Event",
    "INSIDE",
    "KEXEC",
    "MEMORY_EVENTS",
    "NO_PLACE",
    "OUTSIDE",
    "PARTIAL",
    "PLACES",
    "REMOVE_EVENTS",
    "SEVERITIES",
    "Situation",
    "covered",
    "place_of",
]
