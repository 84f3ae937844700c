# SPDX-License-Identifier: MIT
"""Example: testing your own SEAMCALL wrapper with seamemu's pytest plugin.

Run it with `python -m pytest docs/examples/test_my_stub.py` once seamemu is installed (the
plugin is registered through the `pytest11` entry point; without installing, add
`-p seamemu.pytest_plugin`).  The assembly under test is written to a temporary file here so
that this file is self-contained; in your project it is your `.S` file.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamemu.pytest_plugin import assert_abi_preserved, assert_outcome, assert_status

# u64 my_seamcall(u64 leaf, u64 rcx): RAX = leaf, RCX = rcx, SEAMCALL, and the kernel's way
# of turning the instruction's own failures into software codes (VMfailInvalid via CF,
# #GP/#UD via the exception table).
MY_STUB = r"""
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/tdx.h>

.section .text, "ax"
SYM_FUNC_START(my_seamcall)
	movq	%rdi, %rax
	movq	%rsi, %rcx
.Lcall:
	seamcall
	jc	.Lvmfail
	RET
.Lvmfail:
	movabsq	$TDX_SEAMCALL_VMFAILINVALID, %rax
	RET
.Lfault:
	movabsq	$TDX_SW_ERROR, %rdi
	orq	%rdi, %rax
	RET
	_ASM_EXTABLE_FAULT(.Lcall, .Lfault)
SYM_FUNC_END(my_seamcall)

/* The same wrapper with a bug: it uses RBX, which SysV says the callee must preserve. */
SYM_FUNC_START(my_buggy_seamcall)
	movq	%rdi, %rbx
	movq	%rbx, %rax
	movq	%rsi, %rcx
	seamcall
	RET
SYM_FUNC_END(my_buggy_seamcall)
"""

TDH_SYS_INIT = 33


@pytest.fixture
def my_stub(tmp_path):
    path = tmp_path / "my_stub.S"
    path.write_text(MY_STUB)
    return path


@pytest.fixture
def seam_my(seam_factory, my_stub):
    """A machine running my_stub.S on seamemu's default platform (VMX on, CPL 0, module up)."""
    return seam_factory(asm=[my_stub])


def test_tdh_sys_init_succeeds(seam_my):
    r = seam_my.call("my_seamcall", convention="raw", rdi=TDH_SYS_INIT, rsi=0)
    assert_outcome(r, "returned")
    assert_status(r, "TDX_SUCCESS")
    assert_abi_preserved(r)
    assert r.calls[-1].leaf_name == "TDH.SYS.INIT"


@pytest.mark.parametrize("state, outcome, status", [
    (dict(cpl=3), "#GP", "TDX_SEAMCALL_GP"),
    (dict(seamrr=False), "#GP", "TDX_SEAMCALL_GP"),
    (dict(vmx=False), "#UD", "TDX_SEAMCALL_UD"),
    (dict(module=False), "VMfailInvalid", "TDX_SEAMCALL_VMFAILINVALID"),
])
def test_instruction_failures_become_software_codes(seam_my, state, outcome, status):
    seam_my.state(**state)
    r = seam_my.call("my_seamcall", convention="raw", rdi=TDH_SYS_INIT, rsi=0)
    assert_outcome(r, outcome)
    assert_status(r, status)
    assert_abi_preserved(r)


def test_the_plugin_catches_a_clobbered_callee_saved_register(seam_my):
    r = seam_my.call("my_buggy_seamcall", convention="raw", rdi=TDH_SYS_INIT, rsi=0)
    assert_status(r, "TDX_SUCCESS")
    with pytest.raises(AssertionError, match="clobbered RBX"):
        assert_abi_preserved(r)


@pytest.mark.seamemu(cpl=3)
def test_the_marker_sets_the_state_of_the_shipped_stub(seam):
    # Without asm=, `seam` runs the shipped kernel-style stub (__seamcall_ret).
    assert_outcome(seam.call(leaf="TDH.SYS.INIT"), "#GP")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rcx=st.integers(0, 2**64 - 1))
def test_any_nonzero_attributes_are_refused(seam_my, rcx):
    seam_my.reset_module()
    r = seam_my.call("my_seamcall", convention="raw", rdi=TDH_SYS_INIT, rsi=rcx)
    assert_outcome(r, "returned")
    if rcx == 0:
        assert_status(r, "TDX_SUCCESS")
    else:
        assert r.calls[-1].status_name == "TDX_OPERAND_INVALID(RCX)"
    assert_abi_preserved(r)


def expected_outcome(cpu) -> tuple[str, str]:
    """What the CPU does with SEAMCALL in this state, in the SDM's order: #UD outside VMX
    operation, #GP(0) at CPL > 0 or with SEAMRR off, VMfailInvalid without a module."""
    if not cpu.vmx:
        return "#UD", "TDX_SEAMCALL_UD"
    if cpu.cpl > 0 or not cpu.seamrr:
        return "#GP", "TDX_SEAMCALL_GP"
    if not cpu.module:
        return "VMfailInvalid", "TDX_SEAMCALL_VMFAILINVALID"
    return "returned", "TDX_SUCCESS"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_cpu_state_the_fuzzer_draws(seam_my, seam_strategies, data):
    # seam_strategies is seamemu.fuzz.strategies: the CPU states `seamemu fuzz` explores.
    cpu = data.draw(seam_strategies.cpu_states(), label="cpu")
    seam_my.reset_module()
    seam_my.state(vmx=cpu.vmx, seamrr=cpu.seamrr, cpl=cpu.cpl, module=cpu.module)
    r = seam_my.call("my_seamcall", convention="raw", rdi=TDH_SYS_INIT, rsi=0)
    outcome, status = expected_outcome(cpu)
    assert_outcome(r, outcome)
    assert_status(r, status)
    assert_abi_preserved(r)
