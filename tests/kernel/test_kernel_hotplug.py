# SPDX-License-Identifier: MIT
"""A kernel's hotplug verdicts, and what an allowed event does to the platform (CMRs never move)."""

import dataclasses

import pytest

from seamemu.errors import InputError
from seamemu.kernel.detection import platform_detection
from seamemu.kernel.hotplug import handle, judge, situation_for
from seamemu.platform import Event, absence_reason, apply_hotplug, load_platform, present

G = 1 << 30
MB128 = 128 << 20
INSIDE = (14 * G - MB128, MB128)   # the top block of cmr[2], node-1 RAM
SLOT = (14 * G, 2 * G)             # the empty hot-pluggable slot


@pytest.fixture(scope="module")
def default():
    return load_platform()


def test_present_follows_the_memory_map(default):
    is_present = present(default)
    assert is_present(0x400000, 0x1000)          # where the emulator maps its code
    assert is_present(0x7C000000, 8)             # SEAMRR: reserved, but memory is there
    assert not is_present(0x80000000, 8)         # PCI hole
    assert not is_present(SLOT[0], 8)            # empty slot
    assert not is_present(14 * G - 8, 16)        # straddles RAM and the empty slot
    assert is_present(14 * G - 8, 8)
    assert not is_present(1 << 45, 1)


def test_cmr_hot_remove_under_cmr_aware_takes_memory_away_but_not_the_cmr(default):
    event = Event("acpi-mem-remove", *INSIDE)
    decision, after = handle(default, event, "cmr-aware")
    assert decision.allow and decision.severity == "error" and "BIOS bug" in decision.note
    assert decision.message == ""               # a proposal of the v5 thread: no kernel line
    assert after.cmrs == default.cmrs                      # CMRs are static
    assert not present(after)(INSIDE[0], 8)
    assert present(after)(INSIDE[0] - 8, 8)                # the rest of the region stays
    assert after.hotplug_log == (event.describe(),)
    assert "was hot-removed (acpi-mem-remove [mem 0x0000000378000000-0x000000037fffffff])" in \
        absence_reason(after, INSIDE[0] + 0x1000)
    # The removed block is now an empty slot merged with the one after it, on the same node.
    slot = next(m for m in after.memory if m.base == INSIDE[0])
    assert (slot.kind, slot.end, slot.node) == ("hotplug", SLOT[0] + SLOT[1], 1)
    assert default.memory != after.memory and present(default)(INSIDE[0], 8)  # original intact


def test_cmr_hot_add_after_removal_is_an_attack_and_changes_nothing(default):
    _, removed = handle(default, Event("acpi-mem-remove", *INSIDE), "cmr-aware")
    decision, again = handle(removed, Event("acpi-mem-add", *INSIDE), "cmr-aware")
    assert (decision.allow, decision.severity) == (False, "critical")
    assert "TDX is under attack" in decision.note
    assert again is removed


def test_upstream_lets_removed_tdx_memory_back_online(default):
    s = situation_for(default, "upstream")
    _, removed = handle(default, Event("driver-mem-remove", *INSIDE), "upstream", s)
    decision, back = handle(removed, Event("driver-mem-add", *INSIDE), "upstream", s)
    assert decision.allow and decision.rule == "upstream/online-in-tdx-block"
    assert present(back)(INSIDE[0], MB128)
    assert back.memory == default.memory                 # merged back into one region
    assert len(back.hotplug_log) == 2


def test_adding_memory_into_the_empty_slot(default):
    off = situation_for(default, "first-stage", use_tdx=False)
    decision, after = handle(default, Event("acpi-mem-add", SLOT[0], MB128), "first-stage", off)
    assert decision.rule == "first-stage/use-tdx-off"
    # The new block joins the node-1 RAM just below it.
    ram = next(m for m in after.memory if m.base <= SLOT[0] < m.end)
    assert (ram.kind, ram.base, ram.end, ram.node) == ("usable", 10 * G, SLOT[0] + MB128, 1)
    rest = next(m for m in after.memory if m.base == SLOT[0] + MB128)
    assert (rest.kind, rest.end) == ("hotplug", SLOT[0] + SLOT[1])
    assert present(after)(SLOT[0], MB128) and not present(after)(SLOT[0] + MB128, 8)
    assert absence_reason(after, SLOT[0] + MB128).endswith(
        "lies in an empty hot-pluggable slot [0x0000000388000000, 0x0000000400000000)")


def test_removing_the_middle_of_a_region_splits_it(default):
    after = apply_hotplug(default, Event("driver-mem-remove", 5 * G, MB128))
    pieces = [(m.base, m.end, m.kind) for m in after.memory if 4 * G <= m.base < 8 * G]
    assert pieces == [(4 * G, 5 * G, "usable"), (5 * G, 5 * G + MB128, "hotplug"),
                      (5 * G + MB128, 8 * G, "usable")]


def test_rejected_events_leave_the_platform_alone(default):
    decision, after = handle(default, Event("acpi-mem-add", SLOT[0], MB128), "first-stage")
    assert not decision.allow and after is default


def test_a_driver_onlines_persistent_memory_but_acpi_cannot_add_over_it(default):
    """dax/kmem: the NVDIMM at [8G, 9G) is present device memory a driver turns into RAM."""
    nvdimm = Event("driver-mem-add", 8 * G, MB128)
    assert [m.kind for m in default.memory if m.base == 8 * G] == ["persistent"]
    after = apply_hotplug(default, nvdimm)
    def kind_at(p, pa):
        return next(m.kind for m in p.memory if m.base <= pa < m.end)

    assert kind_at(after, 8 * G) == kind_at(after, 8 * G + MB128 - 1) == "usable"
    assert kind_at(after, 8 * G + MB128) == "persistent"   # the rest stays device memory
    assert after.cmrs == default.cmrs
    with pytest.raises(InputError, match="only empty slots or holes can gain memory"):
        apply_hotplug(default, Event("acpi-mem-add", 8 * G, MB128))
    # Taken back by the driver: gone from the kernel's memory, so accesses find nothing.
    back = apply_hotplug(after, Event("driver-mem-remove", 8 * G, MB128))
    assert not present(back)(8 * G, 8)


@pytest.mark.parametrize("event, message", [
    (Event("acpi-mem-add", *INSIDE), "overlaps present usable memory"),
    (Event("driver-mem-add", 7 * G, 2 * G), "only empty slots, holes or persistent memory"),
    (Event("acpi-mem-add", 7 * G, 2 * G), "overlaps present usable memory"),
    (Event("acpi-mem-remove", *SLOT), "not all of it is present RAM"),
    (Event("acpi-mem-remove", 0x7C000000, MB128), "not all of it is present RAM"),
    (Event("driver-mem-add", 1 << 46, MB128), "where the KeyID bits of the physical address start"),
    (Event("acpi-cpu-add", lp=3), "CPU 3 is already present"),
    (Event("acpi-cpu-remove", lp=8), "LP 8 is outside the topology"),
])
def test_events_that_do_not_fit_the_platform(default, event, message):
    with pytest.raises(InputError, match=message):
        apply_hotplug(default, event)


def test_cpu_hot_remove_and_add(default):
    decision, after = handle(default, Event("acpi-cpu-remove", lp=5), "cmr-aware")
    assert decision.allow and decision.severity == "error"
    assert after.present_lps == (0, 1, 2, 3, 4, 6, 7) and after.cmrs == default.cmrs
    with pytest.raises(InputError, match="already absent"):
        apply_hotplug(after, Event("acpi-cpu-remove", lp=5))
    decision, same = handle(after, Event("acpi-cpu-add", lp=5), "cmr-aware")
    assert not decision.allow and same is after          # SEAMRR is on: rejected
    decision, back = handle(after, Event("acpi-cpu-add", lp=5), "upstream")
    assert decision.allow and back.present_lps == tuple(range(8))


def test_kexec_changes_nothing_physical(default):
    after = apply_hotplug(default, Event("kexec"))
    assert after.memory == default.memory and after.hotplug_log == ("kexec",)


def test_judge_uses_the_platform_cmrs_and_detection(default):
    off = load_platform(preset="tdx-disabled")
    assert judge(off, Event("acpi-mem-add", *INSIDE), "cmr-aware").rule == "cmr-aware/bios-off"
    # Upstream detects TDX from the KeyID MSR only: SEAMRR alone is not enough.
    one_key = dataclasses.replace(default, tdx_keyids=1, mktme_keyids=62)
    assert judge(one_key, Event("kexec"), "upstream").rule == "upstream/not-tdx-host"
    # v5 01/22 needs two TDX KeyIDs too (its WARN_ON): no TDX for that kernel either.
    assert judge(one_key, Event("kexec"), "first-stage").rule == "first-stage/bios-off"


def test_situation_defaults(default):
    s = situation_for(default, "cmr-aware")
    assert s.tdx_enabled_by_bios and s.module_initialized and s.cmrs_read_at_boot
    assert s.tdx_memory == ((0, 0x78000000), (4 * G, 4 * G), (10 * G, 4 * G))
    assert not situation_for(default, "first-stage").cmrs_read_at_boot
    assert not situation_for(default, "upstream", use_tdx=False).module_initialized
    assert not situation_for(load_platform(preset="no-module"), "upstream").module_initialized
    # RAM outside every CMR makes TDMR setup fail, so the module never initialises.
    stray = dataclasses.replace(default, cmrs=default.cmrs[:2])
    assert not situation_for(stray, "upstream").module_initialized


@pytest.mark.parametrize("preset, policy, detected, lines", [
    ("default", "cmr-aware", True,
     ("tdx: SEAMRR enabled.", "tdx: TDX private KeyID range: [32, 64).", "tdx: TDX enabled by BIOS.")),
    # v5 01/22 reads the boot CPU only: a different SEAMRR on CPUs 6-7 goes unnoticed.
    ("inconsistent-seamrr", "first-stage", True,
     ("tdx: SEAMRR enabled.", "tdx: TDX private KeyID range: [32, 64).", "tdx: TDX enabled by BIOS.")),
    ("tdx-disabled", "first-stage", False, ()),          # detect_seam() is silent
    # tdx_init(): pr_info("BIOS enabled: private KeyID range [%u, %u)") (no colon)
    ("default", "upstream", True, ("virt/tdx: BIOS enabled: private KeyID range [32, 64)",)),
    ("inconsistent-seamrr", "upstream", True,
     ("virt/tdx: BIOS enabled: private KeyID range [32, 64)",)),
    # No TDX KeyIDs: record_keyid_partitioning() fails and tdx_init() returns without a word.
    ("tdx-disabled", "upstream", False, ()),
])
def test_boot_time_tdx_detection(preset, policy, detected, lines):
    from seamemu.kernel.hotplug import get_policy

    found = platform_detection(load_platform(preset=preset), get_policy(policy).kernel)
    assert (found.enabled, found.lines) == (detected, lines)


def test_upstream_detection_with_one_tdx_keyid_is_refused_loudly(default):
    one = dataclasses.replace(default, tdx_keyids=1, mktme_keyids=62)
    found = platform_detection(one, "mainline")
    assert not found.enabled
    assert found.lines[-1] == "virt/tdx: initialization failed: too few private KeyIDs available."


def test_seamrr_detection_needs_lock_and_mtrrcap(default):
    unlocked = dataclasses.replace(default, seamrr=tuple(
        dataclasses.replace(s, mask_msr=s.mask_msr & ~(1 << 10)) for s in default.seamrr))
    found = platform_detection(unlocked, "v5-2022")
    assert not found.enabled and found.lines == () and "LOCK and ENABLED" in found.notes[0]
    no_cap = dataclasses.replace(default, mtrrcap_seamrr=False)
    assert not platform_detection(no_cap, "v5-2022").enabled
    assert judge(unlocked, Event("acpi-cpu-add", lp=1), "first-stage").rule == "first-stage/bios-off"
    assert judge(unlocked, Event("acpi-cpu-add", lp=1), "upstream").rule == "upstream/cpu-left-to-bios"


@pytest.mark.parametrize("event, dmesg", [
    (Event("acpi-cpu-add", lp=1), "acpi ACPI0007:00: [BIOS bug]: Platform doesn't support ACPI "
                                  "CPU hotplug.  New CPU ignored."),
    (Event("acpi-mem-add", *SLOT), "acpi PNP0C80:00: [BIOS bug]: Platform doesn't support ACPI "
                                   "memory hotplug. New memory device ignored."),
    (Event("acpi-mem-remove", *INSIDE), "acpi PNP0C80:00: Platform doesn't support ACPI memory "
                                        "hotplug. BUG()."),
    (Event("driver-mem-add", 8 * G, MB128), "Unable to add memory [0x200000000, 0x208000000) on "
                                            "TDX enabled platform."),
])
def test_the_v5_series_as_posted_prints_its_own_lines(default, event, dmesg):
    """[PATCH v5 02/22], 03/22 (dev_err on the ACPI device) and 05/22 (no pr_fmt)."""
    d = judge(default, event, "v5-2022")
    assert d.message == dmesg
    assert d.allow == event.kind.endswith("remove")


def test_merged_kernels_refuse_memory_silently_at_mem_going_online(default):
    s = situation_for(default, "upstream")
    for policy in ("6.8", "upstream"):
        d = judge(default, Event("acpi-mem-add", SLOT[0], MB128), policy, s)
        assert not d.allow and d.message == "" and "NOTIFY_BAD" in d.note, policy


def test_6_8_has_no_kexec_and_mainline_allows_it_even_on_pw_mce(default):
    assert not judge(default, Event("kexec"), "6.8").allow        # !KEXEC_CORE
    pw = dataclasses.replace(default, tdx_pw_mce_bug=True)
    d = judge(pw, Event("kexec"), "upstream")
    assert d.allow and "TDH.SYS.DISABLE" in d.message + d.note
