# SPDX-License-Identifier: MIT
"""Learning commands: trace (every instruction), explain (the decision in words), diagram, report."""

from __future__ import annotations

import argparse
import sys

from seamemu.cli import common as C
from seamemu.errors import InputError
from seamemu.kernel.calling import GUEST_CONVENTIONS
from seamemu.machine.tracing import DEFAULT_MAX_STEPS
from seamemu.session import Session

MAX_STEPS = 50_000   # trace --max-steps: about 80 MB and 8 s of tracing on a shared 2-core machine
DEFAULT_LEAF = "TDH.SYS.INIT"   # the matrix's leaf: its success needs nothing before it
DEFAULT_TD_LEAF = "TDG.VP.INFO"  # a TD's: it always answers


def _call_options(p: argparse.ArgumentParser) -> None:
    C.add_call_options(p, "args, legacy or raw, as for `seamemu run` (default: the kernel's)")
    C.add_platform_options(p, module_binary=True)
    C.add_state_options(p)
    C.add_register_options(p)
    p.set_defaults(leaf=None)
    p._option_string_actions["--leaf"].help = (
        f"leaf number or name, goes to RAX (default {DEFAULT_LEAF}, the matrix's leaf)")
    g = p.add_argument_group("preparation")
    g.add_argument("--after", action="append", default=[], metavar="LEAF[,LEAF...]",
                   help="first make these calls through the same entry, untraced, each of which "
                        "must succeed (e.g. --after TDH.SYS.INIT,TDH.SYS.LP.INIT)")
    g.add_argument("--alloc", action="append", default=[], metavar="REG=SIZE[@ALIGN]",
                   help="give REG the address of a zeroed guest buffer of SIZE bytes (aligned "
                        "to ALIGN, default: SIZE rounded up to a power of two, at most 4096)")
    C.add_gdb_options(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = C.command(sub, "trace", cmd_trace,
                  help="every instruction of one call: registers, flags and memory it changed, and why "
                       "SEAMCALL decided what it did")
    _call_options(p)
    p.add_argument("--max-steps", type=C.in_range(1, MAX_STEPS, "each kept step holds its changes"),
                   default=DEFAULT_MAX_STEPS, metavar="N",
                   help=f"keep at most N instructions (default {DEFAULT_MAX_STEPS})")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="ANSI colour: auto (default) when stdout is a terminal and NO_COLOR "
                        "is unset")
    p.add_argument("--into-module", action="store_true",
                   help="also show Intel's module's own instructions, symbolised, between each "
                        "SEAMCALL and its SEAMRET (needs --module-binary)")
    p.add_argument("--json", action="store_true",
                   help="the trace as JSON (schema 1): every step with its changes and decisions")

    p = C.command(sub, "explain", cmd_explain,
                  help="the SEAMCALL (with --td: TDCALL) decision for a CPU state in plain words, and what "
                       "the kernel does with it; with --leaf, the leaf too")
    _call_options(p)
    p.add_argument("--json", action="store_true",
                   help="the explanation as JSON (schema 1): rows, decision, kernel view, result")

    p = C.command(sub, "diagram", cmd_diagram,
                  help="SVG figures drawn from the tables the code runs on")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write the .svg files to")
    C.add_platform_options(p)
    p.add_argument("--json", action="store_true", help="the files written, as JSON")

    p = C.command(sub, "report", cmd_report,
                  help="one self-contained HTML page: matrix, figures, a trace per outcome, the platform's "
                       "CMRs")
    p.add_argument("--out", required=True, metavar="FILE.html")
    C.add_platform_options(p)
    p.add_argument("--json", action="store_true", help="the file written, as JSON")


def _prepared(args: argparse.Namespace) -> tuple[Session, int, dict[str, int]]:
    """A session in the asked state, after the --after calls, with --alloc buffers placed."""
    from seamemu.learn.traced import alloc_inputs, run_first

    args.kernel_gen = C.kernel_source(args)
    if args.entry is None:
        raise InputError("--entry SYMBOL is required")
    stub = C.gdb_stub(args)
    session = Session(C.inputs(args), platform=C.platform_arg(args), abi=args.abi,
                      include_dirs=args.include, defines=C.defines(args), backend=args.assembler,
                      stubs=args.stub, module_binary=C.module_binary_arg(args),
                      alternatives=args.alternatives)
    after = [C.parse_leaf(x.strip()) for group in args.after for x in group.split(",") if x.strip()]
    run_first(session, args.entry, after, lp=args.lp, convention=args.convention)
    session.set_state(lp=args.lp, vmx=args.vmx, seamrr=args.seamrr, cpl=args.cpl, module=args.module,
                      td=args.td or None)
    inputs = C.register_inputs(args)
    for reg, pa in alloc_inputs(session, args.alloc).items():
        if reg in inputs:
            raise InputError(f"--alloc {reg}: --{reg} is given too")
        inputs[reg] = pa
    if stub is not None:                 # after the --after calls: gdb sees the one that matters
        session.machine.debug_next_call(stub)
    return session, C.parse_leaf(args.leaf or _default_leaf(args)), inputs


def _default_leaf(args: argparse.Namespace) -> str:
    """The matrix's leaf on the host; TDG.VP.INFO for a TD's __tdcall*, TDG.VP.VMCALL (the
    only leaf __tdx_hypercall makes) for the hypercall."""
    if args.convention == "hypercall":
        return "TDG.VP.VMCALL"
    if args.convention == "tdcall":
        return DEFAULT_TD_LEAF
    return DEFAULT_LEAF


def cmd_trace(args: argparse.Namespace) -> int:
    from seamemu.learn.traced import trace_call
    from seamemu.trace import format_module_runs, format_trace, use_color

    session, leaf, inputs = _prepared(args)
    traced = trace_call(session, args.entry, convention=args.convention, leaf=leaf,
                        inputs=inputs, lp=args.lp, max_steps=args.max_steps,
                        into_module=args.into_module)
    if args.json:
        doc = traced.trace.to_json() | {"kernel": args.kernel_gen.name,
                                        "result": traced.result.to_json()}
        if args.into_module:
            doc["module_runs"] = [r.to_json() for r in traced.module_runs]
        C.print_json(doc)
    else:
        print(format_trace(traced.trace, color=use_color(args.color, sys.stdout)))
        if traced.module_runs:
            print(format_module_runs(traced.module_runs))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from seamemu.learn.explain import explain, explanation_json, format_explanation

    session, leaf, inputs = _prepared(args)
    if args.convention in GUEST_CONVENTIONS or (args.convention == "raw" and args.td):
        from seamemu.learn.explain_td import (
            explain_tdcall,
            format_tdcall_explanation,
            tdcall_explanation_json,
        )

        td = explain_tdcall(session, args.entry, leaf=leaf, inputs=inputs, lp=args.lp,
                            convention=args.convention, with_leaf=args.leaf is not None)
        return C.report(args, td, format_tdcall_explanation, tdcall_explanation_json)
    e = explain(session, args.entry, leaf=leaf, inputs=inputs, lp=args.lp,
                convention=args.convention, with_leaf=args.leaf is not None,
                kernel=args.kernel_gen.name)
    return C.report(args, e, format_explanation, explanation_json)


def cmd_diagram(args: argparse.Namespace) -> int:
    from seamemu.learn.diagram import write_figures

    paths = write_figures(args.out, platform=C.platform_arg(args), abi=args.abi, what="--out")
    if args.json:
        C.print_json({"schema": 1, "out": args.out, "files": C.written(paths)})
    else:
        for path in paths:
            print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from seamemu.learn.html_report import write_report

    path = write_report(args.out, platform=C.platform_arg(args), abi=args.abi, what="--out")
    if args.json:
        C.print_json({"schema": 1, "files": C.written([path])})
    else:
        print(path)
    return 0
