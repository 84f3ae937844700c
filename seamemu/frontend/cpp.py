# SPDX-License-Identifier: MIT
"""The C preprocessor for `.S` files, in Python: includes, macros, conditionals, line tracking.

It behaves like `gcc -E -x assembler-with-cpp`: comments go, `#` lines that are not
directives pass through (GAS reads them as comments), and every output line remembers the
file and line it came from.  Spec: ISO C11 §6.10; GCC cpp manual ("Macros", "Conditionals").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AsmError, AsmLimitError, InputError, LimitError
from ..files import SOURCES_TOTAL_LIMIT, read_bytes, size_text
from .cpp_macros import CppMacro, MacroTable
from .expr import ExprError, evaluate_c, parse, short
from .limits import MAX_LINE_CHARS, line_too_long

# Where `#include <asm/...>` finds the headers seamemu ships.
DEFAULT_INCLUDE_DIR = Path(__file__).resolve().parent.parent / "include"

PREDEFINED = {"__ASSEMBLY__": "1", "__ASSEMBLER__": "1", "__x86_64__": "1", "__x86_64": "1",
              "__linux__": "1", "__seamemu__": "1"}

_MAX_INCLUDE_DEPTH = 100
_MACRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def define_problem(name: str, value: str | None) -> str | None:
    """Why `-D NAME=VALUE` cannot define a macro (a name cpp would refuse, or a value with a
    line break, which would smuggle whole lines into every file), or None when it can."""
    if not _MACRO_NAME.fullmatch(name):
        return f"{name[:40]!r} is not a macro name (letters, digits and _, not first a digit)"
    if value is not None and any(c in value for c in "\n\r\0"):
        return f"the value of {name} contains a line break or NUL"
    return None


@dataclass(frozen=True)
class Line:
    """One preprocessed line and where it came from; `raw` is the line as written."""

    text: str
    file: str
    line: int
    raw: str


@dataclass
class Output:
    lines: list[Line] = field(default_factory=list)
    # Every file read (main and included), with the hash of its bytes, for the cache.
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class _Cond:
    active: bool       # this group is being emitted
    taken: bool        # some branch of this #if chain was already true
    parent: bool       # the enclosing group was active
    file: str
    line: int
    seen_else: bool = False


class UnterminatedComment(ValueError):
    """A `/*` with no `*/` before the end of the file; `index` is its physical line (0-based)."""

    def __init__(self, index: int):
        super().__init__("unterminated comment: this `/*` has no `*/` before the end of the file")
        self.index = index


def logical_line(lines: list[str], start: int) -> tuple[str, int]:
    """Join continuation lines and drop C comments from physical line `start` on.

    Returns the logical line and how many physical lines it used.  A block comment that
    spans lines pulls the following lines into this logical line, as cpp does; one that
    never ends raises UnterminatedComment (cpp: "unterminated comment").
    """
    out: list[str] = []
    i = start
    in_comment = False
    opened = start
    while i < len(lines):
        text = lines[i]
        first = i
        joins: list[tuple[int, int]] = []  # (offset in `text`, physical line) of joined lines
        i += 1
        parts = [text]
        size = len(text)
        while parts[-1].endswith("\\") and i < len(lines):
            parts[-1] = parts[-1][:-1]
            size -= 1
            joins.append((size, i))
            parts.append(lines[i])
            size += len(lines[i])
            i += 1
            if size > MAX_LINE_CHARS:
                raise line_too_long(size, why=", joined by backslashes")
        text = "".join(parts) if len(parts) > 1 else text
        if len(text) > MAX_LINE_CHARS:
            raise line_too_long(len(text))
        j = 0
        quote = ""
        while j < len(text):
            ch = text[j]
            if in_comment:
                end = text.find("*/", j)
                if end < 0:
                    j = len(text)
                    break
                j = end + 2
                in_comment = False
                out.append(" ")
                continue
            if quote:
                out.append(ch)
                if ch == "\\" and j + 1 < len(text):
                    out.append(text[j + 1])
                    j += 2
                    continue
                if ch == quote:
                    quote = ""
                j += 1
                continue
            if ch == '"':
                quote = ch
            elif ch == "'" and j + 1 < len(text):
                # GAS character constant 'c (no closing quote needed): copy it whole.
                k = j + 3 if text[j + 1] == "\\" else j + 2
                if k < len(text) and text[k] == "'":
                    k += 1
                out.append(text[j:k])
                j = k
                continue
            elif text.startswith("/*", j):
                in_comment = True
                opened = max([first] + [line for pos, line in joins if pos <= j])
                j += 2
                continue
            elif text.startswith("//", j):
                break
            out.append(ch)
            j += 1
        if not in_comment:
            break
        out.append(" ")
    if in_comment:
        raise UnterminatedComment(opened)
    return "".join(out), i - start


def unterminated_comment(text: str) -> int | None:
    """The line (1-based) of a `/*` in `text` that is never closed, or None."""
    phys = text.replace("\r\n", "\n").split("\n")
    i = 0
    try:
        while i < len(phys):
            i += logical_line(phys, i)[1]
    except UnterminatedComment as exc:
        return exc.index + 1
    return None


class Preprocessor:
    """One translation unit's preprocessing state (macros are per file, as with gcc)."""

    def __init__(self, include_dirs: Sequence[str | Path] = (),
                 defines: Mapping[str, str] | None = None):
        self.include_dirs = [Path(d) for d in include_dirs]
        self.macros = MacroTable()
        for name, value in PREDEFINED.items():
            self.macros.define_text(f"{name} {value}")
        for name, value in (defines or {}).items():
            problem = define_problem(name, value)
            if problem:
                raise AsmError(f"-D {problem}")
            self.macros.define_text(f"{name} {value if value is not None else '1'}")
        self.out = Output()
        self.stack: list[_Cond] = []
        self.bytes_read = 0

    # -- files -------------------------------------------------------------------------------
    def run_file(self, path: str | Path) -> Output:
        self._process(self._read(path), str(path), 0)
        return self.out

    def _read(self, path: str | Path, file: str | None = None, line: int | None = None,
              what: str = "") -> bytes:
        """A source file's bytes, bounded (seamemu.files): one file, and all files read."""
        try:
            data = read_bytes(path, "", "assembly source")
        except InputError as exc:
            kind = AsmLimitError if isinstance(exc, LimitError) else AsmError
            if file is None:   # the file itself is where: the message need not repeat it
                raise kind(str(exc).removeprefix(f"{path}: "), str(path)) from None
            raise kind(f"{what}{exc}", file, line) from None
        self.bytes_read += len(data)
        if self.bytes_read > SOURCES_TOTAL_LIMIT:
            raise AsmLimitError(f"{what}the sources read reach {self.bytes_read:,} bytes, past "
                                f"the {size_text(SOURCES_TOTAL_LIMIT)} limit for one assembly "
                                "(includes count each time; docs/limits.md)", file or str(path), line)
        return data

    def run_text(self, text: str, filename: str) -> Output:
        self._process(text.encode(), filename, 0)
        return self.out

    def _process(self, data: bytes, name: str, depth: int) -> None:
        self.out.files[name] = hashlib.sha256(data).hexdigest()
        text = data.decode("utf-8", errors="replace")
        phys = text.replace("\r\n", "\n").split("\n")
        if phys and phys[-1] == "":
            phys.pop()
        base = len(self.stack)
        try:
            self._lines(phys, name, depth)
        except UnterminatedComment as exc:
            raise AsmError(str(exc), name, exc.index + 1) from None
        if len(self.stack) > base:
            cond = self.stack[-1]
            raise AsmError("#if without #endif", cond.file, cond.line)

    def _lines(self, phys: list[str], name: str, depth: int) -> None:
        i = 0
        while i < len(phys):
            try:
                logical, used = logical_line(phys, i)
            except AsmLimitError as exc:
                raise AsmLimitError(exc.reason, name, i + 1) from None
            lineno = i + 1
            raw = phys[i]
            i += used
            stripped = logical.lstrip()
            if stripped.startswith("#"):
                if self._directive(stripped[1:].strip(), name, lineno, depth):
                    continue
            if not self._active():
                continue
            # A function-like macro call may continue on the next lines (scanned as they
            # are joined, so a call left open does not make this quadratic).
            parts, size = [logical], len(logical)
            inside, paren = self.macros.scan_call(logical)
            while inside and paren > 0 and i < len(phys):
                try:
                    more, used = logical_line(phys, i)
                except AsmLimitError as exc:
                    raise AsmLimitError(exc.reason, name, i + 1) from None
                i += used
                parts.append(more)
                size += len(more) + 1
                if size > MAX_LINE_CHARS:
                    raise line_too_long(size, name, lineno, ", a macro call left open?")
                inside, paren = self.macros.scan_call(more, inside, paren)
            logical = " ".join(parts)
            try:
                expanded = self.macros.expand_text(logical, name, lineno)
            except ExprError as exc:
                raise AsmError(str(exc), name, lineno) from None
            self.out.lines.append(Line(expanded, name, lineno, raw.strip()))

    def _active(self) -> bool:
        return not self.stack or self.stack[-1].active

    # -- directives ----------------------------------------------------------------------------
    def _directive(self, body: str, file: str, line: int, depth: int) -> bool:
        """Handle a `#` line; False means it is not a directive (a GAS comment)."""
        word = body.split(None, 1)[0] if body else ""
        rest = body[len(word):].strip()
        conditional = {"if", "ifdef", "ifndef", "elif", "else", "endif"}
        if word in conditional:
            self._conditional(word, rest, file, line)
            return True
        known = {"define", "undef", "include", "include_next", "error", "warning", "pragma",
                 "line", "ident", "sccs", "assert", "unassert"}
        if word not in known:
            return False  # `# comment` or a line marker: GAS treats it as a comment
        if not self._active():
            return True
        if word == "define":
            try:
                self.macros.define_text(rest)
            except ExprError as exc:
                raise AsmError(f"bad #define: {exc}", file, line) from None
        elif word == "undef":
            self.macros.undef(rest.split()[0] if rest else "")
        elif word in ("include", "include_next"):
            self._include(rest, file, line, depth)
        elif word == "error":
            raise AsmError(f"#error {rest}", file, line)
        return True

    def _conditional(self, word: str, rest: str, file: str, line: int) -> None:
        if word in ("if", "ifdef", "ifndef"):
            parent = self._active()
            truth = False
            if parent:
                if word == "if":
                    truth = self._if_value(rest, file, line)
                else:
                    name = rest.split()[0] if rest else ""
                    if not name:
                        raise AsmError(f"#{word} needs a macro name", file, line)
                    truth = (name in self.macros) == (word == "ifdef")
            self.stack.append(_Cond(parent and truth, truth, parent, file, line))
            return
        if not self.stack:
            raise AsmError(f"#{word} without #if", file, line)
        cond = self.stack[-1]
        if word == "endif":
            self.stack.pop()
            return
        if cond.seen_else:
            raise AsmError(f"#{word} after #else", file, line)
        if word == "else":
            cond.seen_else = True
            cond.active = cond.parent and not cond.taken
            cond.taken = True
            return
        # elif
        if cond.parent and not cond.taken:
            truth = self._if_value(rest, file, line)
            cond.active = truth
            cond.taken = truth
        else:
            cond.active = False

    def _if_value(self, text: str, file: str, line: int) -> bool:
        try:
            expanded = self.macros.expand_condition(text)
            return bool(evaluate_c(parse(expanded, c_mode=True)))
        except ExprError as exc:
            raise AsmError(f"bad #if expression `{short(text)}`: {exc}", file, line) from None

    def _include(self, rest: str, file: str, line: int, depth: int) -> None:
        spec = rest.strip()
        if not spec.startswith(('"', "<")):
            spec = self.macros.expand_text(spec, file, line).strip()
        if len(spec) < 2 or spec[0] not in '"<' or spec[-1] != ('"' if spec[0] == '"' else ">"):
            raise AsmError(f"#include expects \"file\" or <file>, got `{rest}`", file, line)
        name = spec[1:-1]
        here = Path(file).parent
        dirs = ([here] if spec[0] == '"' else []) + self.include_dirs + [DEFAULT_INCLUDE_DIR]
        for d in dirs:
            cand = d / name
            if cand.exists() and not cand.is_dir():
                break
        else:
            searched = ", ".join(str(d) for d in dirs)
            raise AsmError(f"#include file `{name}` not found (searched: {searched})", file, line)
        if depth >= _MAX_INCLUDE_DEPTH:
            raise AsmLimitError(f"#include nested too deeply: more than {_MAX_INCLUDE_DEPTH} levels, "
                                f"the limit (recursive include of `{name}`?)", file, line)
        self._process(self._read(cand, file, line, f"#include `{name}`: "), str(cand), depth + 1)


def preprocess_file(path: str | Path, include_dirs: Sequence[str | Path] = (),
                    defines: Mapping[str, str] | None = None) -> Output:
    """Preprocess one `.S` file; AsmError names the file and line of any problem."""
    return Preprocessor(include_dirs, defines).run_file(path)


def preprocess_text(text: str, filename: str = "<string>",
                    include_dirs: Sequence[str | Path] = (),
                    defines: Mapping[str, str] | None = None) -> Output:
    """Preprocess source text as if read from `filename` (includes resolve beside it)."""
    return Preprocessor(include_dirs, defines).run_text(text, filename)


def with_line_markers(lines: Sequence[Line]) -> str:
    """The preprocessed text with `# N "file"` markers, the form GNU as reads from cpp."""
    out: list[str] = []
    prev: tuple[str, int] | None = None
    for ln in lines:
        if prev is None or prev[0] != ln.file or prev[1] + 1 != ln.line:
            quoted = ln.file.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'# {ln.line} "{quoted}"')
        out.append(ln.text)
        prev = (ln.file, ln.line)
    return "\n".join(out) + "\n"


__all__ = [
    "CppMacro",
    "DEFAULT_INCLUDE_DIR",
    "Line",
    "Output",
    "PREDEFINED",
    "Preprocessor",
    "UnterminatedComment",
    "define_problem",
    "logical_line",
    "preprocess_file",
    "preprocess_text",
    "unterminated_comment",
    "with_line_markers",
]
