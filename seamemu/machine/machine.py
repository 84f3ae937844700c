# SPDX-License-Identifier: MIT
"""The machine: an Image loaded into shared physical memory, N logical processors, SysV calls.

Physical layout, all 2 MiB aligned and always present (the platform's `present` predicate
covers the rest, backed lazily):

    image    [lo(IMAGE_BASE) .. roundup(image.end))   sections as the front end laid them out
    machine  [.. + 2 MiB)                             sentinel page (int3), GDT page, then per
                                                      LP a stack guard page and the stack
    scratch  [.. + scratch_size)                      bump allocator for argument buffers

Guest linear addresses map onto that identity, except where a kernel would have nothing
mapped: the first 64 KiB, each stack's guard page, the upper half, and non-canonical
addresses fault (machine/linear.py).

Each LP starts with a flat GDT like the kernel's (__KERNEL_CS 0x10, __KERNEL_DS 0x18), so an
IDT handler's IRETQ works; CPL is a model value in `CpuState`, not the CS RPL.

Instructions Unicorn would run its own way (RDMSR/WRMSR, MOV SS) are patched at the sites
the session names, and CPUID answers from the platform: machine/patching.py.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from unicorn import UC_HOOK_MEM_WRITE
from unicorn import x86_const as X

from seamemu.arch.registers import SYSV_ARGS
from seamemu.disasm import branch_sites
from seamemu.errors import InputError
from seamemu.image import IMAGE_BASE, Image
from seamemu.machine.dispatch import InsnTable
from seamemu.machine.faults import Delivery
from seamemu.machine.gdbstub import GdbStub
from seamemu.machine.handlers import TdcallPort, install_builtin
from seamemu.machine.linear import LinearMap
from seamemu.machine.lp import LogicalProcessor
from seamemu.machine.memory import CHUNK, PAGE, PhysicalMemory, Present
from seamemu.machine.mov_ss import mov_ss_handler
from seamemu.machine.patching import MSR_OPCODES, UD2, CodePatching
from seamemu.machine.regs import INDEX, NAMES, RFLAGS, RFLAGS_FIXED, RIP, RSP, RegView
from seamemu.machine.results import BoundInfo, Bounds, CallResult, SeamEvent
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.target import SeamTarget, TdcallTarget

TB_FLUSH_EVERY = 20_000
LAUNCH_PAD_OFFSET = 0x10   # where a debugged call starts, in the sentinel page (gdbstub.py)
STACK_SIZE = 16 << 10          # THREAD_SIZE on x86-64 with KASAN off
# Each stack sits above an unmapped guard page, as the kernel's vmalloc'ed stacks do
# (CONFIG_VMAP_STACK, arch/x86/Kconfig; guard reported by handle_stack_overflow()).
STACK_STRIDE = STACK_SIZE + PAGE
DEFAULT_SCRATCH = 16 << 20
KERNEL_CS, KERNEL_DS = 0x10, 0x18
# Flat descriptors: null, (KERNEL32_CS unused), 64-bit code DPL 0, data DPL 0.
# Spec: SDM Vol. 3A §3.4.5 (segment descriptors); Linux arch/x86/include/asm/segment.h.
GDT = (0, 0, 0x00AF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF)
_MASK64 = (1 << 64) - 1
_NREGS = len(NAMES)
_ARG_INDEX = tuple(INDEX[name] for name in SYSV_ARGS)


def _round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


@dataclass(frozen=True)
class Snapshot:
    """CPU contexts of all LPs plus the bytes needed to roll written memory back."""

    contexts: tuple
    cpus: tuple[CpuState, ...]
    stacks: bytes
    scratch: bytes
    scratch_state: tuple[int, int]
    data_sections: tuple[tuple[int, bytes], ...]
    unplugged: tuple[tuple[int, int], ...]
    msrs: tuple[tuple[tuple[int, int], ...], ...] = ()  # each LP's MSRs, sorted


class Machine(CodePatching):
    """Guest physical memory, logical processors and the SEAM-family traps for one Image."""

    def __init__(self, image: Image, target: SeamTarget, *, num_lps: int = 1,
                 present: Present | None = None, bounds: Bounds = Bounds(),  # noqa: B008 (frozen)
                 cpu: CpuState | None = None, scratch_size: int = DEFAULT_SCRATCH,
                 td: TdcallTarget | None = None) -> None:
        if num_lps < 1:
            raise InputError(f"Machine: num_lps must be at least 1, got {num_lps}")
        self.image = image
        self.target = target
        self.bounds = bounds
        self.memory = memory = PhysicalMemory(present)
        lo = min((s.address for s in image.sections), default=IMAGE_BASE) & ~(CHUNK - 1)
        hi = max(_round_up(image.end, CHUNK), lo + CHUNK)
        # Only the chunks sections occupy are image memory, so a far-away section does not
        # pin everything in between.
        chunks = {b for s in image.sections for b in range(s.address & ~(CHUNK - 1), s.end, CHUNK)}
        for base in sorted(chunks or {lo}):
            memory.add_fixed(base, CHUNK, "image", eager=True)
        region = _round_up(2 * PAGE + num_lps * STACK_STRIDE, CHUNK)
        memory.add_fixed(hi, region, "machine", eager=True)
        self.machine_end = hi + region
        self.sentinel = hi
        self.gdt_base = hi + PAGE
        self.stacks_base = hi + 2 * PAGE
        memory.set_scratch(hi + region, _round_up(max(scratch_size, CHUNK), CHUNK))
        for s in image.sections:
            memory.write(s.address, s.data)
        memory.write(self.sentinel, b"\xcc" * PAGE)
        memory.write(self.gdt_base, b"".join(d.to_bytes(8, "little") for d in GDT))
        self.linear = linear = LinearMap()
        for s in image.sections:
            if s.executable:
                linear.add_code(s.address, s.end)
        # The sentinel page (where calls return; the gdb launch pad) is code.  So is the page
        # below it: a run that stops at an address that starts a page makes Unicorn 2.1.4
        # fetch from the page before (measured), which must not fault.
        linear.add_code(self.sentinel - PAGE, self.sentinel + PAGE)
        for lo_, hi_ in memory.mapped_ranges():
            linear.add_no_execute(lo_, hi_)
        for i in range(num_lps):
            guard = self.stacks_base + i * STACK_STRIDE
            linear.add_guard(guard, guard + PAGE, guard + STACK_STRIDE)
        self.insns = InsnTable()
        self.tdcall = TdcallPort(td)
        install_builtin(self.insns, target, memory, self.tdcall)
        delivery = Delivery(image, memory, linear)
        self.lps = [LogicalProcessor(i, memory, self.insns, delivery, cpu or CpuState(), linear)
                    for i in range(num_lps)]
        # The branches that can send RIP to a non-canonical address, so the #GP(0) is
        # reported at the branch (machine/noncanonical.py).
        branches = [a for s in image.sections if s.executable
                    for a in branch_sites(s.data, s.address)]
        for lp in self.lps:
            lp.watch_branches(branches)
            lp.uc.reg_write(X.UC_X86_REG_GDTR, (0, self.gdt_base, len(GDT) * 8 - 1, 0))
            lp.uc.reg_write(X.UC_X86_REG_CS, KERNEL_CS)
            lp.uc.reg_write(X.UC_X86_REG_SS, KERNEL_DS)
        self._data_sections = tuple((s.address, len(s.data)) for s in image.sections
                                    if "w" in s.flags and "x" not in s.flags)
        self._cow_hooks: list[tuple[Any, int]] = []
        self._symbols: dict[int, str] = {}
        self._calls = 0
        self._patched: dict[int, bytes] = {}  # address -> the bytes the image had there
        self._mov_ss_sites: set[int] = set()
        self._mov_ss_handler = mov_ss_handler(memory)
        for lp in self.lps:
            lp.code_patches = self._patched
        self._entries: dict[str | int, int] = {}
        self._debugger: GdbStub | None = None
        # ctypes views of each LP's default return-address slot (stack top - 8), so a call
        # writes the sentinel without going through the generic memory path.
        self._return_slots = {
            self.stack_top(i) - 8: ctypes.c_uint64.from_address(memory.host_address(self.stack_top(i) - 8))
            for i in range(num_lps)
        }

    def attach_td(self, target: TdcallTarget | None) -> None:
        """What a TD's TDCALL reaches from now on (the module's guest side; None: nothing)."""
        self.tdcall.target = target

    # -- addresses ---------------------------------------------------------------------------
    def stack_top(self, lp: int = 0) -> int:
        return self.stacks_base + (lp + 1) * STACK_STRIDE

    def stack_bottom(self, lp: int = 0) -> int:
        """The lowest address of LP `lp`'s stack; the page below it is the guard page."""
        return self.stack_top(lp) - STACK_SIZE

    def resolve(self, symbol: str | int) -> int:
        if isinstance(symbol, int):
            if not 0 <= symbol <= _MASK64:
                raise InputError(f"call: address {symbol:#x} is not a 64-bit address")
            return symbol
        try:
            return self.image.address_of(symbol)
        except KeyError:
            raise InputError(f"no symbol {symbol!r} in the image") from None

    def _lp(self, lp: int) -> LogicalProcessor:
        if not 0 <= lp < len(self.lps):
            raise InputError(f"no logical processor {lp} (machine has {len(self.lps)})")
        return self.lps[lp]

    # -- calls -------------------------------------------------------------------------------
    def call(self, symbol: str | int, args: Sequence[int] = (), *, lp: int = 0,
             regs: Mapping[str, int] | None = None, stack_align: int = 0) -> CallResult:
        """Call a function with the SysV ABI and run it until it returns or is stopped.

        `args` go to RDI, RSI, RDX, RCX, R8, R9; `regs` presets any other register (GPRs,
        "rflags"; "rsp" moves the stack); registers not given start at 0.  The return address
        pushed is a sentinel; `stack_align` bytes are left below the stack top first, so 8
        gives a misaligned entry RSP.
        """
        try:
            proc = self.lps[lp]
            entry = self._entries[symbol]
        except (IndexError, KeyError, TypeError):
            proc = self._lp(lp)
            entry = self._entries[symbol] = self.resolve(symbol)
        if len(args) > 6:
            raise InputError(f"call {symbol}: {len(args)} arguments, SysV passes at most 6 in registers")
        vals = [0] * _NREGS
        vals[RFLAGS] = RFLAGS_FIXED
        if regs:
            for name, value in regs.items():
                i = INDEX.get(name)
                if i is None or name == "rip":
                    raise InputError(f"call {symbol}: unknown register {name!r} in regs")
                if value.__class__ is not int or not 0 <= value <= _MASK64:
                    value = _u64(value, name)
                vals[i] = value
        for i, value in enumerate(args):
            if value.__class__ is not int or not 0 <= value <= _MASK64:
                value = _u64(value, SYSV_ARGS[i])
            vals[_ARG_INDEX[i]] = value
        if regs and "rsp" in regs:
            rsp = vals[RSP] - 8
        else:
            rsp = self.stacks_base + (lp + 1) * STACK_STRIDE - stack_align - 8
        self._push_return(rsp)
        vals[RSP] = rsp
        vals[RFLAGS] |= RFLAGS_FIXED
        vals[RIP] = entry
        proc.regfile.write(vals)
        proc.events = []
        proc.faults = []
        self.note_run()
        if self._debugger is None:
            outcome, bound_kind, after = proc.run(entry, self.sentinel, self.bounds)
        else:
            debugger, self._debugger = self._debugger, None
            outcome, bound_kind, after = self._debugged_run(debugger, proc, entry)
        bound = None
        insn_count = None
        if bound_kind is not None:
            rip = after[RIP]
            limit = {"instructions": self.bounds.max_insns, "time": self.bounds.timeout_s}.get(bound_kind, 0)
            bound = BoundInfo(bound_kind, rip, self.symbolize(rip), self.code_bytes(rip, 16), limit)
            if bound_kind == "instructions":
                insn_count = self.bounds.max_insns
        symbolize = self.symbolize
        events = tuple([SeamEvent(name, lp, rip, symbolize(rip), eff[0], eff[6])
                        for name, rip, eff in proc.events])
        return CallResult(outcome, RegView(vals), RegView(after), tuple(proc.faults), events,
                          insn_count, bound, lp)

    def note_run(self) -> None:
        """Count one emu_start round (a call, or a batch of them: machine/batch.py); Unicorn
        2.1 grows its translation buffer on every emu_start (measured: ~300 bytes a call,
        600 MB after 2 million), so the translations are dropped now and then, which keeps a
        long session or fuzz campaign flat at the cost of retranslating a few blocks."""
        self._calls += 1
        if self._calls % TB_FLUSH_EVERY == 0:
            self.drop_translations()

    # -- gdb ---------------------------------------------------------------------------------
    @property
    def launch_pad(self) -> int:
        """Where a call served to gdb starts: a jump to the entry (see _debugged_run)."""
        return self.sentinel + LAUNCH_PAD_OFFSET

    def debug_next_call(self, stub: GdbStub) -> None:
        """Serve the next `call` to gdb through `stub` (machine/gdbstub.py), once."""
        self._debugger = stub

    def _debugged_run(self, stub: GdbStub, proc: LogicalProcessor,
                      entry: int) -> tuple[str, str | None, list[int]]:
        # gdb attaches at a launch pad that jumps to the entry, the way gdbserver stops a
        # program before main: a breakpoint on the entry then hits as gdb users expect.  The
        # pad is `jmp *0(%rip)` and the entry's address, in the sentinel page (the return
        # address stays the sentinel, no register changes).
        pad = self.launch_pad
        self.memory.write(pad, b"\xff\x25\x00\x00\x00\x00" + entry.to_bytes(8, "little"))
        stub.attach(self, proc, entry)
        result: tuple[str, str | None, list[int]] = ("bound", "debugger", [])
        try:
            result = proc.run(pad, self.sentinel, self.bounds)
        finally:
            stub.finish(result[0], result[1], proc.faults[-1] if proc.faults else None)
        return result

    def symbolize(self, address: int) -> str:
        """`symbol+0xoff`, cached: the same few SEAMCALL sites recur on every call."""
        name = self._symbols.get(address)
        if name is None:
            name = self._symbols[address] = self.image.symbolize(address)
        return name

    def _push_return(self, rsp: int) -> None:
        slot = self._return_slots.get(rsp)
        if slot is not None:  # the usual entry RSP: a preallocated view of the stack slot
            slot.value = self.sentinel
            return
        refusal = self.linear.refusal(rsp) or self.linear.refusal(rsp + 7)
        if refusal is not None:
            raise InputError(f"call: stack pointer 0x{rsp:016x} is not mapped ({refusal})")
        try:
            self.memory.write(rsp, self.sentinel.to_bytes(8, "little"))
        except InputError as exc:
            raise InputError(f"call: stack pointer 0x{rsp:016x} is not in present memory") from exc

    # -- translations ------------------------------------------------------------------------
    def drop_translations(self, begin: int | None = None, end: int | None = None) -> None:
        """Drop every LP's translated code (of [begin, end) when given): after code changed
        under it, and after hooks were added or removed, which Unicorn 2.1 does not honour in
        code it already translated (unicorn-engine/unicorn#2200).  The one place seamemu
        flushes the translation cache of its machines."""
        for lp in self.lps:
            lp.drop_translations(begin, end)

    # -- snapshots ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Save all LPs' CPU contexts and start logging memory writes for `restore`.

        Restored by copy: the LP stacks, the scratch bytes allocated so far and the image's
        writable data sections.  Everywhere else (lazily backed memory, scratch beyond the
        current allocation) a write hook outside those hot ranges saves each page before its
        first write.  Each LP's MSRs are saved too.  Not restored: code sections (use
        `patch`) and the GDT/sentinel page.
        The SeamTarget's own state is the caller's to snapshot.
        """
        mem = self.memory
        next_, hwm = mem.scratch_state()
        stacks_len = len(self.lps) * STACK_STRIDE
        snap = Snapshot(
            contexts=tuple(lp.uc.context_save() for lp in self.lps),
            cpus=tuple(lp.cpu for lp in self.lps),
            stacks=mem.save_range(self.stacks_base, stacks_len),
            scratch=(mem.save_range(mem.scratch_base, hwm - mem.scratch_base)
                     if hwm > mem.scratch_base else b""),
            scratch_state=(next_, hwm),
            data_sections=tuple((a, mem.save_range(a, n)) for a, n in self._data_sections if n),
            unplugged=mem.unplugged,
            msrs=tuple(tuple(sorted(lp.msrs.items())) for lp in self.lps),
        )
        lo = min((s.address for s in self.image.sections), default=IMAGE_BASE) & ~(CHUNK - 1)
        self._install_cow_hooks(lo=lo, hi=hwm)
        mem.track_writes()
        return snap

    def restore(self, snap: Snapshot) -> None:
        """Roll CPU state, LP CpuStates and written memory back to `snap`."""
        mem = self.memory
        if len(snap.contexts) != len(self.lps):
            raise InputError("restore: snapshot was taken on a machine with a different LP count")
        for lp, ctx, cpu in zip(self.lps, snap.contexts, snap.cpus):
            lp.uc.context_restore(ctx)
            lp.cpu = cpu
        for lp, msrs in zip(self.lps, snap.msrs):  # WRMSR since the snapshot is rolled back
            lp.msrs = dict(msrs)
        if mem.unplugged != snap.unplugged:
            for b, e in mem.unplugged:
                mem.plug(b, e - b)
            for b, e in snap.unplugged:
                mem.unplug(b, e - b)
        mem.load_range(self.stacks_base, snap.stacks)
        _, hwm_now = mem.scratch_state()
        if snap.scratch:
            mem.load_range(mem.scratch_base, snap.scratch)
        start = mem.scratch_base + len(snap.scratch)
        if hwm_now > start:
            mem.load_range(start, bytes(hwm_now - start))
        mem.set_scratch_state(snap.scratch_state)
        for address, data in snap.data_sections:
            mem.load_range(address, data)
        mem.rollback()

    def _install_cow_hooks(self, lo: int, hi: int) -> None:
        for uc, handle in self._cow_hooks:
            uc.hook_del(handle)
        self._cow_hooks = []
        for lp in self.lps:
            note = _cow_callback(lp)
            # Memory hooks are checked at run time, so hooks added now fire without a flush.
            if lo > 0:
                self._cow_hooks.append((lp.uc, lp.uc.hook_add(UC_HOOK_MEM_WRITE, note, None, 0, lo - 1)))
            self._cow_hooks.append((lp.uc, lp.uc.hook_add(UC_HOOK_MEM_WRITE, note, None, hi, _MASK64)))


def _cow_callback(lp: LogicalProcessor):
    memory = lp.memory

    def note(uc, _access, address, size, _value, _user) -> None:
        try:
            memory.note_write(address, size)
        except BaseException as exc:
            lp._fail(exc)
    return note


def _u64(value: int, name: str) -> int:
    if not isinstance(value, int) or not -(1 << 63) <= value < 1 << 64:
        raise InputError(f"register {name}: {value!r} is not a 64-bit value")
    return value & _MASK64


__all__ = ["GDT", "KERNEL_CS", "KERNEL_DS", "MSR_OPCODES", "Machine", "STACK_SIZE", "STACK_STRIDE",
           "Snapshot", "UD2"]
