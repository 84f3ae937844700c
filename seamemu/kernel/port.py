# SPDX-License-Identifier: MIT
"""What the kernel side needs from a session: calls through a stub, guest buffers, state.

The kernel package sits below seamemu.session in the layers, so it names what it uses as
Protocols and any object with these members (a Session) can stand behind them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from seamemu.platform.facts import Platform


class CallOutcome(Protocol):
    """One call through a stub, as the kernel reads it (a session's RunResult)."""

    outcome: str                   # "returned", "VMfailInvalid", "#GP" ... or "bound"
    rax: int
    out: dict[str, int] | None     # the argument/output struct after the call
    calls: tuple                   # the module's CallRecords of this call
    bound: dict | None
    oops: str
    fault: dict | None


class GuestMemory(Protocol):
    scratch_end: int

    def read(self, pa: int, size: int) -> bytes: ...
    def write(self, pa: int, data: bytes) -> None: ...


class MachinePort(Protocol):
    memory: Any                    # GuestMemory


class ModulePort(Protocol):
    abi: str
    records: Sequence

    def state_name(self) -> str: ...


class TargetPort(Protocol):
    def module_loaded(self) -> bool: ...


class KernelPort(Protocol):
    """A session the kernel's code runs on."""

    platform: Platform
    asm: list[Path]
    machine: Any                   # MachinePort
    module: Any                    # ModulePort: who answers (the model or Intel's module)
    model: Any                     # the Python model (the module itself unless a binary runs)
    target: Any                    # TargetPort

    @property
    def module_label(self) -> str: ...

    def call(self, entry: str, *, convention: str = ..., leaf: int = ...,
             inputs: Mapping[str, int] | None = ..., lp: int = ...) -> Any: ...

    def alloc(self, size: int, align: int = ..., data: bytes | None = ...) -> int: ...

    def set_state(self, *, lp: int | None = ..., vmx: bool | None = ..., seamrr: bool | None = ...,
                  cpl: int | None = ..., module: bool | None = ...) -> None: ...


def module_state(port: KernelPort) -> str:
    """The module's lifecycle state, or NO_MODULE when SEAMCALL finds none."""
    return port.module.state_name() if port.target.module_loaded() else "NO_MODULE"


__all__ = ["CallOutcome", "GuestMemory", "KernelPort", "MachinePort", "ModulePort",
           "TargetPort", "module_state"]
