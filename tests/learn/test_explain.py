# SPDX-License-Identifier: MIT
"""`seamemu explain`: every outcome-matrix row, every modelled TDH.SYS leaf, the kernel's view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seamemu.arch.kernel import TDX_SEAMCALL_VMFAILINVALID
from seamemu.cli import main
from seamemu.learn.explain import explain, format_explanation
from seamemu.learn.kernel_view import kernel_view
from seamemu.model import all_leaf_specs
from seamemu.session import Session
from seamemu.session.matrix import DEFAULT_MATRIX_LEAF, outcome_matrix
from seamemu.stubs import DEFAULT_ENTRY
from seamemu.traps.seamcall import SEAMCALL_CHECKS

# sc_retry_prerr() of 6.8 and mainline (tdx.c / seamcall_internal.h): what each outcome of
# TDH.SYS.INIT on a fresh module becomes.
MAINLINE_ERRNO = {"returned": 0, "VMfailInvalid": -19, "#GP": -95, "#UD": -13}


@pytest.fixture(scope="module")
def rows():
    return outcome_matrix()


@pytest.fixture(scope="module")
def session():
    return Session(num_lps=1)


def test_explain_agrees_with_every_row_of_the_outcome_matrix(session, rows):
    assert len(rows) == 24        # 16 host states and 8 of a TD's vCPU
    for row in rows:
        session.reset_module()
        session.set_state(lp=0, vmx=row.vmx, seamrr=row.seamrr, cpl=row.cpl, module=row.module,
                          td=row.td)
        e = explain(session, DEFAULT_ENTRY, leaf=DEFAULT_MATRIX_LEAF)
        where = f"TD {row.td} VMX {row.vmx} SEAMRR {row.seamrr} CPL {row.cpl} module {row.module}"
        assert e.outcome == row.outcome, where
        assert e.result.rax == row.rax, where
        assert e.decision.rule == row.rule, where
        assert e.kernel.errno == MAINLINE_ERRNO[row.outcome], where
        # Rows in table order: active rows before the deciding one do not hold, later ones
        # are not reached, and exactly one decides.
        assert [r.id for r in e.rows] == [c.id for c in SEAMCALL_CHECKS]
        deciding = [r for r in e.rows if r.decided]
        assert len(deciding) == 1, where
        k = deciding[0].number
        assert all(not r.holds for r in e.rows[:k - 1])
        assert all(not r.reached for r in e.rows[k:])
        text = format_explanation(e)
        assert f"2. The decision: {e.decision.kind} -- {row.rule}" in text
        assert f"the kernel returns {e.kernel.errno_name}" in text


def test_the_text_walks_the_rows_in_pseudo_code_order(session):
    session.reset_module()
    session.set_state(lp=0, vmx=True, seamrr=False, cpl=0, module=True, td=False)
    text = format_explanation(explain(session, DEFAULT_ENTRY, leaf=DEFAULT_MATRIX_LEAF))
    positions = [text.index(f". {c.id} ") for c in SEAMCALL_CHECKS]
    assert positions == sorted(positions)
    assert "gp_seamrr_invalid    HOLDS" in text
    assert "gp_seamrr_unlocked   inactive" in text
    assert "-EOPNOTSUPP" in text


TDH_SYS = [s for s in all_leaf_specs() if s.name.startswith("TDH.SYS.")]


@pytest.mark.parametrize("spec", TDH_SYS, ids=lambda s: s.name)
def test_explain_leaf_covers_every_modelled_tdh_sys_leaf(capsys, spec):
    argv = ["explain", "--leaf", spec.name]
    if "1.5" not in spec.generations:
        argv += ["--abi", spec.generations[0]]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert spec.summary in out
    for _reg, meaning in spec.inputs + spec.outputs:
        assert meaning in out
    positions = [out.index(f"{c.text} -> ") for c in spec.checks]
    assert positions == sorted(positions), "checks not in the module's order"
    assert "What the module answered" in out


def test_the_kernel_messages(session):
    v = kernel_view(TDX_SEAMCALL_VMFAILINVALID, leaf=DEFAULT_MATRIX_LEAF)
    assert v.errno_name == "-ENODEV" and v.messages == ("virt/tdx: module not loaded",)
    assert kernel_view(TDX_SEAMCALL_VMFAILINVALID, leaf=35).messages == ()
    err = 0xC000010000000000
    v = kernel_view(err, leaf=33, entry="__seamcall_ret", out={"rcx": 1})
    assert v.errno_name == "-EIO"
    assert v.messages[0] == "virt/tdx: SEAMCALL (0x0000000000000021) failed: 0xc000010000000000"
    assert v.messages[1].startswith("virt/tdx: RCX 0x0000000000000001 RDX")
    assert len(kernel_view(err, leaf=33, entry="__seamcall").messages) == 1


def test_the_v5_2022_kernel_reads_results_through_its_own_seamcall():
    v = kernel_view(TDX_SEAMCALL_VMFAILINVALID, leaf=DEFAULT_MATRIX_LEAF, kernel="v5-2022")
    # VMfailInvalid is silent in seamcall(); TDH.SYS.INIT's caller makes it -ENODEV.
    assert (v.errno_name, v.messages, v.generation) == ("-ENODEV", (), "v5-2022")
    assert kernel_view(TDX_SEAMCALL_VMFAILINVALID, leaf=35, kernel="v5-2022").errno_name == "-EFAULT"
    busy = 0x8000020000000001
    v = kernel_view(busy, leaf=36, entry="__seamcall", out={"rdx": 2}, kernel="v5-2022")
    assert v.errno_name == "-EFAULT" and v.wrapper == "seamcall()"
    assert v.messages == (
        "tdx: SEAMCALL failed: leaf: 0x24, error: 0x8000020000000001",
        "tdx: SEAMCALL additional output: rcx 0x0, rdx 0x2, r8 0x0, r9 0x0, r10 0x0, r11 0x0.")
    # No retry in this generation: TDX_RND_NO_ENTROPY is just another failure.
    assert "no retry" in kernel_view(0x8000020300000000, leaf=31, kernel="v5-2022").meaning


def test_explain_on_the_v5_stub_reports_the_unhandled_gp(capsys):
    assert main(["explain", "--kernel", "v5-2022", "--seamrr", "off"]) == 0
    out = capsys.readouterr().out
    assert "no exception-table entry" in out and "oops" in out


def test_explain_json(capsys):
    assert main(["explain", "--cpl", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["decision"]["check"] == "gp_cpl"
    assert doc["kernel"]["errno_name"] == "-EOPNOTSUPP"
    assert [r["id"] for r in doc["rows"] if r["holds"]] == ["gp_cpl"]
    assert doc["result"]["outcome"] == "#GP"


def test_a_loader_leaf_is_answered_by_the_p_seamldr(capsys):
    assert main(["explain", "--leaf", "SEAMLDR.INFO"]) == 0
    out = capsys.readouterr().out
    assert "2. The decision: pseamldr" in out
    assert "4. What the P-SEAMLDR answered: SEAMLDR.INFO ->" in out
    assert "What the module answered" not in out


def test_a_fault_with_no_fixup_never_returns_and_the_kernel_oopses(capsys):
    # The 2022 series' __seamcall has no exception-table entry for its SEAMCALL.
    legacy = Path(__file__).resolve().parents[2] / "asm" / "seamcall_legacy.S"
    argv = ["explain", "--asm", str(legacy), "--entry", "__seamcall",
            "--convention", "legacy", "--cpl", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "#GP at __seamcall+0x" in out and "has no exception-table entry" in out
    assert "outcome: unhandled #GP; the call never returns, the kernel oopses" in out
    assert "sc_retry_prerr(): " not in out and "-EIO" not in out
    assert main(argv + ["--json"]) == 0
    kernel = json.loads(capsys.readouterr().out)["kernel"]
    assert kernel["returned"] is False and kernel["errno"] is None
