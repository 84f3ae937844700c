# SPDX-License-Identifier: MIT
"""The module update flow: TDH.SYS.SHUTDOWN, SEAMLDR.INSTALL (update), TDH.SYS.INIT, LP.INIT on
every LP, TDH.SYS.UPDATE; and the PAMT page state the new module takes over."""

from __future__ import annotations

import pytest
from model_bench import PAGE_PA, SEAMRR_BASE

from seamemu.arch import metadata as md
from seamemu.arch.pamt import PageType
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.arch.sysinfo import pack_seamldr_params
from seamemu.model import SysState
from seamemu.model.leaves.shutdown import HANDOFF_SIZE_HV0
from seamemu.platform.facts import GiB, ModuleInfo

HANDOFF_VALID = md.global_field("HANDOFF_DATA_VALID").field_id
HANDOFF_SIZE = md.global_field("HANDOFF_DATA_SIZE").field_id


def install_everywhere(b, scenario):
    b.mem.write(PAGE_PA, pack_seamldr_params(scenario, 0x130000, [0x131000, 0x132000]))
    return [b.status(lp, "SEAMLDR.INSTALL", rcx=PAGE_PA) for lp in range(b.platform.num_lps)]


def rd(b, fid):
    r = b.call(0, "TDH.SYS.RD", rdx=fid)
    assert r.regs["rax"] == 0, r.record.status_name
    return r.regs["r8"]


def init_and_lp_init(b):
    assert b.sys_init() == 0
    b.lp_init_all()


def rdmd(b, pa):
    r = b.call(0, "TDH.PHYMEM.PAGE.RDMD", rcx=pa)
    return r.regs["rax"], r.regs["rcx"]


def test_update_on_a_fresh_module_is_state_incorrect(make_bench):
    b = make_bench()
    reply = b.call(0, "TDH.SYS.UPDATE")
    assert reply.regs["rax"] == S.TDX_SYS_STATE_INCORRECT
    assert reply.record.state_after == "SYSINIT_PENDING"


def test_the_update_flow_completes_and_the_new_module_keeps_the_tdmrs(make_bench):
    b = make_bench()
    b.tdx.next_module_info = ModuleInfo(version="1.5.05")
    b.bring_up()
    b.tdmr_init(0, GiB)
    assert rdmd(b, SEAMRR_BASE) == (0, PageType.PT_RSVD)
    assert b.status(0, "TDH.SYS.SHUTDOWN", rcx=0) == S.TDX_SUCCESS
    assert b.status(0, "TDH.SYS.UPDATE") == S.TDX_SYS_SHUTDOWN          # the old one is down
    assert install_everywhere(b, scenario=1) == [0, 0, 0, 0]
    assert b.tdx.state.sys_state == SysState.SYSINIT_PENDING
    assert b.status(0, "TDH.SYS.UPDATE") == S.TDX_SYS_STATE_INCORRECT   # before TDH.SYS.INIT
    assert b.sys_init() == 0
    assert b.status(0, "TDH.SYS.UPDATE") == S.TDX_SYS_STATE_INCORRECT   # LPs not initialised
    b.lp_init_all()
    # The new module sees the handoff header the old one wrote.
    assert (rd(b, HANDOFF_VALID), rd(b, HANDOFF_SIZE)) == (1, HANDOFF_SIZE_HV0)
    reply = b.call(2, "TDH.SYS.UPDATE")
    assert reply.regs["rax"] == S.TDX_SUCCESS and reply.record.state_after == "SYS_READY"
    assert (rd(b, HANDOFF_VALID), rd(b, HANDOFF_SIZE)) == (0, 0)
    # TDMRs, their PAMT progress and the package keys came across: no CONFIG, no TDMR.INIT.
    assert b.status(0, "TDH.SYS.TDMR.INIT", rcx=0) == S.TDX_TDMR_ALREADY_INITIALIZED
    assert rdmd(b, SEAMRR_BASE) == (0, PageType.PT_RSVD) and rdmd(b, 0x1000) == (0, 0)
    assert b.status(0, "TDH.SYS.KEY.CONFIG") == S.TDX_SYS_KEY_CONFIG_NOT_PENDING
    assert b.status(0, "TDH.SYS.UPDATE") == S.TDX_SYS_STATE_INCORRECT   # READY now


def test_a_plain_load_has_no_handoff(make_bench):
    b = make_bench()
    b.bring_up()
    assert b.status(0, "TDH.SYS.SHUTDOWN", rcx=0) == 0
    assert install_everywhere(b, scenario=0) == [0, 0, 0, 0]           # load, not update
    init_and_lp_init(b)
    assert rd(b, HANDOFF_VALID) == 0
    assert b.status(0, "TDH.SYS.UPDATE") == S.TDX_SYS_INVALID_HANDOFF


def test_update_without_shutdown_is_invalid_handoff(make_bench):
    b = make_bench()
    b.bring_up()
    assert install_everywhere(b, scenario=1) == [0, 0, 0, 0]
    init_and_lp_init(b)
    assert b.status(0, "TDH.SYS.UPDATE") == S.TDX_SYS_INVALID_HANDOFF


@pytest.mark.parametrize("abi", ["1.0", "1.5"])
def test_rdmd_reports_free_and_reserved_pages_only_once_initialised(make_bench, abi):
    b = make_bench(abi=abi)
    b.bring_up()
    range_error = with_operand(S.TDX_OPERAND_ADDR_RANGE_ERROR, "RCX")
    assert rdmd(b, 0x1000)[0] == range_error                 # TDMR.INIT has not run yet
    for _ in range(255):                                      # 1020 MiB of the first 1 GiB
        assert b.status(0, "TDH.SYS.TDMR.INIT", rcx=0) == 0
    assert rdmd(b, 0x1000)[0] == range_error                 # the 1 GiB block is not complete
    assert b.tdx.state.tdmrs[0].initialized_blocks == 0
    assert b.status(0, "TDH.SYS.TDMR.INIT", rcx=0) == 0
    assert b.tdx.state.tdmrs[0].initialized_blocks == 1
    assert rdmd(b, 0x1000) == (0, PageType.PT_NDA)
    assert rdmd(b, SEAMRR_BASE + 0x5000) == (0, PageType.PT_RSVD)
    assert rdmd(b, 4 * GiB)[0] == range_error                # TDMR 1 not initialised
    assert rdmd(b, 2 * GiB)[0] == range_error                # in no TDMR
