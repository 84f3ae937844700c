# SPDX-License-Identifier: MIT
"""The bring-up's dmesg: timestamped lines, each marked as the kernel's own text or seamemu's.

Lines whose origin is "kernel" carry a message a kernel generation prints, with the prefix it
prints it with (its tdx.c pr_fmt, "virt/tdx: " or "tdx: "; a device name for dev_err()).
Lines whose origin is "seamemu" are the emulator's own account (TDMR layout, PAMT arithmetic,
which LP ran what, what the kernel does silently); they render with a "seamemu: " label and
are never part of what `dmesg` would show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from seamemu.arch.kernel import errno_name as kernel_errno_name
from seamemu.jsonout import JsonRecord, json_as, rounded

KERNEL, SEAMEMU = "kernel", "seamemu"


def errno_name(value: int | None) -> str:
    if value is None:
        return "none"
    return kernel_errno_name(value)


@dataclass(frozen=True)
class LogLine(JsonRecord):
    t: float = field(metadata=json_as(rounded(6)))  # seconds since the bring-up started (host wall clock)
    level: str          # "info" | "warn" | "err"
    origin: str         # KERNEL | SEAMEMU
    text: str

    def render(self) -> str:
        return f"[{self.t:12.6f}] {self.text}"


class KernelLog:
    """Collects LogLines: `tdx()` in the generation's pr_fmt, `note()` for seamemu's own."""

    def __init__(self, pr_fmt: str = "virt/tdx: ") -> None:
        self.pr_fmt = pr_fmt
        self.t0 = time.perf_counter()
        self.lines: list[LogLine] = []

    def _add(self, level: str, origin: str, text: str) -> None:
        self.lines.append(LogLine(time.perf_counter() - self.t0, level, origin, text))

    def tdx(self, text: str, level: str = "info") -> None:
        """A message of the generation's tdx.c (pr_info/pr_warn/pr_err)."""
        self._add(level, KERNEL, self.pr_fmt + text)

    def kernel(self, text: str, level: str = "info") -> None:
        """A kernel message with its own prefix (dev_err's device name, another pr_fmt)."""
        self._add(level, KERNEL, text)

    def note(self, text: str, level: str = "info") -> None:
        self._add(level, SEAMEMU, "seamemu: " + text)

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def kernel_texts(self) -> list[str]:
        """What dmesg would show: the kernel's lines only."""
        return [line.text for line in self.lines if line.origin == KERNEL]


class ModuleHalted(Exception):
    """Internal control flow: a SEAMCALL never returned because the module stopped itself
    (Intel's module on its fatal path).  bring_up() reports it; it never leaves the package."""


class KernelFailure(Exception):
    """Internal control flow: a step of the bring-up returned `errno` (its message is logged).

    Never leaves seamemu.kernel; the bring-up turns it into the BringUp result.
    """

    def __init__(self, errno: int):
        super().__init__(errno_name(errno))
        self.errno = errno


__all__ = ["KERNEL", "KernelFailure", "KernelLog", "LogLine", "ModuleHalted", "SEAMEMU",
           "errno_name"]
