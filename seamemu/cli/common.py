# SPDX-License-Identifier: MIT
"""Options and parsers shared by several commands: sources, platform, CPU state, registers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping

from seamemu.arch.leaves import leaf_by_name, seamldr_leaf_by_name
from seamemu.arch.module_versions import profile_names
from seamemu.arch.registers import ABI_ORDER
from seamemu.errors import InputError

INPUT_REG_OPTIONS = tuple(r for r in ABI_ORDER if r != "rax")


def u64(text: str, what: str) -> int:
    """Parse a 64-bit value (decimal, 0x hex, 0b binary, or negative) naming `what` on error."""
    try:
        value = int(str(text).replace("_", ""), 0)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a number") from None
    if not -(1 << 63) <= value < 1 << 64:
        raise InputError(f"{what}: {text} does not fit in 64 bits")
    return value & ((1 << 64) - 1)


def parse_leaf(text: str) -> int:
    """A leaf as a number or a spec name (TDH.SYS.INFO / TDH_SYS_INFO / SEAMLDR.INFO)."""
    leaf = leaf_by_name(text)
    if leaf is not None:
        return leaf.number
    ldr = seamldr_leaf_by_name(text)
    if ldr is not None:
        return ldr.rax
    if text[:1].isdigit() or text[:1] == "-":
        return u64(text, "--leaf")
    raise InputError(f"--leaf {text!r}: not a number and not a known leaf name (e.g. TDH.SYS.INFO)")


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


def add_gdb_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("debugging")
    g.add_argument("--gdb", metavar="HOST:PORT",
                   help="wait for gdb (target remote HOST:PORT) before the call's first "
                        "instruction; it may set breakpoints, step, read and write registers "
                        "and memory; port 0 picks a free port (printed on stderr)")
    g.add_argument("--gdb-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="how long to wait for gdb to attach, and for its next request while "
                        "it holds the CPU (then the call runs on undebugged); default 300")


def gdb_stub(args: argparse.Namespace):
    """With --gdb, the listening gdb server (machine/gdbstub.py), before anything is built, so
    a bad address or a busy port is reported at once; None without --gdb."""
    if not getattr(args, "gdb", None):
        return None
    from seamemu.machine.gdbstub import GdbStub, parse_address

    host, port = parse_address(args.gdb)
    return GdbStub(host, port, timeout=args.gdb_timeout)


def inputs(args: argparse.Namespace) -> list[str] | None:
    """The program's files: --asm sources then --obj objects; None when neither is given."""
    from seamemu.frontend.objfile import is_object_file

    for path in args.obj:
        if not os.path.isfile(path):
            raise InputError(f"--obj {path}: no such file")
        if not is_object_file(path):
            raise InputError(f"--obj {path}: not an ELF object file (build it with gcc -c; "
                             "give assembly sources with --asm)")
    files = [*(args.asm or []), *args.obj]
    return files or None


def defines(args: argparse.Namespace) -> dict[str, str]:
    out = {}
    for d in args.define:
        name, _, value = d.partition("=")
        if not name.isidentifier():
            raise InputError(f"-D {d!r}: {name!r} is not a macro name")
        out[name] = value or "1"
    return out


def add_platform_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--platform", metavar="FILE|PRESET",
                   help="platform TOML file or preset name (default: the embedded default platform)")
    p.add_argument("--abi", choices=("1.0", "1.5"),
                   help="TDX module ABI generation (default: the platform's)")
    add_module_version_option(p)


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
    return getattr(args, "module_binary", None)


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


def add_register_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs")
    g.add_argument("--leaf", default="0", metavar="N|NAME",
                   help="leaf number or name, goes to RAX (default 0)")
    for r in INPUT_REG_OPTIONS:
        g.add_argument(f"--{r}", metavar="V", help=f"input {r.upper()}")


def register_inputs(args: argparse.Namespace) -> dict[str, int]:
    return {r: u64(getattr(args, r), f"--{r}") for r in INPUT_REG_OPTIONS if getattr(args, r) is not None}


def print_json(obj: Mapping | list) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def hex64(v: int) -> str:
    return f"0x{v:016x}"
