# SPDX-License-Identifier: MIT
"""Module commands: cmr (the CMRs through the stub) and boot (the kernel's bring-up)."""

from __future__ import annotations

import argparse

from seamemu.cli import common as C
from seamemu.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cmr", help="the CMRs as the module reports them through the stub, beside "
                                   "the platform's memory map")
    C.add_platform_options(p)
    C.add_module_binary_option(p)
    p.add_argument("--lp", type=int, default=0, metavar="N", help="LP to read on (default 0)")
    p.add_argument("--method", choices=("info", "rd"),
                   help="read with TDH.SYS.INFO (info) or TDH.SYS.RD (rd; a TDX 1.5 module "
                        "offers both); default: the way the module generation's kernel reads")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cmr)

    p = sub.add_parser("boot", help="the kernel's TDX bring-up (tdx_enable) through the stub on "
                                    "every LP; prints a dmesg-like log")
    C.add_platform_options(p)
    C.add_module_binary_option(p)
    p.add_argument("--inject", metavar="SPEC",
                   help="fault injection, e.g. 'leaf=TDH.SYS.KEY.CONFIG,lp=0,count=1:"
                        "status=TDX_RND_NO_ENTROPY' or 'leaf=TDH.SYS.CONFIG:fault=#GP'")
    p.add_argument("--use-tdx", type=C.on_off, default=True, metavar="on|off",
                   help="whether the host enables TDX at all (default on)")
    p.add_argument("--log", metavar="FILE", help="write every SEAMCALL record as JSON lines")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_boot)


def cmd_cmr(args: argparse.Namespace) -> int:
    from seamemu.host.cmr_view import cmr_view, format_cmr_view
    from seamemu.session import Session

    platform = C.platform_arg(args)
    if not 0 <= args.lp < platform.num_lps:
        raise InputError(f"--lp {args.lp}: the platform has LPs 0..{platform.num_lps - 1}")
    view = cmr_view(Session(platform=platform, abi=args.abi,
                            module_binary=C.module_binary_arg(args)),
                    lp=args.lp, method=args.method)
    if args.json:
        C.print_json(view.to_json())
    else:
        print(format_cmr_view(view))
    return 0


def cmd_boot(args: argparse.Namespace) -> int:
    from seamemu.host.boot_report import bringup_json, format_bringup, write_call_log
    from seamemu.host.driver import bring_up

    result = bring_up(C.platform_arg(args), abi=args.abi, inject=args.inject, use_tdx=args.use_tdx,
                      module_binary=C.module_binary_arg(args))
    if args.log:
        try:
            with open(args.log, "w", encoding="utf-8") as out:
                write_call_log(result, out)
        except OSError as e:
            raise InputError(f"--log {args.log}: cannot write: {e.strerror or e}") from None
    if args.json:
        C.print_json(bringup_json(result))
    else:
        print(format_bringup(result))
    return 0 if result.ok else 1
