# SPDX-License-Identifier: MIT
"""Shared helpers for the fuzzer's tests: planted-bug stubs and short campaigns."""

from __future__ import annotations

from pathlib import Path

from seamemu.fuzz import FuzzConfig, Target, run_fuzz
from seamemu.stubs import stub

PLANTED = Path(__file__).resolve().parent / "planted"
ARGS = str(stub("seamcall.S"))
LEGACY = str(stub("seamcall_legacy.S"))


def planted(name: str) -> str:
    """The planted-bug copy `name` (its seamcall.S, or seamcall_legacy.S for legacy ones)."""
    d = PLANTED / name
    for f in ("seamcall.S", "seamcall_legacy.S"):
        if (d / f).is_file():
            return str(d / f)
    raise FileNotFoundError(d)


def campaign(out: Path, asm: str, entry: str, convention: str = "args", *, runs: int = 3000,
             seed: int = 1, mode: str = "random", reference: str | None = None, jobs: int = 1,
             worker_id: str = "w", variant: str | None = None) -> dict:
    """Run a bounded campaign and return its JSON summary."""
    ref = Target.of([reference], entry) if reference else None
    cfg = FuzzConfig(Target.of([asm], entry), convention, variant, mode=mode, runs=runs,
                     seed=seed, out=str(out), jobs=jobs, reference=ref, worker_id=worker_id)
    return run_fuzz(cfg)
