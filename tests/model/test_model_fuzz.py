# SPDX-License-Identifier: MIT
"""Property: no register values make the model raise, and every answer is a spec status."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_bench import Bench, make_platform

from seamemu.arch.leaves import SEAMLDR_LEAVES
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.status import is_known_status
from seamemu.model.leaf_spec import handler_for
from seamemu.traps.target import INJECTABLE_FAULTS

U64 = st.integers(0, (1 << 64) - 1)
INTERESTING = st.sampled_from([0, 1, 0x1000, 0x100000, 0x110000, 0x111000, 0x120000, 1 << 30,
                               0x3C000000, 1 << 40, 1 << 52, (1 << 64) - 1,
                               0x0800000100000004, 0x9900000300000500])
REG = st.one_of(U64, INTERESTING)
RAX = st.one_of(
    st.integers(0, 127),
    st.integers(0, 127).map(lambda n: n | 1 << 16),
    st.sampled_from([leaf.rax for leaf in SEAMLDR_LEAVES]),
    U64,
)
STAGES = ("fresh", "init", "lp_init", "config", "ready")
CALL = st.tuples(st.integers(0, 3), RAX, st.fixed_dictionaries(dict.fromkeys(ABI_ORDER[1:], REG)))


def _staged(abi: str, stage: str) -> Bench:
    b = Bench(make_platform(abi=abi))
    if stage == "init":
        b.sys_init()
    elif stage != "fresh":
        b.bring_up(until={"lp_init": "lp_init", "config": "config"}.get(stage, "ready"))
    return b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(abi=st.sampled_from(["1.0", "1.5"]), stage=st.sampled_from(STAGES),
       calls=st.lists(CALL, min_size=1, max_size=6))
def test_random_registers_never_raise_and_answer_spec_statuses(abi, stage, calls):
    b = _staged(abi, stage)
    for lp, rax, regs in calls:
        reply = b.tdx.seamcall(lp, dict(regs, rax=rax), b.mem)
        rec = reply.record
        if reply.fault is not None:
            assert reply.fault in INJECTABLE_FAULTS and reply.regs == {}
            continue
        loader = bool(rax >> 63)
        assert is_known_status(reply.regs["rax"], loader=loader), rec.status_name
        assert not rec.status_name.startswith("UNKNOWN")
        assert set(reply.regs) <= set(ABI_ORDER) and "rax" in reply.regs
        entry = handler_for(rec.leaf, loader=loader, abi=abi)
        if entry is None:
            assert set(reply.regs) == {"rax"} and rec.checks == ()
            continue
        spec = entry[0]
        declared = {r for r, _ in spec.outputs} | {r for r, _ in spec.on_entry}
        assert set(reply.regs) - {"rax"} <= declared
        keys = [spec.order_key(c) for c in dict.fromkeys(rec.checks)]
        assert keys == sorted(keys), rec.checks


def test_every_leaf_number_in_every_stage():
    fills = ({}, dict.fromkeys(ABI_ORDER[1:], (1 << 64) - 1),
             dict(rcx=0x110000, rdx=1024, r8=0x111000, r9=32))
    for abi in ("1.0", "1.5"):
        for stage in STAGES:
            b = _staged(abi, stage)
            for number in range(128):
                for regs in fills:
                    reply = b.call(number % 4, number, **regs)
                    assert reply.fault is None
                    assert is_known_status(reply.regs["rax"]), reply.record.status_name
