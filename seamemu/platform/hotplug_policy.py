# SPDX-License-Identifier: MIT
"""The hotplug policy engine: pure decisions, and what an allowed event does to the platform.

`decide()` runs a policy's ordered rule table (policies.py) over an event, where its range lies
relative to the CMRs, and the kernel's situation.  `apply_hotplug()` returns the platform after
an event: memory appears or disappears in the memory map and LPs come and go, but the CMRs never
change (MCHECK verified them at boot).  `present()` is the predicate the machine backs guest
memory with, so an access or a SEAMCALL touching removed memory finds nothing there.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import re
from collections.abc import Callable

from seamemu.errors import InputError
from seamemu.platform.events import (
    ADD_EVENTS,
    CPU_EVENTS,
    DRIVER_MEM_ADD,
    MEMORY_EVENTS,
    Decision,
    Event,
    Situation,
    covered,
    place_of,
)
from seamemu.platform.facts import MemoryRegion, Platform
from seamemu.platform.policies import POLICIES, Policy
from seamemu.platform.units import fmt_mem, fmt_range, hex64

_EMPTY_SLOT = "hotplug"


def policy_names() -> list[str]:
    return list(POLICIES)


def get_policy(policy: str | Policy) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if policy not in POLICIES:
        close = difflib.get_close_matches(policy, list(POLICIES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"unknown hotplug policy '{policy}' ({hint}known: {', '.join(POLICIES)})")
    return POLICIES[policy]


def decide(policy: str | Policy, event: Event, place: str, situation: Situation) -> Decision:
    """The first rule of `policy` that matches decides; its message is filled in for `event`."""
    pol = get_policy(policy)
    for rule in pol.rules:
        if rule.matches(event, place, situation):
            mem = fmt_mem(event.base, event.size) if event.kind in MEMORY_EVENTS else ""
            message = rule.message.format(mem=mem, cpu=f"CPU {event.lp}")
            return Decision(rule.allow, rule.severity, message, rule.id, rule.source)
    # Every policy ends in catch-all rules for each event; reaching here is a table bug.
    raise RuntimeError(f"policy {pol.name}: no rule for {event.describe()} ({place})")


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


def detect_tdx(platform: Platform, policy: str | Policy) -> tuple[bool, str]:
    """Whether that era's kernel sees TDX as enabled by BIOS, and what it prints at boot.

    2022 series (ML "x86/virt/tdx: Detect TDX during kernel boot", tdx.c detect_seam_bsp/_ap,
    detect_tdx_keyids_bsp): IA32_MTRRCAP.SEAMRR, SEAMRR base CONFIGURED and mask LOCK|ENABLED
    on the boot CPU, the same SEAMRR values on every other CPU, and TDX KeyIDs partitioned.
    Upstream (tdx.c tdx_init): at least 2 TDX KeyIDs in IA32_MKTME_KEYID_PARTITIONING; SEAMRR
    is no longer looked at.
    """
    if get_policy(policy).name == "upstream":
        if platform.tdx_keyids == 0:  # record_keyid_partitioning() fails; tdx_init() is silent
            return False, "(no kernel message) virt/tdx: no TDX private KeyIDs partitioned"
        if platform.tdx_keyids < 2:
            return False, "virt/tdx: initialization failed: too few private KeyIDs available."
        return True, "virt/tdx: BIOS enabled: private KeyID range " \
            f"[{platform.first_tdx_keyid}, {platform.first_tdx_keyid + platform.tdx_keyids})"
    if not platform.mtrrcap_seamrr or not platform.seamrr:
        return False, "tdx: SEAMRR not supported (IA32_MTRRCAP bit 15 clear)"
    bsp = platform.seamrr[0]
    if not bsp.configured:
        return False, "tdx: SEAMRR base is not configured by BIOS"
    if not (bsp.locked and bsp.valid):
        return False, "tdx: SEAMRR is not enabled by BIOS"
    if any(s != bsp for s in platform.seamrr):
        return False, "tdx: Inconsistent SEAMRR configuration by BIOS"
    if platform.tdx_keyids == 0:
        return False, "tdx: no TDX private KeyIDs partitioned by BIOS"
    return True, "tdx: TDX enabled by BIOS."  # tdx_early_detect() (ML, v3-era series)


def tdx_detected(platform: Platform, policy: str | Policy) -> bool:
    return detect_tdx(platform, policy)[0]


def situation_for(platform: Platform, policy: str | Policy, *, use_tdx: bool = True,
                  module_initialized: bool | None = None,
                  cmrs_read_at_boot: bool | None = None) -> Situation:
    """The kernel's situation on `platform` after boot (and module init, if it happens).

    By default the module is initialised when use_tdx is on, TDX is detected, a module is
    installed, MCHECK passed and every usable range lies in a CMR (else TDMR setup fails);
    the CMRs are read at boot only under the `cmr-aware` policy.
    """
    pol = get_policy(policy)
    tdx = tdx_detected(platform, pol)
    blocks = tdx_memory_blocks(platform)
    cmrs = [(c.base, c.end) for c in platform.cmrs]
    if module_initialized is None:
        module_initialized = (use_tdx and tdx and platform.module is not None
                              and platform.mcheck_ok
                              and all(covered(cmrs, b, b + n) == n for b, n in blocks))
    if cmrs_read_at_boot is None:
        cmrs_read_at_boot = pol.name == "cmr-aware"
    return Situation(tdx_enabled_by_bios=tdx, module_initialized=module_initialized,
                     use_tdx=use_tdx, cmrs_read_at_boot=cmrs_read_at_boot,
                     tdx_memory=blocks if module_initialized else (),
                     pw_mce_bug=platform.tdx_pw_mce_bug)


def judge(platform: Platform, event: Event, policy: str | Policy,
          situation: Situation | None = None) -> Decision:
    """decide() with the event's place computed from the platform's CMRs.

    Pass the Situation computed once at boot (situation_for on the boot platform): the TDX
    memory list is fixed at module init, so recomputing it after a hotplug would be wrong.
    Without one, the default situation of `platform` as it is now is used.
    """
    if situation is None:
        situation = situation_for(platform, policy)
    return decide(policy, event, place_of(platform.cmrs, event), situation)


def _carve(memory: tuple[MemoryRegion, ...], base: int, end: int) -> list[MemoryRegion]:
    """The memory map with [base, end) cut out of every region it touches."""
    out = []
    for m in memory:
        if m.end <= base or end <= m.base:
            out.append(m)
            continue
        if m.base < base:
            out.append(dataclasses.replace(m, size=base - m.base))
        if end < m.end:
            out.append(dataclasses.replace(m, base=end, size=m.end - end))
    return out


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


def handle(platform: Platform, event: Event, policy: str | Policy,
           situation: Situation | None = None) -> tuple[Decision, Platform]:
    """Decide on `event`, and apply it when the decision allows it."""
    decision = judge(platform, event, policy, situation)
    return decision, apply_hotplug(platform, event) if decision.allow else platform


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
    "decide",
    "detect_tdx",
    "get_policy",
    "handle",
    "judge",
    "policy_names",
    "present",
    "situation_for",
    "tdx_detected",
    "tdx_memory_blocks",
]
