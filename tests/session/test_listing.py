# SPDX-License-Identifier: MIT
"""The `seamemu asm` listing: runs of zero bytes and of one repeated row are one line each, a
run never hides a label, and everything else is listed instruction by instruction."""

from __future__ import annotations

from seamemu.frontend import assemble_text
from seamemu.session.listing import format_listing, listing_json, listing_rows

SRC = """.text
.globl f
f:
    nop
    .space 20
    ret
    .fill 100, 1, 0x90
g:
    .space 30
    int3
.data
d:
    .byte 1, 2, 3
    .space 100
    .fill 40, 4, 0x41424344
"""


def test_runs_are_one_line_each_and_stop_at_labels():
    text = format_listing(assemble_text(SRC, filename="l.S"))
    assert "  400001:\t...\t(20 zero bytes, to 400015)" in text
    assert "  400016:\t90                   \tnop" in text
    assert "  400017:\t...\t(99 more of the same, to 40007a)" in text
    # the label g at 0x40007a still has its line, and its zero run is its own
    assert "\n000000000040007a <g>:\n  40007a:\t...\t(30 zero bytes, to 400098)" in text
    assert "  400098:\tcc                   \tint3" in text
    assert "(87 zero bytes, to 401067)" in text and "(9 more of the same, to 401107)" in text
    assert len(text.splitlines()) < 25


def test_a_16_mib_space_lists_in_one_line():
    image = assemble_text(".data\nbuf:\n.space 1<<24\n", filename="big.S")
    rows = listing_rows(image)
    assert len(rows) == 1 and rows[0]["count"] == 1 << 24 and rows[0]["text"] == "..."


def test_short_runs_are_listed_as_they_are():
    text = format_listing(assemble_text(".text\nf:\nnop\nnop\nnop\n.space 7\nret\n", filename="s.S"))
    assert text.count("\tnop") == 3 and "..." not in text
    assert text.count("addb %al, (%rax)") == 3          # 7 zero bytes: below the run length


def test_json_rows_carry_the_count():
    doc = listing_json(assemble_text(SRC, filename="l.S"))
    counted = [r for r in doc["instructions"] if "count" in r]
    assert [(r["text"], r["count"]) for r in counted][:3] == [("...", 20), ("nop", 100), ("...", 30)]
    assert all("count" not in r for r in doc["instructions"] if r["text"] == "ret")
