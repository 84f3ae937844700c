# SPDX-License-Identifier: MIT
"""One machine per worker: place a case, call the entry, observe, restore the snapshot.

The fast path is `Runner.run`: no Session, no per-run allocation in guest memory.  The struct
lives at a fixed place in scratch memory and is written through its host address, and
`Machine.restore` rolls everything back after the call.  The caller's own stack frame is the
FRAME_BYTES just above the LP's stack top (plus `case.align` bytes below it when the entry
RSP is misaligned), so the usual call pushes its return address into the machine's
preallocated slot; the frame is rewritten before every run and compared after it.
A runner built with `observe="coverage"` also collects block edges; with `observe="trace"`
it records every instruction and store (slow: for locating and explaining findings).
"""

from __future__ import annotations

import ctypes
import struct as _struct
from collections.abc import Mapping
from typing import NamedTuple

from seamemu.arch.registers import CALLEE_SAVED
from seamemu.errors import InputError
from seamemu.fuzz.case import FRAME_WORDS, Case, normal_cpu
from seamemu.fuzz.oracle import RealAnswers, ScriptedModule, cpu_state
from seamemu.fuzz.promises import Spec
from seamemu.image import Image
from seamemu.machine import PAGE, Bounds, CallResult, Machine
from seamemu.machine.batch import BatchLayout, GuestBatch
from seamemu.machine.coverage import (
    BlockCoverage,
    PageGuard,
    WriteWatch,
)
from seamemu.machine.tracing import RawStep, StepRecorder
from seamemu.session.msr_sites import attach_mov_ss_sites

FRAME_BYTES = 8 * FRAME_WORDS
# The struct sits in the middle of its own page, so a stray store just beside it is a store
# outside every allowed range rather than into some other buffer.
STRUCT_OFFSET = 0x800
# A stub is a few dozen instructions; a run past this is a hang or a wild jump.
FUZZ_BOUNDS = Bounds(max_insns=20_000, timeout_s=2.0)
BATCH = 512          # cases per batch (fuzz/batch.py)
# The batch driver's record: every GPR but RSP, RAX last (the driver loads through it).
BATCH_LOAD = ("rcx", "rdx", "rbx", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
              "r13", "r14", "r15", "rax")
OBSERVE = ("fast", "coverage", "trace")


class Observation(NamedTuple):
    """What one run did, as the invariants read it."""

    res: CallResult
    struct: tuple[int, ...]          # the struct's fields after the call (empty: no struct)
    frame: bytes                     # the caller's stack frame after the call
    frame_before: bytes
    received: Mapping[str, int] | None  # registers the first SEAMCALL handed the module
    calls: int                       # SEAMCALLs that reached the module
    hits: tuple[tuple[int, int, int], ...]  # stores outside the allowed ranges (rip, address, size)
    edges: frozenset = frozenset()
    steps: tuple = ()                # trace: (address, registers before it)
    writes: tuple = ()               # trace: (rip, address, size)
    raw: tuple[RawStep, ...] = ()    # trace: every step as the machine recorded it


# Intel's module runs a whole leaf per SEAMCALL (TDH.SYS.INIT is some 20,000 instructions), so it
# gets its own bound rather than the stub's.
MODULE_BOUNDS = Bounds(max_insns=5_000_000, timeout_s=5.0)


def _intel_module(path: str, machine: Machine):
    """Intel's module on the default platform, in this machine's memory, for one LP."""
    from seamemu.model.module import TdxModule
    from seamemu.platform import as_platform
    from seamemu.session.real_module import intel_module, module_binary_path

    platform = as_platform(None)
    binary = module_binary_path(path, platform)
    assert binary is not None
    return intel_module(platform, binary, machine.memory, model=TdxModule(platform), msrs=None,
                        bounds=MODULE_BOUNDS)


class Runner:
    """A machine for one image and entry under one Spec, reused for every run."""

    def __init__(self, image: Image, spec: Spec, entry: str, *, observe: str = "fast",
                 bounds: Bounds = FUZZ_BOUNDS, module_binary: str | None = None) -> None:
        if observe not in OBSERVE:
            raise InputError(f"observe {observe!r}: expected one of {', '.join(OBSERVE)}")
        try:
            self.entry_address = image.address_of(entry)
        except KeyError:
            known = ", ".join(sorted(n for n in image.globals)) or "none"
            raise InputError(f"--entry {entry}: no such symbol in the assembly "
                             f"(global symbols: {known})") from None
        self.image = image
        self.spec = spec
        self.entry = entry
        self.observe = observe
        real = RealAnswers() if module_binary else None
        self.module: ScriptedModule = real or ScriptedModule()
        self.machine = m = Machine(image, self.module, num_lps=1, bounds=bounds)
        # The guest's conventions: the scripted module answers a TD's TDCALL too, and the LP
        # starts as a TD's vCPU (their normal state).
        self.normal = normal_cpu(spec)
        if spec.instruction == "tdcall":
            if module_binary:
                raise InputError("--module-binary: Intel's module runs no TD here (TD entry is "
                                 "beyond the real-module backend), so the guest's conventions "
                                 "are fuzzed against planned answers only")
            m.attach_td(self.module)
        m.lps[0].cpu = cpu_state(self.normal)
        if real is not None and module_binary:
            real.real = _intel_module(module_binary, m)
        attach_mov_ss_sites(m)  # a SEAMCALL in a MOV SS shadow faults here as in a session
        mem = m.memory
        page = mem.alloc(PAGE, PAGE)
        mem.write(page, bytes(PAGE))
        self.struct_pa = page + STRUCT_OFFSET
        self.struct_size = 8 * len(spec.struct_fields)
        self.stack_top = m.stack_top(0)
        self._struct_host = mem.host_address(self.struct_pa)
        self._top_host = mem.host_address(self.stack_top - 1) + 1
        self._frame_pack = _struct.Struct(f"<{FRAME_WORDS}Q")
        self._pack = _struct.Struct(f"<{len(spec.struct_fields)}Q")
        lp = m.lps[0]
        # Every runner has the batch driver (machine/batch.py) in the same place, so a run of
        # its own finds the same memory whichever runner makes it.
        self.batch = GuestBatch(m, BatchLayout(self.entry_address, BATCH_LOAD, CALLEE_SAVED,
                                               spec.checks_rax, self.struct_pa,
                                               len(spec.struct_fields), spec.cleared),
                                capacity=BATCH)
        self.code_ranges = tuple((s.address, s.end) for s in image.sections if s.executable)
        allowed = [(m.stacks_base, self.stack_top)]
        if self.struct_size:
            allowed.append((self.struct_pa, self.struct_pa + self.struct_size))
        self.watch = WriteWatch(lp, allowed)
        self.guard = PageGuard(m)
        self.coverage = BlockCoverage(lp, self.code_ranges) if observe == "coverage" else None
        self.trace = StepRecorder(m, [0], max_steps=bounds.max_insns).attach() \
            if observe == "trace" else None
        self.destinations: dict[int, frozenset[str]] = {}  # locate.destinations' cache
        self.flows: dict[int, tuple[str, int]] = {}        # locate._flow's cache
        # Where each register's value sits in the case: raw takes every register from
        # case.inputs, the others take the caller's own registers from case.regs.
        names = spec.inputs if spec.convention == "raw" else spec.free_regs
        sysv = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
        self._arg_index = tuple(names.index(r) if r in names else -1 for r in sysv)
        via_args = set(sysv) if spec.convention in ("args", "raw", "tdcall", "hypercall") else set()
        self._dict_regs = tuple((n, i) for i, n in enumerate(names) if n not in via_args)
        self.snapshot = m.snapshot()
        if cpu_state(self.normal) != self.snapshot.cpus[0]:
            raise InputError("fuzz: the machine does not start in the normal CPU state")

    @property
    def addresses(self) -> tuple[int, ...]:
        """Machine addresses worth trying as register values: the struct, and the stack below
        the caller's frame (not the frame itself, nor code: a raw stub may store through
        any register, and a store there is the caller's own doing)."""
        return (self.struct_pa, self.stack_top - 0x100)

    def in_code(self, address: int) -> bool:
        return any(b <= address < e for b, e in self.code_ranges)

    def run(self, case: Case) -> Observation:
        """Run one case and roll the machine back; the Observation says what happened."""
        spec = self.spec
        m = self.machine
        mod = self.module
        if case.cpu != self.normal:  # restore() put the snapshot's (normal) state back
            m.lps[0].cpu = cpu_state(case.cpu)
        mod.arm(case.answer, case.cpu.module)
        conv = spec.convention
        values = case.inputs if conv == "raw" else case.regs
        # SysV argument registers go through `args` (the machine's cheap path); the rest as
        # `regs`, zeros left out since registers not given start at 0.
        regs = {n: v for n, i in self._dict_regs if (v := values[i])}
        if case.rflags:
            regs["rflags"] = case.rflags
        args: tuple[int, ...]
        if conv == "hypercall":   # __tdx_hypercall(args): RDI is the struct, no leaf
            a = self._arg_index
            args = (self.struct_pa,) + tuple(values[i] for i in a[1:])
            ctypes.memmove(self._struct_host, self._pack.pack(*case.inputs), self.struct_size)
        elif conv in ("args", "tdcall"):
            a = self._arg_index
            args = (case.leaf, self.struct_pa, values[a[2]], values[a[3]], values[a[4]],
                    values[a[5]])
            ctypes.memmove(self._struct_host, self._pack.pack(*case.inputs), self.struct_size)
        elif conv == "legacy":
            i = case.inputs
            args = (case.leaf, i[0], i[1], i[2], i[3], 0 if case.out_null else self.struct_pa)
            ctypes.memmove(self._struct_host, self._pack.pack(*case.out), self.struct_size)
        else:
            args = tuple(values[i] for i in self._arg_index)
            regs["rax"] = case.leaf
        align = case.align
        frame_host = self._top_host - align
        frame_before = bytes(align) + self._frame_pack.pack(*case.frame)
        ctypes.memmove(frame_host, frame_before, align + FRAME_BYTES)
        watch = self.watch
        watch.clear()
        if self.trace is not None:
            self.trace.reset()
        res = m.call(self.entry, args, regs=regs, stack_align=align)
        watch.check()
        if self.struct_size:
            after = self._pack.unpack(ctypes.string_at(self._struct_host, self.struct_size))
        else:
            after = ()
        frame = ctypes.string_at(frame_host, align + FRAME_BYTES)
        edges: frozenset = frozenset()
        steps: tuple = ()
        writes: tuple = ()
        if self.coverage is not None:
            edges = self.coverage.take()
        raw: tuple[RawStep, ...] = ()
        if self.trace is not None:
            # The stub's own instructions: a wild jump's landing place is not a location.
            in_code = self.in_code
            raw = tuple(s for s in self.trace.steps_for(res) if in_code(s.address))
            steps = tuple((s.address, s.before) for s in raw)
            writes = tuple((s.address, a, len(d)) for s in raw for a, d in s.writes)
        obs = Observation(res, after, frame, frame_before, mod.received, mod.calls,
                          tuple(watch.hits) if watch.hits else (), edges, steps, writes, raw)
        m.restore(self.snapshot)
        if watch.pages:  # stores outside the stack and struct: undo what restore does not
            self.guard.repair(watch.pages)
        return obs


__all__ = ["BATCH", "BATCH_LOAD", "FRAME_BYTES", "FUZZ_BOUNDS", "OBSERVE", "Observation", "Runner",
           "STRUCT_OFFSET"]
