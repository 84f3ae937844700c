# SPDX-License-Identifier: MIT
"""The model's public surface: what seamemu.model exports, and that TdxModule is a SeamTarget."""

from __future__ import annotations

import inspect

import seamemu.model as model
from seamemu.traps.target import CallRecord, SeamTarget


def test_public_names_are_pinned_and_sorted():
    assert model.__all__ == sorted(model.__all__)
    assert model.__all__ == [
        "Check", "InjectRule", "Injector", "LeafSpec", "ModuleState", "SysState", "TdxModule",
        "all_leaf_specs", "format_record", "leaf_spec", "parse_rule",
    ]


def test_importing_the_traps_loads_no_module_model():
    """The trap/model contract lives with the traps: the model plugs in behind it."""
    import subprocess
    import sys

    code = ("import sys, seamemu.traps; "
            "print(sorted(m for m in sys.modules if m.startswith('seamemu.model')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tdx_module_implements_the_seam_target_protocol(platform15):
    tdx = model.TdxModule(platform15)
    for name in ("module_loaded", "pseamldr_present", "pseamldr_busy", "seamcall"):
        ours = inspect.signature(getattr(tdx, name))
        theirs = inspect.signature(getattr(SeamTarget, name))
        assert list(ours.parameters) == list(theirs.parameters)[1:], name
    assert tdx.module_loaded() and tdx.pseamldr_present() and not tdx.pseamldr_busy(0)


def test_call_record_json_carries_the_checks():
    rec = CallRecord(seq=1, lp=0, leaf=33, leaf_name="TDH.SYS.INIT", version=0, inputs={},
                     outputs={}, status=0, status_name="TDX_SUCCESS", checks=("state",))
    assert rec.to_json()["checks"] == ["state"]
    assert CallRecord(seq=1, lp=0, leaf=33, leaf_name="x", version=0, inputs={}, outputs={},
                      status=0, status_name="x").checks == ()


def test_every_modelled_leaf_has_a_spec_with_checks_and_a_source():
    specs = model.all_leaf_specs()
    names = [s.name for s in specs]
    assert {"TDH.SYS.INIT", "TDH.SYS.LP.INIT", "TDH.SYS.CONFIG", "TDH.SYS.KEY.CONFIG",
            "TDH.SYS.TDMR.INIT", "TDH.SYS.LP.SHUTDOWN", "TDH.SYS.SHUTDOWN", "TDH.SYS.INFO",
            "TDH.SYS.RD", "TDH.SYS.RDALL", "TDH.SYS.UPDATE", "TDH.PHYMEM.PAGE.RDMD",
            "TDH.PHYMEM.PAGE.RECLAIM", "TDH.PHYMEM.CACHE.WB", "TDH.PHYMEM.PAGE.WBINVD",
            "SEAMLDR.INFO", "SEAMLDR.INSTALL"} == set(names)
    for spec in specs:
        assert spec.source and spec.summary, spec.name
        ids = [c.id for c in spec.checks]
        assert len(ids) == len(set(ids)), spec.name
