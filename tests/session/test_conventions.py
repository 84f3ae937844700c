# SPDX-License-Identifier: MIT
"""Calling the shipped stubs under each convention delivers the caller's inputs and outputs."""

import pytest

from seamemu.errors import InputError
from seamemu.kernel.calling import POISON
from seamemu.session import Session
from seamemu.stubs import LEGACY_STUB, stub

TDH_SYS_INIT, TDH_SYS_LP_INIT, TDH_SYS_RD = 33, 35, 34
MAJOR_VERSION = 0x0800000100000004


@pytest.fixture
def ready():
    s = Session(num_lps=1)
    assert s.call("__seamcall_ret", leaf=TDH_SYS_INIT).rax == 0
    assert s.call("__seamcall_ret", leaf=TDH_SYS_LP_INIT).rax == 0
    return s


def test_args_convention_returns_outputs_in_the_struct(ready):
    r = ready.call("__seamcall_ret", leaf=TDH_SYS_RD, inputs={"rdx": MAJOR_VERSION})
    assert r.outcome == "returned" and r.rax == 0
    assert r.out["r8"] == ready.platform.module.major
    rec = r.calls[-1]
    assert rec.leaf_name == "TDH.SYS.RD" and rec.inputs["rdx"] == MAJOR_VERSION


def test_seamcall_without_ret_leaves_the_struct_alone(ready):
    r = ready.call("__seamcall", leaf=TDH_SYS_RD, inputs={"rdx": MAJOR_VERSION, "r8": 0x1234})
    assert r.rax == 0
    assert r.out["r8"] == 0x1234 and r.out["rdx"] == MAJOR_VERSION


def test_saved_ret_zeroes_shared_registers_and_keeps_callee_saved(ready):
    r = ready.call("__seamcall_saved_ret", leaf=TDH_SYS_RD,
                   inputs={"rdx": MAJOR_VERSION, "r12": 7, "rbx": 9, "rsi": 3})
    assert r.rax == 0 and r.abi.preserved
    assert all(r.regs[x] == 0 for x in ("rcx", "rdx", "r8", "r9", "r10", "r11", "rdi", "rsi"))
    # The module leaves registers it does not write unchanged, so they come back in the struct.
    assert (r.out["r12"], r.out["rbx"], r.out["rsi"]) == (7, 9, 3)


def test_legacy_convention_copies_outputs():
    s = Session([stub(LEGACY_STUB)], num_lps=1)
    assert s.call("__seamcall", convention="legacy", leaf=TDH_SYS_INIT).rax == 0
    assert s.call("__seamcall", convention="legacy", leaf=TDH_SYS_LP_INIT).rax == 0
    r = s.call("__seamcall", convention="legacy", leaf=TDH_SYS_RD, inputs={"rdx": MAJOR_VERSION})
    assert r.rax == 0 and r.out["r8"] == s.platform.module.major
    assert r.out["r11"] != POISON  # every output field was written
    assert r.abi.preserved


def test_legacy_vmfailinvalid_still_copies_the_registers_as_the_2022_macro_did():
    # v5.19's TDX_MODULE_CALL falls through to the copy after VMfailInvalid: *out gets the
    # registers the failed SEAMCALL left alone (the inputs; R10/R11 as the caller had them).
    s = Session([stub(LEGACY_STUB)], num_lps=1)
    s.set_state(module=False)
    r = s.call("__seamcall", convention="legacy", leaf=TDH_SYS_INIT,
               inputs={"rcx": 1, "rdx": 2, "r8": 3, "r9": 4})
    assert (r.outcome, r.rax) == ("VMfailInvalid", 0x8000FF00FFFF0000)
    assert (r.out["rcx"], r.out["rdx"], r.out["r8"], r.out["r9"]) == (1, 2, 3, 4)
    assert POISON not in r.out.values()
    assert r.abi.preserved


@pytest.mark.parametrize("state, vector", [({"vmx": False}, 6), ({"cpl": 3}, 13), ({"seamrr": False}, 13)])
def test_legacy_stub_without_extable_reports_an_unhandled_fault_at_the_seamcall(state, vector):
    s = Session([stub(LEGACY_STUB)], num_lps=1)
    s.set_state(**state)
    r = s.call("__seamcall", convention="legacy", leaf=TDH_SYS_INIT)
    seamcall_at = next(e for e in r.events if e.insn.lower() == "seamcall").address
    assert r.fault.handled_by is None and r.fault.vector == vector
    assert r.fault.address == seamcall_at
    assert r.fault.symbol.startswith("__seamcall+")
    assert "unhandled" in r.oops and "RIP" in r.oops


def test_raw_convention_passes_registers_as_given(ready):
    from seamemu.arch.structs import TDX_MODULE_ARGS_FIELDS as F
    from seamemu.kernel.calling import pack, unpack

    pa = ready.alloc(8 * len(F), 64, pack(F, {"rdx": MAJOR_VERSION}))
    r = ready.call("__seamcall_ret", convention="raw", leaf=0xDEAD, inputs={"rdi": TDH_SYS_RD, "rsi": pa})
    # The stub moves RDI into RAX itself, so the raw RAX never reaches the module.
    assert r.rax == 0 and r.calls[-1].leaf_name == "TDH.SYS.RD"
    out = unpack(F, ready.machine.memory.read(pa, 8 * len(F)))
    assert out["r8"] == ready.platform.module.major


def test_unknown_register_for_convention_is_named():
    s = Session(num_lps=1)
    with pytest.raises(InputError, match="register rax"):
        s.call("__seamcall_ret", inputs={"rax": 1})
    with pytest.raises(InputError, match="register r12: the legacy convention"):
        Session([stub(LEGACY_STUB)], num_lps=1).call("__seamcall", convention="legacy", inputs={"r12": 1})
