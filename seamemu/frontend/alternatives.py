# SPDX-License-Identifier: MIT
"""The kernel's alternatives (.altinstructions) read from objects and applied to an Image.

`read_table` decodes one object's `.altinstructions` (after relocation) into `AltEntry`s;
`apply_alternatives` patches the image as the kernel's apply_alternatives() patches itself at
boot, for the CPU a CPUID table describes: for each entry in table order whose feature the CPU
has (or lacks, with ALT_NOT), the replacement is copied over the original, a relative
CALL/JMP/Jcc in it re-aimed at the same target from its new place, and the rest of the
original's bytes filled with NOPs.  A feature the CPUID table cannot decide (a Linux-defined
word, an X86_BUG_*, a word whose meaning changed across the releases of the entry's layout)
is an error naming the object, the site and the feature, unless the caller chose `original`
(patch nothing, as a CPU without any feature) or `patched` (apply every entry).

seamemu's own commentary: a kernel tests its x86_capability bits, which start as CPUID and
then lose the features the kernel disables (by configuration, command line, or dependency:
cpuid-deps.c); seamemu sees only CPUID.  NOPs are one byte each (0x90, what the kernel writes
before optimize_nops() merges a run into long NOPs: the same effect, more instructions in a
trace).

Spec: Linux arch/x86/kernel/alternative.c apply_alternatives() (patch when
`boot_cpu_has(feature) != !!(flags & ALT_FLAG_NOT)`, table order, a later entry overwriting an
earlier one) and apply_relocation() (relative branches whose target lies outside the
replacement re-aimed), at 06d07429858317ded2db7986113a9e0129cd599b; the feature words as
seamemu.arch.cpufeatures tables them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..arch.cpufeatures import (
    ALT_FLAG_DIRECT_CALL,
    ALT_FLAG_NOT,
    ALT_LAYOUTS,
    ALTINSTR_FLAG_INV,
    WORDS_BY_NUMBER,
    X86_FEATURE_ALWAYS,
    FeatureWord,
    feature_name,
)
from ..disasm import decode_structure, disassemble
from ..errors import AsmError
from ..image import AltEntry, Image
from ..platform.cpuid_table import Regs, cpuid

ALT_SECTION = ".altinstructions"
MODES = ("cpu", "original", "patched")
_REGISTER = {"eax": 0, "ebx": 1, "ecx": 2, "edx": 3}
_LEGACY_PREFIXES = frozenset(b"\x26\x2e\x36\x3e\x64\x65\x66\x67\xf0\xf2\xf3")


def read_table(data: bytes, address: int, entries: int, origin: str) -> tuple[AltEntry, ...]:
    """The `entries` struct alt_instr in one object's relocated `.altinstructions` at `address`.

    The entry size (and so the kernel release's layout) is the section size over the number
    of entries, which the object's relocations give (two per entry, instr and replacement).
    """
    size = len(data) // entries if entries else 0
    layout = ALT_LAYOUTS.get(size)
    if layout is None or size * entries != len(data):
        known = ", ".join(f"{s} bytes ({v.kernels})" for s, v in ALT_LAYOUTS.items())
        raise AsmError(f"{ALT_SECTION}: {len(data)} bytes for {entries} entries is no struct "
                       f"alt_instr layout seamemu reads ({known}); run the original "
                       "instructions with --alternatives original", origin)
    out = []
    for k in range(entries):
        at = k * size
        field = data[at:at + size]
        feature = int.from_bytes(field[layout.cpuid:layout.cpuid + 2], "little")
        if layout.flags is None:
            flags = ALT_FLAG_NOT if feature & ALTINSTR_FLAG_INV else 0
            feature &= ~ALTINSTR_FLAG_INV
        else:
            flags = int.from_bytes(field[layout.flags:layout.flags + 2], "little")
        out.append(AltEntry(
            instr=address + at + _s32(field[0:4]),
            replacement=address + at + 4 + _s32(field[4:8]),
            feature=feature, flags=flags, instrlen=field[layout.instrlen],
            replacementlen=field[layout.replacementlen], origin=origin, layout=size))
    return tuple(out)


def _s32(b: bytes) -> int:
    return int.from_bytes(b, "little", signed=True)


def cpu_has(table: Mapping[tuple[int, int], Regs], feature: int, layout: int) -> bool | None:
    """Does the CPU of `table` have X86_FEATURE `feature`?  None: CPUID cannot say.

    A word is read only when the CPU's highest leaf reaches it, as get_cpu_cap() reads it.
    """
    if feature == X86_FEATURE_ALWAYS:
        return True
    word = WORDS_BY_NUMBER.get(feature >> 5)
    if word is None or layout < word.since_layout:
        return None
    if not _reaches(table, word):
        return False
    return bool(cpuid(table, word.leaf, word.subleaf)[_REGISTER[word.register]]
                >> (feature & 31) & 1)


def _reaches(table: Mapping[tuple[int, int], Regs], word: FeatureWord) -> bool:
    top = 0x80000000 if word.leaf >= 0x80000000 else 0
    highest = cpuid(table, top, 0)[0]
    if top and highest & 0xFFFF0000 != 0x80000000:
        return False
    if highest < word.leaf:
        return False
    # Leaf 7 sub-leaf 1 only where 7.0:EAX (the highest sub-leaf) reaches it; 0xD.1 always.
    return word.leaf != 7 or word.subleaf == 0 or cpuid(table, 7, 0)[0] >= word.subleaf


def apply_alternatives(image: Image, mode: str = "cpu",
                       table: Mapping[tuple[int, int], Regs] | None = None) -> Image:
    """`image` with its alternatives applied for the CPU `table` describes (`mode` "cpu"), none
    ("original") or all ("patched"); AsmError on a feature "cpu" cannot decide."""
    if mode not in MODES:
        raise AsmError(f"--alternatives {mode}: choose from {', '.join(MODES)}")
    if not image.alternatives or mode == "original":
        return image
    if mode == "cpu" and table is None:
        raise AsmError("alternatives need the CPU's CPUID table to be decided")
    data = {s.name: bytearray(s.data) for s in image.sections}
    for alt in image.alternatives:
        site = _site(image, alt)
        if alt.flags & ALT_FLAG_DIRECT_CALL:
            raise AsmError(f"{site}: ALT_FLAG_DIRECT_CALL (feature {feature_name(alt.feature)}) "
                           "takes its call target from the paravirt setup seamemu does not "
                           "have; run the original with --alternatives original", alt.origin)
        if mode == "cpu":
            assert table is not None
            has = cpu_has(table, alt.feature, alt.layout)
            if has is None:
                raise AsmError(f"{site}: feature {alt.feature} ({feature_name(alt.feature)}"
                               f"{', ALT_NOT' if alt.flags & ALT_FLAG_NOT else ''}) is not a "
                               "CPUID bit seamemu can decide; choose with --alternatives "
                               "original|patched", alt.origin)
            if has == bool(alt.flags & ALT_FLAG_NOT):
                continue
        _patch(image, data, alt, site)
    sections = tuple(dataclasses.replace(s, data=bytes(data[s.name])) for s in image.sections)
    return dataclasses.replace(image, sections=sections)


def _site(image: Image, alt: AltEntry) -> str:
    return f"alternative at {image.symbolize(alt.instr)}"


def _patch(image: Image, data: dict[str, bytearray], alt: AltEntry, site: str) -> None:
    target = image.section_at(alt.instr)
    if target is None or not target.executable or alt.instr + alt.instrlen > target.end:
        raise AsmError(f"{site}: the original instructions (0x{alt.instr:x}, {alt.instrlen} "
                       "bytes) are not in one code section", alt.origin)
    if alt.replacementlen > alt.instrlen:
        raise AsmError(f"{site}: the replacement ({alt.replacementlen} bytes) is longer than "
                       f"the original ({alt.instrlen} bytes)", alt.origin)
    code = b""
    if alt.replacementlen:
        source = image.section_at(alt.replacement)
        if source is None or alt.replacement + alt.replacementlen > source.end:
            raise AsmError(f"{site}: the replacement (0x{alt.replacement:x}, "
                           f"{alt.replacementlen} bytes) is outside the image", alt.origin)
        off = alt.replacement - source.address
        code = _moved(source.data[off:off + alt.replacementlen], alt.replacement, alt.instr,
                      site, alt.origin)
    code += b"\x90" * (alt.instrlen - len(code))
    off = alt.instr - target.address
    data[target.name][off:off + alt.instrlen] = code


def _moved(code: bytes, src: int, dst: int, site: str, origin: str) -> bytes:
    """`code` decoded at `src`, re-encoded to run at `dst`: relative branches leaving it keep
    their targets."""
    out = bytearray(code)
    pos = 0
    for insn in disassemble(code, src):
        if insn.mnemonic == "(bad)":
            break
        at = insn.address - src
        field = _branch_field(insn.bytes)
        if field is None:
            decoded = decode_structure(insn.bytes, insn.address)
            if decoded is not None and any(op.base == "rip" for op in decoded.operands):
                raise AsmError(f"{site}: the replacement's `{decoded.text}` is RIP-relative; "
                               "seamemu does not re-aim it", origin)
        else:
            start, width = field
            rel = int.from_bytes(insn.bytes[start:start + width], "little", signed=True)
            aim = insn.address + insn.size + rel
            if not src <= aim < src + len(code):
                new = aim - (dst + at + insn.size)
                if not -(1 << (8 * width - 1)) <= new < 1 << (8 * width - 1):
                    raise AsmError(f"{site}: the replacement's short branch to 0x{aim:x} "
                                   "cannot reach it from the original's place", origin)
                out[at + start:at + start + width] = new.to_bytes(width, "little", signed=True)
        pos = at + insn.size
    if pos != len(code):
        raise AsmError(f"{site}: the replacement's bytes at +0x{pos:x} do not decode", origin)
    return bytes(out)


def _branch_field(raw: bytes) -> tuple[int, int] | None:
    """(offset, width) of a relative branch's displacement: CALL/JMP rel32, Jcc rel32/rel8,
    JMP rel8, LOOP/JCXZ rel8 (SDM Vol. 2 opcode map)."""
    i = 0
    while i < len(raw) and raw[i] in _LEGACY_PREFIXES:
        i += 1
    if i < len(raw) and 0x40 <= raw[i] <= 0x4F:
        i += 1                                    # REX
    if i >= len(raw):
        return None
    op = raw[i]
    if op in (0xE8, 0xE9):
        return i + 1, 4
    if op == 0xEB or 0x70 <= op <= 0x7F or 0xE0 <= op <= 0xE3:
        return i + 1, 1
    if op == 0x0F and i + 1 < len(raw) and 0x80 <= raw[i + 1] <= 0x8F:
        return i + 2, 4
    return None


__all__ = ["ALT_SECTION", "MODES", "apply_alternatives", "cpu_has", "read_table"]
