# SPDX-License-Identifier: MIT
"""The x86-64 registers as gdb numbers them, their target description, and Unicorn's ids.

gdb's amd64 target needs the features org.gnu.gdb.i386.core (general, segment and x87
registers) and org.gnu.gdb.i386.sse (XMM0-15, MXCSR) with these register names; the register
numbers are the order of appearance, which is also the layout of the `g` packet (each
register little-endian, its bitsize wide).
Spec: GDB manual, Appendix G "Target Descriptions" (G.5 "Standard Target Features", i386
features); Appendix E.4 ("qXfer:features:read").
"""

from __future__ import annotations

from typing import NamedTuple

from unicorn import x86_const as X


class Reg(NamedTuple):
    name: str
    bits: int
    type: str
    uc: int | None        # Unicorn register id; None: read as 0, writes refused
    writable: bool = True


_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")

# gdb's register order for amd64 (the i386 core feature, then the SSE feature).
REGISTERS: tuple[Reg, ...] = (
    *(Reg(n, 64, "data_ptr" if n in ("rbp", "rsp") else "int64", getattr(X, f"UC_X86_REG_{n.upper()}"))
      for n in _GPRS),
    Reg("rip", 64, "code_ptr", X.UC_X86_REG_RIP),
    Reg("eflags", 32, "int32", X.UC_X86_REG_EFLAGS),
    # Segment selectors: CPL is a model value in seamemu, so the selectors are shown only.
    *(Reg(n, 32, "int32", getattr(X, f"UC_X86_REG_{n.upper()}"), False)
      for n in ("cs", "ss", "ds", "es", "fs", "gs")),
    *(Reg(f"st{i}", 80, "i387_ext", getattr(X, f"UC_X86_REG_FP{i}"), False) for i in range(8)),
    Reg("fctrl", 32, "int", X.UC_X86_REG_FPCW, False),
    Reg("fstat", 32, "int", X.UC_X86_REG_FPSW, False),
    Reg("ftag", 32, "int", X.UC_X86_REG_FPTAG, False),
    Reg("fiseg", 32, "int", X.UC_X86_REG_FCS, False),
    Reg("fioff", 32, "int", X.UC_X86_REG_FIP, False),
    Reg("foseg", 32, "int", X.UC_X86_REG_FDS, False),
    Reg("fooff", 32, "int", X.UC_X86_REG_FDP, False),
    Reg("fop", 32, "int", X.UC_X86_REG_FOP, False),
    *(Reg(f"xmm{i}", 128, "uint128", getattr(X, f"UC_X86_REG_XMM{i}")) for i in range(16)),
    Reg("mxcsr", 32, "int", X.UC_X86_REG_MXCSR),
)
BY_NAME = {r.name: i for i, r in enumerate(REGISTERS)}
_CORE = BY_NAME["xmm0"]


def target_xml() -> str:
    """The target description gdb reads with qXfer:features:read:target.xml."""
    def regs(sel: slice, first: int) -> str:
        return "\n".join(f'    <reg name="{r.name}" bitsize="{r.bits}" type="{r.type}" '
                         f'regnum="{first + k}"/>' for k, r in enumerate(REGISTERS[sel]))
    return ('<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n'
            '<target version="1.0">\n  <architecture>i386:x86-64</architecture>\n'
            '  <feature name="org.gnu.gdb.i386.core">\n'
            f"{regs(slice(0, _CORE), 0)}\n  </feature>\n"
            '  <feature name="org.gnu.gdb.i386.sse">\n'
            f"{regs(slice(_CORE, None), _CORE)}\n  </feature>\n</target>\n")


def read(uc, index: int) -> bytes:
    """Register `index` in gdb's byte layout."""
    reg = REGISTERS[index]
    size = reg.bits // 8
    if reg.uc is None:
        return bytes(size)
    value = uc.reg_read(reg.uc)
    if isinstance(value, tuple):            # x87: (64-bit mantissa, 16-bit sign+exponent)
        mantissa, exponent = value
        return mantissa.to_bytes(8, "little") + (exponent & 0xFFFF).to_bytes(2, "little")
    return (value & ((1 << reg.bits) - 1)).to_bytes(size, "little")


def write(uc, index: int, data: bytes) -> bool:
    """Set register `index` from gdb's bytes; False when seamemu does not let gdb change it."""
    reg = REGISTERS[index]
    if reg.uc is None or not reg.writable or len(data) != reg.bits // 8:
        return False
    value = int.from_bytes(data, "little")
    if reg.name == "eflags":
        value |= 0x2                        # bit 1 is always set (SDM Vol. 1 §3.4.3)
    uc.reg_write(reg.uc, value)
    return True


def read_all(uc) -> bytes:
    return b"".join(read(uc, i) for i in range(len(REGISTERS)))


def write_all(uc, data: bytes) -> None:
    """A `G` packet: every writable register that the data covers."""
    pos = 0
    for i, reg in enumerate(REGISTERS):
        size = reg.bits // 8
        if pos + size > len(data):
            return
        if reg.writable and data[pos:pos + size] != read(uc, i):
            write(uc, i, data[pos:pos + size])
        pos += size


__all__ = ["BY_NAME", "REGISTERS", "Reg", "read", "read_all", "target_xml", "write", "write_all"]
