# SPDX-License-Identifier: MIT
"""Expressions: GAS operand/directive expressions and C preprocessor `#if` expressions.

Two grammars share one tokenizer and one precedence-climbing parser.  GAS precedence differs
from C (GAS `1 + 2 << 3` is `1 + 16`, `a | b == c` is `(a | b) == c`), so each mode has its
own table.  Spec: GNU as manual "Infix Operators" and gas/expr.c op_rank (binutils 2.40);
ISO C11 §6.5 (operators) and §6.10.1 (`#if`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from .limits import MAX_EXPR_NESTING
from .source import scan

_MASK64 = (1 << 64) - 1

# A symbol name as GAS accepts it; \x02 marks our internal names for numeric local labels.
SYMBOL_RE = r"[A-Za-z_.$][\w.$\x02]*"
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<local>\d+\x02\d+)"
    r"|(?P<num>\d[\w]*)"
    r"|(?P<char>'(?:\\(?:x[0-9A-Fa-f]+|[0-7]{1,3}|.)|[^\\])'?)"
    rf"|(?P<sym>{SYMBOL_RE})"
    r"|(?P<op><<|>>|==|!=|<>|<=|>=|&&|\|\||[-+*/%|&^!~<>()?:])"
    r")"
)

_ESCAPES = {"n": 10, "t": 9, "r": 13, "b": 8, "f": 12, "v": 11, "a": 7, "e": 27, "0": 0,
            "\\": 92, "'": 39, '"': 34}


def short(text: str) -> str:
    """An expression as an error message quotes it: whole when short, else its start."""
    t = text.strip()
    return t if len(t) <= 80 else f"{t[:60]}... ({len(t):,} characters)"


class ExprError(ValueError):
    """An expression that cannot be parsed or evaluated; the caller adds file and line."""


@dataclass(frozen=True)
class Value:
    """A GAS value: a number, and the section it is relative to (None when absolute)."""

    n: int
    section: str | None = None


def wrap64(v: int) -> int:
    """Two's complement 64-bit, as GAS computes on a 64-bit host (signed view)."""
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def char_value(lit: str) -> int:
    """Value of a character constant `'c`, `'c'` or `'\\n'`."""
    body = lit[1:]
    if body.endswith("'") and len(body) > 1:
        body = body[:-1]
    if body.startswith("\\"):
        esc = body[1:]
        if esc[:1] == "x":
            return int(esc[1:], 16)
        if esc[:1].isdigit():
            return int(esc, 8)
        return _ESCAPES.get(esc, ord(esc[:1]))
    return ord(body[:1])


def _number(text: str, c_mode: bool) -> int:
    t = text
    if c_mode:
        t = re.sub(r"[uUlL]+$", "", t)
    low = t.lower()
    try:
        if low.startswith("0x"):
            return int(low[2:], 16)
        if low.startswith("0b"):
            return int(low[2:], 2)
        if len(low) > 1 and low.startswith("0"):
            return int(low[1:], 8)
        return int(low, 10)
    except ValueError:
        raise ExprError(f"bad number `{text}`") from None


def tokenize(text: str, c_mode: bool = False) -> list[tuple[str, str]]:
    """Split an expression into (kind, text) tokens; kinds: num, char, sym, op."""
    out: list[tuple[str, str]] = []
    text = text.rstrip()

    def stuck(rest: str) -> ExprError:
        return ExprError(f"unexpected `{rest.strip()[:20]}` in expression `{short(text)}`")

    for m in scan(_TOKEN, text, stuck):
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
    return out


# Binary operator precedence; higher binds tighter.  GAS ranks as its expr.c op_rank does
# (the manual lumps + - with the comparisons and && with ||; the code does not).
GAS_BINARY = {
    "*": 9, "/": 9, "%": 9, "<<": 9, ">>": 9,
    "|": 8, "&": 8, "^": 8, "!": 8,
    "+": 7, "-": 7,
    "==": 5, "!=": 5, "<>": 5, "<": 5, ">": 5, "<=": 5, ">=": 5,
    "&&": 3, "||": 2,
}
C_BINARY = {
    "*": 11, "/": 11, "%": 11, "+": 10, "-": 10, "<<": 9, ">>": 9,
    "<": 8, ">": 8, "<=": 8, ">=": 8, "==": 7, "!=": 7,
    "&": 6, "^": 5, "|": 4, "&&": 3, "||": 2,
}
_C_TERNARY = 1


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], text: str, c_mode: bool):
        self.toks = toks
        self.i = 0
        self.text = text
        self.c_mode = c_mode
        self.table = C_BINARY if c_mode else GAS_BINARY
        self.nesting = 0     # parentheses, unary operators and `?:` open around this point

    def nest(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_EXPR_NESTING:
            raise ExprError(f"expression nested more than {MAX_EXPR_NESTING} levels deep "
                            "(parentheses, unary operators, ?:), the limit")

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExprError(f"expression `{short(self.text)}` ends too early")
        self.i += 1
        return tok

    def parse(self, min_prec: int = 0) -> tuple:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None or tok[0] != "op":
                return left
            op = tok[1]
            if self.c_mode and op == "?" and min_prec <= _C_TERNARY:
                self.i += 1
                self.nest()
                yes = self.parse(0)
                if self.take() != ("op", ":"):
                    raise ExprError(f"`?` without `:` in `{short(self.text)}`")
                no = self.parse(_C_TERNARY)
                self.nesting -= 1
                left = ("cond", left, yes, no)
                continue
            width = 1
            if op == "!" and not self.c_mode and self.i + 1 < len(self.toks) \
                    and self.toks[self.i + 1] == ("op", "!"):
                op, width = "^", 2  # GAS reads a binary `!!` as exclusive or (MRI compatibility)
            prec = self.table.get(op)
            if prec is None or prec < min_prec:
                return left
            self.i += width
            right = self.parse(prec + 1)
            left = ("bin", op, left, right)

    def unary(self) -> tuple:
        kind, text = self.take()
        if kind == "num":
            return ("num", _number(text, self.c_mode))
        if kind == "char":
            return ("num", char_value(text))
        if kind in ("sym", "local"):
            return ("sym", text)
        if text == "(":
            self.nest()
            inner = self.parse(0)
            if self.take() != ("op", ")"):
                raise ExprError(f"unbalanced parentheses in `{short(self.text)}`")
            self.nesting -= 1
            return inner
        if text in ("-", "+", "~", "!"):
            self.nest()
            operand = self.unary()
            self.nesting -= 1
            return ("un", text, operand)
        raise ExprError(f"unexpected `{text}` in expression `{short(self.text)}`")


@lru_cache(maxsize=8192)
def parse(text: str, c_mode: bool = False) -> tuple:
    """Parse an expression to a small tuple AST (cached: layout passes re-evaluate)."""
    toks = tokenize(text, c_mode)
    if not toks:
        raise ExprError("missing expression")
    p = _Parser(toks, text, c_mode)
    tree = p.parse(0)
    if p.i != len(toks):
        raise ExprError(f"junk `{toks[p.i][1]}` after expression `{short(text)}`")
    return tree


def _spine(tree: tuple) -> tuple[tuple, list[tuple]]:
    """A left-deep chain of binary operators (`1+2+...+n` parses to one) as its leftmost
    operand and the operators above it, innermost first: walked in a loop, not recursion,
    so a 200,000-term sum needs no deeper stack than `1+2`."""
    chain = []
    while tree[0] == "bin":
        chain.append(tree)
        tree = tree[2]
    chain.reverse()
    return tree, chain


def symbols_in(tree: tuple) -> set[str]:
    """Every symbol name an AST mentions."""
    if tree[0] == "bin":
        first, chain = _spine(tree)
        found = symbols_in(first)
        for node in chain:
            found |= symbols_in(node[3])
        return found
    if tree[0] == "sym":
        return {tree[1]}
    out: set[str] = set()
    for part in tree[1:]:
        if isinstance(part, tuple):
            out |= symbols_in(part)
    return out


Resolver = Callable[[str], Value]


def evaluate(tree: tuple, resolve: Resolver) -> Value:
    """Evaluate a GAS AST; `resolve` gives each symbol's Value or raises ExprError."""
    tag = tree[0]
    if tag == "num":
        if tree[1] >> 64:
            # GNU as 2.40 calls it a bignum: "bignum invalid" in `.set`/`.if`/`.fill`,
            # "bignum truncated" in `.quad`, "integer 0 assumed" as an operand; refused.
            raise ExprError(f"the number {tree[1]:#x} does not fit in 64 bits")
        return Value(wrap64(tree[1]))
    if tag == "sym":
        return resolve(tree[1])
    if tag == "un":
        v = evaluate(tree[2], resolve)
        op = tree[1]
        if op == "+":
            return v
        n = {"-": -v.n, "~": ~v.n, "!": int(v.n == 0)}[op]
        return Value(wrap64(n))
    if tag == "bin":
        first, chain = _spine(tree)
        acc = evaluate(first, resolve)
        for node in chain:
            acc = _binary(node[1], acc, evaluate(node[3], resolve))
        return acc
    raise ExprError(f"unsupported expression form {tag}")


def _binary(op: str, a: Value, b: Value) -> Value:
    x, y = a.n, b.n
    if op == "+":
        sec = a.section if b.section is None else (b.section if a.section is None else None)
        return Value(wrap64(x + y), sec)
    if op == "-":
        sec = a.section if b.section is None else None
        return Value(wrap64(x - y), sec)
    if op in ("/", "%"):
        if y == 0:
            raise ExprError("division by zero")
        q = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)  # C truncation
        return Value(wrap64(q if op == "/" else x - q * y))
    if op in ("==", "!=", "<>", "<", ">", "<=", ">="):
        truth = {"==": x == y, "!=": x != y, "<>": x != y, "<": x < y, ">": x > y,
                 "<=": x <= y, ">=": x >= y}[op]
        return Value(-1 if truth else 0)  # GAS: comparisons give -1 for true
    if op in ("<<", ">>") and not 0 <= y < 64:
        # GNU as warns "shift count out of range" and takes 0; refused.
        raise ExprError(f"shift count {y} is out of range (0 to 63)")
    funcs = {
        "*": lambda: x * y,
        "<<": lambda: x << y,
        ">>": lambda: (x & _MASK64) >> y,
        "|": lambda: x | y, "&": lambda: x & y, "^": lambda: x ^ y, "!": lambda: x | ~y,
        "&&": lambda: int(bool(x) and bool(y)), "||": lambda: int(bool(x) or bool(y)),
    }
    return Value(wrap64(funcs[op]()))


def evaluate_c(tree: tuple) -> int:
    """Evaluate a C `#if` AST; identifiers left after macro expansion count as 0.

    Arithmetic is in intmax_t/uintmax_t, 64 bits (C11 6.10.1p4): a value that does not fit
    in 64 bits, or a shift by a negative count or by 64 or more (both undefined in C), is
    an error rather than a number Python would happily let grow without bound."""
    if tree[0] == "bin":
        first, chain = _spine(tree)
        acc = evaluate_c(first)
        for node in chain:
            acc = _c_binary(node[1], acc, node[3])
        return acc
    return _c_node(tree)


def _fits(v: int) -> int:
    if not -(1 << 64) < v < 1 << 64:
        raise ExprError("#if arithmetic overflows 64 bits")
    return v


def _c_node(tree: tuple) -> int:
    tag = tree[0]
    if tag == "num":
        return tree[1]
    if tag == "sym":
        return 0
    if tag == "un":
        v = evaluate_c(tree[2])
        return _fits({"-": -v, "+": v, "~": ~v, "!": int(v == 0)}[tree[1]])
    if tag == "cond":
        return evaluate_c(tree[2]) if evaluate_c(tree[1]) else evaluate_c(tree[3])
    raise ExprError(f"unsupported expression form {tag}")


def _c_binary(op: str, left: int, right_tree: tuple) -> int:
    """`left op right`; the right side of && and || is evaluated only when it decides."""
    if op == "&&":
        return int(bool(left) and bool(evaluate_c(right_tree)))
    if op == "||":
        return int(bool(left) or bool(evaluate_c(right_tree)))
    right = evaluate_c(right_tree)
    if op in ("/", "%"):
        if right == 0:
            raise ExprError("division by zero in #if")
        q = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
        return _fits(q if op == "/" else left - q * right)
    if op in ("<<", ">>"):
        if not 0 <= right < 64:
            raise ExprError(f"shift by {right} in #if: the count must be 0..63")
        return _fits(left << right if op == "<<" else left >> right)
    if op in ("==", "!=", "<", ">", "<=", ">="):
        return int({"==": left == right, "!=": left != right, "<": left < right,
                    ">": left > right, "<=": left <= right, ">=": left >= right}[op])
    return _fits({"*": left * right, "+": left + right, "-": left - right, "&": left & right,
                   "^": left ^ right, "|": left | right}[op])


__all__ = [
    "ExprError",
    "SYMBOL_RE",
    "Value",
    "char_value",
    "evaluate",
    "evaluate_c",
    "parse",
    "short",
    "symbols_in",
    "tokenize",
    "wrap64",
]
