# SPDX-License-Identifier: MIT
"""Platform commands: detect (TDX detection in assembly) and hotplug (policy + emulation)."""

from __future__ import annotations

import argparse

from seamemu.cli import common as C
from seamemu.errors import InputError

_HOTPLUG_USAGE = ("say what to do: add BASE SIZE, remove BASE SIZE, cpu add N, cpu remove N, "
                  "kexec, or --table")


def register(sub: argparse._SubParsersAction) -> None:
    p = C.command(sub, "detect", cmd_detect,
                  help="run asm/tdx_detect.S on every CPU: what the kernel prints at boot about TDX, and "
                       "sysfs-style values")
    _platform_option(p)
    C.add_kernel_option(p)
    C.add_json_option(p)

    p = C.command(sub, "hotplug", cmd_hotplug,
                  usage="%(prog)s {add|remove} BASE SIZE | cpu {add|remove} N | kexec | --table [options]",
                  help="a memory/CPU hotplug event: the kernel policy's decision, applied to the emulation; "
                       "or the whole decision table",
                  description="Decide on one hotplug event with a kernel policy and, when allowed, apply it "
                              "to the emulated machine: then show the CMRs the module still reports and "
                              "what a kernel load from the range does.  BASE and SIZE take 0x..., decimal, "
                              "or 4G/512M/640K.")
    p.add_argument("words", nargs="*", metavar="ACTION",
                   help="add BASE SIZE | remove BASE SIZE | cpu add N | cpu remove N | kexec")
    p.add_argument("--kind", choices=("acpi", "driver"), default="acpi",
                   help="memory events: ACPI (firmware) hotplug, or memory a driver (dax/kmem, "
                        "virtio-mem, CXL) hands to or takes from the kernel (default acpi)")
    C.add_kernel_option(p)
    p.add_argument("--policy", action="append", metavar="NAME",
                   help="one of the kernel's policies: v5-2022 has v5-2022 (the series as "
                        "posted), first-stage and cmr-aware (proposals from its thread); 6.8 "
                        "has 6.8; mainline has upstream (default: the kernel's first; --table: "
                        "all, or each one given)")
    p.add_argument("--use-tdx", type=C.on_off, default=True, metavar="on|off",
                   help="whether the host uses TDX (off: the module is never initialised)")
    _platform_option(p)
    p.add_argument("--table", action="store_true",
                   help="print the decision table: every event x place x use_tdx x policy")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--markdown", action="store_true", help="--table as a Markdown table")
    p.add_argument("--boot", action="store_true",
                   help="bring the module up with the kernel's flow first, and after the event "
                        "show what its PAMT says of the affected pages (TDH.PHYMEM.PAGE.RDMD)")


def _platform_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--platform", metavar="FILE|PRESET",
                   help="platform TOML file or preset name (default: the embedded default)")
    C.add_module_version_option(p)


def cmd_detect(args: argparse.Namespace) -> int:
    from seamemu.session.detect import detect, format_detect

    report = detect(C.platform_arg(args), kernel=args.kernel)
    if args.json:
        C.print_json(report.to_json())
    else:
        print(format_detect(report))
    return 0


def _size(text: str, what: str) -> int:
    from seamemu.platform.units import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise InputError(f"{what} {text!r}: {exc}") from None


def parse_event(words: list[str], kind: str):
    """The Event the positional words describe (InputError naming what is wrong)."""
    from seamemu.platform import Event

    if not words:
        raise InputError(_HOTPLUG_USAGE)
    action, rest = words[0], words[1:]
    if action in ("add", "remove"):
        if len(rest) != 2:
            raise InputError(f"hotplug {action}: needs BASE and SIZE (e.g. {action} 0x380000000 "
                             "128M), got " + (" ".join(rest) or "nothing"))
        base, size = _size(rest[0], "BASE"), _size(rest[1], "SIZE")
        if size == 0:
            raise InputError(f"SIZE {rest[1]!r}: a hotplug event covers at least one byte")
        if (base + size) >> 64:
            raise InputError(f"hotplug {action} {rest[0]} {rest[1]}: the range ends past 2^64")
        return Event(f"{kind}-mem-{action}", base, size)
    if action == "cpu":
        if len(rest) != 2 or rest[0] not in ("add", "remove"):
            raise InputError("hotplug cpu: needs add|remove and a CPU number (e.g. cpu remove 3)")
        try:
            lp = C.integer(rest[1])
        except argparse.ArgumentTypeError:
            raise InputError(f"hotplug cpu {rest[0]}: CPU {C.shown(rest[1])} is not a number") from None
        return Event(f"acpi-cpu-{rest[0]}", lp=lp)
    if action == "kexec" and not rest:
        return Event("kexec")
    raise InputError(f"hotplug: unknown action {' '.join(words)!r}; {_HOTPLUG_USAGE}")


def cmd_hotplug(args: argparse.Namespace) -> int:
    from seamemu.kernel import generation
    from seamemu.kernel.hotplug import get_policy

    if args.kernel is not None:
        generation(args.kernel)             # an unknown name is the first thing said
    policies = tuple(get_policy(p).name for p in (args.policy or ()))
    if args.table:
        if args.words:
            raise InputError(f"hotplug --table takes no action, got {' '.join(args.words)!r}")
        return _print_table(args, policies)
    if args.markdown:
        raise InputError("--markdown goes with --table")
    if len(policies) > 1:
        raise InputError(f"hotplug: one --policy for an event, got {', '.join(policies)}")
    from seamemu.session.hotplug_apply import run_hotplug

    event = parse_event(args.words, args.kind)
    kernel = args.kernel
    if kernel is None and policies:         # a policy names its generation
        kernel = get_policy(policies[0]).kernel
    run = run_hotplug(C.platform_arg(args), event, kernel=generation(kernel),
                      policy=policies[0] if policies else None, use_tdx=args.use_tdx,
                      boot=args.boot)
    if args.json:
        doc = run.to_json()
        doc["platform"] = run.emulation.platform.name
        C.print_json(doc)
    else:
        print(format_hotplug(run))
    return 0


def _print_table(args: argparse.Namespace, policies: tuple[str, ...]) -> int:
    from seamemu.kernel import generation
    from seamemu.kernel.hotplug_table import decision_table, format_table, sample_description

    platform = C.platform_arg(args)
    if args.kernel is not None and not policies:
        policies = generation(args.kernel).hotplug_policies
    rows = decision_table(platform, policies or None)
    if args.json:
        print(format_table(rows, "json"))
        return 0
    if not args.markdown:
        print(f"hotplug decision table for platform '{platform.name}'; sample ranges:")
        for line in sample_description(platform).splitlines():
            print(f"  {line}")
        print()
    print(format_table(rows, "markdown" if args.markdown else "text"), end="")
    return 0


def format_hotplug(run) -> str:
    """One event's decision and its effect on the emulation, as a person reads it."""
    from seamemu.kernel import generation
    from seamemu.kernel.generations import FLOW_BOOT
    from seamemu.platform.units import fmt_range

    r = run.result
    d = r.decision
    when = "at boot" if generation(r.kernel).flow == FLOW_BOOT else "(by KVM, before the event)"
    where = f"  ({r.place} the CMRs)" if r.place in ("inside", "outside") else (
        "  (partly inside the CMRs)" if r.place == "partial" else "")
    out = [
        f"event:     {r.event.describe()}{where}",
        f"platform:  {run.emulation.platform.name}",
        f"kernel:    {r.kernel}   policy: {r.policy}   use_tdx={'on' if r.use_tdx else 'off'}"
        f"   module initialised {when}: {'yes' if r.situation.module_initialized else 'no'}",
        f"decision:  {'ALLOW' if d.allow else 'REJECT'}   severity: {d.severity}",
        f"dmesg:     {d.message or '(the kernel prints nothing)'}",
        f"seamemu:   {d.note}" if d.note else "seamemu:   -",
        f"rule:      {d.rule}",
        f"because:   {d.source}",
        f"applied:   {r.change}",
        "",
        "after the event:",
    ]
    out[1:1] = [f"setup:     {line}" for line in run.setup]
    if run.cmrs is not None:
        cmrs = ", ".join(fmt_range(b, n) for b, n in run.cmrs.cmrs)
        out.append(f"  {run.cmrs.method} reports the CMRs (static since MCHECK): {cmrs}")
    else:
        out.append(f"  CMRs not read: {run.cmrs_skipped}")
    if run.seamcall is not None:
        out += [f"  {line}" for line in run.seamcall.report().splitlines()]
    if run.probe is not None:
        out += [f"  {line}" for line in run.probe.report().splitlines()]
    out += [view.report() for view in run.pamt]
    return "\n".join(out)


__all__ = ["cmd_detect", "cmd_hotplug", "format_hotplug", "parse_event", "register"]
