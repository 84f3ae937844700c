# SPDX-License-Identifier: MIT
"""AT&T instructions: parsing operands, resolving their expressions, and what we encode ourselves.

keystone only ever sees one instruction with every number already evaluated and written in
hex (its AT&T mode reads decimals as hex, #569/#571), no symbol names, RIP-relative
displacements computed here, and absolute memory written as `disp(,%riz,1)` (keystone would
silently make a bare address RIP-relative).  Direct branches, prefixes, the SEAM family and
NOPs with operands (keystone encodes `nopl` as a PREFETCH) are encoded here.
Spec: Intel SDM Vol. 2 (Jcc, JMP, CALL, LOOP, JrCXZ, NOP 0F 1F /0, legacy prefixes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ..arch.opcodes import MNEMONIC_BYTES
from .expr import ExprError, Value, wrap64
from .prefixes import PREFIX_BYTES, with_prefixes
from .source import split_args

_CC = {
    "o": 0, "no": 1, "b": 2, "c": 2, "nae": 2, "ae": 3, "nb": 3, "nc": 3, "e": 4, "z": 4,
    "ne": 5, "nz": 5, "be": 6, "na": 6, "a": 7, "nbe": 7, "s": 8, "ns": 9, "p": 10, "pe": 10,
    "np": 11, "po": 11, "l": 12, "nge": 12, "ge": 13, "nl": 13, "le": 14, "ng": 14, "g": 15,
    "nle": 15,
}
JCC: dict[str, int] = {f"j{k}": v for k, v in _CC.items()}
# Short-only branches: LOOP family and JrCXZ.  JECXZ needs the address-size prefix.
SHORT_ONLY: dict[str, bytes] = {
    "loop": b"\xe2", "loope": b"\xe1", "loopz": b"\xe1", "loopne": b"\xe0", "loopnz": b"\xe0",
    "jrcxz": b"\xe3", "jecxz": b"\x67\xe3",
}
BRANCHES = set(JCC) | set(SHORT_ONLY) | {"jmp", "jmpq", "call", "callq"}
_GPR64 = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"} | {f"r{i}" for i in range(8, 16)}
_NOP_REGS = {
    "nopw": ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] + [f"r{i}w" for i in range(8, 16)],
    "nopl": ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] + [f"r{i}d" for i in range(8, 16)],
    "nopq": ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + [f"r{i}" for i in range(8, 16)],
}
_REG = re.compile(r"%[a-z][a-z0-9]*(\(\d\))?$", re.I)
_SEG = re.compile(r"(%[cdefgs]s)\s*:\s*(.*)$", re.I | re.S)


@dataclass(frozen=True)
class Operand:
    kind: str                 # "reg", "imm", "mem"
    text: str = ""            # register text, or the immediate's expression
    seg: str = ""             # "%gs:" style segment override of a memory operand
    disp: str = ""            # memory displacement expression ("" when none)
    regs: tuple[str, str, str] | None = None  # (base, index, scale expr) when present
    star: bool = False        # `*` of an indirect branch


@dataclass(frozen=True)
class Insn:
    mnemonic: str
    prefixes: tuple[str, ...]
    operands: tuple[Operand, ...]

    @property
    def direct_branch(self) -> bool:
        return (self.mnemonic in BRANCHES and len(self.operands) == 1
                and self.operands[0].kind == "mem" and not self.operands[0].star
                and self.operands[0].regs is None and not self.operands[0].seg)


@dataclass(frozen=True)
class Rendered:
    """What one instruction needs at one address: own bytes, or keystone text.

    With `rip_target` set, `text` holds `{disp}` where the RIP-relative displacement goes;
    it is computed once the instruction's length is known.
    """

    data: bytes | None = None
    text: str | None = None
    rip_target: int | None = None
    nop: str = ""  # "nopw"/"nopl"/"nopq": text is a PREFETCHNTA whose bytes become that NOP
    prefixes: tuple[str, ...] = ()  # prefix words whose bytes go in front of keystone's


def _parse_operand(text: str) -> Operand:
    t = text.strip()
    if not t:
        raise ExprError("empty operand")
    star = t.startswith("*")
    if star:
        t = t[1:].strip()
    if t.startswith("$"):
        if star:
            raise ExprError(f"`*` before an immediate `{text}`")
        return Operand("imm", t[1:].strip())
    if _REG.match(t):
        return Operand("reg", t, star=star)
    seg = ""
    m = _SEG.match(t)
    if m:
        seg, t = m.group(1) + ":", m.group(2).strip()
    if t.endswith(")"):
        depth = 0
        for k in range(len(t) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(t[k], 0)
            if depth == 0:
                break
        inner = t[k + 1:-1].strip()
        if inner.startswith(("%", ",")):
            parts = [p.strip() for p in inner.split(",")]
            if len(parts) > 3:
                raise ExprError(f"bad memory operand `{text}`")
            base, index, scale = (parts + ["", "", ""])[:3]
            for reg in (base, index):
                if reg and not _REG.match(reg):
                    raise ExprError(f"bad register `{reg}` in `{text}`")
            return Operand("mem", seg=seg, disp=t[:k].strip(), regs=(base, index, scale), star=star)
    return Operand("mem", seg=seg, disp=t, star=star)


@lru_cache(maxsize=16384)
def parse_insn(op: str, args: str) -> Insn:
    """Parse a statement `op args` (op already lowercase) into prefixes, mnemonic, operands."""
    prefixes: list[str] = []
    mnemonic, rest = op, args
    while mnemonic in PREFIX_BYTES and rest:
        word, _, tail = rest.partition(" ")
        prefixes.append(mnemonic)
        mnemonic, rest = word.lower(), tail.strip()
    operands = tuple(_parse_operand(o) for o in split_args(rest)) if rest else ()
    return Insn(mnemonic, tuple(prefixes), operands)


def fmt_imm(v: int) -> str:
    v = wrap64(v)
    if -(1 << 31) <= v < 0:
        return f"-0x{-v:x}"
    return f"0x{v & ((1 << 64) - 1):x}"


def fmt_disp(v: int, text: str) -> str:
    if not -(1 << 31) <= v < (1 << 32):
        raise ExprError(f"displacement 0x{v & ((1 << 64) - 1):016x} of `{text}` does not fit in 32 bits")
    return f"-0x{-v:x}" if v < 0 else f"0x{v:x}"


Eval = Callable[[str], Value]


def render(insn: Insn, evaluate: Eval) -> Rendered:
    """Resolve an instruction's operands; `evaluate` gives an expression's Value."""
    mn = insn.mnemonic
    if mn in MNEMONIC_BYTES and not insn.operands:
        return Rendered(data=with_prefixes(insn.prefixes, MNEMONIC_BYTES[mn]))
    if mn in PREFIX_BYTES and not insn.operands:
        return Rendered(data=b"".join(PREFIX_BYTES[p] for p in insn.prefixes) + PREFIX_BYTES[mn])
    if mn in ("xchg", "xchgq") and [o.text.lower() for o in insn.operands] == ["%rax", "%rax"]:
        # GNU as writes the one-byte NOP (90), keystone a REX.W one (48 90): same effect.
        return Rendered(data=with_prefixes(insn.prefixes, b"\x90"))
    if mn == "int" and len(insn.operands) == 1 and insn.operands[0].kind == "imm" \
            and evaluate(insn.operands[0].text).n == 3:
        # GNU as writes `int $3` as INT3 (CC), the breakpoint a debugger expects; keystone CD 03.
        return Rendered(data=with_prefixes(insn.prefixes, b"\xcc"))
    if mn in ("nopw", "nopl", "nopq", "nop") and insn.operands:
        nop = _render_nop(insn, evaluate)
        if nop is not None:
            return nop
    rip_target: int | None = None
    ops: list[str] = []
    for o in insn.operands:
        if o.kind == "reg":
            ops.append(("*" if o.star else "") + o.text)
        elif o.kind == "imm":
            ops.append("$" + fmt_imm(evaluate(o.text).n))
        else:
            text, target = _render_mem(o, mn, evaluate)
            if target is not None:
                rip_target = target
            ops.append(text)
    if (mn in ("mov", "movq") and len(insn.operands) == 2 and insn.operands[0].kind == "imm"
            and insn.operands[1].kind == "reg" and insn.operands[1].text[1:].lower() in _GPR64):
        # keystone picks the 10-byte movabs for any `mov $imm, %r64`; GAS uses the
        # sign-extended imm32 form when the value fits, and so does keystone for `movq`.
        if -(1 << 31) <= wrap64(evaluate(insn.operands[0].text).n) < (1 << 31):
            mn = "movq"
    text = mn + (" " + ", ".join(ops) if ops else "")
    # Prefixes are bytes we put in front ourselves (keystone drops `cs nop` silently).
    return Rendered(text=text, rip_target=rip_target, prefixes=insn.prefixes)


def _render_mem(o: Operand, mnemonic: str, evaluate: Eval) -> tuple[str, int | None]:
    star = "*" if o.star else ""
    if o.regs is None:
        v = evaluate(o.disp).n
        if mnemonic == "movabs":
            return f"{star}{o.seg}0x{v & ((1 << 64) - 1):x}", None
        if not -(1 << 31) <= v < (1 << 31):
            raise ExprError(f"absolute address 0x{v & ((1 << 64) - 1):016x} does not fit in 32 bits")
        return f"{star}{o.seg}{fmt_disp(v, o.disp)}(,%riz,1)", None
    base, index, scale = o.regs
    if index.lower() in ("%riz", "%eiz"):
        # Our own absolute form uses %riz; written by the user, GNU as 2.40 rejects it.
        raise ExprError(f"`{index}` is not a register GNU as accepts; leave the index out")
    inner = base
    if index or scale:
        inner += "," + index
    if scale:
        s = evaluate(scale).n
        if s not in (1, 2, 4, 8):
            raise ExprError(f"scale factor must be 1, 2, 4 or 8, not {s}")
        inner += f",{s}"
    if not o.disp:
        return f"{star}{o.seg}({inner})", None
    d = evaluate(o.disp)
    if base.lower() in ("%rip", "%eip"):
        if d.section is not None:
            return f"{star}{o.seg}{{disp}}({inner})", d.n
    return f"{star}{o.seg}{fmt_disp(d.n, o.disp)}({inner})", None


def _render_nop(insn: Insn, evaluate: Eval) -> Rendered | None:
    """NOP r/m (0F 1F /0): keystone encodes it as 0F 18 (PREFETCH), so patch that."""
    mn = "nopl" if insn.mnemonic == "nop" else insn.mnemonic
    if len(insn.operands) != 1:
        return None
    o = insn.operands[0]
    if o.kind == "reg":
        names = _NOP_REGS[mn]
        reg = o.text[1:].lower()
        if reg not in names:
            raise ExprError(f"`{mn}` cannot take register {o.text}")
        n = names.index(reg)
        rex = 0x40 | (0x08 if mn == "nopq" else 0) | (0x01 if n >= 8 else 0)
        body = (bytes([rex]) if rex != 0x40 else b"") + bytes([0x0F, 0x1F, 0xC0 | (n & 7)])
        return Rendered(data=with_prefixes(insn.prefixes, (b"\x66" if mn == "nopw" else b"") + body))
    text, target = _render_mem(o, mn, evaluate)
    if target is not None:
        return None
    # The layout sends this text to keystone and then calls nop_from_prefetch on the bytes.
    return Rendered(text=f"prefetchnta {text}", nop=mn, prefixes=insn.prefixes)


def nop_from_prefetch(code: bytes, nop: str) -> bytes:
    """Turn keystone's `prefetchnta m` bytes into `nop{w,l,q} m` (0F 18 /0 -> 0F 1F /0)."""
    k = code.find(b"\x0f\x18")
    if k < 0:
        raise ExprError(f"unexpected encoding {code.hex()} of a `{nop}`")
    head, tail = code[:k], code[k + 2:]
    if nop == "nopq":
        if head and 0x40 <= head[-1] <= 0x4F:
            head = head[:-1] + bytes([head[-1] | 0x08])
        else:
            head += b"\x48"
    if nop == "nopw":
        head = b"\x66" + head
    return head + b"\x0f\x1f" + tail


def encode_branch(insn: Insn, target: int, address: int, near: bool) -> bytes:
    """Encode a direct JMP/Jcc/CALL/LOOP at `address`; short unless `near`."""
    mn = insn.mnemonic
    pre = len(insn.prefixes)  # one byte each (seamemu.frontend.prefixes)
    if mn in SHORT_ONLY:
        op = SHORT_ONLY[mn]
        rel = target - (address + pre + len(op) + 1)
        if not -128 <= rel <= 127:
            raise ExprError(f"`{mn}` target is {rel} bytes away; it reaches only -128..127")
        return with_prefixes(insn.prefixes, op + (rel & 0xFF).to_bytes(1, "little"))
    if mn in ("call", "callq"):
        op, near = b"\xe8", True
    elif mn in ("jmp", "jmpq"):
        op = b"\xe9" if near else b"\xeb"
    else:
        cc = JCC[mn]
        op = bytes([0x0F, 0x80 | cc]) if near else bytes([0x70 | cc])
    size = pre + len(op) + (4 if near else 1)
    rel = target - (address + size)
    if near:
        if not -(1 << 31) <= rel < (1 << 31):
            raise ExprError(f"branch target is out of rel32 range ({rel})")
        return with_prefixes(insn.prefixes, op + (rel & 0xFFFFFFFF).to_bytes(4, "little"))
    if not -128 <= rel <= 127:
        raise ExprError("short branch out of range")  # the layout never asks for this
    return with_prefixes(insn.prefixes, op + (rel & 0xFF).to_bytes(1, "little"))


def short_fits(insn: Insn, target: int, address: int) -> bool:
    """Would the 2-byte form of this branch reach `target` from `address`?"""
    pre = len(insn.prefixes)
    return -128 <= target - (address + pre + 2) <= 127


__all__ = [
    "BRANCHES",
    "Insn",
    "JCC",
    "Operand",
    "Rendered",
    "SHORT_ONLY",
    "encode_branch",
    "fmt_disp",
    "fmt_imm",
    "nop_from_prefetch",
    "parse_insn",
    "render",
    "short_fits",
]
