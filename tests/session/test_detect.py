# SPDX-License-Identifier: MIT
"""asm/tdx_detect.S under the emulator: every preset reports what its platform file says."""

from __future__ import annotations

import dataclasses
import re

import pytest

from seamemu.arch import msrs as m
from seamemu.platform import Event, apply_hotplug, as_platform, load_platform, preset_names
from seamemu.platform.hotplug_policy import detect_tdx
from seamemu.session import Session
from seamemu.session.detect import (
    STATUS_BITS,
    TDX_DETECT_SIZE,
    detect,
    format_detect,
)
from seamemu.session.msr_sites import platform_msr_tables
from seamemu.stubs import stub


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_reports_what_its_platform_file_says(preset):
    p = load_platform(preset=preset)
    r = detect(p)
    assert [c.lp for c in r.cpus] == list(p.present_lps)
    assert r.bios_enabled == detect_tdx(p, "first-stage")[0]
    assert r.platform_says == detect_tdx(p, "first-stage")
    for c in r.cpus:  # each CPU read its own platform values through RDMSR
        s = p.seamrr_of(c.lp)
        assert (c.seamrr_base, c.seamrr_mask) == (s.base_msr, s.mask_msr)
        assert c.keyid_part == (p.tdx_keyids << 32) | p.mktme_keyids
        assert c.faulted == ()
    if r.bios_enabled:
        assert r.seamrr == p.seamrr[0].range(p.max_pa)
        assert (r.keyid_start, r.nr_keyids) == (p.mktme_keyids + 1, p.tdx_keyids)
        first = p.mktme_keyids + 1
        assert r.kernel_upstream == (f"virt/tdx: BIOS enabled: private KeyID range "
                                     f"[{first}, {first + p.tdx_keyids})",)
        assert r.sysfs["/sys/firmware/tdx/bios_enabled"] == "1"
        assert int(r.sysfs["/sys/firmware/tdx/seamrr_base"], 16) == r.seamrr[0]
    else:
        assert r.seamrr is None and r.sysfs["/sys/firmware/tdx/bios_enabled"] == "0"
        assert "tdx: SEAMRR not enabled." in r.kernel_2022


def test_inconsistent_bios_is_caught_and_the_cpus_named():
    r = detect("inconsistent-seamrr")
    assert r.kernel_2022 == ("tdx: Inconsistent SEAMRR configuration by BIOS",
                             "tdx: SEAMRR not enabled.")
    assert [c.lp for c in r.cpus if c.has("SEAMRR_MISMATCH")] == [6, 7]
    assert any("CPU 6, 7" in n for n in r.notes)
    assert r.sysfs["/sys/firmware/tdx/seamrr_consistent"] == "0"
    text = format_detect(r)
    assert "SEAMRR-DIFFERS" in text and "TDX enabled by BIOS: no" in text


def test_tdx_disabled_bios_prints_the_kernel_lines():
    r = detect("tdx-disabled")
    assert r.kernel_2022 == ("tdx: SEAMRR base is not configured by BIOS",
                             "tdx: SEAMRR not enabled.")
    assert r.kernel_upstream == ()  # no TDX KeyIDs: upstream tdx_init() returns quietly


def test_a_cpu_without_seamrr_support_does_not_read_the_seamrr_msrs():
    p = dataclasses.replace(load_platform(), mtrrcap_seamrr=False)
    r = detect(p)
    assert all(not c.has("SEAMRR_SUPPORTED") and c.faulted == () for c in r.cpus)
    assert all(c.seamrr_base == 0 for c in r.cpus)
    assert not r.bios_enabled and any("MTRRCAP.SEAMRR" in n for n in r.notes)


def test_an_unknown_msr_faults_and_the_exception_table_reports_it():
    s = Session([stub("tdx_detect.S")], platform=load_platform(preset="one-socket"))
    tables = [{k: v for k, v in t.items() if k != m.IA32_MKTME_KEYID_PARTITIONING}
              for t in platform_msr_tables(s.platform, len(s.machine.lps))]
    s.machine.attach_msrs(tables, ())
    r = detect(session=s)
    assert all(c.faulted == ("IA32_MKTME_KEYID_PARTITIONING",) for c in r.cpus)
    assert not r.bios_enabled and r.kernel_upstream == ()
    assert any("raised #GP(0)" in n for n in r.notes)


def test_at_cpl3_every_rdmsr_faults_and_is_fixed_up():
    s = Session([stub("tdx_detect.S")], platform=load_platform(preset="one-socket"))
    s.set_state(cpl=3)
    r = detect(session=s)
    assert r.cpus[0].faulted == ("IA32_MTRRCAP", "IA32_MKTME_KEYID_PARTITIONING")


def test_hot_removed_cpus_are_skipped_and_the_next_is_the_boot_cpu():
    p = apply_hotplug(load_platform(), Event("acpi-cpu-remove", lp=0))
    r = detect(p)
    assert [c.lp for c in r.cpus] == [1, 2, 3, 4, 5, 6, 7] and r.bios_enabled


@pytest.mark.gnu_as
def test_gnu_as_build_detects_the_same():
    s = Session([stub("tdx_detect.S")], platform=load_platform(preset="inconsistent-seamrr"),
                backend="gnu")
    r = detect(session=s)
    assert [c.status for c in r.cpus] == [c.status for c in detect("inconsistent-seamrr").cpus]


def test_python_status_bits_and_layout_match_the_assembly():
    text = stub("tdx_detect.S").read_text()
    defines = dict(re.findall(r"#define\s+TDX_DETECT_(\w+)\s+(0x[0-9a-f]+|\d+)", text))
    for name, bit in STATUS_BITS.items():
        assert int(defines[name], 0) == bit, name
    assert int(defines["SIZE"]) == TDX_DETECT_SIZE
    assert [int(defines[f], 0) for f in ("mtrrcap", "seamrr_base", "seamrr_mask", "keyid_part",
                                         "status", "keyid_start", "nr_keyids")] == \
        [0, 8, 16, 24, 32, 40, 44]


def test_platform_spec_accepts_presets_files_and_objects(tmp_path):
    assert as_platform("tdx10").name == "tdx10"
    assert as_platform(None).name == "default"
    path = tmp_path / "mine.toml"
    path.write_text('extends = "default"\nname = "mine"\n')
    assert as_platform(str(path)).name == "mine"
