# SPDX-License-Identifier: MIT
"""The composition root: a platform, the TDX module model, an assembled image and a machine.

A Session is what every command runs on.  It owns no behaviour of its own beyond wiring the
layers and turning a machine CallResult into a RunResult a user reads.  Beside the host side it
builds one TD (model.guest: the module's guest side, with the VMM of seamemu.vmm behind it),
which a TDCALL reaches from an LP put in the TD-guest state (`set_state(td=True)`).  The VMM
answers CPUID from the platform's view of the CPU, the same one the host sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from seamemu.disasm import disassemble_one
from seamemu.errors import InputError
from seamemu.frontend import assemble
from seamemu.frontend.alternatives import apply_alternatives
from seamemu.kernel.calling import GUEST_CONVENTIONS, place, unpack
from seamemu.machine import Bounds, Machine
from seamemu.model.guest import TdConfig, TdGuest
from seamemu.model.module import TdxModule
from seamemu.platform import as_platform, present
from seamemu.platform.cpuid_table import cpuid, cpuid_table
from seamemu.platform.facts import Platform
from seamemu.session.msr_sites import attach_platform_msrs
from seamemu.session.real_module import IntelModuleTarget, intel_module, module_binary_path
from seamemu.session.result import (
    INSTRUCTION_FAILURES,
    NO_SEAMCALL,
    NO_SEAMCALL_TEXT,
    NO_TDCALL,
    NO_TDCALL_TEXT,
    RunResult,
    abi_check,
)
from seamemu.stubs import ARGS_STUB, stub
from seamemu.traps.cpu_state import SEAMRR_MASK_LOCK, SEAMRR_MASK_VALID, CpuState
from seamemu.vmm import Vmm


class ModuleSwitch:
    """The model behind the trap, with a user's `--module absent` on top of it."""

    def __init__(self, module, loaded: bool = True):
        self.module = module
        self.loaded = loaded

    def module_loaded(self) -> bool:
        return self.loaded and self.module.module_loaded()

    def pseamldr_present(self) -> bool:
        return self.module.pseamldr_present()

    def pseamldr_busy(self, lp: int) -> bool:
        return self.module.pseamldr_busy(lp)

    def seamcall(self, lp, regs, mem):
        return self.module.seamcall(lp, regs, mem)


class Session:
    """Assemble `asm` (default: the shipped kernel-style stub) and build a machine for it.

    `asm` may mix `.S` sources and ELF objects (gcc -c, kbuild); `stubs` name functions that
    only return (frontend.assemble).  The objects' alternatives are applied as the kernel
    applies them at boot, for the boot CPU's (LP 0's) CPUID (`alternatives` "cpu"), or none
    ("original") or all ("patched"): frontend.alternatives.
    """

    def __init__(self, asm: Sequence[str | Path] | None = None, *,
                 platform: Platform | str | Path | None = None, abi: str | None = None,
                 include_dirs: Sequence[str | Path] = (), defines: Mapping[str, str] | None = None,
                 backend: str = "keystone", inject: str | None = None,
                 bounds: Bounds | None = None, num_lps: int | None = None,
                 stubs: Sequence[str] = (), module_binary: str | Path | None = None,
                 alternatives: str = "cpu"):
        self.platform = platform = as_platform(platform)
        self.asm = [Path(p) for p in (asm or [stub(ARGS_STUB)])]
        self.image = apply_alternatives(
            assemble(self.asm, include_dirs=include_dirs, defines=defines, backend=backend,
                     stubs=stubs), alternatives, cpuid_table(platform, 0))
        binary = module_binary_path(module_binary, platform)
        self.model = TdxModule(platform, abi=None if binary else abi, injector=inject)
        self.module: TdxModule | IntelModuleTarget = self.model
        self.target = ModuleSwitch(self.module)
        lps = num_lps if num_lps is not None else platform.num_lps
        self.machine = Machine(self.image, self.target, num_lps=lps, present=present(platform),
                               bounds=bounds or Bounds())
        for i, lp in enumerate(self.machine.lps):
            s = platform.seamrr_of(i)
            lp.cpu = CpuState(seamrr_base_msr=s.base_msr, seamrr_mask_msr=s.mask_msr)
        # RDMSR/WRMSR in the guest read the platform's per-LP MSRs (session/msr_sites.py),
        # CPUID answers from the platform's table (platform/cpuid_table.py), as on the SEAM CPU.
        attach_platform_msrs(self.machine, platform)
        self.machine.attach_cpuid([cpuid_table(platform, i if i < platform.num_lps else 0)
                                   for i in range(len(self.machine.lps))])
        self.td_config = TdConfig.for_platform(platform)
        # Intel's module runs as SEAMCALL's target only: no TD is ever entered there
        # (docs/real-module.md), so TDCALL still reaches the model's guest side.
        self._td_preface = "Intel's module runs no TD here: the model's guest side answered" \
            if binary else ""
        self._build_td()
        if binary:
            # Intel's module in SEAMRR of this machine's memory; its RDMSR/WRMSR use the same
            # per-LP MSRs as the caller's code.
            msrs = [lp.msrs for lp in self.machine.lps] if lps == platform.num_lps else None
            self.module = intel_module(platform, binary, self.machine.memory, model=self.model,
                                       msrs=msrs, bounds=self.machine.bounds, abi=abi)
            self.target.module = self.module
        # Scratch below this mark holds the caller's own buffers (see `alloc`); each call's
        # argument struct is placed above it and reclaimed by the next call.
        self._pin = self.machine.memory.scratch_state()[0]

    @property
    def module_label(self) -> str:
        """Who answers module calls: "Intel's module <file>" or "the model of TDX module X"."""
        if isinstance(self.module, IntelModuleTarget):
            return f"Intel's TDX module {Path(self.module.binary).name}"
        info = self.platform.module
        version = info.version if info is not None and info.abi == self.module.abi else \
            self.module.abi
        return f"the model of TDX module {version}"

    def alloc(self, size: int, align: int = 64, data: bytes | None = None) -> int:
        """Guest memory for the caller's buffers (TDSYSINFO_STRUCT, CMR array, TDMRs...)."""
        mem = self.machine.memory
        mem.set_scratch_state((self._pin, mem.scratch_state()[1]))
        pa = mem.alloc(size, align)
        mem.write(pa, data if data is not None else bytes(size))
        self._pin = mem.scratch_state()[0]
        return pa

    def _build_td(self) -> None:
        """A fresh TD with `td_config`, one vCPU per LP, and its VMM; TDCALL reaches it."""
        self.vmm = Vmm(gpaw=self.td_config.gpaw, cpuid=self._td_cpuid)
        self.td = TdGuest(self.td_config, self.vmm, num_vcpus=len(self.machine.lps))
        self.td.preface = self._td_preface
        self.vmm.memory = self.td.state
        self.machine.attach_td(self.td)

    def _td_cpuid(self, leaf: int, subleaf: int) -> tuple[int, int, int, int]:
        # The VMM answers a TD's CPUID exit with the host's CPUID (the LP 0 table).
        return cpuid(self.machine.lps[0].cpuid_table, leaf, subleaf)

    def reset_td(self, config: TdConfig | None = None) -> None:
        """A freshly built TD (with `config`, else the same one) and a fresh VMM."""
        if config is not None:
            self.td_config = config
        self._build_td()

    def reset_module(self) -> None:
        """A freshly booted module of the same platform and ABI (fault injection kept), and a
        freshly built TD."""
        self._build_td()
        if isinstance(self.module, IntelModuleTarget):
            self.module.model = self.model = TdxModule(self.platform)
            self.module.reset()
            return
        self.module = self.model = TdxModule(self.platform, abi=self.module.abi,
                                             injector=self.module.injector)
        self.target.module = self.module

    # -- CPU state -----------------------------------------------------------------------------
    def set_state(self, *, lp: int | None = None, vmx: bool | None = None,
                  seamrr: bool | None = None, cpl: int | None = None,
                  module: bool | None = None, td: bool | None = None) -> None:
        """Change the emulated CPU state of one LP (or all) and whether a module is loaded.

        `td`: the LP runs a vCPU of the session's TD (SEAM VMX non-root operation), or, False,
        the host again."""
        if td and vmx is False:
            raise InputError("--td with --vmx off: a TD's vCPU runs in VMX non-root operation")
        if module is not None:
            self.target.loaded = module
        if lp is not None:
            self.check_lp(lp)
        lps = range(len(self.machine.lps)) if lp is None else [lp]
        for i in lps:
            proc = self.machine.lps[i]
            cpu = proc.cpu
            changes: dict = {}
            if vmx is not None:
                changes["vmx_operation"] = vmx
            if td is not None:
                changes.update(vmx_non_root=td, td_guest=td)
                if td:
                    changes["vmx_operation"] = True
            if cpl is not None:
                if not 0 <= cpl <= 3:
                    raise InputError(f"--cpl {cpl}: CPL is 0..3")
                changes["cpl"] = cpl
            if seamrr is not None:
                base = self.platform.seamrr_of(i).mask_msr | SEAMRR_MASK_VALID | SEAMRR_MASK_LOCK
                off = base & ~(SEAMRR_MASK_VALID | SEAMRR_MASK_LOCK)
                changes["seamrr_mask_msr"] = base if seamrr else off
            proc.cpu = cpu.with_(**changes)

    def check_lp(self, lp: int) -> None:
        """InputError unless `lp` is an LP of the platform that is present (not an empty slot)."""
        if not 0 <= lp < len(self.machine.lps):
            raise InputError(f"--lp {lp}: the platform has LPs 0..{len(self.machine.lps) - 1}")
        if lp in self.platform.absent_lps:
            raise InputError(f"--lp {lp}: LP {lp} is absent on platform '{self.platform.name}' "
                             "(cpu.absent_lps: an empty slot runs no code)")

    # -- calls ---------------------------------------------------------------------------------
    def call(self, entry: str, *, convention: str = "args", leaf: int = 0,
             inputs: Mapping[str, int] | None = None, lp: int = 0) -> RunResult:
        """Call `entry` under `convention` with RAX = `leaf` and the given input registers."""
        self.check_lp(lp)
        inputs = dict(inputs or {})
        mem = self.machine.memory
        mem.set_scratch_state((self._pin, mem.scratch_state()[1]))
        placed = place(convention, leaf, inputs, mem)
        first, td_first = len(self.module.records), len(self.td.records)
        td = self.machine.lps[lp].cpu.td_guest
        res = self.machine.call(entry, placed.args, lp=lp, regs=placed.regs or None)
        out = None
        if placed.struct_pa is not None:
            out = unpack(placed.struct_fields, mem.read(placed.struct_pa, 8 * len(placed.struct_fields)))
        outcome, rule = _outcome(res, _instruction(convention, res, td))
        return RunResult(
            entry=entry, convention=convention, lp=lp, leaf=leaf, outcome=outcome,
            rax=res.regs_after["rax"], regs=res.regs_after, inputs=inputs, out=out,
            calls=tuple(self.module.records[first:]) + tuple(self.td.records[td_first:]),
            abi=abi_check(res.regs_before, res.regs_after, res.outcome == "returned"),
            rule=rule, fault=res.faults[-1] if res.faults else None, bound=res.bound,
            bound_disasm=_disasm(res.bound),
            oops=res.fault.report() if res.fault is not None else "",
            events=res.seam_events, raw=res,
        )


def _disasm(bound) -> str:
    """The instruction a bound stopped the run at, disassembled."""
    if bound is None or not bound.bytes:
        return ""
    return disassemble_one(bound.bytes, bound.rip).text


def _instruction(convention: str, res, td: bool) -> str:
    """The instruction a call is about: TDCALL for the guest's conventions, SEAMCALL for the
    host's; for raw code, whichever it executed (TDCALL in a TD when it executed neither)."""
    if convention in GUEST_CONVENTIONS:
        return "tdcall"
    if convention == "raw":
        names = {e.insn for e in res.seam_events}
        if "seamcall" not in names and ("tdcall" in names or td):
            return "tdcall"
    return "seamcall"


def _outcome(res, insn: str = "seamcall") -> tuple[str, str]:
    """The user-facing outcome: the instruction's own failure, an unhandled fault, returned, or
    no-seamcall (no-tdcall) when the function returned without executing it."""
    rule = ""
    seam = [e for e in res.seam_events if e.insn == insn]
    if seam:
        rule = seam[-1].decision.rule
    if res.outcome == "fault" and res.fault is not None:
        return res.fault.name, rule
    if res.outcome == "bound":
        return "bound", rule
    if res.outcome == "halt":
        return "halted", rule
    if res.outcome != "returned":
        return res.outcome, rule
    if not seam:
        return (NO_TDCALL, NO_TDCALL_TEXT) if insn == "tdcall" else (NO_SEAMCALL, NO_SEAMCALL_TEXT)
    if seam[-1].decision.kind in INSTRUCTION_FAILURES:
        return seam[-1].decision.kind, rule
    return "returned", rule


__all__ = ["ModuleSwitch", "Session"]
