# SPDX-License-Identifier: MIT
"""Runnable documentation: the `$ seamemu ...` commands of the tutorials, run and compared.

A ```console block holds commands and their output:

    $ seamemu explain --cpl 3
    SEAMCALL on LP 0 ...

Each line starting with `$ seamemu ` is run in-process (seamemu.cli.main, stdout and stderr
together, as a terminal shows them, never in colour); the lines after it, up to the next `$`
line or the end of the block, must equal its output.  Trailing spaces are ignored.  Two
placeholders exist for output that changes from run to run (timings), to be used sparingly:
a line that is exactly `...` stands for any number of lines, and `...` inside a line stands
for any text.  `refresh` rewrites the blocks with the current output (keeping a block whose
placeholders still match) and writes timings as placeholders (VOLATILE below).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Main = Callable[[Sequence[str]], int]   # seamemu.cli.main

FENCE_OPEN = "```console"
FENCE_CLOSE = "```"
PROMPT = "$ "
ELLIPSIS = "..."
# Output that differs between runs, written as `...` by refresh: dmesg-style timestamps and
# durations in seconds.
VOLATILE = (
    (re.compile(r"^\[\s*\d+\.\d+\]"), "[...]"),
    (re.compile(r"\b\d+\.\d+ s\b"), "... s"),
    (re.compile(r"\b\d[\d,]*(?:\.\d+)?/s\b"), ".../s"),      # rates: runs per second
)


def _plant(root: Path, into: Path) -> None:
    """docs/fuzzing.md's `plant/`: asm/'s stubs with tests/fuzz/planted/pop_order.patch applied
    (by the fuzz tests' own patch applier, every context line checked), and `plant-guest/`
    with hypercall_no_panic.patch."""
    spec = importlib.util.spec_from_file_location(
        "fuzz_helpers", root / "tests" / "fuzz" / "fuzz_helpers.py")
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    helpers.materialize("pop_order", into / "plant")
    helpers.materialize("hypercall_no_panic", into / "plant-guest")


# Documents whose commands write files (seamemu fuzz's findings) run in a scratch directory
# that a preparation fills with what they read, so checking them leaves the tree alone.
SCRATCH: dict[str, Callable[[Path, Path], None]] = {
    "fuzzing.md": _plant,
}


@dataclass(frozen=True)
class Command:
    path: Path
    line: int                       # 1-based line of the `$` line
    argv: tuple[str, ...]
    expected: tuple[str, ...]
    start: int                      # 0-based index of the first expected line
    end: int                        # 0-based index after the last expected line


def commands(path: Path) -> list[Command]:
    """Every `$ seamemu` command in the ```console blocks of a Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Command] = []
    in_block, current = False, None
    for i, line in enumerate(lines + [FENCE_CLOSE]):
        if not in_block:
            in_block = line.strip() == FENCE_OPEN
            continue
        if line.startswith(PROMPT) or line.strip() == FENCE_CLOSE:
            if current is not None:
                out.append(Command(path, current[0] + 1, current[1],
                                   tuple(lines[current[0] + 1:i]), current[0] + 1, i))
                current = None
            if line.strip() == FENCE_CLOSE:
                in_block = False
                continue
            argv = tuple(shlex.split(line[len(PROMPT):]))
            if not argv or argv[0] != "seamemu":
                raise ValueError(f"{path}:{i + 1}: only `$ seamemu ...` commands can be checked")
            current = (i, argv)
    return out


# The environment the documents' output is written for: no colour, and the Python model
# behind the trap (an exported SEAMEMU_MODULE_BINARY would put Intel's module there instead,
# and its output would end up in the tutorials or fail their check).
DOC_ENVIRONMENT: dict[str, str | None] = {"NO_COLOR": "1", "SEAMEMU_MODULE_BINARY": None}


@contextlib.contextmanager
def documented_environment():
    """os.environ as DOC_ENVIRONMENT says (None: unset) for the block, then as it was."""
    before = {k: os.environ.get(k) for k in DOC_ENVIRONMENT}
    try:
        for k, v in DOC_ENVIRONMENT.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(argv: tuple[str, ...], cwd: Path, main: Main) -> str:
    """Output of `seamemu ARGS` run in-process in `cwd`, as a terminal without colour shows it,
    in the documented environment.

    `main` is seamemu.cli.main, passed in because the CLI sits above this layer."""
    buf = io.StringIO()
    old = os.getcwd()
    try:
        os.chdir(cwd)
        with documented_environment(), contextlib.redirect_stdout(buf), \
                contextlib.redirect_stderr(buf):
            try:
                main(list(argv[1:]))
            except SystemExit:   # argparse errors and --help
                pass
    finally:
        os.chdir(old)
    return buf.getvalue()


def _line_matches(expected: str, actual: str) -> bool:
    if ELLIPSIS not in expected:
        return expected == actual
    pattern = ".*".join(re.escape(part) for part in expected.split(ELLIPSIS))
    return re.fullmatch(pattern, actual) is not None


def matches(expected: list[str] | tuple[str, ...], actual: list[str]) -> bool:
    """Whether the output lines match the expected ones (placeholders allowed)."""
    exp = [e.rstrip() for e in expected]
    act = [a.rstrip() for a in actual]
    while exp and not exp[-1]:
        exp.pop()
    while act and not act[-1]:
        act.pop()

    def walk(i: int, j: int) -> bool:
        while i < len(exp):
            if exp[i] == ELLIPSIS:
                return any(walk(i + 1, k) for k in range(j, len(act) + 1))
            if j >= len(act) or not _line_matches(exp[i], act[j]):
                return False
            i, j = i + 1, j + 1
        return j == len(act)

    return walk(0, 0)


def mask(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, repl in VOLATILE:
            line = pattern.sub(repl, line)
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


def scratch(path: Path, root: Path, into: Path) -> Path:
    """The directory to run `path`'s commands in: `root`, or (for a SCRATCH document) `into`,
    prepared with what its commands read."""
    prepare = SCRATCH.get(path.name)
    if prepare is None:
        return root
    prepare(root, into)
    return into


@dataclass(frozen=True)
class Mismatch:
    command: Command
    actual: tuple[str, ...]

    def describe(self) -> str:
        c = self.command
        return (f"{c.path}:{c.line}: `{' '.join(c.argv)}` printed something else:\n"
                + "\n".join(f"  | {ln}" for ln in self.actual[:40]))


def check(path: Path, cwd: Path, main: Main) -> list[Mismatch]:
    """Run every command of `path`; the ones whose output differs from the text."""
    bad = []
    for cmd in commands(path):
        actual = run(cmd.argv, cwd, main).splitlines()
        if not matches(cmd.expected, actual):
            bad.append(Mismatch(cmd, tuple(actual)))
    return bad


def refresh(path: Path, cwd: Path, main: Main) -> bool:
    """Rewrite the outputs in `path` from the commands; True when the file changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    new = list(lines)
    for cmd in reversed(commands(path)):
        actual = run(cmd.argv, cwd, main).splitlines()
        if matches(cmd.expected, actual):
            continue
        new[cmd.start:cmd.end] = mask(actual)
    if new == lines:
        return False
    path.write_text("\n".join(new) + "\n", encoding="utf-8")
    return True


__all__ = ["Command", "Mismatch", "SCRATCH", "check", "commands", "mask", "matches", "refresh", "run",
           "scratch"]
