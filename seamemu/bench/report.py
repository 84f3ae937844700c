# SPDX-License-Identifier: MIT
"""`seamemu bench`: the cases measured in one run, their ratios to their references, the report.

What is reported is a table (RATES): each measured case with its JSON name, the reference its
ratio is taken against, the target that ratio should meet, and what it measures.  The text and
JSON forms are both made from one `BenchReport`.
"""

from __future__ import annotations

import platform as _host
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from seamemu.bench import cases
from seamemu.bench.measure import Step, measure


@dataclass(frozen=True)
class Rate:
    case: str                 # key in the measured steps
    name: str                 # JSON name of the rate
    reference: str | None     # the case its ratio is against
    ratio: str | None         # JSON name of that ratio
    target: float | None      # the ratio it should reach
    note: str = ""


RATES: tuple[Rate, ...] = (
    Rate("bare_hook", "bare_hook_round_trips_per_s", None, None, None,
         "emu_start over `seamcall; ret`, an empty invalid-instruction hook"),
    Rate("stub_seamcall", "stub_seamcall_round_trips_per_s", "bare_hook", "stub_vs_bare", 0.5,
         "__seamcall_ret through the SEAMCALL trap, a module answering TDX_SUCCESS at no cost"),
    Rate("stub_with_model", "stub_with_model_tdh_sys_rd_per_s", "bare_hook",
         "stub_with_model_vs_bare", 0.5,
         "the same with the TDX module model serving TDH.SYS.RD and recording the call"),
    Rate("session_call", "session_call_tdh_sys_rd_per_s", "bare_hook", "session_vs_bare", None,
         "the same through Session.call"),
    Rate("host_sys_rd", "tdh_sys_rd_via_stub_per_s", "bare_hook",
         "tdh_sys_rd_via_stub_per_s_vs_bare", None,
         "TDH.SYS.RD through the kernel's wrapper (mainline sc_retry_prerr)"),
    Rate("intel_module_sys_rd", "tdh_sys_rd_intel_module_per_s", "host_sys_rd",
         "intel_module_vs_model_sys_rd", None,
         "the same TDH.SYS.RD loop answered by Intel's module (--module-binary)"),
    Rate("bare_same_stub", "bare_emu_start_same_stub_per_s", None, None, None,
         "a bare emu_start round trip through __seamcall_ret (the fuzzer's reference)"),
    Rate("fuzz", "fuzz_runs_per_s", "bare_same_stub", "fuzz_vs_bare_same_stub", 1.0,
         "seamemu fuzz, random mode, one worker, on __seamcall_ret"),
    Rate("fuzz_jobs1", "fuzz_jobs1_runs_per_s", None, None, None,
         "a seamemu fuzz --jobs 1 campaign, runs per wall second (start-up included)"),
    Rate("fuzz_jobs2", "fuzz_jobs2_runs_per_s", "fuzz_jobs1", "fuzz_jobs2_vs_jobs1", 1.5,
         "the same with --jobs 2 (two worker processes), in the same time"),
)


@dataclass(frozen=True)
class BenchReport:
    host: str
    seconds: float
    rates: Mapping[str, float]        # by case
    bringup_s: float
    session_setup_s: float
    cores_used: Mapping[str, float] = field(default_factory=dict)  # --jobs cases: CPU s / wall s

    @property
    def measured(self) -> tuple[Rate, ...]:
        """The rates of RATES this run measured (Intel's module only when given)."""
        return tuple(r for r in RATES if r.case in self.rates)

    def ratio(self, r: Rate) -> float | None:
        return None if r.reference is None else self.rates[r.case] / self.rates[r.reference]

    def to_json(self) -> dict:
        ratios = [(r, q) for r in self.measured if (q := self.ratio(r)) is not None]
        return {
            "schema": 2,
            "host": self.host,
            "seconds_per_measurement": self.seconds,
            "rates": {r.name: self.rates[r.case] for r in self.measured},
            "ratios": {r.ratio: q for r, q in ratios},
            "targets": {r.ratio: r.target for r in self.measured if r.target is not None},
            "met": {r.ratio: q >= r.target for r, q in ratios if r.target is not None},
            "notes": {r.name: r.note for r in self.measured},
            "bringup_s": self.bringup_s,
            "session_setup_s": self.session_setup_s,
            "cores_used": {r.name: self.cores_used[r.case] for r in self.measured
                           if r.case in self.cores_used},
        }

    def text(self) -> str:
        lines = [f"seamemu bench ({self.host}; {self.seconds:g} s of CPU time per case, "
                 "interleaved, one process; the --jobs campaigns by the wall clock)"]
        for r in self.measured:
            lines.append(f"  {r.name:<40} {self.rates[r.case]:>12,.0f} /s   {r.note}")
        lines.append("ratios (same run):")
        for r in self.measured:
            q = self.ratio(r)
            if q is None or r.ratio is None:
                continue
            mark = ""
            if r.target is not None:
                mark = f"   target >= {r.target:.0%}: {'met' if q >= r.target else 'NOT met'}"
            lines.append(f"  {r.ratio:<40} {q:>12.1%}{mark}")
        lines.append(f"  session setup (assemble cached, 1 LP)   {self.session_setup_s * 1000:>10.1f} ms")
        lines.append(f"  bring-up of the default platform        {self.bringup_s * 1000:>10.1f} ms")
        for r in self.measured:
            if r.case in self.cores_used:
                lines.append(f"  cores used by {r.name:<26} {self.cores_used[r.case]:>10.2f} "
                             "(CPU s per wall s: below the job count, the machine was busy)")
        return "\n".join(lines)


def run_bench(seconds: float = 1.0, module_binary: str | None = None,
              steps: Callable[[str, str | None], Mapping[str, Step]] = cases.all_steps,
              jobs: bool = True, **measure_options) -> BenchReport:
    """Measure the cases of RATES over about `seconds` of CPU time each, in one process (with
    `module_binary`, also TDH.SYS.RD answered by Intel's module); with `jobs`, fuzz campaigns
    of one and two workers (`seconds / 2` each) by the wall clock."""
    with tempfile.TemporaryDirectory(prefix="seamemu-bench-") as out:
        rates = measure(steps(out, module_binary), seconds, **measure_options)
        cores: dict[str, float] = {}
        if jobs:
            # One campaign per case a round (a slice shorter than any campaign), wall clock.
            campaign_s = max(seconds / 2, 0.05)
            rounds = cases.JOBS_ROUNDS if seconds >= 0.5 else 1   # a smoke run: one each
            jobs_cases = cases.jobs_steps(out, campaign_s)
            rates.update(measure(jobs_cases, 1e-6 * rounds, rounds=rounds,
                                 clock=time.perf_counter))
            cores = cases.cores_used(jobs_cases)
    host = f"{_host.python_implementation()} {_host.python_version()} on {_host.machine()}"
    return BenchReport(host, seconds, rates, cases.bringup_seconds(),
                       cases.session_setup_seconds(), cores)


__all__ = ["BenchReport", "RATES", "Rate", "run_bench"]
