"""Where in the code a violation comes from, read off an instruction trace of the run.

A finding is identified by its rule and this location, so the location must be a property of
the code path, not of the values: the instruction that last wrote the wrong register or
field, the store that left the allowed memory, the RET that went astray.
"""

from __future__ import annotations

from seamemu.fuzz.rules import Violation
from seamemu.fuzz.runner import FRAME_BYTES, Observation, Runner
from seamemu.machine.regs import INDEX, RFLAGS


def last_writer(obs: Observation, index: int, upto: int | None = None, mask: int = -1) -> int | None:
    """Address of the last traced instruction (before step `upto`) that changed register
    `index` (only the bits in `mask`), or None."""
    steps = obs.steps
    n = len(steps) if upto is None else upto
    final = [obs.res.regs_after[k] for k in INDEX] if upto is None else None
    for i in range(n - 1, -1, -1):
        after = steps[i + 1][1][index] if i + 1 < len(steps) else final[index] if final else None
        if after is None:
            continue
        if (after ^ steps[i][1][index]) & mask:
            return steps[i][0]
    return None


def last_store(obs: Observation, runner: Runner, address: int) -> int | None:
    """The in-code instruction that last stored to the byte at `address`."""
    for rip, a, size, _value in reversed(obs.writes):
        if a <= address < a + size and runner.in_code(rip):
            return rip
    return None


def _seamcall_step(obs: Observation) -> int | None:
    sites = {e.address for e in obs.res.seam_events if e.insn == "seamcall"}
    for i, (address, _regs) in enumerate(obs.steps):
        if address in sites:
            return i
    return None


def _last_step(obs: Observation) -> int | None:
    return obs.steps[-1][0] if obs.steps else None


def locate(v: Violation, obs: Observation, runner: Runner) -> int | None:
    """The code address a violation is charged to; None drops it (not the stub's doing)."""
    rule, key = v.rule, v.key
    if rule in ("no-unhandled-fault",) or (rule == "memory-writes" and key == "outside"):
        return v.hint
    if rule == "callee-saved":
        return last_writer(obs, INDEX[key]) or runner.entry_address
    if rule == "df-clear":
        return last_writer(obs, RFLAGS, mask=1 << 10) or _last_step(obs)
    if rule == "rsp-restored":
        return _last_step(obs)
    if rule == "returns":
        if key in ("instructions", "time") and obs.steps:
            # A loop: charge its lowest address among the last steps (stable across inputs).
            return min(a for a, _ in obs.steps[-64:])
        return _last_step(obs)
    if rule == "rax-status":
        return last_writer(obs, INDEX["rax"]) or _last_step(obs)
    if rule == "module-inputs":
        at = _seamcall_step(obs)
        if key == "not-called" or at is None:
            return _last_step(obs)
        return last_writer(obs, INDEX[key], upto=at) or obs.steps[at][0]
    if rule == "output-struct":
        address = runner.struct_pa + 8 * runner.spec.struct_fields.index(key)
        return last_store(obs, runner, address) or _last_step(obs)
    if rule == "memory-writes":  # the caller's frame
        base = runner.stack_top - (len(obs.frame) - FRAME_BYTES)
        off = next(i for i, (a, b) in enumerate(zip(obs.frame, obs.frame_before)) if a != b)
        return last_store(obs, runner, base + off)
    if rule == "differential":
        return locate_diff(key, obs, runner)
    return v.hint


def locate_diff(key: str, obs: Observation, runner: Runner) -> int | None:
    """Where the stub under test produced the value two implementations disagree on."""
    what, _, name = key.partition(":")
    if what == "reg":
        return last_writer(obs, INDEX[name]) or _last_step(obs)
    if what == "received":
        at = _seamcall_step(obs)
        if at is None:
            return _last_step(obs)
        return last_writer(obs, INDEX[name], upto=at) or obs.steps[at][0]
    if what == "struct":
        address = runner.struct_pa + 8 * runner.spec.struct_fields.index(name)
        return last_store(obs, runner, address) or _last_step(obs)
    return _last_step(obs)


__all__ = ["last_store", "last_writer", "locate", "locate_diff"]
