# SPDX-License-Identifier: MIT
"""C preprocessor macros: `#define` parsing and expansion with hide sets.

Object-like and function-like macros, `#` stringizing, `##` pasting and `__VA_ARGS__`.
Rescanning follows Prosser's hide-set algorithm (the one GCC documents), so a macro never
expands inside its own expansion.  Spec: ISO C11 §6.10.3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .expr import ExprError
from .limits import MAX_CPP_STEPS, MAX_CPP_TOKENS

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<ident>[A-Za-z_]\w*)"
    r"|(?P<num>\.?\d(?:[eEpP][+-]|[\w.])*)"
    r'|(?P<str>"(?:\\.|[^"\\])*"?)'
    r"|(?P<char>'(?:\\.|[^\\])'?)"
    r"|(?P<punct>##|.)",
    re.S,
)



@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    hide: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CppMacro:
    name: str
    params: tuple[str, ...] | None  # None: object-like
    variadic: bool
    body: tuple[Tok, ...]


def tokenize_line(text: str) -> list[Tok]:
    return [Tok(m.lastgroup or "punct", m.group()) for m in _TOKEN.finditer(text)]


def _strip_ws(toks: list[Tok]) -> list[Tok]:
    i, j = 0, len(toks)
    while i < j and toks[i].kind == "ws":
        i += 1
    while j > i and toks[j - 1].kind == "ws":
        j -= 1
    return toks[i:j]


def _stringize(toks: list[Tok]) -> Tok:
    parts: list[str] = []
    for t in _strip_ws(toks):
        if t.kind == "ws":
            parts.append(" ")
        elif t.kind in ("str", "char"):
            parts.append(t.text.replace("\\", "\\\\").replace('"', '\\"'))
        else:
            parts.append(t.text)
    return Tok("str", '"' + "".join(parts) + '"')


class MacroTable:
    """The macros defined so far, and expansion of text against them."""

    def __init__(self) -> None:
        self.macros: dict[str, CppMacro] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.macros

    def undef(self, name: str) -> None:
        self.macros.pop(name, None)

    def define_text(self, text: str) -> None:
        """Parse the text after `#define`."""
        m = re.match(r"\s*([A-Za-z_]\w*)", text)
        if not m:
            raise ExprError(f"macro name missing in `{text.strip()}`")
        name = m.group(1)
        rest = text[m.end():]
        params: tuple[str, ...] | None = None
        variadic = False
        if rest.startswith("("):
            close = rest.find(")")
            if close < 0:
                raise ExprError(f"unterminated parameter list of macro {name}")
            names = [p.strip() for p in rest[1:close].split(",") if p.strip()]
            if names and names[-1] == "...":
                variadic = True
                names[-1] = "__VA_ARGS__"
            elif names and names[-1].endswith("..."):
                variadic = True
                names[-1] = names[-1][:-3].strip()
            for p in names:
                if not re.fullmatch(r"[A-Za-z_]\w*", p):
                    raise ExprError(f"bad parameter `{p}` of macro {name}")
            params = tuple(names)
            rest = rest[close + 1:]
        body = tuple(_strip_ws(tokenize_line(rest)))
        self.macros[name] = CppMacro(name, params, variadic, body)

    # -- expansion -----------------------------------------------------------------------------
    def open_call(self, text: str) -> bool:
        """True when the line ends inside the argument list of a function-like macro."""
        inside, depth = self.scan_call(text)
        return inside and depth > 0

    def scan_call(self, text: str, inside: bool = False, depth: int = 0) -> tuple[bool, int]:
        """open_call() in steps: (inside a call, parenthesis depth) after `text`, starting
        from the state an earlier piece of the same logical line left."""
        toks = tokenize_line(text)
        for i, t in enumerate(toks):
            if t.kind == "ident" and not inside:
                m = self.macros.get(t.text)
                if m is not None and m.params is not None:
                    j = i + 1
                    while j < len(toks) and toks[j].kind == "ws":
                        j += 1
                    if j < len(toks) and toks[j].text == "(":
                        inside = True
                        depth = 0
            elif inside and t.text == "(":
                depth += 1
            elif inside and t.text == ")":
                depth -= 1
                if depth == 0:
                    inside = False
        return inside, depth

    def expand_text(self, text: str, file: str = "", line: int = 0) -> str:
        toks = tokenize_line(text)
        if not any(t.kind == "ident" and t.text in self.macros for t in toks):
            return text
        return "".join(t.text for t in self.expand(toks, file, line))

    def expand_condition(self, text: str) -> str:
        """Expand a `#if` line: `defined X` / `defined(X)` first, then macros."""
        toks = tokenize_line(text)
        out: list[Tok] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "ident" and t.text == "defined":
                j = i + 1
                while j < len(toks) and toks[j].kind == "ws":
                    j += 1
                paren = j < len(toks) and toks[j].text == "("
                if paren:
                    j += 1
                    while j < len(toks) and toks[j].kind == "ws":
                        j += 1
                if j >= len(toks) or toks[j].kind != "ident":
                    raise ExprError("`defined` needs a macro name")
                name = toks[j].text
                j += 1
                if paren:
                    while j < len(toks) and toks[j].kind == "ws":
                        j += 1
                    if j >= len(toks) or toks[j].text != ")":
                        raise ExprError("missing `)` after `defined(`")
                    j += 1
                out.append(Tok("num", "1" if name in self.macros else "0"))
                i = j
                continue
            out.append(t)
            i += 1
        return "".join(t.text for t in self.expand(out))

    def expand(self, toks: list[Tok], file: str = "", line: int = 0) -> list[Tok]:
        toks = list(toks)
        out: list[Tok] = []
        steps = 0
        i = 0
        while i < len(toks):
            t = toks[i]
            m = self.macros.get(t.text) if t.kind == "ident" else None
            if m is None or t.text in t.hide:
                out.append(t)
                i += 1
                continue
            steps += 1
            if steps > MAX_CPP_STEPS:
                raise ExprError(f"macro expansion of {t.text} does not terminate (more than "
                                f"{MAX_CPP_STEPS:,} replacements in one line, the limit)")
            if len(toks) > MAX_CPP_TOKENS:
                raise ExprError(f"macro expansion of {t.text} grows the line past "
                                f"{MAX_CPP_TOKENS:,} tokens, the limit")
            if m.params is None:
                repl = self._substitute(m, {}, t.hide | {m.name})
                toks[i:i + 1] = repl
                continue
            j = i + 1
            while j < len(toks) and toks[j].kind == "ws":
                j += 1
            if j >= len(toks) or toks[j].text != "(":
                out.append(t)  # a function-like name without arguments is just a name
                i += 1
                continue
            args, end = self._collect_args(toks, j, m)
            hide = (t.hide & toks[end - 1].hide) | {m.name}
            toks[i:end] = self._substitute(m, args, hide)
        return out

    def _collect_args(self, toks: list[Tok], j: int, m: CppMacro) -> tuple[dict, int]:
        depth = 0
        args: list[list[Tok]] = [[]]
        k = j
        while k < len(toks):
            t = toks[k]
            if t.text == "(":
                depth += 1
                if depth == 1:
                    k += 1
                    continue
            elif t.text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif t.text == "," and depth == 1:
                if not (m.variadic and len(args) == len(m.params or ())):
                    args.append([])
                    k += 1
                    continue
            args[-1].append(t)
            k += 1
        else:
            raise ExprError(f"unterminated argument list invoking macro {m.name}")
        params = m.params or ()
        if len(params) == 0 and len(args) == 1 and not _strip_ws(args[0]):
            args = []
        if m.variadic and len(args) == len(params) - 1:
            args.append([])
        if len(args) != len(params):
            raise ExprError(f"macro {m.name} takes {len(params)} arguments, given {len(args)}")
        return {p: _strip_ws(a) for p, a in zip(params, args)}, k + 1

    def _substitute(self, m: CppMacro, args: dict[str, list[Tok]],
                    hide: frozenset[str]) -> list[Tok]:
        body = list(m.body)
        res: list[Tok] = []
        i = 0
        while i < len(body):
            t = body[i]
            if m.params is not None and t.text == "#" and i + 1 < len(body):
                k = i + 1
                while k < len(body) and body[k].kind == "ws":
                    k += 1
                if k < len(body) and body[k].text in args:
                    res.append(_stringize(args[body[k].text]))
                    i = k + 1
                    continue
            if t.text == "##":
                while res and res[-1].kind == "ws":
                    res.pop()
                k = i + 1
                while k < len(body) and body[k].kind == "ws":
                    k += 1
                right = list(args.get(body[k].text, [body[k]])) if k < len(body) else []
                left = res.pop() if res else Tok("ws", "")
                glued = tokenize_line(left.text + (right[0].text if right else ""))
                res.extend(glued + right[1:])
                i = k + 1
                continue
            if t.kind == "ident" and t.text in args:
                nxt = i + 1
                while nxt < len(body) and body[nxt].kind == "ws":
                    nxt += 1
                if nxt < len(body) and body[nxt].text == "##":
                    res.extend(args[t.text])  # operand of ## is not pre-expanded
                else:
                    res.extend(self.expand(list(args[t.text])))
                i += 1
                continue
            res.append(t)
            i += 1
        return [Tok(t.kind, t.text, t.hide | hide) for t in res]


__all__ = ["CppMacro", "MacroTable", "Tok", "tokenize_line"]
