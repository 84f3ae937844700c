# SPDX-License-Identifier: MIT
"""GAS source statements: comment removal, `;` splitting, labels, and where each came from."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from ..errors import AsmError

LABEL_RE = re.compile(r"\s*([A-Za-z_.$][\w.$]*|\d+)\s*:(?!:)")
ASSIGN_RE = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*=(?!=)\s*(.*)$", re.S)
NUMERIC_REF_RE = re.compile(r"(?<![\w.\x02])(\d+)([bf])(?![\w.$])")


@dataclass(frozen=True)
class Loc:
    """Where a statement was written: file, line, the line's text, and the macro chain.

    `chain` lists the macro (or .rept/.irp) invocations that produced the statement,
    outermost first, as (name, file, line).
    """

    file: str
    line: int
    text: str = ""
    chain: tuple[tuple[str, str, int], ...] = ()

    def error(self, message: str, kind: type[AsmError] = AsmError) -> AsmError:
        """An AsmError (or the subclass `kind`) at this place, naming the macro invocations
        it came through."""
        if self.chain:
            steps = [f"in {name} invoked at {f}:{ln}" for name, f, ln in reversed(self.chain)]
            if len(steps) > 4:  # a runaway recursion: the innermost and the outermost suffice
                steps = steps[:3] + [f"... {len(steps) - 4} more"] + steps[-1:]
            message = f"{message} ({'; '.join(steps)})"
        return kind(message, self.file, self.line)

    @property
    def top(self) -> tuple[str, int]:
        """The outermost source line: the macro invocation, or the line itself."""
        if self.chain:
            return self.chain[0][1], self.chain[0][2]
        return self.file, self.line


@dataclass(frozen=True)
class Stmt:
    """One statement after macro expansion.

    op is ":" for a label (args = name), "=" for a symbol assignment the expander could not
    resolve (args = "name, expr"), a lowercase directive ".xxx", or a lowercase mnemonic.
    `env` is the table of constant symbols (.set/.equ) in force at this statement, and
    `scope` the index of the input file (local symbols are per file, as after linking).
    """

    op: str
    args: str
    loc: Loc
    scope: int = 0
    env: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


def scan(pattern: re.Pattern[str], text: str,
         stuck: Callable[[str], Exception]) -> Iterator[re.Match[str]]:
    """The matches of `pattern` that read `text` end to end; `stuck(the unread rest)` is
    raised where none starts (or one matches nothing)."""
    pos = 0
    while pos < len(text):
        m = pattern.match(text, pos)
        if not m or m.end() == pos:
            raise stuck(text[pos:])
        yield m
        pos = m.end()


def literal_end(text: str, i: int) -> int:
    """Where the string ("...", escapes skipped) or character constant ('c, '\\c) starting at
    `i` ends: the index just after it; `i` itself when none starts there."""
    ch = text[i]
    if ch == '"':
        j = i + 1
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        return j + 1
    if ch == "'" and i + 1 < len(text):
        return i + (3 if text[i + 1] == "\\" else 2)
    return i


def _split(text: str, sep: str, *, nest: bool, comment: bool = False) -> list[str]:
    """`text` cut at each `sep` outside strings and 'c constants (and, with `nest`, outside
    (), [] and {}); with `comment`, a `#` there ends the text."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        end = literal_end(text, i)
        if end != i:
            cur.append(text[i:end])
            i = end
            continue
        if comment and ch == "#":
            break
        if nest and ch in "([{":
            depth += 1
        elif nest and ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def split_statements(text: str) -> list[str]:
    """Split a line at `;` and drop a `#` comment, minding strings and 'c constants."""
    return [p.strip() for p in _split(text, ";", nest=False, comment=True) if p.strip()]


def split_labels(stmt: str) -> tuple[list[str], str]:
    """Take leading `name:` labels off a statement; returns (labels, rest)."""
    labels: list[str] = []
    while True:
        m = LABEL_RE.match(stmt)
        if not m:
            return labels, stmt.strip()
        # `%gs:...` or `name::` are not labels; the regex needs a name right at the start.
        labels.append(m.group(1))
        stmt = stmt[m.end():]


def split_op(stmt: str) -> tuple[str, str]:
    """(first word, the rest) of a statement."""
    m = re.match(r"(\S+)\s*(.*)$", stmt, re.S)
    if not m:
        return "", ""
    return m.group(1), m.group(2).strip()


def split_args(text: str) -> list[str]:
    """Split directive or operand text at top-level commas (not inside () or quotes)."""
    parts = [p.strip() for p in _split(text, ",", nest=True)]
    return [] if parts == [""] else parts


def unquote(text: str) -> str:
    """The bytes of a GAS string literal "..." with C-style escapes, as text (latin-1)."""
    t = text.strip()
    if len(t) < 2 or t[0] != '"' or t[-1] != '"':
        raise ValueError(f"expected a quoted string, got `{text}`")
    return parse_string(t[1:-1])


def parse_string(body: str) -> str:
    out: list[str] = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a",
              "e": "\x1b", "\\": "\\", '"': '"', "'": "'"}
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt in "xX":
            m = re.match(r"[0-9A-Fa-f]+", body[i + 2:])
            val = int(m.group(), 16) if m else 0
            out.append(chr(val & 0xFF))
            i += 2 + (len(m.group()) if m else 0)
        elif nxt.isdigit():
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            digits = m.group() if m else "0"
            out.append(chr(int(digits, 8) & 0xFF))
            i += 1 + len(digits)
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def rewrite_numeric_refs(text: str, resolve) -> str:
    """Replace `1b`/`1f` references outside strings with resolve(number, direction)."""
    if not any(c.isdigit() for c in text):
        return text
    parts = re.split(r'("(?:\\.|[^"\\])*")', text)
    for k in range(0, len(parts), 2):
        parts[k] = NUMERIC_REF_RE.sub(lambda m: resolve(m.group(1), m.group(2)), parts[k])
    return "".join(parts)


__all__ = [
    "ASSIGN_RE",
    "LABEL_RE",
    "Loc",
    "NUMERIC_REF_RE",
    "Stmt",
    "parse_string",
    "rewrite_numeric_refs",
    "split_args",
    "split_labels",
    "split_op",
    "split_statements",
    "unquote",
]
