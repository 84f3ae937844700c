# SPDX-License-Identifier: MIT
"""The kernel's error paths: entropy retries, instruction faults, refusals, bad memory layouts."""

import dataclasses
import errno

import pytest

from seamemu.host import bring_up, tdx_enable
from seamemu.platform import load_platform
from seamemu.session import Session

# TDH.SYS.KEY.CONFIG never returns TDX_RND_NO_ENTROPY on a real module (",impossible"): it is
# the vehicle for the kernel's sc_retry() loop, which retries whatever leaf answers it.
KEY_CONFIG_ENTROPY = "leaf=TDH.SYS.KEY.CONFIG,lp=0,count={k}:status=TDX_RND_NO_ENTROPY,impossible"


def calls_of(b, name):
    return [c for c in b.calls if c.leaf_name == name]


def failed_line(errno_value):
    return f"virt/tdx: module initialization failed ({errno_value})"


@pytest.mark.parametrize("k", [1, 9])
def test_rnd_no_entropy_fewer_than_10_times_is_retried(k):
    b = bring_up(inject=KEY_CONFIG_ENTROPY.format(k=k))
    assert b.ok and b.state == "SYS_READY"
    on_lp0 = [c for c in calls_of(b, "TDH.SYS.KEY.CONFIG") if c.lp == 0]
    assert [c.attempt for c in on_lp0] == list(range(1, k + 2))
    assert [c.status_name for c in on_lp0] == ["TDX_RND_NO_ENTROPY"] * k + ["TDX_SUCCESS"]
    assert not any("SEAMCALL (" in t for t in b.texts())


def test_rnd_no_entropy_10_times_fails_with_the_kernel_s_message():
    b = bring_up(inject=KEY_CONFIG_ENTROPY.format(k=10))
    assert (b.errno, b.ok, b.state) == (-errno.EIO, False, "SYSCONFIG_DONE")
    assert len(calls_of(b, "TDH.SYS.KEY.CONFIG")) == 10       # RDRAND_RETRY_LOOPS, then stop
    texts = b.texts()
    assert "virt/tdx: SEAMCALL (0x000000000000001f) failed: 0x8000020300000000" in texts
    assert texts.index(failed_line(-5)) > texts.index(
        "virt/tdx: SEAMCALL (0x000000000000001f) failed: 0x8000020300000000")
    assert not calls_of(b, "TDH.SYS.TDMR.INIT")


def test_entropy_at_lp_init_is_retried_where_the_module_would_raise_it():
    b = bring_up(inject="leaf=TDH.SYS.LP.INIT,lp=3,count=2:status=TDX_RND_NO_ENTROPY")
    assert b.ok
    on_lp3 = [c for c in calls_of(b, "TDH.SYS.LP.INIT") if c.lp == 3]
    assert [c.status_name for c in on_lp3] == ["TDX_RND_NO_ENTROPY"] * 2 + ["TDX_SUCCESS"]


@pytest.mark.parametrize("leaf, fault, want, state", [
    ("TDH.SYS.CONFIG", "#GP", -errno.EOPNOTSUPP, "SYSINIT_DONE"),
    ("TDH.SYS.KEY.CONFIG", "#UD", -errno.EACCES, "SYSCONFIG_DONE"),
    ("TDH.SYS.TDMR.INIT", "VMfailInvalid", -errno.ENODEV, "SYS_READY"),
])
def test_instruction_faults_map_to_the_kernel_s_errno(leaf, fault, want, state):
    b = bring_up(inject=f"leaf={leaf},count=1:fault={fault}")
    assert (b.errno, b.state, b.ok) == (want, state, False)
    last = b.calls[-1]
    assert (last.leaf_name, last.outcome) == (leaf, fault)
    texts = b.texts()
    assert texts[-2] == failed_line(want)          # then seamemu's timing line
    assert not any("SEAMCALL (" in t for t in texts)  # the kernel prints nothing for these


def test_sys_init_vmfailinvalid_is_module_not_loaded():
    b = bring_up(inject="leaf=TDH.SYS.INIT:fault=VMfailInvalid")
    assert b.errno == -errno.ENODEV and "virt/tdx: module not loaded" in b.texts()
    assert len(b.calls) == 1 and b.refused == "tdx_cpu_enable() failed"


def test_a_failing_seamcall_ret_prints_the_registers_it_wrote_back():
    b = bring_up(inject="leaf=TDH.SYS.TDMR.INIT,count=1:status=TDX_OPERAND_BUSY(RCX)")
    assert b.errno == -errno.EIO
    texts = b.texts()
    i = texts.index("virt/tdx: SEAMCALL (0x0000000000000024) failed: 0x8000020000000001")
    base = b.tdmrs[0].base
    assert texts[i + 1] == (f"virt/tdx: RCX 0x{base:016x} RDX 0x0000000000000000 "
                            "R08 0x0000000000000000")
    assert texts[i + 2].startswith("virt/tdx: R09 0x")


def test_no_module_preset_gives_enodev_module_not_loaded():
    b = bring_up("no-module")
    assert (b.errno, b.state) == (-errno.ENODEV, "NO_MODULE")
    assert "virt/tdx: module not loaded" in b.texts()
    assert [(c.leaf_name, c.outcome) for c in b.calls] == [("TDH.SYS.INIT", "VMfailInvalid")]


def test_tdx_disabled_preset_is_refused_without_a_seamcall():
    b = bring_up("tdx-disabled")
    assert b.refused and b.errno == -errno.ENODEV and b.calls == ()
    assert "kvm_intel: tdx: no TDX private KeyIDs available" in b.texts()
    assert not any(t.startswith("virt/tdx: BIOS enabled") for t in b.texts())


def test_a_single_tdx_keyid_is_refused_at_boot():
    p = dataclasses.replace(load_platform(), tdx_keyids=1)
    b = tdx_enable(Session(platform=p))
    assert b.errno == -errno.ENODEV and b.calls == ()
    assert "virt/tdx: initialization failed: too few private KeyIDs available." in b.texts()


def test_use_tdx_off_is_refused_and_leaves_the_module_alone():
    b = bring_up(use_tdx=False)
    assert b.refused == "use_tdx=off" and b.errno is None and not b.ok
    assert b.calls == () and b.state == "SYSINIT_PENDING"
    assert any("use_tdx=off" in t for t in b.texts())


def test_memory_outside_the_cmrs_is_not_tdx_convertible():
    p = load_platform()
    p = dataclasses.replace(p, cmrs=p.cmrs[:-1])        # node 1's RAM is no longer a CMR
    b = tdx_enable(Session(platform=p))
    assert b.errno == -errno.EINVAL and b.state == "SYSINIT_DONE"
    assert ("virt/tdx: memory region [0x280000000, 0x380000000) is not TDX convertible memory."
            in b.texts())
    assert not calls_of(b, "TDH.SYS.CONFIG")


def test_a_module_that_clobbers_rbp_is_refused():
    p = load_platform()
    p = dataclasses.replace(p, module=dataclasses.replace(p.module, tdx_features0=0))
    b = tdx_enable(Session(platform=p))
    assert b.errno == -errno.EINVAL
    assert "virt/tdx: frame pointer (RBP) clobber bug present, upgrade TDX module" in b.texts()


def test_an_offline_cpu_makes_config_fail_as_the_module_says():
    p = dataclasses.replace(load_platform(), absent_lps=frozenset({5}))
    b = tdx_enable(Session(platform=p))
    assert 5 not in {c.lp for c in b.calls}
    (cfg,) = calls_of(b, "TDH.SYS.CONFIG")
    assert cfg.status_name == "TDX_SYS_CONFIG_NOT_PENDING" and b.errno == -errno.EIO
    assert f"virt/tdx: SEAMCALL (0x000000000000002d) failed: 0x{cfg.rax:016x}" in b.texts()
