# SPDX-License-Identifier: MIT
"""The figures, drawn from the very tables the code runs on.

- `decision_tree_svg`: the SEAMCALL rule table (seamemu.traps.seamcall.SEAMCALL_CHECKS), row by
  row in order, each with its outcome; inactive rows dashed.
- `lifecycle_svg`: the module's states (SysState) with the leaves on their edges, as probed from
  the model (seamemu.learn.lifecycle), and the dispatcher's admission table.
- `matrix_svg`: the outcome matrix (seamemu.session.matrix.outcome_matrix) as a coloured table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seamemu.files import output_dir, write_text
from seamemu.jsonout import hex64
from seamemu.learn.lifecycle import Lifecycle, probe_lifecycle
from seamemu.learn.svg import INK, MUTED, OUTCOME_COLOURS, Svg, colours, wrap
from seamemu.platform import load_platform
from seamemu.platform.facts import Platform
from seamemu.session.matrix import MatrixRow, outcome_matrix
from seamemu.traps import seamcall as seamcall_table
from seamemu.traps.rule_table import Check

FIGURES = ("seamcall-decision.svg", "module-lifecycle.svg", "outcome-matrix.svg")


def outcome_label(row: Check) -> str:
    return {
        "#GP": "#GP(0)",
        "#UD": "#UD",
        "VMfailInvalid": "VMfailInvalid (CF=1)",
        "module": "enter the TDX module",
        "pseamldr": "enter the P-SEAMLDR",
        "vmexit": f"VM exit (reason {row.exit_reason})",
    }.get(row.kind, row.kind)


def _legend(svg: Svg, x: float, y: float, kinds: Sequence[str]) -> None:
    names = {"returned": "returned / module call", "module": "module call",
             "pseamldr": "P-SEAMLDR call", "VMfailInvalid": "VMfailInvalid", "#GP": "#GP(0)",
             "#UD": "#UD", "vmexit": "VM exit"}
    for kind in kinds:
        stroke, fill = colours(kind)
        svg.rect(x, y - 12, 16, 16, fill=fill, stroke=stroke, rx=3)
        svg.text(x + 22, y + 1, names.get(kind, kind), size=12)
        x += 22 + _text_width(names.get(kind, kind), 12) + 20


def _text_width(text: str, size: float) -> float:
    """About how wide `text` renders in DejaVu Sans (advance widths in em, rounded), so that
    legend entries are evenly spaced whatever their letters."""
    def em(c: str) -> float:
        if c == " ":
            return 0.32
        if c in "()/[]ilt.,:;|'":
            return 0.36
        if c.isupper() or c in "#%@mw":
            return 0.8
        return 0.62
    return size * sum(em(c) for c in text)


def decision_tree_svg(checks: tuple[Check, ...] | None = None) -> str:
    """Every row of the SEAMCALL table, top to bottom: "yes" ends in the row's outcome."""
    checks = seamcall_table.SEAMCALL_CHECKS if checks is None else checks
    svg = Svg("SEAMCALL decision: the checks in order", "fig-decision")
    svg.text(20, 32, "SEAMCALL: the checks in order; the first that holds decides", size=18,
             weight="bold")
    svg.text(20, 54, "drawn from seamemu.traps.seamcall.SEAMCALL_CHECKS", size=12, fill=MUTED,
             italic=True)
    bx, bw, ox, ow = 20, 560, 660, 260
    y = 76
    svg.rect(bx + bw / 2 - 90, y, 180, 30, fill="#eaeef2", rx=15)
    svg.text(bx + bw / 2, y + 20, "SEAMCALL executed", anchor="middle", weight="bold")
    y += 30
    for n, row in enumerate(checks, 1):
        lines = wrap(row.sentence, 78)
        h = 28 + 17 * len(lines)
        svg.line(bx + bw / 2, y, bx + bw / 2, y + 30)
        if n > 1:
            svg.text(bx + bw / 2 + 8, y + 19, "no", size=12, fill=MUTED)
        y += 30
        stroke, fill = colours(row.kind)
        svg.rect(bx, y, bw, h, fill="#f6f8fa" if row.active else "#ffffff",
                 stroke="#57606a" if row.active else "#8c959f", dash=not row.active)
        svg.text(bx + 12, y + 20, f"{n}. {row.id}", size=13, weight="bold", mono=True)
        if not row.active:
            svg.text(bx + bw - 12, y + 20, "inactive: documented, not applied", size=12,
                     anchor="end", fill=MUTED, italic=True)
        for k, ln in enumerate(lines):
            svg.text(bx + 12, y + 40 + 17 * k, ln, size=13)
        oy = y + h / 2 - 20
        svg.line(bx + bw, y + h / 2, ox, y + h / 2, dash=not row.active)
        svg.text(bx + bw + 14, y + h / 2 - 6, "yes", size=12, fill=MUTED)
        svg.rect(ox, oy, ow, 40, fill=fill, stroke=stroke, dash=not row.active)
        svg.text(ox + ow / 2, oy + 25, outcome_label(row), size=14, anchor="middle",
                 weight="bold", fill=stroke)
        y += h
    _legend(svg, 20, y + 40, [k for k in OUTCOME_COLOURS if k != "returned"])
    return svg.render()


# -- lifecycle ---------------------------------------------------------------------------------
def lifecycle_svg(life: Lifecycle | None = None, abi: str = "1.5") -> str:
    """States top to bottom; forward edges between them, self-loops on the right, other edges
    (jumps, e.g. 1.0's TDH.SYS.LP.SHUTDOWN from any state) as curves on the left."""
    life = probe_lifecycle(abi) if life is None else life
    svg = Svg(f"TDX module lifecycle (ABI {life.abi})", "fig-lifecycle")
    svg.text(20, 32, f"TDX module lifecycle, ABI {life.abi}: states and the leaves that succeed "
                     "on each edge", size=18, weight="bold")
    svg.text(20, 54, "probed from the model (seamemu.learn.lifecycle): SysState, the leaf "
                     "handlers and the dispatcher's admission table", size=12, fill=MUTED,
             italic=True)
    index = {s: i for i, s in enumerate(life.states)}
    far = [e for e in life.edges if index[e.target] not in (index[e.source], index[e.source] + 1)]
    sx, sw, sh, gap, top = (330 if far else 60), 230, 48, 150, 90
    ys = {s: top + i * gap for i, s in enumerate(life.states)}
    for s in life.states:
        svg.rect(sx, ys[s], sw, sh, fill="#eaeef2", stroke="#424a53", rx=10, width=2)
        svg.text(sx + sw / 2, ys[s] + 30, s, size=15, anchor="middle", weight="bold", mono=True)
    jumps = 0
    for e in life.edges:
        a, b = index[e.source], index[e.target]
        ya, yb = ys[e.source], ys[e.target]
        names = [n.replace("TDH.SYS.", "") for n in e.leaves]
        if a == b:
            x0 = sx + sw
            svg.path(f"M{x0},{ya + 12} C{x0 + 60},{ya - 14} {x0 + 60},{ya + sh + 14} "
                     f"{x0 + 2},{ya + sh - 12}", bounds=(x0 + 60, ya + sh + 14))
            for k, ln in enumerate(wrap(", ".join(names), 44)):
                svg.text(x0 + 64, ya + 20 + 16 * k, ln, size=13, fill="#1b5e20")
        elif b == a + 1:
            cx = sx + sw / 2
            svg.line(cx, ya + sh, cx, yb - 2)
            for k, ln in enumerate(wrap(", ".join(names), 30)):
                svg.text(cx + 10, ya + sh + 24 + 16 * k, ln, size=13, fill="#1b5e20",
                         weight="bold")
        else:
            jumps += 1
            bulge = sx - 40 - 24 * jumps
            svg.path(f"M{sx},{ya + sh / 2} C{bulge},{ya + sh / 2} {bulge},{yb + sh / 2} "
                     f"{sx - 2},{yb + sh / 2}", bounds=(sx, yb + sh))
            mid = (ya + yb + sh) / 2
            svg.text(bulge + 0.25 * (sx - bulge) - 6, mid + 16 * (jumps - 1) - 4,
                     ", ".join(names), size=12, anchor="end", fill="#1b5e20")
    y = top + len(life.states) * gap
    pre = ", ".join(n.replace("TDH.SYS.", "") for n in life.before_ready)
    down = ", ".join(n.replace("TDH.SYS.", "") for n in life.in_shutdown) or "none"
    notes = [f"Before SYS_READY the dispatcher admits only: {pre}; any other leaf answers "
             "TDX_SYS_NOT_READY.",
             f"In SYS_SHUTDOWN it admits only: {down}; any other leaf answers TDX_SYS_SHUTDOWN.",
             "A leaf is drawn on an edge when it returned TDX_SUCCESS from that state on the "
             "probe platform (2 packages, one TDMR); names drop the TDH.SYS. prefix."]
    for k, note in enumerate(line for n in notes for line in wrap(n, 110)):
        svg.text(20, y + 18 * k, note, size=13, fill=INK)
    return svg.render()


# -- matrix ------------------------------------------------------------------------------------
MATRIX_COLUMNS = ("VMX", "SEAMRR", "CPL", "module", "outcome", "RAX", "meaning")


def matrix_cells(r: MatrixRow) -> tuple[str, ...]:
    return ("on" if r.vmx else "off", "on" if r.seamrr else "off", str(r.cpl),
            "loaded" if r.module else "absent", r.outcome, hex64(r.rax), r.status_name)


def matrix_svg(rows: Sequence[MatrixRow], title: str = "") -> str:
    """The outcome matrix, one coloured row per CPU state."""
    svg = Svg("SEAMCALL outcome matrix", "fig-matrix")
    svg.text(20, 32, title or "SEAMCALL outcome matrix: VMX x SEAMRR x CPL x module, "
                              "through the stub", size=18, weight="bold")
    svg.text(20, 54, "drawn from seamemu.session.matrix.outcome_matrix()", size=12,
             fill=MUTED, italic=True)
    widths = (60, 80, 50, 80, 130, 190, 250)
    x0, y, rh = 20, 72, 26
    x = x0
    for w, head in zip(widths, MATRIX_COLUMNS):
        svg.rect(x, y, w, rh, fill="#d0d7de", stroke="#8c959f", rx=0, width=1)
        svg.text(x + 8, y + 18, head, size=13, weight="bold")
        x += w
    for r in rows:
        y += rh
        stroke, fill = colours(r.outcome)
        x = x0
        for w, cell in zip(widths, matrix_cells(r)):
            svg.rect(x, y, w, rh, fill=fill, stroke="#8c959f", rx=0, width=1)
            svg.text(x + 8, y + 18, cell, size=12, mono=True, weight="bold" if
                     cell == r.outcome else "normal", fill=stroke if cell == r.outcome else INK)
            x += w
    seen = list(dict.fromkeys(r.outcome for r in rows))
    _legend(svg, 20, y + rh + 30, seen)
    return svg.render()


def figure_texts(*, platform=None, abi: str | None = None) -> dict[str, str]:
    """The three figures as SVG text, by file name (FIGURES order)."""
    p = platform if isinstance(platform, Platform) else load_platform(platform)
    rows = outcome_matrix(platform=p, tds=(False,))  # the host's matrix
    generation = abi or (p.module.abi if p.module is not None else "1.5")
    texts = (decision_tree_svg(), lifecycle_svg(abi=generation), matrix_svg(rows))
    return dict(zip(FIGURES, texts))


def write_figures(out: str | Path, *, platform=None, abi: str | None = None,
                  what: str = "output directory") -> list[Path]:
    """Write the three figures into `out` (created if needed); return their paths.  A place
    that cannot take them is an InputError naming `what` (the option, for the CLI)."""
    out = output_dir(out, what)   # fails before the figures are drawn
    texts = figure_texts(platform=platform, abi=abi)
    return [write_text(out / name, text, what) for name, text in texts.items()]


__all__ = ["FIGURES", "decision_tree_svg", "figure_texts", "lifecycle_svg", "matrix_cells",
           "matrix_svg", "outcome_label", "write_figures"]
