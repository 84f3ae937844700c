# SPDX-License-Identifier: MIT
"""A kernel-style bring-up in pure Python on both ABIs, and what it leaves in the records."""

from __future__ import annotations

import json

from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.status import TdxStatus as S
from seamemu.model import SysState
from seamemu.platform.facts import GiB


def test_full_bring_up_reaches_ready_and_initialises_every_tdmr(bench):
    bench.bring_up()
    assert bench.tdx.state.sys_state == SysState.SYS_READY
    calls = [bench.tdmr_init(0, GiB), bench.tdmr_init(4 * GiB, 2 * GiB)]
    assert calls == [256, 512]                    # 4 MiB per call
    assert all(t.initialized for t in bench.tdx.state.tdmrs)
    assert bench.status(0, "TDH.SYS.TDMR.INIT", rcx=0) == S.TDX_TDMR_ALREADY_INITIALIZED


def test_tdmr_init_rdx_rounds_down_to_1g(bench):
    bench.bring_up()
    seen = [bench.call(0, "TDH.SYS.TDMR.INIT", rcx=4 * GiB).regs["rdx"] for _ in range(257)]
    assert set(seen[:255]) == {4 * GiB}
    assert seen[255] == seen[256] == 5 * GiB      # the first GiB completes on call 256
    assert bench.tdx.state.tdmr_at(4 * GiB).next_to_init == 4 * GiB + 257 * 4 * 1024 * 1024


def test_records_tell_the_story(bench15):
    bench15.bring_up()
    recs = bench15.tdx.records
    assert [r.seq for r in recs] == list(range(1, len(recs) + 1))
    assert recs[0].leaf_name == "TDH.SYS.INIT" and recs[0].state_before == "SYSINIT_PENDING"
    assert recs[0].state_after == "SYSINIT_DONE"
    assert recs[-1].leaf_name == "TDH.SYS.KEY.CONFIG" and recs[-1].state_after == "SYS_READY"
    cfg = next(r for r in recs if r.leaf_name == "TDH.SYS.CONFIG")
    assert cfg.consumed == ("rax", "rcx", "rdx", "r8") and cfg.outputs == {}
    assert set(cfg.inputs) == set(ABI_ORDER)      # every register the ABI carries, as it was
    assert all(r.status_name == "TDX_SUCCESS" for r in recs)


def test_registers_the_leaf_does_not_write_come_back_unchanged(bench15):
    bench15.bring_up(until="lp_init")
    regs = {name: 0x1111 * (i + 1) for i, name in enumerate(ABI_ORDER)}
    regs["rax"] = 32
    regs.update(rcx=0x110000, rdx=1024, r8=0x111000, r9=32)
    reply = bench15.tdx.seamcall(0, regs, bench15.mem)
    assert set(reply.regs) == {"rax", "rdx", "r9"}        # RAX plus the leaf's outputs only
    key = bench15.call(0, "TDH.SYS.KEY.CONFIG")
    assert set(key.regs) == {"rax"}


def test_log_lines_and_json(bench10):
    bench10.bring_up(until="lp_init")
    bench10.call(0, "TDH.SYS.CONFIG", rcx=0x100000, rdx=0, r8=32)
    lines = bench10.tdx.log_lines()
    assert lines[0].startswith("#1 lp0 TDH.SYS.INIT(33) v0")
    assert "TDX_OPERAND_INVALID(RDX) 0xc000010000000002" in lines[-1]
    dumped = json.loads(bench10.tdx.dump_json())
    assert dumped[-1]["status"] == "0xc000010000000002"
    assert dumped[-1]["inputs"]["rdx"] == "0x0000000000000000"
    assert dumped[-1]["checks"][-1] == "rdx_min"
