# SPDX-License-Identifier: MIT
"""Options and parsers shared by several commands: the argument parser with one-line usage
errors, numbers (ASCII digits, finite, in a stated range), sources, platform, CPU state,
registers, and the outputs a command writes.

A command module adds its options with `type=int`/`type=float` as usual: `Parser` maps those
to `integer`/`finite` (ASCII digits only; no nan or inf), and `in_range`/`seconds` add the
option's own bounds.  Files the user names go through seamemu.files (bounded reads, one-line
write errors)."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from seamemu.arch.leaves import ABI_GENERATIONS, leaf_rax
from seamemu.arch.module_versions import profile_names
from seamemu.arch.registers import ABI_ORDER
from seamemu.errors import InputError
from seamemu.jsonout import json_value

INPUT_REG_OPTIONS = tuple(r for r in ABI_ORDER if r != "rax")

# The longest value an error message repeats back: an argument of a megabyte is named by its
# start, not printed whole.
_SHOWN = 60
# Durations: finite, positive, and at most a week (a fuzz campaign longer than that is a typo,
# and a larger number overflows the engines' microsecond timers).
MAX_SECONDS = 7 * 24 * 3600.0


T = TypeVar("T")


def shown(text: object) -> str:
    """`text` quoted for an error message, cut to its first characters when long."""
    t = str(text)
    return repr(t) if len(t) <= _SHOWN else repr(t[:_SHOWN]) + f"... ({len(t):,} characters)"


def one_line(message: str) -> str:
    """A message line cut to a terminal's worth, so no input can make an error screen-sized."""
    return message if len(message) <= 400 else message[:400] + f"... ({len(message):,} characters)"


class Parser(argparse.ArgumentParser):
    """argparse with seamemu's error style: `seamemu CMD: error: WHAT` and one hint line, exit
    2, instead of the whole usage block; `type=int` and `type=float` take ASCII digits only
    and refuse nan/inf, for every option of every command."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("type", int, integer)
        self.register("type", float, finite)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)}\nsee {self.prog} --help\n")

    def parse_args(self, args=None, namespace=None):
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            # Name the command the stray words were given to, not the top level.
            chosen: argparse.ArgumentParser = self
            for action in self._actions:
                if isinstance(action, argparse._SubParsersAction):
                    chosen = action.choices.get(str(getattr(ns, action.dest, "")), self)
            chosen.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


_DECIMAL = re.compile(r"[+-]?[0-9](?:_?[0-9])*")
_BASED = re.compile(r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0+|"
                    r"[1-9](?:_?[0-9])*)")


def integer(text: str) -> int:
    """An int option's value: ASCII decimal digits (Python's int() also takes `١٢٣`)."""
    t = text.strip()
    if len(t) > 200 or not _DECIMAL.fullmatch(t):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number")
    return int(t)


def finite(text: str) -> float:
    """A float option's value: ASCII, finite (nan and inf would make bounds never trigger)."""
    t = text.strip()
    try:
        if not t.isascii() or len(t) > 100:
            raise ValueError
        value = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a finite number")
    return value


def in_range(lo: int, hi: int, why: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in lo..hi (`why` says where the bound comes from)."""
    def parse(text: str) -> int:
        value = integer(text)
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} is less than {lo:,}, the least it takes")
        if value > hi:
            raise argparse.ArgumentTypeError(
                f"{value} is more than {hi:,}, the most it takes" + (f" ({why})" if why else ""))
        return value
    parse.__name__ = "integer"
    return parse


def in_seconds(hi: float) -> Callable[[str], float]:
    """An argparse type: a duration in seconds, more than 0 and at most `hi`."""
    def parse(text: str) -> float:
        value = finite(text)
        if not 0 < value <= hi:
            raise argparse.ArgumentTypeError(
                f"{shown(text)} seconds: give more than 0 and at most {hi:,g}")
        return value
    parse.__name__ = "seconds"
    return parse


seconds = in_seconds(MAX_SECONDS)


def u64(text: str, what: str) -> int:
    """Parse a 64-bit value (decimal, 0x hex, 0b binary, or negative) naming `what` on error."""
    t = str(text).strip()
    if len(t) > 200 or not _BASED.fullmatch(t):
        raise InputError(f"{what}: {shown(text)} is not a number")
    value = int(t.replace("_", ""), 0)
    if not -(1 << 63) <= value < 1 << 64:
        raise InputError(f"{what}: {shown(text)} does not fit in 64 bits")
    return value & ((1 << 64) - 1)


def parse_leaf(text: str) -> int:
    """A leaf as a number or a spec name (TDH.SYS.INFO / TDH_SYS_INFO / SEAMLDR.INFO, or a
    TDCALL leaf, TDG.VP.INFO)."""
    rax = leaf_rax(text)
    if rax is not None:
        return rax
    if text[:1].isdigit() or text[:1] == "-":
        return u64(text, "--leaf")
    raise InputError(f"--leaf {text!r}: not a number and not a known leaf name (e.g. TDH.SYS.INFO, "
                     "TDG.VP.INFO)")


def on_off(text: str) -> bool:
    t = text.lower()
    if t in ("on", "1", "yes", "true", "loaded", "present"):
        return True
    if t in ("off", "0", "no", "false", "absent"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")


def add_source_options(p: argparse.ArgumentParser, *, entry_default: str | None = None,
                       required: bool = False) -> None:
    g = p.add_argument_group("assembly")
    g.add_argument("--asm", nargs="+", metavar="FILE", required=required,
                   help="kernel-style .S files, assembled as one program "
                        "(default: the shipped asm/seamcall.S)")
    add_object_options(g)
    g.add_argument("--entry", metavar="SYMBOL", default=entry_default,
                   help=f"symbol to call (default: {entry_default})" if entry_default else "symbol to call")
    g.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                   help="add an include directory")
    g.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VALUE]",
                   help="define a preprocessor macro")
    g.add_argument("--assembler", choices=("keystone", "gnu"), default="keystone",
                   help="keystone (default, pip-installable) or GNU as from binutils")


def add_object_options(g) -> None:
    g.add_argument("--obj", action="extend", nargs="+", default=[], metavar="FILE.o",
                   help="ELF relocatable objects as gcc -c or kbuild built them, linked with "
                        "the --asm files (repeatable)")
    g.add_argument("--stub", action="append", default=[], metavar="SYMBOL",
                   help="define SYMBOL as a function that only returns, for a symbol an object "
                        "needs and the test does not (e.g. __x86_return_thunk); repeatable")


def add_alternatives_option(g) -> None:
    g.add_argument("--alternatives", choices=("cpu", "original", "patched"), default="cpu",
                   help="the objects' kernel alternatives (.altinstructions): applied as the "
                        "kernel applies them for the platform's CPUID (cpu, default; a feature "
                        "CPUID cannot decide is an error), none (original) or all (patched)")


def add_gdb_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("debugging")
    g.add_argument("--gdb", metavar="HOST:PORT",
                   help="wait for gdb (target remote HOST:PORT) before the call's first "
                        "instruction; it may set breakpoints, step, read and write registers "
                        "and memory; port 0 picks a free port (printed on stderr)")
    g.add_argument("--gdb-timeout", type=seconds, default=300.0, metavar="SECONDS",
                   help="how long to wait for gdb to attach, and for its next request while "
                        "it holds the CPU (then the call runs on undebugged); default 300")


def gdb_stub(args: argparse.Namespace):
    """With --gdb, the listening gdb server (machine/gdbstub.py), before anything is built, so
    a bad address or a busy port is reported at once; None without --gdb."""
    if getattr(args, "gdb", None) is None:     # `--gdb ''` is a bad address, not "no gdb"
        return None
    from seamemu.machine.gdbstub import GdbStub, parse_address

    host, port = parse_address(args.gdb)
    return GdbStub(host, port, timeout=args.gdb_timeout)


def inputs(args: argparse.Namespace) -> list[str] | None:
    """The program's files: --asm sources then --obj objects; None when neither is given."""
    from seamemu.files import read_bytes
    from seamemu.frontend.objfile import ELF_MAGIC

    for path in args.obj:
        # Bounded: missing, a directory, unreadable or too large (/dev/zero) is one line.
        if read_bytes(path, "--obj", "object file")[:4] != ELF_MAGIC:
            raise InputError(f"--obj {path}: not an ELF object file (build it with gcc -c; "
                             "give assembly sources with --asm)")
    files = [*(args.asm or []), *args.obj]
    return files or None


def defines(args: argparse.Namespace) -> dict[str, str]:
    """-D NAME[=VALUE] as a dict; InputError for one the preprocessor cannot take."""
    from seamemu.frontend.cpp import define_problem

    out = {}
    for d in args.define:
        name, _, value = d.partition("=")
        problem = define_problem(name, value)
        if problem:
            raise InputError(f"-D {shown(d)}: {problem}")
        out[name] = value or "1"
    return out


def add_platform_options(p: argparse.ArgumentParser, *, module_binary: bool = False) -> None:
    """The machine a command runs on: --platform, --abi, --module-version, and with
    `module_binary` --module-binary (Intel's module instead of the model)."""
    p.add_argument("--platform", metavar="FILE|PRESET",
                   help="platform TOML file or preset name (default: the embedded default platform)")
    p.add_argument("--abi", choices=ABI_GENERATIONS,
                   help="TDX module ABI generation (default: the platform's)")
    add_module_version_option(p)
    if module_binary:
        add_module_binary_option(p)


def add_module_version_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--module-version", metavar="VERSION",
                   help="TDX module release loaded at boot, replacing the platform's [module] "
                        f"version ({', '.join(profile_names())})")


def add_module_binary_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--module-binary", metavar="PATH",
                   help="run Intel's TDX module (a libtdx.so you built, see tools/"
                        "build_tdx_module.sh) instead of the Python model for module calls; "
                        "default: $SEAMEMU_MODULE_BINARY, else the platform's [module] binary")


def module_binary_arg(args: argparse.Namespace) -> str | None:
    path = getattr(args, "module_binary", None)
    if path is not None and (not path or "\0" in path):
        raise InputError(f"--module-binary {path!r}: not a file name")
    return path


def platform_arg(args: argparse.Namespace):
    """--platform and --module-version as one Platform."""
    from seamemu.platform import as_platform

    return as_platform(getattr(args, "platform", None),
                       module_version=getattr(args, "module_version", None))


def add_state_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("emulated CPU state")
    g.add_argument("--vmx", type=on_off, metavar="on|off", help="VMX operation (after VMXON); default on")
    g.add_argument("--seamrr", type=on_off, metavar="on|off",
                   help="SEAMRR enabled by BIOS; default: the platform's")
    g.add_argument("--cpl", type=int, metavar="N", help="current privilege level 0..3; default 0")
    g.add_argument("--module", type=on_off, metavar="loaded|absent", help="TDX module loaded; default loaded")
    g.add_argument("--lp", type=int, default=0, metavar="N", help="logical processor to run on (default 0)")
    g.add_argument("--td", action="store_true",
                   help="the LP runs a vCPU of a TD (SEAM VMX non-root operation): TDCALL reaches "
                        "the TDX module's guest side; default stub asm/tdcall.S, entry "
                        "__tdcall_ret, convention tdcall")


def add_register_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs")
    g.add_argument("--leaf", default="0", metavar="N|NAME",
                   help="leaf number or name, goes to RAX (default 0)")
    for r in INPUT_REG_OPTIONS:
        g.add_argument(f"--{r}", metavar="V", help=f"input {r.upper()}")


def register_inputs(args: argparse.Namespace) -> dict[str, int]:
    return {r: u64(getattr(args, r), f"--{r}") for r in INPUT_REG_OPTIONS if getattr(args, r) is not None}


def add_call_options(p: argparse.ArgumentParser, convention_help: str, *,
                     alternatives: bool = True) -> None:
    """What to call and how: the sources and entry, --alternatives (unless the command keeps
    the default), --kernel, and --convention."""
    from seamemu.kernel.calling import CONVENTIONS

    add_source_options(p)
    if alternatives:
        add_alternatives_option(p)
    add_kernel_option(p)
    p.add_argument("--convention", choices=CONVENTIONS, help=convention_help)


def add_kernel_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernel", metavar="GEN",
                   help="the Linux kernel generation whose TDX host code to play: mainline "
                        "(default), 6.8 or v5-2022")


def guest_source(args: argparse.Namespace) -> None:
    """--td without a convention, or a guest convention: the shipped guest stub
    (asm/tdcall.S) when no --asm/--obj is given, its entry for the convention, and the tdcall
    convention by default."""
    from seamemu.kernel.calling import GUEST_CONVENTIONS
    from seamemu.stubs import GUEST_ENTRY, GUEST_STUB, HYPERCALL_ENTRY, stub

    convention = getattr(args, "convention", None)
    td = getattr(args, "td", False)
    # --td with a host convention runs the host's code in a TD (its SEAMCALL meets #UD).
    if not ((td and convention is None) or convention in GUEST_CONVENTIONS):
        return
    if convention is None:
        args.convention = convention = "tdcall"
    if getattr(args, "asm", None) is None and not getattr(args, "obj", None):
        args.asm = [str(stub(GUEST_STUB))]
        if getattr(args, "entry", None) is None:
            args.entry = HYPERCALL_ENTRY if convention == "hypercall" else GUEST_ENTRY


def check_kernel_option(args: argparse.Namespace) -> None:
    """An unknown --kernel is the first thing said, named as the option the user typed."""
    if getattr(args, "kernel", None) is not None:
        from seamemu.kernel import generation

        generation(args.kernel, "--kernel")


def kernel_source(args: argparse.Namespace):
    """--kernel's generation; fills in --asm (its stub), --entry and --convention when absent
    (the guest's stub, entry and convention with --td: guest_source)."""
    from seamemu.kernel import generation, stub_files

    guest_source(args)
    gen = generation(getattr(args, "kernel", None))
    if getattr(args, "asm", None) is None and not getattr(args, "obj", None):
        args.asm = [str(p) for p in stub_files(gen)]
    if getattr(args, "entry", None) is None:
        args.entry = gen.entry
    if getattr(args, "convention", None) is None:
        args.convention = gen.convention
    return gen


def print_json(obj: Mapping | list) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def command(sub: argparse._SubParsersAction, name: str, func: Callable[..., int],
            **parser_args: Any) -> argparse.ArgumentParser:
    """A subcommand `name` run by `func` (argparse add_parser arguments: help, description)."""
    p = sub.add_parser(name, **parser_args)
    p.set_defaults(func=func)
    return p


def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")


def report(args: argparse.Namespace, result: T, to_text: Callable[[T], str],
           to_json: Callable[[T], Any] = json_value, status: int = 0) -> int:
    """Print a command's result, as JSON with --json, else as text; return `status`."""
    if args.json:
        print_json(to_json(result))
    else:
        print(to_text(result))
    return status


def written(paths: list[Path]) -> list[dict]:
    """The files a command wrote, for its --json: path and size."""
    return [{"path": str(p), "bytes": p.stat().st_size} for p in paths]

