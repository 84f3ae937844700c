# SPDX-License-Identifier: MIT
"""The one exception tree of seamemu: misuse of the tool, never architectural behaviour.

Architectural failures (#UD, #GP, VMfailInvalid, a module status) are outcomes inside the
emulated machine and are *values*, not exceptions.  Python exceptions are for a user who gave
the tool something it cannot work with; the CLI turns each into one line and exit code 2.

    SeamemuError (Exception)
    +-- InputError (ValueError)            bad input named by what was wrong
    |   +-- AsmError                       assembly source: file and line
    |   +-- PlatformError                  platform description: file and field
    |   +-- ReplayError                    a reproducer file that cannot be replayed
    +-- EngineError (RuntimeError)         a native engine crashed or hung
    +-- BoundExceeded (RuntimeError)       guest code ran past its instruction or time bound
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


__all__ = [
    "AsmError",
    "BoundExceeded",
    "EngineError",
    "InputError",
    "PlatformError",
    "ReplayError",
    "SeamemuError",
]
