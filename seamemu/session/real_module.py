# SPDX-License-Identifier: MIT
"""Choosing Intel's module binary over the model, and putting it behind the trap.

Where the binary comes from, first found wins: `--module-binary PATH` (the `module_binary`
argument), the environment variable SEAMEMU_MODULE_BINARY, the platform file's
`[module] binary`.  None of them: the Python model serves every SEAMCALL, as before.

`IntelModuleTarget` is the SEAMCALL target then: calls with RAX bit 63 = 0 run Intel's code
(seamemu.machine.seam.RealModule), the P-SEAMLDR (bit 63 = 1) stays the model's, one
sequence of call records covers both.  A successful SEAMLDR.INSTALL that leaves a fresh module
behind (the model's SYSINIT_PENDING) reloads the binary too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from seamemu.disasm import instruction_sites
from seamemu.errors import InputError
from seamemu.forward import forward
from seamemu.machine import Bounds, PhysicalMemory
from seamemu.machine.seam import ModuleImage, RealModule, load_module_image
from seamemu.model.module import TdxModule, format_record
from seamemu.platform.facts import Platform
from seamemu.traps.target import CallRecord, GuestMemory, SeamReply

ENV_VAR = "SEAMEMU_MODULE_BINARY"
# Instructions Unicorn would execute its own way, found once per image: RDMSR/WRMSR are
# patched to UD2 and emulated from the platform's MSRs; INVLPG is observed.
_SITE_MNEMONICS = frozenset({"invlpg", "rdmsr", "wrmsr"})


def module_binary_path(arg: str | Path | None, platform: Platform) -> tuple[str, str] | None:
    """(path, where it was named) of the module binary to run: the argument, else
    $SEAMEMU_MODULE_BINARY, else the platform's `[module] binary`; None for the model."""
    if arg:
        return str(arg), "--module-binary"
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env, f"${ENV_VAR}"
    if platform.module is not None and platform.module.binary:
        where = f"{platform.source or platform.name}: [module] binary"
        return platform.module.binary, where
    return None


@lru_cache(maxsize=4)
def _image(path: str, origin: str, mtime_ns: int, size: int
           ) -> tuple[ModuleImage, dict[int, str]]:
    image = load_module_image(path, origin)
    off, length = image.text
    return image, instruction_sites(image.data[off:off + length], off, _SITE_MNEMONICS)


def load_image(path: str, origin: str = "--module-binary"
               ) -> tuple[ModuleImage, dict[int, str]]:
    """The parsed image and its RDMSR/WRMSR/INVLPG sites, cached per file version."""
    try:
        st = Path(path).stat()
    except OSError:
        return _image(path, origin, 0, 0)   # load_module_image reports the missing file
    return _image(path, origin, st.st_mtime_ns, st.st_size)


class IntelModuleTarget:
    """SeamTarget: Intel's module for module calls, the model's P-SEAMLDR for loader calls."""

    def __init__(self, model: TdxModule, real: RealModule):
        self.model = model
        self.real = real
        self.platform = model.platform
        self.records: list[CallRecord] = []
        self.injector = None

    # -- what host code asks of "the module" ---------------------------------------------------
    abi = forward("real")
    state = forward("real")
    module_info = forward("model")

    @property
    def binary(self) -> str:
        return self.real.image.path

    def state_name(self) -> str:
        return self.real.state_name() if self.model.module_loaded() else "NO_MODULE"

    def reset(self) -> None:
        self.real.reset()

    # -- SeamTarget ----------------------------------------------------------------------------
    def module_loaded(self) -> bool:
        return self.model.module_loaded()

    def pseamldr_present(self) -> bool:
        return self.model.pseamldr_present()

    def pseamldr_busy(self, lp: int) -> bool:
        return self.model.pseamldr_busy(lp)

    def seamcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply:
        if regs.get("rax", 0) >> 63 & 1:
            reply = self.model.seamcall(lp, regs, mem)
            if reply.record is not None:
                self.records.append(reply.record)
                if (reply.record.leaf_name == "SEAMLDR.INSTALL" and reply.record.status == 0
                        and self.model.module_loaded()
                        and self.model.state.sys_state.name == "SYSINIT_PENDING"):
                    self.real.reset()
            return reply
        reply = self.real.seamcall(lp, regs, mem, seq=self.model.next_seq())
        if reply.record is not None:
            self.records.append(reply.record)
        return reply

    # -- output, as TdxModule offers it ----------------------------------------------------------
    def log_lines(self) -> list[str]:
        return [format_record(r) for r in self.records]

    def records_json(self) -> list[dict]:
        return [r.to_json() for r in self.records]


def intel_module(platform: Platform, binary: tuple[str, str], memory: PhysicalMemory, *,
                 model: TdxModule, msrs: list[dict[int, int]] | None, bounds: Bounds,
                 abi: str | None = None) -> IntelModuleTarget:
    """Load the binary (path, where it was named) into the platform's SEAMRR and pair it with
    the model's P-SEAMLDR."""
    path = binary[0]
    image, sites = load_image(*binary)
    if abi is not None and abi != image.generation:
        raise InputError(f"--abi {abi}: the module binary {path} is a TDX {image.generation} "
                         "module")
    if model.injector is not None:
        raise InputError("--inject works with the Python model only, not with --module-binary")
    real = RealModule(platform, image, memory, patch_sites=sites, msrs=msrs, bounds=bounds)
    return IntelModuleTarget(model, real)


__all__ = ["ENV_VAR", "IntelModuleTarget", "intel_module", "load_image", "module_binary_path"]
