# SPDX-License-Identifier: MIT
"""Fuzz cases in batches: many cases per emu_start, each vouched for by the guest driver or run alone.

A batch writes one record per case for the machine's guest driver (machine/batch.py): the
registers `Runner.run` would enter with, the struct it would write, and what the invariants
expect back from a correct stub (callee-saved registers, RSP, RAX, the struct).  The module
answers as usual: when a record's first SEAMCALL arrives, that case's CPU state and planned
answer are put in place (`_prepare`), and what the module received is kept per case.

A case counts as clean only when the driver found its registers and struct as expected, the
module received exactly what a correct stub passes (so the struct expectation, computed from
that, holds), and nothing stopped the batch.  Every other case, and every case of a batch the
stub cannot run in (`batchable`), goes through `Runner.run` like before, so what is reported
about it is exactly what a run of its own shows.  Cases of one batch share the caller's
stack frame (`Generator.batch`): the driver does not rewrite it, the write watch stops the
batch on any store to it.
"""

from __future__ import annotations

import ctypes
import re
import struct as _struct
from collections.abc import Sequence
from operator import itemgetter

from seamemu.arch.registers import ABI_ORDER
from seamemu.disasm import disassemble
from seamemu.errors import EngineError
from seamemu.fuzz.case import FRAME_WORDS, Answer, Case
from seamemu.fuzz.executor import BATCH, BATCH_LOAD, Runner
from seamemu.fuzz.invariants import expected_rax, expected_struct
from seamemu.fuzz.oracle import (
    SW_CODE_OF,
    ScriptedModule,
    cpu_state,
    instruction_outcome,
    module_called,
)
from seamemu.fuzz.promises import Spec
from seamemu.image import Image
from seamemu.machine.batch import GuestBatch
from seamemu.machine.regs import RFLAGS_FIXED
from seamemu.traps.seamcall import execute_seamcall
from seamemu.traps.target import AbiRegs

LOAD = BATCH_LOAD
SYSV = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")

# Instructions a stub may hold for its cases to be batched: they change no CPU state besides
# the GPRs and RFLAGS the driver reloads, and memory the driver resets or the write watch
# guards.  Anything else (system, segment, control or debug registers, MSRs, x87/SIMD state,
# an instruction the sweep cannot decode) and the stub's cases run one by one.
PLAIN = frozenset((
    "adc", "add", "and", "bsf", "bsr", "bswap", "bt", "btc", "btr", "bts", "call", "cbw", "cdq",
    "cdqe", "clc", "cld", "cmc", "cmova", "cmovae", "cmovb", "cmovbe", "cmove", "cmovg",
    "cmovge", "cmovl", "cmovle", "cmovne", "cmovno", "cmovnp", "cmovns", "cmovo", "cmovp",
    "cmovs", "cmp", "cmpsb", "cmpsd", "cmpsq", "cmpsw", "cmpxchg", "cqo", "cwd", "cwde", "dec",
    "div", "endbr64", "idiv", "imul", "inc", "int3", "ja", "jae", "jb", "jbe", "je", "jg",
    "jge", "jl", "jle", "jmp", "jne", "jno", "jnp", "jns", "jo", "jp", "js", "lea", "leave",
    "lfence", "lodsb", "lodsd", "lodsq", "lodsw", "lzcnt", "mfence", "mov", "movabs", "movsb",
    "movsd", "movsq", "movsw", "movsx", "movsxd", "movzx", "mul", "neg", "nop", "not", "or",
    "pause", "pop", "popcnt", "popfq", "push", "pushfq", "rcl", "rcr", "ret", "rol", "ror",
    "sar", "sbb", "scasb", "scasd", "scasq", "scasw", "seamcall", "seta", "setae", "setb",
    "setbe", "sete", "setg", "setge", "setl", "setle", "setne", "setno", "setnp", "setns",
    "seto", "setp", "sets", "sfence", "shl", "shld", "shr", "shrd", "stc", "std", "stosb",
    "stosd", "stosq", "stosw", "sub", "tdcall", "test", "tzcnt", "xadd", "xchg", "xor",
))
# Operands that name state the driver does not reload: segment, control, debug, x87, MMX,
# SSE/AVX and mask registers (`movsd`/`cmpsd` are string instructions only without them).
_SYSTEM_OPERAND = re.compile(r"\b(?:[cdefgs]s|cr\d+|dr\d+|st\(?\d?\)?|mm\d+|[xyz]mm\d+|k\d)\b")


def batchable_spec(spec: Spec) -> bool:
    """Whether the driver checks everything the rules of `spec` promise: a SEAMCALL stub
    whose status comes back in RAX, with no register or struct field the wrapper fixes and
    no panic to expect (the TD guest's TDCALL and hypercall rules run case by case)."""
    return (spec.instruction == "seamcall" and spec.checks_rax and spec.status_reg == "rax"
            and not spec.fixed_inputs and not spec.fixed_struct and not spec.panics_on_failure)


def batchable(image: Image) -> bool:
    """Whether every instruction of the image's code sections (a linear sweep) is PLAIN."""
    for s in image.sections:
        if not s.executable:
            continue
        for insn in disassemble(s.data, s.address, att=False):
            name = insn.mnemonic
            for prefix in ("rep ", "repe ", "repne ", "lock ", "notrack ", "bnd "):
                if name.startswith(prefix):
                    name = name[len(prefix):]
            if name not in PLAIN:
                return False
            if any(_SYSTEM_OPERAND.fullmatch(op.strip()) for op in insn.op_str.split(",")):
                return False
    return True


class Batcher:
    """Runs lists of cases on `runner`'s machine through its GuestBatch."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        spec = runner.spec
        self.spec = spec
        self.guest: GuestBatch = runner.batch
        self.layout = self.guest.layout
        self.at = self.layout.offsets()
        conv = spec.convention
        names = spec.inputs if conv == "raw" else spec.free_regs
        n = len(names)
        # Each loaded register's place in `values + (0, leaf, struct_pa, out pointer)` plus
        # legacy's four argument inputs: as Runner.run passes them to Machine.call.
        zero, leaf, spa, out, inp = n, n + 1, n + 2, n + 3, n + 4
        src = dict.fromkeys(LOAD, zero)
        for name, i in runner._dict_regs:
            src[name] = i
        a = [i if i >= 0 else n - 1 for i in runner._arg_index]
        if conv == "args":
            src.update(rdi=leaf, rsi=spa, rdx=a[2], rcx=a[3], r8=a[4], r9=a[5])
        elif conv == "legacy":
            src.update(rdi=leaf, rsi=inp, rdx=inp + 1, rcx=inp + 2, r8=inp + 3, r9=out)
        else:
            src.update(zip(SYSV, a))
            src["rax"] = leaf
        self._load = itemgetter(*(src[r] for r in LOAD))
        # What a correct stub hands the module: RAX = the leaf, the convention's inputs, and
        # for struct fields written back from registers that are no input (legacy R10/R11)
        # the caller's own values; a case whose module saw anything else runs alone.
        got = ("rax",) + spec.module_inputs + tuple(f for f in spec.writeback
                                                    if f not in spec.module_inputs)
        self._received_names = got
        # The registers a SEAMCALL's plan sees and sets (machine.batch.GuestBatch): those the
        # module receives, then any other it may write.
        planned = got + tuple(r for r in spec.module_writes if r not in got)
        self.guest.plan_registers(planned)
        self._slot = {r: i for i, r in enumerate(planned)}
        self._words = _struct.Struct(f"<{len(planned)}Q")
        self._checked = len(got)
        # Their places in (leaf, *inputs, *regs).
        nin = len(spec.inputs)
        self._predicted_of = itemgetter(0, *(
            1 + spec.inputs.index(r) if r in spec.module_inputs
            else 1 + nin + spec.free_regs.index(r) for r in got[1:]))
        # The args struct is the inputs and every field written back is a module input: the
        # expected struct needs no register but the answer's (see `records`).
        self._same_struct = (spec.struct_fields == spec.inputs and not spec.out_pointer
                             and not spec.vmfail_writeback
                             and set(spec.writeback) <= set(spec.module_inputs))
        self._position = {f: spec.struct_fields.index(f) for f in spec.writeback}
        self._raw = conv == "raw"
        self._legacy = conv == "legacy"
        self._struct = bool(spec.struct_fields)
        self.top = runner.stack_top
        self.frame_host = runner._top_host
        self.instr: list[str] = []        # per case of the last batch: what SEAMCALL does
        self.rax_after: list[int] = []    # ... and the RAX a correct stub returns
        self._seen: list[bool] = []
        self._predicted: list[tuple[int, ...]] = []
        self._kinds: list[list] = []       # per case of the last batch: its entry of _outcomes
        self._index = -1
        # (Cpu, RAX bit 63, answer kind) -> [what SEAMCALL does, whether it reaches the module,
        # the plan of its effect (`_plan`, made at the first such SEAMCALL)]: one list per
        # kind of case, shared by its cases, so the hook hashes no key.
        self._outcomes: dict[tuple, list] = {}

    def predicted(self, case: Case) -> tuple[int, ...]:
        """The registers the module receives at the first SEAMCALL from a correct stub."""
        return self._predicted_of((case.leaf, *case.inputs, *case.regs))

    def record(self, case: Case) -> list[int]:
        """The driver's record for `case` (machine.batch.BatchLayout.offsets); also keeps
        what the batch checks besides: what SEAMCALL does, the RAX and the module's inputs."""
        spec = self.spec
        spa = self.runner.struct_pa
        if self._legacy:
            words = list(self._load((*case.regs, 0, case.leaf, spa,
                                     0 if case.out_null else spa, *case.inputs[:4])))
        else:
            words = list(self._load((*(case.inputs if self._raw else case.regs), 0, case.leaf,
                                     spa, spa)))
        rsp = self.top - case.align - 8
        instr = instruction_outcome(case, spec.instruction)
        rax = expected_rax(spec, case, instr) if spec.checks_rax else 0
        self.instr.append(instr)
        self.rax_after.append(rax)
        predicted = self._predicted_of((case.leaf, *case.inputs, *case.regs))
        self._predicted.append(predicted)
        words += (rsp, case.rflags | RFLAGS_FIXED, rsp + 8, rax, *_PAD_MASKS[case.align],
                  _ALL if spec.cleared and instr == "module" else 0)
        if self._struct:
            initial = case.out if spec.out_pointer else case.inputs
            words += initial
            words += expected_struct(spec, case, dict(zip(self._received_names, predicted)),
                                     instr)
        return words

    def records(self, cases: Sequence[Case]) -> list[int]:
        """`record` for every case, one after the other in one flat list, in one loop (the hot
        path: names bound once, what SEAMCALL does looked up per CPU state, leaf mode and
        answer kind)."""
        spec = self.spec
        spa, top, fixed = self.runner.struct_pa, self.top, RFLAGS_FIXED
        load, predicted_of, names = self._load, self._predicted_of, self._received_names
        outcomes = self._outcomes
        legacy, raw, struct, out_pointer = self._legacy, self._raw, self._struct, spec.out_pointer
        checks_rax, insn, cleared = spec.checks_rax, spec.instruction, bool(spec.cleared)
        instrs, raxes, predicted, kinds = self.instr, self.rax_after, self._predicted, self._kinds
        same_struct, writeback, position = self._same_struct, bool(spec.writeback), self._position
        pad_masks = _PAD_MASKS
        out: list[int] = []
        words = out
        for case in cases:
            leaf, inputs, regs = case.leaf, case.inputs, case.regs
            answer = case.answer
            key = (case.cpu, leaf >> 63, answer.kind)
            found = outcomes.get(key)
            if found is None:
                found = outcomes[key] = [instruction_outcome(case, insn),
                                         module_called(case, insn), None]
            kinds.append(found)
            instr = found[0]
            if legacy:
                words += load((*regs, 0, leaf, spa, 0 if case.out_null else spa, *inputs[:4]))
            else:
                words += load((*(inputs if raw else regs), 0, leaf, spa, spa))
            rax = (answer.status if instr == "module" else SW_CODE_OF[instr]) if checks_rax else 0
            instrs.append(instr)
            raxes.append(rax)
            got = predicted_of((leaf, *inputs, *regs))
            predicted.append(got)
            align = case.align
            rsp = top - align - 8
            words += (rsp, case.rflags | fixed, rsp + 8, rax, *pad_masks[align],
                      _ALL if cleared and instr == "module" else 0)
            if struct:
                initial = case.out if out_pointer else inputs
                words += initial
                if same_struct:
                    # args: the struct is the inputs, whose writeback registers the module
                    # received as they were (checked at the SEAMCALL): expected_struct is the
                    # inputs with the module's outputs in place (`record` computes it in full).
                    if instr == "module" and writeback:
                        after = list(initial)
                        for reg, value in answer.outputs:
                            at = position.get(reg)
                            if at is not None:
                                after[at] = value
                        words += after
                    else:
                        words += initial
                else:
                    words += expected_struct(spec, case, dict(zip(names, got)), instr)
        return out

    # -- running -----------------------------------------------------------------------------
    def run(self, cases: Sequence[Case]) -> list[bool]:
        """Run `cases` (sharing one frame) in batches; True for each case the driver vouched
        for (no rule broken), False for those the caller must run alone."""
        if not cases:
            return []
        frame = cases[0].frame
        if any(c.frame != frame for c in cases) or len(frame) != FRAME_WORDS:
            raise ValueError("a batch's cases share one caller frame")
        g = self.guest
        k = len(cases)
        frame_bytes = _struct.pack(f"<{FRAME_WORDS}Q", *frame)
        if k > g.capacity:
            raise ValueError(f"{k} cases in a batch of capacity {g.capacity}")
        runner = self.runner
        self.instr, self.rax_after, self._predicted, self._kinds = [], [], [], []
        records = self.records(cases)
        g.write_flat(records)
        self._cases = cases
        self._seen = [False] * k
        self._index = -1
        ok = [False] * k
        g.prepare = self._prepare
        first = 0
        watch = runner.watch
        m = runner.machine
        try:
            while first < k:
                self._write_frame(frame)
                watch.clear()
                g.enter()
                stop = g.run(first, k)
                watch.check()
                # A store that starts on the stack and reaches into the caller's frame escapes
                # the write watch (it sees where a store starts): the frame itself is compared,
                # as a run of its own compares it; changed, no case of this run is vouched for.
                if ctypes.string_at(self.frame_host, 8 * FRAME_WORDS) == frame_bytes:
                    for i in range(first, stop.reached):
                        ok[i] = True
                if stop.reason == "done":
                    break
                if stop.reason == "bound" and stop.reached > first:
                    first = stop.reached     # the count ran out: again, with a fresh count
                    continue
                # What the unfinished case left behind goes: the snapshot, the pages a stray
                # store reached (and the records, which such a store may have hit).
                g.leave()
                m.restore(runner.snapshot)
                if watch.pages:
                    runner.guard.repair(watch.pages)
                    g.write_flat(records)
                first = stop.reached + 1     # left to a run of its own
        finally:
            g.leave()
            g.prepare = None
            self._cases = ()
            m.restore(runner.snapshot)
        kinds, seen = self._kinds, self._seen
        for i in range(k):
            # A case whose SEAMCALL should have reached the module but never ran is left to a
            # run of its own too (where the module-inputs rule says so).
            if ok[i] and not seen[i] and kinds[i][1]:
                ok[i] = False
        return ok

    def _write_frame(self, frame: tuple[int, ...]) -> None:
        ctypes.memmove(self.frame_host, _struct.pack(f"<{FRAME_WORDS}Q", *frame), 8 * FRAME_WORDS)

    def _prepare(self, index: int, received: bytes) -> tuple | None:
        """Record `index`'s first SEAMCALL, with the planned registers it has there (bytes):
        the plan of its effect (machine.batch.GuestBatch.trap), or None when the module would
        receive other registers than a correct stub passes (the case then runs alone)."""
        kind = self._kinds[index]
        words = self._words.unpack(received)
        if kind[1] and words[:self._checked] != self._predicted[index]:
            return None   # the module gets called, with other registers than it should
        self._seen[index] = True
        plan = kind[2]
        if plan is None:
            plan = kind[2] = self._plan(self._cases[index])
        writes = plan[1]
        if writes is None:    # the module's answer: its status and output registers
            answer = self._cases[index].answer
            after = list(words)
            after[0] = answer.status
            slot = self._slot
            for reg, value in answer.outputs:
                after[slot[reg]] = value
        elif writes:
            after = list(words)
            for at, value in writes:
                after[at] = value
        else:
            return (plan[0], received, *plan[2:])
        return (plan[0], self._words.pack(*after), *plan[2:])

    def _plan(self, case: Case) -> tuple:
        """What SEAMCALL does for cases like `case` (CPU state, RAX bit 63, answer kind), as
        the trap computes it (traps.seamcall.execute_seamcall on a module answering in the
        same way), with RFLAGS as (value & keep) | add; registers None: the case's answer."""
        probe = ScriptedModule()
        probe.arm(Answer(case.answer.kind), case.cpu.module)
        regs = AbiRegs(zip(ABI_ORDER, [case.leaf] + [0] * (len(ABI_ORDER) - 1)))
        cpu = cpu_state(case.cpu)
        mem = self.runner.machine.memory
        effects = [execute_seamcall(cpu, regs, r, probe, mem, 0)
                   for r in (0, _FLAGS_ALL, _FLAGS_PROBE)]
        e = effects[0]
        if e.cpu is not None or e.decision.kind in ("vmexit", "halt") or \
                any(x[:4] != (e.decision, e.regs, x.rflags, e.rip_advance) or x.fault != e.fault
                    for x in effects):
            raise EngineError(f"batch: SEAMCALL's effect for {case.cpu} is not a fixed one")
        if e.rflags is None:
            keep = add = None
        else:
            add = e.rflags
            ones, probed = effects[1].rflags, effects[2].rflags
            assert ones is not None and probed is not None  # the same kind of effect
            keep = ones & ~add
            if (_FLAGS_PROBE & keep) | add != probed:
                raise EngineError("batch: SEAMCALL's RFLAGS are not a mask and bits to set")
        if e.regs == probe.reply.regs and probe.reply.fault is None:
            answer = None     # the registers are the case's answer (see _prepare)
        elif set(e.regs) <= set(self._slot):
            answer = tuple((self._slot[r], v) for r, v in e.regs.items())
        else:
            raise EngineError(f"batch: SEAMCALL writes {', '.join(e.regs)}, not all planned")
        return (e.decision, answer, keep, add, e.rip_advance, e.fault)


def _pad_masks(align: int) -> tuple[int, int]:
    """Masks of the stack's last 16 bytes (two words) over the `align` bytes below the top:
    the bytes a misaligned call leaves between its return address and the caller's frame."""
    mask = ((1 << (8 * align)) - 1) << (8 * (16 - align))
    return mask & (2**64 - 1), mask >> 64


_PAD_MASKS = tuple(_pad_masks(a) for a in range(16))
_ALL = _FLAGS_ALL = (1 << 64) - 1
_FLAGS_PROBE = 0x0000_0000_0025_4A97   # a mix of set and clear bits, arithmetic ones included


__all__ = ["BATCH", "Batcher", "PLAIN", "batchable", "batchable_spec"]
