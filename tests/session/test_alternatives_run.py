# SPDX-License-Identifier: MIT
"""An object using the kernel's ALTERNATIVE macros runs what the platform's CPU would run: the
replacement where CPUID has the feature, the original where it does not, and a feature CPUID
cannot decide is a one-line error unless the user chooses."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamemu.cli import main
from seamemu.errors import AsmError
from seamemu.platform import load_platform_text
from seamemu.session import Session

SOURCE = Path(__file__).resolve().parents[1] / "frontend" / "objects" / "alternatives.S"
# CPUID.(EAX=7,ECX=0):EBX as the default platform reports it, less bit 9 (ERMS).
NO_ERMS = load_platform_text('extends = "default"\n'
                             "[[cpuid]]\nleaf = 7\nsubleaf = 0\nebx = 0x21942DEB\n")


def _rax(session: Session, entry: str) -> int:
    r = session.call(entry, convention="raw")
    assert r.outcome == "no-seamcall", r.outcome
    return r.rax


@pytest.fixture(scope="module")
def alt_obj(kbuild):
    return kbuild(SOURCE)


def test_the_cpu_decides_which_instructions_run(alt_obj):
    with_erms, without = Session([alt_obj]), Session([alt_obj], platform=NO_ERMS)
    # ALTERNATIVE "call alt_one", "call alt_two", X86_FEATURE_ERMS: the replacement's call,
    # copied to the original's place, still reaches alt_two.
    assert (_rax(with_erms, "alt_call"), _rax(without, "alt_call")) == (2, 1)
    # ALT_NOT(X86_FEATURE_ERMS): the replacement runs only where ERMS is absent.
    assert (_rax(with_erms, "alt_not"), _rax(without, "alt_not")) == (7, 8)


def test_the_user_may_choose_original_or_patched(alt_obj):
    for mode, expected in (("original", (1, 7)), ("patched", (2, 8))):
        s = Session([alt_obj], alternatives=mode)
        assert (_rax(s, "alt_call"), _rax(s, "alt_not")) == expected, mode


def test_a_feature_cpuid_cannot_decide_is_refused_unless_chosen(kbuild, capsys):
    obj = kbuild(SOURCE, "-DALT_UNDECIDABLE")
    with pytest.raises(AsmError) as err:
        Session([obj])
    assert str(err.value) == (f"{obj}: alternative at alt_synthetic+0x5: feature 364 (11*32+12) "
                              "is not a CPUID bit seamemu can decide; choose with "
                              "--alternatives original|patched")
    code = main(["run", "--obj", str(obj), "--entry", "alt_synthetic", "--convention", "raw"])
    out, errors = capsys.readouterr()
    assert code == 2 and not out and errors.count("\n") == 1 and "feature 364" in errors
    assert _rax(Session([obj], alternatives="patched"), "alt_synthetic") == 3
    assert _rax(Session([obj], alternatives="original"), "alt_synthetic") == 1
