# SPDX-License-Identifier: MIT
"""The P-SEAMLDR: SEAMLDR.INFO, and SEAMLDR.INSTALL as an every-LP update session."""

from __future__ import annotations

from model_bench import PAGE_PA

from seamemu.arch.status import SeamldrStatus as L
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.sysinfo import SEAMLDR_INFO, pack_seamldr_params
from seamemu.model import SysState
from seamemu.platform.facts import ModuleInfo


def params(scenario=0):
    return pack_seamldr_params(scenario, 0x130000, [0x131000, 0x132000, 0x133000])


def install_everywhere(b, scenario=0):
    b.mem.write(PAGE_PA, params(scenario))
    return [b.call(lp, "SEAMLDR.INSTALL", rcx=PAGE_PA).regs["rax"]
            for lp in range(b.platform.num_lps)]


def test_seamldr_info_layout(make_bench):
    b = make_bench()
    reply = b.call(0, "SEAMLDR.INFO", rcx=PAGE_PA)
    assert reply.regs == {"rax": 0}
    v = SEAMLDR_INFO.unpack(b.mem.read(PAGE_PA, 256))
    assert v["vendor_id"] == 0x8086 and v["seam_ready"] == 1 and v["p_seamldr_ready"] == 1
    assert reply.record.memory_written == ((PAGE_PA, 256),)
    assert reply.record.status_name == "PSEAMLDR_SUCCESS"


def test_install_loads_a_module_on_a_platform_without_one(make_bench):
    b = make_bench(abi=None)
    assert not b.tdx.module_loaded()
    assert b.call(0, "TDH.SYS.INIT").fault == "VMfailInvalid"
    assert install_everywhere(b) == [0, 0, 0, 0]
    assert b.tdx.module_loaded() and b.tdx.state.sys_state == SysState.SYSINIT_PENDING
    b.bring_up()
    assert b.tdx.state.sys_state == SysState.SYS_READY


def test_update_session_blocks_module_calls_until_the_last_lp(make_bench):
    b = make_bench()
    b.tdx.next_module_info = ModuleInfo(abi="1.5", minor=5, update=2)
    b.bring_up()
    assert b.status(0, "TDH.SYS.SHUTDOWN", rcx=0) == S.TDX_SUCCESS
    b.mem.write(PAGE_PA, params(1))
    assert b.status(0, "SEAMLDR.INSTALL", rcx=PAGE_PA) == L.PSEAMLDR_SUCCESS
    assert not b.tdx.module_loaded()
    assert b.call(1, "TDH.SYS.INFO").fault == "VMfailInvalid"
    assert b.status(0, "SEAMLDR.INSTALL", rcx=PAGE_PA) == L.PSEAMLDR_EBADCALL
    for lp in (1, 2, 3):
        assert b.status(lp, "SEAMLDR.INSTALL", rcx=PAGE_PA) == L.PSEAMLDR_SUCCESS
    assert b.tdx.module_loaded() and b.tdx.state.sys_state == SysState.SYSINIT_PENDING
    assert b.tdx.module_info.update == 2
    assert b.tdx.seamldr.num_remaining_updates == 15


def test_failed_install_restores_the_old_module(make_bench):
    b = make_bench(packages=1, cores=2, threads=1)
    b.bring_up()
    b.mem.write(PAGE_PA, params(7))
    assert b.status(0, "SEAMLDR.INSTALL", rcx=PAGE_PA) == 0
    reply = b.call(1, "SEAMLDR.INSTALL", rcx=PAGE_PA)
    assert reply.regs == {"rax": L.PSEAMLDR_EBADPARAM, "rdx": 0}
    assert b.tdx.module_loaded() and b.tdx.state.sys_state == SysState.SYS_READY
    assert not b.tdx.seamldr.active                      # a new session can start
    assert install_everywhere(b, 1) == [0, 0]


def test_loader_statuses_are_named_as_loader_codes(make_bench):
    b = make_bench()
    b.call(0, "SEAMLDR.INFO", rcx=3)
    rec = b.tdx.records[-1]
    assert rec.status_name == "PSEAMLDR_EBADPARAM" and rec.leaf == 0x8000000000000000
    assert rec.leaf_name == "SEAMLDR.INFO"
