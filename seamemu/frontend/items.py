# SPDX-License-Identifier: MIT
"""From statements to layout items: which section each belongs to, and what it emits.

Section switching, symbol attributes (.globl/.weak/.type/.size) and constant alignments are
settled here once; the layout passes only size and place the items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .directives import (
    ALIGN,
    DATA_WIDTH,
    IGNORED,
    SECTION_SWITCH,
    SPACE,
    STRINGS,
    SYMBOL_META,
    UNSUPPORTED,
    default_flags,
    parse_section_args,
)
from .expr import ExprError, Value, evaluate, parse
from .link import SectionSpec
from .operands import Insn, parse_insn
from .prefixes import prefix_problem
from .source import Loc, Stmt, split_args, unquote

# Test hook: when True, `.seamemu_keystone_raw "text"` hands `text` to keystone untouched,
# so tests can prove that a keystone crash or hang becomes an AsmError.
RAW_KEYSTONE_HOOK = False
FILL_SIZE_MAX = 8        # bytes per `.fill` repeat; the value itself is 4 bytes, zero-extended


@dataclass
class Item:
    kind: str          # label, set, insn, data, bytes, skip, fill, align, nops, raw
    stmt: Stmt
    section: str
    name: str = ""                 # label / set / size symbol
    exprs: tuple[str, ...] = ()    # data values; skip (size, fill); fill (repeat, value)
    width: int = 0                 # data width; fill size
    data: bytes = b""              # bytes items
    align: int = 0
    fill: int | None = None        # align fill byte (None: NOP in code, else zero)
    max_skip: int | None = None
    insn: Insn | None = None

    @property
    def loc(self) -> Loc:
        return self.stmt.loc


@dataclass
class Program:
    """Every input file's items, sections in creation order, and symbol attributes."""

    items: list[Item] = field(default_factory=list)
    sections: dict[str, SectionSpec] = field(default_factory=dict)
    globals: list[set[str]] = field(default_factory=list)   # per scope
    weak: set[str] = field(default_factory=set)
    types: dict[str, str] = field(default_factory=dict)
    sizes: list[Item] = field(default_factory=list)         # .size items, checked at the end
    files: list[str] = field(default_factory=list)
    # Each file's constant symbols at its end: GAS resolves a constant defined after its use.
    final_env: list[Mapping[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)        # "FILE:LINE: message"


def constant(stmt: Stmt, text: str, what: str) -> int:
    """A constant expression (only .set/.equ symbols), or AsmError at the statement."""
    def resolve(name: str) -> Value:
        if name in stmt.env:
            return Value(stmt.env[name])
        raise ExprError(f"`{name.split(chr(2))[0]}` is not a constant")
    try:
        return evaluate(parse(text), resolve).n
    except ExprError as exc:
        raise stmt.loc.error(f"{what}: {exc}") from None


class _Builder:
    def __init__(self, program: Program):
        self.p = program
        for name in (".text", ".data", ".bss"):
            self._declare(name, None, None)

    def _declare(self, name: str, flags: str | None, nobits: bool | None) -> None:
        if name not in self.p.sections:
            dflags, dnobits = default_flags(name)
            self.p.sections[name] = SectionSpec(
                name, dflags if flags is None else flags, dnobits if nobits is None else nobits)

    def file(self, scope: int, stmts: Sequence[Stmt]) -> None:
        current, previous = ".text", ".text"
        stack: list[tuple[str, str]] = []
        glob: set[str] = set()
        self.p.globals.append(glob)
        for st in stmts:
            op = st.op
            if op in SECTION_SWITCH:
                current, previous = self._switch(st, current, previous, stack)
                continue
            item = self._item(st, current, glob)
            if item is not None:
                self.p.items.append(item)

    def _switch(self, st: Stmt, current: str, previous: str,
                stack: list[tuple[str, str]]) -> tuple[str, str]:
        op = st.op
        if op == ".popsection":
            if not stack:
                raise st.loc.error("`.popsection` without `.pushsection`")
            return stack.pop()
        if op == ".previous":
            return previous, current
        if op in (".text", ".data", ".bss", ".rodata"):
            if st.args.strip():
                raise st.loc.error(f"subsections (`{op} {st.args}`) are not supported")
            name = op
            self._declare(name, None, None)
        else:
            try:
                name, flags, nobits = parse_section_args(split_args(st.args))
            except ValueError as exc:
                raise st.loc.error(f"`{op}`: {exc}") from None
            self._declare(name, flags, nobits)
        if op == ".pushsection":
            stack.append((current, previous))
        return name, current

    def _item(self, st: Stmt, section: str, glob: set[str]) -> Item | None:
        op, args, loc = st.op, st.args, st.loc
        if op == ":":
            return Item("label", st, section, name=args)
        if op == "=":
            name, _, expr = args.partition(",")
            return Item("set", st, section, name=name.strip(), exprs=(expr.strip(),))
        if not op.startswith("."):
            try:
                insn = parse_insn(op, args)
            except ExprError as exc:
                raise loc.error(f"cannot read `{op} {args}`: {exc}") from None
            why = prefix_problem(insn)
            if why:
                raise loc.error(f"`{op} {args}`: {why}")
            return Item("insn", st, section, insn=insn)
        if op in DATA_WIDTH:
            values = tuple(split_args(args))
            if not values or any(not v for v in values):
                raise loc.error(f"`{op}` needs one or more comma-separated values")
            return Item("data", st, section, exprs=values, width=DATA_WIDTH[op])
        if op in STRINGS:
            try:
                chunks = [unquote(s) for s in split_args(args)]
            except ValueError as exc:
                raise loc.error(f"`{op}`: {exc}") from None
            nul = "\0" if STRINGS[op] else ""
            data = "".join(c + nul for c in chunks).encode("latin-1", errors="replace")
            return Item("bytes", st, section, data=data)
        if op in SPACE:
            parts = split_args(args)
            if not parts or not parts[0]:
                raise loc.error(f"`{op}` needs a size")
            if op == ".fill":
                size = constant(st, parts[1], "`.fill` size") if len(parts) > 1 and parts[1] else 1
                if size < 0:        # GNU as warns and ignores the directive: refused here
                    raise loc.error(f"`.fill` size {size} is negative")
                if size > FILL_SIZE_MAX:
                    # GNU as (gas/read.c s_fill) clamps it, with this warning.
                    self.p.warnings.append(f"{loc.file}:{loc.line}: .fill size clamped to "
                                           f"{FILL_SIZE_MAX}")
                    size = FILL_SIZE_MAX
                value = parts[2] if len(parts) > 2 and parts[2] else "0"
                return Item("fill", st, section, exprs=(parts[0], value), width=size)
            if op == ".zero" and len(parts) > 1:
                raise loc.error("`.zero` takes only a size")
            fill = parts[1] if len(parts) > 1 and parts[1] else "0"
            return Item("skip", st, section, exprs=(parts[0], fill))
        if op in ALIGN:
            return self._align(st, section)
        if op == ".nops":
            parts = split_args(args)
            if not parts or not parts[0]:
                raise loc.error("`.nops` needs a size")
            return Item("nops", st, section, exprs=(parts[0],))
        if op in SYMBOL_META:
            self._meta(st, glob)
            return None
        if op == ".seamemu_keystone_raw" and RAW_KEYSTONE_HOOK:
            return Item("raw", st, section, data=unquote(args).encode())
        if op in IGNORED or op.startswith(".cfi_"):
            if op == ".att_syntax" and args.strip() == "noprefix":
                raise loc.error("`.att_syntax noprefix` is not supported")
            return None
        if op in UNSUPPORTED:
            raise loc.error(f"`{op}`: {UNSUPPORTED[op]}")
        raise loc.error(f"unknown directive `{op}`")

    def _align(self, st: Stmt, section: str) -> Item:
        parts = split_args(st.args)
        if not parts or not parts[0]:
            raise st.loc.error(f"`{st.op}` needs an alignment")
        n = constant(st, parts[0], f"`{st.op}` alignment")
        if st.op == ".p2align":
            if not 0 <= n <= 12:
                raise st.loc.error(f"`.p2align {n}`: seamemu supports up to 4 KiB alignment")
            align = 1 << n
        else:
            align = max(n, 1)
            if align & (align - 1) or align > 4096:
                raise st.loc.error(f"`{st.op} {n}`: alignment must be a power of two up to 4096")
        fill = None
        if len(parts) > 1 and parts[1]:
            fill = constant(st, parts[1], f"`{st.op}` fill") & 0xFF
        max_skip = constant(st, parts[2], f"`{st.op}` limit") if len(parts) > 2 and parts[2] else None
        return Item("align", st, section, align=align, fill=fill, max_skip=max_skip)

    def _meta(self, st: Stmt, glob: set[str]) -> None:
        op = st.op
        if op in (".type", ".size"):
            parts = split_args(st.args)
            if len(parts) != 2:
                raise st.loc.error(f"`{op}` expects `symbol, {'type' if op == '.type' else 'size'}`")
            if op == ".type":
                self.p.types[parts[0]] = parts[1].lstrip("@%#").lower()
            else:
                self.p.sizes.append(Item("size", st, "", name=parts[0], exprs=(parts[1],)))
            return
        names = [n.strip() for n in st.args.split(",") if n.strip()]
        if not names and op != ".extern":
            raise st.loc.error(f"`{op}` needs a symbol name")
        if op in (".globl", ".global", ".weak"):
            glob.update(names)
            if op == ".weak":
                self.p.weak.update(names)


def build_program(files: Sequence[Sequence[Stmt]], names: Sequence[str],
                  final_env: Sequence[Mapping[str, int]] = ()) -> Program:
    """Classify every file's statements; AsmError on unknown directives and bad operands."""
    program = Program(files=list(names), final_env=list(final_env) or [{} for _ in files])
    builder = _Builder(program)
    for scope, stmts in enumerate(files):
        builder.file(scope, stmts)
    return program


__all__ = ["Item", "Program", "RAW_KEYSTONE_HOOK", "build_program", "constant"]
