# SPDX-License-Identifier: MIT
"""A kernel-style file built into an object as kbuild builds it runs exactly as its source does:
the same outcome, RAX and ABI verdict in every VMX x SEAMRR x CPL x module state."""

from __future__ import annotations

import pytest

from seamemu.session.matrix import outcome_matrix


def _rows(files, entry, convention, stubs=()):
    return [(r.vmx, r.seamrr, r.cpl, r.module, r.outcome, r.rax, r.rule, r.abi_preserved)
            for r in outcome_matrix(files, entry, convention=convention, stubs=stubs)]


CASES = [
    # (source, entry, convention, gcc flags, stubs)
    ("seamcall.S", "__seamcall_ret", "args", (), ()),
    ("seamcall.S", "__seamcall_saved_ret", "args", (), ()),
    ("seamcall_legacy.S", "__seamcall", "legacy", (), ()),
    ("kstub", "kstub_seamcall", "args", (), ()),
    ("kstub", "kstub_seamcall", "args", ("-DCONFIG_MITIGATION_RETHUNK",), ("__x86_return_thunk",)),
]


@pytest.mark.parametrize("source, entry, convention, flags, stubs", CASES,
                         ids=[f"{c[0]}:{c[1]}{'+rethunk' if c[3] else ''}" for c in CASES])
def test_an_object_runs_as_its_source(kbuild, kstub, asm_dir, source, entry, convention, flags,
                                      stubs):
    src = kstub if source == "kstub" else asm_dir / source
    obj = kbuild(src, *flags)
    from_source = _rows([src], entry, convention, stubs)
    from_object = _rows([obj], entry, convention, stubs)
    assert from_object == from_source
    # A comparison worth making: the matrix reaches every kind of outcome.
    assert {r[4] for r in from_source} >= {"returned", "#GP", "#UD", "VMfailInvalid"}


def test_a_source_and_an_object_run_together(kbuild, kstub, tmp_path):
    """The source calls into the object, which returns through the source's return thunk."""
    caller = tmp_path / "caller.S"
    caller.write_text(".text\n.globl __x86_return_thunk\n__x86_return_thunk:\n\tret\n"
                      ".globl call_twice\ncall_twice:\n\tpushq %rbx\n"
                      "\tcall kstub_counter_addr\n\tmovq %rax, %rbx\n"
                      "\tmovq (%rbx), %rax\n\tpopq %rbx\n\tret\n")
    obj = kbuild(kstub, "-DCONFIG_MITIGATION_RETHUNK")
    from seamemu.session import Session

    session = Session([caller, obj])
    for _ in range(2):
        session.call("kstub_seamcall", leaf=0x21)
    r = session.call("call_twice", convention="raw")
    assert (r.outcome, r.rax) == ("no-seamcall", 2)   # the counter read itself issues none
