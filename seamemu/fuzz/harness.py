# SPDX-License-Identifier: MIT
"""A stub under test, for properties users write: check a case, or explain it with locations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from seamemu.frontend import assemble
from seamemu.fuzz.analyse import Analysis, Analyst
from seamemu.fuzz.case import Case
from seamemu.fuzz.executor import Observation, Runner
from seamemu.fuzz.invariants import Violation, check
from seamemu.fuzz.promises import Spec, make_spec


class Harness:
    """One machine for `entry` of `asm` under a convention; reused by every `check`."""

    def __init__(self, asm: Sequence[str | Path], entry: str, convention: str = "args",
                 variant: str | None = None, *, include_dirs: Sequence[str | Path] = (),
                 defines: Mapping[str, str] | None = None, assembler: str = "keystone",
                 stubs: Sequence[str] = (), kernel: str | None = None) -> None:
        self.spec: Spec = make_spec(convention, variant, entry, kernel)
        self.image = assemble(list(asm), include_dirs=list(include_dirs), defines=dict(defines or {}),
                              backend=assembler, stubs=stubs)
        self.entry = entry
        self.runner = Runner(self.image, self.spec, entry)
        self._analyst: Analyst | None = None

    def run(self, case: Case) -> Observation:
        return self.runner.run(case)

    def check(self, case: Case) -> list[Violation]:
        """The rules this case breaks (empty when the stub keeps them all)."""
        return check(self.spec, case, self.runner.run(case), self.runner.in_code)

    def explain(self, case: Case) -> Analysis:
        """Rerun with a trace: each violation charged to a code address."""
        if self._analyst is None:
            self._analyst = Analyst(self.image, self.spec, self.entry)
        return self._analyst.analyse(case)


__all__ = ["Harness"]
