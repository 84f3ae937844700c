#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Re-check each keystone trap the seamemu front end works around, one subprocess per trap.

Each probe runs in its own interpreter with a timeout, because several traps crash or hang
the process.  The output says, per trap, whether it still holds in the installed keystone;
a trap that no longer holds means a workaround in seamemu/frontend may be obsolete.

    python tools/probe_keystone.py            # all probes
    python tools/probe_keystone.py radix_disp # one probe by name
    python tools/probe_keystone.py --list
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

_PRELUDE = textwrap.dedent("""
    import json, sys
    from keystone import Ks, KsError, KS_ARCH_X86, KS_MODE_64, KS_OPT_SYNTAX_ATT
    ks = Ks(KS_ARCH_X86, KS_MODE_64)
    ks.syntax = KS_OPT_SYNTAX_ATT
    def asm(text, addr=0):
        try:
            enc, n = ks.asm(text, addr)
            return {"hex": bytes(enc).hex() if enc else None, "count": n}
        except KsError as exc:
            return {"error": str(exc)}
    print(json.dumps(asm(sys.argv[1])))
""")


@dataclass(frozen=True)
class Probe:
    name: str
    what: str
    source: str
    # Decides from the outcome ("ok" with the JSON answer, "crash", "hang") whether the trap holds.
    holds: object


def _hex(answer: dict | None) -> str:
    return (answer or {}).get("hex") or ""


PROBES: tuple[Probe, ...] = (
    Probe("radix_disp", "decimal displacement 16(%rsi) read as 0x16 (#569/#571)",
          "movq 16(%rsi), %rcx", lambda o, a: o == "ok" and _hex(a) == "488b4e16"),
    Probe("radix_imm", "immediate $10 read as 0x10",
          "movq $10, %rax", lambda o, a: o == "ok" and _hex(a).endswith("10000000")),
    Probe("macro_at_hang", "a macro defining and jumping to .Lx\\@ hangs",
          ".macro m\n.Lx\\@: jmp .Lx\\@\n.endm\nm", lambda o, a: o == "hang"),
    Probe("macro_at_drop", "`lbl\\@: nop` in a macro silently drops the nop",
          ".macro m\nlbl\\@: nop\n.endm\nm\nnop", lambda o, a: o == "ok" and _hex(a) != "9090"),
    Probe("keyword_if_hang", "keyword argument tested by .if hangs",
          ".macro C a b=0\n.if \\b\nnop\n.endif\n.endm\nC 1 b=1", lambda o, a: o == "hang"),
    Probe("text_segv", "`.text` kills the process", ".text\nnop",
          lambda o, a: o == "crash"),
    Probe("pushsection", "`.pushsection \"__ex_table\",\"a\"` crashes or is refused",
          '.pushsection "__ex_table","a"\n.long 0\n.popsection',
          lambda o, a: o != "ok" or not _hex(a)),
    Probe("section_text_silent", "`.section .text` returns nothing without an error",
          ".section .text\nnop", lambda o, a: o == "ok" and not _hex(a) and "error" not in a),
    Probe("type_size", "`.type`/`.size` are rejected",
          "f: nop\n.type f, @function\n.size f, .-f",
          lambda o, a: o != "ok" or "error" in a or not _hex(a)),
    Probe("numeric_labels", "numeric labels `1:`/`1b` are rejected",
          "1: jmp 1b", lambda o, a: o != "ok" or "error" in a),
    Probe("seamcall", "`seamcall` is an unknown mnemonic", "seamcall",
          lambda o, a: o == "ok" and "error" in a),
    Probe("tdcall", "`tdcall` is an unknown mnemonic", "tdcall",
          lambda o, a: o == "ok" and "error" in a),
    Probe("endbr64", "`endbr64` is an unknown mnemonic", "endbr64",
          lambda o, a: o == "ok" and "error" in a),
    Probe("nopl_prefetch", "`nopl (%rax)` encodes as 0F 18 (PREFETCH), not 0F 1F",
          "nopl (%rax)", lambda o, a: o == "ok" and _hex(a).startswith("0f18")),
    Probe("abs_mem_riprel", "a bare absolute address becomes RIP-relative",
          "movq %rax, %gs:0x10", lambda o, a: o == "ok" and _hex(a)[2:8] == "488905"),
    Probe("mov_imm_movabs", "`mov $0x10, %rax` takes the 10-byte movabs form",
          "mov $0x10, %rax", lambda o, a: o == "ok" and _hex(a).startswith("48b8")),
)


def run_probe(probe: Probe, timeout: float) -> tuple[bool, str]:
    """(trap still holds, what happened) for one probe."""
    try:
        proc = subprocess.run([sys.executable, "-c", _PRELUDE, probe.source],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return bool(probe.holds("hang", None)), f"no answer within {timeout:g} s"
    if proc.returncode != 0:
        if "No module named 'keystone'" in proc.stderr:
            raise SystemExit("keystone is not installed")
        detail = f"exit status {proc.returncode}"
        return bool(probe.holds("crash", None)), detail
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return bool(probe.holds("crash", None)), f"unreadable output {proc.stdout!r}"
    return bool(probe.holds("ok", answer)), json.dumps(answer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="probes to run (default: all)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per probe")
    parser.add_argument("--list", action="store_true", help="list the probes and exit")
    args = parser.parse_args(argv)
    chosen = [p for p in PROBES if not args.names or p.name in args.names]
    unknown = set(args.names) - {p.name for p in PROBES}
    if unknown:
        parser.error(f"unknown probe(s): {', '.join(sorted(unknown))}")
    if args.list:
        for p in PROBES:
            print(f"{p.name:22} {p.what}")
        return 0
    held = 0
    for p in chosen:
        holds, detail = run_probe(p, args.timeout)
        held += holds
        print(f"{'HOLDS ' if holds else 'FIXED?'} {p.name:22} {p.what}  [{detail}]")
    print(f"{held} of {len(chosen)} traps still hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
