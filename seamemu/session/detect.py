# SPDX-License-Identifier: MIT
"""`seamemu detect`: run asm/tdx_detect.S on every LP and say what the kernel would print.

The assembly reads the MSRs (through the machine's RDMSR trap, so each LP sees its own
platform values) and compares each AP with the boot CPU; the chosen kernel generation's
decision (seamemu.kernel.detection: v5-2022 looks at SEAMRR and the KeyIDs of the boot CPU,
6.8 and mainline at IA32_MKTME_KEYID_PARTITIONING only) is applied to the boot CPU's values.
What differs between the CPUs is seamemu's own observation: no generation compares them.

The sysfs-style values are seamemu's own names (nothing in Linux exports these files); they
are what a userspace cloud agent would want to read, laid out like sysfs attributes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from seamemu.arch.msrs import seamrr_range
from seamemu.errors import SeamemuError
from seamemu.jsonout import JsonRecord, hex64, hex_short, hex_span, json_as
from seamemu.kernel import Generation, generation
from seamemu.kernel.detection import BootCpu, Detection, platform_detection
from seamemu.kernel.detection import detect as kernel_detect
from seamemu.platform import as_platform
from seamemu.platform.facts import Platform
from seamemu.platform.units import fmt_range, fmt_size
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
class LpDetect(JsonRecord):
    """What tdx_detect_lp stored for one logical CPU."""

    JSON_KEYS = ("lp", "mtrrcap", "seamrr_base", "seamrr_mask", "keyid_part", "status", "flags",
                 "faulted", "keyid_start", "nr_keyids")

    lp: int = field(metadata=json_as(name="cpu"))
    mtrrcap: int = field(metadata=json_as(hex64))
    seamrr_base: int = field(metadata=json_as(hex64, name="seamrr_phys_base"))
    seamrr_mask: int = field(metadata=json_as(hex64, name="seamrr_phys_mask"))
    keyid_part: int = field(metadata=json_as(hex64, name="keyid_partitioning"))
    status: int = field(metadata=json_as(hex_short))
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


def _verdict_json(says: Detection) -> dict:
    return {"bios_enabled": says.enabled, "kernel_log": list(says.lines)}


@dataclass(frozen=True)
class DetectReport(JsonRecord):
    """The per-CPU results, what the kernel generation concluded and printed, sysfs values."""

    JSON_KEYS = ("platform", "kernel", "bios_enabled", "seamrr", "keyid_start", "nr_keyids",
                 "mktme_keyids", "kernel_log", "notes", "platform_says",
                 "sysfs", "cpus")

    platform: str
    kernel: str
    cpus: tuple[LpDetect, ...]
    bios_enabled: bool                 # the generation sees TDX as enabled by BIOS
    seamrr: tuple[int, int] | None = field(metadata=json_as(hex_span))  # the boot CPU's SEAMRR, if enabled
    keyid_start: int                   # 0 when the generation recorded no TDX KeyIDs
    nr_keyids: int
    mktme_keyids: int
    kernel_log: tuple[str, ...]        # what the generation prints at boot
    notes: tuple[str, ...] = ()        # seamemu's own remarks (silent outcomes, CPUs differ)
    platform_says: Detection | None = field(  # the generation's verdict on the description
        default=None, metadata=json_as(_verdict_json, name="platform_description"))
    sysfs: dict[str, str] = field(default_factory=dict)


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


def _boot_cpu(c: LpDetect) -> BootCpu:
    """The boot CPU's MSRs as the kernel reads them (None: that RDMSR faulted)."""
    return BootCpu(None if c.has("FAULT_MTRRCAP") else c.mtrrcap,
                   None if c.has("FAULT_SEAMRR_MASK") else c.seamrr_mask,
                   None if c.has("FAULT_KEYID") else c.keyid_part)


def _observations(cpus: tuple[LpDetect, ...]) -> list[str]:
    """What differs between the CPUs and what faulted: seamemu's notes (no kernel checks it)."""
    bsp, aps = cpus[0], cpus[1:]
    notes = []
    for flag, what in (("SEAMRR_MISMATCH", "SEAMRR"),
                       ("KEYID_MISMATCH", "IA32_MKTME_KEYID_PARTITIONING")):
        differ = [c.lp for c in aps if c.has(flag)]
        if differ:
            notes.append(f"{what} on CPU {', '.join(map(str, differ))} differs from the boot "
                         f"CPU {bsp.lp}'s (only the boot CPU's is read)")
    for c in cpus:
        if c.faulted:
            notes.append(f"CPU {c.lp}: RDMSR of {', '.join(c.faulted)} raised #GP(0); the "
                         "exception table of tdx_detect.S fixed it up")
    return notes


def detect(platform: Platform | str | Path | None = None, *, session: Session | None = None,
           kernel: Generation | str | None = None) -> DetectReport:
    """Run the detection on every present CPU of `platform` (or of `session`'s platform) and
    apply generation `kernel`'s decision to the boot CPU's values."""
    gen = generation(kernel)
    if session is None:
        session = Session([stub(DETECT_STUB)], platform=as_platform(platform))
    p = session.platform
    lps = tuple(lp for lp in p.present_lps if lp < len(session.machine.lps))
    if not lps:
        raise DetectError(f"platform {p.name}: no logical CPU is present to run the detection")
    cpus = run_detect_asm(session, lps)
    bsp = cpus[0]
    found = kernel_detect(gen, _boot_cpu(bsp))
    enabled = found.enabled
    # The SEAM range is a hardware fact for the agent, whichever kernel looked (mainline
    # never reads the SEAMRR MSRs).
    rng = seamrr_range(bsp.seamrr_base, bsp.seamrr_mask, p.max_pa) \
        if bsp.has("SEAMRR_ENABLED") else None
    start, nr = found.keyids if found.keyids else (0, 0)
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
        platform=p.name, kernel=gen.name, cpus=cpus, bios_enabled=enabled, seamrr=rng,
        keyid_start=start, nr_keyids=nr, mktme_keyids=mktme, kernel_log=found.lines,
        notes=found.notes + tuple(_observations(cpus)),
        platform_says=platform_detection(p, gen),
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
    gen = generation(r.kernel)
    where = "tdx_early_detect()" if gen.detection == "seamrr" else "tdx_init()"
    out += ["", f"kernel log, {gen.name} ({where}):"]
    out += [f"  {line}" for line in r.kernel_log] or ["  (the kernel prints nothing)"]
    out += ["", "result:", f"  TDX enabled by BIOS: {'yes' if r.bios_enabled else 'no'}"]
    if r.seamrr is not None:
        base, size = r.seamrr
        out.append(f"  SEAM range: {fmt_range(base, size)} ({fmt_size(size)}), the boot CPU's")
    if r.nr_keyids:
        out.append(f"  TDX private KeyIDs: [{r.keyid_start}, {r.keyid_start + r.nr_keyids}) "
                   f"({r.nr_keyids} KeyIDs; the first = {r.mktme_keyids} MKTME KeyIDs + 1)")
    out += [f"  seamemu: {n}" for n in r.notes]
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
