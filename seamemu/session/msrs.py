"""Wiring the platform's MSRs into a machine: where the RDMSR/WRMSR are, and what they read.

The machine traps only the RDMSR/WRMSR sites it is given (it patches each to UD2), so they
must be real instructions, not bytes 0F 32 that happen to sit inside another instruction or
a constant.  The front end's line map gives instruction boundaries (one line per emitted item
with keystone; with GNU as one line per source line, so a macro's expansion is one span), and
each span is disassembled linearly from its start.  Spans that a data directive emitted are
skipped; an executable section without line information is disassembled from its start.
"""

from __future__ import annotations

import weakref

from seamemu.arch.opcodes import RDMSR, WRMSR
from seamemu.image import Image
from seamemu.machine import Machine
from seamemu.platform.facts import Platform
from seamemu.platform.msrs import msr_values
from seamemu.trace import disassemble

# Directives that emit data, not instructions (`.byte` is left out: kernel code spells
# instructions the assembler does not know as `.byte` lines).
_DATA_DIRECTIVES = (".2byte", ".4byte", ".8byte", ".ascii", ".asciz", ".dc", ".fill", ".hword",
                    ".int", ".long", ".octa", ".quad", ".short", ".skip", ".space", ".string",
                    ".word", ".zero")
_OPCODES = {RDMSR: "rdmsr", WRMSR: "wrmsr"}
_CACHE: dict[int, tuple[weakref.ref, tuple[tuple[int, str], ...]]] = {}


def find_msr_sites(image: Image) -> tuple[tuple[int, str], ...]:
    """(address, "rdmsr"|"wrmsr") of every RDMSR/WRMSR instruction in executable sections."""
    cached = _CACHE.get(id(image))
    if cached is not None and cached[0]() is image:
        return cached[1]
    sites: list[tuple[int, str]] = []
    for sec in image.sections:
        if not sec.executable:
            continue
        lines = [ln for ln in image.lines if sec.address <= ln.address < sec.end]
        data = {ln.address for ln in lines if ln.text.lstrip().lower().startswith(_DATA_DIRECTIVES)}
        bounds = sorted({sec.address, *(ln.address for ln in lines)}) + [sec.end]
        for lo, hi in zip(bounds, bounds[1:]):
            if lo in data or hi <= lo:
                continue
            for insn in disassemble(sec.data[lo - sec.address:hi - sec.address], lo):
                name = _OPCODES.get(insn.bytes)
                if name is not None:
                    sites.append((insn.address, name))
    found = tuple(sites)
    _CACHE[id(image)] = (weakref.ref(image), found)
    return found


def platform_msr_tables(platform: Platform, num_lps: int) -> tuple[dict[int, int], ...]:
    """Each LP's boot MSR values; LPs beyond the platform's topology get LP 0's."""
    return tuple(msr_values(platform, i if i < platform.num_lps else 0) for i in range(num_lps))


def attach_platform_msrs(machine: Machine, platform: Platform) -> None:
    """Give the machine's LPs the platform's MSRs and trap the image's RDMSR/WRMSR."""
    machine.attach_msrs(platform_msr_tables(platform, len(machine.lps)),
                        find_msr_sites(machine.image))


__all__ = ["attach_platform_msrs", "find_msr_sites", "platform_msr_tables"]
