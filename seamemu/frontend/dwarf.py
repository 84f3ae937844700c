# SPDX-License-Identifier: MIT
"""The DWARF 2-4 line-number program of a GNU as object: which source line made which bytes.

Spec: DWARF Debugging Information Format Version 3, §6.2 "Line Number Information".
Addresses come from DW_LNE_set_address operands, which in a relocatable object are zero
with a RELA entry naming the section; the caller passes those relocations in.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LineRow:
    section: int   # ELF section index
    offset: int
    size: int
    file: str
    line: int


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos


def _cstr(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8", errors="replace"), end + 1


def line_rows(data: bytes, address_relocs: Mapping[int, tuple[int, int]]) -> list[LineRow]:
    """Rows of every line program in `.debug_line`.

    `address_relocs` maps the offset of a set_address operand to (section index, addend).
    Unsupported versions give no rows rather than wrong ones.
    """
    rows: list[LineRow] = []
    pos = 0
    while pos + 4 <= len(data):
        unit_len = struct.unpack_from("<I", data, pos)[0]
        wide = unit_len == 0xFFFFFFFF
        if wide:
            unit_len = struct.unpack_from("<Q", data, pos + 4)[0]
            pos += 12
        else:
            pos += 4
        end = pos + unit_len
        version = struct.unpack_from("<H", data, pos)[0]
        if version not in (2, 3, 4):
            pos = end
            continue
        rows.extend(_unit(data, pos, end, version, wide, address_relocs))
        pos = end
    return rows


def _unit(data: bytes, pos: int, end: int, version: int, wide: bool,
          relocs: Mapping[int, tuple[int, int]]) -> list[LineRow]:
    pos += 2
    header_len = struct.unpack_from("<Q" if wide else "<I", data, pos)[0]
    pos += 8 if wide else 4
    program = pos + header_len
    min_len = data[pos]
    pos += 1
    if version >= 4:
        pos += 1  # maximum_operations_per_instruction
    pos += 1      # default_is_stmt
    line_base = struct.unpack_from("<b", data, pos)[0]
    line_range = data[pos + 1]
    opcode_base = data[pos + 2]
    lengths = data[pos + 3:pos + 3 + opcode_base - 1]
    pos += 3 + opcode_base - 1
    dirs = [""]
    while data[pos]:
        d, pos = _cstr(data, pos)
        dirs.append(d)
    pos += 1
    files = [""]
    while data[pos]:
        name, pos = _cstr(data, pos)
        d, pos = _uleb(data, pos)
        _, pos = _uleb(data, pos)
        _, pos = _uleb(data, pos)
        files.append(os.path.join(dirs[d], name) if 0 < d < len(dirs) else name)
    pos = program

    out: list[LineRow] = []
    seq: list[tuple[int, int, int, int]] = []   # (section, address, file, line)
    section, address, file, line = -1, 0, 1, 1

    def flush(end_address: int) -> None:
        for k, (sec, addr, f, ln) in enumerate(seq):
            nxt = seq[k + 1][1] if k + 1 < len(seq) else end_address
            if nxt > addr:
                out.append(LineRow(sec, addr, nxt - addr, files[f] if f < len(files) else "?", ln))
        seq.clear()

    while pos < end:
        op = data[pos]
        pos += 1
        if op >= opcode_base:
            adj = op - opcode_base
            address += (adj // line_range) * min_len
            line += line_base + adj % line_range
            seq.append((section, address, file, line))
        elif op == 0:
            length, pos = _uleb(data, pos)
            sub = data[pos]
            if sub == 1:
                flush(address)
                section, address, file, line = -1, 0, 1, 1
            elif sub == 2:
                section, address = relocs.get(pos + 1, (-1, 0))
                address += struct.unpack_from("<Q", data, pos + 1)[0]
            elif sub == 3:
                name, _ = _cstr(data, pos + 1)
                files.append(name)
            pos += length
        elif op == 1:
            seq.append((section, address, file, line))
        elif op == 2:
            n, pos = _uleb(data, pos)
            address += n * min_len
        elif op == 3:
            n, pos = _sleb(data, pos)
            line += n
        elif op == 4:
            file, pos = _uleb(data, pos)
        elif op == 8:
            address += ((255 - opcode_base) // line_range) * min_len
        elif op == 9:
            address += struct.unpack_from("<H", data, pos)[0]
            pos += 2
        else:
            for _ in range(lengths[op - 1] if op - 1 < len(lengths) else 0):
                _, pos = _uleb(data, pos)
    return out


__all__ = ["LineRow", "line_rows"]
