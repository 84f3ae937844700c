# SPDX-License-Identifier: MIT
"""`seamemu fuzz`: fuzz the register inputs of a SEAMCALL calling-convention stub."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import time
from pathlib import Path

from seamemu.cli import common as C
from seamemu.errors import InputError
from seamemu.files import output_dir, read_bytes
from seamemu.fuzz.promises import VARIANT_CONVENTIONS, VARIANTS
from seamemu.fuzz.reproducer import Target
from seamemu.fuzz.worker import MODES, FuzzConfig, Worker
from seamemu.kernel.calling import GUEST_CONVENTIONS

DEFAULT_SECONDS = 60.0
MAX_RUNS = 10**12
# Each worker is a process with its own emulated machine (tens of MB); more workers than CPUs
# only share the CPUs, so the count is bounded by them.
JOBS_PER_CPU = 2


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def max_jobs() -> int:
    return JOBS_PER_CPU * usable_cpus()


def register(sub: argparse._SubParsersAction) -> None:
    p = C.command(sub, "fuzz", cmd_fuzz,
                  help="fuzz a SEAMCALL (or a TD guest's TDCALL) stub's register inputs and report ABI bugs "
                       "with reproducers",
                  description="Run a stub on generated inputs, CPU states and module answers, check the "
                              "calling-convention invariants on every run, and save a shrunk reproducer per "
                              "finding (replay it with `seamemu run --replay FILE`).  The rules are those "
                              "of --kernel's calling convention.  Without --asm the kernel's own stub is "
                              "fuzzed (entry __seamcall_ret, or __seamcall for v5-2022); with --asm, "
                              "--entry is required.  Exit status 1 when something was found.")
    C.add_call_options(p, "args: RDI=leaf, RSI=struct tdx_module_args (6.8, mainline); legacy: "
                       "the 2022 __seamcall(fn, rcx, rdx, r8, r9, out) (v5-2022); raw: "
                       "registers as given; the TD guest's tdcall (__tdcall*) and hypercall "
                       "(__tdx_hypercall) (default: the kernel's, tdcall with --td)", alternatives=False)
    p.add_argument("--variant", choices=VARIANTS,
                   help="args and tdcall only: plain (__seamcall), ret (__seamcall_ret) or "
                        "saved (__seamcall_saved_ret); default: from the entry's name")
    p.add_argument("--td", action="store_true",
                   help="fuzz the TD guest's side: TDCALL from a TD's vCPU, the guest's rules; "
                        "without --asm the shipped asm/tdcall.S (entry __tdcall_ret, or "
                        "__tdx_hypercall with --convention hypercall)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--time", type=C.seconds, metavar="SECONDS",
                        help=f"run for this long (default {DEFAULT_SECONDS:g} s, at most a week)")
    budget.add_argument("--runs", type=C.in_range(1, MAX_RUNS), metavar="N",
                        help="stop after N runs (over all jobs)")
    p.add_argument("--seed", type=C.in_range(0, (1 << 64) - 1, "a 64-bit seed"), metavar="N",
                   help="seed of the generator (default: random)")
    p.add_argument("--out", default="seamemu-fuzz", metavar="DIR",
                   help="corpus and findings directory, shareable between workers (default ./seamemu-fuzz)")
    cpus, most = usable_cpus(), max_jobs()
    p.add_argument("--jobs", type=C.in_range(1, most, f"at most {JOBS_PER_CPU} per CPU this "
                                                      f"process may use, and it may use {cpus}"),
                   default=1, metavar="N",
                   help=f"worker processes (default 1; at most {JOBS_PER_CPU} per usable CPU, {most} here)")
    p.add_argument("--worker-id", default="w", metavar="ID",
                   help="this invocation's worker name in --out (give each machine its own)")
    p.add_argument("--mode", choices=MODES, default="random",
                   help="random (default, fastest), coverage (block-coverage guided, corpus in "
                        "--out) or hypothesis (cases from the exported Hypothesis strategies)")
    p.add_argument("--diff", nargs="+", metavar="FILE",
                   help="differential mode: also run this implementation (the reference) on "
                        "every case and report where the two disagree")
    p.add_argument("--diff-entry", metavar="SYMBOL", help="entry of the reference (default: --entry)")
    C.add_module_binary_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _module_binary(args: argparse.Namespace) -> str | None:
    """--module-binary or $SEAMEMU_MODULE_BINARY (the fuzzer's platform is the default one)."""
    from seamemu.platform import as_platform
    from seamemu.session.real_module import load_image, module_binary_path

    found = module_binary_path(C.module_binary_arg(args), as_platform(None))
    if found is None:
        return None
    load_image(*found)           # a bad path or image is a one-line error before any worker
    return found[0]


def cmd_fuzz(args: argparse.Namespace) -> int:
    from seamemu.fuzz.campaign import ProgressLine, run_fuzz

    if args.td and args.convention not in (None, *GUEST_CONVENTIONS):
        raise InputError(f"--td with --convention {args.convention}: a TD guest calls with "
                         f"{' or '.join(GUEST_CONVENTIONS)}")
    _resolve_kernel(args)
    if args.variant and args.convention not in VARIANT_CONVENTIONS:
        raise InputError(f"--variant {args.variant}: only the "
                         f"{' and '.join(VARIANT_CONVENTIONS)} conventions have variants")
    # Before any work, through the bounded reader: missing, a directory or too large (a
    # device such as /dev/zero) is one line naming the option.
    for option, paths in (("--asm", args.asm or []), ("--diff", args.diff or [])):
        for path in paths:
            read_bytes(path, option, "assembly source")
    output_dir(args.out, "--out")   # before any work: findings must have somewhere to go
    asm, entry = _target(args)
    defines = C.defines(args)
    target = Target.of(asm, entry, args.include, defines, args.assembler, args.stub)
    reference = None
    if args.diff:
        reference = Target.of(args.diff, args.diff_entry or entry, args.include, defines,
                              args.assembler, args.stub)
    seconds = args.time if args.time is not None or args.runs is not None else DEFAULT_SECONDS
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    config = FuzzConfig(target, args.convention, args.variant, kernel=args.kernel_gen,
                        mode=args.mode, runs=args.runs,
                        seconds=seconds, seed=seed, out=args.out, jobs=args.jobs,
                        reference=reference, worker_id=args.worker_id,
                        module_binary=_module_binary(args))
    line = None if args.quiet else ProgressLine()
    started = time.time()
    interrupted = [False]
    try:
        with _ctrl_c_stops_the_campaign(interrupted):
            summary = run_fuzz(config, progress=line)
    except KeyboardInterrupt:          # a second Ctrl-C, or one before the loops started
        raise KeyboardInterrupt(saved_findings(Path(args.out), started)) from None
    finally:
        if line is not None:
            line.close()
    if args.json:
        C.print_json(summary)
    else:
        print(format_summary(summary))
    if interrupted[0]:
        raise KeyboardInterrupt(saved_findings(Path(args.out), started))
    return 1 if summary["findings"] else 0


@contextlib.contextmanager
def _ctrl_c_stops_the_campaign(interrupted: list[bool]):
    """The first Ctrl-C ends the campaign after the current run of each worker (the summary is
    still printed, then how many findings were saved and where); a second one stops at once.
    `interrupted[0]` says afterwards whether it came."""
    Worker.clear_stop()

    def on_sigint(signum, frame):
        if Worker.stop_requested():
            raise KeyboardInterrupt
        Worker.request_stop()

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:                 # not the main thread: leave Ctrl-C as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupted[0] = Worker.stop_requested()
        Worker.clear_stop()


def saved_findings(out: Path, since: float) -> str:
    """What an interrupted campaign leaves: how many reproducers it saved, and where."""
    where = out / "findings"
    try:
        saved = [p for p in where.glob("*.json") if p.stat().st_mtime >= since - 1]
    except OSError:
        saved = []
    if not saved:
        return f"no finding saved (reproducers go to {where}/)"
    return (f"{len(saved)} finding(s) saved in {where}/ (replay one with: seamemu run --replay "
            f"{sorted(saved)[0]})")


def _resolve_kernel(args: argparse.Namespace) -> None:
    """--kernel and --convention together: the generation whose rules apply (None for raw)."""
    from seamemu.kernel import generation, generation_with

    if args.td or args.convention in GUEST_CONVENTIONS:
        if args.kernel is not None:
            raise InputError(f"--kernel {args.kernel}: the TD guest's side has no host kernel "
                             "generation (its rules are Linux v6.6+ arch/x86/coco/tdx)")
        args.convention = args.convention or "tdcall"
        args.kernel_gen = None
        return
    if args.kernel is not None:
        gen = generation(args.kernel)
        args.convention = args.convention or gen.convention
        if args.convention not in ("raw", gen.convention):
            raise InputError(f"--convention {args.convention}: kernel {gen.name} calls "
                             f"SEAMCALL with the {gen.convention} convention")
    else:
        args.convention = args.convention or "args"
        gen = generation_with(args.convention)
    args.kernel_gen = None if args.convention == "raw" else gen.name


def _target(args: argparse.Namespace) -> tuple[list[str], str]:
    """The files and entry to fuzz: the kernel's shipped stub when neither --asm nor --obj is
    given (--entry then defaults to its usual wrapper); else --entry must say which function."""
    from seamemu.kernel import generation, stub_files

    files = C.inputs(args)
    if files:
        if args.entry is None:
            raise InputError("--entry SYMBOL is required with --asm/--obj: the function to fuzz")
        return files, args.entry
    if args.convention == "raw":
        raise InputError("--convention raw needs --asm FILE --entry SYMBOL: no shipped stub "
                         "takes its registers as given")
    if args.convention in GUEST_CONVENTIONS:
        from seamemu.stubs import GUEST_ENTRY, GUEST_STUB, HYPERCALL_ENTRY, stub

        default = HYPERCALL_ENTRY if args.convention == "hypercall" else GUEST_ENTRY
        return [str(stub(GUEST_STUB))], args.entry or default
    gen = generation(args.kernel_gen)
    return [str(p) for p in stub_files(gen)], args.entry or gen.entry


def format_summary(s: dict) -> str:
    label = f"{s['convention']}/{s['variant']}" if s["convention"] in VARIANT_CONVENTIONS \
        else s["convention"]
    rules = f", kernel {s['kernel']}'s rules" if s.get("kernel") else ""
    lines = [f"seamemu fuzz: {s['entry']} ({label}){rules}, {s['mode']} mode, seed {s['seed']}",
             f"  {s['runs']:,} runs in {s['seconds']:.1f} s ({s['runs_per_s']:,.0f}/s, "
             f"{s['runs_per_s_per_worker']:,.0f}/s per worker, {s['jobs']} job(s))"]
    cov = s["coverage"]
    lines.append(f"  coverage: {cov['edges']} edges, {cov['features']} features; corpus {s['corpus']}")
    if s.get("reference"):
        lines.append(f"  reference: {', '.join(s['reference']['asm'])} :: {s['reference']['entry']}")
    if not s["findings"]:
        lines.append("no findings")
        return "\n".join(lines)
    lines.append(f"{len(s['findings'])} finding(s):")
    for f in s["findings"]:
        lines.append(f"  {f['rule']} at {f['location']}" + (f"  ({f['source']})" if f["source"] else ""))
        lines.append(f"    {f['detail']}")
        lines.append(f"    reproducer: {f['reproducer']}")
    lines.append("replay one with: seamemu run --replay FILE")
    return "\n".join(lines)


__all__ = ["cmd_fuzz", "format_summary", "max_jobs", "register", "saved_findings", "usable_cpus"]
