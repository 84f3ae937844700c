# SPDX-License-Identifier: MIT
"""Intel's TDX module behind the SEAMCALL trap: loaded like the P-SEAMLDR does, run on the SEAM
CPU, every call recorded like the model's.

`RealModule` implements the module half of seamemu.traps.target.SeamTarget (bit 63 = 0); the
session puts the modelled P-SEAMLDR beside it for bit 63 = 1.  `load()` plays SEAMLDR.INSTALL
into the platform's SEAMRR (layout.py); `reset()` does it again, which is also what a fresh
module after SEAMLDR.INSTALL looks like.  A module that halts (its fatal UD2, an exception,
an instruction seamemu does not emulate, a run past the bound) answers every later SEAMCALL
with the same halt until it is reset, as a halted SEAM would answer none.

The lifecycle state in the call records is read from the module's own global data: the byte
the dispatcher compares with SYS_SHUTDOWN (`mov disp32(%reg),%al; cmp $4,%al` in
tdx_vmm_dispatcher, M15 tdx_vmm_dispatcher.c) gives its offset; if the pattern is not found
the state reads "unknown" rather than a guess.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seamemu.arch.leaves import RAX_LEAF_MASK, RAX_VERSION_SHIFT, leaf_info
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.status import status_name
from seamemu.arch.sys_state import SysState
from seamemu.machine.memory import CHUNK, PhysicalMemory
from seamemu.machine.results import Bounds
from seamemu.machine.seam.cpu import SeamCpu, SeamExit
from seamemu.machine.seam.image import HALT_SYMBOLS, ModuleImage
from seamemu.machine.seam.layout import (
    PAGE,
    SeamLayout,
    layout_for,
    page_tables,
    seam_vmcs_host,
    sysinfo_page,
)
from seamemu.platform.cpuid_table import (
    FAMILY_MODEL_STEPPING,
    addressable_lps_per_package,
    cpuid_table,
    x2apic_id,
)
from seamemu.platform.facts import Platform
from seamemu.platform.msr_values import msr_values, seamops_capabilities
from seamemu.traps.target import CallRecord, GuestMemory, SeamReply

UD2 = b"\x0f\x0b"


def sys_state_offset(image: ModuleImage) -> int | None:
    """Offset of sys_state in tdx_module_global_t, from the dispatcher's SYS_SHUTDOWN test."""
    try:
        start = image.symbol_offset("tdx_vmm_dispatcher")
    except KeyError:
        return None
    code = image.data[start:start + 0x600]
    at = 0
    while True:
        at = code.find(b"\x3c\x04", at + 1)          # cmp $0x4,%al
        if at < 0:
            return None
        for length in (7, 8):                          # [REX] 8A /0 [SIB] disp32
            op = at - length
            if op < 0:
                continue
            i = op + (1 if 0x40 <= code[op] <= 0x4F else 0)
            if code[i] != 0x8A or code[i + 1] & 0xF8 != 0x80:
                continue
            i += 2 + (1 if code[i + 1] & 7 == 4 else 0)
            if i + 4 == at:
                return struct.unpack_from("<I", code, i)[0]


@dataclass(frozen=True)
class ModuleStateView:
    """What the host side may ask of the module's state (the model's ModuleState subset)."""

    sys_state: SysState | None
    lp_init: frozenset[int]


class RealModule:
    """TDX module calls (RAX bit 63 = 0) served by Intel's binary on the SEAM CPU."""

    abi = "1.5"

    def __init__(self, platform: Platform, image: ModuleImage, memory: PhysicalMemory, *,
                 patch_sites: Mapping[int, str], msrs: Sequence[dict[int, int]] | None = None,
                 bounds: Bounds | None = None):
        seamrr = platform.seamrr_of(0).range(platform.max_pa) if platform.seamrr else None
        if seamrr is None:
            from seamemu.errors import InputError
            raise InputError(f"platform {platform.name}: no SEAM range (SEAMRR) to load the "
                             "TDX module into")
        self.platform = platform
        self.image = image
        self.memory = memory
        self.bounds = bounds or Bounds()
        self.layout: SeamLayout = layout_for(
            image, seamrr_base=seamrr[0], seamrr_size=seamrr[1], packages=platform.packages,
            lps_per_package=addressable_lps_per_package(platform))
        if seamrr[0] % CHUNK == 0 and seamrr[1] % CHUNK == 0:
            memory.add_fixed(seamrr[0], seamrr[1], "seamrr")
        self.slots = [x2apic_id(platform, lp) for lp in range(platform.num_lps)]
        self.msrs = list(msrs) if msrs is not None else [
            msr_values(platform, lp) for lp in range(platform.num_lps)]
        self.cpu = SeamCpu(memory, image, self.layout, keyid_bits=platform.keyid_bits,
                           msrs=self.msrs,
                           cpuid_tables=[cpuid_table(platform, lp)
                                         for lp in range(platform.num_lps)],
                           slots=self.slots, patch_sites=patch_sites,
                           seamops_caps=[seamops_capabilities(platform, lp)
                                         for lp in range(platform.num_lps)])
        self._state_offset = sys_state_offset(image)
        self.records: list[CallRecord] = []
        self.halted: str = ""
        self.lp_init: set[int] = set()
        self.last_exit: SeamExit | None = None
        self.tracing = False                  # record the module's instructions per call
        self.trace_limit = 1_000_000
        self.traces: list[tuple[int, list[tuple[int, bytes]]]] = []   # (record seq, steps)
        self._seq = 0
        self.load()

    # -- the P-SEAMLDR's part ------------------------------------------------------------------
    def load(self) -> None:
        """SEAMLDR.INSTALL for this image: code, page tables, sysinfo, zeroed data, SEAM VMCSs."""
        lay, mem, img = self.layout, self.memory, self.image
        code = bytearray(img.data)
        for off, addend in img.relocations:
            struct.pack_into("<Q", code, off, lay.code_la + addend)
        for off, kind in self.cpu.patch_sites.items():
            if kind in ("rdmsr", "wrmsr"):
                code[off:off + 2] = UD2
        mem.write(lay.code_pa, bytes(code))
        mem.write(lay.seamrr_base, sysinfo_page(
            lay, total_lps=self.platform.tot_num_lps,
            total_sockets=self.platform.tot_num_sockets, fms=FAMILY_MODEL_STEPPING,
            cmrs=tuple((c.base, c.size) for c in self.platform.cmrs)))
        mem.write(lay.seamrr_base + PAGE, bytes(PAGE * lay.num_addressable_lps))
        mem.write(lay.data_pa, bytes(lay.data_size))
        mem.write(lay.stack_pa, bytes(lay.stack_size))
        for pa, table in page_tables(lay).items():
            mem.write(pa, table)
        self.cpu.vmcs.vmcs.clear()
        self.cpu.vmcs.current.clear()
        for slot in set(self.slots):
            self.cpu.vmcs.region(lay.vmcs_pa(slot)).update(seam_vmcs_host(lay, slot))
        self.cpu.invalidate()
        self.cpu.pconfig_log.clear()
        self.halted = ""
        self.lp_init = set()

    def reset(self) -> None:
        """A freshly installed module (SYSINIT_PENDING); records are kept."""
        self.load()

    # -- facts ---------------------------------------------------------------------------------
    def sys_state(self) -> SysState | None:
        if self._state_offset is None:
            return None
        lay = self.layout
        global_pa = lay.data_pa + lay.handoff_size + lay.local_data_size * lay.num_addressable_lps
        value = self.memory.read(global_pa + self._state_offset, 1)[0]
        return SysState(value) if value in SysState._value2member_map_ else None

    def state_name(self) -> str:
        if self.halted:
            return "HALTED"
        st = self.sys_state()
        return st.name if st is not None else "unknown"

    @property
    def state(self) -> ModuleStateView:
        return ModuleStateView(self.sys_state(), frozenset(self.lp_init))

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- SeamTarget (module side) --------------------------------------------------------------
    def module_loaded(self) -> bool:
        return True

    def seamcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory,
                 seq: int | None = None) -> SeamReply:
        rax = regs.get("rax", 0) & ((1 << 64) - 1)
        leaf, version = rax & RAX_LEAF_MASK, (rax >> RAX_VERSION_SHIFT) & 0xFF
        info = leaf_info(leaf, self.abi) if rax >> 24 == 0 else None
        before = self.state_name()
        # Every ABI register at the SEAMCALL (the contract's `inputs`); which of them Intel's
        # code read is not observed, so `consumed` stays empty.
        inputs = {r: regs.get(r, 0) & ((1 << 64) - 1) for r in ABI_ORDER}
        rec: dict[str, Any] = dict(
            seq=seq if seq is not None else self.next_seq(), lp=lp, leaf=leaf,
            leaf_name=info.name if info else "unknown", version=version, inputs=inputs,
            state_before=before)
        if self.halted:
            return self._halt_reply(rec, f"the module halted earlier: {self.halted}")
        ex = self.cpu.enter(lp, regs, caller_rip=0, caller_rsp=0, caller_rflags=0x2,
                            max_insns=self.bounds.max_insns, timeout_s=self.bounds.timeout_s,
                            trace=self.trace_limit if self.tracing else 0)
        self.last_exit = ex
        if self.tracing:
            self.traces.append((rec["seq"], ex.trace))
        if ex.kind != "seamret":
            self.halted = self._halt_reason(ex)
            return self._halt_reply(rec, f"the module halted: {self.halted}")
        status = ex.regs["rax"]
        outputs = {r: ex.regs[r] for r in ABI_ORDER
                   if r != "rax" and ex.regs[r] != (regs.get(r, 0) & ((1 << 64) - 1))}
        if status == 0 and info is not None and info.name == "TDH.SYS.LP.INIT":
            self.lp_init.add(lp)
        notes = list(ex.notes)
        if ex.guest_rip != 4:
            notes.append(f"the module set the VMM's RIP to +{ex.guest_rip:#x}, not past "
                         "the 4-byte SEAMCALL")
        for slot, keyid, command in self.cpu.pconfig_log:
            notes.append(f"PCONFIG programmed KeyID {keyid} (command {command}) for x2APIC "
                         f"ID {slot}")
        self.cpu.pconfig_log.clear()
        record = CallRecord(outputs=outputs, status=status, status_name=status_name(status),
                            state_after=self.state_name(),
                            note="; ".join(["Intel's module"] + notes), **rec)
        self.records.append(record)
        return SeamReply(regs={"rax": status, **outputs}, record=record)

    def _halt_reason(self, ex: SeamExit) -> str:
        reason = ex.reason
        if ex.symbol.split("+")[0] in HALT_SYMBOLS or self.cpu.halt_report:
            reason = (self.cpu.halt_report or
                      f"its fatal-error path ({ex.symbol}: UD2), called from "
                      f"{self.cpu.caller()}")
        if ex.kind == "bound":
            reason = f"{ex.reason} (at {ex.symbol})"
        return reason

    def _halt_reply(self, rec: dict[str, Any], note: str) -> SeamReply:
        record = CallRecord(outputs={}, status=rec["inputs"]["rax"], status_name="halted",
                            state_after=self.state_name(), note=note, **rec)
        self.records.append(record)
        return SeamReply(regs={}, fault="halt", record=record)


__all__ = ["ModuleStateView", "RealModule", "sys_state_offset"]
