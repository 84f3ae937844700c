# SPDX-License-Identifier: MIT
"""One call through a Session, traced instruction by instruction.

The recorder's code hook is on only for this call (seamemu.machine.tracing), so every other
call a session makes stays on the hook-free fast path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seamemu.arch.registers import ABI_ORDER
from seamemu.errors import InputError
from seamemu.machine.tracing import DEFAULT_MAX_STEPS, StepRecorder
from seamemu.session import RunResult, Session
from seamemu.trace import ModuleRun, Trace, build_trace, module_run


@dataclass(frozen=True)
class TracedRun:
    result: RunResult
    trace: Trace
    module_runs: tuple[ModuleRun, ...] = ()    # with into_module: Intel's module per SEAMCALL


def trace_call(session: Session, entry: str, *, convention: str = "args", leaf: int = 0,
               inputs: Mapping[str, int] | None = None, lp: int = 0,
               max_steps: int = DEFAULT_MAX_STEPS, into_module: bool = False) -> TracedRun:
    """Call `entry` like Session.call and record every instruction it executes; with
    `into_module`, also those Intel's module ran for each SEAMCALL (--module-binary only)."""
    if not 0 <= lp < len(session.machine.lps):
        raise InputError(f"--lp {lp}: the platform has LPs 0..{len(session.machine.lps) - 1}")
    real: Any = getattr(session.module, "real", None)   # Intel's module, when it answers
    if into_module and real is None:
        raise InputError("--into-module needs Intel's module (--module-binary PATH): the "
                         "Python model has no instructions to show")
    recorder = StepRecorder(session.machine, [lp], max_steps=max_steps)
    if into_module:
        real.tracing, real.trace_limit, real.traces = True, max_steps, []
    try:
        with recorder:
            result = session.call(entry, convention=convention, leaf=leaf, inputs=inputs, lp=lp)
    finally:
        if into_module:
            real.tracing = False
    steps = recorder.steps_for(result.raw)
    trace = build_trace(steps, session.image, result.raw, entry=entry, outcome=result.outcome,
                        memory=session.machine.memory, truncated=recorder.truncated)
    runs: tuple[ModuleRun, ...] = ()
    if into_module:
        records = {r.seq: r for r in result.calls}
        runs = tuple(module_run(seq, records[seq].leaf_name if seq in records else "?",
                                records[seq].status_name if seq in records else "?",
                                raw, real.cpu.symbolize, max_steps)
                     for seq, raw in real.traces)
    return TracedRun(result, trace, runs)


def run_first(session: Session, entry: str, leaves: Sequence[int], *, lp: int = 0,
              convention: str = "args") -> list[RunResult]:
    """Make untraced calls (e.g. TDH.SYS.INIT, TDH.SYS.LP.INIT) before the one that matters;
    a call that does not return TDX_SUCCESS stops the preparation with a clear error."""
    done = []
    for leaf in leaves:
        r = session.call(entry, convention=convention, leaf=leaf, lp=lp)
        done.append(r)
        if r.outcome != "returned" or r.rax != 0:
            name = r.calls[-1].leaf_name if r.calls else f"leaf {leaf}"
            raise InputError(f"--after: {name} did not succeed ({r.outcome}, RAX 0x{r.rax:016x}"
                             f"{', ' + r.calls[-1].status_name if r.calls else ''})")
    return done


def alloc_inputs(session: Session, specs: Sequence[str]) -> dict[str, int]:
    """`--alloc REG=SIZE[@ALIGN]`: a zeroed guest buffer per spec, its PA for the register.

    ALIGN defaults to SIZE rounded up to a power of two, at most 4096 (natural alignment, which
    is what TDSYSINFO_STRUCT (1024) and the CMR_INFO array (512) need)."""
    out: dict[str, int] = {}
    for spec in specs:
        reg, sep, rest = spec.partition("=")
        reg = reg.strip().lower()
        if not sep or not reg:
            raise InputError(f"--alloc {spec!r}: expected REG=SIZE[@ALIGN], e.g. rcx=1024")
        if reg not in ABI_ORDER or reg == "rax":
            raise InputError(f"--alloc {spec!r}: {reg!r} is not an input register "
                             f"({', '.join(r for r in ABI_ORDER if r != 'rax')})")
        size_text, _, align_text = rest.partition("@")
        try:
            if not (size_text + align_text).isascii() or len(size_text + align_text) > 40:
                raise ValueError
            size = int(size_text, 0)
            align = int(align_text, 0) if align_text else min(4096, 1 << max(size - 1, 0).bit_length())
        except ValueError:
            raise InputError(f"--alloc {spec[:60]!r}: SIZE and ALIGN must be numbers") from None
        if size <= 0 or size > 1 << 24:
            raise InputError(f"--alloc {spec!r}: SIZE must be 1..16 MiB")
        if align <= 0 or align & (align - 1) or align > 1 << 21:
            raise InputError(f"--alloc {spec!r}: ALIGN must be a power of two up to 2 MiB")
        out[reg] = session.alloc(size, align)
    return out


__all__ = ["TracedRun", "alloc_inputs", "run_first", "trace_call"]
