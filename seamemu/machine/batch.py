# SPDX-License-Identifier: MIT
"""Many calls in one emu_start: a guest driver loop that runs records of inputs through an entry.

`emu_start` has a fixed cost (some 8 us, more than a whole SEAMCALL stub), so a caller that
makes thousands of similar calls (the fuzzer) hands them over in batches.  Each record holds
one call: the GPRs, RSP and RFLAGS to enter with, the words of an argument struct, and what a
correct callee leaves behind (RSP, RAX, the struct).  The driver, guest code written once per
layout, does for each record what `Machine.call` would do and then checks the outcome:

    zero the stack below the caller's frame (`SHALLOW` bytes, as a fresh call finds it)
    write the struct, push the return address (the machine's sentinel), load RFLAGS and GPRs
    jump to the entry
    (back at the sentinel, which jumps back into the driver)
    compare the callee-saved registers, RAX, RSP, RFLAGS.DF, the struct and the bytes between
    the return address and the caller's frame with the record
    on any difference stop; else the next record

The driver keeps its place in DR0 (no memory the callee could touch), so the hooks can tell
which record runs; it writes only the stack below the caller's frame, the struct, DR0 and
XMM0 (zeroing with it; its callers admit no stub that reads debug or SSE registers).
Everything the Python side handles stays on the Python side: the SEAMCALL trap answers as
usual (`prepare(index)` is called when a trapped instruction of a new record arrives, so the
caller can put that record's CPU state and module answer in place).  Anything else stops the
batch with that record unfinished: another trapped instruction, a fault that reaches the run
loop, a store to the deep stack (below the zeroed part: `deep_watch`), the instruction bound.
The caller then runs that record by itself (`Machine.call`), which is exact by construction,
and resumes the batch after it.
"""

from __future__ import annotations

import ctypes
import struct as _struct
from collections.abc import Callable, Sequence
from typing import NamedTuple

from unicorn import UC_HOOK_MEM_WRITE
from unicorn import x86_const as X

from seamemu.errors import InputError
from seamemu.machine.machine import Machine
from seamemu.machine.memory import PAGE
from seamemu.machine.regs import UC_IDS, RegBlock, RegWord
from seamemu.traps.rule_table import Effect

# Stack bytes below the caller's frame zeroed before every record: the kernel's stubs use
# well under 256 (their pushes and an exception frame); a store below stops the batch.
SHALLOW = 256
RFLAGS_DF = 1 << 10
# x86 register numbers (ModRM encoding).  Spec: Intel SDM Vol. 2A §2.1.5 (Table 2-2), §2.2.1.
GPR_NUMBER = {"rax": 0, "rcx": 1, "rdx": 2, "rbx": 3, "rsp": 4, "rbp": 5, "rsi": 6, "rdi": 7,
              "r8": 8, "r9": 9, "r10": 10, "r11": 11, "r12": 12, "r13": 13, "r14": 14, "r15": 15}
_CODE_END = 0xE00        # driver code ends below here; its two data words follow
_END_SLOT, _ENTRY_SLOT = 0xF00, 0xF08


class BatchLayout(NamedTuple):
    """What a record holds, and what the driver checks after each call."""

    entry: int                     # address called
    load: tuple[str, ...]          # record words 0..: these GPRs (every one but RSP; RAX last)
    check: tuple[str, ...]         # registers that must come back as loaded (callee-saved)
    check_rax: bool                # RAX must come back as the record's `rax_after`
    struct_pa: int = 0             # the argument struct (0 words: none)
    struct_words: int = 0
    clear: tuple[str, ...] = ()    # registers that must come back zero under the record's mask

    @property
    def words(self) -> int:
        """Words per record: the loads, RSP, RFLAGS, RSP after, RAX after, two masks of the
        stack's last 16 bytes that must come back zero, the mask over the `clear` registers,
        the struct's initial words, then its expected words."""
        return len(self.load) + 7 + 2 * self.struct_words

    def offsets(self) -> dict[str, int]:
        """Word index of each part of a record."""
        n = len(self.load)
        return {"rsp": n, "rflags": n + 1, "rsp_after": n + 2, "rax_after": n + 3,
                "zero_lo": n + 4, "zero_hi": n + 5, "clear_mask": n + 6,
                "struct": n + 7, "struct_after": n + 7 + self.struct_words}


class BatchStop(NamedTuple):
    """Where a batch ended: records [first, reached) passed the driver's checks; `reason` says
    what happened at `reached`: "done" (reached == end), "mismatch" (the record came back other
    than expected), "bound" (the instruction count of the emu_start ran out, or the record
    halted: nothing is pending, and a record the driver starts again is reset), or "stopped"
    (it did not come back: something the driver leaves to a
    single call, or the instruction bound)."""

    reached: int
    reason: str


class _Code:
    """Just the instructions the driver needs, encoded by hand (machine/ imports no assembler);
    `tests/machine/test_machine_batch.py` decodes them back."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.out = bytearray()
        self.labels: dict[str, int] = {}
        self.fixups: list[tuple[int, str]] = []   # (offset of a rel32, label)

    @property
    def here(self) -> int:
        return self.base + len(self.out)

    def emit(self, *parts: bytes) -> None:
        for p in parts:
            self.out += p

    def label(self, name: str) -> None:
        self.labels[name] = self.here

    def rel32_to(self, name: str) -> None:
        self.fixups.append((len(self.out), name))
        self.out += bytes(4)

    def rip(self, opcode: bytes, target: int) -> None:
        """`opcode` (through its ModRM byte) with the RIP-relative operand `target`."""
        self.out += opcode
        rel = target - (self.here + 4)
        if not -(1 << 31) <= rel < 1 << 31:
            raise InputError(f"batch driver: 0x{target:x} is out of RIP-relative reach")
        self.out += rel.to_bytes(4, "little", signed=True)

    # -- instructions ------------------------------------------------------------------------
    def mov_dr0_rax(self) -> None:            # mov %dr0, %rax
        self.emit(b"\x0f\x21\xc0")

    def mov_rax_dr0(self) -> None:            # mov %rax, %dr0
        self.emit(b"\x0f\x23\xc0")

    def _rax_disp(self, opcode: bytes, reg: str, word: int) -> None:
        """`op` with ModRM reg = `reg` and the memory operand word*8(%rax), disp32."""
        n = GPR_NUMBER[reg]
        self.emit(bytes((0x48 | (n >> 3) << 2,)), opcode, bytes((0x80 | (n & 7) << 3,)),
                  (8 * word).to_bytes(4, "little"))

    def load(self, reg: str, word: int) -> None:     # mov word*8(%rax), %reg
        self._rax_disp(b"\x8b", reg, word)

    def cmp(self, reg: str, word: int) -> None:      # cmp word*8(%rax), %reg
        self._rax_disp(b"\x3b", reg, word)

    def jump(self, cond: bytes, name: str) -> None:  # jcc/jmp rel32
        self.emit(cond)
        self.rel32_to(name)

    def finish(self) -> bytes:
        for off, name in self.fixups:
            rel = self.labels[name] - (self.base + off + 4)
            self.out[off:off + 4] = rel.to_bytes(4, "little", signed=True)
        return bytes(self.out)


_JAE, _JNE, _JMP = b"\x0f\x83", b"\x0f\x85", b"\xe9"


def _unpack_words(data: bytes) -> tuple[int, ...]:
    return _struct.unpack(f"<{len(data) // 8}Q", data)


def driver_code(layout: BatchLayout, base: int, stack_top: int, sentinel: int) -> tuple[bytes, int, int]:
    """The driver for `layout` at `base`: (code, address of `after`, address of `done`)."""
    at = layout.offsets()
    c = _Code(base)
    c.label("loop")
    c.mov_dr0_rax()
    c.rip(b"\x48\x3b\x05", base + _END_SLOT)            # cmp END(%rip), %rax
    c.jump(_JAE, "done")
    # Zeroed 16 bytes a store through XMM0: batched stubs have no SSE instruction that could
    # see it (fuzz/batch.py admits none), and the snapshot restore puts it back.
    c.emit(b"\x66\x0f\xef\xc0")                                  # pxor %xmm0, %xmm0
    for a in range(stack_top - SHALLOW, stack_top, 16):
        c.rip(b"\x66\x0f\x7f\x05", a)                              # movdqa %xmm0, a(%rip)
    for k in range(layout.struct_words):
        c.load("rcx", at["struct"] + k)
        c.rip(b"\x48\x89\x0d", layout.struct_pa + 8 * k)
    c.load("rcx", at["rsp"])
    c.emit(b"\x48\xc7\x01", sentinel.to_bytes(4, "little"))      # movq $sentinel, (%rcx)
    c.load("rsp", at["rsp"])
    c.emit(b"\xff\xb0", (8 * at["rflags"]).to_bytes(4, "little"))  # pushq rflags(%rax)
    c.emit(b"\x9d")                                                # popfq
    c.emit(b"\x48\xc7\x44\x24\xf8", bytes(4))                      # movq $0, -8(%rsp)
    for i, reg in enumerate(layout.load):
        if reg != "rax":
            c.load(reg, i)
    c.load("rax", layout.load.index("rax"))
    c.rip(b"\xff\x25", base + _ENTRY_SLOT)               # jmp *ENTRY(%rip)
    after = c.here
    c.emit(b"\x9c", b"\x50")                                       # pushfq; push %rax
    c.mov_dr0_rax()
    for reg in layout.check:
        c.cmp(reg, layout.load.index(reg))
        c.jump(_JNE, "done")
    for reg in layout.clear:                                       # zero, where the mask says
        c._rax_disp(b"\x23", reg, at["clear_mask"])               # and mask(%rax), %reg
        c.jump(_JNE, "done")
    c.emit(b"\x59")                                                # pop %rcx: RAX returned
    if layout.check_rax:
        c.cmp("rcx", at["rax_after"])
        c.jump(_JNE, "done")
    c.emit(b"\x5a")                                                # pop %rdx: RFLAGS returned
    c.emit(b"\xf7\xc2", RFLAGS_DF.to_bytes(4, "little"))           # test $DF, %edx
    c.jump(_JNE, "done")
    c.cmp("rsp", at["rsp_after"])
    c.jump(_JNE, "done")
    # The bytes between the return address and the caller's frame (a misaligned entry RSP
    # leaves some) are the caller's: still zero, under the record's masks.
    for k, word in ((16, "zero_lo"), (8, "zero_hi")):
        c.rip(b"\x48\x8b\x0d", stack_top - k)                     # mov top-k(%rip), %rcx
        c._rax_disp(b"\x23", "rcx", at[word])                     # and mask(%rax), %rcx
        c.jump(_JNE, "done")
    for k in range(layout.struct_words):
        c.rip(b"\x48\x8b\x0d", layout.struct_pa + 8 * k)  # mov s(%rip), %rcx
        c.cmp("rcx", at["struct_after"] + k)
        c.jump(_JNE, "done")
    c.emit(b"\x48\x05", (8 * layout.words).to_bytes(4, "little"))  # add $record, %rax
    c.mov_rax_dr0()
    c.jump(_JMP, "loop")
    # `done` must not start a page: a run that stops at a page's first byte makes Unicorn
    # 2.1.4 fetch from the page before (machine.py, the sentinel's note).
    c.emit(b"\x90")
    c.label("done")
    c.emit(b"\xf4")                                                # hlt (never run: the stop)
    code = c.finish()
    if len(code) > _CODE_END:
        raise InputError(f"batch driver: {len(code)} bytes of code do not fit in its page")
    return code, after, c.labels["done"]


class GuestBatch:
    """A driver for one layout on LP `lp` of `machine`, with room for `capacity` records.

    It takes the machine region's pages above the last LP's stack, past the page that holds
    a caller's frame; the driver page is code, the records are data the driver only reads.
    Build it before the machine's first run, so its hooks and code are in place from the
    start (hooks added after translation may not fire: unicorn-engine/unicorn#2200).
    """

    def __init__(self, machine: Machine, layout: BatchLayout, *, lp: int = 0,
                 capacity: int = 256) -> None:
        if "rax" not in layout.load or "rsp" in layout.load or \
                {"rax", "rsp"} & set(layout.clear):
            raise InputError("batch layout: RAX must be loaded and RSP must not be; "
                             "neither can be checked zero")
        self.machine = machine
        self.layout = layout
        self.lp = proc = machine.lps[lp]
        self.stack_top = top = machine.stack_top(lp)
        base = machine.stack_top(len(machine.lps) - 1) + PAGE  # past the caller-frame page
        self.code_base = base
        self.record_size = 8 * layout.words
        self.records = base + PAGE
        self.capacity = capacity
        end = self.records + capacity * self.record_size
        if end > machine.machine_end:
            raise InputError(f"batch: {capacity} records of {self.record_size} bytes do not fit "
                             f"in the machine region")
        code, self.after, self.done = driver_code(layout, base, top, machine.sentinel)
        mem = machine.memory
        mem.write(base, code)
        mem.write(base + _ENTRY_SLOT, layout.entry.to_bytes(8, "little"))
        machine.linear.add_code(base, base + PAGE)
        self._end = ctypes.c_uint64.from_address(mem.host_address(base + _END_SLOT))
        self.records_host = mem.host_address(self.records)
        # The records' memory as an array of words, packed into in one C call.
        self._words = (ctypes.c_uint64 * (capacity * layout.words)).from_address(self.records_host)
        self._packers: dict[int, _struct.Struct] = {}
        jmp = self.after - (machine.sentinel + 5)
        self._patch = b"\xe9" + jmp.to_bytes(4, "little", signed=True)
        self._int3 = mem.peek(machine.sentinel, 5)
        # prepare(index, the planned registers at the record's first SEAMCALL, as bytes) ->
        # its plan: (decision, the planned registers after it as bytes, RFLAGS kept mask or
        # None, RFLAGS bits set, RIP advance, fault), or None when the record must run by
        # itself.
        self.prepare: Callable[[int, bytes], tuple | None] | None = None
        self._sites: set[int] = set()
        self.current = -1
        self.active = False
        self._dr0 = RegWord(proc.uc, X.UC_X86_REG_DR0)
        self.plan_registers(("rax",))
        # Stores below the zeroed part of the stack stop a batch: the next record would find
        # them there, where a call of its own finds the snapshot's zeros.
        self._deep_hook = proc.uc.hook_add(UC_HOOK_MEM_WRITE, self._on_deep_write, None,
                         machine.stack_bottom(lp), top - SHALLOW - 1)

    # -- the LP's side -----------------------------------------------------------------------
    def plan_registers(self, names: Sequence[str]) -> None:
        """The registers a plan sees and sets, in this order (default: RAX alone): at a
        record's SEAMCALL, `prepare` gets their values as bytes (little-endian words), and
        the plan gives them back as they are after it."""
        if "rsp" in names or "rip" in names or "rflags" in names or len(set(names)) != len(names):
            raise InputError(f"batch: {', '.join(names)} are not distinct GPRs other than RSP")
        self.planned = tuple(names)
        self._rax = self.planned.index("rax") if "rax" in self.planned else None
        self._n = n = len(names)
        self._size = 8 * n
        # The planned registers, then RFLAGS, RIP (written with them), RSP and DR0.
        self._regs = RegBlock(self.lp.uc, [UC_IDS[r] for r in names] + [
            UC_IDS["rflags"], UC_IDS["rip"], UC_IDS["rsp"], X.UC_X86_REG_DR0])

    def trap(self) -> bool:
        """A trapped instruction inside the batch (the LP's invalid-instruction hook): a
        SEAMCALL, the first of its record, is answered by the effect `prepare(index,
        planned registers)` plans for it; anything else stops the batch there."""
        lp, r, n = self.lp, self._regs, self._n
        r.read()
        w = r.words
        rip = w[n + 1]
        if rip not in self._sites:
            # The code cannot change during a batch: a store to it stops the batch.
            entry = lp.insns.first(rip, lp.memory.peek(rip, 16))
            if entry is None or entry.name != "seamcall":
                return lp.request_stop(("batch",))
            self._sites.add(rip)
        index = (w[n + 3] - self.records) // self.record_size
        if index == self.current or self.prepare is None:
            return lp.request_stop(("batch",))   # a second SEAMCALL: left to a call of its own
        self.current = index
        received = r.bytes[:self._size].tobytes()
        plan = self.prepare(index, received)
        if plan is None:
            return lp.request_stop(("batch",))
        decision, post, keep, add, advance, fault = plan
        if fault is not None and self._rax is not None:
            # Through the exception table, as Delivery.deliver does it (no report is kept).
            fix = lp.delivery.fixup(fault[0], rip, w[n + 2], fault[1] is not None)
            if fix is not None:       # the registers as they were, but RAX and RIP
                if fix[1]:
                    w[self._rax] = fault[0]
                w[n + 1] = fix[0]
                r.write(n + 2)
                return True
        if fault is not None or decision.kind in ("vmexit", "halt"):
            vals = lp.regfile.read()
            after = _unpack_words(post)
            regs = {name: v for name, v, was in zip(self.planned, after, _unpack_words(received))
                    if v != was}
            return lp.apply("seamcall", rip, Effect(decision, regs, None, advance, fault), vals)
        # What LogicalProcessor.apply does with such an effect, without building it: the
        # registers written, RFLAGS, RIP past the instruction (no event is kept in a batch).
        r.bytes[:self._size] = post
        if keep is not None:
            w[n] = (w[n] & keep) | add
        w[n + 1] = rip + advance
        r.write(n + 2)
        return True

    def _on_deep_write(self, uc, _access, _address, _size, _value, _user) -> None:
        if self.active:
            self.lp.request_stop(("batch",))

    # -- the caller's side -------------------------------------------------------------------
    def write(self, index: int, words: Sequence[int]) -> None:
        """Record `index` (as `layout.offsets()` lays out its words)."""
        if not 0 <= index < self.capacity or len(words) != self.layout.words:
            raise InputError(f"batch record {index}: {len(words)} words (capacity "
                             f"{self.capacity}, {self.layout.words} words a record)")
        ctypes.memmove(self.records_host + index * self.record_size,
                       _struct.pack(f"<{len(words)}Q", *words), self.record_size)

    def write_all(self, records: Sequence[Sequence[int]]) -> None:
        """Records 0.. at once."""
        self.write_flat([w for r in records for w in r])

    def write_flat(self, words: Sequence[int]) -> None:
        """Records 0.. at once, given one after the other as one list of words."""
        n = len(words)
        if n % self.layout.words or n > self.capacity * self.layout.words:
            raise InputError(f"batch: {n} words are not whole records of {self.layout.words} "
                             f"(capacity {self.capacity})")
        packer = self._packers.get(n)
        if packer is None:
            packer = self._packers[n] = _struct.Struct(f"<{n}Q")
        packer.pack_into(self._words, 0, *words)

    def enter(self) -> None:
        """Batch mode on: calls return into the driver (the sentinel jumps to it)."""
        if not self.active:
            self._swap(self._patch)
            self._sites.clear()
            self.active = True
            self.lp.batch = self
            self.lp.pause_branch_watch()

    def leave(self) -> None:
        """Batch mode off: the sentinel is the plain stop again, for ordinary calls."""
        if self.active:
            self._swap(self._int3)
            self.active = False
            self.lp.batch = None
            self.lp.resume_branch_watch()

    def _swap(self, data: bytes) -> None:
        m = self.machine
        m.memory.write(m.sentinel, data)
        m.drop_translations(m.sentinel, m.sentinel + len(data))

    def run(self, first: int, end: int) -> BatchStop:
        """Run records [first, end) in one emu_start (batch mode must be on)."""
        if not self.active:
            raise InputError("batch: run() outside enter()/leave()")
        if not 0 <= first < end <= self.capacity:
            raise InputError(f"batch: records {first}..{end} (capacity {self.capacity})")
        lp, uc = self.lp, self.lp.uc
        self._end.value = self.records + end * self.record_size
        self._dr0.write(self.records + first * self.record_size)
        self.current = -1
        pc_done = self.done
        self.machine.note_run()
        status = lp.run_raw(self.code_base, pc_done, self.machine.bounds)
        cursor = self._dr0.read()
        index = (cursor - self.records) // self.record_size
        if status is None:
            if uc.reg_read(X.UC_X86_REG_RIP) == pc_done:
                return BatchStop(index, "done" if index == end else "mismatch")
            return BatchStop(index, "bound")
        return BatchStop(index, "stopped")


__all__ = ["BatchLayout", "BatchStop", "GPR_NUMBER", "GuestBatch", "SHALLOW", "driver_code"]
