# SPDX-License-Identifier: MIT
"""The hotplug policies as declarative, ordered rule tables: the first rule that matches decides.

`first-stage` and `cmr-aware` are the two stages of the 2022 linux-kernel/kvm discussion on TDX
and hotplug; `upstream` is what Linux eventually merged.  Each rule names its source; messages
speak in the kernel's voice ({mem} is "[mem 0x...-0x...]", {cpu} is "CPU n"); a message that
opens with "(no kernel message)" is seamemu's note where the kernel stays silent.

Severity: info = normal operation; warning = refused (or left unchecked) by kernel policy with
nothing wrong; error = a BIOS bug the kernel can only report; critical = TDX is under attack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seamemu.platform.events import (
    ACPI_CPU_ADD,
    ACPI_CPU_REMOVE,
    ACPI_MEM_ADD,
    ACPI_MEM_REMOVE,
    ADD_EVENTS,
    CPU_EVENTS,
    DRIVER_MEM_ADD,
    DRIVER_MEM_REMOVE,
    EVENTS,
    INSIDE,
    KEXEC,
    MEMORY_EVENTS,
    NO_PLACE,
    PARTIAL,
    PLACES,
    REMOVE_EVENTS,
    Event,
    Situation,
)

ANY_PLACE = frozenset(PLACES + (NO_PLACE,))
CMR_PLACES = frozenset({INSIDE, PARTIAL})   # the range holds some CMR memory
ALL_EVENTS = frozenset(EVENTS)


def _in_one_tdx_block(e: Event, s: Situation) -> bool:
    return any(b <= e.base and e.end <= b + n for b, n in s.tdx_memory)


# Named conditions a rule may require ("name") or exclude ("!name").
CONDITIONS: dict[str, Callable[[Event, Situation], bool]] = {
    "cmrs_known": lambda e, s: s.cmrs_read_at_boot,
    "in_one_tdx_block": _in_one_tdx_block,
    "initialized": lambda e, s: s.module_initialized,
    "pw_mce": lambda e, s: s.pw_mce_bug,
    "tdx": lambda e, s: s.tdx_enabled_by_bios,
    "tdx_memory_empty": lambda e, s: not s.tdx_memory,
    "use_tdx": lambda e, s: s.use_tdx,
}


@dataclass(frozen=True)
class Rule:
    id: str
    events: frozenset[str]
    allow: bool
    severity: str
    message: str
    source: str
    places: frozenset[str] = ANY_PLACE
    when: tuple[str, ...] = ()

    def matches(self, event: Event, place: str, situation: Situation) -> bool:
        if event.kind not in self.events or place not in self.places:
            return False
        for cond in self.when:
            want = not cond.startswith("!")
            if CONDITIONS[cond.lstrip("!")](event, situation) != want:
                return False
        return True


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    rules: tuple[Rule, ...]


# Sources (ML = mailing-list copy; no repository path is known for it).
DISCUSSION = ("ML 2022 linux-kernel/kvm TDX host series, Kai Huang's summary of TDX and ACPI "
              "memory hotplug (CMRs static; CMR hot-remove = BIOS bug; CMR hot-add = under "
              "attack; non-CMR hot-add rejected by policy; use_tdx={on|off})")
FIRST_STEP = DISCUSSION + "; first step: hot-remove does nothing, every hot-add is rejected"
CPU_PATCH = ("ML [PATCH v5 02/22] 'cc_platform: Add new attribute to prevent ACPI CPU hotplug' "
             "(acpi_map_cpu()/acpi_unmap_cpu() 'BIOS bug' messages; depends on SEAMRR only)")
EARLY_KEXEC = ("ML early Documentation/x86/tdx.rst 'Kexec': caches flushed in stop_this_cpu(); "
               "the module initialises once per boot, so a kexec'd kernel cannot use TDX")
NOTIFIER = "Linux arch/x86/virt/vmx/tdx/tdx.c tdx_memory_notifier() at MEM_GOING_ONLINE"
UPSTREAM_DOC = "Linux Documentation/arch/x86/tdx.rst (physical hotplug left to the BIOS)"
UPSTREAM_KEXEC = ("Linux arch/x86/kernel/machine_kexec_64.c machine_kexec_prepare() "
                  "(X86_BUG_TDX_PW_MCE, set by tdx.c check_tdx_erratum() on SPR-X/EMR-X)")
UPSTREAM_FLUSH = "Linux arch/x86/virt/vmx/tdx/tdx.c tdx_cpu_flush_cache_for_kexec()"
UPSTREAM_INIT = ("Linux arch/x86/virt/vmx/tdx/tdx.c tdx_init(): TDX host platform only with "
                 ">= 2 TDX KeyIDs in IA32_MKTME_KEYID_PARTITIONING")


def _discussion_common(p: str) -> tuple[Rule, ...]:
    """Rules both discussion stages share (everything except how memory hotplug is judged)."""
    return (
        Rule(f"{p}/bios-off", ALL_EVENTS, True, "info",
             "TDX: not enabled by BIOS: hotplug works as normal", DISCUSSION, when=("!tdx",)),
        Rule(f"{p}/cpu-add-bios-bug", frozenset({ACPI_CPU_ADD}), False, "error",
             "ACPI: BIOS bug: {cpu} hot-added on TDX enabled platform. Reject it.", CPU_PATCH),
        Rule(f"{p}/cpu-remove-bios-bug", frozenset({ACPI_CPU_REMOVE}), True, "error",
             "ACPI: BIOS bug: {cpu} hot-removed on TDX enabled platform. TDX is broken. "
             "Please reboot the machine.", CPU_PATCH),
        Rule(f"{p}/kexec-after-init", frozenset({KEXEC}), True, "warning",
             "TDX: kexec: caches flushed (WBINVD) in stop_this_cpu(); the new kernel cannot "
             "use TDX: the module is initialised only once per boot", EARLY_KEXEC,
             when=("initialized",)),
        Rule(f"{p}/kexec", frozenset({KEXEC}), True, "info",
             "TDX: kexec: caches flushed (WBINVD) in stop_this_cpu()", EARLY_KEXEC),
        Rule(f"{p}/use-tdx-off", MEMORY_EVENTS, True, "info",
             "TDX: use_tdx=off: {mem} hotplug works as normal; the TDX module will not be "
             "initialised", DISCUSSION, when=("!use_tdx",)),
    )


FIRST_STAGE = Policy("first-stage", "first stage: CMRs unknown at boot (reading them needs VMX)", (
    *_discussion_common("first-stage"),
    Rule("first-stage/remove-nothing", REMOVE_EVENTS, True, "info",
         "TDX: {mem} removed: nothing to do (CMRs are not known at boot)", FIRST_STEP),
    Rule("first-stage/add-reject", ADD_EVENTS, False, "warning",
         "TDX: memory hot-add {mem} rejected: TDX is enabled by BIOS", FIRST_STEP),
))

CMR_AWARE = Policy("cmr-aware", "second stage: CMRs read at boot, memory judged against them", (
    *_discussion_common("cmr-aware"),
    Rule("cmr-aware/cmrs-unknown-remove", REMOVE_EVENTS, True, "info",
         "TDX: {mem} hot-removed: not checked (CMRs were not read at boot)", FIRST_STEP,
         when=("!cmrs_known",)),
    Rule("cmr-aware/cmrs-unknown-add", ADD_EVENTS, False, "warning",
         "TDX: memory hot-add {mem} rejected: TDX is enabled by BIOS and the CMRs are unknown",
         FIRST_STEP, when=("!cmrs_known",)),
    Rule("cmr-aware/cmr-remove-bios-bug", frozenset({ACPI_MEM_REMOVE}), True, "error",
         "TDX: BIOS bug: CMR memory {mem} hot-removed; it cannot be stopped. TDX is broken.",
         DISCUSSION, places=CMR_PLACES),
    Rule("cmr-aware/non-cmr-remove", frozenset({ACPI_MEM_REMOVE}), True, "info",
         "TDX: {mem} hot-removed: outside the CMRs, no TDX impact", DISCUSSION),
    Rule("cmr-aware/cmr-add-attack", frozenset({ACPI_MEM_ADD}), False, "critical",
         "TDX: hot-add of CMR memory {mem}: TDX is under attack. Reject it.", DISCUSSION,
         places=CMR_PLACES),
    Rule("cmr-aware/non-cmr-add", frozenset({ACPI_MEM_ADD}), False, "warning",
         "TDX: memory hot-add {mem} rejected: not convertible memory (all memory in the page "
         "allocator must be TDX-usable)", DISCUSSION),
    Rule("cmr-aware/driver-add-cmr", frozenset({DRIVER_MEM_ADD}), True, "info",
         "TDX: {mem} added by a driver: convertible memory, TDX-usable", DISCUSSION,
         places=frozenset({INSIDE})),
    Rule("cmr-aware/driver-add-non-cmr", frozenset({DRIVER_MEM_ADD}), False, "warning",
         "TDX: driver-managed memory {mem} rejected: not (entirely) convertible memory, and all "
         "memory in the page allocator must be TDX-usable", DISCUSSION),
    Rule("cmr-aware/driver-remove", frozenset({DRIVER_MEM_REMOVE}), True, "info",
         "TDX: {mem} taken back by its driver: a software operation, no TDX impact", DISCUSSION),
))

UPSTREAM = Policy("upstream", "upstream Linux: memory notifier against the TDX memory list", (
    Rule("upstream/not-tdx-host", ALL_EVENTS, True, "info",
         "virt/tdx: not a TDX host platform (fewer than 2 TDX KeyIDs): hotplug works as normal",
         UPSTREAM_INIT, when=("!tdx",)),
    Rule("upstream/kexec-pw-mce", frozenset({KEXEC}), False, "warning",
         "kexec: Not allowed on platform with tdx_pw_mce bug (-EOPNOTSUPP)", UPSTREAM_KEXEC,
         when=("pw_mce",)),
    Rule("upstream/kexec-flush", frozenset({KEXEC}), True, "info",
         "kexec: tdx_cpu_flush_cache_for_kexec(): WBINVD on every CPU that made a SEAMCALL",
         UPSTREAM_FLUSH),
    Rule("upstream/cpu-left-to-bios", CPU_EVENTS, True, "warning",
         "(no kernel message) {cpu} hotplug is not checked: TDX does not support it and the "
         "kernel relies on the BIOS to prevent it", UPSTREAM_DOC),
    Rule("upstream/online-any-uninit", ADD_EVENTS, True, "info",
         "virt/tdx: {mem} may go online: the TDX module is not initialised (empty TDX memory "
         "list)", NOTIFIER, when=("tdx_memory_empty",)),
    Rule("upstream/online-in-tdx-block", ADD_EVENTS, True, "info",
         "virt/tdx: {mem} may go online: it lies inside one TDX memory block", NOTIFIER,
         when=("in_one_tdx_block",)),
    Rule("upstream/online-outside-tdx", ADD_EVENTS, False, "warning",
         "virt/tdx: {mem} refused at MEM_GOING_ONLINE (NOTIFY_BAD): not inside one block of the "
         "TDX memory fixed at module init", NOTIFIER),
    Rule("upstream/remove-unchecked", frozenset({ACPI_MEM_REMOVE}), True, "warning",
         "(no kernel message) {mem} hot-removed: removal of convertible memory is not checked; "
         "the kernel relies on the BIOS never to do it", UPSTREAM_DOC, places=CMR_PLACES,
         when=("initialized",)),
    Rule("upstream/remove", REMOVE_EVENTS, True, "info",
         "(no kernel message) {mem} offlined and removed: nothing TDX-specific to do",
         UPSTREAM_DOC),
))

POLICIES: dict[str, Policy] = {p.name: p for p in (FIRST_STAGE, CMR_AWARE, UPSTREAM)}

__all__ = ["CONDITIONS", "POLICIES", "Policy", "Rule"]
