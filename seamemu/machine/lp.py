# SPDX-License-Identifier: MIT
"""One logical processor: a Unicorn instance, its CpuState, its hooks and its bounded run loop
(what the hooks recorded is delivered by machine/lp_faults.py).

Hooks are added in the constructor, before the first run (hooks added after translation may
not fire, unicorn-engine/unicorn#2200), and none of them is a code hook, so straight-line guest code
runs at full speed:
- UC_HOOK_INSN_INVALID: SEAMCALL, TDCALL, VMXON, VMXOFF, UD2 and anything else Unicorn
  cannot run; dispatched by the bytes at RIP through the machine's `InsnTable`.  Effects
  are applied inline (registers written, RIP moved) and the run continues without restart.
  RDMSR/WRMSR arrive here too: the machine patched them to UD2 (Machine.attach_msrs).
- UC_HOOK_INSN for SYSCALL and SYSENTER, which Unicorn would step over as no-ops: the hook
  stops the run at the instruction and the run loop dispatches it through the same table
  (traps/syscall.py: #UD, #GP(0) on a CPU whose system-call MSRs are not set up).
- UC_HOOK_INSN for CPUID: answered from the LP's platform CPUID table
  (traps/cpuid.py), or a VM exit in a guest.
- UC_HOOK_INTR: int3, int n, #DE and faults QEMU raises; delivered after stopping, because
  Unicorn overwrites RIP after an interrupt hook returns (unicorn#1027).
- UC_HOOK_TLB_FILL (Unicorn's software-TLB mode): maps a linear page on a TLB miss by the
  rules of machine/linear.py (identity, or a trap-window page for the first 64 KiB, stack
  guard pages, the upper half and non-canonical addresses).
- UC_HOOK_MEM_*_UNMAPPED: lazy backing of present memory (retry), else a #PF; an access
  to the trap window is the refused linear access: #PF, or #GP(0)/#SS(0) when the address
  is non-canonical.  Not over memory mapped from the start, which no hook covers, so
  stores there stay on Unicorn's fast path (machine/linear.py, rule 6).
- No hook for a fetch from a no-execute page: emu_start fails with FETCH_PROT and the run
  loop delivers the #PF (instruction fetch, present).
Callbacks never let an exception escape: it is stored, emu_stop is called, and the run
loop re-raises it after emu_start returns (the Qiling pattern).

Bounds (measured on this project's machine, see bench.py): emu_start's `count=` installs a
C-level code hook that costs nothing measurable on the SEAMCALL round trip and ~4x on tight
loops (94M insn/s), while `timeout=` starts a timer thread per call (~15x slower round trips:
5.5k/s vs 80k/s).  So the instruction bound is `count=` in slices of at most SLICE
instructions, and the time bound is checked between slices and in the SEAM-family hook.
Instructions run before an interrupting delivery (INTR, #PF restart) are not charged, so
an exception storm ends at the time bound rather than the instruction bound.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from ctypes import string_at
from time import perf_counter
from typing import TYPE_CHECKING

from unicorn import (
    UC_ARCH_X86,
    UC_ERR_EXCEPTION,
    UC_HOOK_INSN,
    UC_HOOK_INSN_INVALID,
    UC_HOOK_INTR,
    UC_HOOK_MEM_FETCH_UNMAPPED,
    UC_HOOK_MEM_READ_UNMAPPED,
    UC_HOOK_MEM_WRITE_UNMAPPED,
    UC_HOOK_TLB_FILL,
    UC_MEM_FETCH_PROT,
    UC_MODE_64,
    UC_PROT_ALL,
    UC_PROT_READ,
    UC_PROT_WRITE,
    UC_TLB_VIRTUAL,
    Uc,
    UcError,
)
from unicorn import x86_const as X

from seamemu.arch.kernel import X86_TRAP_UD
from seamemu.errors import InputError
from seamemu.machine.dispatch import InsnTable
from seamemu.machine.faults import Delivery
from seamemu.machine.linear import TRAP_WINDOW, LinearMap, TrapWindow
from seamemu.machine.lp_faults import FaultDelivery
from seamemu.machine.memory import CHUNK, PAGE, PhysicalMemory
from seamemu.machine.regs import FAST, INDEX, NAMES, RAX, RFLAGS, RIP, UC_IDS, RegFile
from seamemu.machine.results import Bounds, FaultEvent
from seamemu.platform.cpuid_table import Regs, default_cpuid_table
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.cpuid import execute_cpuid
from seamemu.traps.rule_table import Effect

if TYPE_CHECKING:
    from seamemu.machine.batch import GuestBatch

_UNMAPPED = UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED
_NO_EXEC = UC_PROT_READ | UC_PROT_WRITE
SLICE = 4_000_000  # instructions per emu_start: ~40 ms of tight loop, the time-check grain
_RCX = INDEX["rcx"]
_UC_GPR = {name: UC_IDS[name] for name in ("rax", "rbx", "rcx", "rdx")}


class LogicalProcessor(FaultDelivery):
    """A Unicorn x86-64 instance sharing the machine's physical memory."""

    def __init__(self, index: int, memory: PhysicalMemory, insns: InsnTable, delivery: Delivery,
                 cpu: CpuState, linear: LinearMap | None = None) -> None:
        self.index = index
        self.memory = memory
        self.insns = insns
        self.delivery = delivery
        self.linear = linear if linear is not None else delivery.linear
        self.window = TrapWindow(self.linear)
        self.uc = uc = Uc(UC_ARCH_X86, UC_MODE_64)
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        memory.attach(uc)
        self.regfile = RegFile(uc)
        self.cpu = cpu
        self.deadline = float("inf")
        # The clock the time bound reads (perf_counter); a debugger's stops are added to the
        # deadline by the same clock (machine/gdbstub.py), and tests replace it to stop time.
        self.clock: Callable[[], float] = perf_counter
        self.events: list[tuple[str, int, Effect]] = []   # (insn name, rip, effect)
        # This LP's MSRs (RDMSR/WRMSR read and write them; see Machine.attach_msrs), and the
        # original bytes of code the machine patched (shared), for fault reports.
        self.msrs: dict[int, int] = {}
        self.code_patches: dict[int, bytes] = {}
        self.cpuid_table: Mapping[tuple[int, int], Regs] = default_cpuid_table(index)
        self.faults: list[FaultEvent] = []
        self.shadow_at: int | None = None   # RIP right after a MOV SS (machine/mov_ss.py)
        self.batch: GuestBatch | None = None  # the batch running on this LP (machine/batch.py)
        self._pending: tuple | None = None
        self._exc: BaseException | None = None
        self._last_error: UcError | None = None
        self._code_base, self._code_addr = -CHUNK, 0
        self._nx_pages = self.linear.nx_pages
        self.branch_site: int | None = None   # the last watched branch run (watch_branches)
        self._branch_hooks: list[int] = []
        uc.hook_add(UC_HOOK_TLB_FILL, self._on_tlb_fill)
        if FAST is None or FAST.hook_invalid_insn(uc, self._on_invalid) is None:
            uc.hook_add(UC_HOOK_INSN_INVALID, self._on_invalid)
        uc.hook_add(UC_HOOK_INSN, self._on_system_call, None, 1, 0, X.UC_X86_INS_SYSCALL)
        uc.hook_add(UC_HOOK_INSN, self._on_system_call, None, 1, 0, X.UC_X86_INS_SYSENTER)
        uc.hook_add(UC_HOOK_INSN, self._on_cpuid, None, 1, 0, X.UC_X86_INS_CPUID)
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        # Memory that is mapped already (the image, the machine's stacks, the first chunk of
        # scratch) can never be unmapped, so no unmapped-memory hook needs to cover it: a page
        # no memory hook covers keeps Unicorn's fast store path (machine/linear.py, rule 6).
        # A fetch from a no-execute page is no hook either: emu_start fails with FETCH_PROT
        # and the run loop delivers the #PF.
        pos = 0
        for lo, hi in memory.mapped_ranges():
            if lo > pos:
                uc.hook_add(_UNMAPPED, self._on_unmapped, None, pos, lo - 1)
            pos = hi
        uc.hook_add(_UNMAPPED, self._on_unmapped, None, pos, (1 << 64) - 1)

    @property
    def cpu(self) -> CpuState:
        return self._cpu

    @cpu.setter
    def cpu(self, value: CpuState) -> None:
        if not isinstance(value, CpuState):
            raise InputError(f"LP {self.index}: cpu must be a CpuState, not {type(value).__name__}")
        self._cpu = value

    # -- hooks (never raise) -------------------------------------------------------------------
    def _on_invalid(self, _uc, _user) -> bool:
        # Registered straight through ctypes where the binding allows (regs.FAST): `_uc` is
        # then the engine handle, not the Uc; nothing here reads either.
        try:
            if self.batch is not None:       # many calls in one run (machine/batch.py)
                return self.batch.trap()
            vals = self.regfile.read()
            rip = vals[RIP]
            # Code bytes straight from the host buffer of the chunk that held the last one.
            off = rip - self._code_base
            if 0 <= off <= CHUNK - 16:
                code = string_at(self._code_addr + off, 16)
            else:
                code = self._code_at(rip)
            if self.shadow_at is not None:
                return self._in_shadow(rip, code, vals)
            return self._dispatch(rip, code, vals)
        except BaseException as exc:
            return self._fail(exc)

    def _dispatch(self, rip: int, code: bytes, vals: list[int]) -> bool:
        entry = self.insns.first(rip, code)
        if entry is not None:
            effect = entry.handler(self, rip, code, vals)
            if effect is not None:
                return self.apply(entry.name, rip, effect, vals)
            for entry in self.insns.candidates(rip, code)[1:]:
                effect = entry.handler(self, rip, code, vals)
                if effect is not None:
                    return self.apply(entry.name, rip, effect, vals)
        return self._deliver_inline(vals, X86_TRAP_UD, None, rip, "invalid opcode")

    def arm_mov_ss_shadow(self, next_rip: int) -> None:
        """A MOV SS completed: the instruction at `next_rip`, if it runs next, is in its shadow."""
        self.shadow_at = next_rip

    def _in_shadow(self, rip: int, code: bytes, vals: list[int]) -> bool:
        # The first trapped instruction after a MOV SS: in the shadow only if it is the very
        # next one (an instruction Unicorn ran in between ended the shadow unseen).
        # The CpuState carries the shadow only while that one instruction is decided.
        if rip == self.shadow_at:
            self._cpu = self._cpu.with_(mov_ss_shadow=True)
        self.shadow_at = None
        try:
            return self._dispatch(rip, code, vals)
        finally:
            if self._cpu.mov_ss_shadow:
                self._cpu = self._cpu.with_(mov_ss_shadow=False)

    def _code_at(self, rip: int) -> bytes:
        try:
            self._code_addr = self.memory.host_address(rip & ~(CHUNK - 1))
            self._code_base = rip & ~(CHUNK - 1)
        except InputError:
            return self.memory.peek(rip, 16)
        return self.memory.peek(rip, 16)

    def apply(self, name: str, rip: int, effect: Effect, vals: list[int]) -> bool:
        """Apply a trapped instruction's effect to the registers in `vals` and to the LP."""
        self.events.append((name, rip, effect))
        decision, regs, rflags, advance, fault, _reply, _record, cpu = effect
        if cpu is not None:
            self._cpu = cpu
        if fault is not None:
            return self._deliver_inline(vals, fault[0], fault[1], rip, decision.rule)
        if decision.kind in ("vmexit", "halt"):
            return self._stop((decision.kind,))
        for name_, value in regs.items():
            vals[INDEX[name_]] = value
        if rflags is not None:
            vals[RFLAGS] = rflags
        vals[RIP] = rip + advance
        self.regfile.write(vals)
        if self.clock() > self.deadline:
            self._pending = ("time",)
            self.uc.emu_stop()
        return True

    def _on_system_call(self, uc, _user) -> None:
        # RIP is the instruction's own address here; Unicorn steps over it after the hook,
        # so the run stops and `_deliver_pending` decides from that address.
        try:
            self._stop(("insn", self.regfile.read()[RIP]))
        except BaseException as exc:
            self._fail(exc)

    def _on_cpuid(self, uc, _user) -> int:
        # Return 1: Unicorn skips its own CPUID; RIP is the instruction's, and Unicorn steps
        # over it afterwards, so only the four output registers are written here.
        try:
            if self.batch is not None:
                self._stop(("batch",))
                return 1
            vals = self.regfile.read()
            rip, leaf, subleaf = vals[RIP], vals[RAX] & 0xFFFF_FFFF, vals[_RCX] & 0xFFFF_FFFF
            effect = execute_cpuid(self._cpu, self.cpuid_table, leaf, subleaf)
            self.events.append(("cpuid", rip, effect))
            if effect.decision.kind == "vmexit":
                self._stop(("vmexit", rip))
                return 1
            for name, value in effect.regs.items():
                uc.reg_write(_UC_GPR[name], value)
            return 1
        except BaseException as exc:
            self._fail(exc)
            return 1

    def _on_intr(self, uc, intno: int, _user) -> None:
        try:
            self._stop(("intr", intno))
        except BaseException as exc:
            self._fail(exc)

    def _on_tlb_fill(self, uc, page: int, _access: int, entry, _user) -> bool:
        try:
            entry.paddr = self.window.translate(page)
            entry.perms = _NO_EXEC if page in self._nx_pages else UC_PROT_ALL
            return True
        except BaseException as exc:
            return self._fail(exc)

    def _on_unmapped(self, uc, access: int, address: int, size: int, _value, _user) -> bool:
        try:
            if address >= TRAP_WINDOW:
                trap = self.window.trap_at(address)
                if trap is not None:
                    self._pending = ("linear", trap, access)
                    return False
            if self.memory.on_unmapped(address, size):
                return True
            self._pending = ("pf", address, access, False)
            return False
        except BaseException as exc:
            return self._fail(exc)

    def _stop(self, why: tuple) -> bool:
        self._pending = why
        self.uc.emu_stop()
        return False

    def request_stop(self, why: tuple) -> bool:
        """Stop the run from an observer's hook; `run_raw` reports `why`.  False, for a hook
        that must say its instruction was not handled."""
        return self._stop(why)

    def _fail(self, exc: BaseException) -> bool:
        if self._exc is None:
            self._exc = exc
        try:
            self.uc.emu_stop()
        except UcError:
            pass
        return False

    # -- translations ------------------------------------------------------------------------
    def drop_translations(self, begin: int | None = None, end: int | None = None) -> None:
        """Drop this LP's translated code, all of it or that of [begin, end) (the machine
        decides when: Machine.drop_translations)."""
        if begin is None:
            self.uc.ctl_flush_tb()
        else:
            self.uc.ctl_remove_cache(begin, min(end if end is not None else begin + 1, (1 << 64) - 1))

    # -- the run loop ------------------------------------------------------------------------
    def run_raw(self, begin: int, until: int, bounds: Bounds) -> tuple | None:
        """One emu_start from `begin` of at most `bounds.max_insns` instructions, for a batch
        of calls (machine/batch.py): None when it reached `until` or used up its count with
        nothing pending, else what stopped it (left undelivered)."""
        self.deadline = self.clock() + bounds.timeout_s
        self.shadow_at = None
        self.events = []
        self.faults = []
        self._pending = None
        try:
            self.uc.emu_start(begin, until, 0, bounds.max_insns)
        except UcError as err:
            if self._pending is None:
                self._pending = ("engine", err)
        if self._exc is not None:
            exc, self._exc = self._exc, None
            raise exc
        return self._pending

    def run(self, begin: int, until: int, bounds: Bounds) -> tuple[str, str | None, list[int]]:
        """Run from `begin` until RIP == `until`: (outcome, bound kind or None, registers)."""
        self.deadline = self.clock() + bounds.timeout_s
        self.shadow_at = None
        remaining = bounds.max_insns
        pc = begin
        uc = self.uc
        while True:
            n = remaining if remaining < SLICE else SLICE
            self._pending = None
            failed = False
            try:
                uc.emu_start(pc, until, 0, n)
            except UcError as err:
                rip = self.regfile.read()[RIP] if err.errno == UC_ERR_EXCEPTION else -1
                if (self._pending is None and self._exc is None
                        and (rip & ~(PAGE - 1)) in self._nx_pages):
                    # The software TLB refused a fetch from a no-execute page (Unicorn raises
                    # no hook for it, unicorn qemu/softmmu/unicorn_vtlb.c): RIP is the target.
                    self._pending = ("pf", rip, UC_MEM_FETCH_PROT, True)
                else:
                    failed = True
                    self._last_error = err
            if self._exc is not None:
                exc, self._exc = self._exc, None
                raise exc
            pending = self._pending
            if pending is None:
                vals = self.regfile.read()
                pc = vals[RIP]
                if failed:  # an engine error no hook explained (not expected in practice)
                    self.faults.append(FaultEvent(
                        -1, "engine", None, pc, self.delivery.image.symbolize(pc),
                        detail=f"unicorn stopped: {self._last_error}",
                        insn=self.memory.peek(pc, 16), regs=dict(zip(NAMES, vals))))
                    return "fault", None, vals
                if pc == until:
                    return "returned", None, vals
                if self.memory.peek(pc - 1, 1) == b"\xf4":
                    return "bound", "halt", vals
                remaining -= n
                if remaining <= 0:
                    return "bound", "instructions", vals
            else:
                kind = pending[0]
                if kind in ("fault", "vmexit", "halt"):
                    vals = self.regfile.read()
                    if len(pending) > 1:  # stopped by an instruction hook: RIP is past it
                        vals[RIP] = pending[1]
                    return kind, None, vals
                if kind == "time":
                    return "bound", "time", self.regfile.read()
                if kind == "debugger":       # gdb killed the run (machine/gdbstub.py)
                    return "bound", "debugger", self.regfile.read()
                resumed = self._deliver_pending(pending)
                if resumed is None:
                    return "fault", None, self.regfile.read()
                pc = resumed
            if self.clock() > self.deadline:
                return "bound", "time", self.regfile.read()


__all__ = ["LogicalProcessor", "SLICE"]
