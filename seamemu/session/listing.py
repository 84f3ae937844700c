# SPDX-License-Identifier: MIT
"""The `seamemu asm` listing: sections, symbols, disassembly and the exception table."""

from __future__ import annotations

from seamemu.arch.kernel import EX_TYPE_NAMES
from seamemu.disasm import disassemble
from seamemu.image import Image


def _labels(image: Image) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for name, addr in sorted(image.symbols.items(), key=lambda kv: kv[0]):
        out.setdefault(addr, []).append(name)
    return out


def listing_rows(image: Image) -> list[dict]:
    """One row per instruction (executable sections) or data line (other sections)."""
    rows = []
    for sec in image.sections:
        if sec.executable:
            for insn in disassemble(sec.data, sec.address):
                line = image.line_at(insn.address)
                rows.append({"section": sec.name, "address": insn.address,
                             "symbol": image.symbolize(insn.address), "bytes": insn.bytes.hex(),
                             "text": insn.text,
                             "source": f"{line.file}:{line.line}" if line else None})
        else:
            for off in range(0, len(sec.data), 16):
                chunk = sec.data[off:off + 16]
                rows.append({"section": sec.name, "address": sec.address + off,
                             "symbol": image.symbolize(sec.address + off), "bytes": chunk.hex(),
                             "text": ".byte " + ",".join(f"0x{b:02x}" for b in chunk), "source": None})
    return rows


def listing_json(image: Image) -> dict:
    return {
        "schema": 1,
        "sections": [{"name": s.name, "address": f"0x{s.address:016x}", "size": len(s.data),
                      "flags": s.flags} for s in image.sections],
        "symbols": {n: f"0x{a:016x}" for n, a in sorted(image.symbols.items(), key=lambda kv: kv[1])},
        "globals": sorted(image.globals),
        "instructions": [dict(r, address=f"0x{r['address']:016x}") for r in listing_rows(image)],
        "extable": [{"fault": f"0x{e.fault:016x}", "fault_symbol": image.symbolize(e.fault),
                     "fixup": f"0x{e.fixup:016x}", "fixup_symbol": image.symbolize(e.fixup),
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
        out.append(f"  {r['address']:x}:\t{_spaced(r['bytes']):<21}\t{r['text']}")
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
