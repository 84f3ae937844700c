# SPDX-License-Identifier: MIT
"""The `seamemu asm` listing: sections, symbols, disassembly and the exception table.

A run of zero bytes is one line, as objdump prints `...` for one (binutils objdump.c
DEFAULT_SKIP_ZEROES: eight zero bytes or more), and so is a run of one instruction or data
row repeated (as hexdump prints `*`): a 16 MiB `.space` or `.fill` lists in one line, not a
million.  A run never swallows a label: it stops at the next symbol's address.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from seamemu.arch.kernel import EX_TYPE_NAMES
from seamemu.disasm import disassemble_one
from seamemu.image import Image, Section
from seamemu.jsonout import hex64

SKIP_ZEROES = 8       # zero bytes that make a run (binutils objdump.c DEFAULT_SKIP_ZEROES)
REPEAT_RUN = 8        # copies of one instruction or data row that make a run
DATA_ROW = 16         # bytes per data line
_NONZERO = re.compile(rb"[^\x00]")


def _labels(image: Image) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for name, addr in sorted(image.symbols.items(), key=lambda kv: kv[0]):
        out.setdefault(addr, []).append(name)
    return out


def listing_rows(image: Image) -> list[dict]:
    """One row per instruction (executable sections) or data line (other sections); a row
    with `count` stands for that many copies in a row (a zero run: `count` zero bytes)."""
    rows = []
    stops = sorted(set(image.symbols.values()))
    for sec in image.sections:
        for off, size, count, text in _pieces(sec, stops):
            address = sec.address + off
            line = image.line_at(address) if sec.executable and text != "..." else None
            row = {"section": sec.name, "address": address, "symbol": image.symbolize(address),
                   "bytes": sec.data[off:off + size].hex(), "text": text,
                   "source": f"{line.file}:{line.line}" if line else None}
            if count > 1:
                row["count"] = count
            rows.append(row)
    return rows


def _pieces(sec: Section, stops: list[int]) -> Iterator[tuple[int, int, int, str]]:
    """(offset, size of one copy, copies, text) for each line of a section's listing."""
    data, n, off = sec.data, len(sec.data), 0
    while off < n:
        i = bisect.bisect_right(stops, sec.address + off)
        end = min(n, stops[i] - sec.address) if i < len(stops) else n   # the next label
        m = _NONZERO.search(data, off, end)
        zeros = (m.start() if m else end) - off
        if zeros >= SKIP_ZEROES:
            yield off, 1, zeros, "..."
            off += zeros
            continue
        if sec.executable:
            insn = disassemble_one(data[off:off + 16], sec.address + off)
            size, text = insn.size, insn.text
        else:
            size = min(DATA_ROW, end - off)
            text = ".byte " + ",".join(f"0x{b:02x}" for b in data[off:off + size])
        copies = _copies(data, off, size, end)
        if copies < REPEAT_RUN:
            copies = 1
        yield off, size, copies, text
        off += size * copies


def _copies(data: bytes, off: int, size: int, end: int) -> int:
    """How many copies of data[off:off+size] follow each other from `off`, before `end`."""
    pat = data[off:off + size]
    if data[off + size:off + 2 * size] != pat:
        return 1
    count, block = 2, pat * 2
    while off + (count + len(block) // size) * size <= end and \
            data[off + count * size:off + count * size + len(block)] == block:
        count += len(block) // size
        block += block
    while len(block) > size:              # then smaller steps for the rest
        block = block[:len(block) // 2]
        while off + count * size + len(block) <= end and \
                data[off + count * size:off + count * size + len(block)] == block:
            count += len(block) // size
    return count


def listing_json(image: Image) -> dict:
    return {
        "schema": 1,
        "sections": [{"name": s.name, "address": hex64(s.address), "size": len(s.data),
                      "flags": s.flags} for s in image.sections],
        "symbols": {n: hex64(a) for n, a in sorted(image.symbols.items(), key=lambda kv: kv[1])},
        "globals": sorted(image.globals),
        "instructions": [dict(r, address=f"0x{r['address']:016x}") for r in listing_rows(image)],
        "extable": [{"fault": hex64(e.fault), "fault_symbol": image.symbolize(e.fault),
                     "fixup": hex64(e.fixup), "fixup_symbol": image.symbolize(e.fixup),
                     "type": EX_TYPE_NAMES.get(e.type, str(e.type))} for e in image.extable],
    }


def format_listing(image: Image) -> str:
    labels = _labels(image)
    out: list[str] = []
    rows = listing_rows(image)
    current = None
    for r in rows:
        if r["section"] != current:
            current = r["section"]
            out.append(("\n" if out else "") + f"Disassembly of section {current}:")
        for name in labels.get(r["address"], []):
            if not name.startswith(".L"):
                out.append(f"\n{r['address']:016x} <{name}>:")
        count = r.get("count", 1)
        if r["text"] == "...":
            out.append(f"  {r['address']:x}:\t...\t({count:,} zero bytes, to {r['address'] + count:x})")
            continue
        out.append(f"  {r['address']:x}:\t{_spaced(r['bytes']):<21}\t{r['text']}")
        if count > 1:
            size = len(r["bytes"]) // 2
            out.append(f"  {r['address'] + size:x}:\t...\t({count - 1:,} more of the same, "
                       f"to {r['address'] + size * count:x})")
    if image.extable:
        out.append("\nException table (__ex_table):")
        for e in image.extable:
            out.append(f"  fault {e.fault:#x} <{image.symbolize(e.fault)}>  ->  fixup {e.fixup:#x} "
                       f"<{image.symbolize(e.fixup)}>  {EX_TYPE_NAMES.get(e.type, e.type)}")
    else:
        out.append("\nException table (__ex_table): empty")
    return "\n".join(out)


def _spaced(hexstr: str) -> str:
    return " ".join(hexstr[i:i + 2] for i in range(0, len(hexstr), 2))


__all__ = ["format_listing", "listing_json", "listing_rows"]
