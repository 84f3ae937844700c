# SPDX-License-Identifier: MIT
"""The kernels' bring-up and CMR reading served by Intel's own module (--module-binary).

The "small" preset keeps it quick: 1 GiB of TDX memory is 256 TDH.SYS.TDMR.INIT calls, each a
run of Intel's pamt_init() with its MOVDIR64B stores.  The build beside the repository is
TDX_1.5.01: 6.8 and v5-2022 bring it up; mainline stops at the first field it lacks.
"""

from __future__ import annotations

import dataclasses

import pytest

from seamemu.kernel import bring_up, stub_files
from seamemu.kernel.cmr_view import cmr_view
from seamemu.machine import Bounds
from seamemu.platform import as_platform, load_platform_text
from seamemu.session import Session


def boot(kernel, platform, module_binary):
    session = Session(stub_files(kernel), platform=as_platform(platform),
                      module_binary=module_binary)
    return bring_up(session, kernel)


@pytest.fixture(scope="module")
def booted(module_binary):
    return boot("6.8", "small", module_binary)


def test_bring_up_reaches_sys_ready_through_intels_code(booted):
    b = booted
    assert b.ok and b.state == "SYS_READY", b.texts()
    assert "virt/tdx: module initialized" in b.texts()
    leaves = [c.leaf_name for c in b.calls]
    assert leaves[0] == "TDH.SYS.INIT"
    # LP.INIT on every LP, KEY.CONFIG once per package (LPs 0 and 2 on this 2x2 platform)
    assert [c.lp for c in b.calls if c.leaf_name == "TDH.SYS.LP.INIT"] == [0, 1, 2, 3]
    assert [c.lp for c in b.calls if c.leaf_name == "TDH.SYS.KEY.CONFIG"] == [0, 2]
    assert leaves.count("TDH.SYS.TDMR.INIT") == 256
    assert all(c.record is not None and c.record.note.startswith("Intel's module")
               for c in b.calls)
    states = [c.state_after for c in b.calls if c.leaf_name != "TDH.SYS.RD"]
    assert states[0] == "SYSINIT_DONE" and "SYSCONFIG_DONE" in states
    assert states[-1] == "SYS_READY"
    # The module programmed its global KeyID (32) on both packages with PCONFIG.
    key = [c.record.note for c in b.calls if c.leaf_name == "TDH.SYS.KEY.CONFIG"]
    assert all("PCONFIG programmed KeyID 32" in n for n in key)


@pytest.mark.parametrize("absent, key_config_lps", [({3}, [0, 2]), ({2, 3}, [0])])
def test_intels_module_counts_only_the_lps_and_sockets_present_at_boot(module_binary, absent,
                                                                        key_config_lps):
    # The sysinfo table says what MCHECK found (TOT_NUM_LPS, TOT_NUM_SOCKETS): an empty slot
    # or socket is no LP Intel's TDH.SYS.CONFIG and TDH.SYS.KEY.CONFIG wait for.
    p = dataclasses.replace(as_platform("small"), absent_lps=frozenset(absent))
    b = boot("6.8", p, module_binary)
    assert b.ok and b.state == "SYS_READY", b.texts()
    assert [c.lp for c in b.calls if c.leaf_name == "TDH.SYS.KEY.CONFIG"] == key_config_lps


def test_v5_2022_brings_intels_module_up_with_tdh_sys_info(module_binary):
    b = boot("v5-2022", "small", module_binary)
    assert b.ok and "tdx: TDX module initialized." in b.dmesg(), b.texts()
    assert "tdx: Kernel-checked-CMR : [0x0, 0x40000000)" in b.dmesg()
    assert [c.leaf_name for c in b.calls].count("TDH.SYS.INFO") == 1


def test_mainline_stops_where_intels_1_5_01_lacks_max_vcpus_per_td(module_binary):
    b = boot("mainline", "small", module_binary)
    last = b.calls[-1]
    assert not b.ok and b.errno == -5 and b.state == "SYSINIT_DONE"
    assert (last.leaf_name, last.field_id) == ("TDH.SYS.RD", 0x9900000100000008)
    assert last.status_name == "TDX_METADATA_FIELD_ID_INCORRECT"
    assert b.dmesg()[-1] == "virt/tdx: TDX-Module initialization failed (-5)"


def test_boot_log_names_intels_module(booted):
    from seamemu.kernel.boot_report import bringup_json, format_bringup

    assert "Intel's TDX module libtdx" in format_bringup(booted).splitlines()[0]
    assert bringup_json(booted)["module"].startswith("Intel's TDX module")


@pytest.mark.parametrize("method, leaf", [("info", "TDH.SYS.INFO"), ("rd", "TDH.SYS.RD")])
def test_cmrs_read_both_ways(module_binary, method, leaf):
    s = Session(stub_files("6.8"), platform="small", module_binary=module_binary)
    view = cmr_view(s, kernel="6.8", method=method)
    assert view.method == leaf
    assert view.cmrs == ((0, 1 << 30),)
    assert view.entries_written == 32            # MAX_CMR, null entries included
    assert any(r.leaf_name == leaf and r.status == 0 for r in s.module.records)


HALTING = """
extends = "small"
[[cpuid]]            # CET_U not a supervisor state: the module's sanity check fails
leaf = 0xD
subleaf = 11
ecx = 0
"""


def test_a_module_that_stops_itself_is_reported_halted(module_binary):
    b = boot("mainline", load_platform_text(HALTING), module_binary)
    assert not b.ok and b.refused == "the module halted" and b.state == "HALTED"
    line = next(t for t in b.texts() if "never returned" in t)
    assert "TDH.SYS.INIT on LP 0 never returned: the module halted" in line
    assert "tdx_arch_fatal_error" in line and "called from tdh_sys_init+" in line
    # A halted module stays halted: the next SEAMCALL does not run it again.
    r = b.session.call("__seamcall_ret", leaf=33)
    assert r.outcome == "halted" and "halted earlier" in r.calls[-1].note


def test_every_seamcall_runs_under_the_instruction_bound(module_binary):
    s = Session(platform="small", module_binary=module_binary,
                bounds=Bounds(max_insns=2000, timeout_s=5))
    r = s.call("__seamcall_ret", leaf=33)
    assert r.outcome == "halted"
    assert "ran past the bound of 2000 instructions without SEAMRET" in r.calls[-1].note


INCONSISTENT = """
extends = "small"
[[msr]]              # LP 3 reports another IA32_ARCH_CAPABILITIES than its siblings
msr = 0x10A
value = 0x20FD6F
lp = 3
"""


def test_lp_init_compares_the_platform_msrs_across_lps(module_binary):
    s = Session(platform=load_platform_text(INCONSISTENT), module_binary=module_binary)
    assert s.call("__seamcall_ret", leaf=33).rax == 0
    got = [s.call("__seamcall_ret", leaf=35, lp=lp).calls[-1] for lp in range(4)]
    assert [r.status for r in got[:3]] == [0, 0, 0]
    assert got[3].status_name.startswith("TDX_INCONSISTENT_MSR(")
    assert got[3].status & 0xFFFFFFFF == 0x10A           # the MSR is the operand


def test_seamret_gives_back_the_callers_registers_and_the_module_s_outputs(module_binary):
    # tdx_seamret_to_vmm.S reloads all 16 VMM GPRs from local data; TDH.SYS.INIT zeroes
    # RCX, RDX, R8, R9, R10 there first (tdh_sys_init.c), so those come back 0.
    s = Session(platform="small", module_binary=module_binary)
    regs = {r: 0x1111 * (i + 1) for i, r in enumerate(
        ("rdx", "rbx", "rsi", "rdi", "r8", "r11", "r12", "r13", "r14", "r15"))}
    reply = s.module.seamcall(0, {"rax": 33, **regs}, s.machine.memory)
    assert reply.fault is None and reply.regs["rax"] == 0
    assert reply.regs == {"rax": 0, "rdx": 0, "r8": 0}
    back = s.module.real.last_exit.regs
    assert {k: back[k] for k in ("rbx", "rsi", "rdi", "r11", "r12", "r13", "r14", "r15")} == \
        {k: regs[k] for k in ("rbx", "rsi", "rdi", "r11", "r12", "r13", "r14", "r15")}
