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
from fuzz_helpers import campaign, planted

from seamemu.fuzz import load_reproducer
from seamemu.kernel import GENERATIONS, generation, stub_files

CASES = [(name, entry) for name, gen in GENERATIONS.items() for entry in gen.entries]


@pytest.mark.parametrize("kernel, entry", CASES)
def test_each_generation_s_stub_keeps_its_own_rules(tmp_path, kernel, entry):
    gen = generation(kernel)
    [asm] = stub_files(gen)
    s = campaign(tmp_path, str(asm), entry, gen.convention, runs=2500, seed=7, kernel=kernel)
    assert s["kernel"] == kernel and s["runs"] == 2500
    assert s["findings"] == []


def test_v5_rules_flag_a_stub_that_skips_the_output_copy_on_vmfailinvalid(tmp_path):
    s = campaign(tmp_path, planted("vmfail_skip_copy"), "__seamcall", "legacy", runs=3000,
                 seed=3, kernel="v5-2022")
    assert {f["rule"] for f in s["findings"]} == {"output-struct"}, s["findings"]
    for f in s["findings"]:
        assert load_reproducer(f["reproducer"]).kernel == "v5-2022"
