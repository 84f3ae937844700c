# SPDX-License-Identifier: MIT
"""The unmodified shipped stubs keep every rule: short campaigns in every mode find nothing."""

from __future__ import annotations

import pytest
from fuzz_helpers import ARGS, LEGACY, TDCALL, campaign


@pytest.mark.parametrize("entry", ["__seamcall", "__seamcall_ret", "__seamcall_saved_ret"])
def test_args_stub_reports_nothing(tmp_path, entry):
    s = campaign(tmp_path, ARGS, entry, runs=4000, seed=11)
    assert s["runs"] == 4000
    assert s["findings"] == []
    assert not any((tmp_path / "findings").iterdir())


def test_legacy_stub_reports_nothing(tmp_path):
    # #GP/#UD reach the caller under this convention: unhandled at the SEAMCALL is allowed.
    s = campaign(tmp_path, LEGACY, "__seamcall", "legacy", runs=4000, seed=11)
    assert s["findings"] == []


@pytest.mark.parametrize("mode,runs", [("coverage", 3000), ("hypothesis", 150)])
def test_other_modes_report_nothing(tmp_path, mode, runs):
    s = campaign(tmp_path, ARGS, "__seamcall_saved_ret", mode=mode, runs=runs, seed=5)
    assert s["runs"] == runs
    assert s["findings"] == []


def test_differential_of_a_stub_against_itself_is_silent(tmp_path):
    s = campaign(tmp_path, ARGS, "__seamcall_ret", runs=1500, reference=ARGS)
    assert s["findings"] == []


@pytest.mark.parametrize("entry, convention", [("__tdcall_ret", "tdcall"),
                                               ("__tdcall_saved_ret", "tdcall"),
                                               ("__tdx_hypercall", "hypercall")])
def test_guest_stub_reports_nothing(tmp_path, entry, convention):
    """The TD guest's stub keeps the guest's rules: TDCALL faults left to the caller, the
    hypercall's register set and R10, the panic on a failed TDCALL, nothing the VMM chose left
    in a register."""
    s = campaign(tmp_path, TDCALL, entry, convention, runs=3000, seed=11)
    assert s["runs"] == 3000 and s["findings"] == []


def test_guest_stub_in_coverage_mode(tmp_path):
    s = campaign(tmp_path, TDCALL, "__tdx_hypercall", "hypercall", mode="coverage", runs=1500,
                 seed=5)
    assert s["runs"] == 1500 and s["findings"] == []
