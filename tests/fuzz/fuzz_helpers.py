# SPDX-License-Identifier: MIT
"""Shared helpers for the fuzzer's tests: planted-bug stubs and short campaigns.

A planted bug is a small patch to the shipped stubs (tests/fuzz/planted/NAME.patch, a unified
diff against asm/), applied at test time to a copy, so each one always tests today's stubs.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path

from seamemu.fuzz import FuzzConfig, Target, run_fuzz
from seamemu.stubs import stub

PLANTED = Path(__file__).resolve().parent / "planted"
ARGS = str(stub("seamcall.S"))
LEGACY = str(stub("seamcall_legacy.S"))
GUEST = "tdcall.S"                     # the TD guest's stub (TDX_MODULE_CALL host=0)
TDCALL = str(stub(GUEST))
PLANT_NAMES = tuple(sorted(p.stem for p in PLANTED.glob("*.patch")))
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_materialized: dict[str, str] = {}


class PatchError(Exception):
    """A planted-bug patch that no longer applies to asm/ (the stub changed under it)."""


def apply_patch(patch: str, directory: Path) -> list[str]:
    """Apply a unified diff to the files it names in `directory`, every context line checked
    (no fuzz, no offsets); the names of the files it changed."""
    changed: list[str] = []
    lines = patch.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("--- "):
            i += 1
            continue
        name = lines[i + 1].removeprefix("+++ ").split("/", 1)[-1].split("\t")[0]
        path = directory / name
        text = path.read_text().splitlines()
        out: list[str] = []
        pos = 0
        i += 2
        while i < len(lines) and lines[i].startswith("@@"):
            m = _HUNK.match(lines[i])
            if m is None:
                raise PatchError(f"{name}: bad hunk header {lines[i]!r}")
            start = int(m.group(1)) - 1 if m.group(2) != "0" else int(m.group(1))
            out += text[pos:start]
            pos = start
            i += 1
            while i < len(lines) and lines[i][:1] in (" ", "-", "+", ""):
                tag, body = lines[i][:1], lines[i][1:]
                if tag in (" ", "-", ""):
                    if pos >= len(text) or text[pos] != body:
                        raise PatchError(f"{name}:{pos + 1}: expected {body!r}, found "
                                         f"{text[pos] if pos < len(text) else 'end of file'!r}")
                    pos += 1
                    if tag != "-":
                        out.append(body)
                else:
                    out.append(body)
                i += 1
        out += text[pos:]
        path.write_text("\n".join(out) + "\n")
        changed.append(name)
    if not changed:
        raise PatchError("the patch names no file")
    return changed


def materialize(name: str, directory: Path, stub_name: str | None = None) -> Path:
    """asm/'s stubs copied into `directory` with the planted bug `name` applied; the file to
    assemble: `stub_name` when given (tdcall.S for a guest-side bug in the shared tdxcall.S),
    else the one the patch changed among seamcall_legacy.S and tdcall.S, else seamcall.S."""
    directory.mkdir(parents=True, exist_ok=True)
    for src in Path(ARGS).parent.glob("*.S"):
        shutil.copyfile(src, directory / src.name)
    changed = apply_patch((PLANTED / f"{name}.patch").read_text(), directory)
    if stub_name is None:
        stub_name = next((s for s in ("seamcall_legacy.S", GUEST) if s in changed), "seamcall.S")
    return directory / stub_name


def planted(name: str, stub_name: str | None = None) -> str:
    """The stub with planted bug `name`, materialized once per test process."""
    key = f"{name}:{stub_name}"
    if key not in _materialized:
        work = Path(tempfile.mkdtemp(prefix=f"seamemu-planted-{name}-"))
        atexit.register(shutil.rmtree, work, True)
        _materialized[key] = str(materialize(name, work, stub_name))
    return _materialized[key]


def campaign(out: Path, asm: str, entry: str, convention: str = "args", *, runs: int = 3000,
             seed: int = 1, mode: str = "random", reference: str | None = None, jobs: int = 1,
             worker_id: str = "w", variant: str | None = None,
             kernel: str | None = None) -> dict:
    """Run a bounded campaign and return its JSON summary (rules: `kernel`'s, else those of the
    generation that calls with `convention`)."""
    ref = Target.of([reference], entry) if reference else None
    cfg = FuzzConfig(Target.of([asm], entry), convention, variant, kernel=kernel, mode=mode,
                     runs=runs, seed=seed, out=str(out), jobs=jobs, reference=ref,
                     worker_id=worker_id)
    return run_fuzz(cfg)
