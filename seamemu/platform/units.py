# SPDX-License-Identifier: MIT
"""Addresses and sizes as users write them ("0x1000", "4G", "512M") and as seamemu prints them,
and the one way a range is cut out of others."""

from __future__ import annotations

import re
from collections.abc import Iterable

from seamemu.jsonout import hex64

_SUFFIX = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50}
_SIZE_RE = re.compile(r"^\s*(0x[0-9a-f_]+|[0-9][0-9_]*)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(value: object) -> int:
    """An int, or a string such as "0x100000000", "4G", "512M", "640KiB", "4096".

    Suffixes are binary (K = 1024).  Raises ValueError naming what was wrong.
    """
    if isinstance(value, bool):  # bool is an int subclass; true/false are never sizes
        raise ValueError(f"expected an address or size, got boolean {str(value).lower()}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative value {value}")
        if value >> 64:
            raise ValueError(f"{value:#x} does not fit in 64 bits")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an address or size, got {type(value).__name__} {value!r}")
    m = _SIZE_RE.match(value) if len(value) <= 100 else None
    if not m:
        raise ValueError(f"cannot read {value[:40]!r} as an address or size "
                         "(write e.g. 0x100000000, 4G, 512M or 4096)")
    digits, suffix = m.group(1).replace("_", ""), m.group(2).lower()
    number = int(digits, 16) if digits.lower().startswith("0x") else int(digits)
    if (number << _SUFFIX[suffix]) >> 64:
        raise ValueError(f"{value.strip()} is 2^64 or more: no 64-bit address or size is")
    return number << _SUFFIX[suffix]



def cut_out(spans: Iterable[tuple[int, int]], base: int, end: int) -> list[tuple[int, int]]:
    """The (start, end) spans with [base, end) taken out of each, in their order."""
    out = []
    for s, e in spans:
        if e <= base or end <= s:
            out.append((s, e))
            continue
        if s < base:
            out.append((s, base))
        if end < e:
            out.append((end, e))
    return out


def fmt_range(base: int, size: int) -> str:
    """A half-open physical range, [base, end), in the project's 64-bit hex style."""
    return f"[{hex64(base)}, {hex64(base + size)})"


def fmt_mem(base: int, size: int) -> str:
    """A range the way the kernel prints it: "[mem 0x...-0x...]" with an inclusive end."""
    return f"[mem {hex64(base)}-{hex64(base + size - 1)}]"


def fmt_size(size: int) -> str:
    """Bytes in the largest binary unit that divides them exactly: "128 MiB", "4 KiB", "100 B"."""
    for shift, unit in ((40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if size and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


__all__ = ["fmt_mem", "fmt_range", "fmt_size", "parse_size"]
