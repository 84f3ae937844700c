# SPDX-License-Identifier: MIT
"""The one exception tree of seamemu: misuse of the tool, never architectural behaviour.

Architectural failures (#UD, #GP, VMfailInvalid, a module status) are outcomes inside the
emulated machine and are *values*, not exceptions.  Python exceptions are for a user who gave
the tool something it cannot work with; the CLI turns each into one line and exit code 2.

    SeamemuError (Exception)
    +-- InputError (ValueError)            bad input named by what was wrong
    |   +-- LimitError                     input past a documented limit (docs/limits.md)
    |   +-- AsmError                       assembly source: file and line
    |   |   +-- AsmLimitError              ... past a limit (also a LimitError)
    |   +-- PlatformError                  platform description: file and field
    |   +-- ReplayError                    a reproducer file that cannot be replayed
    +-- EngineError (RuntimeError)         a native engine crashed or hung
    +-- BoundExceeded (RuntimeError)       guest code ran past its instruction or time bound

    AsmWarning (UserWarning)               what GNU as warns about in a source it still
                                           assembles (file and line); the CLI prints it
"""

from __future__ import annotations


class SeamemuError(Exception):
    """Base of every error seamemu raises on purpose."""


class InputError(SeamemuError, ValueError):
    """The user gave input the tool cannot use; the message names what and where."""


class AsmError(InputError):
    """An assembly source problem, located by file and line."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        self.reason = message
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class LimitError(InputError):
    """Input past one of seamemu's documented limits (file sizes, expansion, nesting:
    docs/limits.md), refused before it costs unbounded time or memory."""


class AsmLimitError(AsmError, LimitError):
    """An assembly past one of the front end's limits (statements after expansion, image
    bytes, nesting): the same limits on every backend."""


class PlatformError(InputError):
    """A platform description problem; `problems` holds one line per mistake."""

    def __init__(self, problems: list[str] | str, file: str | None = None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.file = file
        prefix = f"{file}: " if file else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


class ReplayError(InputError):
    """A reproducer file that is malformed or does not match this build."""


class EngineError(SeamemuError, RuntimeError):
    """A native engine (keystone, unicorn) crashed, hung or misbehaved."""


class BoundExceeded(SeamemuError, RuntimeError):
    """Guest code exceeded its instruction-count or wall-time bound."""


class AsmWarning(UserWarning):
    """A source GNU as assembles with a warning (`.fill` size clamped to 8): the program is
    built as GNU as builds it, and the front end warns as GNU as does."""


__all__ = [
    "AsmError",
    "AsmLimitError",
    "AsmWarning",
    "BoundExceeded",
    "EngineError",
    "InputError",
    "LimitError",
    "PlatformError",
    "ReplayError",
    "SeamemuError",
]
