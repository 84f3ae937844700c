# SPDX-License-Identifier: MIT
"""Wiring the platform's MSRs into a machine: where the RDMSR/WRMSR are, and what they read;
and where the MOV SS instructions are, whose interrupt shadow the machine must observe.

The machine traps only the RDMSR/WRMSR and MOV SS sites it is given (it patches each to UD2),
so they must be real instructions, not bytes 0F 32 inside another instruction or a constant.
Code is
decoded from known instruction starts: the section start, every line the front end mapped
(one per emitted item with keystone; with GNU as one per source line, so a macro expansion
is one span and data directives get no line of their own), every label, every exception-
table address, and every direct branch target found on the way.  Decoding runs linearly from
each start and stops after an unconditional transfer (ret, jmp, ud2, ...), so data placed
after a function's last instruction is not mistaken for code; lines that a data directive
emitted are never decoded.
"""

from __future__ import annotations

import weakref

from seamemu.arch.opcodes import RDMSR, WRMSR
from seamemu.disasm import disassemble_one
from seamemu.image import Image, Section
from seamemu.machine import Machine
from seamemu.platform.facts import Platform
from seamemu.platform.msr_values import msr_values

# Directives that emit data, not instructions (`.byte` is left out: kernel code spells
# instructions the assembler does not know as `.byte` lines).
_DATA_DIRECTIVES = (".2byte", ".4byte", ".8byte", ".ascii", ".asciz", ".dc", ".fill", ".hword",
                    ".int", ".long", ".octa", ".quad", ".short", ".skip", ".space", ".string",
                    ".word", ".zero")
# After these the next bytes are only reached through a label or a branch.
_TERMINATORS = frozenset({"(bad)", "iret", "iretq", "jmp", "jmpq", "ljmp", "ret", "retq",
                          "sysret", "sysretq", "ud2"})
_OPCODES = {RDMSR: "rdmsr", WRMSR: "wrmsr"}
# id(image) -> its trapped sites: an analysis of an immutable Image, dropped with the image.
_CACHE: dict[int, tuple[weakref.ref, tuple[tuple[int, str], ...]]] = {}


def _branch_target(mnemonic: str, op_str: str) -> int | None:
    if not mnemonic.startswith(("j", "call")):
        return None
    try:
        return int(op_str, 16)
    except ValueError:  # indirect: *%rax, *(%rip) ...
        return None


def _section_sites(image: Image, sec: Section) -> list[tuple[int, str]]:
    """(address, "rdmsr" | "wrmsr" | "mov ss") of the trapped instructions in `sec`."""
    lines = [ln for ln in image.lines if sec.address <= ln.address < sec.end]
    data = [(ln.address, ln.address + ln.size) for ln in lines
            if ln.text.lstrip().lower().startswith(_DATA_DIRECTIVES)]
    starts = {sec.address, *(ln.address for ln in lines),
              *(a for a in image.symbols.values() if sec.address <= a < sec.end),
              *(a for e in image.extable for a in (e.fault, e.fixup)
                if sec.address <= a < sec.end)}
    work = sorted(starts, reverse=True)
    seen: set[int] = set()
    sites = []
    while work:
        pc = work.pop()
        while sec.address <= pc < sec.end and pc not in seen:
            if any(b <= pc < e for b, e in data):
                break
            seen.add(pc)
            off = pc - sec.address
            insn = disassemble_one(sec.data[off:off + 16], pc)
            name = _OPCODES.get(insn.bytes)
            if name is not None:
                sites.append((pc, name))
            elif insn.mnemonic.startswith("mov") and insn.op_str.endswith(", %ss"):
                sites.append((pc, "mov ss"))
            target = _branch_target(insn.mnemonic, insn.op_str)
            if target is not None and sec.address <= target < sec.end:
                work.append(target)
            pc += insn.size
            if insn.mnemonic in _TERMINATORS:
                break
    return sites


def _all_sites(image: Image) -> tuple[tuple[int, str], ...]:
    cached = _CACHE.get(id(image))
    if cached is not None and cached[0]() is image:
        return cached[1]
    found = tuple(sorted(site for sec in image.sections if sec.executable
                         for site in _section_sites(image, sec)))
    key = id(image)
    _CACHE[key] = (weakref.ref(image), found)
    weakref.finalize(image, _CACHE.pop, key, None)   # forgotten with the image
    return found


def find_msr_sites(image: Image) -> tuple[tuple[int, str], ...]:
    """(address, "rdmsr"|"wrmsr") of every RDMSR/WRMSR instruction in executable sections."""
    return tuple(site for site in _all_sites(image) if site[1] != "mov ss")


def find_mov_ss_sites(image: Image) -> tuple[int, ...]:
    """The address of every MOV SS instruction in executable sections."""
    return tuple(a for a, name in _all_sites(image) if name == "mov ss")


def platform_msr_tables(platform: Platform, num_lps: int) -> tuple[dict[int, int], ...]:
    """Each LP's boot MSR values; LPs beyond the platform's topology get LP 0's."""
    return tuple(msr_values(platform, i if i < platform.num_lps else 0) for i in range(num_lps))


def attach_platform_msrs(machine: Machine, platform: Platform) -> None:
    """Give the machine's LPs the platform's MSRs and trap the image's RDMSR/WRMSR and MOV SS."""
    machine.attach_msrs(platform_msr_tables(platform, len(machine.lps)),
                        find_msr_sites(machine.image))
    attach_mov_ss_sites(machine)


def attach_mov_ss_sites(machine: Machine) -> None:
    """Trap the image's MOV SS instructions, so a SEAMCALL in their shadow raises #GP(0)."""
    machine.attach_mov_ss(find_mov_ss_sites(machine.image))


__all__ = ["attach_mov_ss_sites", "attach_platform_msrs", "find_mov_ss_sites", "find_msr_sites",
           "platform_msr_tables"]
