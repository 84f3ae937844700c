# SPDX-License-Identifier: MIT
"""TdxModule: the TDX module and the P-SEAMLDR behind SEAMCALL, as one SeamTarget.

The module is one release profile (platform.module.version; seamemu.arch.module_versions),
which fixes its generation's leaf set, its metadata fields and what they report.  A generation
given as `abi` that the platform's module does not serve means that generation's default
release.  The 1.0, 1.5 or 2.0 leaf set:
1.0 reads the whole RAX as the leaf number and has TDH.SYS.INFO but no TDH.SYS.RD/RDALL;
1.5 reads RAX[15:0] as the leaf and RAX[23:16] as its version, and keeps TDH.SYS.INFO
beside TDH.SYS.RD/RDALL as M15 does; 2.0 reads RAX as 1.5 does, with its own leaves and
versions (arch.leaves) and the KeyID bits below the CPU's MAXPA (model.addr).  Given an
`abi` the platform's module does not serve, it runs (and reports the version of) a default
module of that generation.  Every call is recorded as a CallRecord.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from seamemu.arch.leaves import ABI_GENERATIONS
from seamemu.arch.module_versions import ModuleProfile
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.status import MASK64
from seamemu.errors import InputError
from seamemu.jsonout import hex64
from seamemu.model import leaves as _leaves  # noqa: F401  (registers the leaf handlers)
from seamemu.model.addr import AddressRules
from seamemu.model.dispatcher import Decoded, dispatch_full
from seamemu.model.inject import Injector, check_rule
from seamemu.model.module_state import ModuleState, SeamldrSession, SysState
from seamemu.model.reported_values import default_module_info
from seamemu.platform.facts import ModuleInfo, Platform
from seamemu.traps.target import AbiRegs, CallRecord, GuestMemory, SeamReply

# Enum.name is a descriptor lookup; the state is named twice per call record.
_STATE_NAMES = {st: st.name for st in SysState}


class TdxModule:
    """Implements seamemu.traps.target.SeamTarget for one platform."""

    def __init__(self, platform: Platform, *, abi: str | None = None,
                 injector: Injector | str | None = None):
        if abi is None:
            abi = platform.module.abi if platform.module is not None else "1.5"
        if abi not in ABI_GENERATIONS:
            raise InputError(f"abi {abi!r}: expected one of {', '.join(ABI_GENERATIONS)}")
        self.platform = platform
        self.abi = abi
        self.rules = AddressRules.from_platform(platform, hkid_below_cpu_max_pa=abi == "2.0")
        self.state = ModuleState()
        self.seamldr = SeamldrSession()
        self.records: list[CallRecord] = []
        # SEAMEXTEND.SEAM_READY.  A failed MCHECK leaves SEAM disabled: the NP-SEAMLDR does not
        # launch, so neither a P-SEAMLDR nor a module is there to answer and every SEAMCALL
        # fails with VMfailInvalid (SEAM globally disabled, per the SEAMCALL description).
        self.seam_ready = platform.module is not None and platform.mcheck_ok
        # The module reports the version of the generation it serves: a 1.0 override on a
        # platform describing a 1.5 module must not report 1.5 through TDH.SYS.INFO.
        info = module_info_for(platform, abi)
        self._module_info = info if platform.module is not None else None
        # What SEAMLDR.INSTALL installs: the platform's module, else a default of this ABI.
        self.next_module_info: ModuleInfo = info
        self._seq = 0
        # RAX -> its decoding and the leaf's (spec, handler) or None (dispatcher.py)
        self.decoded: dict[int, tuple[Decoded, tuple | None]] = {}
        if isinstance(injector, str):
            injector = Injector.parse(injector, table=info.profile.statuses)
        self.injector = injector
        if injector is not None:
            for rule in injector.rules:
                check_rule(rule, abi)

    # ------------------------------------------------------------------ SeamTarget
    def module_loaded(self) -> bool:
        """False before SEAMLDR.INSTALL on a platform without a module, and while an update
        session runs (the first INSTALL clears SEAM_READY)."""
        return self.seam_ready and self._module_info is not None

    def pseamldr_present(self) -> bool:
        return bool(self.platform.pseamldr) and self.platform.mcheck_ok

    def pseamldr_busy(self, lp: int) -> bool:
        busy = self.seamldr.busy_lp
        return busy is not None and busy != lp

    def seamcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply:
        if not isinstance(lp, int) or not 0 <= lp < self.platform.num_lps:
            raise InputError(f"lp {lp!r}: the platform has LPs 0..{self.platform.num_lps - 1}")
        if regs.__class__ is AbiRegs:     # the machine's: complete, 64-bit, made for this call
            return dispatch_full(self, lp, regs, mem)
        # Validate and reduce to 64 bits in one pass; only a value that is not a plain int
        # goes through the full check (int subclasses pass, bool not).
        get = regs.get
        full = {}
        for name in ABI_ORDER:
            value = get(name, 0)
            if value.__class__ is not int and (not isinstance(value, int)
                                               or isinstance(value, bool)):
                raise InputError(f"register {name}: {value!r} is not an integer")
            full[name] = value & MASK64
        return dispatch_full(self, lp, full, mem)

    # ------------------------------------------------------------------ facts
    @property
    def module_info(self) -> ModuleInfo:
        return self._module_info or self.next_module_info

    @property
    def profile(self) -> ModuleProfile:
        """The release this module is (arch.module_versions): fields, constants, statuses."""
        return self.module_info.profile

    def state_name(self) -> str:
        return _STATE_NAMES[self.state.sys_state] if self.module_loaded() else "NO_MODULE"

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def install_new_module(self, *, update: bool = False) -> None:
        """SEAMLDR.INSTALL's last step: a fresh module in SYSINIT_PENDING, SEAM_READY set.

        An update keeps the data region's handoff pages: the new module finds the header and
        the data TDH.SYS.SHUTDOWN of the old one wrote there (TDH.SYS.UPDATE reads them)."""
        old = self.state
        self._module_info = self.next_module_info
        self.state = ModuleState()
        if update:
            self.state.handoff, self.state.handoff_data = old.handoff, old.handoff_data
        self.seam_ready = True

    # ------------------------------------------------------------------ output
    def log_lines(self) -> list[str]:
        """One line per recorded call."""
        return [format_record(r) for r in self.records]

    def records_json(self) -> list[dict]:
        return [r.to_json() for r in self.records]

    def dump_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.records_json(), indent=indent)


def module_info_for(platform: Platform, abi: str) -> ModuleInfo:
    """The platform's module when it serves `abi`, else a default module of that generation."""
    info = platform.module
    return info if info is not None and info.abi == abi else default_module_info(abi)


def format_record(r: CallRecord) -> str:
    leaf = hex64(r.leaf) if r.leaf > 0xFFFF else str(r.leaf)
    ins = " ".join(f"{k}=0x{v:016x}" for k, v in r.consumed_inputs.items() if k != "rax")
    outs = " ".join(f"{k}=0x{v:016x}" for k, v in r.outputs.items())
    line = (f"#{r.seq} lp{r.lp} {r.leaf_name}({leaf}) v{r.version}"
            f"{' ' + ins if ins else ''} -> {r.status_name} 0x{r.status:016x}"
            f"{' ' + outs if outs else ''} [{r.state_before} -> {r.state_after}]")
    extra = "; ".join(x for x in (r.note, f"injected: {r.injected}" if r.injected else "") if x)
    return f"{line} ({extra})" if extra else line


__all__ = ["TdxModule", "format_record", "module_info_for"]
