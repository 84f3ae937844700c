# SPDX-License-Identifier: MIT
"""ELF objects as gcc/kbuild build them: loaded, relocated and linked with sources (objfile,
objlink, the pipeline); and a clear one-line error for each object seamemu cannot link."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from seamemu.errors import AsmError
from seamemu.frontend import assemble
from seamemu.frontend.objfile import parse_object, read_object

BACKENDS = ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)]


def _u(image, address: int, size: int) -> int:
    sec = image.section_at(address)
    off = address - sec.address
    return int.from_bytes(sec.data[off:off + size], "little")


def _build(kbuild, tmp_path, name: str, text: str, *flags: str) -> Path:
    src = tmp_path / name
    src.write_text(text)
    return kbuild(src, *flags)


def test_a_kernel_object_loads_as_its_source_assembles(kbuild, kstub):
    obj = assemble([kbuild(kstub)])
    src = assemble([kstub])
    # Every loaded section, at the same place with the same bytes once relocated: PC32 (a
    # RIP-relative store), PLT32/PC32 (calls across sections), 32S and 32 (immediates), 64
    # (a pointer in .data) and the exception table's self-relative entries.
    assert [(s.name, s.address, s.flags) for s in obj.sections] == \
        [(s.name, s.address, s.flags) for s in src.sections]
    assert [s.data for s in obj.sections] == [s.data for s in src.sections]
    assert obj.extable == src.extable and len(obj.extable) == 1
    # objtool's and the ORC unwinder's sections are not part of the program.
    assert {s.name for s in obj.sections} == {".text..tdx_args", ".noinstr.text", ".data",
                                              "__ex_table"}
    # Local and global symbols, with the object's sizes and types (GNU as drops .L labels).
    assert {n: a for n, a in src.symbols.items() if not n.startswith(".L")} == dict(obj.symbols)
    assert obj.globals == {"kstub_seamcall", "kstub_counter_addr", "kstub_counter_low",
                           "kstub_calls", "kstub_entry"}
    info = obj.symbol_info
    assert (info["kstub_load"].kind, info["kstub_calls"].kind) == ("func", "object")
    # SYM_FUNC_END after the fixup's `orq disp32(%rip), %rax` (7 bytes) and `jmp .Lout` (2).
    assert info["kstub_seamcall"].size == src.symbols[".Lfault"] + 9 - obj.symbols["kstub_seamcall"]
    assert info["kstub_calls"].size == 8
    # The values themselves, so a wrong relocation cannot hide behind equal wrong bytes.
    assert _u(obj, obj.symbols["kstub_entry"], 8) == obj.symbols["kstub_seamcall"]
    assert _u(obj, obj.symbols["kstub_counter_addr"] + 3, 4) == obj.symbols["kstub_calls"]
    assert _u(obj, obj.symbols["kstub_counter_low"] + 1, 4) == obj.symbols["kstub_calls"]
    fault = obj.extable[0].fault
    assert obj.section_at(fault).name == ".noinstr.text"
    assert _u(obj, fault, 4).to_bytes(4, "little") == bytes.fromhex("660f01cf")


def test_the_objects_line_table_gives_each_instruction_its_source_line(kbuild, kstub):
    image = assemble([kbuild(kstub, "-g")])
    fault = image.extable[0].fault
    line = image.line_at(fault)
    numbers = [n for n, text in enumerate(kstub.read_text().splitlines(), 1) if text.strip() == "seamcall"]
    assert (Path(line.file), line.line, line.text) == (kstub, numbers[0], "seamcall")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_undefined_symbol_is_named_until_a_source_or_a_stub_provides_it(kbuild, kstub, tmp_path,
                                                                           backend):
    rethunk = kbuild(kstub, "-DCONFIG_MITIGATION_RETHUNK")
    with pytest.raises(AsmError) as err:
        assemble([rethunk], backend=backend)
    assert "undefined symbol `__x86_return_thunk`" in str(err.value)
    assert "\n" not in str(err.value)
    stubbed = assemble([rethunk], backend=backend, stubs=["__x86_return_thunk"])
    thunk = stubbed.symbols["__x86_return_thunk"]
    assert _u(stubbed, thunk, 2) == 0xCCC3     # ret; int3
    helper = tmp_path / "thunk.S"
    helper.write_text(".text\n.globl __x86_return_thunk\n__x86_return_thunk:\n\tret\n")
    linked = assemble([helper, rethunk], backend=backend)
    # The object's `jmp __x86_return_thunk` (PLT32) lands on the source's definition.
    end = linked.symbols["kstub_counter_addr"] + linked.symbol_info["kstub_counter_addr"].size
    assert linked.symbols["__x86_return_thunk"] in linked.symbols.values()
    rel = _u(linked, end - 4, 4)
    assert (end + rel - (1 << 32) if rel >> 31 else end + rel) == linked.symbols["__x86_return_thunk"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sources_and_objects_call_each_other(kbuild, kstub, tmp_path, backend):
    caller = tmp_path / "caller.S"
    caller.write_text(".text\n.globl caller\ncaller:\n\tcall kstub_counter_addr\n\tret\n")
    image = assemble([caller, kbuild(kstub)], backend=backend)
    at = image.symbols["caller"]
    assert _u(image, at, 1) == 0xE8
    assert (at + 5 + _u(image, at + 1, 4)) % (1 << 32) == image.symbols["kstub_counter_addr"] % (1 << 32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_global_defined_by_a_source_and_an_object_is_an_error(kbuild, kstub, tmp_path, backend):
    twice = tmp_path / "twice.S"
    twice.write_text(".text\n.globl kstub_seamcall\nkstub_seamcall:\n\tret\n")
    with pytest.raises(AsmError, match="kstub_seamcall"):
        assemble([twice, kbuild(kstub)], backend=backend)


def test_an_unsupported_relocation_is_named(kbuild, tmp_path):
    obj = _build(kbuild, tmp_path, "got.S", ".text\nf:\n\tmovq foo@GOTPCREL(%rip), %rax\n\tret\n"
                                            ".data\n.globl foo\nfoo: .quad 0\n")
    with pytest.raises(AsmError) as err:
        assemble([obj])
    assert "R_X86_64_REX_GOTPCRELX" in str(err.value) and "not supported" in str(err.value)
    assert str(err.value).startswith(str(obj))


def test_an_undefined_weak_symbol_is_zero(kbuild, tmp_path):
    obj = _build(kbuild, tmp_path, "weak.S", ".weak maybe\n.data\n.globl p\np: .quad maybe + 5\n")
    image = assemble([obj])
    assert _u(image, image.symbols["p"], 8) == 5


def test_a_common_symbol_is_refused(kbuild, tmp_path):
    obj = _build(kbuild, tmp_path, "comm.S", ".comm shared, 8, 8\n")
    with pytest.raises(AsmError, match=r"common symbol `shared`"):
        assemble([obj])


@pytest.mark.gnu_as
def test_files_that_are_not_x86_64_relocatable_objects_are_named(tmp_path, kbuild):
    as_, ld = shutil.which("as"), shutil.which("ld")  # binutils: as and ld come together
    assert as_ is not None and ld is not None
    src = tmp_path / "x.s"
    src.write_text(".globl _start\n_start: ret\n")
    o32, o64, exe = tmp_path / "x32.o", tmp_path / "x64.o", tmp_path / "x"
    subprocess.run([as_, "--32", "-o", str(o32), str(src)], check=True)
    subprocess.run([as_, "--64", "-o", str(o64), str(src)], check=True)
    subprocess.run([ld, "-o", str(exe), str(o64)], check=True)
    cases = [(o32, "ELF64"), (exe, "not a relocatable object"),
             (o64.with_suffix(".cut"), "malformed ELF object")]
    o64.with_suffix(".cut").write_bytes(o64.read_bytes()[:200])
    for path, expected in cases:
        with pytest.raises(AsmError) as err:
            read_object(path)
        assert expected in str(err.value) and str(path) in str(err.value)
        assert "\n" not in str(err.value)
    with pytest.raises(AsmError, match="not an ELF object"):
        parse_object(b"not an object", "y.o")


def test_an_object_is_read_within_its_size_limit(tmp_path):
    # An object is read through seamemu.files's bounded reader: one past the limit (sparse
    # here, so the test writes nothing) is refused once the limit is read, never loaded whole.
    from seamemu.errors import LimitError
    from seamemu.files import OBJECT_LIMIT

    huge = tmp_path / "huge.o"
    with huge.open("wb") as f:
        f.write(b"\x7fELF")
        f.truncate(OBJECT_LIMIT + 4096)
    for read in (lambda: assemble([huge]), lambda: read_object(huge)):
        with pytest.raises(LimitError, match=r"huge\.o: larger than 16 MiB, the limit for an object file"):
            read()
