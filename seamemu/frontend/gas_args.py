# SPDX-License-Identifier: MIT
"""GAS macro parameters (`.macro NAME a:req b=0 c:vararg`) and invocation arguments.

Arguments are separated by commas or by blanks, keyword arguments are `name=value`, and a
quoted argument loses its quotes, as in GNU as.  Spec: GNU as manual, "Macro".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .source import literal_end, scan

_PARAM = re.compile(
    r"\s*([A-Za-z_.$][\w.$]*)"
    r"(?:\s*:\s*(req|vararg))?"
    r"(?:\s*=\s*(\"(?:\\.|[^\"\\])*\"|[^\s,]*))?"
    r"\s*,?"
)
_KEYWORD = re.compile(r"([A-Za-z_.$][\w.$]*)\s*=(?!=)\s*(.*)$", re.S)
# A blank next to one of these joins its neighbours into one argument (`1 + 2`).
_JOINERS = set("+-*/|&^<>=!~,")


@dataclass(frozen=True)
class MacroParam:
    name: str
    default: str = ""
    required: bool = False
    vararg: bool = False


def parse_params(text: str) -> tuple[MacroParam, ...]:
    params: list[MacroParam] = []
    for m in scan(_PARAM, text.strip(),
                  lambda rest: ValueError(f"cannot read parameter list at `{rest}`")):
        name, qual, default = m.group(1), m.group(2), m.group(3)
        if default and default.startswith('"'):
            default = default[1:-1]
        if any(p.name == name for p in params):
            raise ValueError(f"parameter `{name}` given twice")
        params.append(MacroParam(name, default or "", qual == "req", qual == "vararg"))
    if any(p.vararg for p in params[:-1]):
        raise ValueError("only the last parameter may be :vararg")
    return tuple(params)


def split_invocation(text: str) -> list[str]:
    """Split macro arguments at top-level commas and blanks; quotes are stripped."""
    args: list[str] = []
    cur: list[str] = []
    depth = 0
    i = 0
    text = text.strip()
    pending_comma = False
    while i < len(text):
        ch = text[i]
        if ch == '"':                     # a string argument, without its quotes
            end = literal_end(text, i)
            cur.append(text[i + 1:end - 1])
            i = end
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if depth == 0 and ch == ",":
            args.append("".join(cur).strip())
            cur = []
            pending_comma = True
            i += 1
            continue
        if depth == 0 and ch.isspace():
            j = i
            while j < len(text) and text[j].isspace():
                j += 1
            prev = "".join(cur).rstrip()[-1:]
            nxt = text[j:j + 1]
            if prev and nxt and prev not in _JOINERS and nxt not in _JOINERS:
                args.append("".join(cur).strip())
                cur = []
                pending_comma = False
            elif cur:
                cur.append(" ")
            i = j
            continue
        pending_comma = False
        cur.append(ch)
        i += 1
    if cur or pending_comma:
        args.append("".join(cur).strip())
    return args


def parse_invocation(name: str, params: tuple[MacroParam, ...], text: str) -> dict[str, str]:
    """Map each parameter to its value for one invocation; ValueError explains misuse."""
    values: dict[str, str] = {}
    index = 0
    by_name = {p.name: p for p in params}
    pieces = split_invocation(text)
    k = 0
    while k < len(pieces):
        piece = pieces[k]
        kw = _KEYWORD.match(piece)
        if kw and kw.group(1) in by_name:
            pname = kw.group(1)
            values[pname] = kw.group(2).strip()
            index = [p.name for p in params].index(pname) + 1
            k += 1
            continue
        if kw and not (params and params[-1].vararg and index >= len(params) - 1):
            raise ValueError(f"macro `{name}` has no parameter named `{kw.group(1)}`")
        if index >= len(params):
            raise ValueError(f"too many arguments to macro `{name}` "
                             f"(it takes {len(params)}: {', '.join(p.name for p in params)})")
        param = params[index]
        if param.vararg:
            values[param.name] = ", ".join(pieces[k:])
            break
        values[param.name] = piece
        index += 1
        k += 1
    for p in params:
        if values.get(p.name, "") == "":
            # A blank argument takes the default, as an omitted one does.
            if p.required:
                raise ValueError(f"missing required argument `{p.name}` of macro `{name}`")
            values[p.name] = p.default
    return values


__all__ = ["MacroParam", "parse_invocation", "parse_params", "split_invocation"]
