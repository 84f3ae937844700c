# SPDX-License-Identifier: MIT
"""Prefix words in AT&T source (`lock`, `rep`, `fs`, `data16`): their bytes, where they go, their order.

keystone never sees a prefix word (it drops some silently, `cs nop`); the front end checks
that the instruction may carry it, then puts its byte in front of the instruction's own
prefixes in the order GNU as 2.40 writes them (segment, address size, operand size, REP,
LOCK, then REX right before the opcode; binutils gas/config/tc-i386.c, the prefix slots of
`struct _i386_insn`).  Which instruction takes which prefix: seamemu.arch.isa.  `data16` on a
near branch is refused: Intel fixes the operand size of near branches at 64 bits in 64-bit
mode (SDM Vol. 2A JMP, CALL, RET), AMD lets 66h make it 16 (APM Vol. 1 §3.7.9, Table 3-9).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..arch.isa import LOCKABLE, REP_STRING, XRELEASE_STORE
from ..arch.opcodes import MNEMONIC_BYTES
from .expr import ExprError

if TYPE_CHECKING:
    from .operands import Insn

PREFIX_BYTES: dict[str, bytes] = {
    "lock": b"\xf0", "rep": b"\xf3", "repe": b"\xf3", "repz": b"\xf3", "repne": b"\xf2",
    "repnz": b"\xf2", "data16": b"\x66", "addr32": b"\x67", "rex64": b"\x48",
    "cs": b"\x2e", "ds": b"\x3e", "es": b"\x26", "fs": b"\x64", "gs": b"\x65", "ss": b"\x36",
    "notrack": b"\x3e", "xacquire": b"\xf2", "xrelease": b"\xf3",
}
SEGMENT_WORDS = ("cs", "ds", "es", "fs", "gs", "ss")
# The slot each word fills; one prefix per slot, as GNU as ("same type of prefix used twice").
_SLOT: dict[str, str] = {
    **dict.fromkeys((*SEGMENT_WORDS, "notrack"), "seg"),
    "addr32": "addr", "data16": "data", "lock": "lock", "rex64": "rex",
    **dict.fromkeys(("rep", "repe", "repz", "repne", "repnz", "xacquire", "xrelease"), "rep"),
}
_BYTE_SLOT: dict[int, str] = {
    0x26: "seg", 0x2E: "seg", 0x36: "seg", 0x3E: "seg", 0x64: "seg", 0x65: "seg",
    0x67: "addr", 0x66: "data", 0xF2: "rep", 0xF3: "rep", 0xF0: "lock",
}
_ORDER = ("seg", "addr", "data", "rep", "lock")
_REPEAT = ("rep", "repe", "repz", "repne", "repnz")
_BRANCHES = ("call", "callq", "jmp", "jmpq", "ret", "retq", "lret", "lretq", "lretl")


def _stem(mnemonic: str, stems: Sequence[str]) -> str | None:
    """The entry of `stems` that `mnemonic` is, with or without an AT&T size suffix."""
    if mnemonic in stems:
        return mnemonic
    if mnemonic[-1:] in ("b", "w", "l", "q") and mnemonic[:-1] in stems:
        return mnemonic[:-1]
    return None


def is_prefix_statement(insn: Insn) -> bool:
    """A statement that is only prefix words (`lock`, `rep`), applying to what follows it."""
    return insn.mnemonic in PREFIX_BYTES and not insn.operands


def prefix_problem(insn: Insn) -> str | None:
    """Why `insn` may not carry its prefix words, or None when it may."""
    words, mn, ops = insn.prefixes, insn.mnemonic, insn.operands
    if not words:
        return None
    slots: dict[str, str] = {}
    for w in words:
        other = slots.setdefault(_SLOT[w], w)
        if other != w or words.count(w) > 1:
            return f"`{other}` and `{w}` are prefixes of the same kind; an instruction takes one"
    if mn in MNEMONIC_BYTES:
        return f"seamemu does not put prefixes on `{mn}` (`{' '.join(words)}`)"
    is_branch = mn in _BRANCHES or insn.direct_branch
    locked = _stem(mn, LOCKABLE)
    memory_dest = bool(ops) and ops[-1].kind == "mem" and not insn.direct_branch
    if locked == "xchg":
        memory_dest = any(o.kind == "mem" for o in ops)
    if "lock" in words and not (locked and memory_dest):
        return (f"`lock` is not allowed on `{mn}`" + (" with a register destination" if locked else "")
                + ": a CPU raises #UD (only " + ", ".join(s.upper() for s in LOCKABLE)
                + " with a memory destination take it)")
    rep = slots.get("rep")
    if rep in _REPEAT and not (_stem(mn, REP_STRING) or mn in ("ret", "retq")
                               or (mn == "nop" and not ops and rep in ("rep", "repe", "repz"))):
        return f"`{rep}` is only for string instructions ({', '.join(REP_STRING)}), not `{mn}`"
    if rep in ("xacquire", "xrelease") and "lock" not in words and locked != "xchg":
        store = rep == "xrelease" and _stem(mn, XRELEASE_STORE) and memory_dest
        if not store:
            return f"`{rep}` needs a `lock`-prefixed instruction" + (
                ", an XCHG or a MOV to memory" if rep == "xrelease" else " or an XCHG")
    if "notrack" in words and not (mn in _BRANCHES[:4] and not insn.direct_branch):
        return "`notrack` is only for indirect `call` and `jmp`"
    if is_branch and "data16" in words:
        return ("`data16` on a branch: Intel CPUs ignore it, AMD CPUs cut the target to 16 bits; "
                "seamemu cannot tell which one you mean")
    if insn.direct_branch and "addr32" in words:
        return "`addr32` on a direct branch has no effect (GNU as drops it)"
    return None


def with_prefixes(words: Sequence[str], code: bytes) -> bytes:
    """`code` with the prefix words' bytes merged into its own prefixes, in GNU as's order."""
    if not words:
        return code
    k = 0
    while k < len(code) and code[k] in _BYTE_SLOT:
        k += 1
    have = [(_BYTE_SLOT[b], bytes([b])) for b in code[:k]]
    rest = code[k:]
    rex = b""
    for w in words:
        slot = _SLOT[w]
        if slot == "rex":
            if rest[:1] and 0x40 <= rest[0] <= 0x4F:
                raise ExprError("`rex64` on an instruction that already has a REX prefix")
            rex = PREFIX_BYTES[w]
            continue
        if any(s == slot for s, _ in have):
            raise ExprError(f"`{w}` on an instruction that already has a prefix of that kind "
                            f"({code[:k].hex()})")
        have.append((slot, PREFIX_BYTES[w]))
    have.sort(key=lambda pair: _ORDER.index(pair[0]))
    return b"".join(b for _, b in have) + rex + rest


__all__ = ["PREFIX_BYTES", "SEGMENT_WORDS", "is_prefix_statement", "prefix_problem", "with_prefixes"]
