# SPDX-License-Identifier: MIT
"""Each kernel generation's memory/CPU hotplug and kexec handling, as ordered rule tables.

The first rule that matches decides (platform.hotplug_rules).  `message` is what that kernel
prints, in its format, or "" when it prints nothing; `note` is seamemu's account.

- v5-2022: the series as posted ([PATCH v5 02-05/22], 21/22): ACPI CPU and memory hot-add
  refused by dev_err() on the ACPI device ("[BIOS bug]: ..."), ACPI hot-removal answered with
  BUG(), driver-managed hot-add refused in arch_memory_add_precheck(), kexec flushed with
  WBINVD in stop_this_cpu() and the module left as it is.  Its thread also discussed two
  stages of a different design, kept here as `first-stage` and `cmr-aware`: they are
  proposals, never code, so they print nothing (seamemu paraphrases them in the note).
- 6.8 (tdx.c at v6.8 tdx_memory_notifier(); cb8eb06d50fc "Disable TDX host support when
  kexec is enabled"; Documentation/arch/x86/tdx.rst 4e1c7dddc717): at MEM_GOING_ONLINE, any
  memory outside one block of the TDX memory list is refused (NOTIFY_BAD), silently; physical
  CPU and memory hot-removal are left to the BIOS; kexec is not built into a TDX host.
- upstream (mainline): the same notifier; kexec of a kernel whose module was initialised
  runs the syscore shutdown tdx_shutdown(): TDH.SYS.DISABLE (leaf 69), then WBINVD and VMXOFF
  on every CPU (tdx.c at 0eaed89c18ae; 5b25f249be32 "x86/tdx: Disable the TDX module during
  kexec and kdump", which also dropped the X86_BUG_TDX_PW_MCE refusal from
  machine_kexec_prepare()).  No modelled module has leaf 69 (intel/tdx-module TDX_1.5.01,
  e98d963 and 1666adc tdx_api_defs.h), so it answers TDX_OPERAND_INVALID(RAX), which
  tdx_sys_disable() prints.  Before 7.1 (v6.18 tdx.c) kexec was refused on those parts and flushed caches
  otherwise: not played here.
"""

from __future__ import annotations

from seamemu.platform.events import (
    ACPI_CPU_ADD,
    ACPI_CPU_REMOVE,
    ACPI_MEM_ADD,
    ACPI_MEM_REMOVE,
    ADD_EVENTS,
    CMR_PLACES,
    CPU_EVENTS,
    DRIVER_MEM_ADD,
    DRIVER_MEM_REMOVE,
    INSIDE,
    KEXEC,
    MEMORY_EVENTS,
    REMOVE_EVENTS,
)
from seamemu.platform.hotplug_rules import ALL_EVENTS, Policy, Rule

# Sources (ML: a mailing-list copy of the patch).
V5_CPU = ("ML [PATCH v5 02/22] cc_platform: Add new attribute to prevent ACPI CPU hotplug "
          "(acpi_processor_add()/acpi_processor_remove())")
V5_MEM = ("ML [PATCH v5 03/22] cc_platform: Add new attribute to prevent ACPI memory hotplug "
          "(acpi_memory_device_add()/acpi_memory_device_remove())")
V5_DRIVER = ("ML [PATCH v5 05/22] x86/virt/tdx: Prevent hot-add driver managed memory "
             "(arch/x86/mm/init_64.c arch_memory_add_precheck())")
V5_KEXEC = "ML [PATCH v5 21/22] x86/virt/tdx: Support kexec() (stop_this_cpu())"
V5_DETECT = "ML [PATCH v5 01/22] platform_tdx_enabled() (two or more TDX KeyIDs)"
DISCUSSION = ("ML v5 thread: Kai Huang's summary of TDX and ACPI memory hotplug (CMRs static; "
              "CMR hot-remove a BIOS bug; CMR hot-add an attack; non-CMR hot-add refused by "
              "policy; a use_tdx= switch), a proposal")
FIRST_STEP = DISCUSSION + "; first step: hot-remove does nothing, every hot-add is refused"
NOTIFIER_6_8 = "Linux v6.8 tdx.c tdx_memory_notifier() at MEM_GOING_ONLINE"
NOTIFIER = "Linux tdx.c tdx_memory_notifier() at MEM_GOING_ONLINE (6.8 and mainline)"
DOC = "Linux Documentation/arch/x86/tdx.rst (physical hotplug left to the BIOS)"
KEXEC_6_8 = ("Linux cb8eb06d50fc 'x86/virt/tdx: Disable TDX host support when kexec is "
             "enabled' (INTEL_TDX_HOST depends on !KEXEC_CORE)")
KEXEC_DISABLE = ("Linux tdx.c (0eaed89c18ae) tdx_shutdown(), tdx_sys_disable() (b7d2173946ef); "
                 "5b25f249be32 'x86/tdx: Disable the TDX module during kexec and kdump'")
TDX_INIT = ("Linux tdx.c tdx_init(): a TDX host platform only with >= 2 TDX KeyIDs in "
            "IA32_MKTME_KEYID_PARTITIONING")

# dev_err() prefixes the ACPI device's name; seamemu has no ACPI namespace, so it shows the
# device of the right kind (processor ACPI0007, memory device PNP0C80) with instance 00.
CPU_DEV, MEM_DEV = "acpi ACPI0007:00: ", "acpi PNP0C80:00: "
UNPLUGGED = "the hardware event has happened already: the kernel cannot refuse it"


def _bios_off(p: str, source: str) -> Rule:
    return Rule(f"{p}/bios-off", ALL_EVENTS, True, "info", "", source, when=("!tdx",),
                note="TDX is not enabled by BIOS: hotplug works as normal")


V5_2022 = Policy("v5-2022", "v5-2022", "the v5 series as posted: ACPI hotplug is a BIOS bug", (
    _bios_off("v5-2022", V5_DETECT),
    Rule("v5-2022/cpu-add", frozenset({ACPI_CPU_ADD}), False, "error",
         CPU_DEV + "[BIOS bug]: Platform doesn't support ACPI CPU hotplug.  New CPU ignored.",
         V5_CPU, note="acpi_processor_add() returns -EINVAL"),
    Rule("v5-2022/cpu-remove", frozenset({ACPI_CPU_REMOVE}), True, "critical", "", V5_CPU,
         note="acpi_processor_remove() reports it and calls BUG(): the kernel stops ("
              + UNPLUGGED + "; the patch's exact message for CPU removal was not read)"),
    Rule("v5-2022/mem-add", frozenset({ACPI_MEM_ADD}), False, "error",
         MEM_DEV + "[BIOS bug]: Platform doesn't support ACPI memory hotplug. New memory "
         "device ignored.", V5_MEM, note="acpi_memory_device_add() returns -EINVAL"),
    Rule("v5-2022/mem-remove", frozenset({ACPI_MEM_REMOVE}), True, "critical",
         MEM_DEV + "Platform doesn't support ACPI memory hotplug. BUG().", V5_MEM,
         note="then BUG(): the kernel stops (" + UNPLUGGED + ")"),
    Rule("v5-2022/driver-add", frozenset({DRIVER_MEM_ADD}), False, "warning",
         "Unable to add memory [{start}, {end}) on TDX enabled platform.", V5_DRIVER,
         note="add_memory_resource() fails with -EINVAL"),
    Rule("v5-2022/driver-remove", frozenset({DRIVER_MEM_REMOVE}), True, "info", "",
         V5_DRIVER, note="no check on removal: driver-managed memory goes back to its driver"),
    Rule("v5-2022/kexec", frozenset({KEXEC}), True, "info", "", V5_KEXEC,
         note="stop_this_cpu() runs WBINVD; the module stays initialised, so the new kernel's "
              "first TDH.SYS.INIT fails and it cannot use TDX"),
))


def _discussion_common(p: str) -> tuple[Rule, ...]:
    """Rules both discussion stages share: CPU handling as the series coded it, kexec."""
    return (
        _bios_off(p, DISCUSSION),
        Rule(f"{p}/cpu-add-bios-bug", frozenset({ACPI_CPU_ADD}), False, "error",
             CPU_DEV + "[BIOS bug]: Platform doesn't support ACPI CPU hotplug.  New CPU "
             "ignored.", V5_CPU, note="as the v5 series coded it"),
        Rule(f"{p}/cpu-remove-bios-bug", frozenset({ACPI_CPU_REMOVE}), True, "error", "",
             V5_CPU, note="as the v5 series coded it: BUG() (" + UNPLUGGED + ")"),
        Rule(f"{p}/kexec-after-init", frozenset({KEXEC}), True, "warning", "", V5_KEXEC,
             when=("initialized",),
             note="WBINVD in stop_this_cpu(); the module is initialised once per boot, so the "
                  "new kernel cannot use TDX"),
        Rule(f"{p}/kexec", frozenset({KEXEC}), True, "info", "", V5_KEXEC,
             note="WBINVD in stop_this_cpu()"),
        Rule(f"{p}/use-tdx-off", MEMORY_EVENTS, True, "info", "", DISCUSSION,
             when=("!use_tdx",),
             note="proposal: with use_tdx=off, {mem} hotplug works as normal and the module "
                  "is never initialised"),
    )


FIRST_STAGE = Policy("first-stage", "v5-2022",
                     "discussion, first stage: CMRs unknown at boot (reading them needs VMX)", (
    *_discussion_common("first-stage"),
    Rule("first-stage/remove-nothing", REMOVE_EVENTS, True, "info", "", FIRST_STEP,
         note="proposal: {mem} removed, nothing to do (the CMRs are not known at boot)"),
    Rule("first-stage/add-reject", ADD_EVENTS, False, "warning", "", FIRST_STEP,
         note="proposal: memory hot-add {mem} refused because TDX is enabled by BIOS"),
))

CMR_AWARE = Policy("cmr-aware", "v5-2022",
                   "discussion, second stage: CMRs read at boot, memory judged against them", (
    *_discussion_common("cmr-aware"),
    Rule("cmr-aware/cmrs-unknown-remove", REMOVE_EVENTS, True, "info", "", FIRST_STEP,
         when=("!cmrs_known",), note="proposal: {mem} removed unchecked (no CMRs read at boot)"),
    Rule("cmr-aware/cmrs-unknown-add", ADD_EVENTS, False, "warning", "", FIRST_STEP,
         when=("!cmrs_known",),
         note="proposal: hot-add {mem} refused: TDX is enabled and the CMRs are unknown"),
    Rule("cmr-aware/cmr-remove-bios-bug", frozenset({ACPI_MEM_REMOVE}), True, "error", "",
         DISCUSSION, places=CMR_PLACES,
         note="proposal: CMR memory {mem} hot-removed is a BIOS bug; it cannot be stopped and "
              "TDX is broken"),
    Rule("cmr-aware/non-cmr-remove", frozenset({ACPI_MEM_REMOVE}), True, "info", "",
         DISCUSSION, note="proposal: {mem} lies outside the CMRs: no TDX impact"),
    Rule("cmr-aware/cmr-add-attack", frozenset({ACPI_MEM_ADD}), False, "critical", "",
         DISCUSSION, places=CMR_PLACES,
         note="proposal: a hot-add of CMR memory {mem} means TDX is under attack: refuse it"),
    Rule("cmr-aware/non-cmr-add", frozenset({ACPI_MEM_ADD}), False, "warning", "",
         DISCUSSION,
         note="proposal: hot-add {mem} refused: not convertible, and all memory in the page "
              "allocator must be TDX-usable"),
    Rule("cmr-aware/driver-add-cmr", frozenset({DRIVER_MEM_ADD}), True, "info", "",
         DISCUSSION, places=frozenset({INSIDE}),
         note="proposal: {mem} added by a driver is convertible: TDX-usable"),
    Rule("cmr-aware/driver-add-non-cmr", frozenset({DRIVER_MEM_ADD}), False, "warning", "",
         DISCUSSION,
         note="proposal: driver memory {mem} refused: not (all) convertible"),
    Rule("cmr-aware/driver-remove", frozenset({DRIVER_MEM_REMOVE}), True, "info", "",
         DISCUSSION, note="proposal: {mem} taken back by its driver: no TDX impact"),
))


def _notifier_rules(p: str, source: str) -> tuple[Rule, ...]:
    """tdx_memory_notifier(), identical in 6.8 and mainline, and the removal it ignores."""
    return (
        Rule(f"{p}/online-any-uninit", ADD_EVENTS, True, "info", "", source,
             when=("tdx_memory_empty",),
             note="{mem} may go online: the TDX memory list is empty (module not initialised)"),
        Rule(f"{p}/online-in-tdx-block", ADD_EVENTS, True, "info", "", source,
             when=("in_one_tdx_block",),
             note="{mem} may go online: it lies inside one block of the TDX memory list"),
        Rule(f"{p}/online-outside-tdx", ADD_EVENTS, False, "warning", "", source,
             note="NOTIFY_BAD at MEM_GOING_ONLINE, silently: {mem} is not inside one block of "
                  "the TDX memory fixed at module init (online_pages() fails; its pr_debug "
                  "shows only with dynamic debug)"),
        Rule(f"{p}/remove-unchecked", frozenset({ACPI_MEM_REMOVE}), True, "warning", "", DOC,
             places=CMR_PLACES, when=("initialized",),
             note="{mem} hot-removed: nothing checks the removal of convertible memory; the "
                  "kernel relies on the BIOS never to do it"),
        Rule(f"{p}/remove", REMOVE_EVENTS, True, "info", "", DOC,
             note="{mem} offlined and removed: nothing TDX-specific happens"),
    )


def _merged_common(p: str) -> tuple[Rule, ...]:
    return (
        Rule(f"{p}/not-tdx-host", ALL_EVENTS, True, "info", "", TDX_INIT, when=("!tdx",),
             note="not a TDX host platform (fewer than 2 TDX KeyIDs): hotplug works as normal"),
        Rule(f"{p}/cpu-left-to-bios", CPU_EVENTS, True, "warning", "", DOC,
             note="{cpu} physical hotplug is not checked: TDX does not support it and the "
                  "kernel relies on the BIOS to prevent it"),
    )


LINUX_6_8 = Policy("6.8", "6.8", "Linux 6.8: memory notifier against the TDX memory list", (
    *_merged_common("6.8"),
    Rule("6.8/kexec-not-built", frozenset({KEXEC}), False, "warning", "", KEXEC_6_8,
         note="a 6.8 kernel with TDX host support has no kexec at all (kexec_load() is not "
              "there to call)"),
    *_notifier_rules("6.8", NOTIFIER_6_8),
))

UPSTREAM = Policy("upstream", "mainline",
                  "mainline: memory notifier against the TDX memory list", (
    *_merged_common("upstream"),
    Rule("upstream/kexec-disable", frozenset({KEXEC}), True, "warning",
         "virt/tdx: TDH.SYS.DISABLE failed: 0xc000010000000000", KEXEC_DISABLE,
         when=("initialized",),
         note="tdx_shutdown(): TDH.SYS.DISABLE (leaf 69) is not a leaf of the modelled modules, "
              "which answer TDX_OPERAND_INVALID(RAX); then WBINVD and VMXOFF on every CPU.  The "
              "module stays initialised, so the new kernel's TDH.SYS.INIT fails and it cannot "
              "use TDX"),
    Rule("upstream/kexec", frozenset({KEXEC}), True, "info", "", KEXEC_DISABLE,
         note="the module was never initialised, so tdx_shutdown() was never registered: "
              "nothing TDX-specific happens"),
    *_notifier_rules("upstream", NOTIFIER),
))

POLICIES: dict[str, Policy] = {p.name: p for p in (LINUX_6_8, CMR_AWARE, FIRST_STAGE,
                                                    UPSTREAM, V5_2022)}

__all__ = ["CMR_AWARE", "FIRST_STAGE", "LINUX_6_8", "POLICIES", "UPSTREAM", "V5_2022"]
