# SPDX-License-Identifier: MIT
"""Helpers shared by the front-end tests (imported by name: tests/frontend is on sys.path)."""

from __future__ import annotations

import struct
import subprocess
import tempfile
from pathlib import Path

from seamemu.frontend import assemble_text


def code(src: str, **kw) -> bytes:
    """Bytes of the first executable section of `src` assembled with keystone."""
    image = assemble_text(src, **kw)
    text = [s for s in image.sections if s.executable]
    return text[0].data if text else b""


def section(image, name: str):
    matches = [s for s in image.sections if s.name == name]
    assert matches, f"no section {name} in {[s.name for s in image.sections]}"
    return matches[0]




def gnu_as_line(line: str) -> tuple[str, bytes, str]:
    """GNU as on one line: ("ok" | "warning" | "error", .text bytes, what it said)."""
    with tempfile.TemporaryDirectory(prefix="seamemu-gnu-") as tmp:
        src, obj = Path(tmp, "a.s"), Path(tmp, "a.o")
        src.write_text(line + "\n")
        proc = subprocess.run(["as", "--64", "-o", str(obj), str(src)], capture_output=True,
                              text=True, timeout=30)
        said = " ".join(ln.split(": ", 2)[-1] for ln in proc.stderr.splitlines()[1:])
        if proc.returncode:
            return "error", b"", said
        return ("warning" if "Warning" in proc.stderr else "ok"), _elf_text(obj.read_bytes()), said


def _elf_text(elf: bytes) -> bytes:
    """The .text section of a little-endian ELF64 object (System V gABI, section headers)."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def header(k: int) -> tuple[int, int, int]:
        name, = struct.unpack_from("<I", elf, shoff + k * shentsize)
        offset, size = struct.unpack_from("<QQ", elf, shoff + k * shentsize + 0x18)
        return name, offset, size

    strtab = header(shstrndx)[1]
    for k in range(shnum):
        name, offset, size = header(k)
        if elf[strtab + name:elf.index(b"\0", strtab + name)] == b".text":
            return elf[offset:offset + size]
    return b""
