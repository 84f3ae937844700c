# SPDX-License-Identifier: MIT
"""A tiny SVG writer for the figures: boxes, text, arrows; no dependency beyond the stdlib.

Colours of outcomes are shared by every figure and the report: green returned (or the call
reached the module), amber VMfailInvalid, red #GP, purple #UD, blue a VM exit.
"""

from __future__ import annotations

import textwrap
from xml.sax.saxutils import escape

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
INK, MUTED, LINE = "#1f2328", "#59636e", "#57606a"

# kind -> (stroke/text colour, fill)
OUTCOME_COLOURS: dict[str, tuple[str, str]] = {
    "returned": ("#1b5e20", "#c8e6c9"),
    "module": ("#1b5e20", "#c8e6c9"),
    "pseamldr": ("#00695c", "#b2dfdb"),
    "VMfailInvalid": ("#8a5300", "#ffe0a3"),
    "#GP": ("#b71c1c", "#ffcdd2"),
    "#UD": ("#6a1b9a", "#e1bee7"),
    "vmexit": ("#0d47a1", "#bbdefb"),
}
NEUTRAL = ("#424a53", "#f6f8fa")


def colours(kind: str) -> tuple[str, str]:
    return OUTCOME_COLOURS.get(kind, NEUTRAL)


def wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]


class Svg:
    """Elements appended in drawing order; the canvas grows to what was drawn."""

    def __init__(self, title: str, uid: str, width: int | None = None) -> None:
        self.title = title
        self.uid = uid                  # prefix of ids, unique per figure on one HTML page
        self.width = width
        self.parts: list[str] = []
        self.max_x = 0.0
        self.max_y = 0.0

    def _grow(self, x: float, y: float) -> None:
        self.max_x, self.max_y = max(self.max_x, x), max(self.max_y, y)

    def rect(self, x, y, w, h, *, fill="#ffffff", stroke=LINE, rx=6, dash=False, width=1.5,
             cls: str = "") -> None:
        extra = ' stroke-dasharray="6 4"' if dash else ""
        c = f' class="{cls}"' if cls else ""
        self.parts.append(f'<rect{c} x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                          f'rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{extra}/>')
        self._grow(x + w, y + h)

    def text(self, x, y, s: str, *, size=13, anchor="start", weight="normal", fill=INK,
             mono=False, italic=False) -> None:
        style = ' font-style="italic"' if italic else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-family="{MONO if mono else FONT}" '
            f'font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}"{style}>{escape(s)}</text>')
        est = len(s) * size * (0.62 if mono else 0.62 if weight == "bold" else 0.56)
        left = x - (est if anchor == "end" else est / 2 if anchor == "middle" else 0)
        self._grow(left + est, y + size * 0.3)

    def line(self, x1, y1, x2, y2, *, stroke=LINE, width=1.5, arrow=True, dash=False) -> None:
        extra = (f' marker-end="url(#{self.uid}-arrow)"' if arrow else "") + \
                (' stroke-dasharray="5 4"' if dash else "")
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                          f'stroke="{stroke}" stroke-width="{width}"{extra}/>')
        self._grow(max(x1, x2), max(y1, y2))

    def path(self, d: str, *, stroke=LINE, width=1.5, arrow=True, bounds=(0, 0)) -> None:
        extra = f' marker-end="url(#{self.uid}-arrow)"' if arrow else ""
        self.parts.append(f'<path d="{d}" fill="none" stroke="{stroke}" '
                          f'stroke-width="{width}"{extra}/>')
        self._grow(*bounds)

    def render(self, margin: int = 20) -> str:
        w = int(max(self.width or 0, self.max_x + margin))
        h = int(self.max_y + margin)
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
                f'viewBox="0 0 {w} {h}" role="img" id="{self.uid}" '
                f'aria-label="{escape(self.title)}">')
        defs = (f'<defs><marker id="{self.uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
                'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{LINE}"/></marker></defs>')
        bg = f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>'
        return "\n".join([head, f"<title>{escape(self.title)}</title>", defs, bg,
                          *self.parts, "</svg>"]) + "\n"


__all__ = ["FONT", "MONO", "OUTCOME_COLOURS", "Svg", "colours", "wrap"]
