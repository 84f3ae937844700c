# SPDX-License-Identifier: MIT
"""Model-specific registers the TDX host flow touches: numbers, bit layouts, access rules.

Spec: Intel TDX module 1.5 sources (intel/tdx-module): src/common/x86_defs/msr_defs.h
(SEAMRR, TME, KeyID partitioning, VMX_BASIC, VMX_MISC layouts), src/common/x86_defs/vmcs_defs.h
(IA32_VMX_* numbers), src/common/helpers/smrrs.h (IA32_MTRRCAP layout, MTRR_CAP_MSR_ADDR 0xFE);
Linux arch/x86/include/asm/msr-index.h (IA32_VMX_VMCS_ENUM 0x48A, IA32_VMX_VMFUNC 0x491,
MSR_IA32_FEAT_CTL 0x3A and its FEAT_CTL_* bits, which the module's sources do not define);
the module's smrrs.h ia32_mtrrcap_t (SEAMRR support, bit 15) and msr_defs.h ia32_seamrr_base_t /
ia32_seamrr_mask_t (CONFIGURED bit 3, LOCK bit 10, VALID bit 11); [PATCH v5 01/22]
"x86/virt/tdx: Detect TDX during kernel boot" (SEAMRR MSRs are core-scoped).  Facts only;
per-platform values live in seamemu.platform.msr_values.
"""

from __future__ import annotations

from dataclasses import dataclass

IA32_FEATURE_CONTROL = 0x3A
IA32_TSC_ADJUST = 0x3B
IA32_SPEC_CTRL = 0x48
IA32_MKTME_KEYID_PARTITIONING = 0x87
IA32_WBINVDP = 0x98
IA32_WBNOINVDP = 0x99
IA32_MISC_PACKAGE_CTLS = 0xBC
IA32_XAPIC_DISABLE_STATUS = 0xBD
IA32_CORE_CAPABILITIES = 0xCF
IA32_MTRRCAP = 0xFE
IA32_ARCH_CAPABILITIES = 0x10A
IA32_MISC_ENABLE = 0x1A0
IA32_SMRR_PHYSBASE = 0x1F2
IA32_SMRR_PHYSMASK = 0x1F3
IA32_SMRR2_PHYSBASE = 0x1F6
IA32_SMRR2_PHYSMASK = 0x1F7
IA32_PERF_CAPABILITIES = 0x345
IA32_VMX_BASIC = 0x480
IA32_VMX_PINBASED_CTLS = 0x481
IA32_VMX_PROCBASED_CTLS = 0x482
IA32_VMX_EXIT_CTLS = 0x483
IA32_VMX_ENTRY_CTLS = 0x484
IA32_VMX_MISC = 0x485
IA32_VMX_CR0_FIXED0 = 0x486
IA32_VMX_CR0_FIXED1 = 0x487
IA32_VMX_CR4_FIXED0 = 0x488
IA32_VMX_CR4_FIXED1 = 0x489
IA32_VMX_VMCS_ENUM = 0x48A
IA32_VMX_PROCBASED_CTLS2 = 0x48B
IA32_VMX_EPT_VPID_CAP = 0x48C
IA32_VMX_TRUE_PINBASED_CTLS = 0x48D
IA32_VMX_TRUE_PROCBASED_CTLS = 0x48E
IA32_VMX_TRUE_EXIT_CTLS = 0x48F
IA32_VMX_TRUE_ENTRY_CTLS = 0x490
IA32_VMX_VMFUNC = 0x491
IA32_VMX_PROCBASED_CTLS3 = 0x492
IA32_TME_CAPABILITY = 0x981
IA32_TME_ACTIVATE = 0x982
IA32_SEAMRR_PHYS_BASE = 0x1400
IA32_SEAMRR_PHYS_MASK = 0x1401

# Access classes a RDMSR/WRMSR trap needs.
ACCESS_RO = "ro"            # WRMSR raises #GP(0)
ACCESS_RW = "rw"            # freely writable
ACCESS_LOCKABLE = "lockable"  # writable until its lock bit is set, then WRMSR raises #GP(0)

# The highest MAXPHYADDR the architecture allows; address fields stop at MAX_PA-1 on a part.
ARCH_MAX_PA = 52

# SEAMRR base and mask carry address bits MAX_PA-1:25, so the SEAM range is a power-of-two
# size of at least 32 MiB aligned to its size.  Spec: msr_defs.h ia32_seamrr_base_t/_mask_t.
SEAMRR_ADDR_SHIFT = 25
SEAMRR_GRANULE = 1 << SEAMRR_ADDR_SHIFT


@dataclass(frozen=True)
class MsrField:
    """Bits hi:lo (inclusive) of an MSR.  Address fields end at ARCH_MAX_PA-1 here."""

    name: str
    lo: int
    hi: int

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo

    def get(self, value: int) -> int:
        return (value & self.mask) >> self.lo

    def put(self, value: int, field_value: int) -> int:
        """`value` with this field replaced; refuses a field value that does not fit."""
        if field_value < 0 or field_value >> self.width:
            raise ValueError(f"{self.name}: {field_value:#x} does not fit in bits "
                             f"{self.hi}:{self.lo}")
        return (value & ~self.mask) | (field_value << self.lo)


@dataclass(frozen=True)
class MsrSpec:
    number: int
    name: str
    access: str
    fields: tuple[MsrField, ...] = ()
    lock: tuple[int, int] | None = None  # (MSR, bit) whose set bit makes this MSR read-only
    source: str = ""

    def field(self, name: str) -> MsrField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _bit(name: str, bit: int) -> MsrField:
    return MsrField(name, bit, bit)


_ALLOWED = (MsrField("ALLOWED_0_SETTINGS", 0, 31), MsrField("ALLOWED_1_SETTINGS", 32, 63))
_VMCS_DEFS = "intel/tdx-module src/common/x86_defs/vmcs_defs.h"
_MSR_INDEX = "Linux arch/x86/include/asm/msr-index.h"
_MSR_DEFS = "intel/tdx-module src/common/x86_defs/msr_defs.h"
_SMRRS = "intel/tdx-module src/common/helpers/smrrs.h smrr_base_t / smrr_mask_t"

# Sorted by number (a test checks it).
MSRS: tuple[MsrSpec, ...] = (
    MsrSpec(IA32_FEATURE_CONTROL, "IA32_FEATURE_CONTROL", ACCESS_LOCKABLE,
            (_bit("LOCK", 0), _bit("VMX_INSIDE_SMX", 1), _bit("VMX_OUTSIDE_SMX", 2)),
            lock=(IA32_FEATURE_CONTROL, 0),
            source=f"{_MSR_INDEX} MSR_IA32_FEAT_CTL, FEAT_CTL_LOCKED/VMX_ENABLED_*"),
    MsrSpec(IA32_TSC_ADJUST, "IA32_TSC_ADJUST", ACCESS_RW, source=_MSR_DEFS),
    MsrSpec(IA32_SPEC_CTRL, "IA32_SPEC_CTRL", ACCESS_RW,
            (_bit("IBRS", 0), _bit("STIBP", 1), _bit("SSBD", 2)),
            source=f"{_MSR_DEFS} ia32_spec_ctrl_t; tdx_vmm_dispatcher.c saves and sets it"),
    MsrSpec(IA32_MKTME_KEYID_PARTITIONING, "IA32_MKTME_KEYID_PARTITIONING", ACCESS_RO,
            (MsrField("NUM_MKTME_KIDS", 0, 31), MsrField("NUM_TDX_PRIV_KIDS", 32, 63)),
            source=f"{_MSR_DEFS} ia32_tme_keyid_partitioning_t; Linux tdx.c"),
    MsrSpec(IA32_WBINVDP, "IA32_WBINVDP", ACCESS_RO, source=f"{_MSR_DEFS} (cache sub-blocks)"),
    MsrSpec(IA32_WBNOINVDP, "IA32_WBNOINVDP", ACCESS_RO, source=_MSR_DEFS),
    MsrSpec(IA32_MISC_PACKAGE_CTLS, "IA32_MISC_PACKAGE_CTLS", ACCESS_RW,
            (_bit("ENERGY_FILTERING_ENABLE", 0),), source=_MSR_DEFS),
    MsrSpec(IA32_XAPIC_DISABLE_STATUS, "IA32_XAPIC_DISABLE_STATUS", ACCESS_RO,
            (_bit("LEGACY_XAPIC_DISABLED", 0),), source=_MSR_DEFS),
    MsrSpec(IA32_CORE_CAPABILITIES, "IA32_CORE_CAPABILITIES", ACCESS_RO, source=_MSR_DEFS),
    MsrSpec(IA32_MTRRCAP, "IA32_MTRRCAP", ACCESS_RO,
            (MsrField("VCNT", 0, 7), _bit("FIX", 8), _bit("WC", 10), _bit("SMRR", 11),
             _bit("PRMRR", 12), _bit("SMRR2", 13), _bit("SMRR_LOCK", 14), _bit("SEAMRR", 15)),
            source="intel/tdx-module src/common/helpers/smrrs.h ia32_mtrrcap_t"),
    MsrSpec(IA32_ARCH_CAPABILITIES, "IA32_ARCH_CAPABILITIES", ACCESS_RO,
            source=f"{_MSR_DEFS} ia32_arch_capabilities_t"),
    MsrSpec(IA32_MISC_ENABLE, "IA32_MISC_ENABLE", ACCESS_RW,
            (_bit("LIMIT_CPUID_MAXVAL", 22),), source=f"{_MSR_DEFS} MISC_EN_BOOT_NT4_BIT"),
    # Written only in SMM: read-only to the OS.
    MsrSpec(IA32_SMRR_PHYSBASE, "IA32_SMRR_PHYSBASE", ACCESS_RO,
            (MsrField("MEMTYPE", 0, 7), MsrField("BASE", 12, 31)), source=_SMRRS),
    MsrSpec(IA32_SMRR_PHYSMASK, "IA32_SMRR_PHYSMASK", ACCESS_RO,
            (_bit("LOCK", 10), _bit("VALID", 11), MsrField("MASK", 12, 31)), source=_SMRRS),
    MsrSpec(IA32_SMRR2_PHYSBASE, "IA32_SMRR2_PHYSBASE", ACCESS_RO, source=_SMRRS),
    MsrSpec(IA32_SMRR2_PHYSMASK, "IA32_SMRR2_PHYSMASK", ACCESS_RO, source=_SMRRS),
    MsrSpec(IA32_PERF_CAPABILITIES, "IA32_PERF_CAPABILITIES", ACCESS_RO,
            (_bit("FULL_WRITE", 13),), source=f"{_MSR_DEFS} ia32_perf_capabilities_t"),
    MsrSpec(IA32_VMX_BASIC, "IA32_VMX_BASIC", ACCESS_RO,
            (MsrField("VMCS_REVISION_ID", 0, 30), MsrField("VMCS_REGION_SIZE", 32, 44),
             _bit("VMXON_PA_WIDTH", 48), _bit("DUAL_MONITOR", 49), MsrField("VMCS_MT", 50, 53),
             _bit("VMEXIT_INFO_ON_IOS", 54), _bit("TRUE_CTLS", 55),
             _bit("VOE_WITHOUT_ERR_CODE", 56)),
            source=f"{_VMCS_DEFS}; {_MSR_DEFS} ia32_vmx_basic_t"),
    MsrSpec(IA32_VMX_PINBASED_CTLS, "IA32_VMX_PINBASED_CTLS", ACCESS_RO, _ALLOWED,
            source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_PROCBASED_CTLS, "IA32_VMX_PROCBASED_CTLS", ACCESS_RO, _ALLOWED,
            source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_EXIT_CTLS, "IA32_VMX_EXIT_CTLS", ACCESS_RO, _ALLOWED, source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_ENTRY_CTLS, "IA32_VMX_ENTRY_CTLS", ACCESS_RO, _ALLOWED, source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_MISC, "IA32_VMX_MISC", ACCESS_RO,
            (MsrField("PREEMPT_TIMER_TSC_FACTOR", 0, 4), _bit("UNRESTRICTED_GUEST", 5),
             _bit("ACTIVITY_HLT", 6), _bit("ACTIVITY_SHUTDOWN", 7),
             _bit("ACTIVITY_WAIT_FOR_SIPI", 8), _bit("PT_IN_VMX", 14), _bit("IA32_SMBASE", 15),
             MsrField("MAX_CR3_TARGETS", 16, 24), MsrField("MAX_MSR_LIST_SIZE", 25, 27),
             _bit("IA32_SMM_MONITOR_CTL", 28), _bit("VMWRITE_ANY_VMCS_FIELD", 29),
             _bit("VOE_WITH_0_INSTR_LENGTH", 30), MsrField("MSEG_REV_ID", 32, 63)),
            source=f"{_MSR_DEFS} ia32_vmx_misc_t"),
    MsrSpec(IA32_VMX_CR0_FIXED0, "IA32_VMX_CR0_FIXED0", ACCESS_RO, source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_CR0_FIXED1, "IA32_VMX_CR0_FIXED1", ACCESS_RO, source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_CR4_FIXED0, "IA32_VMX_CR4_FIXED0", ACCESS_RO, source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_CR4_FIXED1, "IA32_VMX_CR4_FIXED1", ACCESS_RO, source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_VMCS_ENUM, "IA32_VMX_VMCS_ENUM", ACCESS_RO,
            (MsrField("MAX_INDEX", 1, 9),), source=_MSR_INDEX),
    MsrSpec(IA32_VMX_PROCBASED_CTLS2, "IA32_VMX_PROCBASED_CTLS2", ACCESS_RO, _ALLOWED,
            source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_EPT_VPID_CAP, "IA32_VMX_EPT_VPID_CAP", ACCESS_RO,
            (_bit("EXECUTE_ONLY", 0), _bit("PML4", 6), _bit("PML5", 7), _bit("UC", 8),
             _bit("WB", 14), _bit("PS_2M", 16), _bit("PS_1G", 17), _bit("INVEPT", 20),
             _bit("AD", 21), _bit("INVVPID", 32)),
            source=f"{_MSR_DEFS} ia32_vmx_ept_vpid_cap_t"),
    MsrSpec(IA32_VMX_TRUE_PINBASED_CTLS, "IA32_VMX_TRUE_PINBASED_CTLS", ACCESS_RO, _ALLOWED,
            source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_TRUE_PROCBASED_CTLS, "IA32_VMX_TRUE_PROCBASED_CTLS", ACCESS_RO, _ALLOWED,
            source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_TRUE_EXIT_CTLS, "IA32_VMX_TRUE_EXIT_CTLS", ACCESS_RO, _ALLOWED,
            source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_TRUE_ENTRY_CTLS, "IA32_VMX_TRUE_ENTRY_CTLS", ACCESS_RO, _ALLOWED,
            source=_VMCS_DEFS),
    MsrSpec(IA32_VMX_VMFUNC, "IA32_VMX_VMFUNC", ACCESS_RO, (_bit("EPTP_SWITCHING", 0),),
            source=_MSR_INDEX),
    MsrSpec(IA32_VMX_PROCBASED_CTLS3, "IA32_VMX_PROCBASED_CTLS3", ACCESS_RO, source=_VMCS_DEFS),
    MsrSpec(IA32_TME_CAPABILITY, "IA32_TME_CAPABILITY", ACCESS_RO,
            (_bit("AES_XTS_128", 0), _bit("AES_XTS_128_WITH_INTEGRITY", 1),
             _bit("AES_XTS_256", 2), _bit("AES_XTS_256_WITH_INTEGRITY", 3),
             _bit("TME_ENC_BYPASS_SUPPORTED", 31), MsrField("MK_TME_MAX_KEYID_BITS", 32, 35),
             MsrField("MK_TME_MAX_KEYS", 36, 50)),
            source=f"{_MSR_DEFS} ia32_tme_capability_t"),
    MsrSpec(IA32_TME_ACTIVATE, "IA32_TME_ACTIVATE", ACCESS_LOCKABLE,
            (_bit("LOCK", 0), _bit("TME_ENABLE", 1), _bit("KEY_SELECT", 2),
             MsrField("TME_POLICY", 4, 7), MsrField("MK_TME_KEYID_BITS", 32, 35),
             MsrField("TDX_RESERVED_KEYID_BITS", 36, 39), _bit("ALGS_AES_XTS_128", 48),
             _bit("ALGS_AES_XTS_128_WITH_INTEGRITY", 49), _bit("ALGS_AES_XTS_256", 50),
             _bit("ALGS_AES_XTS_256_WITH_INTEGRITY", 51)),
            lock=(IA32_TME_ACTIVATE, 0),
            source=f"{_MSR_DEFS} ia32_tme_activate_t"),
    # Core-scoped: both threads of a core read the same SEAMRR values.
    MsrSpec(IA32_SEAMRR_PHYS_BASE, "IA32_SEAMRR_PHYS_BASE", ACCESS_LOCKABLE,
            (_bit("CONFIGURED", 3), MsrField("BASE", SEAMRR_ADDR_SHIFT, ARCH_MAX_PA - 1)),
            lock=(IA32_SEAMRR_PHYS_MASK, 10),
            source=f"{_MSR_DEFS} ia32_seamrr_base_t"),
    MsrSpec(IA32_SEAMRR_PHYS_MASK, "IA32_SEAMRR_PHYS_MASK", ACCESS_LOCKABLE,
            (_bit("LOCK", 10), _bit("VALID", 11),
             MsrField("MASK", SEAMRR_ADDR_SHIFT, ARCH_MAX_PA - 1)),
            lock=(IA32_SEAMRR_PHYS_MASK, 10),
            source=f"{_MSR_DEFS} ia32_seamrr_mask_t"),
)

MSR_BY_NUMBER: dict[int, MsrSpec] = {m.number: m for m in MSRS}
MSR_BY_NAME: dict[str, MsrSpec] = {m.name: m for m in MSRS}

SEAMRR_BASE_CONFIGURED = 1 << 3   # IA32_SEAMRR_PHYS_BASE bit 3
SEAMRR_MASK_LOCKED = 1 << 10      # IA32_SEAMRR_PHYS_MASK bit 10
SEAMRR_MASK_VALID = 1 << 11       # IA32_SEAMRR_PHYS_MASK bit 11; SEAMCALL #GP(0) when clear
MTRRCAP_SEAMRR = 1 << 15          # IA32_MTRRCAP bit 15: SEAMRR MSRs supported
FEATURE_CONTROL_LOCKED = 1 << 0
FEATURE_CONTROL_VMX_INSIDE_SMX = 1 << 1
FEATURE_CONTROL_VMX_OUTSIDE_SMX = 1 << 2


def msr_name(number: int) -> str:
    spec = MSR_BY_NUMBER.get(number)
    return spec.name if spec else f"MSR 0x{number:x}"


def _addr_bits(max_pa: int) -> int:
    """Bits MAX_PA-1:25 set: the address part of the SEAMRR base and mask."""
    return ((1 << max_pa) - 1) & ~(SEAMRR_GRANULE - 1)


def seamrr_base_msr(base: int, configured: bool = True) -> int:
    """IA32_SEAMRR_PHYS_BASE for a range starting at `base` (a multiple of 32 MiB)."""
    if base % SEAMRR_GRANULE:
        raise ValueError(f"SEAMRR base 0x{base:x} is not a multiple of 32 MiB")
    return base | (SEAMRR_BASE_CONFIGURED if configured else 0)


def seamrr_mask_msr(size: int, max_pa: int, locked: bool = True, valid: bool = True) -> int:
    """IA32_SEAMRR_PHYS_MASK for a range of `size` bytes (a power of two, at least 32 MiB)."""
    if size < SEAMRR_GRANULE or size & (size - 1):
        raise ValueError(f"SEAMRR size 0x{size:x} is not a power of two of at least 32 MiB")
    mask = _addr_bits(max_pa) & ~(size - 1)
    return mask | (SEAMRR_MASK_LOCKED if locked else 0) | (SEAMRR_MASK_VALID if valid else 0)


def seamrr_range(base_msr: int, mask_msr: int, max_pa: int) -> tuple[int, int] | None:
    """(base, size) the two SEAMRR MSRs describe, or None when the mask is not contiguous.

    The base is returned as programmed (bits MAX_PA-1:25); a caller checks its alignment.
    """
    addr = _addr_bits(max_pa)
    mask = mask_msr & addr
    if mask == 0:
        return None
    low = (~mask & addr) | (SEAMRR_GRANULE - 1)
    if low & (low + 1):
        return None  # holes in the mask: no single power-of-two range
    return base_msr & addr, low + 1


def keyid_partitioning(mktme_keyids: int, tdx_keyids: int) -> int:
    """IA32_MKTME_KEYID_PARTITIONING: MKTME KeyIDs in bits 31:0, TDX private KeyIDs in 63:32."""
    return (tdx_keyids << 32) | mktme_keyids


__all__ = [
    "ACCESS_LOCKABLE",
    "ACCESS_RO",
    "ACCESS_RW",
    "ARCH_MAX_PA",
    "FEATURE_CONTROL_LOCKED",
    "FEATURE_CONTROL_VMX_INSIDE_SMX",
    "FEATURE_CONTROL_VMX_OUTSIDE_SMX",
    "IA32_ARCH_CAPABILITIES",
    "IA32_CORE_CAPABILITIES",
    "IA32_FEATURE_CONTROL",
    "IA32_MISC_ENABLE",
    "IA32_MISC_PACKAGE_CTLS",
    "IA32_MKTME_KEYID_PARTITIONING",
    "IA32_MTRRCAP",
    "IA32_PERF_CAPABILITIES",
    "IA32_SEAMRR_PHYS_BASE",
    "IA32_SEAMRR_PHYS_MASK",
    "IA32_SMRR2_PHYSBASE",
    "IA32_SMRR2_PHYSMASK",
    "IA32_SMRR_PHYSBASE",
    "IA32_SMRR_PHYSMASK",
    "IA32_SPEC_CTRL",
    "IA32_TME_ACTIVATE",
    "IA32_TME_CAPABILITY",
    "IA32_TSC_ADJUST",
    "IA32_VMX_BASIC",
    "IA32_VMX_CR0_FIXED0",
    "IA32_VMX_CR0_FIXED1",
    "IA32_VMX_CR4_FIXED0",
    "IA32_VMX_CR4_FIXED1",
    "IA32_VMX_ENTRY_CTLS",
    "IA32_VMX_EPT_VPID_CAP",
    "IA32_VMX_EXIT_CTLS",
    "IA32_VMX_MISC",
    "IA32_VMX_PINBASED_CTLS",
    "IA32_VMX_PROCBASED_CTLS",
    "IA32_VMX_PROCBASED_CTLS2",
    "IA32_VMX_PROCBASED_CTLS3",
    "IA32_VMX_TRUE_ENTRY_CTLS",
    "IA32_VMX_TRUE_EXIT_CTLS",
    "IA32_VMX_TRUE_PINBASED_CTLS",
    "IA32_VMX_TRUE_PROCBASED_CTLS",
    "IA32_VMX_VMCS_ENUM",
    "IA32_VMX_VMFUNC",
    "IA32_WBINVDP",
    "IA32_WBNOINVDP",
    "IA32_XAPIC_DISABLE_STATUS",
    "MSRS",
    "MSR_BY_NAME",
    "MSR_BY_NUMBER",
    "MTRRCAP_SEAMRR",
    "MsrField",
    "MsrSpec",
    "SEAMRR_ADDR_SHIFT",
    "SEAMRR_BASE_CONFIGURED",
    "SEAMRR_GRANULE",
    "SEAMRR_MASK_LOCKED",
    "SEAMRR_MASK_VALID",
    "keyid_partitioning",
    "msr_name",
    "seamrr_base_msr",
    "seamrr_mask_msr",
    "seamrr_range",
]
