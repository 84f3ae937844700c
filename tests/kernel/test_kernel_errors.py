# SPDX-License-Identifier: MIT
"""Each generation's error paths: retries, instruction faults, refusals, bad memory layouts.

Expected messages are the kernels' format strings (v5-2022: [PATCH v5 NN/22], pr_fmt "tdx: ";
tdx.c at v6.8 and mainline seamcall_internal.h/tdx.c, pr_fmt "virt/tdx: ").
"""

import dataclasses
import errno

import pytest
from conftest import boot, lean

# TDH.SYS.KEY.CONFIG never returns TDX_RND_NO_ENTROPY on a real module (",impossible"): it is
# the vehicle for sc_retry(), which retries whatever leaf answers it.
KEY_CONFIG_ENTROPY = "leaf=TDH.SYS.KEY.CONFIG,lp=0,count={k}:status=TDX_RND_NO_ENTROPY,impossible"
FAILED = {"6.8": "virt/tdx: module initialization failed ({})",
          "mainline": "virt/tdx: TDX-Module initialization failed ({})"}
MERGED = ["6.8", "mainline"]


def calls_of(b, name):
    return [c for c in b.calls if c.leaf_name == name]


# -- 6.8 and mainline: sc_retry() / sc_retry_prerr() --------------------------------------------
@pytest.mark.parametrize("kernel", MERGED)
@pytest.mark.parametrize("k", [1, 9])
def test_rnd_no_entropy_fewer_than_10_times_is_retried(kernel, k):
    b = boot(kernel, inject=KEY_CONFIG_ENTROPY.format(k=k))
    assert b.ok and b.state == "SYS_READY"
    on_lp0 = [c for c in calls_of(b, "TDH.SYS.KEY.CONFIG") if c.lp == 0]
    assert [c.attempt for c in on_lp0] == list(range(1, k + 2))
    assert [c.status_name for c in on_lp0] == ["TDX_RND_NO_ENTROPY"] * k + ["TDX_SUCCESS"]
    assert not any("SEAMCALL (" in t for t in b.dmesg())


@pytest.mark.parametrize("kernel", MERGED)
def test_rnd_no_entropy_10_times_fails_with_the_kernel_s_message(kernel):
    b = boot(kernel, inject=KEY_CONFIG_ENTROPY.format(k=10))
    assert (b.errno, b.ok, b.state) == (-errno.EIO, False, "SYSCONFIG_DONE")
    assert len(calls_of(b, "TDH.SYS.KEY.CONFIG")) == 10       # RDRAND_RETRY_LOOPS, then stop
    dmesg = b.dmesg()
    assert dmesg[-2:] == ["virt/tdx: SEAMCALL (0x000000000000001f) failed: 0x8000020300000000",
                          FAILED[kernel].format(-5)]
    assert not calls_of(b, "TDH.SYS.TDMR.INIT")


@pytest.mark.parametrize("kernel", MERGED)
@pytest.mark.parametrize("leaf, fault, want, state", [
    ("TDH.SYS.CONFIG", "#GP", -errno.EOPNOTSUPP, "SYSINIT_DONE"),
    ("TDH.SYS.KEY.CONFIG", "#UD", -errno.EACCES, "SYSCONFIG_DONE"),
    ("TDH.SYS.TDMR.INIT", "VMfailInvalid", -errno.ENODEV, "SYS_READY"),
])
def test_instruction_faults_map_to_the_kernel_s_errno(kernel, leaf, fault, want, state):
    b = boot(kernel, inject=f"leaf={leaf},count=1:fault={fault}")
    assert (b.errno, b.state, b.ok) == (want, state, False)
    last = b.calls[-1]
    assert (last.leaf_name, last.outcome) == (leaf, fault)
    assert b.dmesg()[-1] == FAILED[kernel].format(want)
    assert not any("SEAMCALL (" in t for t in b.dmesg())  # the kernel prints nothing for these


@pytest.mark.parametrize("kernel", MERGED)
def test_sys_init_vmfailinvalid_is_module_not_loaded(kernel):
    b = boot(kernel, inject="leaf=TDH.SYS.INIT:fault=VMfailInvalid")
    assert b.errno == -errno.ENODEV and "virt/tdx: module not loaded" in b.dmesg()
    assert len(b.calls) == 1 and b.refused == "tdx_cpu_enable() failed"


def test_a_failing_seamcall_ret_prints_the_registers_it_wrote_back():
    b = boot("mainline", inject="leaf=TDH.SYS.TDMR.INIT,count=1:status=TDX_OPERAND_BUSY(RCX)")
    assert b.errno == -errno.EIO
    dmesg = b.dmesg()
    i = dmesg.index("virt/tdx: SEAMCALL (0x0000000000000024) failed: 0x8000020000000001")
    assert dmesg[i + 1] == (f"virt/tdx: RCX 0x{b.tdmrs[0].base:016x} RDX 0x0000000000000000 "
                            "R08 0x0000000000000000")
    assert dmesg[i + 2].startswith("virt/tdx: R09 0x")


@pytest.mark.parametrize("kernel", MERGED)
def test_tdx_disabled_preset_is_refused_without_a_seamcall(kernel):
    b = boot(kernel, "tdx-disabled")
    assert b.refused and b.errno == -errno.ENODEV and b.calls == ()
    assert not any(t.startswith("virt/tdx: BIOS enabled") for t in b.dmesg())
    assert b.dmesg() == (["virt/tdx: TDX not supported by the host platform"]
                         if kernel == "mainline" else [])


@pytest.mark.parametrize("kernel", MERGED)
def test_a_single_tdx_keyid_is_refused_at_boot(kernel):
    b = boot(kernel, dataclasses.replace(lean(), tdx_keyids=1))
    assert b.errno == -errno.ENODEV and b.calls == ()
    assert "virt/tdx: initialization failed: too few private KeyIDs available." in b.dmesg()


@pytest.mark.parametrize("kernel", ["v5-2022", "6.8", "mainline"])
def test_use_tdx_off_leaves_the_module_alone(kernel):
    b = boot(kernel, use_tdx=False)
    assert b.refused == "use_tdx=off" and b.errno is None and not b.ok
    assert b.calls == () and b.state == "SYSINIT_PENDING"


@pytest.mark.parametrize("kernel", MERGED)
def test_memory_outside_the_cmrs_fails_tdh_sys_config_not_the_kernel(kernel):
    """The merged kernels do not read the CMRs: the module's TDH.SYS.CONFIG refuses the TDMR."""
    p = lean()
    p = dataclasses.replace(p, cmrs=p.cmrs[:-1])        # node 1's RAM is no longer a CMR
    b = boot(kernel, p)
    (cfg,) = calls_of(b, "TDH.SYS.CONFIG")
    assert "_OUTSIDE_CMRS" in cfg.status_name and b.errno == -errno.EIO   # PAMT or TDMR
    assert f"virt/tdx: SEAMCALL (0x000000000000002d) failed: 0x{cfg.rax:016x}" in b.dmesg()


def test_mainline_refuses_a_module_that_clobbers_rbp_and_6_8_does_not_ask():
    p = lean()
    p = dataclasses.replace(p, module=dataclasses.replace(p.module, tdx_features0=0))
    b = boot("mainline", p)
    assert b.errno == -errno.EINVAL
    assert "virt/tdx: frame pointer (RBP) clobber bug present, upgrade TDX module" in b.dmesg()
    assert boot("6.8", p).ok                      # no check_features() before 6.14


@pytest.mark.parametrize("kernel", MERGED)
@pytest.mark.parametrize("threads, absent, key_config_lps", [
    (1, {1}, [0]),          # lean's package 1 is one LP: an empty socket
    (2, {1}, [0, 2]),       # one thread of package 0's core missing
])
def test_an_empty_cpu_slot_is_no_lp_the_module_waits_for(kernel, threads, absent, key_config_lps):
    # MCHECK counts the LPs and sockets present at boot (the sysinfo table's TOT_NUM_LPS and
    # TOT_NUM_SOCKETS); the kernel runs LP.INIT on the online CPUs, which are all of them.
    p = dataclasses.replace(lean(), threads_per_core=threads, absent_lps=frozenset(absent))
    b = boot(kernel, p)
    assert (b.ok, b.errno, b.state) == (True, 0, "SYS_READY"), b.dmesg()[-3:]
    assert not absent & {c.lp for c in b.calls}
    assert [c.lp for c in calls_of(b, "TDH.SYS.LP.INIT")] == list(p.present_lps)
    assert [c.lp for c in calls_of(b, "TDH.SYS.KEY.CONFIG")] == key_config_lps


# -- v5-2022: seamcall(), no retry, no exception table ----------------------------------------
def test_v5_prints_a_failed_seamcall_its_way_and_shuts_the_module_down():
    b = boot("v5-2022", inject="leaf=TDH.SYS.TDMR.INIT,count=1:status=TDX_OPERAND_BUSY(RCX)")
    assert (b.errno, b.ok) == (-errno.EFAULT, False)
    dmesg = b.dmesg()
    base = b.tdmrs[0].base
    assert dmesg[-3:] == [
        "tdx: SEAMCALL failed: leaf: 0x24, error: 0x8000020000000001",
        f"tdx: SEAMCALL additional output: rcx 0x{base:x}, rdx 0x0, r8 0x0, r9 0x0, r10 0x0, "
        "r11 0x0.",
        "tdx: Failed to initialize TDX module.  Shut it down."]
    # shutdown_tdx_module(): TDH.SYS.LP.SHUTDOWN on every online CPU (v5 08/22)
    shut = calls_of(b, "TDH.SYS.LP.SHUTDOWN")
    assert [c.lp for c in shut] == [0, 1] and all(c.rax == 0 for c in shut)
    # ... which a TDX 1.5 module ignores (deprecated); a 1.0 module shuts down.
    assert b.state == "SYS_READY"
    old = boot("v5-2022", lean(module_version="1.0"),
               inject="leaf=TDH.SYS.TDMR.INIT,count=1:status=TDX_OPERAND_BUSY(RCX)")
    assert old.state == "SYS_SHUTDOWN" and old.errno == -errno.EFAULT


def test_v5_does_not_retry_entropy_errors():
    b = boot("v5-2022", inject=KEY_CONFIG_ENTROPY.format(k=1))
    assert b.errno == -errno.EFAULT
    assert len(calls_of(b, "TDH.SYS.KEY.CONFIG")) == 1
    assert "tdx: SEAMCALL failed: leaf: 0x1f, error: 0x8000020300000000" in b.dmesg()


def test_v5_without_a_module_says_it_is_not_loaded():
    b = boot("v5-2022", "no-module")
    assert (b.errno, b.state) == (-errno.ENODEV, "NO_MODULE")
    assert b.dmesg()[-1] == "tdx: TDX module is not loaded."
    assert [(c.leaf_name, c.outcome) for c in b.calls] == [("TDH.SYS.INIT", "VMfailInvalid")]


def test_v5_refuses_memory_outside_the_cmrs_itself():
    p = lean()
    p = dataclasses.replace(p, cmrs=p.cmrs[:-1])
    b = boot("v5-2022", p)
    assert b.errno == -errno.EFAULT and not calls_of(b, "TDH.SYS.CONFIG")
    assert "tdx: [0x100000000, 0x140000000) is not fully convertible memory" in b.dmesg()


def test_the_module_refuses_bad_cmrs_before_v5_s_own_check_can():
    """A CMR list out of order already fails the module's TDH.SYS.INIT (TDX_CMR_LIST_INVALID),
    which v5's tdx_module_init_global() turns into -EFAULT."""
    p = lean()
    b = boot("v5-2022", dataclasses.replace(p, cmrs=tuple(reversed(p.cmrs))))
    assert [c.leaf_name for c in b.calls] == ["TDH.SYS.INIT"] + ["TDH.SYS.LP.SHUTDOWN"] * 2
    assert b.dmesg()[-2:] == ["tdx: SEAMCALL failed: leaf: 0x21, error: 0xc0000a2200000000",
                              "tdx: Failed to initialize TDX module.  Shut it down."]


@pytest.mark.parametrize("cmrs, bug", [
    ([(0, 4096), (0, 4096)], "CMRs not in address ascending order."),
    ([(0, 4096), (0, 0), (8192, 4096)], "invalid CMR(s) before valid CMRs."),
    ([(0, 0), (0, 0)], "No valid CMR."),
])
def test_v5_check_cmrs(cmrs, bug):
    """[PATCH v5 11/22] check_cmrs(): every entry printed as BIOS-CMR, then the bug, -EINVAL."""
    from seamemu.kernel.klog import KernelFailure, KernelLog
    from seamemu.kernel.tdsysinfo import check_cmrs

    log = KernelLog("tdx: ")
    with pytest.raises(KernelFailure) as exc:
        check_cmrs(log, cmrs)
    assert exc.value.errno == -errno.EINVAL
    assert log.texts() == [f"tdx: BIOS-CMR : [0x{b:x}, 0x{b + s:x})" for b, s in cmrs] + [
        f"tdx: Firmware bug: {bug}"]
    ok = KernelLog("tdx: ")
    assert check_cmrs(ok, [(0, 4096), (8192, 4096), (0, 0)]) == ((0, 4096), (8192, 4096))
    assert ok.texts() == ["tdx: Kernel-checked-CMR : [0x0, 0x1000)",
                          "tdx: Kernel-checked-CMR : [0x2000, 0x3000)"]


def test_v5_cmr_and_boot_refuse_a_null_cmr_between_valid_ones_alike():
    # A module whose CMR_INFO array has a null entry before a valid one (the platform
    # validation would refuse such a file; the module is given it directly).
    from seamemu.kernel import stub_files
    from seamemu.kernel.cmr_view import cmr_view
    from seamemu.session import Session

    p = lean()
    null = dataclasses.replace(p.cmrs[1], base=0, size=0)
    p = dataclasses.replace(p, cmrs=(p.cmrs[0], null, p.cmrs[1]))
    bug = "tdx: Firmware bug: invalid CMR(s) before valid CMRs."
    b = boot("v5-2022", p)
    assert b.errno == -errno.EFAULT and bug in b.dmesg()
    view = cmr_view(Session(stub_files("v5-2022"), platform=p), kernel="v5-2022")
    assert view.problem == "check_cmrs() refuses them (-EINVAL)"
    assert view.messages[-1] == bug
    assert view.messages[:3] == tuple(t for t in b.dmesg() if "BIOS-CMR" in t)[:3]


def test_v5_needs_every_cpu_online():
    b = boot("v5-2022", dataclasses.replace(lean(), absent_lps=frozenset({1})))
    assert (b.errno, b.calls) == (-errno.EINVAL, ())
    assert b.dmesg()[-1] == "tdx: Unable to initialize the TDX module when there's offline CPU(s)."


def test_v5_oopses_on_a_seamcall_fault():
    b = boot("v5-2022", inject="leaf=TDH.SYS.CONFIG,count=1:fault=#GP")
    assert (b.refused, b.errno, b.ok) == ("oops", None, False)
    assert "unhandled" in b.oops
    assert not any("initialized" in t or "Shut it down" in t for t in b.dmesg())
