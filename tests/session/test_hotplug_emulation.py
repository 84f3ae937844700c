# SPDX-License-Identifier: MIT
"""Hotplug applied to the emulation: memory comes and goes, the CMRs the module reports do not."""

from __future__ import annotations

import pytest

from seamemu.arch.sysinfo import MAX_CMRS, TDSYSINFO_STRUCT_SIZE
from seamemu.errors import InputError
from seamemu.kernel.cmr_read import TDH_SYS_INFO, ensure_lp_ready
from seamemu.platform import Event, load_platform
from seamemu.session.hotplug_apply import HotplugEmulation, run_hotplug

G = 1 << 30
MB128 = 128 << 20
INSIDE = (14 * G - MB128, MB128)    # the top block of the last CMR (node-1 RAM)
SLOT = (14 * G, MB128)              # the start of the empty hot-pluggable slot


def boot_cmrs(preset="default"):
    return tuple((c.base, c.size) for c in load_platform(preset=preset).cmrs)


@pytest.mark.parametrize("preset, method", [("default", "TDH.SYS.RD"), ("tdx10", "TDH.SYS.INFO")])
def test_cmr_hot_remove_keeps_the_reported_cmrs_and_faults_a_later_access(preset, method):
    run = run_hotplug(preset, Event("acpi-mem-remove", *INSIDE), policy="cmr-aware")
    r = run.result
    assert r.applied and r.decision.rule == "cmr-aware/cmr-remove-bios-bug"
    # A proposal from the v5 thread, never code: no kernel line, seamemu's paraphrase only.
    assert r.decision.severity == "error" and r.decision.message == ""
    assert "BIOS bug" in r.decision.note
    assert run.cmrs.method == method
    assert run.cmrs.cmrs == boot_cmrs(preset)           # static: MCHECK verified them at boot
    p = run.probe
    assert p.outcome == "#PF" and p.fault.access == INSIDE[0] and p.fault.handled_by is None
    assert "was hot-removed (acpi-mem-remove [mem 0x0000000378000000-0x000000037fffffff])" \
        in p.reason
    assert "why: " in p.report() and "unhandled #PF" in p.report()
    # The memory right below the removed block is still there.
    assert run.emulation.probe_read(INSIDE[0] - 8).outcome == "returned"


def test_a_refused_event_changes_nothing():
    emu = HotplugEmulation(policy="upstream")
    before = emu.platform
    r = emu.handle(Event("acpi-mem-add", *SLOT))
    assert not r.applied and r.decision.rule == "upstream/online-outside-tdx"
    assert emu.platform is before
    probe = emu.probe_read(SLOT[0])
    assert probe.outcome == "#PF" and "empty hot-pluggable slot" in probe.reason


def test_use_tdx_off_hotplug_works_as_normal():
    emu = HotplugEmulation(policy="first-stage", use_tdx=False)
    assert not emu.situation.module_initialized
    added = emu.handle(Event("acpi-mem-add", *SLOT))
    assert added.applied and added.decision.rule == "first-stage/use-tdx-off"
    assert emu.probe_read(SLOT[0]).value == 0                 # new memory reads zero
    emu.session.machine.call("probe_write", [SLOT[0] + 8, 0x1234])
    assert emu.probe_read(SLOT[0] + 8).value == 0x1234
    removed = emu.handle(Event("acpi-mem-remove", *INSIDE))   # CMR memory: fine with TDX off
    assert removed.applied and emu.probe_read(INSIDE[0]).outcome == "#PF"
    run = run_hotplug(None, Event("driver-mem-add", *SLOT), policy="first-stage", use_tdx=False)
    assert run.result.applied and run.cmrs is None and "use_tdx=off" in run.cmrs_skipped


def test_remove_then_add_gives_zeroed_memory_back():
    emu = HotplugEmulation(policy="first-stage", use_tdx=False)
    emu.session.machine.call("probe_write", [INSIDE[0], 0xFEED])
    emu.handle(Event("acpi-mem-remove", *INSIDE))
    emu.handle(Event("acpi-mem-add", *INSIDE))
    assert emu.probe_read(INSIDE[0]).value == 0


def test_page_granular_remove_keeps_the_neighbouring_pages_and_their_contents():
    emu = HotplugEmulation(policy="first-stage", use_tdx=False)
    base = 4 * G + 0x201000
    emu.session.machine.call("probe_write", [base + 0x1000, 0xABCD])   # the next page
    emu.handle(Event("acpi-mem-remove", base, 0x1000))
    assert emu.probe_read(base).outcome == "#PF"
    assert "was hot-removed" in emu.probe_read(base + 0xFF8).reason
    assert emu.probe_read(base + 0x1000).value == 0xABCD
    assert emu.probe_read(base - 8).outcome == "returned"


def test_removing_the_emulators_own_memory_is_refused_clearly():
    emu = HotplugEmulation(policy="first-stage", use_tdx=False)
    with pytest.raises(InputError, match=r"emulator cannot apply it.*image region"):
        emu.handle(Event("acpi-mem-remove", 0, MB128))
    assert emu.platform.hotplug_log == ()                     # nothing was committed


def test_a_seamcall_writing_into_removed_memory_loses_the_writes():
    emu = HotplugEmulation("tdx10", policy="cmr-aware")
    emu.handle(Event("acpi-mem-remove", *INSIDE))
    s = emu.session
    entry, convention = emu.kernel.entry, emu.kernel.convention     # v5-2022's __seamcall
    ensure_lp_ready(s, 0, entry, convention)
    r = s.call(entry, convention=convention, leaf=TDH_SYS_INFO, inputs={
        "rcx": INSIDE[0], "rdx": TDSYSINFO_STRUCT_SIZE, "r8": INSIDE[0] + 0x1000, "r9": MAX_CMRS})
    rec = r.calls[-1]
    assert rec.memory_written == ()
    assert "0x378000000" in rec.note and "not backed" in rec.note
    assert emu.probe_read(INSIDE[0]).outcome == "#PF"


def test_cpu_hot_remove_marks_the_cpu_absent():
    emu = HotplugEmulation(policy="upstream")
    r = emu.handle(Event("acpi-cpu-remove", lp=3))
    assert r.applied and 3 not in emu.platform.present_lps and "CPU 3" in r.change


@pytest.mark.parametrize("preset", ["default", "tdx10"])
def test_a_later_seamcall_into_removed_memory_is_reported(preset):
    """TDH.SYS.INFO with its buffers in the removed range: the module's writes go nowhere."""
    run = run_hotplug(preset, Event("acpi-mem-remove", *INSIDE), policy="cmr-aware")
    sc = run.seamcall
    assert sc is not None and sc.leaf == "TDH.SYS.INFO" and sc.outcome == "returned"
    assert (sc.inputs["rcx"], sc.inputs["r8"]) == (INSIDE[0], INSIDE[0] + TDSYSINFO_STRUCT_SIZE)
    assert sc.status == 0 and sc.written == ()
    assert "write of 0x378000000+1024 not backed: dropped" in sc.note
    text = sc.report()
    assert "RAX 0x0000000000000000 TDX_SUCCESS" in text and "writes went nowhere" in text
    assert run.to_json()["after"]["seamcall"]["written"] == []
    # Outside the removed range the same call writes its buffers as usual.
    s = run.emulation.session
    ok = run.emulation.seamcall_into(s.alloc(4096, 4096))
    assert ok.status == 0 and [n for _, n in ok.written] == [1024, 1024, 512]


def test_no_seamcall_after_a_removal_when_the_module_is_not_used():
    run = run_hotplug(None, Event("acpi-mem-remove", *INSIDE), policy="upstream", use_tdx=False)
    assert run.result.applied and run.seamcall is None and run.cmrs is None
    add = run_hotplug(None, Event("acpi-mem-add", *SLOT), policy="upstream")
    assert not add.result.applied and add.seamcall is None      # not a removal


@pytest.mark.parametrize("policy, allow, rule", [
    ("upstream", True, "upstream/online-in-tdx-block"),
    ("cmr-aware", False, "cmr-aware/cmr-add-attack"),
    ("first-stage", False, "first-stage/add-reject"),
])
def test_hot_add_of_boot_ram_first_takes_it_away(policy, allow, rule):
    """Every CMR is present at boot, so a CMR hot-add can only follow a removal."""
    run = run_hotplug(None, Event("acpi-mem-add", *INSIDE), policy=policy)
    assert len(run.setup) == 1 and "is RAM at boot: it was taken away first" in run.setup[0]
    assert (run.result.decision.allow, run.result.decision.rule) == (allow, rule)
    assert run.result.applied == allow
    if allow:
        assert run.probe.outcome == "returned" and run.probe.value == 0
    else:
        assert run.probe.outcome == "#PF" and "was hot-removed" in run.probe.reason
    assert run.to_json()["setup"] == list(run.setup)


def test_hot_add_of_a_present_cpu_first_takes_it_away():
    run = run_hotplug(None, Event("acpi-cpu-add", lp=3), policy="upstream")
    assert run.setup and "CPU 3 is present at boot" in run.setup[0]
    assert run.result.applied and 3 in run.emulation.platform.present_lps
    rejected = run_hotplug(None, Event("acpi-cpu-add", lp=3), policy="cmr-aware")
    assert not rejected.result.applied and 3 not in rejected.emulation.platform.present_lps
    plain = run_hotplug(None, Event("acpi-mem-add", *SLOT), policy="upstream")
    assert plain.setup == ()                                     # an empty slot needs no stage


def test_dax_kmem_onlines_the_nvdimm_and_keeps_its_contents():
    emu = HotplugEmulation(policy="upstream", use_tdx=False)
    emu.session.machine.call("probe_write", [8 * G + 0x40, 0xC0FFEE])
    r = emu.handle(Event("driver-mem-add", 8 * G, MB128))
    assert r.applied and "contents are kept" in r.change
    assert emu.probe_read(8 * G + 0x40).value == 0xC0FFEE
