# SPDX-License-Identifier: MIT
"""Each kernel generation's own stub, fuzzed with that generation's rules, reports nothing; a
stub that does what another generation promises is flagged under this one's rules.

The rules come from kernel.generations + kernel.calling (fuzz/promises.py): the v5-2022
__seamcall() copies the output registers to *out even when SEAMCALL failed with VMfailInvalid
(its comment: callers read the outputs of failed calls too); the 2023 rewrite
("Skip saving output regs when SEAMCALL fails with VMFailInvalid") stopped doing that.
"""

from __future__ import annotations

import pytest
from fuzz_helpers import campaign

from seamemu.fuzz import load_reproducer
from seamemu.kernel import GENERATIONS, generation, stub_files

CASES = [(name, entry) for name, gen in GENERATIONS.items() for entry in gen.entries]
SKIP_COPY_ON_VMFAIL = """\
	movq	$TDX_SEAMCALL_VMFAILINVALID, %rax
	popq	%r12
	jmp	1f
3:
"""


@pytest.mark.parametrize("kernel, entry", CASES)
def test_each_generation_s_stub_keeps_its_own_rules(tmp_path, kernel, entry):
    gen = generation(kernel)
    [asm] = stub_files(gen)
    s = campaign(tmp_path, str(asm), entry, gen.convention, runs=2500, seed=7, kernel=kernel)
    assert s["kernel"] == kernel and s["runs"] == 2500
    assert s["findings"] == []


def _skipping_copy(tmp_path):
    """The v5 stub changed the 2023 way: VMfailInvalid returns without touching *out."""
    [asm] = stub_files("v5-2022")
    text = asm.read_text()
    old = "\tmovq\t$TDX_SEAMCALL_VMFAILINVALID, %rax\n3:\n"
    assert old in text
    path = tmp_path / "seamcall_legacy.S"
    path.write_text(text.replace(old, SKIP_COPY_ON_VMFAIL))
    return str(path)


def test_v5_rules_flag_a_stub_that_skips_the_output_copy_on_vmfailinvalid(tmp_path):
    asm = _skipping_copy(tmp_path)
    s = campaign(tmp_path / "out", asm, "__seamcall", "legacy", runs=3000, seed=3,
                 kernel="v5-2022")
    rules = {f["rule"] for f in s["findings"]}
    assert rules == {"output-struct"}, s["findings"]
    [finding] = [f for f in s["findings"] if f["rule"] == "output-struct"]
    repro = load_reproducer(finding["reproducer"])
    assert repro.kernel == "v5-2022"
