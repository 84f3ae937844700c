"""Hotplug applied to the emulation: memory comes and goes, the CMRs the module reports do not."""

from __future__ import annotations

import pytest

from seamemu.arch.sysinfo import MAX_CMRS, TDSYSINFO_STRUCT_SIZE
from seamemu.errors import InputError
from seamemu.platform import Event, load_platform
from seamemu.session.cmr import TDH_SYS_INFO, ensure_lp_ready
from seamemu.session.hotplug import HotplugEmulation, run_hotplug

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
    assert r.decision.severity == "error" and "BIOS bug" in r.decision.message
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
    with pytest.raises(InputError, match="emulator cannot apply it.*image region"):
        emu.handle(Event("acpi-mem-remove", 0, MB128))
    assert emu.platform.hotplug_log == ()                     # nothing was committed


def test_a_seamcall_writing_into_removed_memory_loses_the_writes():
    emu = HotplugEmulation("tdx10", policy="cmr-aware")
    emu.handle(Event("acpi-mem-remove", *INSIDE))
    s = emu.session
    ensure_lp_ready(s, 0)
    r = s.call("__seamcall_ret", leaf=TDH_SYS_INFO, inputs={
        "rcx": INSIDE[0], "rdx": TDSYSINFO_STRUCT_SIZE, "r8": INSIDE[0] + 0x1000, "r9": MAX_CMRS})
    rec = r.calls[-1]
    assert rec.memory_written == ()
    assert "0x378000000" in rec.note and "not backed" in rec.note
    assert emu.probe_read(INSIDE[0]).outcome == "#PF"


def test_cpu_hot_remove_marks_the_cpu_absent():
    emu = HotplugEmulation(policy="upstream")
    r = emu.handle(Event("acpi-cpu-remove", lp=3))
    assert r.applied and 3 not in emu.platform.present_lps and "CPU 3" in r.change
