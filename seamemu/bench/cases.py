# SPDX-License-Identifier: MIT
"""What `seamemu bench` times: each case a step of the real path, and its bare-Unicorn reference.

Every step does a fixed batch of operations and returns how many, so the measurer's clock is
read rarely.  The cases:

- bare_hook: `seamcall; ret` under Unicorn with an empty hook (machine/reference.py).
- stub_seamcall: __seamcall_ret through the machine's SEAMCALL trap, behind a module that
  answers TDX_SUCCESS at no cost: what the emulator itself adds per round trip.
- stub_with_model: the same with the TDX module model serving TDH.SYS.RD.
- session_call: the same through Session.call (inputs marshalled, result read back).
- host_sys_rd: TDH.SYS.RD through the kernel's wrapper (kernel.wrappers), cycling through
  the global metadata fields the kernel reads.
- intel_module_sys_rd (with --module-binary): host_sys_rd answered by Intel's module on the
  SEAM CPU instead of the model.
- fuzz: `seamemu fuzz` runs (random mode, one worker, batched: fuzz/batch.py) on
  __seamcall_ret, and its reference bare_same_stub: a bare emu_start round trip through the
  same stub.
- fuzz_jobs1, fuzz_jobs2: whole `seamemu fuzz` campaigns with one and with two workers (wall
  clock: runs in the same time).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Mapping

from seamemu.arch.leaves import TDH_SYS_INIT, TDH_SYS_LP_INIT, TDH_SYS_RD
from seamemu.arch.structs import TDX_MODULE_ARGS_OFFSETS, TDX_MODULE_ARGS_SIZE
from seamemu.bench.measure import Step
from seamemu.frontend import assemble
from seamemu.fuzz.campaign import run_fuzz
from seamemu.fuzz.executor import BATCH as FUZZ_BATCH
from seamemu.fuzz.reproducer import Target
from seamemu.fuzz.worker import FuzzConfig, Worker
from seamemu.kernel import KernelLog, KernelSeamcall, bring_up, generation, stub_files
from seamemu.kernel.metadata_read import MAINLINE_GROUPS
from seamemu.machine import Machine
from seamemu.machine.reference import BareCall, bare_seamcall_ret
from seamemu.session.session import Session
from seamemu.stubs import ARGS_STUB, DEFAULT_ENTRY, stub
from seamemu.traps.target import SeamReply

# MAJOR_VERSION, a 16-bit global metadata field the kernel reads first.
# Spec: intel/tdx-module tdx_1.5 include/auto_gen/global_sys_fields_lookup.c.
MAJOR_VERSION_FIELD = 0x0800000100000004
BATCH = 50           # operations per step
_LOG_LIMIT = 10_000  # call logs are cut back past this, so a long run stays flat


def ready_session() -> tuple[Session, int]:
    """A session whose LP 0 has done TDH.SYS.INIT and TDH.SYS.LP.INIT, and an args struct
    asking TDH.SYS.RD for MAJOR_VERSION."""
    s = Session(num_lps=1)
    s.call(DEFAULT_ENTRY, leaf=TDH_SYS_INIT)
    s.call(DEFAULT_ENTRY, leaf=TDH_SYS_LP_INIT)
    mem = s.machine.memory
    mem.reset_scratch()
    pa = mem.alloc(TDX_MODULE_ARGS_SIZE, 64)
    mem.write(pa, bytes(TDX_MODULE_ARGS_SIZE))
    mem.write(pa + TDX_MODULE_ARGS_OFFSETS["rdx"], MAJOR_VERSION_FIELD.to_bytes(8, "little"))
    return s, pa


class AnswerSuccess:
    """The cheapest module there can be: TDX_SUCCESS for every leaf, nothing recorded."""

    _reply = SeamReply(regs={"rax": 0})

    def module_loaded(self) -> bool:
        return True

    def pseamldr_present(self) -> bool:
        return False

    def pseamldr_busy(self, lp: int) -> bool:
        return False

    def seamcall(self, lp, regs, mem) -> SeamReply:
        return self._reply


def _batch(once: Callable[[], object], trim: Callable[[], None] | None = None) -> Step:
    def step() -> int:
        for _ in range(BATCH):
            once()
        if trim is not None:
            trim()
        return BATCH
    return step


def hot_path_steps() -> dict[str, Step]:
    """The SEAMCALL round-trip cases and their bare reference, each checked once first."""
    s, pa = ready_session()
    records = s.module.records

    def trim() -> None:
        if len(records) > _LOG_LIMIT:
            del records[:]

    probe = s.call(DEFAULT_ENTRY, leaf=TDH_SYS_RD, inputs={"rdx": MAJOR_VERSION_FIELD})
    if probe.outcome != "returned" or probe.rax != 0:
        raise RuntimeError("bench: TDH.SYS.RD through the stub did not succeed: "
                           f"{probe.outcome} 0x{probe.rax:016x}")
    trap_only = Machine(s.image, AnswerSuccess())
    trap_pa = trap_only.memory.alloc(TDX_MODULE_ARGS_SIZE, 64)
    if trap_only.call(DEFAULT_ENTRY, (TDH_SYS_RD, trap_pa)).outcome != "returned":
        raise RuntimeError("bench: the stub did not return through the trap-only machine")
    machine_call, trap_call, session_call = s.machine.call, trap_only.call, s.call
    return {
        "bare_hook": _batch(bare_seamcall_ret()),
        "stub_seamcall": _batch(lambda: trap_call(DEFAULT_ENTRY, (TDH_SYS_RD, trap_pa))),
        "stub_with_model": _batch(lambda: machine_call(DEFAULT_ENTRY, (TDH_SYS_RD, pa)), trim),
        "session_call": _batch(lambda: session_call(DEFAULT_ENTRY, leaf=TDH_SYS_RD,
                                                    inputs={"rdx": MAJOR_VERSION_FIELD}), trim),
    }


def host_sys_rd_step(module_binary: str | None = None) -> Step:
    """TDH.SYS.RD through the kernel's wrapper (mainline's sc_retry_prerr), the fields the
    mainline bring-up reads in turn (those this module has), answered by the model, or by
    Intel's module when `module_binary` names one."""
    session = Session(num_lps=1, module_binary=module_binary)
    host = KernelSeamcall(session, KernelLog(), generation(None))
    for leaf in (TDH_SYS_INIT, TDH_SYS_LP_INIT):
        if host.prerr(leaf)[0]:
            raise RuntimeError(f"bench: leaf {leaf} failed on a fresh module")
    # A release without one of them (1.5.01: MAX_VCPUS_PER_TD) is read without it.
    fields = tuple(r.field_id for _group, reads in MAINLINE_GROUPS for r in reads
                   if not host.prerr(TDH_SYS_RD, {"rdx": r.field_id}, ret=True)[0])
    records, calls = session.module.records, host.calls
    position = [0]

    def read_one() -> None:
        field = fields[position[0]]
        position[0] = (position[0] + 1) % len(fields)
        if host.prerr(TDH_SYS_RD, {"rdx": field}, ret=True)[0]:
            raise RuntimeError(f"bench: TDH.SYS.RD of 0x{field:016x} failed")

    def trim() -> None:
        if len(records) > _LOG_LIMIT:
            del records[:]
            del calls[:]
    return _batch(read_one, trim)


def fuzz_steps(out: str) -> dict[str, Step]:
    """Fuzz runs on the shipped __seamcall_ret (findings under `out`) and the bare round trip
    through the same stub, both warmed up."""
    path = stub(ARGS_STUB)
    image = assemble([path])
    worker = Worker(FuzzConfig(Target.of([path], DEFAULT_ENTRY), "args", seed=1, out=out), 0,
                    image)
    bare = BareCall(image, DEFAULT_ENTRY, (0, "scratch"))
    worker.step(2 * FUZZ_BATCH)  # translation, lazily built analysis machines

    def fuzz_runs() -> int:
        worker.step(FUZZ_BATCH)   # one batch of cases (fuzz/batch.py)
        return FUZZ_BATCH
    return {"fuzz": fuzz_runs, "bare_same_stub": _batch(bare.once)}


JOBS_ROUNDS = 3   # campaigns of each kind, interleaved


def jobs_steps(out: str, seconds: float) -> dict[str, Step]:
    """`seamemu fuzz` campaigns of `seconds` on __seamcall_ret, with one worker and with two
    (random mode; each worker its own process past the first): one campaign a step, start-up
    and the merged summary included.  Measured with the wall clock: the runs a user gets in
    the same time, whatever the cores do."""
    target = Target.of([stub(ARGS_STUB)], DEFAULT_ENTRY)
    counter = [0]

    def campaign(name: str, jobs: int) -> Step:
        def step() -> int:
            counter[0] += 1
            config = FuzzConfig(target, "args", seed=counter[0], seconds=seconds, jobs=jobs,
                                out=f"{out}/jobs-{counter[0]}")
            wall, cpu = time.perf_counter(), _cpu_seconds()
            runs = int(run_fuzz(config)["runs"])
            spent = usage.setdefault(name, [0.0, 0.0])
            spent[0] += _cpu_seconds() - cpu
            spent[1] += time.perf_counter() - wall
            return runs
        return step
    usage: dict[str, list[float]] = {}
    steps = {"fuzz_jobs1": campaign("fuzz_jobs1", 1), "fuzz_jobs2": campaign("fuzz_jobs2", 2)}
    steps_usage[id(steps)] = usage
    return steps


# jobs_steps' CPU and wall seconds by case, for `cores_used` (keyed by the steps' id).
steps_usage: dict[int, dict[str, list[float]]] = {}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the --jobs workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def cores_used(steps: Mapping[str, Step]) -> dict[str, float]:
    """Per jobs case: the CPU seconds its campaigns used per wall second (2 means both
    workers ran all the time; less, that the machine had other work)."""
    usage = steps_usage.pop(id(steps), {})
    return {name: cpu / wall for name, (cpu, wall) in usage.items() if wall > 0}


def bringup_seconds() -> float:
    """Wall time of the default kernel's bring-up on a fresh session of the default platform."""
    session = Session(stub_files(None))
    start = time.perf_counter()
    result = bring_up(session)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError(f"bench: the bring-up did not reach SYS_READY ({result.state}, "
                           f"errno {result.errno})")
    return elapsed


def session_setup_seconds() -> float:
    start = time.perf_counter()
    Session(num_lps=1)
    return time.perf_counter() - start


def all_steps(out: str, module_binary: str | None = None) -> dict[str, Step]:
    steps = {**hot_path_steps(), "host_sys_rd": host_sys_rd_step(), **fuzz_steps(out)}
    if module_binary:
        steps["intel_module_sys_rd"] = host_sys_rd_step(module_binary)
    return steps


__all__ = [
    "AnswerSuccess",
    "BATCH",
    "JOBS_ROUNDS",
    "MAJOR_VERSION_FIELD",
    "all_steps",
    "bringup_seconds",
    "cores_used",
    "fuzz_steps",
    "host_sys_rd_step",
    "hot_path_steps",
    "jobs_steps",
    "ready_session",
    "session_setup_seconds",
]
