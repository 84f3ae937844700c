# SPDX-License-Identifier: MIT
"""The directives the layout owns: what each means, how big it is, and the filler it uses.

Spec: GNU as manual, "Assembler Directives" (x86 ELF: `.align` counts bytes, `.word` is
2 bytes); section defaults from GNU as/BFD ELF special sections (`.text*` "ax", `.data*`
"aw", `.bss*` "aw" nobits, `.rodata*` "a", anything else no flags).  The NOP filler is the
one GNU as 2.40 emits for x86-64 code alignment, so both backends pad alike.
"""

from __future__ import annotations

import re

DATA_WIDTH: dict[str, int] = {
    ".byte": 1, ".short": 2, ".value": 2, ".2byte": 2, ".hword": 2, ".word": 2,
    ".long": 4, ".int": 4, ".4byte": 4, ".quad": 8, ".8byte": 8,
}
STRINGS: dict[str, bool] = {".ascii": False, ".asciz": True, ".string": True}
SPACE = {".skip", ".space", ".zero", ".fill"}
ALIGN = {".align", ".balign", ".p2align"}
SECTION_SWITCH = {".text", ".data", ".bss", ".rodata", ".section", ".pushsection",
                  ".popsection", ".previous"}
SYMBOL_META = {".globl", ".global", ".weak", ".hidden", ".protected", ".internal", ".local",
               ".extern", ".type", ".size"}
IGNORED = {".file", ".loc", ".loc_mark_labels", ".ident", ".code64", ".att_syntax",
           ".arch", ".noaltmacro"}
UNSUPPORTED = {
    ".intel_syntax": "Intel syntax is not supported; write AT&T syntax",
    ".code16": "only 64-bit code is supported",
    ".code32": "only 64-bit code is supported",
    ".org": "`.org` is not supported",
    ".comm": "common symbols are not supported",
    ".lcomm": "common symbols are not supported",
    ".subsection": "subsections are not supported",
    ".octa": "`.octa` is not supported",
    ".sleb128": "`.sleb128` is not supported",
    ".uleb128": "`.uleb128` is not supported",
    ".incbin": "`.incbin` is not supported",
}

# GNU as 2.40's x86-64 NOPs by length (tc-i386.c alt_patt), used for code alignment.
NOPS: tuple[bytes, ...] = tuple(bytes.fromhex(h) for h in (
    "", "90", "6690", "0f1f00", "0f1f4000", "0f1f440000", "660f1f440000", "0f1f8000000000",
    "0f1f840000000000", "660f1f840000000000", "662e0f1f840000000000",
    "66662e0f1f840000000000",
))
# Longer than this, GNU as jumps over the padding instead of executing it.
_JUMP_OVER = 7 * 11 + 10


def nop_fill(n: int) -> bytes:
    """`n` bytes of padding that execute as NOPs, laid out the way GNU as does it."""
    if n <= 0:
        return b""
    if n > _JUMP_OVER:
        if n - 2 <= 127:
            return bytes([0xEB, n - 2]) + _nops(n - 2)
        return b"\xe9" + (n - 5).to_bytes(4, "little") + _nops(n - 5)
    return _nops(n)


def _nops(n: int) -> bytes:
    out = []
    while n > 11:
        out.append(NOPS[11])
        n -= 11
    out.append(NOPS[n])
    return b"".join(out)


def default_flags(name: str) -> tuple[str, bool]:
    """GAS's flags for a section named without flags: (flags, nobits)."""
    def under(prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")
    if under(".text") or name in (".init", ".fini"):
        return "ax", False
    if under(".bss") or under(".tbss"):
        return "aw", True
    if under(".data") or name in (".data1", ".tdata") or under(".init_array") \
            or under(".fini_array") or under(".preinit_array"):
        return "aw", False
    if under(".rodata") or name == ".rodata1":
        return "a", False
    return "", False


def parse_flags(text: str) -> str:
    """Canonical "awx" subset of a GAS flags string such as "ax" or "aMS"."""
    return "".join(c for c in "awx" if c in text)


def parse_section_args(parts: list[str]) -> tuple[str, str | None, bool | None]:
    """(name, flags or None when not given, nobits or None) of `.section` operands."""
    if not parts or not parts[0]:
        raise ValueError("section name missing")
    name = parts[0].strip()
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        name = name[1:-1]
    if not re.fullmatch(r"[\w.$@-]+", name):
        raise ValueError(f"bad section name `{parts[0]}`")
    flags = None
    nobits = None
    if len(parts) > 1:
        f = parts[1].strip()
        if f.startswith('"') and f.endswith('"'):
            flags = parse_flags(f[1:-1])
        elif f.startswith("#"):
            flags = parse_flags("".join(w[1] for w in f.split(",") if w.strip()[1:2]))
        else:
            raise ValueError(f"section flags must be a quoted string, not `{f}`")
    if len(parts) > 2:
        kind = parts[2].strip().lstrip("@%").lower()
        if kind not in ("progbits", "nobits", "note", "init_array", "fini_array",
                        "preinit_array"):
            raise ValueError(f"unsupported section type `{parts[2].strip()}`")
        nobits = kind == "nobits"
    return name, flags, nobits


def encode_value(value: int, width: int) -> bytes:
    """Little-endian `width` bytes of `value`; ValueError when it does not fit."""
    lo = -(1 << (8 * width - 1))
    hi = 1 << (8 * width)
    if width < 8 and not lo <= value < hi:
        raise ValueError(f"value 0x{value & ((1 << 64) - 1):016x} does not fit in {width} byte(s)")
    return (value & (hi - 1)).to_bytes(width, "little")


__all__ = [
    "ALIGN",
    "DATA_WIDTH",
    "IGNORED",
    "NOPS",
    "SECTION_SWITCH",
    "SPACE",
    "STRINGS",
    "SYMBOL_META",
    "UNSUPPORTED",
    "default_flags",
    "encode_value",
    "nop_fill",
    "parse_flags",
    "parse_section_args",
]
