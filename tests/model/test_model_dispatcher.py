# SPDX-License-Identifier: MIT
"""RAX decoding and admission: reserved bits, versions, 1.0's whole-RAX leaf, unknown and
not-modelled leaves, and the instruction-level refusals the trap normally makes."""

from __future__ import annotations

import pytest

from seamemu.arch.leaves import SEAMCALL_LEAVES
from seamemu.arch.status import SeamldrStatus as L
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.errors import InputError
from seamemu.model import TdxModule
from seamemu.model.leaf_spec import handler_for

RAX_INVALID = with_operand(S.TDX_OPERAND_INVALID, "RAX")


@pytest.mark.parametrize("rax", [33 | 1 << 24, 33 | 1 << 32, 33 | 1 << 62])
def test_reserved_rax_bits_are_operand_invalid_in_1_5(bench15, rax):
    reply = bench15.call(0, None, rax=rax)
    assert reply.regs == {"rax": RAX_INVALID}
    assert bench15.tdx.state.sys_state.name == "SYSINIT_PENDING"


def test_versions_only_for_versioned_leaves(bench15):
    assert bench15.status(0, "TDH.SYS.INIT", version=1) == RAX_INVALID
    bench15.bring_up()
    assert bench15.status(0, "TDH.VP.RD", version=1) == RAX_INVALID     # admitted, not modelled
    assert bench15.call(0, "TDH.VP.RD", version=1).record.note == "not modelled"
    assert bench15.status(0, "TDH.MNG.CREATE", version=1) == RAX_INVALID
    assert "version 1" in bench15.tdx.records[-1].note


def test_1_0_uses_the_whole_rax(bench10):
    # A 1.5-style versioned SYS.INIT is an unknown leaf to 1.0, refused before READY.
    assert bench10.status(0, "TDH.SYS.INIT", version=1) == S.TDX_SYS_NOT_READY
    assert bench10.tdx.records[-1].leaf == 33 | 1 << 16
    bench10.bring_up()
    assert bench10.status(0, None, rax=33 | 1 << 40) == RAX_INVALID
    assert bench10.tdx.records[-1].note == "unknown leaf"


def test_unknown_leaf_before_and_after_ready(bench15):
    assert bench15.status(0, 0x7F) == S.TDX_SYS_NOT_READY
    assert bench15.tdx.records[-1].note.endswith("; unknown leaf")
    bench15.bring_up()
    reply = bench15.call(0, 0x7F)
    assert reply.regs == {"rax": RAX_INVALID} and reply.record.note == "unknown leaf"
    assert reply.record.leaf_name == "unknown"


def test_a_not_modelled_leaf_refused_before_ready_still_says_so(bench15):
    reply = bench15.call(0, "TDH.MNG.CREATE")
    assert reply.regs == {"rax": S.TDX_SYS_NOT_READY}        # what the real module answers
    assert reply.record.note == "leaf not admitted before SYS_READY; not modelled"
    # A modelled leaf refused the same way does not claim to be missing.
    bench15.bring_up(until="lp_init")
    assert "not modelled" not in bench15.call(0, "TDH.SYS.TDMR.INIT").record.note


def test_every_table_leaf_has_a_handler_or_a_not_modelled_answer(bench):
    bench.bring_up()
    for leaf in SEAMCALL_LEAVES:
        if bench.abi not in leaf.generations or leaf.number in (44, 52):
            continue                                     # the shutdown leaves end the test
        reply = bench.call(0, leaf.number)
        if handler_for(leaf.number, abi=bench.abi):
            assert reply.record.note != "not modelled", leaf.name
        else:
            assert reply.regs["rax"] == RAX_INVALID, leaf.name
            assert reply.record.note == "not modelled" and reply.record.leaf_name == leaf.name


def test_no_module_means_vmfailinvalid(make_bench):
    b = make_bench(abi=None)
    assert not b.tdx.module_loaded()
    reply = b.call(0, "TDH.SYS.INIT")
    assert reply.fault == "VMfailInvalid" and reply.regs == {}
    assert reply.record.state_before == "NO_MODULE"


def test_loader_calls_without_a_loader_or_while_it_is_busy(make_bench):
    b = make_bench(pseamldr=False)
    assert b.call(0, "SEAMLDR.INFO", rcx=0x120000).fault == "VMfailInvalid"
    b = make_bench()
    b.tdx.seamldr.busy_lp = 1  # another LP is inside the P-SEAMLDR
    assert b.tdx.pseamldr_busy(0) and not b.tdx.pseamldr_busy(1)
    assert b.call(0, "SEAMLDR.INFO", rcx=0x120000).fault == "VMfailInvalid"
    assert b.call(1, "SEAMLDR.INFO", rcx=0x120000).regs["rax"] == 0
    b.tdx.seamldr.busy_lp = None
    assert b.call(0, "SEAMLDR.INFO", rcx=0x120000).regs["rax"] == 0


def test_unknown_and_not_modelled_loader_leaves(bench15):
    assert bench15.status(0, None, rax=0x8000000000000002) == L.PSEAMLDR_EBADPARAM
    assert bench15.tdx.records[-1].note == "not modelled"
    assert bench15.status(0, None, rax=0x8000000000001234) == L.PSEAMLDR_EBADPARAM
    assert bench15.tdx.records[-1].note == "unknown leaf"
    assert bench15.tdx.records[-1].status_name == "PSEAMLDR_EBADPARAM"


def test_bad_construction_and_bad_lp_are_input_errors(platform15):
    with pytest.raises(InputError, match=r"abi '3\.0'"):
        TdxModule(platform15, abi="3.0")
    tdx = TdxModule(platform15)
    with pytest.raises(InputError, match="lp 99"):
        tdx.seamcall(99, {"rax": 33}, None)
    with pytest.raises(InputError, match="register rcx: 'x'"):
        tdx.seamcall(0, {"rax": 33, "rcx": "x"}, None)


def test_abi_follows_the_platform_unless_given(platform10):
    assert TdxModule(platform10).abi == "1.0"
    assert TdxModule(platform10, abi="1.5").abi == "1.5"
