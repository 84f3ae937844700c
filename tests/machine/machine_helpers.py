# SPDX-License-Identifier: MIT
"""Helpers for the machine tests (imported by name; pytest puts this folder on sys.path):
hand-built Images from keystone snippets and a stub SeamTarget.

Keystone is used directly (no syntax option set, so numbers stay decimal); SEAM-family
instructions are spelled as bytes because keystone 0.9.2 does not know them.  Label addresses
come from a `.quad` table appended to the snippet and cut off again.
"""

from __future__ import annotations

import re
import struct

import keystone

from seamemu.arch.kernel import EX_TYPE_DEFAULT, EX_TYPE_FAULT
from seamemu.image import IMAGE_BASE, ExtableEntry, Image, Section
from seamemu.traps.target import SeamReply

SEAMCALL = ".byte 0x66, 0x0f, 0x01, 0xcf"
TDCALL = ".byte 0x66, 0x0f, 0x01, 0xcc"
VMXOFF = ".byte 0x0f, 0x01, 0xc4"
VMXON_RDI = ".byte 0xf3, 0x0f, 0xc7, 0x37"  # vmxon qword ptr [rdi]

_LABEL = re.compile(r"^\s*([A-Za-z_][\w.]*):", re.M)


def build(text: str, extable=(), data: bytes = b"") -> Image:
    """Assemble `text` at IMAGE_BASE; extable rows are (fault label, fixup label, "fault"|"default")."""
    labels = _LABEL.findall(text)
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64)
    enc, _ = ks.asm(text + "\n.quad " + ", ".join(labels), IMAGE_BASE)
    blob = bytes(enc)
    n = len(labels)
    addrs = struct.unpack(f"<{n}Q", blob[-8 * n:])
    code = blob[:-8 * n]
    symbols = dict(zip(labels, addrs))
    kinds = {"fault": EX_TYPE_FAULT, "default": EX_TYPE_DEFAULT}
    table = tuple(ExtableEntry(symbols[f], symbols[x], kinds[k]) for f, x, k in extable)
    sections = [Section(".text", IMAGE_BASE, code, "ax")]
    if data:
        base = (IMAGE_BASE + len(code) + 0xFFF) & ~0xFFF
        sections.append(Section(".data", base, data, "aw"))
        symbols["data"] = base
    return Image(tuple(sections), symbols, extable=table, globals=frozenset(labels))


class StubTarget:
    """A tiny SeamTarget: records calls, answers RAX=0 and RCX+1, or whatever `answer` says."""

    def __init__(self, loaded=True, present=True, busy=False, answer=None):
        self.loaded, self.present, self.busy = loaded, present, busy
        self.answer = answer
        self.calls = []

    def module_loaded(self):
        return self.loaded

    def pseamldr_present(self):
        return self.present

    def pseamldr_busy(self, lp):
        return self.busy

    def seamcall(self, lp, regs, mem):
        self.calls.append((lp, dict(regs)))
        if self.answer is not None:
            return self.answer(lp, regs, mem)
        return SeamReply({"rax": 0, "rcx": (regs["rcx"] + 1) & ((1 << 64) - 1)})


__all__ = ["SEAMCALL", "TDCALL", "VMXOFF", "VMXON_RDI", "StubTarget", "build"]
