# SPDX-License-Identifier: MIT
"""The outcome matrix through the shipped kernel stub: what real hardware and the kernel give."""

import json

import pytest

from seamemu.cli import main
from seamemu.session.matrix import outcome_matrix

UD = 0x8000FF0000000006
GP = 0x8000FF000000000D
VMFAIL = 0x8000FF00FFFF0000


@pytest.fixture(scope="module")
def rows():
    return outcome_matrix()


def test_every_host_state_and_every_td_state_has_a_row(rows):
    combos = {(r.td, r.vmx, r.seamrr, r.cpl, r.module) for r in rows}
    # 16 host states, and 8 in a TD's vCPU (always in VMX operation).
    assert len(rows) == 24 and len(combos) == 24
    assert all(r.vmx for r in rows if r.td)


def test_each_row_has_the_hardware_outcome(rows):
    for r in rows:
        if r.td:
            # The TDX module answers a TD's SEAMCALL exit with #UD; the CPL check comes first.
            assert (r.outcome, r.rax) == (("#GP", GP) if r.cpl else ("#UD", UD)), r
        elif not r.vmx:
            assert (r.outcome, r.rax) == ("#UD", UD), r
        elif r.cpl > 0 or not r.seamrr:
            assert (r.outcome, r.rax) == ("#GP", GP), r
        elif not r.module:
            assert (r.outcome, r.rax) == ("VMfailInvalid", VMFAIL), r
        else:
            # TDH.SYS.INIT on a freshly booted module succeeds: the module's status comes back.
            assert (r.outcome, r.rax) == ("returned", 0), r


def test_callee_saved_and_rsp_preserved_in_every_row(rows):
    assert all(r.abi_preserved for r in rows)


def test_matrix_json_cli(capsys):
    assert main(["matrix", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_state = {(r["td"], r["vmx"], r["seamrr"], r["cpl"], r["module"]): r for r in doc["rows"]}
    assert by_state[("off", "off", "on", 0, "loaded")]["rax"] == "0x8000ff0000000006"
    assert by_state[("off", "on", "on", 3, "loaded")]["outcome"] == "#GP"
    assert by_state[("off", "on", "off", 0, "loaded")]["rax"] == "0x8000ff000000000d"
    assert by_state[("off", "on", "on", 0, "absent")]["rax"] == "0x8000ff00ffff0000"
    assert by_state[("off", "on", "on", 0, "loaded")]["outcome"] == "returned"
    assert by_state[("on", "on", "on", 0, "loaded")]["rax"] == "0x8000ff0000000006"
    assert all(r["abi_preserved"] for r in doc["rows"])


def test_matrix_markdown_is_a_table(capsys):
    assert main(["matrix", "--markdown"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| TD | VMX") and len(lines) == 26


def test_the_guest_stub_answers_only_in_a_td(capsys):
    """matrix --td: the guest's __tdcall_ret makes TDG.VP.INFO; only a TD's vCPU at CPL 0
    gets the module's answer, everywhere else the TDCALL faults and nothing catches it."""
    assert main(["matrix", "--td", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["entry"] == "__tdcall_ret"
    for r in doc["rows"]:
        if r["td"] == "off":
            assert (r["outcome"], r["rax_name"]) == ("#UD", "no return (unhandled fault)"), r
        elif r["cpl"]:
            assert r["outcome"] == "#GP", r
        else:
            assert (r["outcome"], r["rax_name"]) == ("returned", "TDX_SUCCESS"), r
