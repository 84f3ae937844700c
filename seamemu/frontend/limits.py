# SPDX-License-Identifier: MIT
"""How much the front end takes: the size limits every assembly meets on both backends.

Each limit is far above what kernel calling-convention code needs (tdxcall.S is a few hundred
statements) and low enough that anything inside it assembles and lists in seconds, in a few
hundred MB; past it, the error names the line and the limit.  docs/limits.md lists them with
the source-file limits of seamemu.files.
"""

from __future__ import annotations

from ..errors import AsmError, AsmLimitError
from ..files import KiB, MiB, size_text
from .source import Loc

# Statements after macro, .rept/.irp/.irpc and .include expansion (instructions, data
# directives): what the layout encodes and the listing prints one by one.  A 20,000-statement
# file assembles in about 3 s of CPU (measured with `seamemu asm` on a shared 2-core machine).
MAX_STATEMENTS = 20_000
# Statements the expander looks at, counting every repetition and every line skipped by a
# false .if: bounds `.rept` loops that emit nothing.
MAX_EXPANSION_WORK = 200_000
# Bytes of the laid-out image, all sections together (a `.space`/`.fill`/`.skip` counts whole).
MAX_IMAGE_BYTES = 64 * MiB
# Characters in one logical line (continuations, multi-line comments and a macro call's lines
# joined): every pass over a line is linear in it, and kernel lines are under 200.
MAX_LINE_CHARS = 64 * KiB
# Nesting inside one expression: parentheses, unary operators, `?:`.
MAX_EXPR_NESTING = 100
# Replacements while expanding one line's C macros, and the tokens the line may grow to.
MAX_CPP_STEPS = 20_000
MAX_CPP_TOKENS = 100_000
# GNU as (the gnu backend) runs under these bounds: CPU seconds, address space, output size.
AS_CPU_SECONDS = 10
AS_MEMORY = 1024 * MiB
AS_OUTPUT = 2 * MAX_IMAGE_BYTES + 64 * MiB   # the object also carries symbols and DWARF


def line_too_long(length: int, file: str | None = None, line: int | None = None,
                  why: str = "") -> AsmLimitError:
    return AsmLimitError(f"a logical line of more than {size_text(MAX_LINE_CHARS)} ({length:,} "
                         f"characters{why}), the limit (docs/limits.md)", file, line)


def too_many_statements(loc: Loc, count: int, what: str = "") -> AsmError:
    return loc.error(
        f"{what or 'the program'} expands to more than {MAX_STATEMENTS:,} statements, the "
        f"limit after macro and .rept expansion ({count:,} so far; docs/limits.md)",
        AsmLimitError)


def too_much_work(loc: Loc) -> AsmError:
    return loc.error(
        f"macro and .rept expansion looked at more than {MAX_EXPANSION_WORK:,} statements, "
        "the limit (a runaway .rept or recursive macro?; docs/limits.md)", AsmLimitError)


def image_too_large(loc: Loc, what: str, size: int) -> AsmError:
    return loc.error(
        f"{what} makes the image {size:,} bytes, past the {size_text(MAX_IMAGE_BYTES)} image "
        "limit (docs/limits.md)", AsmLimitError)


__all__ = [
    "AS_CPU_SECONDS",
    "AS_MEMORY",
    "AS_OUTPUT",
    "MAX_CPP_STEPS",
    "MAX_CPP_TOKENS",
    "MAX_EXPANSION_WORK",
    "MAX_EXPR_NESTING",
    "MAX_IMAGE_BYTES",
    "MAX_LINE_CHARS",
    "MAX_STATEMENTS",
    "image_too_large",
    "line_too_long",
    "too_many_statements",
    "too_much_work",
]
