# SPDX-License-Identifier: MIT
"""Image lookups: line_at and symbolize give what a linear scan gives, by bisection."""

from __future__ import annotations

import random

from seamemu.image import Image, Section, SourceLine


def _linear(lines, address):
    return next((ln for ln in lines if ln.address <= address < ln.address + max(ln.size, 1)), None)


def test_line_at_is_the_first_line_covering_the_address():
    rng = random.Random(7)
    lines = tuple(SourceLine(rng.randrange(0x400000, 0x400200), rng.choice((0, 1, 4, 15, 64)),
                             "a.S", i, "") for i in range(300))
    image = Image((Section(".text", 0x400000, bytes(0x300), "ax"),), {"f": 0x400000}, lines=lines)
    for address in range(0x3ffff0, 0x400260):
        assert image.line_at(address) is _linear(lines, address), hex(address)


def test_symbolize_prefers_a_global_before_the_address():
    image = Image((Section(".text", 0x400000, bytes(64), "ax"),),
                  {"f": 0x400000, ".Lx": 0x400008, "g": 0x400010})
    assert [image.symbolize(a) for a in (0x400000, 0x400009, 0x400010, 0x400013, 0x500000)] == \
        ["f", "f+0x9", "g", "g+0x3", "0x500000"]
