# SPDX-License-Identifier: MIT
"""One TD as the TDX module keeps it: its configuration (TD_PARAMS as the VMM chose them) and
its state (vCPUs, pending #VE info, the Secure EPT's view of private memory).

The configuration follows what KVM (arch/x86/kvm/vmx/tdx.c, setup_tdparams) asks of the module
for this platform: every present LP may be a vCPU (kvm->max_vcpus is limited to the present
CPUs), the GPA width is the widest the platform allows (52 needs 5-level EPT, i.e. a platform
MAX_PA of at least 49; else 48), config flags NO_RBP_MOD (and GPAW for 52), and the attribute
a Linux guest insists on, SEPT_VE_DISABLE.  Each LP of the machine runs one vCPU, its index
the LP's number.

Private memory (Secure EPT): KVM maps private pages at 4 KiB only (tdx_sept_set_private_spte:
"TODO: handle large pages"), so every private leaf is 4 KiB.  A page is MAPPED (added while
the TD was built, or accepted), PENDING (added by TDH.MEM.PAGE.AUG, not yet accepted), or not
mapped.  Unless told otherwise, guest memory the machine backs is MAPPED and the rest not
mapped; `pending` ranges start PENDING, as memory the VMM added for lazy acceptance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seamemu.arch.td import (
    CONFIG_FLAGS_GPAW,
    CONFIG_FLAGS_NO_RBP_MOD,
    GPAW_NOT_WIDE,
    MAX_PA,
    MIN_PA_FOR_PML5,
    TDX_ATTR_SEPT_VE_DISABLE,
    shared_bit,
)
from seamemu.errors import InputError
from seamemu.platform.facts import Platform

PAGE = 4096
MAPPED = "MAPPED"
PENDING = "PENDING"
NOT_MAPPED = "NOT_MAPPED"
SHARED = "SHARED"        # converted to shared with MapGPA: no private page behind the GPA
# XFAM of a TD with x87 and SSE state only (XFAM bits 0 and 1, the module's XFAM_FIXED1).
DEFAULT_XFAM = 0x3


@dataclass(frozen=True)
class TdConfig:
    """What TDH.MNG.INIT fixed for the TD (the TD-scope fields a guest can read)."""

    gpaw: int = GPAW_NOT_WIDE
    attributes: int = TDX_ATTR_SEPT_VE_DISABLE
    xfam: int = DEFAULT_XFAM
    max_vcpus: int = 1
    config_flags: int = CONFIG_FLAGS_NO_RBP_MOD
    td_ctls: int = 0
    notify_enables: int = 0
    pending: tuple[tuple[int, int], ...] = ()   # (base GPA, size) ranges that start PENDING

    def __post_init__(self) -> None:
        if self.gpaw not in (GPAW_NOT_WIDE, MAX_PA):
            raise InputError(f"TD gpaw {self.gpaw}: a TD's GPA width is 48 or 52")
        if bool(self.config_flags & CONFIG_FLAGS_GPAW) != (self.gpaw == MAX_PA):
            raise InputError("TD config_flags: the GPAW flag (bit 0) is set exactly when the "
                             "GPA width is 52")
        if not 1 <= self.max_vcpus < 1 << 16:
            raise InputError(f"TD max_vcpus {self.max_vcpus}: expected 1..65535")
        for base, size in self.pending:
            if base % PAGE or size % PAGE or size <= 0:
                raise InputError(f"TD pending range 0x{base:x}+0x{size:x}: base and size must "
                                 "be whole 4 KiB pages")

    @property
    def shared_bit(self) -> int:
        return shared_bit(self.gpaw)

    @classmethod
    def for_platform(cls, platform: Platform, **changes) -> TdConfig:
        """The TD a KVM host would build on `platform`: GPAW 52 where 5-level EPT is possible.

        "Possible" is judged on the host's width for memory, MAXPHYADDR (cpu.max_pa) less its
        KeyID bits (the kernel's x86_phys_bits after detect_tme_early()); which GPAW a VMM
        asks for is its own choice, so this is a default, not a fact."""
        ram_bits = platform.max_pa - platform.keyid_bits
        gpaw = MAX_PA if ram_bits >= MIN_PA_FOR_PML5 else GPAW_NOT_WIDE
        flags = CONFIG_FLAGS_NO_RBP_MOD | (CONFIG_FLAGS_GPAW if gpaw == MAX_PA else 0)
        base = dict(gpaw=gpaw, config_flags=flags, max_vcpus=max(1, len(platform.present_lps)))
        return cls(**(base | changes))


@dataclass(frozen=True)
class VeInfo:
    """What TDG.VP.VEINFO.GET hands out after a #VE (the TDVPS VE_INFO fields)."""

    exit_reason: int
    exit_qualification: int = 0
    gla: int = 0
    gpa: int = 0
    instr_len: int = 0
    instr_info: int = 0


class TdStopped(Exception):
    """Control flow inside a TDCALL: the TD stopped for good (its VMM ended it); the note says
    why.  Never leaves the guest-side dispatcher."""

    def __init__(self, note: str, vmcall=None):
        super().__init__(note)
        self.note = note
        self.vmcall = vmcall


@dataclass
class TdState:
    """The TD's mutable state: vCPUs, VE_INFO per vCPU, and private pages that changed."""

    config: TdConfig
    num_vcpus: int = 1
    ve_info: dict[int, VeInfo] = field(default_factory=dict)    # vCPU -> valid VE_INFO
    # Ranges whose state changed since the TD was built, (base, end, state), the last one
    # that holds a page wins (ranges, not pages: a MapGPA may convert terabytes at once).
    changes: list[tuple[int, int, str]] = field(default_factory=list)

    def post_ve(self, vcpu: int, info: VeInfo) -> None:
        """Leave VE_INFO valid for `vcpu`, as the module does when it injects a #VE (for a
        test: the machine raises no #VE itself)."""
        self.ve_info[vcpu] = info

    def page_state(self, gpa: int, backed: bool) -> str:
        """The Secure EPT state of the 4 KiB private page at `gpa` (`backed`: the machine
        has memory there)."""
        page = gpa & ~(PAGE - 1)
        for base, end, state in reversed(self.changes):
            if base <= page < end:
                return state
        if any(b <= page < b + s for b, s in self.config.pending):
            return PENDING
        return MAPPED if backed else NOT_MAPPED

    def set_pages(self, gpa: int, size: int, state: str) -> None:
        self.changes.append((gpa & ~(PAGE - 1), gpa + size, state))

    def convert(self, gpa: int, size: int, private: bool) -> None:
        """MapGPA's effect (the VMM's PrivateMemory port): to shared, the private pages are
        removed (TDH.MEM.PAGE.REMOVE); to private, nothing is mapped until the next access
        makes the VMM add the page PENDING, for the TD to accept."""
        self.set_pages(gpa, size, NOT_MAPPED if private else SHARED)


__all__ = ["DEFAULT_XFAM", "MAPPED", "NOT_MAPPED", "PAGE", "PENDING", "SHARED", "TdConfig",
           "TdState", "TdStopped", "VeInfo"]
