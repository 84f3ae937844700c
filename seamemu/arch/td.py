# SPDX-License-Identifier: MIT
"""Facts of one TD as its guest sees them: attributes, config flags, GPA width, TD-scope fields.

Spec: intel/tdx-module tdx_1.5 (TDX_1.5.01, 72d8cff): src/common/x86_defs/x86_defs.h (MAX_PA 52,
MAX_PA_FOR_GPA_NOT_WIDE 48, MIN_PA_FOR_PML5 49), src/common/helpers/helpers.c
(check_gpa_validity: GPAW 52 or 48, the SHARED bit is GPA bit GPAW-1;
verify_and_set_td_eptp_controls: GPAW 52 needs 5-level EPT, which needs MAX_PA >= 49),
include/tdx_api_defs.h (page_info_api_input_t: level 2:0, reserved 11:3, GPA 51:12, reserved
63:52; td_num_of_vcpus_t), include/auto_gen/tdr_tdcs_fields_lookup.c (the TD-scope field IDs
and what the guest may read); Linux arch/x86/include/asm/shared/tdx.h (TDX_ATTR_*,
TDCS_CONFIG_FLAGS, TDCS_TD_CTLS, TDCS_NOTIFY_ENABLES) and arch/x86/kvm/vmx/tdx.c
(setup_tdparams: config_flags = TDX_CONFIG_FLAGS_NO_RBP_MOD, plus MAX_GPAW for a 52-bit GPAW).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PA = 52                     # the widest GPA a TD can have
GPAW_NOT_WIDE = 48              # GPAW when the TD's config flag GPAW is clear
MIN_PA_FOR_PML5 = 49            # the platform MAX_PA that allows 5-level EPT (so GPAW 52)

# TD attributes (TDCS.ATTRIBUTES; TDG.VP.INFO RDX).  Sorted by bit.
TDX_ATTR_DEBUG = 1 << 0
TDX_ATTR_SEPT_VE_DISABLE = 1 << 28
TDX_ATTR_PKS = 1 << 30
TDX_ATTR_PERFMON = 1 << 63

# TD config flags (TD_PARAMS.CONFIG_FLAGS, TDCS.CONFIG_FLAGS).
CONFIG_FLAGS_GPAW = 1 << 0      # TDX_CONFIG_FLAGS_MAX_GPAW: the SHARED bit is GPA bit 51
CONFIG_FLAGS_FLEXIBLE_PENDING_VE = 1 << 1
CONFIG_FLAGS_NO_RBP_MOD = 1 << 2  # TDG.VP.VMCALL may not pass RBP (and leaves it alone)

# TDG.MEM.PAGE.ACCEPT's RCX (page_info_api_input_t): level 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB.
PAGE_LEVEL_MASK = 0x7
PAGE_INFO_RESERVED_MASK = (0x1FF << 3) | (0xFFF << 52)
PAGE_LEVEL_SIZES: dict[int, int] = {0: 4 << 10, 1: 2 << 20, 2: 1 << 30}
ACCEPT_LEVELS = (0, 1)          # tdg_mem_page_accept(): verify_page_info_input(.., LVL_PT, LVL_PD)


def shared_bit(gpaw: int) -> int:
    """The GPA bit that marks shared memory in a TD with this GPA width."""
    return 1 << (gpaw - 1)


@dataclass(frozen=True)
class TdField:
    """One TD-scope metadata field TDG.VM.RD can name (looked up by class and field code)."""

    name: str
    field_id: int               # the lookup table's ID (context code TD)
    guest_readable: bool

    @property
    def class_code(self) -> int:
        return (self.field_id >> 56) & 0x3F

    @property
    def field_code(self) -> int:
        return self.field_id & 0xFFFFFF


# The fields of the TDX 1.5.01 lookup table a Linux guest reads, and the ones beside them it
# may not.  Sorted by class, then field code.
TD_FIELDS: tuple[TdField, ...] = (
    TdField("NUM_VCPUS", 0x9010000200000001, True),
    TdField("ATTRIBUTES", 0x1110000300000000, True),
    TdField("XFAM", 0x1110000300000001, True),
    TdField("MAX_VCPUS", 0x1110000200000002, True),
    TdField("GPAW", 0x1110000000000003, True),
    TdField("EPTP", 0x1110000300000004, False),
    TdField("NOTIFY_ENABLES", 0x9110000300000010, True),
    TdField("CONFIG_FLAGS", 0x1110000300000016, True),
    TdField("TD_CTLS", 0x1110000300000017, True),
)

# The IDs the kernel passes (arch/x86/include/asm/shared/tdx.h).
TDCS_CONFIG_FLAGS = 0x1110000300000016
TDCS_TD_CTLS = 0x1110000300000017
TDCS_NOTIFY_ENABLES = 0x9100000000000010


__all__ = [
    "ACCEPT_LEVELS",
    "CONFIG_FLAGS_FLEXIBLE_PENDING_VE",
    "CONFIG_FLAGS_GPAW",
    "CONFIG_FLAGS_NO_RBP_MOD",
    "GPAW_NOT_WIDE",
    "MAX_PA",
    "MIN_PA_FOR_PML5",
    "PAGE_INFO_RESERVED_MASK",
    "PAGE_LEVEL_MASK",
    "PAGE_LEVEL_SIZES",
    "TDCS_CONFIG_FLAGS",
    "TDCS_NOTIFY_ENABLES",
    "TDCS_TD_CTLS",
    "TDX_ATTR_DEBUG",
    "TDX_ATTR_PERFMON",
    "TDX_ATTR_PKS",
    "TDX_ATTR_SEPT_VE_DISABLE",
    "TD_FIELDS",
    "TdField",
    "shared_bit",
]
