# SPDX-License-Identifier: MIT
"""Random SEAMCALL sequences for `seamemu model-diff`: a lifecycle prefix, then a few calls.

A sequence starts from one of the lifecycle points of the bring-up (nothing, SYS.INIT, some or
all LPs initialized, CONFIG done, some or all packages' KEY.CONFIG done, so SYS_READY) and adds
one to four calls drawn from: every init leaf with its operands right or broken one way
(alignment, size, range, SEAMRR, a private KeyID), TDH.SYS.RD/RDALL of any global field ID or
a wrong one, TDH.SYS.CONFIG with a TDMR that breaks one rule of tdh_sys_config.c, KEY.CONFIG
and LP.INIT on any LP, TDMR.INIT at good and bad addresses, TDH.SYS.SHUTDOWN, and RAX values
the dispatcher must refuse (reserved bits, a version, unknown and TD leaves).  Sized for the
platform's LPs and packages; the TDMRs are those of seamemu.modeldiff.compare (the small preset).
"""

from __future__ import annotations

import random

from seamemu.arch.metadata import GLOBAL_FIELDS, set_bits
from seamemu.modeldiff.compare import Buf, GiB, MiB, Step, config, tdmr
from seamemu.platform.facts import Platform

# FIELD_CODE bits of a field ID (arch.metadata): element i of an array field is code + i.
_FIELD_CODE = (23, 0)
_FIELD_IDS = tuple(set_bits(f.field_id, _FIELD_CODE, f.field_code + i)
                   for f in GLOBAL_FIELDS for i in range(min(f.num_fields * f.num_elements, 3)))
_TDMRS = (
    ("good", tdmr()),
    ("base not 1 GiB aligned", tdmr(base=0x1000)),
    ("size 0", tdmr(size=0, reserved=())),
    ("beyond the CMRs", tdmr(size=2 * GiB, reserved=[(0x3FBFD000, 0x403000)])),
    ("PAMT_4K too small", tdmr(pamt_4k=(0x3FBFD000, 0x1000))),
    ("PAMT_2M too small", tdmr(pamt_2m=(0x3FFFD000, 0x1000))),
    ("PAMT outside the reserved areas", tdmr(reserved=[(0, MiB)])),
    ("reserved areas out of order", tdmr(reserved=[(0x3FBFD000, 0x403000), (0, MiB)])),
    ("reserved area misaligned", tdmr(reserved=[(0x800, MiB), (0x3FBFD000, 0x403000)])),
    ("reserved area of size 0", tdmr(reserved=[(0, 0), (0x3FBFD000, 0x403000)])),
    ("PAMTs overlapping", tdmr(pamt_4k=(0x3FBFD000, 4 * MiB + 0x1000))),
    ("PAMT misaligned", tdmr(pamt_1g=(0x3FFFF800, 0x1000))),
    ("PAMT in SEAMRR", tdmr(pamt_1g=(0x44000000, 0x1000))),
)


def _u64(rng: random.Random) -> int:
    return rng.choice((0, 1, 1 << 63, rng.getrandbits(64), rng.getrandbits(12) << 12,
                       (rng.getrandbits(6) << 46) | 0x100000))


def _prefix(rng: random.Random, lps: int, packages: int) -> tuple[str, list[Step]]:
    per_pkg = lps // packages
    lp_init = [Step(lp, "TDH.SYS.LP.INIT") for lp in range(lps)]
    keys = [Step(p * per_pkg, "TDH.SYS.KEY.CONFIG") for p in range(packages)]
    some = sorted(rng.sample(range(lps), rng.randrange(1, lps))) if lps > 1 else [0]
    configured = [Step(0, "TDH.SYS.INIT"), *lp_init, config(tdmr())]
    choices: tuple[tuple[str, list[Step]], ...] = (
        ("fresh", []),
        ("after SYS.INIT", [Step(0, "TDH.SYS.INIT")]),
        (f"LP.INIT on LPs {some}", [Step(0, "TDH.SYS.INIT")] + [Step(lp, "TDH.SYS.LP.INIT")
                                                                  for lp in some]),
        ("every LP initialized", [Step(0, "TDH.SYS.INIT"), *lp_init]),
        ("configured", configured),
        ("keys on package 0", configured + keys[:1]),
        ("ready", configured + keys),
    )
    return choices[rng.randrange(len(choices))]


def _step(rng: random.Random, lps: int) -> tuple[str, Step]:
    lp = rng.randrange(lps)
    kind = rng.randrange(13)
    if kind == 0:
        rcx = rng.choice((0, 0, 1, 1 << 63, rng.getrandbits(64)))
        return f"SYS.INIT rcx=0x{rcx:x}", Step(lp, "TDH.SYS.INIT", {"rcx": rcx})
    if kind == 1:
        return f"LP.INIT on LP {lp}", Step(lp, "TDH.SYS.LP.INIT")
    if kind == 2:
        how = rng.choice(("ok", "misaligned rcx", "small rdx", "misaligned r8", "small r9",
                          "rcx in SEAMRR", "rcx with a private KeyID"))
        info: int | Buf = Buf(2048, 2048, offset=512 if how == "misaligned rcx" else 0)
        if how == "rcx in SEAMRR":
            info = 0x44000000
        elif how == "rcx with a private KeyID":
            info = Buf(2048, 2048, offset=33 << 46)
        regs: dict[str, int | Buf] = {"rcx": info, "rdx": 512 if how == "small rdx" else 1024,
                "r8": Buf(1024, 1024, offset=256 if how == "misaligned r8" else 0),
                "r9": 31 if how == "small r9" else 32}
        return f"SYS.INFO {how} on LP {lp}", Step(lp, "TDH.SYS.INFO", regs)
    if kind in (3, 4):
        fid = rng.choice(_FIELD_IDS) if rng.random() < 0.8 else _u64(rng)
        if rng.random() < 0.1:
            fid |= 1 << 63
        return f"SYS.RD 0x{fid:x} on LP {lp}", Step(lp, "TDH.SYS.RD", {"rdx": fid})
    if kind == 5:
        fid = rng.choice((0, *_FIELD_IDS[:8], _u64(rng)))
        lst = Buf(4096, 4096, offset=rng.choice((0, 0, 0x800)))
        return f"SYS.RDALL from 0x{fid:x}", Step(lp, "TDH.SYS.RDALL", {"rdx": lst, "r8": fid})
    if kind in (6, 7):
        name, entry = _TDMRS[rng.randrange(len(_TDMRS))]
        count = rng.choice((None, None, None, 0, 2, 65))
        keyid = rng.choice((32, 32, 32, 31, 33, 63, 64, 0))
        return (f"CONFIG {name}, count {count}, KeyID {keyid}",
                config(entry, count=count, keyid=keyid, lp=lp))
    if kind == 8:
        return f"KEY.CONFIG on LP {lp}", Step(lp, "TDH.SYS.KEY.CONFIG")
    if kind == 9:
        rcx = rng.choice((0, 0, GiB, 0x1000, 2 * GiB, 1 << 52, _u64(rng)))
        return f"TDMR.INIT 0x{rcx:x}", Step(lp, "TDH.SYS.TDMR.INIT", {"rcx": rcx})
    if kind == 10:
        return "SYS.SHUTDOWN", Step(lp, "TDH.SYS.SHUTDOWN", {"rcx": rng.choice((0, 1, 2))})
    leaf = rng.choice((33 | 1 << 16, 34 | 1 << 24, 33 | 1 << 40, rng.randrange(0x80),
                       rng.randrange(0x80), rng.getrandbits(16)))
    return f"RAX 0x{leaf:x}", Step(lp, leaf, {"rcx": _u64(rng), "rdx": _u64(rng)})


def random_sequence(seed: int, index: int, platform: Platform) -> tuple[str, list[Step]]:
    """Sequence `index` of the run seeded `seed` (each one reproducible on its own)."""
    rng = random.Random(seed * 1_000_003 + index)
    lps, packages = platform.num_lps, platform.packages
    name, steps = _prefix(rng, lps, packages)
    parts = [name]
    for _ in range(rng.randint(1, 4)):
        what, step = _step(rng, lps)
        parts.append(what)
        steps = [*steps, step]
    return " / ".join(parts), steps


__all__ = ["random_sequence"]
