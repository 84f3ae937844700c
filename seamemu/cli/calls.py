# SPDX-License-Identifier: MIT
"""Core commands: asm (listing), run (one call), matrix (every CPU state), demo, bench."""

from __future__ import annotations

import argparse

from seamemu.cli import common as C
from seamemu.errors import InputError
from seamemu.files import output_file, write_bytes
from seamemu.machine import Bounds
from seamemu.session import Session
from seamemu.session.listing import format_listing, listing_json
from seamemu.session.matrix import format_matrix, outcome_matrix

MAX_INSNS = 10_000_000_000       # --max-insns: about an hour of guest time; --timeout bounds it too
MAX_BENCH_SECONDS = 60.0         # bench --seconds: each of its several measurements takes this long


def register(sub: argparse._SubParsersAction) -> None:
    p = C.command(sub, "asm", cmd_asm,
                  help="assemble kernel-style .S files and print the listing (like objdump -d)")
    p.add_argument("files", nargs="*", metavar="FILE", help=".S sources (or ELF objects)")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VALUE]")
    p.add_argument("--assembler", choices=("keystone", "gnu"), default="keystone")
    C.add_object_options(p)
    C.add_alternatives_option(p)
    p.add_argument("--elf", metavar="OUT",
                   help="write the program as seamemu loads it to OUT, an ELF64 executable with "
                        "symbols and a DWARF line table, for objdump, addr2line and gdb")
    C.add_json_option(p)

    p = C.command(sub, "run", cmd_run,
                  help="call a symbol under an emulated CPU state and show what SEAMCALL did")
    C.add_call_options(p, "args: RDI=leaf, RSI=struct tdx_module_args; legacy: the 2022 "
                       "__seamcall(fn, rcx, rdx, r8, r9, out); raw: registers as given "
                       "(default: the kernel's)")
    C.add_platform_options(p, module_binary=True)
    C.add_state_options(p)
    C.add_register_options(p)
    g = p.add_argument_group("bounds")
    g.add_argument("--max-insns", type=C.in_range(1, MAX_INSNS), default=1_000_000, metavar="N",
                   help=f"stop the guest after N instructions (default 1000000, at most {MAX_INSNS:,})")
    g.add_argument("--timeout", type=C.seconds, default=5.0, metavar="SECONDS",
                   help="stop the guest after this much wall time (default 5)")
    p.add_argument("--boot", action="store_true",
                   help="bring the module up with the kernel's flow first (TDH.SYS.INIT through "
                        "TDH.SYS.TDMR.INIT, as `seamemu boot`), then make the call on the READY "
                        "module")
    C.add_gdb_options(p)
    p.add_argument("--replay", metavar="FILE",
                   help="replay a `seamemu fuzz` reproducer and explain its finding "
                        "(exit status 1 while it still reproduces)")
    C.add_json_option(p)

    p = C.command(sub, "matrix", cmd_matrix,
                  help="every VMX x SEAMRR x CPL x module combination through a stub, on the host and in a "
                       "TD's vCPU (the TD column)")
    C.add_call_options(p, "args, legacy, raw, or the TD guest's tdcall or hypercall (default: the "
                       "kernel's)")
    p.add_argument("--td", action="store_true",
                   help="the TD guest's side: the shipped guest stub (asm/tdcall.S) and its "
                        "entry, tdcall convention, leaf TDG.VP.INFO")
    C.add_platform_options(p, module_binary=True)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--markdown", action="store_true")

    p = C.command(sub, "demo", cmd_demo,
                  help="the main job on the embedded default platform, explained")
    C.add_platform_options(p)
    p.add_argument("--json", action="store_true", help="what the demo showed, as JSON")
    C.add_kernel_option(p)

    p = C.command(sub, "bench", cmd_bench,
                  help="SEAMCALL round trips per second, against a bare Unicorn hook loop")
    p.add_argument("--seconds", type=C.in_seconds(MAX_BENCH_SECONDS), default=1.0,
                   help=f"time per measurement (default 1, at most {MAX_BENCH_SECONDS:g})")
    C.add_module_binary_option(p)
    C.add_json_option(p)


def _session(args: argparse.Namespace, **kw) -> Session:
    return Session(C.inputs(args), platform=C.platform_arg(args),
                   abi=getattr(args, "abi", None), include_dirs=args.include,
                   defines=C.defines(args), backend=args.assembler, stubs=args.stub,
                   module_binary=C.module_binary_arg(args), alternatives=args.alternatives, **kw)


def cmd_asm(args: argparse.Namespace) -> int:
    from seamemu.frontend import assemble
    from seamemu.frontend.alternatives import apply_alternatives
    from seamemu.platform.cpuid_table import default_cpuid_table

    files = C.inputs(argparse.Namespace(asm=args.files, obj=args.obj))
    if not files:
        raise InputError("asm: give the files to assemble (FILE... and/or --obj FILE.o)")
    if args.elf is not None:
        output_file(args.elf, "--elf")   # a place that cannot take it fails before assembling
    image = apply_alternatives(assemble(files, include_dirs=args.include, defines=C.defines(args),
                                        backend=args.assembler, stubs=args.stub),
                               args.alternatives, default_cpuid_table(0))
    if args.elf is not None:
        from seamemu.frontend.elfwrite import elf_bytes

        data, summary = elf_bytes(image)
        write_bytes(args.elf, data, "--elf")
        if not args.json:
            print(f"{args.elf}: ELF64 executable, {summary.sections} sections at their load "
                  f"addresses, {summary.symbols} symbols, {summary.line_rows} line-table rows")
            return 0
    return C.report(args, image, format_listing, listing_json)


def cmd_run(args: argparse.Namespace) -> int:
    if args.replay is not None:
        from seamemu.fuzz.replay import format_replay, replay_file

        if args.gdb:
            raise InputError("--gdb works on a call you describe, not with --replay")
        outcome = replay_file(args.replay)
        return C.report(args, outcome, format_replay, status=1 if outcome.reproduced else 0)
    gen = C.kernel_source(args)
    if args.entry is None:
        raise InputError("--entry SYMBOL is required")
    stub = C.gdb_stub(args)
    session = _session(args, bounds=Bounds(max_insns=args.max_insns, timeout_s=args.timeout))
    boot = _boot(session, gen) if args.boot else None
    session.set_state(lp=args.lp, vmx=args.vmx, seamrr=args.seamrr, cpl=args.cpl, module=args.module,
                      td=args.td or None)
    if stub is not None:
        session.machine.debug_next_call(stub)
    result = session.call(args.entry, convention=args.convention, leaf=C.parse_leaf(args.leaf),
                          inputs=C.register_inputs(args), lp=args.lp)
    if args.json:
        doc = {"kernel": gen.name} | result.to_json()
        if boot is not None:
            doc["boot"] = boot
        C.print_json(doc)
    else:
        from seamemu.session.explain_run import format_run
        if boot is not None:
            print(f"boot ({gen.name}): {boot['result']}; module state {boot['state']} after "
                  f"{boot['seamcalls']} SEAMCALLs")
        print(format_run(result, session.image, gen))
    return 0


def _boot(session: Session, gen) -> dict:
    """--boot: generation `gen`'s bring-up on this session's module, through its stub."""
    from seamemu.kernel import bring_up

    missing = [e for e in gen.entries if e not in session.image.symbols]
    if missing:
        raise InputError(f"--boot brings the module up through {', '.join(missing)}, which "
                         f"the program lacks: add the {gen.name} kernel's stub "
                         f"(asm/{gen.stub}) to --asm")
    up = bring_up(session, gen)
    said = up.dmesg()
    result = up.oops.splitlines()[0] if up.oops else (said[-1] if said else up.refused)
    return {"kernel": gen.name, "errno": up.errno, "state": up.state,
            "seamcalls": len(up.calls), "result": result.split("] ", 1)[-1]}


def cmd_matrix(args: argparse.Namespace) -> int:
    gen = C.kernel_source(args)
    rows = outcome_matrix(C.inputs(args), args.entry, convention=args.convention,
                          platform=C.platform_arg(args), include_dirs=args.include,
                          defines=C.defines(args), backend=args.assembler, stubs=args.stub,
                          module_binary=C.module_binary_arg(args),
                          alternatives=args.alternatives)
    if args.json:
        C.print_json({"schema": 1, "kernel": gen.name, "entry": args.entry,
                      "rows": [r.to_json() for r in rows]})
    else:
        print(format_matrix(rows, markdown=args.markdown))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from seamemu.session.demo import demo_json, demo_text, run_demo

    demo = run_demo(platform=C.platform_arg(args), abi=args.abi, kernel=args.kernel)
    return C.report(args, demo, lambda d: demo_text(demo=d), demo_json)


def cmd_bench(args: argparse.Namespace) -> int:
    from seamemu.bench import run_bench

    report = run_bench(seconds=args.seconds, module_binary=C.module_binary_arg(args))
    return C.report(args, report, lambda r: r.text())
