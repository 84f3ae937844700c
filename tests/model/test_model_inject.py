# SPDX-License-Identifier: MIT
"""Fault injection: the rule syntax, where injected statuses land, and what they leave behind."""

from __future__ import annotations

import pytest

from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.errors import InputError
from seamemu.model import Injector, SysState, parse_rule


def test_parse_rules():
    rule = parse_rule("leaf=TDH.SYS.KEY.CONFIG,lp=2,count=1:status=TDX_KEY_GENERATION_FAILED")
    assert (rule.leaf, rule.lp, rule.count, rule.status) == (
        "TDH.SYS.KEY.CONFIG", 2, 1, S.TDX_KEY_GENERATION_FAILED)
    assert parse_rule("call=3:fault=#GP").fault == "#GP"
    assert parse_rule("leaf=tdh_sys_init:fault=vmfailinvalid").fault == "VMfailInvalid"
    assert parse_rule("leaf=0x21:status=0x8000020300000000").leaf == 33
    assert parse_rule("leaf=36:status=TDX_OPERAND_BUSY(RCX)").status == \
        with_operand(S.TDX_OPERAND_BUSY, "RCX")
    assert parse_rule(":status=TDX_SYS_BUSY").call is None
    inj = Injector.parse("call=1:fault=#UD; leaf=SEAMLDR.INSTALL:status=PSEAMLDR_ENOENTROPY")
    assert len(inj.rules) == 2 and inj.rules[1].status == 0x8000000000030001


@pytest.mark.parametrize("text, field", [
    ("leaf=FOO:status=TDX_SUCCESS", "leaf"),
    ("lpx=1:status=TDX_SUCCESS", "lpx"),
    ("lp=-1:status=TDX_SUCCESS", "lp"),
    ("call=0:fault=#GP", "call"),
    ("count=two:fault=#GP", "count"),
    ("call=1:status=TDX_NOPE", "status"),
    ("call=1:status=TDX_OPERAND_INVALID(XYZ)", "status"),
    ("call=1:status=0x1ffffffffffffffff", "status"),
    ("call=1:fault=#PF", "fault"),
    ("call=1:explode", "explode"),
    ("call=1", "rule"),
    ("call=1,call=2:fault=#GP", "call"),
    ("lp:fault=#GP", "lp"),
])
def test_bad_rules_name_the_field(text, field):
    with pytest.raises(InputError, match=f"field '{field}'"):
        Injector.parse(text)


def test_rnd_no_entropy_on_sys_init_then_retry(make_bench):
    b = make_bench(injector="leaf=TDH.SYS.INIT,count=1:status=TDX_RND_NO_ENTROPY")
    reply = b.call(0, "TDH.SYS.INIT")
    assert reply.regs["rax"] == S.TDX_RND_NO_ENTROPY
    assert reply.record.injected and "canary_entropy" in reply.record.note
    assert reply.regs["rcx"] == 0                           # outputs cleared as on any error
    assert b.tdx.state.sys_state == SysState.SYSINIT_PENDING
    assert b.sys_init() == S.TDX_SUCCESS                    # the kernel's sc_retry succeeds


def test_injected_status_loses_to_an_earlier_check(make_bench):
    b = make_bench()
    b.sys_init()
    b.tdx.injector = Injector.parse("leaf=TDH.SYS.INIT:status=TDX_RND_NO_ENTROPY")
    reply = b.call(0, "TDH.SYS.INIT")
    assert reply.regs["rax"] == S.TDX_SYS_INIT_NOT_PENDING
    assert "injection not reached" in reply.record.note


def test_key_generation_failure_clears_the_package_for_a_retry(make_bench):
    b = make_bench(injector="leaf=TDH.SYS.KEY.CONFIG,lp=2,count=1:"
                            "status=TDX_KEY_GENERATION_FAILED")
    b.bring_up(until="config")
    assert b.status(0, "TDH.SYS.KEY.CONFIG") == S.TDX_SUCCESS
    assert b.status(2, "TDH.SYS.KEY.CONFIG") == S.TDX_KEY_GENERATION_FAILED
    assert b.tdx.state.sys_state == SysState.SYSCONFIG_DONE
    assert b.status(3, "TDH.SYS.KEY.CONFIG") == S.TDX_SUCCESS   # same package, fresh try
    assert b.tdx.state.sys_state == SysState.SYS_READY


def test_impossible_status_is_refused_with_what_the_leaf_can_return(make_bench):
    # tdh_sys_key_config.c never returns TDX_RND_NO_ENTROPY (PCONFIG entropy failure is
    # TDX_KEY_GENERATION_FAILED).
    with pytest.raises(InputError) as err:
        make_bench(injector="leaf=TDH.SYS.KEY.CONFIG:status=TDX_RND_NO_ENTROPY")
    msg = str(err.value)
    assert "TDH.SYS.KEY.CONFIG never returns TDX_RND_NO_ENTROPY" in msg and "\n" not in msg
    assert "TDX_KEY_GENERATION_FAILED" in msg and "TDX_OPERAND_BUSY(KET)" in msg
    # The same status where the leaf does return it is fine (TDH.SYS.INIT's canary RDRAND).
    make_bench(injector="leaf=TDH.SYS.INIT:status=TDX_RND_NO_ENTROPY")
    # ... but not on TDX 1.0, whose TDH.SYS.INIT answers TDX_SYS_BUSY there.
    with pytest.raises(InputError, match=r"TDH\.SYS\.INIT never returns TDX_RND_NO_ENTROPY"):
        make_bench(abi="1.0", injector="leaf=TDH.SYS.INIT:status=TDX_RND_NO_ENTROPY")


def test_impossible_opt_in_replaces_the_call_and_says_so(make_bench):
    b = make_bench(injector="leaf=TDH.SYS.INFO:status=TDX_SYS_BUSY,impossible")
    b.bring_up(until="lp_init")
    reply = b.call(0, "TDH.SYS.INFO", rcx=0x110000, rdx=1024, r8=0x111000, r9=32)
    assert reply.regs == {"rax": S.TDX_SYS_BUSY, "rdx": 0, "r9": 0}
    assert reply.record.memory_written == () and "replaced the call" in reply.record.note
    assert "impossible on real hardware: TDH.SYS.INFO never returns TDX_SYS_BUSY" in \
        reply.record.note


def test_a_rule_without_a_leaf_is_checked_on_the_call_it_hits(make_bench):
    b = make_bench(injector="call=1:status=TDX_METADATA_FIELD_ID_INCORRECT")
    with pytest.raises(InputError, match=r"TDH\.SYS\.INIT never returns"):
        b.call(0, "TDH.SYS.INIT")


def test_at_picks_the_check_and_is_validated(make_bench):
    b = make_bench(abi="1.0", injector="leaf=TDH.SYS.INIT:status=TDX_SYS_BUSY,at=canary_rdrand")
    reply = b.call(0, "TDH.SYS.INIT")
    assert reply.regs["rax"] == S.TDX_SYS_BUSY and reply.record.checks[-1] == "canary_rdrand"
    # Without `at` the first injectable check producing TDX_SYS_BUSY takes it: the lock.
    b = make_bench(abi="1.0", injector="leaf=TDH.SYS.INIT:status=TDX_SYS_BUSY")
    assert b.call(0, "TDH.SYS.INIT").record.checks[-1] == "global_lock"
    with pytest.raises(InputError, match=r"at=nope.*those that do: global_lock, canary_rdrand"):
        make_bench(abi="1.0", injector="leaf=TDH.SYS.INIT:status=TDX_SYS_BUSY,at=nope")


def test_nth_call_fault_and_count(make_bench):
    b = make_bench(injector="call=2:fault=#GP;leaf=TDH.SYS.LP.INIT,count=2:fault=#UD")
    assert b.call(0, "TDH.SYS.INIT").fault is None
    second = b.call(1, "TDH.SYS.LP.INIT")
    assert second.fault == "#GP" and second.record.injected == "call=2:fault=#GP"
    assert b.tdx.state.lp_init == set()
    assert [b.call(lp, "TDH.SYS.LP.INIT").fault for lp in (1, 2, 3)] == ["#UD", "#UD", None]
    assert b.tdx.injector.fired == [(2, "call=2:fault=#GP"),
                                    (3, "leaf=TDH.SYS.LP.INIT,count=2:fault=#UD"),
                                    (4, "leaf=TDH.SYS.LP.INIT,count=2:fault=#UD")]


def test_busy_lock_via_injection_matches_the_hook(make_bench):
    b = make_bench(injector="leaf=TDH.SYS.CONFIG,count=1:status=TDX_SYS_BUSY")
    b.bring_up(until="lp_init")
    reply = b.call(0, "TDH.SYS.CONFIG", rcx=0x100000, rdx=1, r8=b.hkid)
    assert reply.regs["rax"] == S.TDX_SYS_BUSY and reply.record.checks == ("global_lock",)
