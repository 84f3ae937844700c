# SPDX-License-Identifier: MIT
"""One call through a Session, traced instruction by instruction.

The recorder's code hook is on only for this call (seamemu.machine.tracing), so every other
call a session makes stays on the hook-free fast path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from seamemu.errors import InputError
from seamemu.machine.tracing import DEFAULT_MAX_STEPS, StepRecorder
from seamemu.session import RunResult, Session
from seamemu.trace import Trace, build_trace


@dataclass(frozen=True)
class TracedRun:
    result: RunResult
    trace: Trace


def trace_call(session: Session, entry: str, *, convention: str = "args", leaf: int = 0,
               inputs: Mapping[str, int] | None = None, lp: int = 0,
               max_steps: int = DEFAULT_MAX_STEPS) -> TracedRun:
    """Call `entry` like Session.call and record every instruction it executes."""
    if not 0 <= lp < len(session.machine.lps):
        raise InputError(f"--lp {lp}: the platform has LPs 0..{len(session.machine.lps) - 1}")
    recorder = StepRecorder(session.machine, [lp], max_steps=max_steps)
    with recorder:
        result = session.call(entry, convention=convention, leaf=leaf, inputs=inputs, lp=lp)
    steps = recorder.steps_for(result.raw)
    trace = build_trace(steps, session.image, result.raw, entry=entry, outcome=result.outcome,
                        memory=session.machine.memory, truncated=recorder.truncated)
    return TracedRun(result, trace)


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
        size_text, _, align_text = rest.partition("@")
        try:
            size = int(size_text, 0)
            align = int(align_text, 0) if align_text else min(4096, 1 << max(size - 1, 0).bit_length())
        except ValueError:
            raise InputError(f"--alloc {spec!r}: SIZE and ALIGN must be numbers") from None
        if size <= 0 or size > 1 << 24:
            raise InputError(f"--alloc {spec!r}: SIZE must be 1..16 MiB")
        if align <= 0 or align & (align - 1):
            raise InputError(f"--alloc {spec!r}: ALIGN must be a power of two")
        out[reg] = session.alloc(size, align)
    return out


__all__ = ["TracedRun", "alloc_inputs", "run_first", "trace_call"]
