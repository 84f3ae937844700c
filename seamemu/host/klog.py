# SPDX-License-Identifier: MIT
"""The host driver's dmesg: timestamped lines, each marked as the kernel's own text or seamemu's.

Lines whose origin is "kernel" carry a message the Linux kernel prints (pr_fmt prefix
included, e.g. "virt/tdx: " from arch/x86/virt/vmx/tdx/tdx.c, "kvm_intel: " from
arch/x86/kvm/vmx/tdx.c); lines whose origin is "seamemu" are the emulator's own account
(TDMR layout, PAMT arithmetic, which LP ran what) that a real dmesg does not show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from seamemu.arch.kernel import errno_name as kernel_errno_name


def errno_name(value: int | None) -> str:
    if value is None:
        return "none"
    return kernel_errno_name(value)


@dataclass(frozen=True)
class LogLine:
    t: float            # seconds since the bring-up started (host wall clock)
    level: str          # "info" | "warn" | "err"
    origin: str         # "kernel" | "seamemu"
    text: str

    def render(self) -> str:
        return f"[{self.t:12.6f}] {self.text}"

    def to_json(self) -> dict:
        return {"t": round(self.t, 6), "level": self.level, "origin": self.origin,
                "text": self.text}


class KernelLog:
    """Collects LogLines; `tdx()` for virt/tdx messages, `note()` for seamemu's own."""

    TDX = "virt/tdx: "            # pr_fmt of arch/x86/virt/vmx/tdx/tdx.c (mainline)
    KVM = "kvm_intel: "           # KBUILD_MODNAME of arch/x86/kvm/vmx/tdx.c

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.lines: list[LogLine] = []

    def _add(self, level: str, origin: str, text: str) -> None:
        self.lines.append(LogLine(time.perf_counter() - self.t0, level, origin, text))

    def tdx(self, text: str, level: str = "info") -> None:
        self._add(level, "kernel", self.TDX + text)

    def kvm(self, text: str, level: str = "info") -> None:
        self._add(level, "kernel", self.KVM + text)

    def note(self, text: str, level: str = "info") -> None:
        self._add(level, "seamemu", "seamemu: " + text)

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


class ModuleHalted(Exception):
    """Internal control flow: the SEAMCALL never returned, the module stopped itself (Intel's
    module on its fatal path).  Never leaves seamemu.host; the driver reports it."""


class KernelFailure(Exception):
    """Internal control flow: a step of the bring-up returned `errno` (its message is logged).

    Never leaves seamemu.host; the driver turns it into the BringUp result.
    """

    def __init__(self, errno: int):
        super().__init__(errno_name(errno))
        self.errno = errno


__all__ = ["KernelFailure", "KernelLog", "LogLine", "ModuleHalted", "errno_name"]
