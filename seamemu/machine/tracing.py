# SPDX-License-Identifier: MIT
"""Per-instruction recording of one traced call: a UC_HOOK_CODE tracer attached for its duration.

The machine's ordinary path has no code hook (lp.py), so straight-line guest code runs at full
speed.  A `StepRecorder` adds, on the LPs it is given, one UC_HOOK_CODE that reads every
register before each instruction and one UC_HOOK_MEM_WRITE that notes each store, then removes
both when the traced call is over.  Unicorn 2.1 does not honour hooks on code it has already
translated (unicorn-engine/unicorn#2200), so the translation cache is flushed on attach
and again on detach (so that no block keeps calling into a removed hook).

Attribution: registers read at instruction N+1 are the state after instruction N; the trapped
instructions (`lp.events`) and delivered exceptions (`lp.faults`) that appear between two code
hooks belong to the earlier instruction.  Unicorn reports a garbage size for an instruction it
cannot decode (unicorn#577), so the size is not recorded; the trace layer decodes the bytes.
A code hook may fire for an instruction that never runs because the run was stopped
(unicorn#1434); `steps_for` drops such a trailing step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_WRITE

from seamemu.errors import InputError
from seamemu.machine.regs import NAMES, RIP
from seamemu.machine.results import CallResult, FaultEvent, SeamEvent

DEFAULT_MAX_STEPS = 20_000


@dataclass(frozen=True)
class RawStep:
    """One executed instruction as the machine saw it."""

    lp: int
    address: int
    code: bytes                                  # up to 16 bytes at `address`
    before: tuple[int, ...]                      # registers in regs.NAMES order, before it ran
    after: tuple[int, ...]                       # ... and after it (or after its trap/fault)
    writes: tuple[tuple[int, bytes], ...]        # CPU stores: (address, bytes stored)
    seam_events: tuple[SeamEvent, ...] = ()      # trapped instructions executed here
    faults: tuple[FaultEvent, ...] = ()          # exceptions this instruction raised

    def reg_before(self, name: str) -> int:
        return self.before[NAMES.index(name)]

    def reg_after(self, name: str) -> int:
        return self.after[NAMES.index(name)]


class _Pending:
    __slots__ = (
        "address",
        "before",
        "code",
        "end",
        "lp",
        "n_events",
        "n_faults",
        "stores",
        "written",
    )

    def __init__(self, lp, address, code, before, n_events, n_faults):
        self.lp, self.address, self.code, self.before = lp, address, code, before
        self.stores: list[tuple[int, int]] = []
        self.written: tuple[tuple[int, bytes], ...] | None = None
        self.n_events, self.n_faults = n_events, n_faults
        self.end: tuple | None = None    # (registers, n_events, n_faults) when truncated after it

    def settle(self, memory) -> None:
        """Read back what this instruction stored, before a later one can overwrite it."""
        if self.written is None:
            self.written = tuple((a, memory.peek(a, n)[:n]) for a, n in _merge(self.stores))


class StepRecorder:
    """Record every instruction the given LPs execute while attached (a context manager).

        with StepRecorder(machine, lps=[0]) as rec:
            result = machine.call("__seamcall_ret", (33, pa))
        steps = rec.steps_for(result)

    Only one call should run while attached; `max_steps` caps what is kept (the rest of the
    call still runs, and `truncated` says so).
    """

    def __init__(self, machine, lps=None, *, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        if max_steps <= 0:
            raise InputError(f"trace: max_steps must be positive, got {max_steps}")
        indices = range(len(machine.lps)) if lps is None else list(lps)
        for i in indices:
            if not 0 <= i < len(machine.lps):
                raise InputError(f"trace: no logical processor {i} (machine has {len(machine.lps)})")
        self.machine = machine
        self.lps = [machine.lps[i] for i in indices]
        self.max_steps = max_steps
        self.truncated = False
        self._raw: list[_Pending] = []
        self._hooks: list[tuple[Any, int]] = []

    # -- attach / detach ---------------------------------------------------------------------
    def attach(self) -> StepRecorder:
        if self._hooks:
            return self
        self._raw = []
        self.truncated = False
        for lp in self.lps:
            code_cb, write_cb = self._callbacks(lp)
            self._hooks.append((lp.uc, lp.uc.hook_add(UC_HOOK_CODE, code_cb)))
            self._hooks.append((lp.uc, lp.uc.hook_add(UC_HOOK_MEM_WRITE, write_cb)))
        self.machine.drop_translations()
        return self

    def detach(self) -> None:
        for uc, handle in self._hooks:
            uc.hook_del(handle)
        self.machine.drop_translations()
        self._hooks = []

    def reset(self) -> None:
        """Forget what was recorded, staying attached (one recorder serves many calls)."""
        self._raw.clear()
        self.truncated = False

    @property
    def recorded(self) -> int:
        """How many instructions were recorded so far (all LPs)."""
        return len(self._raw)

    @property
    def attached(self) -> bool:
        return bool(self._hooks)

    def __enter__(self) -> StepRecorder:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def _callbacks(self, lp):
        raw = self._raw
        memory = self.machine.memory
        regfile = lp.regfile
        index = lp.index
        patches = getattr(lp, "code_patches", {})
        pad = self.machine.launch_pad

        def on_code(uc, address, _size, _user) -> None:
            try:
                if address == pad:        # a debugged call's jump to its entry: not the call's
                    return
                if raw and raw[-1].lp == index:
                    raw[-1].settle(memory)
                if len(raw) >= self.max_steps:
                    if not self.truncated:
                        self.truncated = True
                        raw[-1].end = (tuple(regfile.read()), len(lp.events), len(lp.faults))
                    return
                code = memory.peek(address, 16)
                original = patches.get(address)
                if original is not None:  # RDMSR/WRMSR the machine patched: the image's bytes
                    code = original + code[len(original):]
                raw.append(_Pending(index, address, code, tuple(regfile.read()),
                                    len(lp.events), len(lp.faults)))
            except BaseException as exc:
                lp._fail(exc)

        def on_write(uc, _access, address, size, _value, _user) -> None:
            try:
                if raw and raw[-1].lp == index and not self.truncated:
                    raw[-1].stores.append((address, size))
            except BaseException as exc:
                lp._fail(exc)

        return on_code, on_write

    # -- results -----------------------------------------------------------------------------
    def steps_for(self, result: CallResult) -> tuple[RawStep, ...]:
        """The recorded steps of `result`'s call, each with its state after and its events."""
        memory = self.machine.memory
        pending = [p for p in self._raw if p.lp == result.lp]
        final = tuple(result.regs_after[n] for n in NAMES)
        # A step hooked but never run: the run stopped there (unhandled fault, bound, vmexit).
        if pending and result.outcome != "returned" and pending[-1].before == final \
                and pending[-1].address == final[RIP] and len(pending) > 1 \
                and pending[-1].n_events == len(result.seam_events) \
                and pending[-1].n_faults == len(result.faults) \
                and _stopped_before(result, pending[-1].address):
            pending = pending[:-1]
        steps = []
        for i, p in enumerate(pending):
            nxt = pending[i + 1] if i + 1 < len(pending) else None
            if nxt is not None:
                after, ev_hi, f_hi = nxt.before, nxt.n_events, nxt.n_faults
            elif p.end is not None:
                after, ev_hi, f_hi = p.end
            else:
                after, ev_hi, f_hi = final, len(result.seam_events), len(result.faults)
            p.settle(memory)
            writes = p.written or ()
            steps.append(RawStep(p.lp, p.address, p.code, p.before, after, writes,
                                 tuple(result.seam_events[p.n_events:ev_hi]),
                                 tuple(result.faults[p.n_faults:f_hi])))
        return tuple(steps)


def _stopped_before(result: CallResult, address: int) -> bool:
    """Whether the run ended at `address` without executing it (bound hit or unhandled fault
    reported at a different instruction)."""
    if result.outcome == "bound":
        return True
    fault = result.fault
    return fault is not None and fault.address != address


def _merge(stores: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent or repeated stores of one instruction as ranges (a PUSH is one 8-byte store)."""
    out: list[list[int]] = []
    for a, n in stores:
        if out and out[-1][0] <= a <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], a + n - out[-1][0])
        else:
            out.append([a, n])
    return [(a, n) for a, n in out]


__all__ = ["DEFAULT_MAX_STEPS", "RawStep", "StepRecorder"]
