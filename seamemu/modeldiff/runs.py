# SPDX-License-Identifier: MIT
"""`seamemu model-diff`: the model and Intel's module on the same sequences, and reproducers.

Every run is the catalog (seamemu.modeldiff.compare.CATALOG) followed by random sequences
(seamemu.modeldiff.sequences) up to `runs` in all, each on a fresh module in both sessions.  A sequence
whose answers differ is reported once, at its first unexplained step, with both answers and
the steps that led there; `reproducer()` writes them as JSON that `replay()` runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from seamemu.errors import InputError, ReplayError
from seamemu.files import output_dir, read_text, write_text
from seamemu.modeldiff.compare import CATALOG, Buf, DiffReport, Disagreement, Step, compare_all
from seamemu.modeldiff.sequences import random_sequence
from seamemu.session import Session

REPRODUCER_SCHEMA = 1


def run_model_diff(model: Session, real: Session, *, runs: int, seed: int,
                   progress: Callable[[int, int], None] | None = None) -> DiffReport:
    if runs < 1:
        raise InputError(f"--runs {runs}: must be at least 1")
    found: list[Disagreement] = []
    explained = []
    names = list(CATALOG)
    for i in range(runs):
        if i < len(names):
            name, steps = f"catalog: {names[i]}", CATALOG[names[i]]
        else:
            name, steps = random_sequence(seed, i, model.platform)
        d, seen = compare_all(model, real, name, steps)
        explained += seen
        if d is not None:
            found.append(d)
        if progress is not None:
            progress(i + 1, len(found))
    return DiffReport(runs, seed, tuple(found), tuple(explained))


def format_report(report: DiffReport, model: Session, real: Session) -> str:
    lines = [f"seamemu model-diff: {report.runs} sequences (seed {report.seed}) on platform "
             f"'{model.platform.name}': {model.module_label} against {real.module_label}",
             f"{len(report.disagreements)} disagreement(s); {len(report.explained)} explained "
             "difference(s) (docs/real-module.md)"]
    for d in report.disagreements:
        step = d.steps[d.index]
        lines += ["", f"{d.sequence}", f"  step {d.index}: {step.leaf} on LP {step.lp} "
                  f"{_regs(step)}", f"    model:          {d.model.describe()}",
                  f"    Intel's module: {d.real.describe()}"]
    reasons = sorted({why for _d, why in report.explained})
    if reasons:
        lines += ["", "explained:"] + [f"  {why}" for why in reasons]
    return "\n".join(lines)


def _regs(step: Step) -> str:
    return " ".join(f"{k}={'<buffer>' if isinstance(v, Buf) else f'0x{v:x}'}"
                    for k, v in step.regs.items())


def reproducer(d: Disagreement, platform: str, out: Path) -> Path:
    """Write `d` as a reproducer file in `out`; its path."""
    out = output_dir(out, "--out")
    doc = {"schema": REPRODUCER_SCHEMA, "platform": platform} | d.to_json()
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]
    return write_text(out / f"model-diff-{digest}.json", json.dumps(doc, indent=2) + "\n", "--out")


def load_reproducer(path: str | Path) -> tuple[str, str, list[Step]]:
    """(platform, sequence name, steps) of a reproducer file; ReplayError if it is not one."""
    try:
        doc = json.loads(read_text(path, "", "reproducer"))
        if doc.get("schema") != REPRODUCER_SCHEMA:
            raise ReplayError(f"{path}: not a model-diff reproducer (schema "
                              f"{doc.get('schema')!r})")
        steps = [_step(s) for s in doc["reproducer"]]
        return doc["platform"], doc["sequence"], steps
    except InputError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise ReplayError(f"{path}: cannot read the reproducer: {reason}") from None
    except RecursionError:
        raise ReplayError(f"{path}: JSON nested too deeply to be a reproducer") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReplayError(f"{path}: not a model-diff reproducer ({type(exc).__name__}: "
                          f"{str(exc)[:80]})") from None


def _step(doc: dict) -> Step:
    regs: dict[str, int | Buf] = {}
    for name, value in doc["regs"].items():
        if isinstance(value, str):
            regs[name] = int(value, 16)
        else:
            regs[name] = Buf(value["buffer"], value["align"], bytes.fromhex(value["data"]),
                             value["offset"], tuple(bytes.fromhex(e) for e in value["entries"]))
    return Step(int(doc["lp"]), doc["leaf"], regs)


__all__ = ["format_report", "load_reproducer", "reproducer", "run_model_diff"]
