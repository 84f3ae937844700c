# SPDX-License-Identifier: MIT
"""`seamemu report`: one self-contained HTML page (no server, no external file, no script).

Sections: the outcome matrix (each row links to the trace of its outcome), the three figures
as inline SVG, one instruction trace per outcome with the SEAMCALL decision explained, and
the platform's CMRs as the kernel reads them, with a trace of TDH.SYS.INFO writing them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from seamemu import __version__
from seamemu.arch.leaves import TDH_SYS_INFO
from seamemu.arch.sysinfo import (
    CMR_INFO_ARRAY_ALIGNMENT,
    CMR_INFO_ENTRY_SIZE,
    MAX_CMRS,
    TDSYSINFO_STRUCT_ALIGNMENT,
    TDSYSINFO_STRUCT_SIZE,
)
from seamemu.files import output_file, write_text
from seamemu.kernel.cmr_read import CmrReport, ensure_lp_ready, read_cmrs
from seamemu.learn.diagram import decision_tree_svg, lifecycle_svg, matrix_cells, matrix_svg
from seamemu.learn.explain import explain, format_explanation
from seamemu.learn.svg import colours
from seamemu.learn.traced import TracedRun, trace_call
from seamemu.session import Session
from seamemu.session.matrix import DEFAULT_MATRIX_LEAF, MatrixRow, outcome_matrix
from seamemu.stubs import DEFAULT_ENTRY
from seamemu.trace.render import trace_html

OUTCOME_ORDER = ("returned", "VMfailInvalid", "#GP", "#UD")


def anchor(outcome: str) -> str:
    """`trace-gp` for "#GP": ids are letters, digits and dashes only."""
    return "trace-" + "".join(ch for ch in outcome.lower() if ch.isalnum())


@dataclass(frozen=True)
class OutcomeTrace:
    row: MatrixRow
    traced: TracedRun
    explanation: str


def outcome_traces(session: Session, rows: list[MatrixRow], entry: str = DEFAULT_ENTRY,
                   leaf: int = DEFAULT_MATRIX_LEAF) -> list[OutcomeTrace]:
    """For each outcome, in matrix order, trace the first row's state through `entry`."""
    out, seen = [], set()
    for row in rows:
        if row.outcome in seen:
            continue
        seen.add(row.outcome)
        out.append(OutcomeTrace(row, _traced_row(session, row, entry, leaf),
                                _explained_row(session, row, entry, leaf)))
    return out


def _set_row_state(session: Session, row: MatrixRow) -> None:
    session.reset_module()
    session.set_state(lp=0, vmx=row.vmx, seamrr=row.seamrr, cpl=row.cpl, module=row.module)


def _traced_row(session, row, entry, leaf) -> TracedRun:
    _set_row_state(session, row)
    return trace_call(session, entry, leaf=leaf)


def _explained_row(session, row, entry, leaf) -> str:
    _set_row_state(session, row)
    return format_explanation(explain(session, entry, leaf=leaf))


def cmr_section_data(session: Session) -> tuple[CmrReport, TracedRun]:
    """The CMRs as the kernel reads them, and a trace of TDH.SYS.INFO writing the CMR array."""
    session.reset_module()
    session.set_state(lp=0, vmx=True, seamrr=True, cpl=0, module=True)
    report = read_cmrs(session, 0, DEFAULT_ENTRY)
    ensure_lp_ready(session, 0, DEFAULT_ENTRY)
    info = session.alloc(TDSYSINFO_STRUCT_SIZE, TDSYSINFO_STRUCT_ALIGNMENT)
    array = session.alloc(MAX_CMRS * CMR_INFO_ENTRY_SIZE, CMR_INFO_ARRAY_ALIGNMENT)
    traced = trace_call(session, DEFAULT_ENTRY, leaf=TDH_SYS_INFO, inputs={
        "rcx": info, "rdx": TDSYSINFO_STRUCT_SIZE, "r8": array, "r9": MAX_CMRS})
    return report, traced


# -- HTML --------------------------------------------------------------------------------------
_CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1f2328; margin: 0;
       line-height: 1.45; }
header { background: #24292f; color: #fff; padding: 18px 28px; }
header h1 { margin: 0; font-size: 24px; }
header p { margin: 4px 0 0; color: #d0d7de; }
nav { padding: 10px 28px; background: #f6f8fa; border-bottom: 1px solid #d0d7de; }
nav a { margin-right: 18px; color: #0969da; text-decoration: none; }
main { padding: 0 28px 40px; max-width: 1200px; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 36px; }
table.matrix, table.cmr { border-collapse: collapse; font-family: "DejaVu Sans Mono", monospace;
       font-size: 13px; }
table.matrix th, table.matrix td, table.cmr th, table.cmr td { border: 1px solid #8c959f;
       padding: 4px 10px; text-align: left; }
table.matrix th, table.cmr th { background: #d0d7de; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-left: 6px solid var(--c, #8c959f);
      padding: 10px 14px; overflow-x: auto; font-size: 12.5px; line-height: 1.35; }
figure { margin: 18px 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { color: #59636e; font-size: 14px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: bold;
         border: 1px solid var(--c); color: var(--c); background: var(--f); }
details summary { cursor: pointer; color: #0969da; }
pre.trace .t-dim { color: #6e7781; }
pre.trace .t-bold, pre.trace .t-insn { font-weight: bold; }
pre.trace .t-reg { color: #0a6b7c; }
pre.trace .t-mem { color: #8a5300; }
pre.trace .t-seam { color: #4a148c; font-weight: bold; text-decoration: underline dotted; }
pre.trace .t-ud { color: #6a1b9a; font-weight: bold; }
pre.trace .t-returned, pre.trace .t-module, pre.trace .t-pseamldr {
       color: #1b5e20; font-weight: bold; }
pre.trace .t-vmfailinvalid { color: #8a5300; font-weight: bold; }
pre.trace .t-gp, pre.trace .t-fault { color: #b71c1c; font-weight: bold; }
pre.trace .t-vmexit { color: #0d47a1; font-weight: bold; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _trace_pre(trace, stroke: str) -> str:
    """A trace as <pre>, each style a CSS class (seamemu.trace.render's HTML back end)."""
    return f'<pre class="trace" style="--c:{stroke}">{trace_html(trace)}</pre>'


def _badge(outcome: str) -> str:
    stroke, fill = colours(outcome)
    return f'<span class="badge" style="--c:{stroke};--f:{fill}">{_e(outcome)}</span>'


def render_html(*, platform_name: str, platform_text: str, rows: list[MatrixRow],
                traces: list[OutcomeTrace], figures: dict[str, str], cmr: CmrReport,
                cmr_trace: TracedRun) -> str:
    nav = [("matrix", "Outcome matrix"), ("figures", "Figures"), ("traces", "Traces"),
           ("cmrs", "CMRs")] + [(anchor(t.row.outcome), f"Trace: {t.row.outcome}") for t in traces]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>seamemu report: {_e(platform_name)}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<header><h1>seamemu report</h1><p>{_e(platform_text)}</p></header>",
             '<nav id="top">' + "".join(f'<a href="#{i}">{_e(t)}</a>' for i, t in nav) + "</nav>",
             "<main>"]
    parts += ['<section id="matrix"><h2>Outcome matrix</h2>',
              "<p>TDH.SYS.INIT through the shipped stub (<code>__seamcall_ret</code>) under every "
              "CPU state, each on a freshly booted module. The outcome links to the trace of that "
              "outcome.</p>", '<table class="matrix"><thead><tr>']
    parts += [f"<th>{h}</th>" for h in ("VMX", "SEAMRR", "CPL", "module", "outcome", "RAX",
                                       "meaning", "ABI")]
    parts.append("</tr></thead><tbody>")
    for r in rows:
        stroke, fill = colours(r.outcome)
        cells = list(matrix_cells(r))
        cells[4] = f'<a href="#{anchor(r.outcome)}">{_e(r.outcome)}</a>'
        tds = "".join(f"<td>{c if i == 4 else _e(c)}</td>" for i, c in enumerate(cells))
        abi = "ok" if r.abi_preserved else "BROKEN: " + ",".join(r.clobbered)
        parts.append(f'<tr style="background:{fill}">{tds}<td>{_e(abi)}</td></tr>')
    parts.append("</tbody></table></section>")
    parts.append('<section id="figures"><h2>Figures</h2>')
    captions = {"fig-decision": "The SEAMCALL rule table, in order.",
                "fig-lifecycle": "The module lifecycle with the leaves on its edges.",
                "fig-matrix": "The outcome matrix."}
    for fid, svg in figures.items():
        parts.append(f'<figure id="{fid}-figure">{svg}<figcaption>{_e(captions.get(fid, ""))}'
                     f"</figcaption></figure>")
    parts.append("</section>")
    parts.append('<section id="traces"><h2>One trace per outcome</h2>')
    for t in traces:
        r = t.row
        stroke, _ = colours(r.outcome)
        state = (f"VMX {'on' if r.vmx else 'off'}, SEAMRR {'on' if r.seamrr else 'off'}, "
                 f"CPL {r.cpl}, module {'loaded' if r.module else 'absent'}")
        parts.append(f'<article id="{anchor(r.outcome)}"><h3>{_badge(r.outcome)} {_e(state)}'
                     f"</h3><p>{_e(r.rule)}</p>")
        parts.append(_trace_pre(t.traced.trace, stroke))
        parts.append(f"<details><summary>Why: the decision step by step</summary>"
                     f'<pre style="--c:{stroke}">{_e(t.explanation)}</pre></details>')
        parts.append('<p><a href="#matrix">back to the matrix</a></p></article>')
    parts.append("</section>")
    parts.append('<section id="cmrs"><h2>CMRs of the platform</h2>')
    parts.append(f"<p>Read the way the kernel does for this module generation: "
                 f"{_e(cmr.method)} ({len(cmr.calls)} SEAMCALLs, "
                 f"{cmr.entries_written} entries reported).</p>")
    parts.append('<table class="cmr"><thead><tr><th>CMR</th><th>base</th><th>end</th>'
                 "<th>size</th></tr></thead><tbody>")
    for i, (base, size) in enumerate(cmr.cmrs):
        parts.append(f"<tr><td>{i}</td><td>0x{base:016x}</td><td>0x{base + size:016x}</td>"
                     f"<td>{size >> 20} MiB</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h3>TDH.SYS.INFO writing the CMR array, instruction by instruction</h3>")
    parts.append(_trace_pre(cmr_trace.trace, colours("returned")[0]) + "</section>")
    parts.append(f'<p><a href="#top">top</a> &middot; generated by seamemu {_e(__version__)}'
                 "</p></main></body></html>")
    return "\n".join(parts) + "\n"


def build_report(*, platform=None, abi: str | None = None) -> str:
    session = Session(platform=platform, abi=abi, num_lps=1)
    p = session.platform
    rows = outcome_matrix(platform=p, tds=(False,))  # the host's matrix
    traces = outcome_traces(session, rows)
    traces.sort(key=lambda t: OUTCOME_ORDER.index(t.row.outcome)
                if t.row.outcome in OUTCOME_ORDER else len(OUTCOME_ORDER))
    cmr, cmr_trace = cmr_section_data(session)
    figures = {"fig-decision": decision_tree_svg(),
               "fig-lifecycle": lifecycle_svg(abi=session.module.abi),
               "fig-matrix": matrix_svg(rows)}
    text = (f"Platform {p.name!r}: {p.packages} package(s) x {p.cores_per_package} core(s) x "
            f"{p.threads_per_core} thread(s); TDX module ABI {session.module.abi}; "
            f"{len(p.cmrs)} CMRs.")
    return render_html(platform_name=p.name, platform_text=text, rows=rows, traces=traces,
                       figures=figures, cmr=cmr, cmr_trace=cmr_trace)


def write_report(path: str | Path, *, platform=None, abi: str | None = None,
                 what: str = "report file") -> Path:
    """Build the report and write it to `path` (its directory created if needed); a place
    that cannot take it is an InputError naming `what` (the option, for the CLI)."""
    output_file(path, what, parents=True)   # a bad place fails before the report is built
    return write_text(path, build_report(platform=platform, abi=abi), what, parents=True)


__all__ = ["OUTCOME_ORDER", "OutcomeTrace", "anchor", "build_report", "cmr_section_data",
           "outcome_traces", "render_html", "write_report"]
