# SPDX-License-Identifier: MIT
"""asm/tdx_detect.S under the emulator: every preset reports what its platform file says."""

from __future__ import annotations

import dataclasses
import re

import pytest

from seamemu.arch import msrs as m
from seamemu.kernel.detection import platform_detection
from seamemu.platform import Event, apply_hotplug, as_platform, load_platform, preset_names
from seamemu.session import Session
from seamemu.session.detect import (
    STATUS_BITS,
    TDX_DETECT_SIZE,
    detect,
    format_detect,
)
from seamemu.session.msr_sites import platform_msr_tables
from seamemu.stubs import stub


@pytest.mark.parametrize("kernel", ["v5-2022", "6.8", "mainline"])
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_reports_what_its_platform_file_says(preset, kernel):
    p = load_platform(preset=preset)
    r = detect(p, kernel=kernel)
    assert [c.lp for c in r.cpus] == list(p.present_lps)
    assert r.kernel == kernel
    assert r.platform_says == platform_detection(p, kernel)
    assert r.bios_enabled == r.platform_says.enabled
    for c in r.cpus:  # each CPU read its own platform values through RDMSR
        s = p.seamrr_of(c.lp)
        assert (c.seamrr_base, c.seamrr_mask) == (s.base_msr, s.mask_msr)
        assert c.keyid_part == (p.tdx_keyids << 32) | p.mktme_keyids
        assert c.faulted == ()
    first = p.mktme_keyids + 1
    if r.bios_enabled:
        assert (r.keyid_start, r.nr_keyids) == (first, p.tdx_keyids)
        assert r.sysfs["/sys/firmware/tdx/bios_enabled"] == "1"
    else:
        assert r.sysfs["/sys/firmware/tdx/bios_enabled"] == "0"
    if kernel == "v5-2022" and r.bios_enabled:   # [PATCH v5 01/22] tdx_early_detect()
        assert r.seamrr == p.seamrr[0].range(p.max_pa)
        assert r.kernel_log == ("tdx: SEAMRR enabled.",
                                f"tdx: TDX private KeyID range: [{first}, {first + p.tdx_keyids}).",
                                "tdx: TDX enabled by BIOS.")
    if p.seamrr[0].enabled:          # a hardware fact, whichever kernel looked
        assert r.seamrr == p.seamrr[0].range(p.max_pa)
    if kernel != "v5-2022" and r.bios_enabled:   # tdx.c tdx_init()
        assert r.kernel_log == (f"virt/tdx: BIOS enabled: private KeyID range "
                                f"[{first}, {first + p.tdx_keyids})",)


def test_only_the_boot_cpu_is_read_so_inconsistent_seamrr_passes_with_a_note():
    r = detect("inconsistent-seamrr", kernel="v5-2022")
    assert r.bios_enabled and r.kernel_log[-1] == "tdx: TDX enabled by BIOS."
    assert [c.lp for c in r.cpus if c.has("SEAMRR_MISMATCH")] == [6, 7]
    assert any("CPU 6, 7" in n and "only the boot CPU" in n for n in r.notes)
    assert r.sysfs["/sys/firmware/tdx/seamrr_consistent"] == "0"
    text = format_detect(r)
    assert "SEAMRR-DIFFERS" in text and "TDX enabled by BIOS: yes" in text
    assert "seamemu: SEAMRR on CPU 6, 7 differs" in text


def test_tdx_disabled_bios_is_silent_in_every_generation():
    for kernel in ("v5-2022", "6.8", "mainline"):
        r = detect("tdx-disabled", kernel=kernel)
        assert not r.bios_enabled and r.kernel_log == (), kernel
        assert r.notes and "silently" in r.notes[0]
    assert "(the kernel prints nothing)" in format_detect(detect("tdx-disabled"))


def test_one_tdx_keyid_is_a_warn_on_in_v5_and_a_message_upstream():
    p = dataclasses.replace(load_platform(), tdx_keyids=1)
    v5 = detect(p, kernel="v5-2022")
    assert not v5.bios_enabled and v5.kernel_log[-1] == "tdx: TDX private KeyID range: [32, 33)."
    assert "WARN_ON" in v5.notes[0]
    upstream = detect(p, kernel="mainline")
    assert upstream.kernel_log[-1] == "virt/tdx: initialization failed: too few private KeyIDs available."


def test_a_cpu_without_seamrr_support_does_not_read_the_seamrr_msrs():
    p = dataclasses.replace(load_platform(), mtrrcap_seamrr=False)
    r = detect(p, kernel="v5-2022")
    assert all(not c.has("SEAMRR_SUPPORTED") and c.faulted == () for c in r.cpus)
    assert all(c.seamrr_base == 0 for c in r.cpus)
    assert not r.bios_enabled and any("MTRRCAP.SEAMRR" in n for n in r.notes)
    assert detect(p, kernel="mainline").bios_enabled     # upstream never looks at SEAMRR


def test_an_unknown_msr_faults_and_the_exception_table_reports_it():
    s = Session([stub("tdx_detect.S")], platform=load_platform(preset="one-socket"))
    tables = [{k: v for k, v in t.items() if k != m.IA32_MKTME_KEYID_PARTITIONING}
              for t in platform_msr_tables(s.platform, len(s.machine.lps))]
    s.machine.attach_msrs(tables, ())
    r = detect(session=s)
    assert all(c.faulted == ("IA32_MKTME_KEYID_PARTITIONING",) for c in r.cpus)
    assert not r.bios_enabled and r.kernel_log == ()
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
