# SPDX-License-Identifier: MIT
"""The generation table: names, defaults, one-line errors, stubs that carry their entries."""

import re

import pytest

from seamemu.errors import InputError
from seamemu.frontend import assemble
from seamemu.kernel import DEFAULT_KERNEL, GENERATIONS, generation, generation_with, stub_files
from seamemu.kernel.hotplug import get_policy

COMMIT = re.compile(r"\b[0-9a-f]{12}\b")


def test_the_generations_and_the_default():
    assert set(GENERATIONS) == {"v5-2022", "6.8", "mainline"}
    assert DEFAULT_KERNEL == "mainline" and generation(None).name == "mainline"
    assert generation(GENERATIONS["6.8"]) is GENERATIONS["6.8"]


@pytest.mark.parametrize("name, hint", [("v5", "did you mean 'v5-2022'? "), ("6.9", "did you mean '6.8'? "),
                                        ("linux-next", "")])
def test_an_unknown_name_is_one_line_naming_the_known_ones(name, hint):
    with pytest.raises(InputError) as e:
        generation(name, "--kernel")
    assert str(e.value) == (f"--kernel {name!r}: unknown kernel generation ({hint}known: 6.8, "
                            "mainline, v5-2022)")


def test_an_unknown_name_is_named_where_it_was_given():
    # A Python call (bring_up(session, kernel=...)) names its argument, not a CLI option.
    with pytest.raises(InputError, match=r"^kernel='v4\.20': unknown kernel generation"):
        generation("v4.20")
    with pytest.raises(InputError, match=r"^--seamemu-kernel 'x': unknown"):
        generation("x", "--seamemu-kernel")


def test_a_convention_implies_its_generation():
    assert generation_with("args").name == "mainline"
    assert generation_with("legacy").name == "v5-2022"
    assert generation_with("raw").name == "mainline"


@pytest.mark.parametrize("name", sorted(GENERATIONS))
def test_each_generation_is_cited_and_its_stub_has_its_entries(name):
    gen = GENERATIONS[name]
    assert gen.sources and all(gen.sources)
    if name != "v5-2022":               # never merged: cited by lore Message-ID, not a commit
        assert any(COMMIT.search(s) for s in gen.sources)
    image = assemble(stub_files(gen))
    assert set(gen.entries) <= set(image.symbols) and gen.entry in gen.entries
    assert gen.hotplug_policies and all(get_policy(p).kernel == name for p in gen.hotplug_policies)


def test_the_differences_a_user_sees():
    v5, l68, main = (GENERATIONS[n] for n in ("v5-2022", "6.8", "mainline"))
    assert (v5.extable, l68.extable, main.extable) == (False, True, True)
    assert (v5.sysinfo, l68.sysinfo, main.sysinfo) == ("TDH.SYS.INFO", "TDH.SYS.RD", "TDH.SYS.RD")
    assert (v5.reads_cmrs, l68.reads_cmrs, main.reads_cmrs) == (True, False, False)
    assert v5.vmfail_writes_outputs and not l68.vmfail_writes_outputs
    assert not v5.retries_entropy and l68.retries_entropy and main.retries_entropy
    assert (v5.pr_fmt, l68.pr_fmt) == ("tdx: ", "virt/tdx: ")
