# SPDX-License-Identifier: MIT
"""Hotplug applied to the emulation: the policy decides, an allowed event changes the machine.

`HotplugEmulation` wraps a Session (the kernel stub plus asm/probe.S).  For each event it asks
the policy engine (seamemu.platform.hotplug_policy) with the situation fixed at boot, and when the
kernel would let the event through it applies it: hot-removed memory disappears from the
emulated physical memory, hot-added memory appears (zero-filled), and the Session's platform
becomes the platform after the event.  The TDX module keeps the platform it booted with, so
TDH.SYS.INFO / TDH.SYS.RD still report the CMRs MCHECK verified at boot; a guest access to
removed memory faults (#PF, like the kernel touching an unmapped direct-map page) and the
report says the address was hot-removed.

`run_hotplug` sets the stage a single event needs: a hot-add of memory that is present at boot
(every CMR is: a CMR hot-add can only follow a removal) or of a CPU that is present is preceded
by taking it away physically, without asking the kernel, and says so.  After an allowed memory
removal it also makes a SEAMCALL whose buffers lie in the removed range (TDH.SYS.INFO), to show
what the module's accesses there do.

With `boot`, the generation's bring-up (kernel.bring_up) brings the module to SYS_READY
first, and after a memory event or kexec the report says what the module's PAMT holds for the
affected pages (TDH.PHYMEM.PAGE.RDMD through the stub): the module is not told about hotplug
or kexec, so a removed page of a TDMR is still PT_NDA to it, free to hand to a TD.

Granularity: the platform and the policies work in 4 KiB pages (x86 hotplug really works in
128 MiB memory blocks, which is what the decision table samples).  The machine follows page
by page (`PhysicalMemory.set_present`); whole 2 MiB chunks inside a removed range are also
unplugged, so their host memory is freed and faults inside them say "unplugged".  A range
that overlaps the emulator's own image, stacks or scratch buffers cannot be removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seamemu.arch.leaves import TDH_PHYMEM_PAGE_RDMD
from seamemu.arch.pamt import PageType
from seamemu.arch.sysinfo import (
    CMR_INFO_ARRAY_ALIGNMENT,
    MAX_CMRS,
    TDSYSINFO_STRUCT_ALIGNMENT,
    TDSYSINFO_STRUCT_SIZE,
)
from seamemu.errors import InputError
from seamemu.jsonout import JsonRecord, hex64, hex_map, json_as, json_value
from seamemu.kernel import Generation, bring_up, generation, stub_files
from seamemu.kernel.cmr_read import TDH_SYS_INFO, CmrReport, read_cmrs
from seamemu.kernel.hotplug import get_policy, judge, policy_for, situation_for
from seamemu.machine import CHUNK, FaultEvent
from seamemu.platform import (
    Decision,
    Event,
    Situation,
    absence_reason,
    apply_hotplug,
    as_platform,
    place_of,
    present,
)
from seamemu.platform.events import (
    ACPI_CPU_ADD,
    ACPI_CPU_REMOVE,
    ACPI_MEM_ADD,
    ACPI_MEM_REMOVE,
    ADD_EVENTS,
    CPU_EVENTS,
    DRIVER_MEM_REMOVE,
    MEMORY_EVENTS,
    REMOVE_EVENTS,
)
from seamemu.platform.facts import Platform
from seamemu.platform.units import fmt_range
from seamemu.session.result import rax_name
from seamemu.session.session import Session
from seamemu.stubs import stub

PROBE_STUB = "probe.S"


@dataclass(frozen=True)
class ProbeResult(JsonRecord):
    """A guest load at one physical address: its value, or the fault and why."""

    JSON_KEYS = ("address", "outcome", "value", "fault", "reason")

    address: int = field(metadata=json_as(hex64))
    value: int | None = field(metadata=json_as(hex64))
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


@dataclass(frozen=True)
class SeamcallProbe(JsonRecord):
    """A SEAMCALL whose buffers lie in removed memory: its status and what the module wrote."""

    JSON_KEYS = ("leaf", "inputs", "outcome", "status", "status_name", "written", "note")

    leaf: str
    inputs: dict[str, int] = field(metadata=json_as(hex_map))
    outcome: str                     # "returned", or the fault the stub saw
    status: int = field(metadata=json_as(hex64))  # RAX after the call
    written: tuple[tuple[int, int], ...] = field(  # (pa, size) the module really wrote
        metadata=json_as(lambda ranges: [[hex64(a), n] for a, n in ranges]))
    note: str                        # the module's record of accesses nothing answered

    def report(self) -> str:
        buffers = (f"TDSYSINFO_STRUCT at {hex64(self.inputs['rcx'])}, CMR_INFO array at "
                   f"{hex64(self.inputs['r8'])}")
        head = f"{self.leaf} ({buffers}, inside the removed range): "
        if self.outcome != "returned":
            return head + self.outcome
        lines = [head + f"RAX {hex64(self.status)} {rax_name(self.status)}"]
        if self.written:
            lines.append("  the module wrote " + ", ".join(fmt_range(a, n)
                                                         for a, n in self.written))
        else:
            lines.append("  the module's writes went nowhere (no memory answers at a removed "
                         "address: writes are dropped, reads return all-ones); the kernel "
                         "reading the buffer back would fault")
        if self.note:
            lines.append(f"  module record: {self.note}")
        return "\n".join(lines)

    @property
    def status_name(self) -> str:
        return rax_name(self.status)


@dataclass(frozen=True)
class HotplugResult(JsonRecord):
    """One event: where it lies, the kernel's decision, and what changed in the emulation."""

    JSON_KEYS = ("event", "place", "kernel", "policy", "use_tdx", "module_initialized",
                 "decision", "applied", "change")

    event: Event
    place: str
    kernel: str
    policy: str
    use_tdx: bool
    situation: Situation
    decision: Decision
    applied: bool
    change: str                          # what the emulated machine saw, in words
    platform_after: Platform

    @property
    def module_initialized(self) -> bool:
        return self.situation.module_initialized


class HotplugEmulation:
    """A Session on `platform` whose memory map and CPUs follow allowed hotplug events."""

    def __init__(self, platform: Platform | str | Path | None = None, *,
                 kernel: Generation | str | None = None, policy: str | None = None,
                 use_tdx: bool = True, session: Session | None = None):
        if kernel is None and policy is not None:   # a policy names its generation
            kernel = get_policy(policy).kernel
        self.kernel = gen = generation(kernel)
        self.session = session or Session(stub_files(gen) + [stub(PROBE_STUB)],
                                          platform=as_platform(platform))
        self.policy = policy_for(gen, policy).name
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
        result = HotplugResult(event, place, self.kernel.name, self.policy, self.use_tdx,
                               self.situation,
                               decision, decision.allow, change, after)
        self.results.append(result)
        return result

    def force(self, event: Event) -> str:
        """Apply `event` physically without asking the kernel (the stage for another event)."""
        after = apply_hotplug(self.platform, event)
        change = self._apply(event, after)
        self.session.platform = after
        return change

    def _apply(self, event: Event, after: Platform) -> str:
        if event.kind in CPU_EVENTS:
            state = "present again" if event.kind == ACPI_CPU_ADD else "absent"
            return (f"CPU {event.lp} is {state} in the platform (its emulated LP is kept; "
                    "detection skips absent CPUs)")
        if event.kind not in MEMORY_EVENTS:
            return "nothing physical changes"
        was_there = present(self.platform)(event.base, event.size)  # e.g. dax/kmem's NVDIMM
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
        if was_there:
            return (f"device memory {rng} becomes RAM of the emulated machine (it was already "
                    "present: its contents are kept)")
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
        return read_cmrs(self.session, lp, self.kernel.entry, self.kernel.convention)

    def pamt_view(self, pa: int, lp: int = 0) -> PamtView:
        """TDH.PHYMEM.PAGE.RDMD of the page at `pa`: what the module's PAMT says of it."""
        r = self.session.call(self.kernel.entry, convention=self.kernel.convention,
                              leaf=TDH_PHYMEM_PAGE_RDMD, inputs={"rcx": pa}, lp=lp)
        ok = r.outcome == "returned" and r.rax == 0 and r.out is not None
        return PamtView(pa, r.rax, r.out["rcx"] if ok and r.out is not None else None)

    def seamcall_into(self, base: int, lp: int = 0) -> SeamcallProbe:
        """TDH.SYS.INFO with its output struct at `base` and the CMR_INFO array right after.

        The module checks alignment, size and that the buffers are shared HPAs (not SEAMRR,
        no KeyID bits), never whether memory is there; the LP must have done TDH.SYS.LP.INIT.
        """
        info = -(-base // TDSYSINFO_STRUCT_ALIGNMENT) * TDSYSINFO_STRUCT_ALIGNMENT
        array = -(-(info + TDSYSINFO_STRUCT_SIZE) // CMR_INFO_ARRAY_ALIGNMENT) \
            * CMR_INFO_ARRAY_ALIGNMENT
        inputs = {"rcx": info, "rdx": TDSYSINFO_STRUCT_SIZE, "r8": array, "r9": MAX_CMRS}
        r = self.session.call(self.kernel.entry, convention=self.kernel.convention,
                              leaf=TDH_SYS_INFO, inputs=inputs, lp=lp)
        rec = next((c for c in reversed(r.calls) if c.leaf == TDH_SYS_INFO), None)
        return SeamcallProbe("TDH.SYS.INFO", inputs, r.outcome, r.rax,
                             rec.memory_written if rec else (), rec.note if rec else "")


@dataclass(frozen=True)
class PamtView(JsonRecord):
    """What TDH.PHYMEM.PAGE.RDMD answers for one page after the event."""

    JSON_KEYS = ("pa", "rax", "status", "page_type")

    pa: int = field(metadata=json_as(hex64))
    rax: int = field(metadata=json_as(hex64))
    page_type: int | None = field(   # RCX out when RDMD succeeded: by name when it has one
        metadata=json_as(lambda t: PageType(t).name if t in {int(p) for p in PageType} else t))

    @property
    def status(self) -> str:
        return rax_name(self.rax)

    def report(self) -> str:
        if self.page_type is None:
            return (f"  module's PAMT for {hex64(self.pa)}: {rax_name(self.rax)} (not a page of "
                    "an initialised TDMR: the module does not consider it TDX memory)")
        known = {int(t) for t in PageType}
        name = PageType(self.page_type).name if self.page_type in known else str(self.page_type)
        belief = ("TDX memory it may hand to a TD" if self.page_type == PageType.PT_NDA
                  else "reserved in its TDMR")
        return (f"  module's PAMT for {hex64(self.pa)}: {name}: {belief}; nothing told the module "
                "about the event")


@dataclass(frozen=True)
class HotplugRun(JsonRecord):
    """One event on a fresh emulation, and what a later SEAMCALL and guest access saw."""

    result: HotplugResult
    cmrs: CmrReport | None      # None when the kernel would not have used the module
    cmrs_skipped: str           # why the CMRs were not read
    probe: ProbeResult | None   # memory events: a load from the range's first byte
    emulation: HotplugEmulation
    setup: tuple[str, ...] = ()  # what was taken away first so that an add can happen
    seamcall: SeamcallProbe | None = None  # applied removals: a SEAMCALL into the range
    pamt: tuple[PamtView, ...] = ()          # with a boot: the module's PAMT after the event

    def to_json(self) -> dict:
        # The event's result, then what was seen after it (the CMRs as the method read them).
        return self.result.to_json() | {
            "setup": list(self.setup),
            "after": {
                "cmrs": None if self.cmrs is None else {
                    "method": self.cmrs.method,
                    "cmrs": [[hex64(b), hex64(n)] for b, n in self.cmrs.cmrs]},
                "cmrs_skipped": self.cmrs_skipped or None,
                "seamcall": json_value(self.seamcall),
                "probe": json_value(self.probe),
                "pamt": json_value(self.pamt),
            }}


def _stage(emu: HotplugEmulation, event: Event) -> tuple[str, ...]:
    """Take away what a hot-add needs absent: present RAM in the range, or a present CPU."""
    p = emu.platform
    if event.kind == ACPI_CPU_ADD:
        if event.lp in p.present_lps:
            emu.force(Event(ACPI_CPU_REMOVE, lp=event.lp))
            return (f"CPU {event.lp} is present at boot: it was taken away first (a removal "
                    "the kernel was not asked about) so that it can be hot-added",)
        return ()
    if event.kind not in ADD_EVENTS:
        return ()
    remove = ACPI_MEM_REMOVE if event.kind == ACPI_MEM_ADD else DRIVER_MEM_REMOVE
    notes = []
    for m in p.memory:
        lo, hi = max(m.base, event.base), min(m.end, event.end)
        if m.kind == "usable" and lo < hi:
            try:
                emu.force(Event(remove, lo, hi - lo))
            except InputError as exc:
                raise InputError(f"{event.describe()}: {fmt_range(lo, hi - lo)} is RAM at boot "
                                 f"and would have to be taken away first: {exc}") from None
            notes.append(f"{fmt_range(lo, hi - lo)} is RAM at boot: it was taken away first (a "
                         "removal the kernel was not asked about) so that it can be hot-added")
    return tuple(notes)


def _check_event(p: Platform, event: Event) -> None:
    """An event this platform can have at all: memory below where the KeyID bits of its
    MAXPA (CPUID.80000008H:EAX[7:0], cpu.max_pa) start, a CPU it has a slot for."""
    ram_bits = p.max_pa - p.keyid_bits
    if event.kind in MEMORY_EVENTS and event.end > 1 << ram_bits:
        keyids = f" less {p.keyid_bits} KeyID bits" if p.keyid_bits else ""
        raise InputError(f"{event.describe()}: reaches above 2^{ram_bits}, the platform's MAXPA "
                         f"(cpu.max_pa = {p.max_pa}){keyids}: no memory can be there")
    if event.kind in CPU_EVENTS and event.lp is not None and not 0 <= event.lp < p.num_lps:
        raise InputError(f"{event.describe()}: the platform has CPUs 0..{p.num_lps - 1} "
                         "(a hot-add fills an empty slot, cpu.absent_lps)")


def run_hotplug(platform: Platform | str | Path | None, event: Event, *,
                kernel: Generation | str | None = None, policy: str | None = None,
                use_tdx: bool = True, boot: bool = False) -> HotplugRun:
    """Apply `event` on a fresh emulation of `platform`, then read the CMRs and probe.

    A hot-add of present RAM or of a present CPU first takes it away (`setup` says so).  CMRs
    are read only when the kernel would have initialised the module (use_tdx on, TDX enabled,
    module present), and then an applied removal is followed by a SEAMCALL into the removed
    range; the probe (a kernel load) runs for memory events.
    """
    emu = HotplugEmulation(platform, kernel=kernel, policy=policy, use_tdx=use_tdx)
    _check_event(emu.platform, event)
    if boot and use_tdx and emu.situation.module_initialized:
        bring_up(emu.session, emu.kernel)   # the kernel's bring-up: the module is READY
    setup = _stage(emu, event)
    result = emu.handle(event)
    cmrs, why_not, seamcall = None, "", None
    # What follows runs on a CPU that is still there (LP 0 itself may be the one removed).
    lp = min(emu.platform.present_lps, default=0)
    if not use_tdx:
        why_not = "use_tdx=off: the kernel never initialises the module, so no SEAMCALL is made"
    elif not emu.situation.module_initialized:
        why_not = "the kernel could not initialise the module on this platform"
    else:
        cmrs = emu.read_cmrs(lp)
        if result.applied and event.kind in REMOVE_EVENTS:
            seamcall = emu.seamcall_into(event.base, lp)
    probe = emu.probe_read(event.base, lp) if event.kind in MEMORY_EVENTS else None
    pamt: tuple[PamtView, ...] = ()
    if emu.session.module.state_name() == "SYS_READY":
        pages = [event.base] if event.kind in MEMORY_EVENTS else \
            [t.base for t in emu.session.module.state.tdmrs]          # kexec: each TDMR
        pamt = tuple(emu.pamt_view(pa, lp) for pa in pages)
    return HotplugRun(result, cmrs, why_not, probe, emu, setup, seamcall, pamt)


__all__ = [
    "HotplugEmulation",
    "HotplugResult",
    "HotplugRun",
    "PROBE_STUB",
    "PamtView",
    "ProbeResult",
    "SeamcallProbe",
    "run_hotplug",
]
