# SPDX-License-Identifier: MIT
"""The figures come from the tables the code runs on: each changes when its table changes."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from seamemu.arch import leaves as arch_leaves
from seamemu.learn.diagram import (
    FIGURES,
    decision_tree_svg,
    lifecycle_svg,
    matrix_svg,
    write_figures,
)
from seamemu.learn.lifecycle import probe_lifecycle
from seamemu.learn.svg import OUTCOME_COLOURS
from seamemu.platform import load_platform
from seamemu.session.matrix import outcome_matrix
from seamemu.traps import seamcall

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_the_decision_tree_shows_every_row_in_table_order():
    words = texts(decision_tree_svg())
    ids = [w.split(". ", 1)[1] for w in words if ". " in w and w.split(". ", 1)[0].isdigit()]
    assert ids == [c.id for c in seamcall.SEAMCALL_CHECKS]


def test_the_decision_tree_changes_when_its_table_changes(monkeypatch):
    before = decision_tree_svg()
    rows = seamcall.SEAMCALL_CHECKS
    gp_cpl = next(c for c in rows if c.id == "gp_cpl")
    # Move the CPL check after the VM exit, as the spec's pseudo-code lists it.
    reordered = tuple(c for c in rows if c.id != "gp_cpl")
    at = [c.id for c in reordered].index("vmexit_non_root") + 1
    reordered = reordered[:at] + (gp_cpl,) + reordered[at:]
    monkeypatch.setattr(seamcall, "SEAMCALL_CHECKS", reordered)
    after = decision_tree_svg()
    assert after != before
    words = texts(after)
    assert words.index("6. vmexit_non_root") < words.index("7. gp_cpl")
    # Activating the LOCK row turns its dashed box solid.
    monkeypatch.setattr(seamcall, "SEAMCALL_CHECKS", seamcall.seamcall_checks(True))
    assert "inactive: documented, not applied" not in texts(decision_tree_svg())


def test_the_lifecycle_has_the_leaves_on_its_edges():
    life = probe_lifecycle("1.5")
    edges = {(e.source, e.target): e.leaves for e in life.edges}
    assert edges[("SYSINIT_PENDING", "SYSINIT_DONE")] == ("TDH.SYS.INIT",)
    assert edges[("SYSINIT_DONE", "SYSCONFIG_DONE")] == ("TDH.SYS.CONFIG",)
    assert "TDH.SYS.KEY.CONFIG" in edges[("SYSCONFIG_DONE", "SYS_READY")]
    assert "TDH.SYS.TDMR.INIT" in edges[("SYS_READY", "SYS_READY")]
    # TDX 1.0 shuts down with TDH.SYS.LP.SHUTDOWN from any state; 1.5 with TDH.SYS.SHUTDOWN.
    old = {(e.source, e.target): e.leaves for e in probe_lifecycle("1.0").edges}
    assert old[("SYSINIT_PENDING", "SYS_SHUTDOWN")] == ("TDH.SYS.LP.SHUTDOWN",)
    assert edges[("SYS_READY", "SYS_SHUTDOWN")] == ("TDH.SYS.SHUTDOWN",)
    words = " ".join(texts(lifecycle_svg(abi="1.5")))
    for state in life.states:
        assert state in words


def test_the_lifecycle_changes_when_the_admission_table_changes(monkeypatch):
    before = lifecycle_svg(abi="1.5")
    rd = arch_leaves.leaf_by_name("TDH.SYS.RD")
    leaves = tuple(dataclasses.replace(x, before_ready=False) if x is rd else x
                   for x in arch_leaves.SEAMCALL_LEAVES)
    monkeypatch.setattr(arch_leaves, "SEAMCALL", arch_leaves.LeafTable(leaves, lambda x: x.number))
    life = probe_lifecycle("1.5")
    loops = {e.source: e.leaves for e in life.edges if e.source == e.target}
    assert "TDH.SYS.RD" not in loops["SYSINIT_DONE"]        # refused: TDX_SYS_NOT_READY
    assert "TDH.SYS.RD" in loops["SYS_READY"]
    assert lifecycle_svg(abi="1.5") != before


def test_the_matrix_changes_when_the_seamcall_table_changes(monkeypatch):
    rows = outcome_matrix()
    before = matrix_svg(rows)
    assert [r.outcome for r in rows if r.vmx and r.seamrr and r.cpl == 3 and not r.td] == \
        ["#GP", "#GP"]
    # Another table is another object, with verdicts of its own: nothing to clear.
    monkeypatch.setattr(seamcall, "SEAMCALL_TABLE", seamcall.SeamcallTable(
        tuple(c for c in seamcall._CPU_ROWS if c.id != "gp_cpl"), seamcall._TARGET_ROWS))
    changed = outcome_matrix()
    assert [r.outcome for r in changed if r.vmx and r.seamrr and r.cpl == 3 and not r.td] == \
        ["returned", "VMfailInvalid"]
    assert matrix_svg(changed) != before
    monkeypatch.undo()
    assert [r.outcome for r in outcome_matrix()] == [r.outcome for r in rows]


def test_matrix_rows_are_coloured_by_outcome():
    rows = outcome_matrix()
    svg = matrix_svg(rows)
    for outcome in {r.outcome for r in rows}:
        assert f'fill="{OUTCOME_COLOURS[outcome][1]}"' in svg
    assert OUTCOME_COLOURS["returned"][1] != OUTCOME_COLOURS["#GP"][1] != \
        OUTCOME_COLOURS["#UD"][1] != OUTCOME_COLOURS["VMfailInvalid"][1]


def test_seamemu_diagram_writes_three_svg_files(tmp_path, capsys):
    from seamemu.cli import main
    assert main(["diagram", "--out", str(tmp_path / "figs")]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[1] for p in printed] == list(FIGURES)
    for name in FIGURES:
        root = ET.parse(tmp_path / "figs" / name).getroot()
        assert root.tag == f"{SVG}svg" and int(root.get("width")) > 300


def test_write_figures_follows_the_platform_abi(tmp_path):
    paths = write_figures(tmp_path, platform=load_platform(preset="tdx10"))
    assert "ABI 1.0" in paths[1].read_text()
