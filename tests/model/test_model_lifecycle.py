# SPDX-License-Identifier: MIT
"""The module's state machine: one test per ordering violation, on both ABI generations."""

from __future__ import annotations

from seamemu.arch.status import TdxStatus as S
from seamemu.model import SysState
from seamemu.model.module_state import LockHold


def test_lp_init_before_sys_init_is_not_pending(bench):
    assert bench.status(0, "TDH.SYS.LP.INIT") == S.TDX_SYS_LP_INIT_NOT_PENDING
    assert bench.tdx.state.sys_state == SysState.SYSINIT_PENDING


def test_sys_init_twice_is_not_pending(bench):
    assert bench.sys_init() == S.TDX_SUCCESS
    assert bench.sys_init() == S.TDX_SYS_INIT_NOT_PENDING


def test_lp_init_twice_on_one_lp(bench):
    bench.sys_init()
    assert bench.status(1, "TDH.SYS.LP.INIT") == S.TDX_SUCCESS
    assert bench.status(1, "TDH.SYS.LP.INIT") == S.TDX_SYS_LP_INIT_DONE
    assert bench.status(2, "TDH.SYS.LP.INIT") == S.TDX_SUCCESS


def test_config_before_every_lp_ran_lp_init(bench):
    bench.sys_init()
    for lp in range(bench.platform.num_lps - 1):          # the last LP is left out
        assert bench.status(lp, "TDH.SYS.LP.INIT") == S.TDX_SUCCESS
    assert bench.config() == S.TDX_SYS_CONFIG_NOT_PENDING
    assert bench.status(bench.platform.num_lps - 1, "TDH.SYS.LP.INIT") == S.TDX_SUCCESS
    assert bench.config() == S.TDX_SUCCESS


def test_config_before_sys_init(bench):
    assert bench.config() == S.TDX_SYS_CONFIG_NOT_PENDING


def test_lp_init_after_config_is_refused(bench):
    bench.bring_up(until="config")
    assert bench.status(0, "TDH.SYS.LP.INIT") == S.TDX_SYS_LP_INIT_NOT_PENDING


def test_config_twice(bench):
    bench.bring_up(until="config")
    assert bench.config() == S.TDX_SYS_CONFIG_NOT_PENDING


def test_key_config_before_config(bench):
    bench.bring_up(until="lp_init")
    assert bench.status(0, "TDH.SYS.KEY.CONFIG") == S.TDX_SYS_KEY_CONFIG_NOT_PENDING


def test_key_config_twice_on_a_package(bench):
    bench.bring_up(until="config")
    assert bench.status(0, "TDH.SYS.KEY.CONFIG") == S.TDX_SUCCESS
    assert bench.status(1, "TDH.SYS.KEY.CONFIG") == S.TDX_KEY_CONFIGURED    # same package
    assert bench.tdx.state.sys_state == SysState.SYSCONFIG_DONE


def test_key_config_after_the_last_package_is_not_pending(bench):
    bench.bring_up()
    assert bench.tdx.state.sys_state == SysState.SYS_READY
    # READY now, so even a package's first retry gets KEY_CONFIG_NOT_PENDING, not CONFIGURED.
    assert bench.status(0, "TDH.SYS.KEY.CONFIG") == S.TDX_SYS_KEY_CONFIG_NOT_PENDING


def test_ready_only_after_every_package(bench):
    bench.bring_up(until="config")
    first, *rest = bench.package_lps()
    bench.status(first, "TDH.SYS.KEY.CONFIG")
    assert bench.tdx.state.sys_state == SysState.SYSCONFIG_DONE
    for lp in rest:
        bench.status(lp, "TDH.SYS.KEY.CONFIG")
    assert bench.tdx.state.sys_state == SysState.SYS_READY


def test_tdmr_init_before_ready_is_not_admitted(bench):
    bench.bring_up(until="config")
    reply = bench.call(0, "TDH.SYS.TDMR.INIT", rcx=0)
    assert reply.regs["rax"] == S.TDX_SYS_NOT_READY
    assert reply.record.checks == ()                      # the dispatcher refused it


def test_td_leaves_before_ready_are_not_admitted(bench):
    bench.bring_up(until="config")
    assert bench.status(0, "TDH.MNG.CREATE") == S.TDX_SYS_NOT_READY
    assert bench.status(0, "TDH.VP.ENTER") == S.TDX_SYS_NOT_READY


def test_sys_info_needs_lp_init_on_this_lp(bench):
    bench.sys_init()
    bench.status(0, "TDH.SYS.LP.INIT")
    regs = dict(rcx=0x110000, rdx=1024, r8=0x111000, r9=32)
    assert bench.status(1, "TDH.SYS.INFO", **regs) == S.TDX_SYS_LP_INIT_NOT_DONE
    assert bench.status(0, "TDH.SYS.INFO", **regs) == S.TDX_SUCCESS


def test_sys_shutdown_before_ready_is_not_admitted(bench15):
    bench15.bring_up(until="config")
    assert bench15.status(0, "TDH.SYS.SHUTDOWN") == S.TDX_SYS_NOT_READY


def test_every_leaf_after_sys_shutdown_but_lp_shutdown(bench15):
    bench15.bring_up()
    assert bench15.status(0, "TDH.SYS.SHUTDOWN", rcx=0) == S.TDX_SUCCESS
    assert bench15.tdx.state.sys_state == SysState.SYS_SHUTDOWN
    for leaf in ("TDH.SYS.INIT", "TDH.SYS.INFO", "TDH.SYS.RD", "TDH.SYS.TDMR.INIT",
                 "TDH.MNG.CREATE", "TDH.SYS.SHUTDOWN"):
        assert bench15.status(1, leaf) == S.TDX_SYS_SHUTDOWN, leaf
    assert bench15.status(1, 0x7F) == S.TDX_SYS_SHUTDOWN   # unknown leaves too
    assert bench15.status(1, "TDH.SYS.LP.SHUTDOWN") == S.TDX_SUCCESS


def test_lp_shutdown_is_a_no_op_in_1_5(bench15):
    bench15.bring_up()
    assert bench15.status(0, "TDH.SYS.LP.SHUTDOWN") == S.TDX_SUCCESS
    assert bench15.tdx.state.sys_state == SysState.SYS_READY


def test_lp_shutdown_shuts_the_1_0_module_down(bench10):
    bench10.bring_up()
    assert bench10.status(3, "TDH.SYS.LP.SHUTDOWN") == S.TDX_SUCCESS
    assert bench10.tdx.state.sys_state == SysState.SYS_SHUTDOWN
    assert bench10.status(0, "TDH.SYS.INFO") == S.TDX_SYS_SHUTDOWN
    assert bench10.status(0, "TDH.SYS.LP.SHUTDOWN") == S.TDX_SUCCESS


def test_lp_shutdown_before_ready_is_admitted_in_1_0(bench10):
    assert bench10.status(0, "TDH.SYS.LP.SHUTDOWN") == S.TDX_SUCCESS
    assert bench10.sys_init() == S.TDX_SYS_SHUTDOWN


def test_failed_config_leaves_the_state_and_a_retry_works(bench, tdmrs):
    bench.bring_up(until="lp_init")
    bad = [tdmrs()[1], tdmrs()[0]]                       # unsorted
    assert bench.config(bad) != S.TDX_SUCCESS
    assert bench.tdx.state.sys_state == SysState.SYSINIT_DONE
    assert bench.tdx.state.global_private_hkid == bench.hkid   # reserved before the TDMRs
    assert bench.config() == S.TDX_SUCCESS


def test_global_lock_held_by_another_lp_makes_init_leaves_busy(bench):
    # LP 3 is inside the module holding the global lock (as the module's state records it).
    bench.tdx.state.lock = LockHold(3, exclusive=True)
    assert bench.sys_init() == S.TDX_SYS_BUSY
    assert bench.status(3, "TDH.SYS.INIT") == S.TDX_SUCCESS    # the holder itself is not blocked
    bench.tdx.state.lock = LockHold(3, exclusive=False)
    assert bench.status(0, "TDH.SYS.LP.INIT") == S.TDX_SUCCESS  # shared with a shared holder
    bench.tdx.state.lock = LockHold(3, exclusive=True)
    assert bench.status(1, "TDH.SYS.LP.INIT") == S.TDX_SYS_BUSY
    bench.tdx.state.lock = None
    assert bench.status(1, "TDH.SYS.LP.INIT") == S.TDX_SUCCESS
