# SPDX-License-Identifier: MIT
"""The throughput measurements `seamemu bench` reports: shapes only, no timing assertions."""

from __future__ import annotations

from seamemu.fuzz.bench import RATIO_TARGET, bare_stub_rate, fuzz_bench, fuzz_rate


def test_rates_are_measured_on_the_shipped_stub():
    assert fuzz_rate(0.05) > 0
    assert bare_stub_rate(0.05) > 0


def test_fuzz_bench_reports_both_rates_and_their_ratio():
    d = fuzz_bench(0.1)
    assert d["schema"] == 1 and d["entry"] == "__seamcall_ret"
    assert d["ratio"] == d["fuzz_runs_per_s"] / d["bare_emu_start_round_trips_per_s"]
    assert d["ratio_target"] == RATIO_TARGET
