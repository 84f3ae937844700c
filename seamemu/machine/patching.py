# SPDX-License-Identifier: MIT
"""Instructions Unicorn would run its own way, patched where the loader found them; CPUID values.

RDMSR and WRMSR: Unicorn would execute them itself (QEMU's own MSR values) and its Python
binding cannot hook them (2.1.4's uc_hook_add accepts only IN, OUT, SYSCALL, SYSENTER and
CPUID instruction hooks, unicorn-engine/unicorn#2297; RDMSR/WRMSR came later in PR #2298).
`attach_msrs` gives each LP its MSR values and rewrites each RDMSR/WRMSR site it is told
about into UD2 (same length), registered by address in the invalid-instruction table; every
other instruction runs exactly as before, so the fast path pays nothing.  The original bytes
are kept (`code_bytes`), and a genuine UD2 elsewhere still raises #UD.  MOV SS sites are
patched the same way (`attach_mov_ss`, machine/mov_ss.py), so the interrupt shadow SEAMCALL
checks can be observed.  `attach_cpuid` gives every LP the platform's CPUID table.

`CodePatching` is a part of `Machine` (its base class), kept in its own file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from seamemu.arch.msrs import IA32_SEAMRR_PHYS_BASE, IA32_SEAMRR_PHYS_MASK
from seamemu.arch.opcodes import RDMSR, WRMSR
from seamemu.errors import InputError
from seamemu.image import Image
from seamemu.machine.dispatch import InsnTable
from seamemu.machine.handlers import MSR_HANDLERS
from seamemu.machine.lp import LogicalProcessor
from seamemu.machine.memory import PhysicalMemory
from seamemu.machine.mov_ss import decode_mov_ss
from seamemu.platform.cpuid_table import Regs

# UD2: the invalid opcode a patched RDMSR/WRMSR/MOV SS starts with (two bytes).
# Spec: Intel SDM Vol. 2B "UD—Undefined Instruction" (0F 0B).
UD2 = b"\x0f\x0b"
MSR_OPCODES: dict[str, bytes] = {"rdmsr": RDMSR, "wrmsr": WRMSR}


class CodePatching:
    """Code patches, MSR values and CPUID fields of a Machine's LPs."""

    image: Image
    memory: PhysicalMemory
    lps: list[LogicalProcessor]
    insns: InsnTable
    _patched: dict[int, bytes]       # address -> the bytes the image had there
    _mov_ss_sites: set[int]
    _mov_ss_handler: Callable
    symbolize: Callable[[int], str]
    drop_translations: Callable[..., None]

    def patch(self, address: int, data: bytes) -> None:
        """Overwrite code and drop its translations on every LP so the new bytes run."""
        self.memory.write(address, data)
        self.drop_translations(address, address + len(data))

    def code_bytes(self, address: int, size: int) -> bytes:
        """Up to `size` bytes at `address` as the image wrote them (patched sites restored)."""
        data = bytearray(self.memory.peek(address, size))
        for site, original in self._patched.items():
            for i, b in enumerate(original):
                if 0 <= site + i - address < len(data):
                    data[site + i - address] = b
        return bytes(data)

    # -- MSRs ----------------------------------------------------------------------------------
    def attach_msrs(self, values: Sequence[Mapping[int, int]],
                    sites: Iterable[tuple[int, str]]) -> None:
        """Give LP i the MSRs `values[i]` and trap the RDMSR/WRMSR instructions at `sites`.

        `sites` are (address, "rdmsr"|"wrmsr") pairs at real instruction boundaries in an
        executable section (the session finds them by disassembly); each is patched to UD2
        and dispatched to seamemu.traps.msr.  Where `values[i]` holds IA32_SEAMRR_PHYS_BASE/
        _MASK, the LP's CpuState takes them too (SEAMCALL checks SEAMRR there).  Calling it
        again replaces the values and patches any new sites.
        """
        if len(values) != len(self.lps):
            raise InputError(f"attach_msrs: {len(values)} MSR tables for {len(self.lps)} "
                             "logical processors")
        todo = []
        for address, name in sites:
            opcode = MSR_OPCODES.get(name)
            if opcode is None:
                raise InputError(f"attach_msrs: site 0x{address:016x}: {name!r} is not rdmsr "
                                 "or wrmsr")
            if address in self._patched:
                if self._patched[address] != opcode:
                    raise InputError(f"attach_msrs: 0x{address:016x} was patched as another "
                                     "instruction")
                continue
            section = self.image.section_at(address)
            if section is None or not section.executable or address + len(opcode) > section.end:
                raise InputError(f"attach_msrs: {name} site 0x{address:016x} "
                                 f"<{self.symbolize(address)}> is not in an executable section")
            found = self.memory.read(address, len(opcode))
            if found != opcode:
                raise InputError(f"attach_msrs: {name} site 0x{address:016x} "
                                 f"<{self.symbolize(address)}> holds {found.hex(' ')}, "
                                 f"not {opcode.hex(' ')}")
            todo.append((address, name, opcode))
        for lp, table in zip(self.lps, values):
            lp.msrs = {int(k): int(v) for k, v in table.items()}
            if IA32_SEAMRR_PHYS_BASE in lp.msrs and IA32_SEAMRR_PHYS_MASK in lp.msrs:
                lp.cpu = lp.cpu.with_(seamrr_base_msr=lp.msrs[IA32_SEAMRR_PHYS_BASE],
                                      seamrr_mask_msr=lp.msrs[IA32_SEAMRR_PHYS_MASK])
        for address, name, opcode in todo:
            self.patch(address, UD2)
            self._patched[address] = opcode
            self.insns.add_address(address, name, MSR_HANDLERS[name])

    @property
    def msr_sites(self) -> dict[int, str]:
        """Patched RDMSR/WRMSR sites: address -> "rdmsr" | "wrmsr"."""
        names = {v: k for k, v in MSR_OPCODES.items()}
        return {a: names[b] for a, b in sorted(self._patched.items())
                if a not in self._mov_ss_sites}

    # -- CPUID -----------------------------------------------------------------------------------
    def attach_cpuid(self, tables: Sequence[Mapping[tuple[int, int], Regs]]) -> None:
        """Answer CPUID on each LP from its table (platform/cpuid_table.py), in LP order."""
        for lp, table in zip(self.lps, tables):
            lp.cpuid_table = table

    # -- MOV SS (machine/mov_ss.py) ------------------------------------------------------------
    def attach_mov_ss(self, sites: Iterable[int]) -> None:
        """Trap the MOV SS instructions at `sites` so their interrupt shadow is observed.

        Each site must start a MOV SS (8E /2) inside an executable section (the session finds
        them by disassembly).  Its first two bytes become UD2 and the instruction is emulated
        by machine/mov_ss.py; calling it again patches only new sites.
        """
        todo = []
        for address in sites:
            if address in self._mov_ss_sites:
                continue
            section = self.image.section_at(address)
            found = self.memory.read(address, 16) if section is not None else b""
            decoded = decode_mov_ss(found)
            if (section is None or not section.executable or decoded is None
                    or address + decoded[0] + 1 > section.end or address in self._patched):
                raise InputError(f"attach_mov_ss: 0x{address:016x} <{self.symbolize(address)}> "
                                 "does not start a MOV SS in an executable section")
            todo.append((address, found[:len(UD2)]))
        for address, original in todo:
            self.patch(address, UD2)
            self._patched[address] = original
            self._mov_ss_sites.add(address)
            self.insns.add_address(address, "mov ss", self._mov_ss_handler)

    @property
    def mov_ss_sites(self) -> tuple[int, ...]:
        return tuple(sorted(self._mov_ss_sites))


__all__ = ["CodePatching", "MSR_OPCODES", "UD2"]
