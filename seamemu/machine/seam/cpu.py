# SPDX-License-Identifier: MIT
"""The CPU in SEAM root mode: one Unicorn instance that runs Intel's module for every LP.

A SEAMCALL is a VM exit into SEAM: the CPU saves the caller's RIP/RSP/RFLAGS in the LP's SEAM
VMCS, records exit reason 76 and the instruction length, and loads the VMCS host state (RIP =
the entry point, RSP = the LP's data stack, FS base = sysinfo, GS base = the LP's local data,
CR0/CR3/CR4/EFER); the general registers keep the caller's values.  SEAMRET is the VM entry
back: the VMM's RIP/RSP/RFLAGS come from the (by then updated) VMCS guest state and the
general registers are the module's.  Only one LP is in SEAM at a time in seamemu, so one
Unicorn instance serves them all: each entry loads that LP's host state and the CPU answers
CPUID and RDMSR/WRMSR from that LP's tables.

Unicorn runs in virtual-TLB mode and asks `paging.Translator` for every translation (KeyID bits
stripped).  What Unicorn cannot execute arrives at the invalid-instruction hook: the module's
RDMSR/WRMSR sites (patched to UD2 by address, the originals kept), and the VMX/SEAM
instructions `decode` knows.  Anything else the CPU would fault on - a UD2 (the module's
fatal path), an exception, a page fault, an instruction seamemu does not emulate - stops the
run: on hardware an unexpected exception in SEAM root mode is fatal, so seamemu reports "the
module halted" with what it saw.  Every entry runs under an instruction bound and a time
bound.  Spec: SDM Vol. 3C §27 (VM exits), the TDX CPU architectural extensions (SEAMCALL,
SEAMRET); intel/tdx-module src/vmm_dispatcher/tdx_seamcall_entry_point.S and
tdx_seamret_to_vmm.S (which registers the module saves and restores).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from unicorn import (
    UC_ARCH_X86,
    UC_HOOK_CODE,
    UC_HOOK_INSN,
    UC_HOOK_INSN_INVALID,
    UC_HOOK_INTR,
    UC_HOOK_MEM_INVALID,
    UC_HOOK_TLB_FILL,
    UC_MODE_64,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
    UC_TLB_VIRTUAL,
    Uc,
    UcError,
)
from unicorn import unicorn_const as UCC
from unicorn import x86_const as X

from seamemu.jsonout import hex64
from seamemu.machine.faults import vector_name
from seamemu.machine.memory import PhysicalMemory
from seamemu.machine.regs import INDEX, NAMES, RFLAGS, RIP, RSP, RegFile
from seamemu.machine.seam import vmcs as V
from seamemu.machine.seam.decode import Decoded, decode
from seamemu.machine.seam.image import ModuleImage
from seamemu.machine.seam.insns import EMULATED, HaltRun
from seamemu.machine.seam.layout import SeamLayout
from seamemu.machine.seam.paging import Translator
from seamemu.platform.cpuid_table import Regs, cpuid

UD2 = b"\x0f\x0b"
SEAMCALL_EXIT_REASON = 76
SEAMCALL_LENGTH = 4
_MASK64 = (1 << 64) - 1
_CF, _ARITH = 0x1, 0x8D5


@dataclass
class SeamExit:
    """How one entry into the module ended."""

    kind: str                         # "seamret", "halt" or "bound"
    reason: str = ""
    rip: int = 0                      # linear RIP where it stopped
    symbol: str = ""
    regs: dict[str, int] = field(default_factory=dict)   # GPRs at SEAMRET (or at the stop)
    guest_rip: int = 0
    insns: int = 0                    # instructions counted (0 when not counted)
    trace: list[tuple[int, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class SeamCpu:
    """Unicorn in SEAM root mode over the machine's physical memory."""

    def __init__(self, memory: PhysicalMemory, image: ModuleImage, layout: SeamLayout, *,
                 keyid_bits: int, msrs: Sequence[dict[int, int]],
                 cpuid_tables: Sequence[Mapping[tuple[int, int], Regs]],
                 slots: Sequence[int], patch_sites: Mapping[int, str],
                 seamops_caps: Sequence[int]):
        self.memory = memory
        self.image = image
        self.layout = layout
        self.msrs = list(msrs)
        self.cpuid_tables = list(cpuid_tables)
        self.slots = list(slots)
        self.seamops_caps = list(seamops_caps)         # SEAMOPS(CAPABILITIES) per LP
        self.patch_sites = dict(patch_sites)          # image offset -> "rdmsr"/"wrmsr"/"invlpg"
        self.vmcs = V.VmcsStore()
        self.translator = Translator(memory, layout.pml4_pa, keyid_bits)
        self.lp = 0
        self.deadline = float("inf")
        self.stop: SeamExit | None = None
        self.notes: list[str] = []
        self.halt_report: str = ""
        self.pconfig_log: list[tuple[int, int, int]] = []   # (package slot, keyid, command)
        self._decoded: dict[int, Decoded | None] = {}
        self._tracing: list[tuple[int, bytes]] | None = None
        self._trace_limit = 0
        self._control: tuple[int, ...] = ()
        self._backed: set[int] = set()                 # page frames known to be backed
        uc: Any = Uc(UC_ARCH_X86, UC_MODE_64)   # the binding's stubs lack the ctl_* calls
        self.uc = uc
        uc.ctl_set_cpu_model(X.UC_CPU_X86_SKYLAKE_SERVER)
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        memory.attach(uc)
        self.regfile = RegFile(uc)
        code = layout.code_la
        self._site_at = {code + off: kind for off, kind in self.patch_sites.items()
                         if kind in ("rdmsr", "wrmsr")}
        uc.hook_add(UC_HOOK_TLB_FILL, self._on_tlb_fill)
        uc.hook_add(UC_HOOK_INSN_INVALID, self._on_invalid)
        uc.hook_add(UC_HOOK_INSN, self._on_cpuid, None, 1, 0, X.UC_X86_INS_CPUID)
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        uc.hook_add(UC_HOOK_MEM_INVALID, self._on_mem_invalid)
        for off, kind in self.patch_sites.items():
            if kind == "invlpg":
                uc.hook_add(UC_HOOK_CODE, self._on_invlpg, None, code + off, code + off)
        for name in ("tdx_report_error_and_halt",):
            try:
                at = code + image.symbol_offset(name)
            except KeyError:
                continue
            uc.hook_add(UC_HOOK_CODE, self._on_report_error, None, at, at)

    # -- symbols -------------------------------------------------------------------------------
    def symbolize(self, la: int) -> str:
        off = la - self.layout.code_la
        if 0 <= off < self.image.size:
            return self.image.symbolize(off)
        return hex64(la)

    def original_bytes(self, la: int, size: int) -> bytes:
        """Code as the image has it (patched MSR sites restored), for traces and reports."""
        off = la - self.layout.code_la
        if 0 <= off < self.image.size:
            return self.image.data[off:off + size]
        return self.translator.read(la, size) or b""

    # -- entry and exit ------------------------------------------------------------------------
    def enter(self, lp: int, regs: Mapping[str, int], *, caller_rip: int, caller_rsp: int,
              caller_rflags: int, max_insns: int, timeout_s: float,
              trace: int = 0) -> SeamExit:
        """One SEAMCALL from `lp`: the VM exit, the module's run, and how it stopped; with
        `trace`, the first `trace` instructions the module ran (address, original bytes)."""
        self.lp = lp
        slot = self.slots[lp]
        seam_vmcs = self.layout.vmcs_pa(slot)
        fields = self.vmcs.region(seam_vmcs)
        self.vmcs.make_current(lp, seam_vmcs)
        fields[V.EXIT_REASON] = SEAMCALL_EXIT_REASON
        fields[V.EXIT_INSTRUCTION_LENGTH] = SEAMCALL_LENGTH
        fields[V.EXIT_QUALIFICATION] = 0
        fields[V.GUEST_RIP] = caller_rip
        fields[V.GUEST_RSP] = caller_rsp
        fields[V.GUEST_RFLAGS] = caller_rflags
        fields[V.GUEST_INTERRUPTIBILITY] = 0
        fields[V.GUEST_PENDING_DEBUG] = 0
        fields[V.GUEST_DEBUGCTL] = 0
        uc = self.uc
        control = (fields[0x6C00], fields[0x6C04], fields[0x6C02], fields[0x2C02])
        if control != self._control:
            # Writing CR0/CR3/CR4 flushes Unicorn's TLB; the values are the same for every LP
            # and every entry, so they are written once (and after each load).
            uc.reg_write(X.UC_X86_REG_CR0, control[0])
            uc.reg_write(X.UC_X86_REG_CR4, control[1])
            uc.reg_write(X.UC_X86_REG_CR3, control[2])
            uc.msr_write(0xC0000080, control[3])         # IA32_EFER
            self._control = control
        uc.reg_write(X.UC_X86_REG_FS_BASE, fields[0x6C06])
        uc.reg_write(X.UC_X86_REG_GS_BASE, fields[0x6C08])
        vals = [regs.get(name, 0) & _MASK64 for name in NAMES]
        vals[RSP] = fields[0x6C14]
        vals[RFLAGS] = 0x2
        vals[RIP] = fields[0x6C16]
        self.regfile.write(vals)
        self.stop = None
        self.notes = []
        self.halt_report = ""
        self.deadline = time.perf_counter() + timeout_s
        hook = None
        if trace:
            self._tracing = []
            self._trace_limit = trace
            hook = uc.hook_add(UC_HOOK_CODE, self._on_trace, None, self.layout.code_la,
                               self.layout.code_la + self.image.size)
            uc.ctl_flush_tb()           # blocks translated before the hook would skip it
        try:
            try:
                uc.emu_start(fields[0x6C16], 0, 0, max_insns)
            except UcError as err:
                if self.stop is None:
                    rip = self.regfile.read()[RIP]
                    self.stop = SeamExit("halt", f"the emulator stopped: {err}", rip)
        finally:
            if hook is not None:
                uc.hook_del(hook)
                uc.ctl_flush_tb()
        vals = self.regfile.read()
        out = self.stop
        if out is None:
            out = SeamExit("bound", f"ran past the bound of {max_insns} instructions without "
                           "SEAMRET", vals[RIP])
        out.rip = out.rip or vals[RIP]
        out.symbol = self.symbolize(out.rip)
        out.regs = {name: vals[INDEX[name]] for name in NAMES if name not in ("rip", "rflags")}
        out.notes = self.notes
        if out.kind == "seamret":
            cur = self.vmcs.vmcs[seam_vmcs]
            out.guest_rip = cur.get(V.GUEST_RIP, 0)
            out.regs["rsp"] = cur.get(V.GUEST_RSP, caller_rsp)
        if self._tracing is not None:
            out.trace, self._tracing = self._tracing, None
        return out

    def invalidate(self) -> None:
        """New page tables or code were written (a load): drop every cached translation."""
        self.translator.flush()
        self._control = ()
        self.uc.ctl_flush_tb()

    def _halt(self, reason: str, rip: int) -> bool:
        if self.stop is None:
            self.stop = SeamExit("halt", reason, rip)
        self.uc.emu_stop()
        return False

    # -- hooks ---------------------------------------------------------------------------------
    def _on_tlb_fill(self, uc, va: int, access: int, entry, _user) -> bool:
        try:
            t = self.translator.walk(va)
            if t is None:
                kind = {UCC.UC_MEM_FETCH: "fetch", UCC.UC_MEM_WRITE: "write"}.get(access, "read")
                return self._halt(f"page fault: {kind} of linear 0x{va:016x}, which the "
                                  "module's page tables do not map", self.regfile.read()[RIP])
            if t.pa not in self._backed and not self._back(t.pa):
                return self._halt(f"access to physical 0x{t.pa | (va & 0xFFF):x} (KeyID "
                                  f"{t.keyid}), which is not present on this platform "
                                  "(hardware would read all-ones; seamemu stops)",
                                  self.regfile.read()[RIP])
            entry.paddr = t.pa
            entry.perms = (UC_PROT_READ | (UC_PROT_WRITE if t.writable else 0)
                           | (UC_PROT_EXEC if t.executable else 0))
            return True
        except BaseException as exc:
            return self._halt(f"seamemu error in the page walk: {exc!r}", 0)

    def _back(self, pa: int) -> bool:
        if not self.memory.on_unmapped(pa, 1):
            return False
        self._backed.add(pa)
        return True

    def _on_invalid(self, uc, _user) -> bool:
        vals = self.regfile.read()
        rip = vals[RIP]
        try:
            if time.perf_counter() > self.deadline:
                self.stop = SeamExit("bound", "ran past the time bound without SEAMRET", rip)
                uc.emu_stop()
                return False
            site = self._site_at.get(rip)
            if site is not None:
                EMULATED[site](self, vals, None)
                vals[RIP] = rip + 2
                self.regfile.write(vals)
                return True
            if rip in self._decoded:
                insn = self._decoded[rip]
            else:
                code = self.translator.read(rip, 16) or b""
                insn = self._decoded[rip] = decode(code) if code else None
            if insn is None:
                code = self.original_bytes(rip, 16)
                what = "ud2" if code[:2] == UD2 else f"bytes {code[:8].hex(' ')}"
                return self._halt(f"#UD at {self.symbolize(rip)} ({what})", rip)
            if insn.name == "seamret":
                self.stop = SeamExit("seamret", "", rip)
                uc.emu_stop()
                return False
            EMULATED[insn.name](self, vals, insn)
            vals[RIP] = rip + insn.length
            self.regfile.write(vals)
            return True
        except HaltRun as halt:
            return self._halt(str(halt), rip)
        except BaseException as exc:
            return self._halt(f"seamemu error emulating the instruction at "
                              f"{self.symbolize(rip)}: {exc!r}", rip)

    def _on_cpuid(self, uc, _user) -> int:
        try:
            leaf = uc.reg_read(X.UC_X86_REG_RAX) & 0xFFFFFFFF
            sub = uc.reg_read(X.UC_X86_REG_RCX) & 0xFFFFFFFF
            eax, ebx, ecx, edx = cpuid(self.cpuid_tables[self.lp], leaf, sub)
            uc.reg_write(X.UC_X86_REG_RAX, eax)
            uc.reg_write(X.UC_X86_REG_RBX, ebx)
            uc.reg_write(X.UC_X86_REG_RCX, ecx)
            uc.reg_write(X.UC_X86_REG_RDX, edx)
        except BaseException as exc:
            self._halt(f"seamemu error answering CPUID: {exc!r}", 0)
        return 1  # skip Unicorn's own CPUID

    def _on_intr(self, uc, intno: int, _user) -> None:
        rip = self.regfile.read()[RIP]
        self._halt(f"{vector_name(intno)} (vector {intno}) at {self.symbolize(rip)}: an "
                   "exception in SEAM root mode is fatal", rip)

    def _on_mem_invalid(self, uc, access: int, address: int, size: int, _value, _user) -> bool:
        rip = self.regfile.read()[RIP]
        what = {UCC.UC_MEM_WRITE_PROT: "write to read-only",
                UCC.UC_MEM_FETCH_PROT: "fetch from non-executable"}.get(access, "access to")
        return self._halt(f"{what} linear 0x{address:016x} at {self.symbolize(rip)} (#PF)", rip)

    def _on_invlpg(self, uc, address: int, size: int, _user) -> None:
        # The module edits a keyhole PTE and invalidates it; Unicorn flushes its own TLB entry
        # when it runs the INVLPG, the translation cache for emulated instructions is cleared.
        self.translator.flush()

    def _on_report_error(self, uc, address: int, size: int, _user) -> None:
        # tdx_report_error_and_halt(source_id, code): ERROR_CODE(source, code) names the check
        # (M15 src/common/helpers/error_reporting.c); the halt itself follows at its UD2.
        source = uc.reg_read(X.UC_X86_REG_RDI) & 0xFFFFFFFF
        code = uc.reg_read(X.UC_X86_REG_RSI) & 0xFFFFFFFF
        self.halt_report = (f"tdx_report_error_and_halt(source 0x{source:x}, code 0x{code:x}) "
                            f"called from {self.caller()}")

    def caller(self, depth: int = 16) -> str:
        """The nearest return address on the stack into the module's code, symbolised: who
        called the function the run stopped in (a frame may sit between, so scan)."""
        rsp = self.uc.reg_read(X.UC_X86_REG_RSP)
        data = self.translator.read(rsp, 8 * depth) or b""
        lo, hi = self.layout.code_la, self.layout.code_la + self.image.size
        for i in range(0, len(data), 8):
            value = int.from_bytes(data[i:i + 8], "little")
            if lo <= value < hi:
                return self.symbolize(value)
        return "an unknown caller"

    def _on_trace(self, uc, address: int, size: int, _user) -> None:
        if self._tracing is not None and len(self._tracing) < self._trace_limit:
            self._tracing.append((address, self.original_bytes(address, size)))


__all__ = ["SEAMCALL_EXIT_REASON", "SeamCpu", "SeamExit"]
