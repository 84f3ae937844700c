# SPDX-License-Identifier: MIT
"""The `seamemu` command line: one module per command group; it composes, never computes."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Sequence

from seamemu import __version__
from seamemu.cli.common import Parser, check_kernel_option, one_line
from seamemu.errors import AsmWarning, SeamemuError

# Command groups, each a module with `register(subparsers)`; a group whose module is absent
# from this build is skipped, so the CLI grows as the groups land.
GROUPS = (
    "seamemu.cli.calls",
    "seamemu.cli.model",
    "seamemu.cli.platform",
    "seamemu.cli.fuzz",
    "seamemu.cli.learn",
)


MAX_ERROR_LINES = 8   # the most lines one error prints (one per mistake found)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="seamemu",
        description="Intel TDX's SEAMCALL ABI emulated on Unicorn: run kernel-style TDX assembly "
                    "and see what real hardware would do.")
    parser.add_argument("--version", action="version", version=f"seamemu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


@contextlib.contextmanager
def _assembler_warnings_on_stderr(command: str):
    """The assembler's warnings (AsmWarning), each once, as `seamemu CMD: warning: ...`."""
    seen: set[str] = set()
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, AsmWarning):
            return shown(message, category, filename, lineno, file, line)
        text = one_line(str(message))
        if text not in seen:
            seen.add(text)
            print(f"seamemu {command}: warning: {text}", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("always", AsmWarning)
        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit 0 when it did its job, 2 on bad input (fuzz: 1 when it found bugs)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # a usage error (printed already), --help or --version
        return exc.code if isinstance(exc.code, int) else 0
    try:
        with _assembler_warnings_on_stderr(args.command):
            check_kernel_option(args)
            return int(args.func(args) or 0)
    except SeamemuError as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        if len(lines) > MAX_ERROR_LINES:  # e.g. a platform file with a mistake in every CMR
            lines[MAX_ERROR_LINES - 1:] = [f"... and {len(lines) - MAX_ERROR_LINES + 1} more"]
        for line in lines:
            print(f"seamemu {args.command}: error: {one_line(line)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # A command that saved something says what and where (seamemu fuzz: the findings).
        said = f": {exc}" if str(exc) else ""
        print(f"seamemu {args.command}: interrupted{said}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


__all__ = ["build_parser", "main"]
