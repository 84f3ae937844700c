# SPDX-License-Identifier: MIT
"""GAS macro language: .macro/.endm, conditionals, .rept/.irp/.irpc, .set/.equ, numeric labels.

The front end expands all of this itself (keystone 0.9.2 hangs or drops code on `\\@`,
keyword arguments tested by `.if`, ...), producing a flat list of `Stmt` that the layout
reads.  Spec: GNU as manual, "Macro", "If", "Rept", "Irp", "Set", "Local Labels".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import AsmLimitError
from . import limits
from .expr import ExprError, Value, evaluate, parse
from .gas_args import MacroParam, parse_invocation, parse_params
from .limits import too_many_statements, too_much_work
from .source import (
    ASSIGN_RE,
    Loc,
    Stmt,
    rewrite_numeric_refs,
    split_args,
    split_labels,
    split_op,
    split_statements,
    unquote,
)

_CONDITIONALS = {".if", ".ifeq", ".ifne", ".ifge", ".ifgt", ".ifle", ".iflt", ".ifdef",
                 ".ifndef", ".ifnotdef", ".ifb", ".ifnb", ".ifc", ".ifnc", ".ifeqs", ".ifnes"}
_REPEATS = {".rept", ".irp", ".irpc"}
_MAX_DEPTH = 200
_SUBST = re.compile(r"\\(@|\(\)|[A-Za-z_][\w.$]*)")

Item = tuple[str, Loc]
# Reads a `.include`d file: (path text, loc) -> the file's lines as items.
IncludeReader = Callable[[str, Loc], list[Item]]


@dataclass(frozen=True)
class GasMacro:
    name: str
    params: tuple[MacroParam, ...]
    body: tuple[Item, ...]
    loc: Loc


@dataclass
class _Cond:
    active: bool
    taken: bool
    parent: bool
    loc: Loc
    seen_else: bool = False


class _ExitMacro(Exception):
    pass


class _End(Exception):
    pass


class _NotConstant(Exception):
    def __init__(self, name: str):
        self.name = name


class Expander:
    """Expands one input file (one scope) into statements."""

    def __init__(self, scope: int, read_include: IncludeReader | None = None):
        self.scope = scope
        self.read_include = read_include
        self.macros: dict[str, GasMacro] = {}
        self.env: dict[str, int] = {}
        self.deferred: set[str] = set()
        self.labels: dict[str, Loc] = {}
        self.numeric: dict[str, int] = {}
        self.forward: list[tuple[str, str, int, Loc]] = []
        self.counter = 0
        self.out: list[Stmt] = []
        self.conds: list[_Cond] = []
        self.depth = 0
        self.in_macro = 0
        self.work = 0        # statements looked at, repetitions included (limits.py)

    # -- driver --------------------------------------------------------------------------------
    def run(self, items: Sequence[Item]) -> list[Stmt]:
        try:
            self._block(self._split(items))
        except _End:
            pass
        for number, _, index, loc in self.forward:
            if self.numeric.get(number, 0) < index:
                raise loc.error(f"`{number}f` refers to no following `{number}:` label")
        return self.out

    @staticmethod
    def _split(items: Sequence[Item]) -> list[Item]:
        out: list[Item] = []
        for text, loc in items:
            for stmt in split_statements(text):
                out.append((stmt, loc))
        return out

    def _active(self) -> bool:
        return not self.conds or self.conds[-1].active

    def _emit(self, op: str, args: str, loc: Loc) -> None:
        if len(self.out) >= limits.MAX_STATEMENTS:
            raise too_many_statements(loc, len(self.out) + 1)
        self.out.append(Stmt(op, args, loc, self.scope, self.env))

    def _block(self, stmts: list[Item]) -> None:
        base = len(self.conds)
        i = 0
        while i < len(stmts):
            text, loc = stmts[i]
            i += 1
            self.work += 1
            if self.work > limits.MAX_EXPANSION_WORK:
                raise too_much_work(loc)
            labels, rest = split_labels(text)
            op, args = split_op(rest)
            opl = op.lower()
            if opl in _CONDITIONALS or opl in (".elseif", ".else", ".endif"):
                if self._active():
                    for lab in labels:
                        self._label(lab, loc)
                self._conditional(opl, args, loc, base)
                continue
            if not self._active():
                continue
            for lab in labels:
                self._label(lab, loc)
            if not op:
                continue
            assign = ASSIGN_RE.match(rest)
            if assign:
                self._assign(assign.group(1), assign.group(2), loc, "=")
            elif opl == ".macro":
                i = self._define(stmts, i, args, loc)
            elif opl in (".endm", ".endr"):
                opener = ".macro" if opl == ".endm" else ".rept/.irp/.irpc"
                raise loc.error(f"`{op}` without `{opener}`")
            elif opl == ".exitm":
                if not self.in_macro:
                    raise loc.error("`.exitm` outside a macro")
                raise _ExitMacro()
            elif opl in _REPEATS:
                body, i = self._collect(stmts, i, loc, _REPEATS, ".endr", op)
                self._repeat(opl, args, body, loc)
            elif opl in (".set", ".equ", ".equiv", ".eqv"):
                parts = split_args(args)
                if len(parts) != 2 or not parts[0]:
                    raise loc.error(f"`{op}` expects `name, expression`")
                self._assign(parts[0], parts[1], loc, opl)
            elif opl == ".purgem":
                if self.macros.pop(args.strip().lower(), None) is None:
                    raise loc.error(f"`.purgem`: no macro named `{args.strip()}`")
            elif opl == ".include":
                self._include(args, loc)
            elif opl in (".err", ".error"):
                raise loc.error(f"{op} {args}".strip() if opl == ".error" else ".err encountered")
            elif opl == ".altmacro":
                raise loc.error("`.altmacro` is not supported by seamemu's front end")
            elif opl in (".warning", ".print", ".noaltmacro"):
                pass
            elif opl == ".end":
                raise _End()
            elif opl in self.macros:
                self._invoke(self.macros[opl], args, loc)
            else:
                self._emit(opl, self._numeric_refs(args, loc), loc)
        if len(self.conds) > base:
            cond = self.conds[base]
            raise cond.loc.error("`.if` without `.endif`")

    # -- labels and symbols ----------------------------------------------------------------------
    def _label(self, name: str, loc: Loc) -> None:
        if name.isdigit():
            count = self.numeric.get(name, 0) + 1
            self.numeric[name] = count
            self._emit(":", f"{name}\x02{count}", loc)
            return
        first = self.labels.get(name)
        if first is not None or name in self.env:
            where = f" (first at {first.file}:{first.line})" if first else ""
            raise loc.error(f"symbol `{name}` is already defined{where}")
        self.labels[name] = loc
        self._emit(":", name, loc)

    def _numeric_refs(self, text: str, loc: Loc) -> str:
        def resolve(number: str, direction: str) -> str:
            count = self.numeric.get(number, 0)
            if direction == "b":
                if count == 0:
                    raise loc.error(f"`{number}b` refers to no earlier `{number}:` label")
                return f"{number}\x02{count}"
            self.forward.append((number, direction, count + 1, loc))
            return f"{number}\x02{count + 1}"
        return rewrite_numeric_refs(text, resolve)

    def _const(self, name: str) -> Value:
        if name in self.env:
            return Value(self.env[name])
        raise _NotConstant(name)

    def _constant(self, text: str, loc: Loc, what: str) -> int:
        try:
            return evaluate(parse(self._numeric_refs(text, loc)), self._const).n
        except _NotConstant as exc:
            if exc.name in self.labels or exc.name in self.deferred or "\x02" in exc.name:
                raise loc.error(f"{what} needs a constant; `{exc.name}` is an address") from None
            shown = exc.name.split("\x02")[0]
            raise loc.error(f"undefined symbol `{shown}` in {what}") from None
        except ExprError as exc:
            raise loc.error(f"{what}: {exc}") from None

    def _assign(self, name: str, expr: str, loc: Loc, how: str) -> None:
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_.$][\w.$]*", name):
            raise loc.error(f"bad symbol name `{name}` in `{how}`")
        if name in self.labels:
            raise loc.error(f"symbol `{name}` is already defined as a label")
        if how == ".equiv" and (name in self.env or name in self.deferred):
            raise loc.error(f"symbol `{name}` is already defined (.equiv)")
        text = self._numeric_refs(expr, loc)
        try:
            value = evaluate(parse(text), self._const).n
        except _NotConstant:
            # Depends on an address (or is defined later): the layout evaluates it in place.
            self.env = {k: v for k, v in self.env.items() if k != name}
            self.deferred.add(name)
            self._emit("=", f"{name}, {text}", loc)
            return
        except ExprError as exc:
            raise loc.error(f"bad expression in `{how}`: {exc}") from None
        self.env = {**self.env, name: value}
        self.deferred.discard(name)

    # -- conditionals ----------------------------------------------------------------------------
    def _conditional(self, op: str, args: str, loc: Loc, base: int) -> None:
        if op == ".endif":
            if len(self.conds) <= base:
                raise loc.error("`.endif` without `.if`")
            self.conds.pop()
            return
        if op in (".else", ".elseif"):
            if len(self.conds) <= base:
                raise loc.error(f"`{op}` without `.if`")
            cond = self.conds[-1]
            if cond.seen_else:
                raise loc.error(f"`{op}` after `.else`")
            if op == ".else":
                cond.seen_else = True
                cond.active = cond.parent and not cond.taken
                cond.taken = True
            elif cond.parent and not cond.taken:
                truth = self._constant(args, loc, "`.elseif`") != 0
                cond.active = cond.taken = truth
            else:
                cond.active = False
            return
        parent = self._active()
        truth = self._truth(op, args, loc) if parent else False
        self.conds.append(_Cond(parent and truth, truth, parent, loc))

    def _truth(self, op: str, args: str, loc: Loc) -> bool:
        if op in (".ifdef", ".ifndef", ".ifnotdef"):
            name = args.strip()
            defined = name in self.env or name in self.labels or name in self.deferred
            return defined == (op == ".ifdef")
        if op in (".ifb", ".ifnb"):
            return (args.strip() == "") == (op == ".ifb")
        if op in (".ifc", ".ifnc", ".ifeqs", ".ifnes"):
            parts = split_args(args)
            if len(parts) != 2:
                raise loc.error(f"`{op}` expects two operands separated by a comma")
            a, b = (p[1:-1] if len(p) >= 2 and p[0] == p[-1] == "'" else p for p in parts)
            if op in (".ifeqs", ".ifnes"):
                try:
                    a, b = unquote(a), unquote(b)
                except ValueError as exc:
                    raise loc.error(f"`{op}`: {exc}") from None
            same = a.strip() == b.strip()
            return same == (op in (".ifc", ".ifeqs"))
        value = self._constant(args, loc, f"`{op}`")
        return {".if": value != 0, ".ifne": value != 0, ".ifeq": value == 0,
                ".ifge": value >= 0, ".ifgt": value > 0, ".ifle": value <= 0,
                ".iflt": value < 0}[op]

    # -- macros ------------------------------------------------------------------------------------
    def _collect(self, stmts: list[Item], i: int, loc: Loc, openers: set[str], closer: str,
                 what: str) -> tuple[list[Item], int]:
        depth = 0
        body: list[Item] = []
        while i < len(stmts):
            text, where = stmts[i]
            i += 1
            op = split_op(split_labels(text)[1])[0].lower()
            if op in openers:
                depth += 1
            elif op == closer:
                if depth == 0:
                    return body, i
                depth -= 1
            body.append((text, where))
        raise loc.error(f"`{what}` without `{closer}`")

    def _define(self, stmts: list[Item], i: int, args: str, loc: Loc) -> int:
        m = re.match(r"\s*([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$", args, re.S)
        if not m:
            raise loc.error("`.macro` needs a name")
        name = m.group(1)
        body, i = self._collect(stmts, i, loc, {".macro"}, ".endm", f".macro {name}")
        try:
            params = parse_params(m.group(2))
        except ValueError as exc:
            raise loc.error(f"`.macro {name}`: {exc}") from None
        if name.lower() in self.macros:
            raise loc.error(f"macro `{name}` is already defined")
        self.macros[name.lower()] = GasMacro(name, params, tuple(body), loc)
        return i

    def _invoke(self, macro: GasMacro, argtext: str, loc: Loc) -> None:
        try:
            values = parse_invocation(macro.name, macro.params, argtext)
        except ValueError as exc:
            raise loc.error(str(exc)) from None
        number = self.counter
        self.counter += 1

        def subst(m: re.Match[str]) -> str:
            key = m.group(1)
            if key == "@":
                return str(number)
            if key == "()":
                return ""
            return values.get(key, m.group(0))

        chain = loc.chain + ((macro.name, loc.file, loc.line),)
        body = [(_SUBST.sub(subst, text), Loc(w.file, w.line, w.text, chain))
                for text, w in macro.body]
        self._nested(body, loc, macro=True)

    def _repeat(self, op: str, args: str, body: list[Item], loc: Loc) -> None:
        chain = loc.chain + ((op, loc.file, loc.line),)
        if op == ".rept":
            count = self._constant(args, loc, "`.rept`")
            # Every round looks at every body line at least once: refuse before expanding.
            if self.work + max(count, 0) * max(len(body), 1) > limits.MAX_EXPANSION_WORK:
                raise too_much_work(loc)
            rounds: list[dict[str, str]] = [{}] * max(count, 0)
        else:
            parts = split_args(args) if op == ".irp" else [p.strip() for p in args.split(",", 1)]
            if not parts or not parts[0]:
                raise loc.error(f"`{op}` needs a parameter name")
            name = parts[0]
            if op == ".irp":
                values = parts[1:] or [""]
            else:
                chars = parts[1] if len(parts) > 1 else ""
                values = list(chars) or [""]
            if self.work + len(values) * max(len(body), 1) > limits.MAX_EXPANSION_WORK:
                raise too_much_work(loc)
            rounds = [{name: v} for v in values]
        for env in rounds:
            self.work += 1   # an empty body costs a round too
            def subst(m: re.Match[str], env=env) -> str:
                return env.get(m.group(1), m.group(0))
            expanded = [(_SUBST.sub(subst, text) if env else text, Loc(w.file, w.line, w.text, chain))
                        for text, w in body]
            self._nested(expanded, loc, macro=False)

    def _nested(self, body: list[Item], loc: Loc, macro: bool) -> None:
        if self.depth >= _MAX_DEPTH:
            raise loc.error(f"macro expansion nested too deeply: more than {_MAX_DEPTH} levels of "
                            "macros, .rept and .include, the limit (a macro that invokes itself?)",
                            AsmLimitError)
        self.depth += 1
        self.in_macro += int(macro)
        base = len(self.conds)
        try:
            self._block(self._split(body))
        except _ExitMacro:
            if not macro:
                raise
            del self.conds[base:]
        finally:
            self.depth -= 1
            self.in_macro -= int(macro)

    def _include(self, args: str, loc: Loc) -> None:
        if self.read_include is None:
            raise loc.error("`.include` is not available here")
        try:
            name = unquote(args)
        except ValueError:
            raise loc.error(f"`.include` expects a quoted file name, got `{args}`") from None
        self._nested(self.read_include(name, loc), loc, macro=False)


def expand(items: Sequence[Item], scope: int = 0,
           read_include: IncludeReader | None = None) -> list[Stmt]:
    """Expand one file's preprocessed lines into statements (AsmError on any mistake)."""
    return Expander(scope, read_include).run(items)


__all__ = ["Expander", "GasMacro", "IncludeReader", "Item", "expand"]
