# SPDX-License-Identifier: MIT
"""The shipped kernel-style headers: generated offsets, constants that match seamemu.arch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from fe_helpers import code, section

from seamemu.arch import kernel, leaves, structs
from seamemu.frontend import DEFAULT_INCLUDE_DIR, assemble_text

REPO = Path(__file__).resolve().parents[2]
HEADERS = sorted(p.relative_to(DEFAULT_INCLUDE_DIR).as_posix() for p in DEFAULT_INCLUDE_DIR.rglob("*.h"))


def quads(src: str, backend: str = "keystone") -> list[int]:
    data = section(assemble_text(src, backend=backend), ".data").data
    return [int.from_bytes(data[k:k + 8], "little") for k in range(0, len(data), 8)]


def test_asm_offsets_header_is_up_to_date():
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "gen_asm_offsets.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_asm_offsets_match_struct_layout():
    names = structs.TDX_MODULE_ARGS_FIELDS
    src = "#include <asm/asm-offsets.h>\n.data\n" + "".join(f".quad TDX_MODULE_{n}\n" for n in names)
    assert quads(src) == [structs.TDX_MODULE_ARGS_OFFSETS[n] for n in names]


@pytest.mark.parametrize("backend", ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)])
def test_tdx_status_codes_match_the_python_side(backend):
    names = ["TDX_ERROR", "TDX_NON_RECOVERABLE", "TDX_SW_ERROR", "TDX_SEAMCALL_VMFAILINVALID",
             "TDX_SEAMCALL_GP", "TDX_SEAMCALL_UD"]
    src = "#include <asm/tdx.h>\n.data\n" + "".join(f".quad {n}\n" for n in names)
    assert quads(src, backend) == [getattr(kernel, n) for n in names]


def test_extable_types_match_the_python_side():
    names = sorted(kernel.EX_TYPE_NAMES.values())
    src = "#include <asm/extable_fixup_types.h>\n.data\n" + "".join(f".quad {n}\n" for n in names)
    assert quads(src) == [getattr(kernel, n) for n in names]


def test_leaf_numbers_match_the_python_side():
    header = (DEFAULT_INCLUDE_DIR / "asm" / "tdx.h").read_text()
    in_header = {m.group(1): int(m.group(2), 0)
                 for m in re.finditer(r"#define\s+(TDH_\w+|P_SEAMLDR_\w+)\s+(0x[0-9A-Fa-f]+|\d+)", header)}
    assert len(in_header) > 30
    for name, number in in_header.items():
        if name.startswith("TDH_"):
            leaf = leaves.leaf_by_name(name)
            assert leaf is not None and leaf.number == number, name
        else:
            leaf = leaves.seamldr_leaf_by_name(name.removeprefix("P_"))
            assert leaf is not None and leaf.rax == number, name


def test_frame_and_linkage_macros():
    src = """
#include <linux/linkage.h>
#include <asm/frame.h>
    nop
SYM_FUNC_START(f)
    FRAME_BEGIN
    FRAME_END
    RET
SYM_FUNC_END(f)
SYM_FUNC_START_LOCAL(g)
    RET
SYM_FUNC_END(g)
"""
    image = assemble_text(src)
    text = section(image, ".text").data
    assert image.symbols["f"] == section(image, ".text").address + 16   # ALIGN: 16 bytes
    assert text[16:22] == bytes.fromhex("55 4889e5 5d c3")
    assert image.globals == frozenset({"f"})
    no_frame = code(src, defines={"CONFIG_FRAME_POINTER": "0"})
    assert no_frame[16:17] == b"\xc3"
    ibt = code(src, defines={"CONFIG_X86_KERNEL_IBT": "1"})
    assert ibt[16:20] == bytes.fromhex("f30f1efa")


def test_annotation_macros_emit_nothing():
    src = """
#include <linux/objtool.h>
#include <asm/unwind_hints.h>
#include <asm/nospec-branch.h>
    UNWIND_HINT_EMPTY
    UNWIND_HINT_REGS base=%rsp offset=8
    ANNOTATE_NOENDBR
    STACK_FRAME_NON_STANDARD f
    nop
    JMP_NOSPEC rax
"""
    assert code(src) == bytes.fromhex("90 ffe0")


@pytest.mark.parametrize("header", HEADERS)
def test_every_header_assembles_alone_and_twice(header):
    # Include guards: a second inclusion must not redefine its GAS macros.
    image = assemble_text(f"#include <{header}>\n#include <{header}>\nnop\n")
    assert section(image, ".text").data == b"\x90"


def test_c_side_of_headers_is_skipped_in_assembly():
    # struct and prototype declarations sit behind #ifndef __ASSEMBLY__.
    assert code("#include <asm/tdx.h>\n#include <asm/shared/tdx.h>\nnop\n") == b"\x90"


def test_guest_numbers_in_shared_tdx_h_match_the_python_side():
    from seamemu.arch import ghci

    header = (DEFAULT_INCLUDE_DIR / "asm" / "shared" / "tdx.h").read_text()
    found = {m.group(1): int(m.group(2), 0) for m in re.finditer(
        r"#define\s+(TDG_\w+|TDVMCALL_\w+|TDX_HYPERCALL_STANDARD)\s+(0x[0-9A-Fa-f]+|\d+)", header)}
    assert len(found) >= 15
    statuses = dict(ghci.TDVMCALL_STATUSES)
    for name, value in found.items():
        if name.startswith("TDG_"):
            leaf = leaves.tdcall_leaf_by_name(name)
            assert leaf is not None and leaf.number == value, name
        elif name.startswith("TDVMCALL_STATUS_"):
            assert statuses[name] == value, name
        else:
            assert getattr(ghci, name) == value, name
    # and the assembler reads them as the header says
    src = "#include <asm/shared/tdx.h>\n.data\n.quad TDVMCALL_EXPOSE_REGS_MASK\n.quad TDG_VM_RD\n"
    assert quads(src) == [ghci.TDVMCALL_EXPOSE_REGS_MASK, leaves.TDG_VM_RD]
