# SPDX-License-Identifier: MIT
"""The shared CLI parsing (seamemu/cli/common.py): one-line usage errors naming the command,
and number options that take ASCII digits only and finite values, for every command."""

from __future__ import annotations

import pytest

from seamemu.cli import build_parser, main
from seamemu.cli import common as C


def test_a_usage_error_is_one_line_and_a_hint(capsys):
    assert main(["run", "--cpl", "x"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["seamemu run: error: argument --cpl: 'x' is not a whole number",
                   "see seamemu run --help"]


def test_stray_words_are_charged_to_the_command_given(capsys):
    assert main(["demo", "extra"]) == 2
    assert capsys.readouterr().err.startswith("seamemu demo: error: unrecognized arguments: extra\n")


def test_every_int_and_float_option_of_a_new_command_is_checked(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    p = sub.add_parser("newcmd")
    p.add_argument("--count", type=int)
    p.add_argument("--wait", type=float)
    assert parser.parse_args(["newcmd", "--count", "12", "--wait", "0.5"]).count == 12
    for argv, needle in ((["--count", "\u0661\u0662"], "is not a whole number"),
                         (["--count", "\uff11"], "is not a whole number"),
                         (["--wait", "nan"], "is not a finite number"),
                         (["--wait", "inf"], "is not a finite number")):
        with pytest.raises(SystemExit):
            parser.parse_args(["newcmd", *argv])
        assert needle in capsys.readouterr().err


def test_ranges_and_durations_say_the_bound():
    with pytest.raises(Exception, match="more than 4, the most it takes"):
        C.in_range(1, 4)("5")
    with pytest.raises(Exception, match="less than 1"):
        C.in_range(1, 4)("0")
    with pytest.raises(Exception, match="at most 604,800"):
        C.seconds("1e308")
    assert C.seconds("0.25") == 0.25


def test_register_values_are_ascii_and_64_bit():
    assert C.u64("0x1_0", "--rcx") == 16 and C.u64("-1", "--rcx") == (1 << 64) - 1
    for text in ("\u0661", str(1 << 64), "1.5", "0x0x1", "9" * 300):
        with pytest.raises(Exception, match="--rcx"):
            C.u64(text, "--rcx")
