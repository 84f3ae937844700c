# SPDX-License-Identifier: MIT
"""Boot-time TDX detection per generation: what the kernel reads, concludes and prints.

- v5-2022 ([PATCH v5 01/22] tdx_early_detect(), detect_seam(), detect_tdx_keyids(); the
  boot CPU only): IA32_MTRRCAP bit 15 and IA32_SEAMRR_PHYS_MASK LOCK (10) and ENABLED (11),
  else silent; "SEAMRR enabled."; the KeyID split of IA32_MKTME_KEYID_PARTITIONING, printed
  as "TDX private KeyID range: [%u, %u)."; fewer than two TDX KeyIDs (or none) is a WARN_ON
  and TDX stays off; "TDX enabled by BIOS.".  rdmsrl(), not the _safe form: an RDMSR #GP
  would be an oops (seamemu's tdx_detect.S fixes it up and reports it instead).
- 6.8 and mainline (tdx.c tdx_init() and record_keyid_partitioning()): SEAMRR is not looked
  at; rdmsr_safe() of IA32_MKTME_KEYID_PARTITIONING, silent when it faults or has no TDX
  KeyIDs; "BIOS enabled: private KeyID range [%u, %u)"; fewer than two: "initialization
  failed: too few private KeyIDs available.".
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.msrs import (
    IA32_MKTME_KEYID_PARTITIONING,
    IA32_MTRRCAP,
    IA32_SEAMRR_PHYS_MASK,
    MTRRCAP_SEAMRR,
    SEAMRR_MASK_LOCKED,
    SEAMRR_MASK_VALID,
)
from seamemu.kernel.generations import Generation, generation
from seamemu.platform.facts import Platform
from seamemu.platform.msr_values import msr_values

SEAMRR_ENABLED_BITS = SEAMRR_MASK_LOCKED | SEAMRR_MASK_VALID


@dataclass(frozen=True)
class BootCpu:
    """What the boot CPU's RDMSRs returned (None: the RDMSR faulted)."""

    mtrrcap: int | None
    seamrr_mask: int | None
    keyid_partitioning: int | None


@dataclass(frozen=True)
class Detection:
    """One generation's verdict at boot."""

    kernel: str
    enabled: bool                       # the kernel treats TDX as enabled by BIOS
    lines: tuple[str, ...]              # what it prints, prefixed as it prints it
    keyids: tuple[int, int] | None      # (first TDX KeyID, count) when it recorded them
    notes: tuple[str, ...] = ()         # seamemu's own remarks on silent outcomes


def detect(gen: Generation | str | None, cpu: BootCpu) -> Detection:
    g = generation(gen)
    part = cpu.keyid_partitioning
    if g.detection == "seamrr":
        return _v5(g, cpu)
    if part is None or not part >> 32:
        why = "RDMSR faulted" if part is None else "no TDX KeyIDs in it"
        return Detection(g.name, False, (), None,
                         (f"IA32_MKTME_KEYID_PARTITIONING: {why}; tdx_init() returns "
                          "silently",))
    first, count = (part & 0xFFFFFFFF) + 1, part >> 32
    lines = [f"{g.pr_fmt}BIOS enabled: private KeyID range [{first}, {first + count})"]
    if count < 2:
        lines.append(f"{g.pr_fmt}initialization failed: too few private KeyIDs available.")
        return Detection(g.name, False, tuple(lines), None)
    return Detection(g.name, True, tuple(lines), (first, count))


def _v5(g: Generation, cpu: BootCpu) -> Detection:
    oops = ("an RDMSR of the boot CPU faulted: with rdmsrl() that is an oops in this kernel",)
    if cpu.mtrrcap is None:
        return Detection(g.name, False, (), None, oops)
    if not cpu.mtrrcap & MTRRCAP_SEAMRR:
        return Detection(g.name, False, (), None,
                         ("IA32_MTRRCAP.SEAMRR (bit 15) is clear: detect_seam() returns "
                          "-ENODEV silently",))
    if cpu.seamrr_mask is None:
        return Detection(g.name, False, (), None, oops)
    if cpu.seamrr_mask & SEAMRR_ENABLED_BITS != SEAMRR_ENABLED_BITS:
        return Detection(g.name, False, (), None,
                         ("IA32_SEAMRR_PHYS_MASK lacks LOCK and ENABLED: detect_seam() "
                          "returns -ENODEV silently",))
    lines = [f"{g.pr_fmt}SEAMRR enabled."]
    part = cpu.keyid_partitioning
    if part is None:
        return Detection(g.name, False, tuple(lines), None,
                         ("the RDMSR of IA32_MKTME_KEYID_PARTITIONING faulted: an oops with "
                          "rdmsrl()",))
    first, count = (part & 0xFFFFFFFF) + 1, part >> 32
    lines.append(f"{g.pr_fmt}TDX private KeyID range: [{first}, {first + count}).")
    if count < 2:
        return Detection(g.name, False, tuple(lines), None,
                         ("fewer than two TDX KeyIDs: WARN_ON() in detect_tdx_keyids() (a "
                          "kernel warning with a stack dump, not reproduced)",))
    lines.append(f"{g.pr_fmt}TDX enabled by BIOS.")
    return Detection(g.name, True, tuple(lines), (first, count))


def platform_detection(platform: Platform, gen: Generation | str | None) -> Detection:
    """The verdict on the platform as described (the boot CPU's MSR values)."""
    msrs = msr_values(platform, 0)
    return detect(gen, BootCpu(msrs.get(IA32_MTRRCAP), msrs.get(IA32_SEAMRR_PHYS_MASK),
                               msrs.get(IA32_MKTME_KEYID_PARTITIONING)))


__all__ = ["BootCpu", "Detection", "detect", "platform_detection"]
