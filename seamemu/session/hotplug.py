"""Hotplug applied to the emulation: the policy decides, an allowed event changes the machine.

`HotplugEmulation` wraps a Session (the kernel stub plus asm/probe.S).  For each event it asks
the policy engine (seamemu.platform.hotplug) with the situation fixed at boot, and when the
kernel would let the event through it applies it: hot-removed memory disappears from the
emulated physical memory, hot-added memory appears (zero-filled), and the Session's platform
becomes the platform after the event.  The TDX module keeps the platform it booted with, so
TDH.SYS.INFO / TDH.SYS.RD still report the CMRs MCHECK verified at boot; a guest access to
removed memory faults (#PF, like the kernel touching an unmapped direct-map page) and the
report says the address was hot-removed.

Granularity: the platform and the policies work in 4 KiB pages (x86 hotplug really works in
128 MiB memory blocks, which is what the decision table samples).  The machine follows page
by page (`PhysicalMemory.set_present`); whole 2 MiB chunks inside a removed range are also
unplugged, so their host memory is freed and faults inside them say "unplugged".  A range
that overlaps the emulator's own image, stacks or scratch buffers cannot be removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seamemu.errors import InputError
from seamemu.machine import CHUNK, FaultEvent
from seamemu.platform import (
    Decision,
    Event,
    Situation,
    absence_reason,
    apply_hotplug,
    get_policy,
    judge,
    place_of,
    present,
    situation_for,
)
from seamemu.platform.events import ACPI_CPU_ADD, CPU_EVENTS, MEMORY_EVENTS, REMOVE_EVENTS
from seamemu.platform.facts import Platform
from seamemu.platform.units import fmt_range, hex64
from seamemu.session.cmr import CmrReport, read_cmrs
from seamemu.session.core import Session
from seamemu.session.detect import load_platform_spec
from seamemu.stubs import ARGS_STUB, stub

PROBE_STUB = "probe.S"
DEFAULT_POLICY = "upstream"


@dataclass(frozen=True)
class ProbeResult:
    """A guest load at one physical address: its value, or the fault and why."""

    address: int
    value: int | None
    fault: FaultEvent | None
    reason: str | None          # absence_reason(): why nothing is there

    @property
    def outcome(self) -> str:
        return "returned" if self.fault is None else self.fault.name

    def report(self) -> str:
        if self.fault is None:
            return f"probe_read({hex64(self.address)}) = {hex64(self.value or 0)}"
        lines = [f"probe_read({hex64(self.address)}): {self.fault.report()}"]
        if self.reason:
            lines.append(f"why: {self.reason}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"address": hex64(self.address), "outcome": self.outcome,
                "value": None if self.value is None else hex64(self.value),
                "fault": None if self.fault is None else self.fault.to_json(),
                "reason": self.reason}


@dataclass(frozen=True)
class HotplugResult:
    """One event: where it lies, the kernel's decision, and what changed in the emulation."""

    event: Event
    place: str
    policy: str
    use_tdx: bool
    situation: Situation
    decision: Decision
    applied: bool
    change: str                          # what the emulated machine saw, in words
    platform_after: Platform

    def to_json(self) -> dict:
        ev = {"kind": self.event.kind, "description": self.event.describe()}
        if self.event.kind in MEMORY_EVENTS:
            ev["range"] = [hex64(self.event.base), hex64(self.event.end)]
        if self.event.kind in CPU_EVENTS:
            ev["cpu"] = self.event.lp
        return {"event": ev, "place": self.place, "policy": self.policy,
                "use_tdx": self.use_tdx,
                "module_initialized": self.situation.module_initialized,
                "decision": self.decision.to_json(), "applied": self.applied,
                "change": self.change}


class HotplugEmulation:
    """A Session on `platform` whose memory map and CPUs follow allowed hotplug events."""

    def __init__(self, platform: Platform | str | Path | None = None, *,
                 policy: str = DEFAULT_POLICY, use_tdx: bool = True,
                 session: Session | None = None):
        self.session = session or Session([stub(ARGS_STUB), stub(PROBE_STUB)],
                                          platform=load_platform_spec(platform))
        self.policy = get_policy(policy).name
        self.use_tdx = use_tdx
        # The kernel's situation is fixed at boot (its TDX memory list is set at module init).
        self.situation = situation_for(self.session.platform, self.policy, use_tdx=use_tdx)
        self.results: list[HotplugResult] = []

    @property
    def platform(self) -> Platform:
        return self.session.platform

    def handle(self, event: Event) -> HotplugResult:
        """Decide on `event` and, when allowed, apply it to the platform and the machine."""
        before = self.platform
        decision = judge(before, event, self.policy, self.situation)
        place = place_of(before.cmrs, event)
        after, change = before, "nothing: the kernel refused the event"
        if decision.allow:
            after = apply_hotplug(before, event)  # InputError if it does not fit the platform
            change = self._apply(event, after)
            self.session.platform = after
        result = HotplugResult(event, place, self.policy, self.use_tdx, self.situation,
                               decision, decision.allow, change, after)
        self.results.append(result)
        return result

    def _apply(self, event: Event, after: Platform) -> str:
        if event.kind in CPU_EVENTS:
            state = "present again" if event.kind == ACPI_CPU_ADD else "absent"
            return (f"CPU {event.lp} is {state} in the platform (its emulated LP is kept; "
                    "detection skips absent CPUs)")
        if event.kind not in MEMORY_EVENTS:
            return "nothing physical changes"
        mem = self.session.machine.memory
        lo = -(-event.base // CHUNK) * CHUNK
        hi = event.end // CHUNK * CHUNK
        try:
            if hi > lo and event.kind in REMOVE_EVENTS:
                mem.unplug(lo, hi - lo)
            elif hi > lo:
                mem.plug(lo, hi - lo)
        except InputError as exc:
            raise InputError(f"{event.describe()}: the emulator cannot apply it: {exc} "
                             "(seamemu keeps its own code, stacks and buffers there)") from None
        mem.set_present(present(after))
        rng = fmt_range(event.base, event.size)
        if event.kind in REMOVE_EVENTS:
            return f"memory {rng} removed from the emulated machine: accesses now fault"
        return f"memory {rng} added to the emulated machine (zero-filled)"

    # -- what a later access or SEAMCALL sees ------------------------------------------------
    def probe_read(self, pa: int, lp: int = 0) -> ProbeResult:
        """A kernel load from `pa` (asm/probe.S probe_read)."""
        res = self.session.machine.call("probe_read", [pa], lp=lp)
        if res.outcome == "returned":
            return ProbeResult(pa, res.rax, None, None)
        fault = res.fault
        if fault is None:
            raise InputError(f"probe_read({hex64(pa)}) stopped without a fault: {res.outcome}")
        return ProbeResult(pa, None, fault, absence_reason(self.platform, fault.access
                                                           if fault.access is not None else pa))

    def read_cmrs(self, lp: int = 0) -> CmrReport:
        """The CMRs as the module reports them (TDH.SYS.INFO on 1.0, TDH.SYS.RD on 1.5)."""
        return read_cmrs(self.session, lp)


@dataclass(frozen=True)
class HotplugRun:
    """One event on a fresh emulation, and what a later SEAMCALL and guest access saw."""

    result: HotplugResult
    cmrs: CmrReport | None      # None when the kernel would not have used the module
    cmrs_skipped: str           # why the CMRs were not read
    probe: ProbeResult | None   # memory events: a load from the range's first byte
    emulation: HotplugEmulation

    def to_json(self) -> dict:
        doc = self.result.to_json()
        doc["after"] = {
            "cmrs": None if self.cmrs is None else {
                "method": self.cmrs.method,
                "cmrs": [[hex64(b), hex64(n)] for b, n in self.cmrs.cmrs]},
            "cmrs_skipped": self.cmrs_skipped or None,
            "probe": None if self.probe is None else self.probe.to_json(),
        }
        return doc


def run_hotplug(platform: Platform | str | Path | None, event: Event, *,
                policy: str = DEFAULT_POLICY, use_tdx: bool = True) -> HotplugRun:
    """Apply `event` on a fresh emulation of `platform`, then read the CMRs and probe.

    CMRs are read only when the kernel would have initialised the module (use_tdx on, TDX
    enabled, module present); the probe runs for memory events.
    """
    emu = HotplugEmulation(platform, policy=policy, use_tdx=use_tdx)
    result = emu.handle(event)
    cmrs, why_not = None, ""
    if not use_tdx:
        why_not = "use_tdx=off: the kernel never initialises the module, so no SEAMCALL is made"
    elif not emu.situation.module_initialized:
        why_not = "the kernel could not initialise the module on this platform"
    else:
        cmrs = emu.read_cmrs()
    probe = emu.probe_read(event.base) if event.kind in MEMORY_EVENTS else None
    return HotplugRun(result, cmrs, why_not, probe, emu)


__all__ = [
    "DEFAULT_POLICY",
    "HotplugEmulation",
    "HotplugResult",
    "HotplugRun",
    "PROBE_STUB",
    "ProbeResult",
    "run_hotplug",
]
