# SPDX-License-Identifier: MIT
"""`seamemu detect`: run asm/tdx_detect.S on every LP and say what the kernel would print.

The assembly reads the MSRs (through the machine's RDMSR trap, so each LP sees its own
platform values) and compares each AP with the boot CPU; this module applies the kernel's
decisions to those per-CPU results, in order, the way two kernel generations did:

- 2022 series "x86/virt/tdx: Detect TDX during kernel boot" (tdx.c detect_seam_bsp/_ap,
  detect_tdx_keyids_bsp/_ap, __tdx_detect; pr_fmt "tdx: "): SEAMRR configured, valid and
  locked on the boot CPU and identical on every other CPU, TDX KeyIDs consistent, and at
  least two of them.
- upstream (tdx.c tdx_init/record_keyid_partitioning; pr_fmt "virt/tdx: "): the boot CPU's
  IA32_MKTME_KEYID_PARTITIONING only.

The sysfs-style values are seamemu's own names (nothing in Linux exports these files); they
are what a userspace cloud agent would want to read, laid out like sysfs attributes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from seamemu.arch.msrs import seamrr_range
from seamemu.errors import SeamemuError
from seamemu.platform import as_platform
from seamemu.platform.facts import Platform
from seamemu.platform.hotplug_policy import detect_tdx
from seamemu.platform.units import fmt_range, fmt_size, hex64
from seamemu.session.session import Session
from seamemu.stubs import stub

DETECT_STUB = "tdx_detect.S"
DETECT_ENTRY = "tdx_detect_lp"

# struct tdx_detect_out and its status bits: seamemu's own ABI, defined in asm/tdx_detect.S
# (a test checks these against the .S defines).
TDX_DETECT_LAYOUT = struct.Struct("<QQQQQII")
TDX_DETECT_SIZE = TDX_DETECT_LAYOUT.size
STATUS_BITS: dict[str, int] = {
    "SEAMRR_SUPPORTED": 0x0001,
    "SEAMRR_CONFIGURED": 0x0002,
    "SEAMRR_ENABLED": 0x0004,
    "KEYIDS": 0x0008,
    "SEAMRR_MISMATCH": 0x0010,
    "KEYID_MISMATCH": 0x0020,
    "FAULT_MTRRCAP": 0x0100,
    "FAULT_SEAMRR_BASE": 0x0200,
    "FAULT_SEAMRR_MASK": 0x0400,
    "FAULT_KEYID": 0x0800,
}
_FAULT_MSRS = {"FAULT_MTRRCAP": "IA32_MTRRCAP", "FAULT_SEAMRR_BASE": "IA32_SEAMRR_PHYS_BASE",
               "FAULT_SEAMRR_MASK": "IA32_SEAMRR_PHYS_MASK",
               "FAULT_KEYID": "IA32_MKTME_KEYID_PARTITIONING"}
SYSFS_DIR = "/sys/firmware/tdx"


class DetectError(SeamemuError, RuntimeError):
    """tdx_detect_lp did not return on some LP (a fault it could not fix up, or a bound)."""


@dataclass(frozen=True)
class LpDetect:
    """What tdx_detect_lp stored for one logical CPU."""

    lp: int
    mtrrcap: int
    seamrr_base: int
    seamrr_mask: int
    keyid_part: int
    status: int
    keyid_start: int
    nr_keyids: int

    def has(self, bit: str) -> bool:
        return bool(self.status & STATUS_BITS[bit])

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(name for name, bit in STATUS_BITS.items() if self.status & bit)

    @property
    def faulted(self) -> tuple[str, ...]:
        """MSRs whose RDMSR raised #GP on this CPU."""
        return tuple(msr for bit, msr in _FAULT_MSRS.items() if self.has(bit))

    def to_json(self) -> dict:
        return {"cpu": self.lp, "mtrrcap": hex64(self.mtrrcap),
                "seamrr_phys_base": hex64(self.seamrr_base),
                "seamrr_phys_mask": hex64(self.seamrr_mask),
                "keyid_partitioning": hex64(self.keyid_part), "status": f"0x{self.status:x}",
                "flags": list(self.flags), "faulted": list(self.faulted),
                "keyid_start": self.keyid_start, "nr_keyids": self.nr_keyids}


@dataclass(frozen=True)
class DetectReport:
    """The per-CPU results, what each kernel generation concluded and printed, sysfs values."""

    platform: str
    cpus: tuple[LpDetect, ...]
    bios_enabled: bool                 # 2022 rule: SEAMRR enabled+consistent, TDX KeyIDs found
    seamrr: tuple[int, int] | None     # (base, size) when enabled and consistent
    keyid_start: int                   # 0 when no (consistent) TDX KeyIDs
    nr_keyids: int
    mktme_keyids: int
    module_usable_2022: bool           # __tdx_detect would go on to look for the module
    kernel_2022: tuple[str, ...]
    kernel_upstream: tuple[str, ...]
    notes: tuple[str, ...] = ()        # seamemu's own remarks (which CPUs differ, faults)
    platform_says: tuple[bool, str] = (False, "")  # detect_tdx() on the description
    sysfs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "platform": self.platform,
            "bios_enabled": self.bios_enabled,
            "seamrr": None if self.seamrr is None else
            {"base": hex64(self.seamrr[0]), "size": hex64(self.seamrr[1])},
            "keyid_start": self.keyid_start, "nr_keyids": self.nr_keyids,
            "mktme_keyids": self.mktme_keyids, "module_usable_2022": self.module_usable_2022,
            "kernel": {"2022": list(self.kernel_2022), "upstream": list(self.kernel_upstream)},
            "notes": list(self.notes),
            "platform_description": {"bios_enabled": self.platform_says[0],
                                     "message": self.platform_says[1]},
            "sysfs": dict(self.sysfs),
            "cpus": [c.to_json() for c in self.cpus],
        }


def run_detect_asm(session: Session, lps: tuple[int, ...]) -> tuple[LpDetect, ...]:
    """Call tdx_detect_lp on each LP in `lps`, the first as the boot CPU."""
    out = []
    bsp_pa = 0
    mem = session.machine.memory
    for n, lp in enumerate(lps):
        pa = session.alloc(TDX_DETECT_SIZE, 64)
        res = session.machine.call(DETECT_ENTRY, [pa, bsp_pa], lp=lp)
        if res.outcome != "returned":
            why = res.fault.report() if res.fault is not None else res.outcome
            raise DetectError(f"{DETECT_ENTRY} on CPU {lp} did not return: {why}")
        if n == 0:
            bsp_pa = pa
        out.append(LpDetect(lp, *TDX_DETECT_LAYOUT.unpack(mem.read(pa, TDX_DETECT_SIZE))))
    return tuple(out)


def _kernel_2022(cpus: tuple[LpDetect, ...], max_pa: int):
    """The 2022 detection over the per-CPU results: (lines, seamrr, keyids, notes)."""
    lines: list[str] = []
    notes: list[str] = []
    bsp, aps = cpus[0], cpus[1:]
    seamrr = None
    if bsp.has("SEAMRR_SUPPORTED") and not (bsp.has("FAULT_SEAMRR_BASE")
                                            or bsp.has("FAULT_SEAMRR_MASK")):
        if not bsp.has("SEAMRR_CONFIGURED"):
            lines.append("tdx: SEAMRR base is not configured by BIOS")
        elif not bsp.has("SEAMRR_ENABLED"):
            lines.append("tdx: SEAMRR is not enabled by BIOS")
        else:
            seamrr = (bsp.seamrr_base, bsp.seamrr_mask)
    elif not bsp.has("SEAMRR_SUPPORTED"):
        notes.append(f"CPU {bsp.lp}: IA32_MTRRCAP.SEAMRR (bit 15) is clear: no SEAMRR on this "
                     "CPU (the kernel stays silent)")
    differ = [c.lp for c in aps if c.has("SEAMRR_MISMATCH")]
    if seamrr is not None and differ:
        lines.append("tdx: Inconsistent SEAMRR configuration by BIOS")
        notes.append(f"SEAMRR on CPU {', '.join(map(str, differ))} differs from the boot "
                     f"CPU {bsp.lp}'s (the kernel does not say which)")
        seamrr = None
    keyids = None
    if not bsp.has("FAULT_KEYID") and bsp.nr_keyids:
        keyids = (bsp.keyid_start, bsp.nr_keyids)
        differ = [c.lp for c in aps if c.has("KEYID_MISMATCH")]
        if differ:
            lines.append("tdx: Inconsistent TDX KeyID configuration among packages by BIOS")
            notes.append(f"IA32_MKTME_KEYID_PARTITIONING on CPU {', '.join(map(str, differ))} "
                         f"differs from the boot CPU {bsp.lp}'s")
            keyids = None
    nr = keyids[1] if keyids else 0
    if seamrr is None:
        lines.append("tdx: SEAMRR not enabled.")
    elif nr < 2:
        lines.append(f"tdx: Number of TDX private KeyIDs too small: {nr}.")
    for c in cpus:
        if c.faulted:
            notes.append(f"CPU {c.lp}: RDMSR of {', '.join(c.faulted)} raised #GP(0); the "
                         "exception table fixed it up")
    rng = seamrr_range(*seamrr, max_pa) if seamrr else None
    return lines, rng, keyids, notes


def _kernel_upstream(bsp: LpDetect) -> list[str]:
    if bsp.has("FAULT_KEYID") or not bsp.nr_keyids:
        return []  # record_keyid_partitioning() fails and tdx_init() returns quietly
    lines = [f"virt/tdx: BIOS enabled: private KeyID range [{bsp.keyid_start}, "
             f"{bsp.keyid_start + bsp.nr_keyids})"]
    if bsp.nr_keyids < 2:
        lines.append("virt/tdx: initialization failed: too few private KeyIDs available.")
    return lines


def detect(platform: Platform | str | Path | None = None, *,
           session: Session | None = None) -> DetectReport:
    """Run the detection on every present CPU of `platform` (or of `session`'s platform)."""
    if session is None:
        session = Session([stub(DETECT_STUB)], platform=as_platform(platform))
    p = session.platform
    lps = tuple(lp for lp in p.present_lps if lp < len(session.machine.lps))
    if not lps:
        raise DetectError(f"platform {p.name}: no logical CPU is present to run the detection")
    cpus = run_detect_asm(session, lps)
    lines, rng, keyids, notes = _kernel_2022(cpus, p.max_pa)
    bsp = cpus[0]
    enabled = rng is not None and keyids is not None
    start, nr = keyids if keyids else (0, 0)
    mktme = bsp.keyid_part & 0xFFFF_FFFF
    sysfs = {
        "bios_enabled": "1" if enabled else "0",
        "seamrr_base": hex64(rng[0] if rng else 0),
        "seamrr_size": hex64(rng[1] if rng else 0),
        "seamrr_consistent": "0" if any(c.has("SEAMRR_MISMATCH") for c in cpus) else "1",
        "keyid_start": str(start),
        "nr_keyids": str(nr),
        "mktme_keyids": str(mktme),
    }
    return DetectReport(
        platform=p.name, cpus=cpus, bios_enabled=enabled, seamrr=rng, keyid_start=start,
        nr_keyids=nr, mktme_keyids=mktme, module_usable_2022=enabled and nr >= 2,
        kernel_2022=tuple(lines), kernel_upstream=tuple(_kernel_upstream(bsp)),
        notes=tuple(notes), platform_says=detect_tdx(p, "first-stage"),
        sysfs={f"{SYSFS_DIR}/{k}": v for k, v in sysfs.items()})


_FLAG_WORDS = {"SEAMRR_SUPPORTED": "seamrr", "SEAMRR_CONFIGURED": "configured",
               "SEAMRR_ENABLED": "enabled", "KEYIDS": "keyids",
               "SEAMRR_MISMATCH": "SEAMRR-DIFFERS", "KEYID_MISMATCH": "KEYIDS-DIFFER"}


def format_detect(r: DetectReport) -> str:
    """The report as a person reads it: per-CPU MSRs, kernel logs, result, sysfs values."""
    out = [f"TDX detection on platform '{r.platform}': asm/{DETECT_STUB} {DETECT_ENTRY}() on "
           f"{len(r.cpus)} CPUs (CPU {r.cpus[0].lp} is the boot CPU)", ""]
    out.append(f"{'CPU':>4}  {'IA32_MTRRCAP':18}  {'SEAMRR_PHYS_BASE':18}  "
               f"{'SEAMRR_PHYS_MASK':18}  {'KEYID_PARTITIONING':18}  status")
    for c in r.cpus:
        words = [_FLAG_WORDS[f] for f in c.flags if f in _FLAG_WORDS]
        words += [f"#GP:{m}" for m in c.faulted]
        out.append(f"{c.lp:>4}  {hex64(c.mtrrcap)}  {hex64(c.seamrr_base)}  "
                   f"{hex64(c.seamrr_mask)}  {hex64(c.keyid_part)}  {','.join(words) or '-'}")
    out += ["", "kernel log, 2022 series (detect_seam, detect_tdx_keyids, __tdx_detect):"]
    out += [f"  {line}" for line in r.kernel_2022] or [
        "  (no message: SEAMRR and KeyIDs pass; __tdx_detect() goes on to SEAMLDR.INFO)"]
    out += ["kernel log, upstream (tdx_init):"]
    out += [f"  {line}" for line in r.kernel_upstream] or ["  (nothing: no TDX KeyIDs)"]
    out += ["", "result:", f"  TDX enabled by BIOS: {'yes' if r.bios_enabled else 'no'}"]
    if r.seamrr is not None:
        base, size = r.seamrr
        out.append(f"  SEAM range: {fmt_range(base, size)} ({fmt_size(size)}), the same on "
                   "every CPU")
    if r.nr_keyids:
        out.append(f"  TDX private KeyIDs: [{r.keyid_start}, {r.keyid_start + r.nr_keyids}) "
                   f"({r.nr_keyids} KeyIDs; the first = {r.mktme_keyids} MKTME KeyIDs + 1)")
    out += [f"  note: {n}" for n in r.notes]
    out += ["", "sysfs-style values (seamemu's own names, not a kernel ABI):"]
    out += [f"  {k}: {v}" for k, v in r.sysfs.items()]
    return "\n".join(out)


__all__ = [
    "DETECT_ENTRY",
    "DETECT_STUB",
    "DetectError",
    "DetectReport",
    "LpDetect",
    "STATUS_BITS",
    "SYSFS_DIR",
    "TDX_DETECT_SIZE",
    "detect",
    "format_detect",
    "run_detect_asm",
]
