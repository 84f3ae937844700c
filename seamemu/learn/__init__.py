# SPDX-License-Identifier: MIT
"""Teaching tools above the session: traced calls, explanations, figures, the HTML report."""

from seamemu.learn.diagram import decision_tree_svg, lifecycle_svg, matrix_svg, write_figures
from seamemu.learn.explain import Explanation, explain, explanation_json, format_explanation
from seamemu.learn.html_report import build_report, write_report
from seamemu.learn.kernel_view import KernelView, kernel_view
from seamemu.learn.lifecycle import Edge, Lifecycle, probe_lifecycle
from seamemu.learn.traced import TracedRun, alloc_inputs, run_first, trace_call

__all__ = [
    "Edge",
    "Explanation",
    "KernelView",
    "Lifecycle",
    "TracedRun",
    "alloc_inputs",
    "build_report",
    "decision_tree_svg",
    "explain",
    "explanation_json",
    "format_explanation",
    "kernel_view",
    "lifecycle_svg",
    "matrix_svg",
    "probe_lifecycle",
    "run_first",
    "trace_call",
    "write_figures",
    "write_report",
]
