# SPDX-License-Identifier: MIT
"""Rendering a Trace for people: plain text, painted by a back end keyed on style names.

The text is laid out once; each styled run goes through a painter, which knows only the
style's name ("seam", "#UD", "reg", ...): `AnsiPainter` for a terminal (colours follow the
outcome palette of the figures: green for a call that returned or reached the module, amber
for VMfailInvalid, red for #GP, purple for #UD), and `trace_html` for a web page, where each
style becomes a CSS class (`css_class`) of a <span> in escaped text.
"""

from __future__ import annotations

import html
import os
import re

from seamemu.machine.results import NO_CALL
from seamemu.trace.steps import LeafNote, MemWrite, Trace, TraceStep, TrapNote

RESET = "\x1b[0m"
# Every style a trace uses, with its terminal colour (SGR parameters).
STYLES = {
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
    "insn": "\x1b[1m",
    "seam": "\x1b[1;35m",
    "reg": "\x1b[36m",
    "mem": "\x1b[33m",
    "returned": "\x1b[1;32m",
    "module": "\x1b[1;32m",
    "pseamldr": "\x1b[1;32m",
    "VMfailInvalid": "\x1b[1;33m",
    "#GP": "\x1b[1;31m",
    "#UD": "\x1b[1;35m",
    "fault": "\x1b[1;31m",
    "vmexit": "\x1b[1;34m",
}
SEAM_MNEMONICS = ("seamcall", "tdcall", "seamret", "seamops")
BYTES_W = 31               # room for a 10-byte instruction (movabs)
PREVIEW_LINES = 4          # lines of 16 bytes shown for one write


def use_color(mode: str, stream) -> bool:
    """`--color always|never|auto`: auto means a terminal, and no NO_COLOR in the environment."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Painter:
    """Paints a styled run of text; this one leaves it plain."""

    def __call__(self, style: str, text: str) -> str:
        return text


class AnsiPainter(Painter):
    """ANSI colour for a terminal."""

    def __call__(self, style: str, text: str) -> str:
        code = STYLES.get(style)
        return f"{code}{text}{RESET}" if code else text


# Marks a styled run in laid-out text for a back end that escapes the whole text afterwards:
# characters no trace contains (Unicode private use), untouched by HTML escaping.
_OPEN, _MID, _CLOSE = "\ue000", "\ue001", "\ue002"
_MARKED = re.compile(f"{_OPEN}([^{_MID}]*){_MID}([^{_CLOSE}]*){_CLOSE}")


class _MarkPainter(Painter):
    def __call__(self, style: str, text: str) -> str:
        return f"{_OPEN}{style}{_MID}{text}{_CLOSE}" if style in STYLES else text


def css_class(style: str) -> str:
    """The CSS class of a style: "#UD" -> "t-ud", "VMfailInvalid" -> "t-vmfailinvalid"."""
    return "t-" + re.sub(r"[^a-z0-9]+", "", style.lower())


def trace_html(trace: Trace) -> str:
    """The trace as escaped HTML text (for a <pre>), each styled run a <span class=...>."""
    text = html.escape(format_trace(trace, painter=_MarkPainter()), quote=False)
    return _MARKED.sub(lambda m: f'<span class="{css_class(m.group(1))}">{m.group(2)}</span>',
                       text)


def format_trace(trace: Trace, *, color: bool = False, indent: str = "",
                 painter: Painter | None = None) -> str:
    """The whole trace: a header, one block per instruction, and the result line, painted by
    `painter` (default: ANSI colour when `color`, else plain)."""
    p = painter if painter is not None else AnsiPainter() if color else Painter()
    n = len(trace.steps)
    lines = [f"trace of {trace.entry or 'the call'} on LP {trace.lp}: {n} instruction"
             f"{'' if n == 1 else 's'}{' (truncated)' if trace.truncated else ''}"]
    lines.append(p("dim", f"{'#':>4} {'address':<10}{'symbol':<26}{'bytes':<{BYTES_W}}instruction"))
    for step in trace.steps:
        lines += format_step(step, p, step is trace.steps[-1])
    rax = trace.regs_after.get("rax", 0)
    said = f"{NO_CALL[trace.outcome]}; " if trace.outcome in NO_CALL else ""
    lines.append(f"outcome: {p(_outcome_style(trace.outcome), trace.outcome)}   "
                 f"{said}RAX = 0x{rax:016x}")
    return "\n".join(indent + ln for ln in lines)


def _outcome_style(outcome: str) -> str:
    return outcome if outcome in STYLES else "fault"


def format_step(s: TraceStep, p: Painter, last: bool = False) -> list[str]:
    pad = " " * 15
    head_style = "seam" if s.traps or s.mnemonic in SEAM_MNEMONICS else "insn"
    hexb = " ".join(f"{b:02x}" for b in s.bytes)
    lines = [f"{s.index:>4} {p('dim', f'{s.address:<10x}')}{s.symbol:<26}{hexb:<{BYTES_W}}"
             f"{p(head_style, s.text)}"]
    for trap in s.traps:
        lines += _trap_lines(trap, p, pad)
    for f in s.faults:
        lines += _fault_lines(f, s, p, pad)
    for c in s.regs:
        lines.append(f"{pad}{p('reg', f'{c.name.upper():<4}')} 0x{c.old:016x} -> 0x{c.new:016x}")
    if s.flags:
        lines.append(pad + "flags " + " ".join(f"{p('reg', name)} {o}->{n}" for name, o, n in s.flags))
    for w in s.writes:
        lines += _write_lines(w, p, pad, "wrote")
    if s.jumped and not s.faults:
        if s.mnemonic.startswith("ret") and last:
            lines.append(f"{pad}-> back to the caller ({s.next_address:x})")
        else:
            lines.append(f"{pad}-> {s.next_address:x}")
    return lines


def _trap_lines(t: TrapNote, p: Painter, pad: str) -> list[str]:
    style = t.kind if t.kind in STYLES else "fault"
    lines = [f"{pad}{t.insn} decision: {p(style, t.kind)} -- {t.rule}"]
    if t.sentence:
        lines.append(f"{pad}  rule {t.check}: {t.sentence}")
    if t.source:
        lines.append(f"{pad}  source: {t.source}")
    if t.leaf is not None:
        lines += _leaf_lines(t.leaf, p, pad)
    if t.effect:
        lines.append(f"{pad}  {t.effect}")
    return lines


def _leaf_lines(lf: LeafNote, p: Painter, pad: str) -> list[str]:
    st = "returned" if lf.status == 0 else ("#GP" if lf.status >> 63 else "VMfailInvalid")
    kind = "TDCALL leaf" if lf.name.startswith("TDG.") else "leaf"
    lines = [f"{pad}  module: {lf.name} ({kind} {lf.number}) -> {p(st, lf.status_name)} "
             f"0x{lf.status:016x}, state {lf.state_before} -> {lf.state_after}"]
    for reg, value, meaning in lf.inputs:
        lines.append(f"{pad}    in  {reg.upper():<4}0x{value:016x}  {meaning}".rstrip())
    if lf.carried:
        lines.append(f"{pad}    not read by this leaf: "
                     + " ".join(f"{r.upper()}=0x{v:x}" for r, v in lf.carried))
    if lf.checks:
        run = ", ".join(c for c, _ in lf.checks)
        if lf.failed_check:
            text = dict(lf.checks).get(lf.failed_check, "")
            lines.append(f"{pad}    checks run: {run}; {lf.failed_check} decided: {text}")
        else:
            lines.append(f"{pad}    checks run: {run}; all passed")
    for reg, value, meaning in lf.outputs:
        lines.append(f"{pad}    out {reg.upper():<4}0x{value:016x}  {meaning}".rstrip())
    for w in lf.memory:
        lines += _write_lines(w, p, pad + "    ", "module wrote")
    if lf.vmcall is not None:
        lines += vmcall_lines(lf.vmcall, pad + "    ")
    if lf.note:
        lines.append(f"{pad}    note: {lf.note}")
    return lines


def vmcall_lines(v, pad: str = "") -> list[str]:
    """What the VMM did with a TDG.VP.VMCALL: the sub-function, the registers, its status."""
    ins = " ".join(f"{r.upper()}=0x{x:x}" for r, x in v.inputs.items() if r != "rcx")
    outs = " ".join(f"{r.upper()}=0x{x:x}" for r, x in v.outputs.items())
    lines = [f"{pad}VMM: {v.name} -> {v.status_name} (R10)",
             f"{pad}  passed (RCX selects): {ins or '-'}",
             f"{pad}  the VMM set: {outs or '-'}"]
    if v.note:
        lines.append(f"{pad}  VMM note: {v.note}")
    return lines


def _write_lines(w: MemWrite, p: Painter, pad: str, verb: str) -> list[str]:
    where = f" <{w.symbol}>" if w.symbol and not w.symbol.startswith("0x") else ""
    note = f" ({w.note})" if w.note else ""
    size = len(w.data)
    if size <= 8:
        hexb = " ".join(f"{b:02x}" for b in w.data)
        return [f"{pad}{p('mem', verb)} 0x{w.address:016x}{where} [{size}]{note}: {hexb}"]
    lines = [f"{pad}{p('mem', verb)} {size} bytes at 0x{w.address:016x}{where}{note}:"]
    shown = 0
    for off in range(0, min(size, 16 * PREVIEW_LINES), 16):
        chunk = w.data[off:off + 16]
        lines.append(f"{pad}  0x{w.address + off:016x}: " + " ".join(f"{b:02x}" for b in chunk))
        shown = off + len(chunk)
    if size > shown:
        lines.append(f"{pad}  ... {size - shown} more bytes")
    lines += [f"{pad}  {line}" for line in w.decoded]
    return lines


def _fault_lines(f, s: TraceStep, p: Painter, pad: str) -> list[str]:
    ec = "" if f.error_code is None else f"({f.error_code})"
    lines = [f"{pad}{p(f.name if f.name in STYLES else 'fault', f.name + ec)} raised at {s.symbol}"]
    if f.handled_by == "extable":
        lines.append(f"{pad}  exception table: entry for {s.symbol} -> fixup {f.fixup:x} "
                     f"<{f.fixup_symbol}> ({f.extable_type})")
        if f.rax_set is not None:
            lines.append(f"{pad}  {f.extable_type}: RAX = {f.rax_set} (the trap number), "
                         f"resume at the fixup")
        else:
            lines.append(f"{pad}  {f.extable_type}: resume at the fixup")
    elif f.handled_by == "idt":
        lines.append(f"{pad}  no exception-table entry: delivered through the guest IDT to "
                     f"{f.fixup:x} <{f.fixup_symbol}>")
    else:
        lines.append(f"{pad}  {p('fault', 'unhandled')}: {f.detail}")
    return lines


__all__ = ["STYLES", "format_step", "format_trace", "use_color", "vmcall_lines"]
