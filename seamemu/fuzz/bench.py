# SPDX-License-Identifier: MIT
"""Fuzz throughput against a bare `emu_start` round trip through the same stub, in one process.

`seamemu bench` reports `fuzz_rate` (and `bare_stub_rate`) next to its other rates.
`fuzz_bench` measures both on the shipped `__seamcall_ret` in alternating slices of about
0.1 s of CPU time, so load from other processes on a shared machine weighs on both alike,
and gives their ratio (the target is at least a quarter).
"""

from __future__ import annotations

import tempfile
import time

from seamemu.frontend import assemble
from seamemu.fuzz.reproducer import Target
from seamemu.fuzz.worker import FuzzConfig, Worker
from seamemu.machine.bench import measure
from seamemu.machine.coverage import BareCall, bare_call_rate
from seamemu.stubs import ARGS_STUB, DEFAULT_ENTRY, stub

RATIO_TARGET = 0.25
_SLICE_S = 0.1


def _worker(out: str) -> Worker:
    path = stub(ARGS_STUB)
    cfg = FuzzConfig(Target.of([path], DEFAULT_ENTRY), "args", seed=1, out=out)
    return Worker(cfg, 0, assemble([path]))


def fuzz_rate(seconds: float = 1.0) -> float:
    """Fuzz runs per second (random mode, one worker) on the shipped __seamcall_ret."""
    with tempfile.TemporaryDirectory(prefix="seamemu-fuzz-bench-") as out:
        w = _worker(out)
        w.step(200)  # warm up: translation, lazily built analysis machines
        return 50 * measure(lambda: w.step(50), seconds)  # 50 runs a step


def bare_stub_rate(seconds: float = 1.0) -> float:
    """Bare emu_start round trips per second through the shipped __seamcall_ret."""
    return bare_call_rate(assemble([stub(ARGS_STUB)]), DEFAULT_ENTRY, (0, "scratch"), seconds)


def fuzz_bench(seconds: float = 1.0) -> dict:
    """Both rates over about `seconds` each, measured in alternating slices, and their ratio."""
    with tempfile.TemporaryDirectory(prefix="seamemu-fuzz-bench-") as out:
        w = _worker(out)
        bare = BareCall(w.image, DEFAULT_ENTRY, (0, "scratch"))
        w.step(200)
        bare.repeat(200)
        fuzz_t = bare_t = 0.0
        fuzz_n = bare_n = 0
        while fuzz_t < seconds or bare_t < seconds:
            n, dt = _timed(w.step, 50, _SLICE_S)
            fuzz_n, fuzz_t = fuzz_n + n, fuzz_t + dt
            n, dt = _timed(bare.repeat, 200, _SLICE_S)
            bare_n, bare_t = bare_n + n, bare_t + dt
    fuzz, bare_rate = fuzz_n / fuzz_t, bare_n / bare_t
    return {"schema": 1, "entry": DEFAULT_ENTRY, "fuzz_runs_per_s": fuzz,
            "bare_emu_start_round_trips_per_s": bare_rate, "ratio": fuzz / bare_rate,
            "ratio_target": RATIO_TARGET}


def _timed(step, chunk: int, seconds: float) -> tuple[int, float]:
    """Run `step(chunk)` for about `seconds` of this process's CPU time: (calls, CPU seconds).

    CPU time, not wall time: on a shared machine other processes then slow neither side."""
    n = 0
    t0 = time.process_time()
    while True:
        step(chunk)
        n += chunk
        dt = time.process_time() - t0
        if dt >= seconds:
            return n, dt

__all__ = ["RATIO_TARGET", "bare_stub_rate", "fuzz_bench", "fuzz_rate"]
