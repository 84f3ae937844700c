# SPDX-License-Identifier: MIT
"""A TD guest's calls through the shipped guest stub (asm/tdcall.S): TDCALL reaches the module's
guest side only from a TD's vCPU, TDG.VP.VMCALL goes on to the VMM, SEAMCALL in a TD is #UD."""

from __future__ import annotations

import dataclasses
import json

import pytest

from seamemu.cli import main
from seamemu.platform import as_platform
from seamemu.session import Session
from seamemu.stubs import GUEST_STUB, stub

GET_TD_VM_CALL_INFO = 0x10000


@pytest.fixture(scope="module")
def session():
    return Session([stub(GUEST_STUB)], num_lps=2)


@pytest.fixture
def in_td(session):
    session.reset_td()
    session.set_state(td=True)
    yield session
    session.set_state(td=False)


# The host's width for memory is MAXPHYADDR (max_pa) less its KeyID bits.
@pytest.mark.parametrize("max_pa, keyid_bits, gpaw", [(52, 6, 48), (52, 0, 52)])
def test_tdg_vp_info_in_a_td_answers_the_platforms_gpaw(max_pa, keyid_bits, gpaw):
    platform = dataclasses.replace(as_platform(None), max_pa=max_pa, keyid_bits=keyid_bits)
    s = Session([stub(GUEST_STUB)], platform=platform, num_lps=1)
    s.set_state(td=True)
    r = s.call("__tdcall_ret", convention="tdcall", leaf=1)
    assert (r.outcome, r.rax) == ("returned", 0)
    assert r.out["rcx"] == gpaw                  # written back into struct tdx_module_args
    assert r.calls[-1].leaf_name == "TDG.VP.INFO" and r.calls[-1].status_name == "TDX_SUCCESS"
    assert r.abi.preserved


def test_get_td_vm_call_info_through_the_hypercall_succeeds_in_r10(in_td):
    r = in_td.call("__tdx_hypercall", convention="hypercall", inputs={"r11": GET_TD_VM_CALL_INFO,
                                                                      "r12": 0, "r13": 7})
    assert (r.outcome, r.rax) == ("returned", 0)     # RAX = R10, the VMM's status
    assert r.out["r10"] == 0 and r.out["r13"] == 0   # the VMM zeroed R11-R14
    assert r.out["rcx"] == 0xFFCC                    # TDVMCALL_EXPOSE_REGS_MASK
    vmcall = r.calls[-1].vmcall
    assert vmcall.name == "TDG.VP.VMCALL<GetTdVmCallInfo>"
    assert vmcall.status_name == "TDVMCALL_STATUS_SUCCESS"
    assert r.to_json()["rax_name"] == "TDVMCALL_STATUS_SUCCESS"
    assert r.abi.preserved


def test_a_vmm_error_comes_back_as_the_hypercalls_value(in_td):
    r = in_td.call("__tdx_hypercall", convention="hypercall",
                   inputs={"r11": 0x10001, "r12": 0x1800, "r13": 0x1000})   # MapGPA, unaligned
    assert (r.outcome, r.rax) == ("returned", 0x8000000000000002)          # ALIGN_ERROR
    assert r.out["r11"] == 0x1800


def test_tdcall_outside_a_td_is_ud_and_nothing_catches_it(session):
    session.set_state(td=False)
    r = session.call("__tdcall_ret", convention="tdcall", leaf=1)
    assert r.outcome == "#UD" and not r.abi.returned
    assert r.fault.handled_by is None and r.fault.symbol.startswith("__tdcall_ret+")
    assert r.rule.startswith("#UD: TDCALL outside a guest") and r.calls == ()


def test_tdcall_at_cpl_3_in_a_td_is_gp(in_td):
    in_td.set_state(lp=1, cpl=3)
    r = in_td.call("__tdcall_ret", convention="tdcall", leaf=1, lp=1)
    assert r.outcome == "#GP" and r.rule == "#GP(0): CPL 3 > 0"
    in_td.set_state(lp=1, cpl=0)


def test_seamcall_in_a_td_is_ud_from_the_module(session):
    s = Session(num_lps=1)                  # the host's stub, with its exception table
    s.set_state(td=True)
    r = s.call("__seamcall_ret", leaf=33)
    assert r.outcome == "#UD" and r.rax == 0x8000FF0000000006     # TDX_SEAMCALL_UD
    assert "TDX module, which injects #UD" in r.rule


def test_a_fatal_error_report_halts_the_run(in_td):
    r = in_td.call("__tdx_hypercall", convention="hypercall",
                   inputs={"r11": 0x10003, "r14": int.from_bytes(b"bye", "little")})
    assert r.outcome == "halted" and not r.abi.returned
    assert "'bye'" in r.calls[-1].note


def test_td_with_vmx_off_is_refused(session):
    from seamemu.errors import InputError

    with pytest.raises(InputError, match="--td with --vmx off"):
        session.set_state(td=True, vmx=False)


def test_run_td_from_the_command_line(capsys):
    assert main(["run", "--td", "--leaf", "TDG.VP.INFO", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["entry"] == "__tdcall_ret" and doc["convention"] == "tdcall"
    assert doc["out"]["rcx"] == "0x0000000000000030" and doc["rax_name"] == "TDX_SUCCESS"
    assert main(["run", "--td", "--convention", "hypercall", "--r11", "0x10000"]) == 0
    text = capsys.readouterr().out
    assert "VMM: TDG.VP.VMCALL<GetTdVmCallInfo> -> TDVMCALL_STATUS_SUCCESS" in text
    assert "(TDVMCALL_STATUS_SUCCESS: the VMM's status, from R10)" in text
