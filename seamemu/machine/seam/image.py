# SPDX-License-Identifier: MIT
"""A TDX module binary as the P-SEAMLDR receives it: an ELF64 PIE read into a flat image.

The module is linked as a position-independent executable whose file layout is its memory
layout (intel/tdx-module tdx_linker_script.lds), with only R_X86_64_RELATIVE relocations; the
P-SEAMLDR copies the pages into the top 2 MiB of SEAMRR and relocates them to the code
region's linear base (intel/tdx-loader p-seam-loader seamldr_install.c
seam_module_load_and_verify(), src/common/helpers/elf.c relocate_elf_image()).

seamemu has no sigstruct for a self-built module, so the symbols stand in for it: the entry
point (`tdx_seamcall_entry_point`, also e_entry) and the IDT/GDT page
(`tdx_idt_and_gdt_tables`, the sigstruct's gdt_idt_offset).  The generation is recognised by
the leaf handlers the module contains: a TDX 1.5 module has `tdh_sys_rd` and
`tdh_sys_update`; a 1.0 module has neither and is not what this loader lays out.

Spec: System V gABI "Object Files" (ELF header, program and section headers, symbol table);
x86-64 psABI §4.4 (R_X86_64_RELATIVE = 8: base + addend).
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from seamemu.errors import InputError
from seamemu.files import read_bytes

ET_DYN = 3
EM_X86_64 = 62
PT_LOAD = 1
SHT_SYMTAB = 2
SHT_RELA = 4
R_X86_64_RELATIVE = 8
STT_FUNC, STT_OBJECT = 2, 1
PAGE = 4096
CODE_REGION_SIZE = 2 << 20     # SEAMRR_MODULE_CODE_REGION_SIZE (tdx-loader pseamldr_data_types.h)

ENTRY_SYMBOL = "tdx_seamcall_entry_point"
IDT_GDT_SYMBOL = "tdx_idt_and_gdt_tables"
# Symbols whose presence names the generation (M15 src/vmm_dispatcher/api_calls/*.c).
GENERATION_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1.5", ("tdh_sys_rd", "tdh_sys_update")),
)
# Where a halt is reported from (M15 src/common/helpers/error_reporting.c).
HALT_SYMBOLS = ("tdx_arch_fatal_error", "tdx_report_error_and_halt")


@dataclass(frozen=True)
class ModuleImage:
    """The flat, unrelocated module image with what the loader needs to place it."""

    path: str
    data: bytes                          # file bytes up to the last loaded byte, page padded
    entry: int                           # offset of the SEAMCALL entry point
    idt_gdt: int                         # offset of the 4 KiB IDT (2 KiB) + GDT page
    relocations: tuple[tuple[int, int], ...]  # (offset, addend) of R_X86_64_RELATIVE
    symbols: tuple[tuple[int, int, str], ...]  # (offset, size, name), sorted, functions+objects
    text: tuple[int, int]                # (offset, size) of .text
    generation: str
    sha256: str
    _starts: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.data)

    def symbol_offset(self, name: str) -> int:
        for off, _size, sym in self.symbols:
            if sym == name:
                return off
        raise KeyError(name)

    def symbolize(self, offset: int) -> str:
        """`name+0xoff` for an image offset, or the bare hex offset outside every symbol."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0:
            off, size, name = self.symbols[i]
            if offset < off + max(size, 1) or size == 0:
                return f"{name}+0x{offset - off:x}" if offset != off else name
        return f"0x{offset:x}"


def load_module_image(path: str | Path, origin: str = "--module-binary") -> ModuleImage:
    """Read and check a TDX module binary; every refusal is one line naming the file and
    where its name came from (`origin`: the option, the environment variable, the platform)."""
    p = Path(path)
    # Bounded (seamemu.files): missing, a directory, a device or too large is one line.
    raw = read_bytes(p, origin, "TDX module image")
    return parse_module_image(raw, str(p), origin)


def parse_module_image(raw: bytes, name: str = "<module>",
                       origin: str = "--module-binary") -> ModuleImage:
    where = f"{origin} {name}"
    if raw[:4] != b"\x7fELF":
        raise InputError(f"{where}: not an ELF file, so not a TDX module image (libtdx.so)")
    if len(raw) < 64 or raw[4] != 2 or raw[5] != 1:
        raise InputError(f"{where}: not a little-endian ELF64 file, so not a TDX module image")
    e_type, e_machine = struct.unpack_from("<HH", raw, 16)
    if e_machine != EM_X86_64 or e_type != ET_DYN:
        raise InputError(f"{where}: ELF type {e_type} machine {e_machine}; a TDX module is an "
                         f"x86-64 position-independent executable (type {ET_DYN}, machine "
                         f"{EM_X86_64})")
    try:
        return _parse(raw, name, where)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{where}: truncated or malformed ELF ({exc})") from None


def _parse(raw: bytes, name: str, where: str) -> ModuleImage:
    e_entry, e_phoff, e_shoff = struct.unpack_from("<QQQ", raw, 24)
    e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHHHH", raw, 54)
    sections = [struct.unpack_from("<IIQQQQIIQQ", raw, e_shoff + i * e_shentsize)
                for i in range(e_shnum)]
    shstr = sections[e_shstrndx][4]

    def cstr(off: int) -> str:
        return raw[off:raw.index(b"\0", off)].decode()

    relocations: list[tuple[int, int]] = []
    kinds: set[int] = set()
    symbols: list[tuple[int, int, str]] = []
    text = (0, 0)
    for sh_name, sh_type, _fl, _addr, sh_offset, sh_size, sh_link, _info, _al, _entsize in sections:
        sname = cstr(shstr + sh_name)
        if sname == ".text":
            text = (sh_offset, sh_size)
        if sh_type == SHT_RELA:
            for k in range(sh_size // 24):
                r_offset, r_info, r_addend = struct.unpack_from("<QQq", raw, sh_offset + 24 * k)
                relocations.append((r_offset, r_addend))
                kinds.add(r_info & 0xFFFFFFFF)
        elif sh_type == SHT_SYMTAB:
            strtab = sections[sh_link][4]
            for k in range(sh_size // 24):
                st_name, st_info, _o, st_shndx, st_value, st_size = struct.unpack_from(
                    "<IBBHQQ", raw, sh_offset + 24 * k)
                if st_name and st_shndx and (st_info & 0xF) in (STT_FUNC, STT_OBJECT):
                    symbols.append((st_value, st_size, cstr(strtab + st_name)))
    names = {s[2]: s[0] for s in symbols}
    if not symbols:
        raise InputError(f"{where}: no symbol table, so not a TDX module image seamemu can "
                         "place (it finds the entry point and IDT by symbol: no sigstruct)")
    for needed in (ENTRY_SYMBOL, IDT_GDT_SYMBOL):
        if needed not in names:
            raise InputError(f"{where}: no symbol {needed}, so not a TDX module image")
    if kinds - {R_X86_64_RELATIVE}:
        raise InputError(f"{where}: relocation types {sorted(kinds - {R_X86_64_RELATIVE})}; "
                         "the P-SEAMLDR applies only R_X86_64_RELATIVE (8)")
    end = 0
    for i in range(e_phnum):
        p_type, _flags, p_offset, p_vaddr, _pa, p_filesz, p_memsz, _al = struct.unpack_from(
            "<IIQQQQQQ", raw, e_phoff + i * e_phentsize)
        if p_type != PT_LOAD:
            continue
        if p_offset != p_vaddr or p_filesz != p_memsz:
            raise InputError(f"{where}: segment at 0x{p_vaddr:x} is not laid out flat (file "
                             "offset = address, no BSS), as the P-SEAMLDR requires")
        end = max(end, p_vaddr + p_memsz)
    if not end:
        raise InputError(f"{where}: no loadable segment")
    size = (end + PAGE - 1) // PAGE * PAGE
    if size > CODE_REGION_SIZE:
        raise InputError(f"{where}: image of {size} bytes does not fit the 2 MiB code region")
    for r_offset, _addend in relocations:
        if not 0 <= r_offset <= size - 8:
            raise InputError(f"{where}: relocation at 0x{r_offset:x} outside the image")
    symbols = [sym for sym in symbols if sym[0] < size]
    if names[ENTRY_SYMBOL] != e_entry:
        raise InputError(f"{where}: ELF entry 0x{e_entry:x} is not {ENTRY_SYMBOL} "
                         f"(0x{names[ENTRY_SYMBOL]:x})")
    if names[IDT_GDT_SYMBOL] % PAGE:
        raise InputError(f"{where}: {IDT_GDT_SYMBOL} at 0x{names[IDT_GDT_SYMBOL]:x} is not "
                         "page aligned")
    generation = next((gen for gen, markers in GENERATION_MARKERS
                       if all(m in names for m in markers)), None)
    if generation is None:
        raise InputError(f"{where}: unknown TDX module version (no tdh_sys_rd/tdh_sys_update: "
                         "not a 1.5 module); seamemu's loader lays out TDX module 1.5 only")
    symbols.sort()
    data = raw[:size].ljust(size, b"\0")
    return ModuleImage(
        path=name, data=data, entry=e_entry, idt_gdt=names[IDT_GDT_SYMBOL],
        relocations=tuple(relocations), symbols=tuple(symbols), text=text,
        generation=generation, sha256=hashlib.sha256(raw).hexdigest(),
        _starts=tuple(s[0] for s in symbols))


__all__ = [
    "CODE_REGION_SIZE",
    "ENTRY_SYMBOL",
    "HALT_SYMBOLS",
    "IDT_GDT_SYMBOL",
    "ModuleImage",
    "load_module_image",
    "parse_module_image",
]
