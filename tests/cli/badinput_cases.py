# SPDX-License-Identifier: MIT
"""The bad-input corpus: what a new user might type, and what seamemu must answer.

One row per case: the command line, the exit status it must end with (2 for bad input unless
the row says otherwise), and a piece of text stderr must contain (it names what was wrong).
Every case is also held to: stderr short (at most `err_lines` lines, no line past 600
characters), no traceback, done within `limit` seconds and the runner's memory bound.

Placeholders in arguments: {tmp} is the directory holding FILES (and the cases' working
directory), {root} the repository, {asm} its asm/ directory.  To add a case, add a row;
for a new option, add it to the lists the generators below walk (NUMBER_OPTIONS, WORKFLOW_OPTIONS,
FILE_INPUTS, OUTPUTS), and it gets the whole battery.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from seamemu.fuzz import case_to_json, make_spec, zero_case

MiB = 1 << 20


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int = 2
    err: str | None = None            # stderr must contain this (case-insensitive)
    out: str | None = None            # stdout must contain this (accepted inputs)
    err_lines: int = 2                # error line + the "see seamemu CMD --help" hint
    out_max: int | None = None        # at most this many bytes on stdout
    limit: float = 10.0               # seconds
    subprocess: bool = False          # run as `python -m seamemu`, not in-process
    interrupt_when: str | None = None    # Ctrl-C once a file matching this glob exists
    stdin: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def case(id: str, cmdline: str, code: int = 2, err: str | None = None, **kw) -> Case:
    return Case(id, tuple(shlex.split(cmdline)), code, err, **kw)


# -- files the cases name (written into {tmp}) ---------------------------------------------------
def _nops(n: int) -> str:
    return "".join(f"nop // filler line {i}\n" for i in range(n))


GOOD_S = ".text\n.globl f\nf:\n\tret\n"
FILES: dict[str, str | bytes] = {
    "good.S": GOOD_S,
    "fill16.S": GOOD_S + ".data\n.fill 2, 16, 7\n",
    "bignum_set.S": GOOD_S + ".set big, 0x1ffffffffffffffff\n",
    "empty.S": "",
    "binary.S": bytes(range(256)) * 4,
    "latin1.S": "nop # caf\xe9\n".encode("latin-1"),
    "huge.S": _nops(70_000),                                    # > 1 MiB
    "include_huge.S": '#include "huge.S"\n',
    "self_include.S": '#include "self_include.S"\n',
    "gas_self_include.S": '.include "gas_self_include.S"\n',
    "include_dev_zero.S": '#include "/dev/zero"\n',
    "gas_include_dev_zero.S": '.include "/dev/zero"\n',
    "space16m.S": ".data\nbuf:\n.space 1<<24\n.text\n.globl f\nf:\n\tret\n",
    "space16m_text.S": ".text\n.globl f\nf:\n\tret\n.space 1<<24\n",
    "skip_huge.S": ".data\n.skip 0x10000000000\n",
    "space_huge.S": ".data\n.space 1<<40, 1\n",
    "fill_huge.S": ".data\n.fill 0x7fffffff, 8, 0\n",
    "fill_nonzero.S": ".text\n.globl f\nf:\n.fill 0x100000, 1, 0x90\n\tret\n",
    "fill_negative.S": ".data\n.fill -1, 8, 0\n",
    "skip_negative.S": ".data\n.skip -5\n",
    "zero_huge.S": ".data\n.zero 0x7fffffffffffffff\n",
    "balign_huge.S": ".text\n.balign 1<<40\n",
    "p2align_huge.S": ".text\n.p2align 63\n",
    "rept_million.S": ".text\n.globl f\nf:\n.rept 1000000\nnop\n.endr\nret\n",
    "rept_nested.S": ".text\n.rept 100000\n.rept 100000\n.endr\n.endr\n",
    "rept_nested_nops.S": ".text\n.rept 1000\n.rept 1000\nnop\n.endr\n.endr\n",
    "rept_huge.S": ".text\n.rept 0x7fffffffffffffff\nnop\n.endr\n",
    "rept_negative.S": ".text\n.globl f\nf:\n.rept -3\nnop\n.endr\nret\n",
    "rept_unclosed.S": ".text\n.rept 3\nnop\n",
    "irp_many.S": ".text\n.irp x," + ",".join(["1"] * 30_000) + "\nnop\n.endr\n",
    "irpc_long.S": ".text\n.irpc c," + "a" * 60_000 + "\nnop\n.endr\n",
    "cpp_wide.S": "#define A " + " B" * 1000 + "\n#define B" + " C" * 1000 + "\n#define C"
                  + " D" * 1000 + "\n.text\nA\n",
    "cpp_open_call.S": "#define F(x) x\n.text\nF(\n" + "a,\n" * 40_000,
    "continuations.S": ".text\nnop \\\n" * 1 + "\\\n" * 100_000 + "\n",
    "continuations_long.S": ".text\n" + "nop \\\n" * 20_000 + "\n",
    "open_comment.S": ".text\n/* never closed\n" + "nop\n" * 40_000,
    "cpp_if_20k.S": "#if " + "+".join(["1"] * 20_000) + " != 20000\n#error wrong sum\n#endif\n"
                    ".text\nnop\n",
    "expr_20k.S": ".text\n.globl f\nf:\nmovq $(" + "+".join(["1"] * 20_000) + "), %rax\nret\n",
    "expr_ternary_deep.S": "#if " + "1 ? " * 200 + "1" + " : 0" * 200 + "\n#endif\n",
    "statements_20k.S": ".text\n.globl f\nf:\n" + "nop\n" * 19_990 + "ret\n",
    "statements_21k.S": ".text\n.globl f\nf:\n" + "nop\n" * 21_000 + "ret\n",
    "rept_20k_ok.S": ".text\n.globl f\nf:\n.rept 19990\nnop\n.endr\nret\n",
    "bss_huge.S": ".bss\n.skip 0x10000000000\n",
    "space_64m_ok.S": ".data\n.space 0x3ff0000\n.text\n.globl f\nf:\nret\n",
    "macro_recursive.S": ".macro m\nm\n.endm\n.text\nm\n",
    "macro_exponential.S": "".join(f".macro m{i}\nm{i + 1}\nm{i + 1}\n.endm\n" for i in range(40))
                           + ".macro m40\nnop\n.endm\n.text\nm0\n",
    "cpp_exponential.S": "".join(f"#define A{i} A{i + 1} A{i + 1}\n" for i in range(40))
                         + "#define A40 x\n.text\nA0\n",
    "cpp_recursive.S": "#define A B\n#define B A\n.text\nA\n",
    "cpp_if_shift.S": "#if (1 << 100000000000) > 0\n#endif\n",
    "cpp_if_deep.S": "#if " + "(" * 5000 + "1" + ")" * 5000 + "\n#endif\n",
    "cpp_if_long.S": "#if " + "+".join(["1"] * 200_000) + "\n#endif\n",
    "cpp_if_div0.S": "#if 1/0\n#endif\n",
    "cpp_unterminated_if.S": "#if 1\nnop\n",
    "cpp_deep_ifs.S": "#if 1\n" * 20_000 + "#endif\n" * 20_000,
    "cpp_error.S": "#error stop here\n",
    "expr_deep.S": ".text\nmovq $" + "(" * 5000 + "1" + ")" * 5000 + ", %rax\n",
    "expr_long.S": ".text\nmovq $" + "+".join(["1"] * 200_000) + ", %rax\n",
    "expr_unary_deep.S": ".text\nmovq $" + "-" * 50_000 + "1, %rax\n",
    "expr_set_deep.S": ".set a, " + "(" * 5000 + "1" + ")" * 5000 + "\n",
    "expr_shift.S": ".text\nmovq $(1 << 100000000000), %rax\n",
    "expr_div0.S": ".text\nmovq $(1/0), %rax\n",
    "rept_expr_deep.S": ".rept " + "(" * 5000 + "1" + ")" * 5000 + "\nnop\n.endr\n",
    "long_line.S": ".text\nnop" + " " * (2 * MiB // 2) + "\n",
    "many_labels.S": ".text\n" + "".join(f"l{i}:\n" for i in range(60_000)),
    "undefined_symbol.S": ".text\n.globl f\nf:\n\tjmp nowhere\n",
    "bad_insn.S": ".text\n.globl f\nf:\n\tfrobnicate %rax\n",
    "dup_label.S": ".text\nf:\nf:\n",
    "nul_bytes.S": b".text\n\x00\x00\x00nop\n",
    "crlf.S": b".text\r\n.globl f\r\nf:\r\n\tret\r\n",
    "org_back.S": ".text\nnop\n.org 0\n",
    "incbin_dev_zero.S": '.text\n.incbin "/dev/zero"\n',
    "string_huge.S": '.data\n.ascii "' + "x" * 2_000_000 + '"\n',
    "no_entry.S": ".text\nnop\n",
    "spin.S": ".text\n.globl spin\nspin:\n1:\tjmp 1b\n",
    "platform_zero_lp_absent.toml": 'extends = "default"\n[cpu]\nabsent_lps = [0]\n',
    "platform_lp3_absent.toml": 'extends = "default"\n[cpu]\nabsent_lps = [3]\n',
    "platform_bad_toml.toml": "[cpu\npackages = 2\n",
    "platform_typo.toml": 'extends = "default"\n[cpu]\npackges = 2\n',
    "platform_huge_lps.toml": 'extends = "default"\n[cpu]\npackages = 64\ncores_per_package = 256\n'
                              'threads_per_core = 2\n',
    "platform_neg.toml": 'extends = "default"\n[cpu]\npackages = -1\n',
    "platform_huge_int.toml": 'extends = "default"\n[cpu]\nmax_pa = 99999999999999999999\n',
    "platform_big_size.toml": 'extends = "default"\n[[memory]]\nbase = 0\nsize = "99999999999T"\n',
    "platform_nan.toml": 'extends = "default"\n[cpu]\nmax_pa = nan\n',
    "platform_float.toml": 'extends = "default"\n[cpu]\nmax_pa = 46.5\n',
    "platform_extends_loop.toml": 'extends = "platform_extends_loop"\n',
    "platform_extends_file.toml": 'extends = "/etc/passwd"\n',
    "platform_many_cmrs.toml": 'extends = "default"\n' + "".join(
        f'[[cmr]]\nbase = "{i * 8192 + 1}"\nsize = "4K"\n' for i in range(100)),
    "platform_unicode_size.toml": 'extends = "default"\n[seamrr]\nsize = "٦٤M"\n',
    "platform_empty.toml": "",
    "platform_array_root.toml": "cpu = [1, 2]\n",
    "platform_deep.toml": "a = " + "[" * 5000 + "]" * 5000 + "\n",
    "platform_huge.toml": "# " + "x" * (2 * MiB) + "\n",
    "not_a_dir": "a file\n",
}


def _reproducer(**over) -> str:
    """A well-formed reproducer of the shipped __seamcall_ret, with `over` changed."""
    spec = make_spec("args", "ret")
    doc = {
        "schema": 1, "kind": "seamemu-fuzz-reproducer",
        "asm": [{"path": "{root}/asm/seamcall.S", "sha256": "0" * 64}], "sources": [],
        "entry": "__seamcall_ret", "include": [], "defines": {}, "assembler": "keystone",
        "convention": "args", "variant": "ret", "reference": None,
        **case_to_json(zero_case(spec), spec),
        "finding": {"rule": "callee-saved", "key": "rbx", "location": "__seamcall_ret+0x1",
                    "address": "0x400001", "source": "", "detail": ""},
        "found": {},
    }
    for k, v in over.items():
        if v is _DROP:
            doc.pop(k, None)
        else:
            doc[k] = v
    return json.dumps(doc)


_DROP = object()
REPRODUCERS = {
    "rep_no_inputs.json": _reproducer(inputs=_DROP),
    "rep_bad_define.json": _reproducer(defines={"A B": "1"}),
    "rep_good.json": _reproducer(),
    "rep_define_newline.json": _reproducer(defines={"X": "1\n.byte 5"}),
    "rep_not_object.json": "[1, 2, 3]",
    "rep_deep.json": "[" * 100_000 + "]" * 100_000,
    "rep_deep_obj.json": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "rep_huge_number.json": _reproducer(leaf="0x" + "f" * 100),
    "rep_unicode_number.json": _reproducer(leaf="١٢٣"),
    "rep_nan.json": _reproducer(rflags=float("nan")),
    "rep_big_int.json": _reproducer(stack={"align": 12345, "frame": ["0x0"] * 8}).replace(
        "12345", "9" * 5000),
    "rep_bad_kind.json": _reproducer(kind="something-else"),
    "rep_schema2.json": _reproducer(schema=2),
    "rep_missing_asm.json": _reproducer(asm=[{"path": "/nonexistent/x.S", "sha256": "0"}]),
    "rep_asm_dev_zero.json": _reproducer(asm=[{"path": "/dev/zero", "sha256": "0"}]),
    "rep_bad_cpl.json": _reproducer(cpu={"vmx": True, "seamrr": True, "cpl": 9, "module": True}),
    "rep_bad_convention.json": _reproducer(convention="fastcall"),
    "rep_bad_assembler.json": _reproducer(assembler="nasm"),
    "rep_no_finding.json": _reproducer(finding=_DROP),
    "rep_extra_register.json": _reproducer(inputs={"rax": "0x0"}),
    "rep_frame_short.json": _reproducer(stack={"align": 0, "frame": []}),
    "rep_huge_frame.json": _reproducer(stack={"align": 0, "frame": ["0x0"] * 1_000_000}),
    "rep_bool_cpl.json": _reproducer(cpu={"vmx": True, "seamrr": True, "cpl": True, "module": True}),
    "rep_bad_entry.json": _reproducer(entry="no_such_symbol"),
    "rep_empty.json": "",
    "rep_binary.json": bytes(range(256)),
    "rep_utf16.json": _reproducer().encode("utf-16"),
    "rep_trailing.json": _reproducer() + " garbage",
    "rep_huge.json": " " * (5 * MiB) + "{}",
}
FILES.update(REPRODUCERS)

# -- generated batteries -------------------------------------------------------------------------
# Numeric options: every command that has them, with values a user might mistype.
NUMBER_OPTIONS = [
    # (command prefix, option, what the error names)
    ("run", "--timeout", "--timeout"),
    ("run", "--max-insns", "--max-insns"),
    ("run", "--lp", "--lp"),
    ("run", "--cpl", "--cpl"),
    ("trace", "--max-steps", "--max-steps"),
    ("trace", "--lp", "--lp"),
    ("explain", "--cpl", "--cpl"),
    ("cmr", "--lp", "--lp"),
    ("fuzz --quiet", "--time", "--time"),
    ("fuzz --quiet", "--runs", "--runs"),
    ("fuzz --quiet --runs 1", "--seed", "--seed"),
    ("fuzz --quiet --runs 1", "--jobs", "--jobs"),
    ("bench", "--seconds", "--seconds"),
    ("run --gdb 127.0.0.1:0", "--gdb-timeout", "--gdb-timeout"),
    ("model-diff", "--runs", "--runs"),
    ("model-diff", "--seed", "--seed"),
]
BAD_NUMBERS = {
    "nan": "nan", "inf": "inf", "neg_inf": "-inf", "huge": "1e308", "text": "zebra",
    "arabic": "\u0661\u0662\u0663", "fullwidth": "\uff11\uff12", "empty": "", "huge_int": "9" * 400,
    "hexfloat": "0x1p9999", "negative": "-5",
}
# Options whose value is a register or a leaf: 64-bit numbers.
REGISTER_OPTIONS = [("run", "--rcx"), ("run", "--r8"), ("trace", "--rdx"), ("explain", "--r11"),
                    ("run", "--leaf"), ("run --td", "--leaf")]
BAD_REGISTERS = {"arabic": "\u0661\u0662\u0663", "past_u64": str(1 << 64),
                 "too_negative": str(-(1 << 63) - 1), "text": "zebra", "huge": "9" * 5000,
                 "float": "1.5", "spaces": "1 2", "double_prefix": "0x0x1", "nul": "1\x00"}

# File inputs: every option that reads a file the user names.
FILE_INPUTS = [
    ("asm", "asm {path}"),
    ("run-asm", "run --asm {path} --entry f --convention raw"),
    ("matrix-asm", "matrix --asm {path} --entry f"),
    ("trace-asm", "trace --asm {path} --entry f --convention raw"),
    ("fuzz-asm", "fuzz --quiet --runs 1 --asm {path} --entry f --convention raw"),
    ("fuzz-diff", "fuzz --quiet --runs 1 --diff {path}"),
    ("run-platform", "run --platform {path}"),
    ("boot-platform", "boot --platform {path}"),
    ("detect-platform", "detect --platform {path}"),
    ("hotplug-platform", "hotplug --table --platform {path}"),
    ("cmr-platform", "cmr --platform {path}"),
    ("demo-platform", "demo --platform {path}"),
    ("replay", "run --replay {path}"),
    ("asm-obj", "asm --obj {path}"),
    ("run-module-binary", "run --module-binary {path}"),
    ("boot-module-binary", "boot --module-binary {path}"),
    ("model-diff-replay", "model-diff --replay {path}"),
]
BAD_FILES = {
    "dev_zero": "/dev/zero",
    "directory": "{tmp}",
    "missing": "{tmp}/no/such/file",
    "empty_name": "",
    "dev_null": "/dev/null",
    "proc_self_mem": "/proc/self/mem",
    "binary": "{tmp}/binary.S",
    "huge": "{tmp}/huge.S",
}
# What the one line must say for the kinds every file option meets alike (the bounded reader
# of seamemu.files names each), whatever the option reads.
BAD_FILE_SAYS = {"dev_zero": "larger than", "directory": "directory", "missing": "no such file"}
# Outputs: every option that names a place seamemu writes.
OUTPUTS = [
    ("report", "report --out {path}"),
    ("diagram", "diagram --out {path}"),
    ("boot-log", "boot --log {path}"),
    ("fuzz-out", "fuzz --quiet --runs 1 --out {path}"),
    ("asm-elf", "asm good.S --elf {path}"),
]
BAD_OUTPUTS = {
    "empty": "",
    "dev_full": "/dev/full",
    "under_a_file": "{tmp}/not_a_dir/x",
    "proc": "/proc/no/such/place",
    "nul": "a\x00b",
}

# Options of the kernel, real-module, kbuild and gdb workflows, on every command that takes
# them: (commands, a bad value, what the one line must say).
WORKFLOW_OPTIONS = [
    (("run", "matrix", "trace", "explain", "fuzz --quiet --runs 1", "boot", "cmr", "detect",
      "hotplug --table", "demo"),
     ("--kernel", "v4.20"), "--kernel 'v4.20': unknown kernel generation"),
    (("run", "boot", "cmr", "demo"), ("--kernel", ""), "--kernel '': unknown kernel generation"),
    (("run", "matrix", "trace", "explain", "boot", "cmr", "detect", "hotplug --table", "demo",
      "diagram --out figs", "report --out r.html"),
     ("--module-version", "2.7"), "--module-version"),
    (("run", "matrix", "trace", "explain", "fuzz --quiet --runs 1", "boot", "cmr", "bench",
      "model-diff"),
     ("--module-binary", "good.S"), "not an ELF file"),
    (("run", "matrix", "trace", "explain", "fuzz --quiet --runs 1 --entry f"),
     ("--obj", "good.S"), "--obj good.S: not an ELF object file"),
    (("run", "matrix", "trace", "explain", "fuzz --quiet --runs 1 --entry f"),
     ("--obj", "/dev/zero"), "--obj /dev/zero: larger than 16 MiB"),
    (("run --asm good.S --entry f", "matrix --asm good.S --entry f",
      "trace --asm good.S --entry f", "explain --asm good.S --entry f",
      "fuzz --quiet --runs 1 --asm good.S --entry f"),
     ("--stub", "9lives"), "--stub '9lives': not a symbol name"),
    (("run", "trace", "explain"), ("--gdb", ""), "--gdb"),
    (("run", "trace", "explain"), ("--gdb", "127.0.0.1:"), "--gdb"),
    (("trace", "explain"), ("--gdb-timeout", "nan"), "--gdb-timeout"),
    (("run", "trace", "explain"), ("--gdb-timeout", "0"), "--gdb-timeout"),
]


def _generated() -> list[Case]:
    out = []
    for commands, (opt, value), says in WORKFLOW_OPTIONS:
        for cmd in commands:
            tag = f"{cmd.split()[0]}{opt}-{value.strip('/') or 'empty'}"
            out.append(Case(f"opt-{tag}", (*shlex.split(cmd), opt, value), 2, says))
    for prefix, opt, name in NUMBER_OPTIONS:
        for tag, value in BAD_NUMBERS.items():
            if tag == "negative" and opt in ("--cpl",):
                continue
            out.append(Case(f"num-{prefix.split()[0]}{opt}-{tag}", (*shlex.split(prefix), opt, value),
                            2, name))
    for cmd, opt in REGISTER_OPTIONS:
        for tag, value in BAD_REGISTERS.items():
            out.append(Case(f"reg-{cmd.replace(' ', '')}{opt}-{tag}", (*shlex.split(cmd), opt, value),
                            2, opt))
    for tag, line in FILE_INPUTS:
        for kind, path in BAD_FILES.items():
            if kind == "dev_null" and tag.endswith("asm") and tag != "fuzz-asm":
                continue   # an empty source is valid input: it assembles to nothing
            argv = tuple(a.replace("{path}", path) for a in shlex.split(line))
            if kind == "empty_name":
                argv = tuple(a if a != "{path}" else "" for a in shlex.split(line))
            out.append(Case(f"file-{tag}-{kind}", argv, 2, BAD_FILE_SAYS.get(kind)))
    for tag, line in OUTPUTS:
        for kind, path in BAD_OUTPUTS.items():
            argv = tuple(path if a == "{path}" else a for a in shlex.split(line))
            option = next(a for a in argv if a.startswith("--") and a not in ("--quiet", "--runs"))
            out.append(Case(f"out-{tag}-{kind}", argv, 2, option))
    return out


# -- hand-written rows --------------------------------------------------------------------------
ROWS: list[Case] = [
    # usage: one line naming the command, and the hint
    case("usage-no-command", "", err="required"),
    case("usage-unknown-command", "frobnicate", err="invalid choice"),
    case("usage-run-unknown-option", "run --nosuch", err="seamemu run: error: unrecognized arguments"),
    case("usage-run-missing-value", "run --rcx", err="seamemu run: error: argument --rcx"),
    case("usage-diagram-no-out", "diagram", err="seamemu diagram: error"),
    case("usage-report-no-out", "report", err="seamemu report: error"),
    case("usage-asm-no-file", "asm", err="seamemu asm: error"),
    case("usage-bad-choice", "run --convention fastcall", err="--convention"),
    case("usage-bad-onoff", "run --vmx maybe", err="--vmx"),
    case("usage-fuzz-time-and-runs", "fuzz --time 1 --runs 1", err="not allowed with"),
    case("usage-matrix-json-markdown", "matrix --json --markdown", err="not allowed with"),
    case("usage-ambiguous", "run --r 5", err="ambiguous"),
    case("usage-stray-word", "demo extra", err="seamemu demo: error: unrecognized arguments: extra"),
    case("usage-huge-argument", "run " + "x" * 100_000, err="unrecognized arguments"),
    case("usage-version", "--version", code=0, out="seamemu ", err_lines=0),
    case("usage-help", "run --help", code=0, out="usage:", err_lines=0),
    case("usage-subprocess", "run --cpl x", err="seamemu run: error: argument --cpl", subprocess=True),
    case("usage-abi-bad", "run --abi 3.0", err="--abi"),
    case("usage-module-version-bad", "run --module-version 9.9", err="--module-version"),
    case("usage-assembler-bad", "asm good.S --assembler nasm", err="--assembler"),
    case("usage-color-bad", "trace --color purple", err="--color"),
    case("usage-mode-bad", "fuzz --mode magic", err="--mode"),
    case("usage-variant-legacy", "fuzz --quiet --runs 1 --convention legacy --variant ret", err="--variant"),
    case("usage-fuzz-raw-no-asm", "fuzz --quiet --runs 1 --convention raw", err="--asm"),
    case("usage-fuzz-asm-no-entry", "fuzz --quiet --runs 1 --asm good.S", err="--entry"),
    case("usage-hotplug-nothing", "hotplug", err="add BASE SIZE"),
    case("usage-hotplug-markdown", "hotplug add 0 4K --markdown", err="--markdown"),
    case("usage-hotplug-table-words", "hotplug --table add", err="--table"),
    case("usage-hotplug-two-policies", "hotplug add 0x380000000 128M --policy upstream --policy cmr-aware",
         err="one --policy"),
    case("usage-hotplug-bad-policy", "hotplug add 0x380000000 128M --policy lenient", err="lenient"),
    # numbers beyond the battery
    case("num-jobs-1000", "fuzz --quiet --runs 1 --jobs 1000", err="--jobs"),
    case("num-jobs-zero", "fuzz --quiet --runs 1 --jobs 0", err="--jobs"),
    case("num-time-zero", "fuzz --quiet --time 0", err="--time"),
    case("num-timeout-zero", "run --timeout 0", err="--timeout"),
    case("num-timeout-tiny-ok", "run --timeout 0.5", code=0, err_lines=0),
    case("num-max-insns-huge", "run --max-insns 99999999999999999999999", err="--max-insns"),
    case("num-lp-absent-range", "run --lp 99999", err="--lp 99999"),
    case("num-cpl-7", "run --cpl 7", err="--cpl 7"),
    case("num-leaf-name-typo", "run --leaf TDH.SYS.INITT", err="--leaf"),
    case("num-leaf-empty", "run --leaf ''", err="--leaf"),
    case("num-underscore-ok", "run --rcx 0x1_0 --json", code=0, err_lines=0),
    case("num-alloc-bad", "trace --alloc rcx=zebra", err="--alloc"),
    case("num-alloc-huge", "trace --alloc rcx=1T", err="--alloc"),
    case("num-alloc-unknown-reg", "trace --alloc rzz=64", err="--alloc"),
    case("num-after-bad", "trace --after TDH.NOPE", err="--leaf"),
    case("num-cmr-lp-neg", "cmr --lp -1", err="--lp"),
    # -D
    case("define-space", "asm good.S -D 'A B=1'", err="-D"),
    case("define-digit", "asm good.S -D 1X", err="-D"),
    case("define-empty", "asm good.S -D ''", err="-D"),
    case("define-newline", "asm good.S -D 'X=1\n.byte 5'", err="-D"),
    case("define-unicode", "asm good.S -D É=1", err="-D"),
    case("define-ok", "asm good.S -D X=1", code=0, err_lines=0),
    # sources: limits and depth, on the keystone path
    case("asm-dev-zero", "asm /dev/zero", err="larger than"),
    case("asm-huge-file", "asm huge.S", err="larger than"),
    case("asm-include-huge", "asm include_huge.S", err="larger than"),
    case("asm-self-include", "asm self_include.S", err="nested too deeply"),
    case("asm-gas-self-include", "asm gas_self_include.S", err="nested too deeply"),
    case("asm-include-dev-zero", "asm include_dev_zero.S", err="larger than"),
    case("asm-gas-include-dev-zero", "asm gas_include_dev_zero.S", err="larger than"),
    case("asm-space16m-lists-fast", "asm space16m.S", code=0, out="...", err_lines=0,
         out_max=4096, limit=6.0),
    case("asm-space16m-text-lists-fast", "asm space16m_text.S", code=0, out="...", err_lines=0,
         out_max=4096, limit=6.0),
    case("asm-space16m-json", "asm space16m.S --json", code=0, err_lines=0, out_max=65536, limit=6.0),
    case("asm-space16m-run", "run --asm space16m.S --entry f --convention raw", code=0,
         err_lines=0, limit=6.0),
    case("asm-fill-nonzero-lists-fast", "asm fill_nonzero.S", code=0, err_lines=0, out_max=8192),
    case("asm-skip-huge", "asm skip_huge.S", err="limit"),
    case("asm-space-huge", "asm space_huge.S", err="limit"),
    case("asm-fill-huge", "asm fill_huge.S", err="limit"),
    case("asm-fill-negative", "asm fill_negative.S", err="fill_negative.S:2"),
    case("asm-skip-negative", "asm skip_negative.S", err="skip_negative.S:2"),
    case("asm-zero-huge", "asm zero_huge.S", err="limit"),
    case("asm-balign-huge", "asm balign_huge.S", err="balign_huge.S:2"),
    case("asm-p2align-huge", "asm p2align_huge.S", err="p2align_huge.S:2"),
    case("asm-rept-million", "asm rept_million.S", err="limit"),
    case("asm-rept-nested-empty", "asm rept_nested.S", err="limit"),
    case("asm-rept-nested-nops", "asm rept_nested_nops.S", err="limit"),
    case("asm-rept-huge", "asm rept_huge.S", err="limit"),
    case("asm-rept-negative-ok", "asm rept_negative.S", code=0, err_lines=0),
    case("asm-rept-unclosed", "asm rept_unclosed.S", err="rept_unclosed.S:2"),
    case("asm-irp-many", "asm irp_many.S", err="limit"),
    case("asm-irpc-long", "asm irpc_long.S", err="limit"),
    case("asm-macro-recursive", "asm macro_recursive.S", err="nested too deeply"),
    case("asm-macro-exponential", "asm macro_exponential.S", err="limit"),
    case("asm-cpp-exponential", "asm cpp_exponential.S", err="cpp_exponential.S"),
    case("asm-cpp-recursive-ok", "asm cpp_recursive.S", err="cpp_recursive.S:4"),
    case("asm-cpp-if-shift", "asm cpp_if_shift.S", err="cpp_if_shift.S:1"),
    case("asm-cpp-if-deep", "asm cpp_if_deep.S", err="cpp_if_deep.S:1"),
    case("asm-cpp-if-long", "asm cpp_if_long.S", err="cpp_if_long.S:1"),
    case("asm-cpp-if-20k-terms", "asm cpp_if_20k.S", code=0, err_lines=0),
    case("asm-cpp-wide", "asm cpp_wide.S", err="cpp_wide.S:5"),
    case("asm-cpp-open-call", "asm cpp_open_call.S", err="cpp_open_call.S:3"),
    case("asm-continuations-empty-ok", "asm continuations.S", code=0, err_lines=0),
    case("asm-continuations-long", "asm continuations_long.S", err="continuations_long.S:2"),
    case("asm-open-comment", "asm open_comment.S", err="open_comment.S:2: unterminated comment"),
    case("asm-expr-20k-terms", "asm expr_20k.S", code=0, out="movq", err_lines=0),
    case("asm-expr-ternary-deep", "asm expr_ternary_deep.S", err="expr_ternary_deep.S:1"),
    case("asm-statements-under-limit", "asm statements_20k.S", code=0, err_lines=0, out_max=8192),
    case("asm-statements-over-limit", "asm statements_21k.S", err="20,000 statements"),
    case("asm-rept-under-limit", "asm rept_20k_ok.S", code=0, err_lines=0, out_max=8192),
    case("asm-bss-huge", "asm bss_huge.S", err="limit"),
    case("asm-space-64m-ok", "asm space_64m_ok.S", code=0, err_lines=0, out_max=8192),
    case("asm-cpp-if-div0", "asm cpp_if_div0.S", err="cpp_if_div0.S:1"),
    case("asm-cpp-unterminated-if", "asm cpp_unterminated_if.S", err="cpp_unterminated_if.S"),
    case("asm-cpp-deep-ifs-ok", "asm cpp_deep_ifs.S", code=0, err_lines=0),
    case("asm-cpp-error", "asm cpp_error.S", err="stop here"),
    case("asm-expr-deep", "asm expr_deep.S", err="expr_deep.S:2"),
    case("asm-expr-long", "asm expr_long.S", err="expr_long.S:2"),
    case("asm-expr-unary-deep", "asm expr_unary_deep.S", err="expr_unary_deep.S:2"),
    case("asm-expr-set-deep", "asm expr_set_deep.S", err="expr_set_deep.S:1"),
    case("asm-expr-shift", "asm expr_shift.S", err="expr_shift.S:2: shift count 100000000000"),
    case("asm-expr-div0", "asm expr_div0.S", err="expr_div0.S:2"),
    case("asm-rept-expr-deep", "asm rept_expr_deep.S", err="rept_expr_deep.S:1"),
    case("asm-long-line", "asm long_line.S", err="long_line.S"),
    case("asm-many-labels", "asm many_labels.S", err="20,000 statements"),
    case("asm-undefined-symbol", "asm undefined_symbol.S", err="nowhere"),
    case("asm-bad-insn", "asm bad_insn.S", err="bad_insn.S:4"),
    case("asm-dup-label", "asm dup_label.S", err="dup_label.S:3"),
    case("asm-nul-bytes", "asm nul_bytes.S", err="nul_bytes.S:2"),
    case("asm-crlf-ok", "asm crlf.S", code=0, err_lines=0),
    case("asm-latin1", "asm latin1.S", code=0, err_lines=0),
    case("asm-org-back", "asm org_back.S", err="org_back.S:3"),
    case("asm-incbin", "asm incbin_dev_zero.S", err="incbin_dev_zero.S:2"),
    case("asm-string-huge", "asm string_huge.S", err="larger than"),
    case("asm-empty-ok", "asm empty.S", code=0, err_lines=0),
    case("asm-two-same-file", "asm good.S good.S", err="also defined"),
    case("asm-include-dir-missing-ok", "asm good.S -I /no/such/dir", code=0, err_lines=0),
    case("asm-include-dir-file", "asm good.S -I good.S", code=0, err_lines=0),
    case("run-no-entry", "run --asm no_entry.S --entry f --convention raw", err="'f'"),
    case("run-spin-bounded", "run --asm spin.S --entry spin --convention raw --max-insns 100000",
         code=0, out="bound", err_lines=0),
    case("run-spin-timeout", "run --asm spin.S --entry spin --convention raw --max-insns 10000000000 "
         "--timeout 1", code=0, out="bound", err_lines=0, limit=8.0),
    # the same sources through GNU as: the same limits
    case("gnu-dev-zero", "asm --assembler gnu /dev/zero", err="larger than"),
    case("gnu-huge-file", "asm --assembler gnu huge.S", err="larger than"),
    case("gnu-space16m-lists-fast", "asm --assembler gnu space16m.S", code=0, out="...",
         err_lines=0, out_max=4096, limit=6.0),
    case("gnu-skip-huge", "asm --assembler gnu skip_huge.S", err="limit"),
    case("gnu-fill-huge", "asm --assembler gnu fill_huge.S", err="limit"),
    case("gnu-zero-huge", "asm --assembler gnu zero_huge.S", err="zero_huge.S"),
    case("gnu-rept-million", "asm --assembler gnu rept_million.S", err="limit"),
    case("gnu-rept-nested-empty", "asm --assembler gnu rept_nested.S", err="limit"),
    case("gnu-rept-nested-nops", "asm --assembler gnu rept_nested_nops.S", err="limit"),
    case("gnu-rept-huge", "asm --assembler gnu rept_huge.S", err="limit"),
    case("gnu-irp-many", "asm --assembler gnu irp_many.S", err="limit"),
    case("gnu-macro-recursive", "asm --assembler gnu macro_recursive.S", err="macro_recursive.S"),
    case("gnu-macro-exponential", "asm --assembler gnu macro_exponential.S", err="limit"),
    case("gnu-expr-deep", "asm --assembler gnu expr_deep.S", code=0, err_lines=0),
    case("gnu-expr-long", "asm --assembler gnu expr_long.S", err="expr_long.S"),
    case("gnu-expr-20k-terms", "asm --assembler gnu expr_20k.S", code=0, out="movq", err_lines=0),
    case("gnu-statements-over-limit", "asm --assembler gnu statements_21k.S", err="20,000 statements"),
    case("gnu-bss-huge", "asm --assembler gnu bss_huge.S", err="limit"),
    case("gnu-cpp-wide", "asm --assembler gnu cpp_wide.S", err="cpp_wide.S:5"),
    case("gnu-cpp-open-call", "asm --assembler gnu cpp_open_call.S", err="cpp_open_call.S:3"),
    case("gnu-cpp-if-deep", "asm --assembler gnu cpp_if_deep.S", err="cpp_if_deep.S:1"),
    case("gnu-incbin", "asm --assembler gnu incbin_dev_zero.S", err="incbin_dev_zero.S"),
    case("gnu-gas-include-dev-zero", "asm --assembler gnu gas_include_dev_zero.S",
         err="gas_include_dev_zero.S"),
    case("gnu-gas-self-include", "asm --assembler gnu gas_self_include.S", err="gas_self_include.S"),
    case("gnu-string-huge", "asm --assembler gnu string_huge.S", err="larger than"),
    case("gnu-bad-insn", "asm --assembler gnu bad_insn.S", err="bad_insn.S:4"),
    # platforms
    case("platform-boot-cpu-absent", "run --platform platform_zero_lp_absent.toml", err="LP 0"),
    case("platform-boot-cpu-absent-boot", "boot --platform platform_zero_lp_absent.toml", err="LP 0"),
    case("platform-run-on-absent-lp", "run --platform platform_lp3_absent.toml --lp 3", err="LP 3"),
    case("platform-trace-on-absent-lp", "trace --platform platform_lp3_absent.toml --lp 3", err="LP 3"),
    case("platform-cmr-on-absent-lp", "cmr --platform platform_lp3_absent.toml --lp 3", err="LP 3"),
    case("platform-absent-lp-other-ok", "run --platform platform_lp3_absent.toml --lp 2", code=0,
         err_lines=0),
    case("platform-bad-toml", "run --platform platform_bad_toml.toml", err="TOML"),
    case("platform-typo", "run --platform platform_typo.toml", err="packges"),
    case("platform-huge-lps", "run --platform platform_huge_lps.toml", err="LPs", err_lines=8),
    case("platform-negative", "run --platform platform_neg.toml", err="packages"),
    case("platform-huge-int", "run --platform platform_huge_int.toml", err="max_pa"),
    case("platform-big-size", "run --platform platform_big_size.toml", err="size"),
    case("platform-nan", "run --platform platform_nan.toml", err="max_pa"),
    case("platform-float", "run --platform platform_float.toml", err="max_pa"),
    case("platform-extends-loop", "run --platform platform_extends_loop.toml", err="extends"),
    case("platform-extends-file", "run --platform platform_extends_file.toml", err="extends"),
    case("platform-many-cmrs", "run --platform platform_many_cmrs.toml", err="cmr", err_lines=8),
    case("platform-unicode-size", "run --platform platform_unicode_size.toml", err="seamrr"),
    case("platform-empty", "run --platform platform_empty.toml", err="platform_empty.toml", err_lines=8),
    case("platform-array-root", "run --platform platform_array_root.toml", err="cpu"),
    case("platform-deep", "run --platform platform_deep.toml", err="platform_deep.toml"),
    case("platform-huge", "run --platform platform_huge.toml", err="larger than"),
    case("platform-preset-typo", "run --platform defualt", err="defualt"),
    case("platform-and-version", "run --platform no-module --module-version 1.5.05", err="no TDX module"),
    # reproducers
    case("replay-well-formed", "run --replay rep_good.json", code=0, out="not reproduced", err_lines=0),
    case("replay-no-inputs", "run --replay rep_no_inputs.json", err="inputs"),
    case("replay-bad-define", "run --replay rep_bad_define.json", err="defines"),
    case("replay-define-newline", "run --replay rep_define_newline.json", err="defines"),
    case("replay-not-object", "run --replay rep_not_object.json", err="object"),
    case("replay-deep", "run --replay rep_deep.json", err="rep_deep.json"),
    case("replay-deep-obj", "run --replay rep_deep_obj.json", err="rep_deep_obj.json"),
    case("replay-huge-number", "run --replay rep_huge_number.json", err="leaf"),
    case("replay-unicode-number", "run --replay rep_unicode_number.json", err="leaf"),
    case("replay-nan", "run --replay rep_nan.json", err="rflags"),
    case("replay-big-int", "run --replay rep_big_int.json", err="rep_big_int.json"),
    case("replay-bad-kind", "run --replay rep_bad_kind.json", err="kind"),
    case("replay-schema2", "run --replay rep_schema2.json", err="schema"),
    case("replay-missing-asm", "run --replay rep_missing_asm.json", err="not found"),
    case("replay-asm-dev-zero", "run --replay rep_asm_dev_zero.json", err="rep_asm_dev_zero.json"),
    case("replay-bad-cpl", "run --replay rep_bad_cpl.json", err="cpl"),
    case("replay-bad-convention", "run --replay rep_bad_convention.json", err="convention"),
    case("replay-bad-assembler", "run --replay rep_bad_assembler.json", err="assembler"),
    case("replay-no-finding", "run --replay rep_no_finding.json", err="finding"),
    case("replay-extra-register", "run --replay rep_extra_register.json", err="rax"),
    case("replay-frame-short", "run --replay rep_frame_short.json", err="frame"),
    case("replay-huge-frame", "run --replay rep_huge_frame.json", err="frame"),
    case("replay-bool-cpl", "run --replay rep_bool_cpl.json", err="cpl"),
    case("replay-bad-entry", "run --replay rep_bad_entry.json", err="no_such_symbol"),
    case("replay-empty", "run --replay rep_empty.json", err="rep_empty.json"),
    case("replay-binary", "run --replay rep_binary.json", err="UTF-8"),
    case("replay-utf16", "run --replay rep_utf16.json", err="UTF-8"),
    case("replay-trailing", "run --replay rep_trailing.json", err="JSON"),
    case("replay-huge", "run --replay rep_huge.json", err="larger than"),
    case("replay-json-flag", "run --replay rep_no_inputs.json --json", err="inputs"),
    # hotplug ranges
    case("hotplug-past-2-64", "hotplug add 0x10000000000000000 4K", err="BASE"),
    case("hotplug-size-2-80", "hotplug add 0 0x100000000000000000000", err="SIZE"),
    case("hotplug-beyond-maxpa", "hotplug add 0x400000000000 4K", err="MAXPA"),
    case("hotplug-remove-beyond-maxpa", "hotplug remove 0x400000000000 4K", err="MAXPA"),
    case("hotplug-cpu-beyond-platform", "hotplug cpu add 8", err="CPUs 0..7"),
    case("hotplug-end-past-2-64", "hotplug add 0xfffffffffffff000 8K", err="2^64"),
    case("hotplug-size-zero", "hotplug add 0x380000000 0", err="SIZE"),
    case("hotplug-unaligned", "hotplug add 0x380000001 4K", err="aligned"),
    case("hotplug-negative", "hotplug add -4096 4K", err="BASE"),
    case("hotplug-unicode", "hotplug add ٤G 4K", err="BASE"),
    case("hotplug-bad-unit", "hotplug add 4Q 4K", err="BASE"),
    case("hotplug-nan", "hotplug add nan 4K", err="BASE"),
    case("hotplug-remove-huge", "hotplug remove 0 0x100000000000000000000", err="SIZE"),
    case("hotplug-cpu-huge", "hotplug cpu add 99999999999999999999", err="CPU"),
    case("hotplug-cpu-negative", "hotplug cpu remove -1", err="CPU"),
    case("hotplug-cpu-unicode", "hotplug cpu remove ٣", err="CPU"),
    case("hotplug-cpu-missing", "hotplug cpu add", err="cpu"),
    case("hotplug-kexec-extra", "hotplug kexec now", err="kexec"),
    case("hotplug-unknown-action", "hotplug explode", err="explode"),
    case("hotplug-cpu-remove-boot", "hotplug cpu remove 0", code=0, err_lines=0),
    # injection specs
    case("inject-garbage", "boot --inject garbage", err="garbage"),
    case("inject-bad-leaf", "boot --inject 'leaf=NOPE:status=TDX_SUCCESS'", err="NOPE"),
    case("inject-bad-status", "boot --inject 'leaf=TDH.SYS.INIT:status=NOPE'", err="NOPE"),
    case("inject-bad-fault", "boot --inject 'leaf=TDH.SYS.INIT:fault=#PF'", err="#PF"),
    case("inject-huge-call", "boot --inject 'call=99999999999999999999999:fault=#GP'", err="call"),
    case("inject-unicode-lp", "boot --inject 'lp=٣:fault=#GP'", err="lp"),
    case("inject-negative-count", "boot --inject 'count=-1:fault=#GP'", err="count"),
    case("inject-many-rules", "boot --inject '" + ";".join(["call=1:fault=#GP"] * 5000) + "'",
         code=1, err_lines=0),
    case("inject-empty", "boot --inject ''", err="inject"),
    # fuzz: interrupted, asked for an impossible budget, or given a bad worker id.  A Ctrl-C
    # case's limit counts from the interrupt (badinput_runner.py); its seed is fixed so what
    # the campaign finds before it does not vary from run to run.
    case("fuzz-ctrl-c", "fuzz --time 60 --seed 1 --out fz_interrupt --asm plant/seamcall.S "
         "--entry __seamcall_saved_ret", code=130,
         err="1 finding(s) saved in fz_interrupt/findings/", subprocess=True,
         interrupt_when="fz_interrupt/findings/*.json", limit=15.0),
    case("fuzz-ctrl-c-nothing-found", "fuzz --time 60 --seed 1 --out fz_nothing", code=130,
         err="no finding saved", subprocess=True, interrupt_when="fz_nothing/w/queue", limit=15.0),
    case("fuzz-ctrl-c-two-jobs", "fuzz --time 60 --seed 1 --jobs 2 --out fz_jobs --asm plant/seamcall.S "
         "--entry __seamcall_saved_ret", code=130, err="saved in fz_jobs/findings/",
         subprocess=True, interrupt_when="fz_jobs/findings/*.json", limit=15.0),
    case("fuzz-worker-id-slash", "fuzz --quiet --runs 1 --worker-id ../x", err="--worker-id"),
    case("fuzz-worker-id-empty", "fuzz --quiet --runs 1 --worker-id ''", err="--worker-id"),
    case("fuzz-out-file", "fuzz --quiet --runs 1 --out good.S", err="good.S"),
    case("fuzz-diff-entry-missing", "fuzz --quiet --runs 1 --diff good.S --diff-entry nope", err="nope"),
    # outputs: existing file for a directory option, a directory for a file option
    case("out-diagram-existing-file", "diagram --out good.S", err="not a directory"),
    case("out-report-directory", "report --out .", err="directory"),
    case("out-report-tmp", "report --out /tmp", err="directory"),
    case("out-boot-log-directory", "boot --log .", err="directory"),
    case("out-report-json", "report --out r/report.html --json", code=0, out='"path"', err_lines=0),
    case("out-diagram-json", "diagram --out figs --json", code=0, out='"files"', err_lines=0),
    case("out-demo-json", "demo --json", code=0, out='"outcomes"', err_lines=0),
    # options of the kbuild/gdb workflow and of Intel's module behind the trap
    case("obj-text-file", "asm --obj good.S", err="not an ELF object file"),
    case("obj-directory", "asm --obj .", err="--obj .: is a directory"),
    case("obj-missing", "asm --obj no_such.o", err="--obj no_such.o: cannot read: no such file"),
    case("obj-dev-zero", "run --obj /dev/zero --entry f", err="--obj /dev/zero: larger than 16 MiB"),
    case("obj-dev-null", "asm --obj /dev/null", err="--obj /dev/null: not an ELF object file"),
    case("stub-bad-name", "asm good.S --stub 'a b'", err="--stub"),
    case("stub-empty", "asm good.S --stub ''", err="--stub"),
    case("elf-missing-directory", "asm good.S --elf no/such/dir/x.elf", err="does not exist"),
    case("elf-ok", "asm good.S --elf out.elf", code=0, out="ELF64 executable", err_lines=0),
    # what GNU as assembles with a warning, both backends warn the same way (one line)
    case("asm-fill-size-clamped", "asm fill16.S", code=0,
         err="seamemu asm: warning: fill16.S:6: .fill size clamped to 8", err_lines=1),
    case("asm-fill-size-clamped-gnu", "asm --assembler gnu fill16.S", code=0,
         err="seamemu asm: warning: fill16.S:6: .fill size clamped to 8", err_lines=1),
    case("run-fill-size-clamped", "run --asm fill16.S --entry f --convention raw", code=0,
         err="warning: fill16.S:6: .fill size clamped to 8", err_lines=1),
    case("asm-bignum-set", "asm bignum_set.S", err="bignum_set.S:5: bad expression in `.set`"),
    case("module-binary-empty", "run --module-binary ''", err="--module-binary"),
    case("module-binary-text", "run --module-binary good.S", err="not an ELF file"),
    case("module-version-empty", "run --module-version ''", err="--module-version"),
    case("module-version-unknown", "boot --module-version 1.5.9", err="--module-version"),
    case("gdb-not-host-port", "run --gdb nonsense", err="--gdb"),
    case("gdb-port-too-big", "run --gdb 127.0.0.1:99999999", err="--gdb"),
    case("gdb-port-negative", "run --gdb 127.0.0.1:-1", err="--gdb"),
    case("into-module-without-binary", "trace --into-module", err="--module-binary"),
    case("cmr-method-bad", "cmr --method nope", err="--method"),
    case("cmr-method-empty", "cmr --method ''", err="--method"),
    # `:PORT` is gdbserver's spelling for this host: accepted, and the wait is bounded
    case("gdb-port-only", "run --gdb :0 --gdb-timeout 0.3",
         err="no debugger attached within 0.3 s"),
    case("cmr-method-upper", "cmr --method RD", err="--method"),
    case("cmr-method-rd-on-1.0", "cmr --abi 1.0 --method rd",
         err="--method rd: a TDX 1.0 module has no TDH.SYS.RD"),
    case("cmr-method-twice", "cmr --method rd --method info --json", code=0, out='"TDH.SYS.INFO"',
         err_lines=0),
    case("model-diff-platform-bad", "model-diff --platform nope", err="nope"),
    case("model-diff-replay-and-runs", "model-diff --replay good.S", err="good.S"),
    case("model-diff-json-stray", "model-diff --json yes", err="unrecognized arguments"),
    case("model-diff-out-file", "model-diff --out good.S", err="not a directory"),
    case("model-diff-no-binary", "model-diff", err="--module-binary"),
    # the TD guest's side (--td, the tdcall and hypercall conventions)
    case("td-vmx-off", "run --td --vmx off", err="--td with --vmx off"),
    case("td-explain-vmx-off", "explain --td --vmx off", err="--td with --vmx off"),
    case("td-host-stub-in-a-td", "run --td --convention args --json", code=0,
         out='"TDX_SEAMCALL_UD"', err_lines=0),
    case("td-unknown-leaf-name", "run --td --leaf TDG.VP.NOPE", err="--leaf"),
    case("td-hypercall-leaf", "run --td --convention hypercall --leaf 5", err="R11"),
    case("td-hypercall-rcx", "run --td --convention hypercall --rcx 1", err="register rcx"),
    case("td-fuzz-host-convention", "fuzz --quiet --runs 1 --td --convention legacy",
         err="--td with --convention legacy"),
    case("td-fuzz-kernel", "fuzz --quiet --runs 1 --td --kernel 6.8", err="--kernel 6.8"),
    case("td-fuzz-variant", "fuzz --quiet --runs 1 --td --convention hypercall --variant ret",
         err="--variant"),
    case("td-fuzz-module-binary", "fuzz --quiet --runs 1 --td --module-binary good.S",
         err="--module-binary"),
    case("td-run-ok", "run --td --leaf TDG.VP.INFO --json", code=0, out='"TDX_SUCCESS"',
         err_lines=0),
    case("td-stray-value", "run --td on", err="unrecognized arguments"),
    # stdin and odd argv
    case("stdin-source", "asm /dev/stdin", code=0, err_lines=0, subprocess=True, stdin=GOOD_S),
    case("argv-nul-in-path", "asm 'a\x00b'", err="asm"),
    case("argv-dash-file", "asm -", err="asm"),
]

CASES: list[Case] = ROWS + _generated()
