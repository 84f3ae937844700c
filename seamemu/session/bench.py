# SPDX-License-Identifier: MIT
"""`seamemu bench`: SEAMCALL round trips through the kernel stub against a bare Unicorn loop.

All rates are taken in the same process, one after another, so their ratios are meaningful;
the absolute numbers on a shared machine are not.
"""

from __future__ import annotations

import platform as _host
import statistics
import time
from typing import Any

from seamemu.arch.leaves import TDH_SYS_INIT, TDH_SYS_LP_INIT, TDH_SYS_RD
from seamemu.arch.structs import TDX_MODULE_ARGS_OFFSETS, TDX_MODULE_ARGS_SIZE
from seamemu.machine import Machine
from seamemu.machine.bench import bare_rate, measure
from seamemu.session.session import Session
from seamemu.stubs import DEFAULT_ENTRY
from seamemu.traps.target import SeamReply

# MAJOR_VERSION, a 16-bit global metadata field the kernel reads first.
# Spec: intel/tdx-module tdx_1.5 include/auto_gen/global_sys_fields_lookup.c.
MAJOR_VERSION_FIELD = 0x0800000100000004


ROUNDS = 5


def _ready_session() -> tuple[Session, int]:
    """A session whose LP 0 has done TDH.SYS.INIT and TDH.SYS.LP.INIT, and an args struct."""
    s = Session(num_lps=1)
    s.call(DEFAULT_ENTRY, leaf=TDH_SYS_INIT)
    s.call(DEFAULT_ENTRY, leaf=TDH_SYS_LP_INIT)
    mem = s.machine.memory
    mem.reset_scratch()
    pa = mem.alloc(TDX_MODULE_ARGS_SIZE, 64)
    mem.write(pa, bytes(TDX_MODULE_ARGS_SIZE))
    mem.write(pa + TDX_MODULE_ARGS_OFFSETS["rdx"], MAJOR_VERSION_FIELD.to_bytes(8, "little"))
    return s, pa


class _AnswerSuccess:
    """The cheapest module there can be: TDX_SUCCESS for every leaf, nothing recorded.

    Behind the trap it isolates what the emulator itself costs per SEAMCALL round trip (the
    kernel stub, the trap, the decision, the register traffic), which is what the bare hook
    loop is the reference for; the modelled leaves are measured separately below.
    """

    _reply = SeamReply(regs={"rax": 0})

    def module_loaded(self) -> bool:
        return True

    def pseamldr_present(self) -> bool:
        return False

    def pseamldr_busy(self, lp: int) -> bool:
        return False

    def seamcall(self, lp, regs, mem) -> SeamReply:
        return self._reply


def run_bench(seconds: float = 1.0, extra: dict | None = None) -> dict:
    """Measure and return rates (per second) and their ratios to the bare hook loop."""
    s, pa = _ready_session()
    machine_call = s.machine.call
    records = s.module.records
    trap_only = Machine(s.image, _AnswerSuccess())
    trap_pa = trap_only.memory.alloc(TDX_MODULE_ARGS_SIZE, 64)
    trap_call = trap_only.call

    def trap_round_trip() -> None:
        trap_call(DEFAULT_ENTRY, (TDH_SYS_RD, trap_pa))

    def stub_round_trip() -> None:
        machine_call(DEFAULT_ENTRY, (TDH_SYS_RD, pa))
        if len(records) > 10_000:  # keep the call log from growing without bound
            del records[:]

    def session_round_trip() -> None:
        s.call(DEFAULT_ENTRY, leaf=TDH_SYS_RD, inputs={"rdx": MAJOR_VERSION_FIELD})
        if len(records) > 10_000:
            del records[:]

    # Check once that the measured path really is a successful TDH.SYS.RD.
    probe = s.call(DEFAULT_ENTRY, leaf=TDH_SYS_RD, inputs={"rdx": MAJOR_VERSION_FIELD})
    if probe.outcome != "returned" or probe.rax != 0:
        raise RuntimeError("bench: TDH.SYS.RD through the stub did not succeed: "
                           f"{probe.outcome} 0x{probe.rax:016x}")
    if trap_only.call(DEFAULT_ENTRY, (TDH_SYS_RD, trap_pa)).outcome != "returned":
        raise RuntimeError("bench: the stub did not return through the trap-only machine")
    # Interleaved rounds, medians: on a shared machine the load drifts between measurements,
    # and a ratio of two numbers taken far apart would measure the drift.
    rounds: dict[str, list[float]] = {"bare": [], "trap": [], "stub": [], "sess": []}
    for _ in range(ROUNDS):
        rounds["bare"].append(bare_rate(seconds / ROUNDS))
        rounds["trap"].append(measure(trap_round_trip, seconds / ROUNDS))
        rounds["stub"].append(measure(stub_round_trip, seconds / ROUNDS))
        rounds["sess"].append(measure(session_round_trip, seconds / ROUNDS))
    bare, trap, stub, sess = (statistics.median(rounds[k]) for k in ("bare", "trap", "stub", "sess"))
    t0 = time.perf_counter()
    Session(num_lps=1)
    setup_s = time.perf_counter() - t0
    report: dict[str, Any] = {
        "schema": 1,
        "host": f"{_host.python_implementation()} {_host.python_version()} on {_host.machine()}",
        "seconds_per_measurement": seconds,
        "rates": {
            "bare_hook_round_trips_per_s": bare,
            "stub_seamcall_round_trips_per_s": trap,
            "stub_with_model_tdh_sys_rd_per_s": stub,
            "session_call_tdh_sys_rd_per_s": sess,
        },
        "ratios": {
            "stub_vs_bare": trap / bare,
            "stub_with_model_vs_bare": stub / bare,
            "session_vs_bare": sess / bare,
        },
        "targets": {"stub_vs_bare": 0.5},
        "notes": {
            "stub_seamcall_round_trips_per_s": "__seamcall_ret through the SEAMCALL trap, a module "
                                               "answering TDX_SUCCESS at no cost",
            "stub_with_model_tdh_sys_rd_per_s": "the same with the TDX module model serving "
                                                "TDH.SYS.RD and recording the call",
        },
        "session_setup_s": setup_s,
    }
    if extra:
        for key, fn in extra.items():
            report["rates"][key] = fn(seconds)
            report["ratios"][f"{key}_vs_bare"] = report["rates"][key] / bare
    return report


def format_bench(report: dict) -> str:
    r, q = report["rates"], report["ratios"]
    lines = [f"seamemu bench ({report['host']}; {report['seconds_per_measurement']:g} s each, one process)"]
    for key, value in r.items():
        lines.append(f"  {key:<40} {value:>12,.0f} /s")
    for key, note in report.get("notes", {}).items():
        lines.append(f"    {key}: {note}")
    lines.append("ratios (same run):")
    for key, value in q.items():
        target = report.get("targets", {}).get(key)
        verdict = "met" if target is not None and value >= target else "NOT met"
        mark = "" if target is None else f"   target >= {target:.0%}: {verdict}"
        lines.append(f"  {key:<40} {value:>12.1%}{mark}")
    lines.append(f"  session setup (assemble cached, 1 LP)   {report['session_setup_s'] * 1000:>10.1f} ms")
    if "bringup_s" in report:
        lines.append(f"  bring-up of the default platform        {report['bringup_s'] * 1000:>10.1f} ms")
    return "\n".join(lines)


__all__ = ["format_bench", "run_bench"]
