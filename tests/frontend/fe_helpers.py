# SPDX-License-Identifier: MIT
"""Helpers shared by the front-end tests (imported by name: tests/frontend is on sys.path)."""

from __future__ import annotations

from seamemu.frontend import assemble_text


def code(src: str, **kw) -> bytes:
    """Bytes of the first executable section of `src` assembled with keystone."""
    image = assemble_text(src, **kw)
    text = [s for s in image.sections if s.executable]
    return text[0].data if text else b""


def section(image, name: str):
    matches = [s for s in image.sections if s.name == name]
    assert matches, f"no section {name} in {[s.name for s in image.sections]}"
    return matches[0]

