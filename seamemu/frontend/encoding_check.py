# SPDX-License-Identifier: MIT
"""The net under keystone: each instruction it emits is decoded back and compared with what was asked.

keystone 0.9.2 accepts some instructions GNU as rejects and emits something else without a
word: `lea (%rax,%rsp,2)` with %riz as the index, RIP-relative with an index dropped, `%ah`
turned into `%spl` next to a REX prefix, immediates cut to the field's width, opcodes that are
invalid in 64-bit mode (INTO, SALC).  Whatever the cause, the bytes then decode to another
instruction: a different mnemonic, operand, register, scale, displacement or immediate value.
The decoder (seamemu.disasm, capstone) also refuses what a 64-bit CPU raises #UD on for its
encoding alone.  So every keystone answer is decoded, with the prefix bytes seamemu adds, and
compared field by field with the statement keystone was given; any difference is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..arch.isa import FIELD_IMMEDIATES, REP_STRING, UD_CONTROL_REGISTERS, UD_DEBUG_REGISTERS
from ..disasm import Decoded, decode_structure
from ..disasm import Operand as Dec
from .expr import ExprError, Value, evaluate, parse
from .operands import JCC, Insn, Operand, parse_insn
from .prefixes import SEGMENT_WORDS, is_prefix_statement, prefix_problem, with_prefixes

if TYPE_CHECKING:
    from .items import Item

_SUFFIX_BYTES = {"b": 1, "w": 2, "l": 4, "q": 8}
# Condition codes as capstone names them (Intel SDM Vol. 2 Appendix B, the `tttn` field).
_CC_NAME = ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g")
# GNU as spellings that capstone prints another way: (source stem -> the AT&T stems it can be).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "cbw": ("cbtw",), "cdq": ("cltd",), "cdqe": ("cltq",), "cqo": ("cqto",), "cwd": ("cwtd",),
    "cwde": ("cwtl",), "fwait": ("wait",), "movabs": ("mov",), "movsx": ("movsb", "movsw"),
    "loopnz": ("loopne",), "loopz": ("loope",), "movsxd": ("movsl",), "movzx": ("movzb", "movzw"),
    "sal": ("shl",),
}
# Instructions with more than one operand size whose size GNU as must guess when the source
# gives neither a suffix nor a register (it warns and takes a default); seamemu refuses.
_SIZED: tuple[str, ...] = (
    "adc", "add", "and", "bt", "btc", "btr", "bts", "cmp", "cmps", "dec", "div", "idiv", "imul",
    "inc", "ins", "iret", "lods", "lret", "mov", "movs", "mul", "neg", "not", "or", "outs",
    "rcl", "rcr", "rol", "ror", "sar", "sbb", "scas", "shl", "shr", "stos", "sub", "sysexit",
    "sysret", "test", "xor",
)
_HIGH_BYTE = ("ah", "bh", "ch", "dh")
# Instructions whose operands capstone lists but the source may leave implicit.
_IMPLICIT = (*REP_STRING, "xlat")
# Prefix words of the F2/F3 group as capstone prints them (BND is F2 on a branch).
_REP_GROUP = frozenset({"bnd", "rep", "repe", "repne", "repnz", "repz", "xacquire", "xrelease"})
_CACHE_LIMIT = 100_000
_verdicts: dict[tuple[str, bytes, str, tuple[str, ...]], str | None] = {}
_branch_verdicts: dict[tuple[str, bytes, int, int], str | None] = {}


def encoding_problem(text: str, code: bytes, nop: str = "", prefixes: Sequence[str] = ()) -> str | None:
    """Why `code` is not the instruction `text` (with prefix words `prefixes`), or None.

    `text` is what keystone was sent (numbers already evaluated); `code` is its answer with
    the prefix bytes merged in; `nop` names the NOP form a `prefetchnta` text stands for.
    """
    # The verdict is a function of all four (keystone's bytes included), so it never goes stale.
    key = (text, code, nop, tuple(prefixes))
    if key in _verdicts:
        return _verdicts[key]
    if len(_verdicts) > _CACHE_LIMIT:
        _verdicts.clear()
    verdict = _problem(text, code, nop, tuple(prefixes))
    _verdicts[key] = verdict
    return verdict


def branch_problem(insn: Insn, code: bytes, address: int, target: int) -> str | None:
    """Why `code` at `address` is not the direct branch `insn` to `target`, or None.

    seamemu encodes direct branches itself (their offsets depend on the layout); they are
    decoded back like keystone's answers, so a wrong opcode or offset cannot pass either.
    """
    key = (insn.mnemonic, code, address, target)
    if key in _branch_verdicts:
        return _branch_verdicts[key]
    if len(_branch_verdicts) > _CACHE_LIMIT:
        _branch_verdicts.clear()
    dec = decode_structure(code, address)
    if dec is None or dec.size != len(code):
        why: str | None = f"the bytes {code.hex()} are not one valid x86-64 instruction"
    elif not ({s for s, _ in _forms(insn.mnemonic, True)} & {d for d, _ in _forms(dec.mnemonic, False)}):
        why = f"the bytes {code.hex()} are `{dec.text}`, not a `{insn.mnemonic}`"
    elif [o.kind for o in dec.operands] != ["imm"] or (dec.operands[0].imm - target) % (1 << 64):
        why = f"the bytes {code.hex()} are `{dec.text}`, not a branch to {target:#x}"
    else:
        why = None
    _branch_verdicts[key] = why
    return why


def checked_encoding(item: Item, text: str, code: bytes, nop: str = "") -> bytes:
    """keystone's `code` for `text` with `item`'s prefix bytes merged in; AsmError at the
    item's line when the result is not faithfully the instruction the statement asked for."""
    assert item.insn is not None
    try:
        full = with_prefixes(item.insn.prefixes, code)
    except ExprError as exc:
        raise item.loc.error(str(exc)) from None
    problem = encoding_problem(text, full, nop, item.insn.prefixes)
    if problem:
        stmt = f"{item.stmt.op} {item.stmt.args}".rstrip()
        raise item.loc.error(f"cannot assemble `{stmt}` faithfully: {problem}")
    return full


def _problem(text: str, code: bytes, nop: str, prefixes: tuple[str, ...]) -> str | None:
    dec = decode_structure(code)
    if dec is None:
        return f"the bytes {code.hex()} are not a valid x86-64 instruction (a CPU raises #UD)"
    if dec.size != len(code):
        return f"the bytes {code.hex()} are more than one instruction"
    op, _, args = text.partition(" ")
    want = parse_insn(nop or op, args)
    for o in dec.operands:
        if o.reg in UD_CONTROL_REGISTERS or o.reg in UD_DEBUG_REGISTERS:
            return f"%{o.reg} does not exist: a CPU raises #UD on `{dec.text}`"
    if dec.mnemonic.startswith("mov") and dec.operands and dec.operands[-1].reg == "cs":
        return f"a MOV to %cs raises #UD (`{dec.text}`); far jumps and returns load CS"
    if _same_effect(want, dec, prefixes):
        return None
    extra = _extra_prefix(dec, prefixes)
    if extra:
        return f"the bytes {code.hex()} are `{dec.text}`: a `{extra}` prefix the source does not have"
    why = _mnemonic_problem(want, dec) or _operands_problem(want, dec, prefixes)
    if why is None:
        return None
    return f"the bytes {code.hex()} are `{dec.text}`: {why}"


# -- mnemonics ---------------------------------------------------------------------------------
def _forms(mnemonic: str, source: bool) -> set[tuple[str, str]]:
    """(stem, size suffix) readings of a mnemonic; the suffix is "" when none is written."""
    readings = {(mnemonic, "")}
    if len(mnemonic) > 2 and mnemonic[-1] in _SUFFIX_BYTES:
        readings.add((mnemonic[:-1], mnemonic[-1]))
    out: set[tuple[str, str]] = set()
    for stem, suffix in readings:
        for p in ("cmov", "set", "j"):
            cc = JCC.get("j" + stem[len(p):]) if stem.startswith(p) else None
            if cc is not None:
                stem = p + _CC_NAME[cc]
                break
        if source:
            out.update((s, suffix) for s in _SYNONYMS.get(stem, (stem,)))
        else:
            out.add(("mov" if stem == "movabs" else stem, suffix))
    return out


def _same_effect(want: Insn, dec: Decoded, prefixes: tuple[str, ...]) -> bool:
    """The few spellings whose bytes decode to another name for the same instruction."""
    ops = [o.text.lower() for o in want.operands]
    if dec.mnemonic == "nop" and not dec.operands:
        # 66 90 is XCHG %ax, %ax (GNU as writes it so too); Intel SDM Vol. 2B NOP, XCHG.
        return want.mnemonic in ("xchg", "xchgw") and ops == ["%ax", "%ax"]
    if dec.mnemonic == "pause":
        # F3 90 is PAUSE, and `rep; nop` is how older code writes it (Intel SDM Vol. 2B PAUSE).
        return want.mnemonic == "nop" and not ops and bool({"rep", "repe", "repz"} & set(prefixes))
    return False


def _extra_prefix(dec: Decoded, prefixes: tuple[str, ...]) -> str | None:
    """A LOCK or REP-group prefix capstone shows that no prefix word asked for."""
    for word in dec.prefixes:
        if word == "lock" and "lock" not in prefixes:
            return word
        if word in _REP_GROUP and not _REP_GROUP.intersection(prefixes):
            return word
    return None


def _mnemonic_problem(want: Insn, dec: Decoded) -> str | None:
    ops = want.operands
    mine, theirs = _forms(want.mnemonic, True), _forms(dec.mnemonic, False)
    for stem, suffix in mine:
        for dstem, dsuffix in theirs:
            if stem != dstem:
                continue
            if suffix == dsuffix:
                return None
            if not suffix:
                if not any(o.kind == "reg" for o in ops) and stem in _SIZED:
                    return (f"`{want.mnemonic}` does not say its operand size: write "
                            f"`{stem}{dsuffix}` (or another suffix)")
                return None
            if not dsuffix and all(o.size == _SUFFIX_BYTES[suffix] for o in dec.operands):
                return None
    return f"the mnemonic is `{dec.mnemonic}`, not `{want.mnemonic}`"


# -- operands ----------------------------------------------------------------------------------
def _num(text: str) -> int:
    def no_symbols(name: str) -> Value:
        raise ExprError(f"unexpected symbol `{name}`")
    return evaluate(parse(text), no_symbols).n if text else 0


def _aligned(want: Insn, dec: Decoded) -> tuple[tuple[Operand, ...], tuple[Dec, ...]] | None:
    """The source and decoded operands paired up, leaving out operands one side keeps implicit."""
    src = tuple(want.operands)
    # capstone 5 lists `rclb %cl, m8` (D2 /2) as (m8, $1 of size 0): no real immediate has size 0.
    got = tuple(o for o in dec.operands if not (o.kind == "imm" and o.size == 0))
    if src and src[0].text.lower() == "%cl" and "%cl" in dec.text and len(got) == len(src) - 1:
        return src[1:], got  # shifts by %cl: the count register may be left out
    if len(src) == len(got):
        return src, got
    if not src and all(any(stem in _IMPLICIT for stem, _ in _forms(m, m is want.mnemonic))
                       for m in (want.mnemonic, dec.mnemonic)):
        return src, ()  # string instructions: capstone lists the implicit (%rsi)/(%rdi)
    if len(got) == len(src) + 1 and got[0].kind == "imm" and got[0].imm == 1 and (
            not src or src[0].kind != "imm"):
        return src, got[1:]  # shifts by one (D0-D3): capstone shows the implicit $1
    if len(got) == 3 == len(src) + 1 and got[1] == got[2] and want.mnemonic.startswith("imul"):
        return src, got[:2]  # `imul $n, %r` is `imul $n, %r, %r`
    st0 = tuple(o for o in src if o.text.lower() not in ("%st", "%st(0)"))
    if len(st0) == len(got) and len(st0) < len(src):
        return st0, got  # x87: %st(0) left implicit by capstone
    return None


def _operands_problem(want: Insn, dec: Decoded, prefixes: tuple[str, ...]) -> str | None:
    pair = _aligned(want, dec)
    if pair is None:
        return f"{len(dec.operands)} operand(s) where the source has {len(want.operands)}"
    # A segment word (or NOTRACK, which is the DS byte 3E) overrides the memory operand's segment.
    seg = next(("ds" if w == "notrack" else w for w in prefixes if w in (*SEGMENT_WORDS, "notrack")), "")
    src, got = pair
    why = _pairwise(src, got, want, seg)
    if why and len(src) == 2 and any(stem in ("test", "xchg") for stem, _ in _forms(want.mnemonic, True)):
        if _pairwise(src[::-1], got, want, seg) is None:
            return None  # both operands are read (and XCHG writes both): the order is free
    return why


def _pairwise(src: Sequence[Operand], got: Sequence[Dec], want: Insn, seg: str) -> str | None:
    fields = next((FIELD_IMMEDIATES[stem] for stem, _ in _forms(want.mnemonic, True)
                   if stem in FIELD_IMMEDIATES), ())
    imms = iter(fields)
    for n, (s, d) in enumerate(zip(src, got), 1):
        width = next(imms, 0) if s.kind == "imm" else 0
        why = _operand_problem(s, d, want, seg, width)
        if why:
            return f"operand {n} {why}"
    return None


def _operand_problem(s: Operand, d: Dec, want: Insn, seg_word: str, field: int) -> str | None:
    if s.kind == "reg":
        name = s.text[1:].lower()
        name = "st(0)" if name == "st" else name
        if d.kind != "reg" or d.reg != name:
            got = f"%{d.reg}" if d.kind == "reg" else f"a {d.kind}"
            hint = (" (%ah, %bh, %ch and %dh cannot be used where a REX prefix is needed)"
                    if name in _HIGH_BYTE else "")
            return f"is {got}, not {s.text}{hint}"
        return None
    if s.kind == "imm":
        if d.kind != "imm":
            return f"is a {d.kind}, not the immediate {s.text}"
        # Compared at the operand size (the CPU extends the field to it), or, for a count,
        # port or offset (`field` bits), in the field itself, as capstone may sign-extend it.
        v, bits = _num(s.text), field or 8 * (d.size or 8)
        if not -(1 << (bits - 1)) <= v < (1 << bits) or (v - d.imm) % (1 << bits):
            return f"is the immediate {d.imm:#x}, not {v:#x}"
        return None
    if d.kind == "reg" and s.regs == ("%dx", "", "") and not s.disp and d.reg == "dx":
        return None  # `in (%dx), %al`: the port is %dx
    if d.kind != "mem":
        return f"is a {d.kind}, not memory"
    return _memory_problem(s, d, want, seg_word)


def _memory_problem(s: Operand, d: Dec, want: Insn, seg_word: str) -> str | None:
    base, index, scale = s.regs or ("", "", "")
    base, index = base[1:].lower(), index[1:].lower()
    index = "" if index in ("riz", "eiz") else index
    seg = s.seg[1:-1].lower() if s.seg else seg_word
    if d.segment != seg:
        return f"uses segment {d.segment or 'none'}, not {seg or 'none'}"
    if d.base != base:
        return f"has base register {d.base or 'none'}, not {base or 'none'}"
    if d.index != index:
        hint = ""
        if index == "rsp":
            hint = " (%rsp cannot be an index register)"
        elif base in ("rip", "eip"):
            hint = " (RIP-relative addressing takes no index register)"
        return f"has index register {d.index or 'none'}, not {index}{hint}"
    if index and _num(scale or "1") != d.scale:
        return f"has scale {d.scale}, not {scale}"
    moffs = s.regs is None and want.mnemonic.startswith("movabs")
    bits = 64 if moffs else 32
    if (_num(s.disp) - d.disp) % (1 << bits):
        return f"has displacement {d.disp:#x}, not {_num(s.disp):#x}"
    return None


# -- prefixes written as statements of their own ---------------------------------------------
def check_prefix_statements(items: Sequence[Item], emitted: Sequence[tuple[int, int, int]],
                            encoded: Mapping[int, bytes], texts: Mapping[int, tuple[str, str]]) -> None:
    """A prefix written alone (`lock; incl (%rax)`) must suit the instruction right after it.

    `emitted` lists (item, address, size) of everything laid down, in item order; `encoded`
    the instructions' bytes; `texts` the (keystone text, NOP form) of keystone's items.
    AsmError at the prefix's line when the pair is not a valid, faithful instruction.
    """
    runs: dict[tuple[int, str], tuple[list[Item], int]] = {}
    for i, addr, size in emitted:
        it = items[i]
        key = (it.stmt.scope, it.section)
        before, end = runs.pop(key, ([], -1))
        before = before if end == addr else []
        if it.kind != "insn" or it.insn is None:
            continue
        if is_prefix_statement(it.insn):
            runs[key] = (before + [it], addr + size)
        elif before:
            why = _prefixed_problem(before, it, encoded[i], texts.get(i))
            if why:
                stmt = f"{it.stmt.op} {it.stmt.args}".rstrip()
                words = " ".join(w for b in before if b.insn for w in (*b.insn.prefixes, b.insn.mnemonic))
                raise before[0].loc.error(f"`{words}` applies to `{stmt}` (line {it.loc.line}): {why}")


def _prefixed_problem(before: list[Item], it: Item, code: bytes,
                      text: tuple[str, str] | None) -> str | None:
    assert it.insn is not None
    words = tuple(w for b in before if b.insn for w in (*b.insn.prefixes, b.insn.mnemonic))
    insn = Insn(it.insn.mnemonic, words + it.insn.prefixes, it.insn.operands)
    why = prefix_problem(insn)
    if why is None and text is not None:
        try:
            why = encoding_problem(text[0], with_prefixes(words, code), text[1], insn.prefixes)
        except ExprError as exc:
            why = str(exc)
    return why


__all__ = ["branch_problem", "check_prefix_statements", "checked_encoding", "encoding_problem"]
