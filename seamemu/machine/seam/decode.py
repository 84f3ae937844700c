# SPDX-License-Identifier: MIT
"""Decoding the instructions the SEAM CPU emulates itself, once per address.

Unicorn raises #UD for VMREAD, VMWRITE, VMPTRLD, VMPTRST, VMCLEAR, VMLAUNCH, VMRESUME,
INVEPT, INVVPID, SEAMOPS, SEAMRET, PCONFIG, MOVDIR64B, XSAVES and XRSTORS; the SEAM CPU's
invalid-instruction hook decodes the bytes at RIP into a `Decoded` (cached by address: the
module's code is read-only) and executes it.

Encodings (SDM Vol. 2, Vol. 3C §31): VMREAD 0F 78 /r (r/m64 <- field in reg), VMWRITE 0F 79 /r
(field in reg <- r/m64), VMPTRLD 0F C7 /6, VMPTRST 0F C7 /7, VMCLEAR 66 0F C7 /6, XRSTORS
[REX.W] 0F C7 /3, XSAVES [REX.W] 0F C7 /5, VMLAUNCH 0F 01 C2, VMRESUME 0F 01 C3, PCONFIG
0F 01 C5, INVEPT 66 0F 38 80 /r, INVVPID 66 0F 38 81 /r, MOVDIR64B 66 0F 38 F8 /r (64-byte
store to [reg] from m512); SEAMRET 66 0F 01 CD and SEAMOPS 66 0F 01 CE (seamemu.arch.opcodes).
ModRM/SIB: SDM Vol. 2A §2.1.5, §2.2.1 (REX.R/X/B), RIP-relative §2.2.1.6.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.opcodes import SEAMOPS, SEAMRET
from seamemu.machine.regs import GPR_BY_NUMBER

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Operand:
    """A ModRM operand: a register (`reg_index`) or memory (base + index * scale + disp)."""

    reg_index: int | None = None       # index into machine.regs.NAMES
    base: int | None = None
    index: int | None = None
    scale: int = 1
    disp: int = 0
    rip_relative: bool = False

    def address(self, vals: list[int], next_rip: int) -> int:
        ea = self.disp
        if self.base is not None:
            ea += vals[self.base]
        if self.index is not None:
            ea += vals[self.index] * self.scale
        if self.rip_relative:
            ea += next_rip
        return ea & _MASK64


@dataclass(frozen=True)
class Decoded:
    name: str
    length: int
    reg: int | None = None             # ModRM.reg register (index into NAMES), if a register
    rm: Operand | None = None


def _modrm(code: bytes, pos: int, rex: int) -> tuple[int, Operand, int]:
    """(ModRM.reg register number 0-15, r/m operand, bytes consumed)."""
    modrm = code[pos]
    mod, reg, rm = modrm >> 6, ((modrm >> 3) & 7) | ((rex & 4) << 1), modrm & 7
    if mod == 3:
        return reg, Operand(reg_index=GPR_BY_NUMBER[rm | ((rex & 1) << 3)]), 1
    n = 1
    base: int | None
    index: int | None = None
    scale = 1
    rip_relative = False
    if rm == 4:
        sib = code[pos + 1]
        n += 1
        scale = 1 << (sib >> 6)
        idx = ((sib >> 3) & 7) | ((rex & 2) << 2)
        index = None if idx == 4 else GPR_BY_NUMBER[idx]
        if sib & 7 == 5 and mod == 0:
            base, size = None, 4
        else:
            base, size = GPR_BY_NUMBER[(sib & 7) | ((rex & 1) << 3)], (0, 1, 4)[mod]
    elif rm == 5 and mod == 0:
        base, size, rip_relative = None, 4, True
    else:
        base, size = GPR_BY_NUMBER[rm | ((rex & 1) << 3)], (0, 1, 4)[mod]
    disp = int.from_bytes(code[pos + n:pos + n + size], "little", signed=True) if size else 0
    return reg, Operand(None, base, index, scale, disp, rip_relative), n + size


def decode(code: bytes) -> Decoded | None:
    """The emulated instruction at the start of `code`, or None if it is none of them."""
    head = bytes(code[:4])
    if head == SEAMRET:
        return Decoded("seamret", 4)
    if head == SEAMOPS:
        return Decoded("seamops", 4)
    pos, p66, rex = 0, False, 0
    while pos < 4 and code[pos] in (0x66, 0xF2, 0xF3):
        p66 = p66 or code[pos] == 0x66
        pos += 1
    if 0x40 <= code[pos] <= 0x4F:
        rex, pos = code[pos], pos + 1
    op = bytes(code[pos:pos + 3])
    if op[:2] == b"\x0f\x01" and not p66:
        name = {0xC2: "vmlaunch", 0xC3: "vmresume", 0xC5: "pconfig"}.get(op[2])
        return Decoded(name, pos + 3) if name else None
    if op[:2] in (b"\x0f\x78", b"\x0f\x79") and not p66:
        reg, rm, n = _modrm(code, pos + 2, rex)
        name = "vmread" if op[1] == 0x78 else "vmwrite"
        return Decoded(name, pos + 2 + n, GPR_BY_NUMBER[reg], rm)
    if op[:2] == b"\x0f\xc7":
        reg, rm, n = _modrm(code, pos + 2, rex)
        if rm.reg_index is not None:
            return None                        # RDRAND/RDSEED/...: Unicorn runs those
        name = {(6, False): "vmptrld", (6, True): "vmclear", (7, False): "vmptrst",
                (3, False): "xrstors", (5, False): "xsaves"}.get((reg & 7, p66))
        return Decoded(name, pos + 2 + n, None, rm) if name else None
    if p66 and op in (b"\x0f\x38\x80", b"\x0f\x38\x81", b"\x0f\x38\xf8"):
        reg, rm, n = _modrm(code, pos + 3, rex)
        name = {0x80: "invept", 0x81: "invvpid", 0xF8: "movdir64b"}[op[2]]
        return Decoded(name, pos + 3 + n, GPR_BY_NUMBER[reg], rm)
    return None


__all__ = ["Decoded", "Operand", "decode"]
