# SPDX-License-Identifier: MIT
"""The slow path: rerun a case with a trace, charge each violation to a code location, shrink.

One `Analyst` per worker keeps its own traced machine (and the reference's, in differential
mode), built once: the fast runner never carries trace hooks.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from seamemu.fuzz.case import Case, normal_cpu
from seamemu.fuzz.diff import compare
from seamemu.fuzz.executor import Observation, Runner
from seamemu.fuzz.invariants import Violation, check
from seamemu.fuzz.locate import locate
from seamemu.fuzz.promises import Spec
from seamemu.fuzz.shrink import shrink
from seamemu.image import Image


class Found(NamedTuple):
    """A violation charged to a code address: (rule, address) identifies a finding."""

    rule: str
    key: str
    address: int
    detail: str


class Analysis(NamedTuple):
    found: tuple[Found, ...]
    violations: tuple[Violation, ...]
    obs: Observation
    ref_obs: Observation | None


class Analyst:
    def __init__(self, image: Image, spec: Spec, entry: str, *, ref_image: Image | None = None,
                 ref_entry: str | None = None) -> None:
        self.spec = spec
        self.tracer = Runner(image, spec, entry, observe="trace")
        self.ref = Runner(ref_image, spec, ref_entry or entry) if ref_image is not None else None

    @property
    def image(self) -> Image:
        return self.tracer.image

    def analyse(self, case: Case) -> Analysis:
        obs = self.tracer.run(case)
        viols = check(self.spec, case, obs, self.tracer.in_code)
        ref_obs = None
        if self.ref is not None:
            ref_obs = self.ref.run(case)
            d = compare(self.spec, obs, ref_obs)
            if d is not None:
                viols.append(d)
        found = []
        for v in viols:
            address = locate(v, obs, self.tracer)
            if address is not None:
                found.append(Found(v.rule, v.key, address, v.detail))
        return Analysis(tuple(found), tuple(viols), obs, ref_obs)

    def reproduces(self, case: Case, rule: str, address: int) -> Found | None:
        for f in self.analyse(case).found:
            if f.rule == rule and f.address == address:
                return f
        return None

    def shrink(self, case: Case, rule: str, address: int,
               budget: int = 800) -> tuple[Case, Found] | None:
        """The simplest case showing (rule, address) and the finding as it shows there; None
        if the case does not show it again (a run that depends on more than its case)."""
        if self.reproduces(case, rule, address) is None:
            return None
        small = shrink(case, lambda c: self.reproduces(c, rule, address) is not None, budget,
                       normal_cpu(self.spec))
        found = self.reproduces(small, rule, address)
        if found is None:
            small, found = case, self.reproduces(case, rule, address)
        return None if found is None else (small, found)

    def location(self, address: int) -> tuple[str, str]:
        """("symbol+0xoff", "file:line: source text") for a code address."""
        image = self.image
        line = image.line_at(address)
        source = ""
        if line is not None:
            source = f"{os.path.basename(line.file)}:{line.line}: {' '.join(line.text.split())}"
        return image.symbolize(address), source


__all__ = ["Analysis", "Analyst", "Found"]
