# SPDX-License-Identifier: MIT
"""Module commands: cmr (the CMRs through the stub), boot (the kernel's bring-up), and model-diff
(the model against Intel's module)."""

from __future__ import annotations

import argparse
import io

from seamemu.cli import common as C
from seamemu.errors import InputError
from seamemu.files import output_dir, output_file, write_text


def register(sub: argparse._SubParsersAction) -> None:
    p = C.command(sub, "cmr", cmd_cmr,
                  help="the CMRs as the module reports them through the stub, beside the platform's memory "
                       "map")
    C.add_platform_options(p, module_binary=True)
    C.add_kernel_option(p)
    p.add_argument("--lp", type=int, default=0, metavar="N", help="LP to read on (default 0)")
    p.add_argument("--method", choices=("info", "rd"),
                   help="read with TDH.SYS.INFO (info) or TDH.SYS.RD (rd; a TDX 1.5 module "
                        "offers both); default: the way the module generation's kernel reads")
    C.add_json_option(p)

    p = C.command(sub, "boot", cmd_boot,
                  help="the kernel's TDX bring-up (tdx_enable) through the stub on every LP; prints a "
                       "dmesg-like log")
    C.add_platform_options(p, module_binary=True)
    C.add_kernel_option(p)
    p.add_argument("--inject", metavar="SPEC",
                   help="fault injection, e.g. 'leaf=TDH.SYS.KEY.CONFIG,lp=0,count=1:"
                        "status=TDX_RND_NO_ENTROPY' or 'leaf=TDH.SYS.CONFIG:fault=#GP'")
    p.add_argument("--use-tdx", type=C.on_off, default=True, metavar="on|off",
                   help="whether the host enables TDX at all (default on)")
    p.add_argument("--log", metavar="FILE", help="write every SEAMCALL record as JSON lines")
    C.add_json_option(p)
    register_model_diff(sub)


def register_model_diff(sub: argparse._SubParsersAction) -> None:
    p = C.command(sub, "model-diff", cmd_model_diff,
                  help="the Python model against Intel's module on the same SEAMCALL sequences; every "
                       "disagreement with a reproducer",
                  description="Run the catalog of hand-written sequences and then random ones (lifecycle "
                              "orders right and wrong, bad operands, every field ID, TDMRs that break each "
                              "rule) on the model and on Intel's module (--module-binary) from the same "
                              "platform, each on a fresh module, and report where their answers differ.  "
                              "Differences docs/real-module.md explains are listed apart.  Exit status 1 "
                              "when something else disagrees.")
    p.add_argument("--platform", metavar="FILE|PRESET", default="small",
                   help="platform of both (default small: the TDMRs fit its 1 GiB)")
    C.add_module_binary_option(p)
    p.add_argument("--runs", type=C.in_range(1, 10**7), default=1000, metavar="N",
                   help="sequences to run, the catalog's first (default 1000)")
    p.add_argument("--seed", type=C.in_range(0, (1 << 64) - 1, "a 64-bit seed"), metavar="S",
                   help="seed of the random sequences (default: random, printed)")
    p.add_argument("--out", metavar="DIR", help="write one reproducer file per disagreement")
    p.add_argument("--replay", metavar="FILE", help="run one reproducer again on both")
    p.add_argument("--json", action="store_true",
                   help='{"runs": N, "disagreements": [...], "explained": [...]}')


def cmd_model_diff(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    from seamemu.modeldiff.compare import compare_all
    from seamemu.modeldiff.runs import (
        format_report,
        load_reproducer,
        reproducer,
        run_model_diff,
    )
    from seamemu.session import Session
    from seamemu.session.real_module import module_binary_path

    platform_name = args.platform
    steps = None
    if args.out is not None:
        output_dir(args.out, "--out")     # before any run: disagreements need somewhere to go
    if args.replay is not None:
        platform_name, name, steps = load_reproducer(args.replay)
    platform = C.platform_arg(argparse.Namespace(platform=platform_name, module_version=None))
    if module_binary_path(C.module_binary_arg(args), platform) is None:
        raise InputError("model-diff needs Intel's module: --module-binary PATH (or "
                         "$SEAMEMU_MODULE_BINARY, or the platform's [module] binary)")
    model = Session(platform=platform, module_binary=None)
    model.module = model.model       # the model even where the platform names a binary
    model.target.module = model.model
    real = Session(platform=platform, module_binary=C.module_binary_arg(args))
    if steps is not None:
        d, seen = compare_all(model, real, name, steps)
        doc = {"sequence": name, "disagreement": d.to_json() if d else None,
               "explained": [x.to_json() | {"reason": why} for x, why in seen]}
        if args.json:
            C.print_json(doc)
        else:
            print(f"{name}: " + ("the model and Intel's module agree" if d is None else
                                 f"step {d.index}: model {d.model.describe()}; Intel's module "
                                 f"{d.real.describe()}"))
        return 1 if d is not None else 0
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")

    def progress(done: int, found: int) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r{done}/{args.runs} sequences, {found} disagreement(s)", end="",
                  file=sys.stderr, flush=True)

    report = run_model_diff(model, real, runs=args.runs, seed=seed, progress=progress)
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    files = [reproducer(d, platform.name if platform.source.startswith("preset") else
                        platform.source, Path(args.out)) for d in report.disagreements] \
        if args.out else []
    if args.json:
        C.print_json(report.to_json() | {"reproducers": [str(f) for f in files]})
    else:
        print(format_report(report, model, real))
        for f in files:
            print(f"reproducer: {f}")
    return 1 if report.disagreements else 0


def cmd_cmr(args: argparse.Namespace) -> int:
    from seamemu.kernel import generation, stub_files
    from seamemu.kernel.cmr_view import cmr_view, format_cmr_view
    from seamemu.session import Session

    gen = generation(args.kernel)
    platform = C.platform_arg(args)
    if not 0 <= args.lp < platform.num_lps:
        raise InputError(f"--lp {args.lp}: the platform has LPs 0..{platform.num_lps - 1}")
    if args.lp in platform.absent_lps:
        raise InputError(f"--lp {args.lp}: LP {args.lp} is absent on platform '{platform.name}' "
                         "(cpu.absent_lps)")
    view = cmr_view(Session(stub_files(gen), platform=platform, abi=args.abi,
                            module_binary=C.module_binary_arg(args)),
                    lp=args.lp, kernel=gen, method=args.method)
    return C.report(args, view, format_cmr_view)


def cmd_boot(args: argparse.Namespace) -> int:
    from seamemu.kernel import bring_up, generation, stub_files
    from seamemu.kernel.boot_report import bringup_json, format_bringup, write_call_log
    from seamemu.session import Session

    if args.log is not None:
        output_file(args.log, "--log")   # a place that cannot take the log fails first
    gen = generation(args.kernel)
    session = Session(stub_files(gen), platform=C.platform_arg(args), abi=args.abi,
                      inject=args.inject, module_binary=C.module_binary_arg(args))
    result = bring_up(session, gen, use_tdx=args.use_tdx)
    if args.log is not None:
        log = io.StringIO()
        write_call_log(result, log)
        write_text(args.log, log.getvalue(), "--log")
    if args.json:
        C.print_json(bringup_json(result))
    else:
        print(format_bringup(result))
    return 0 if result.ok else 1
