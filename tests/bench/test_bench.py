# SPDX-License-Identifier: MIT
"""Benchmarks (pytest-benchmark): run `python -m pytest tests/bench --benchmark-enable` to time
them; in the normal suite they run once each, as smoke tests of the measured paths."""

import json

import pytest

from seamemu.cli import main
from seamemu.session.bench import TDH_SYS_RD, _ready_session
from seamemu.stubs import DEFAULT_ENTRY


@pytest.fixture(scope="module")
def ready():
    return _ready_session()


def test_bench_stub_tdh_sys_rd_round_trip(benchmark, ready):
    s, pa = ready
    res = benchmark(s.machine.call, DEFAULT_ENTRY, (TDH_SYS_RD, pa))
    assert res.outcome == "returned" and res.rax == 0


def test_bench_session_call(benchmark, ready):
    s, _ = ready
    res = benchmark(s.call, DEFAULT_ENTRY, leaf=TDH_SYS_RD, inputs={"rdx": 0x0800000100000004})
    assert res.rax == 0 and res.out["r8"] == s.platform.module.major


def test_bench_command_reports_rates_and_ratios(capsys):
    assert main(["bench", "--seconds", "0.05", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rates, ratios = doc["rates"], doc["ratios"]
    for key in ("bare_hook_round_trips_per_s", "stub_seamcall_round_trips_per_s",
                "stub_with_model_tdh_sys_rd_per_s"):
        assert rates[key] > 0
    assert ratios["stub_vs_bare"] == pytest.approx(
        rates["stub_seamcall_round_trips_per_s"] / rates["bare_hook_round_trips_per_s"], rel=1e-9)
    assert doc["targets"]["stub_vs_bare"] == 0.5
