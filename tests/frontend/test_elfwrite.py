# SPDX-License-Identifier: MIT
"""`seamemu asm --elf`: the program as seamemu loads it, as an ELF that binutils and gdb read,
with every instruction on its source line through #includes and macro bodies."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from seamemu.cli import main
from seamemu.disasm import disassemble
from seamemu.frontend import assemble
from seamemu.frontend.elfwrite import elf_bytes

REPO = Path(__file__).resolve().parents[2]
SEAMCALL = REPO / "asm" / "seamcall.S"
needs_binutils = pytest.mark.skipif(shutil.which("addr2line") is None or shutil.which("objdump") is None,
                                    reason="GNU binutils is not installed")
needs_gdb = pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed (Debian gdb)")
BACKENDS = ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)]


def _tool(*argv: str) -> str:
    proc = subprocess.run(list(argv), check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _instructions(image) -> list[int]:
    """Addresses of the program's instructions (alignment NOPs between functions left out)."""
    out = []
    for s in image.sections:
        if s.executable:
            for i in disassemble(s.data, s.address):
                if image.line_at(i.address) is not None:
                    out.append(i.address)
                else:
                    assert i.text.startswith("nop"), i.text
    return out


def _write(image, tmp_path: Path, name: str = "prog.elf") -> Path:
    path = tmp_path / name
    path.write_bytes(elf_bytes(image, str(REPO))[0])
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_elf_holds_the_loaded_program_and_its_symbols(tmp_path, backend):
    image = assemble([SEAMCALL], backend=backend)
    elf = ELFFile(io.BytesIO(_write(image, tmp_path).read_bytes()))
    assert (elf.header.e_type, elf.header.e_machine) == ("ET_EXEC", "EM_X86_64")
    loaded = [(s.name, s["sh_addr"], s.data()) for s in elf.iter_sections() if s["sh_flags"] & 2]
    assert loaded == [(s.name, s.address, s.data) for s in image.sections]
    segments = [(p["p_vaddr"], p["p_filesz"]) for p in elf.iter_segments() if p["p_type"] == "PT_LOAD"]
    assert segments == [(s.address, len(s.data)) for s in image.sections]
    table = elf.get_section_by_name(".symtab").iter_symbols()
    symbols = {s.name: (s["st_value"], s["st_info"]["bind"]) for s in table if s.name}
    assert symbols == {n: (a, "STB_GLOBAL") for n, a in image.symbols.items() if not n.startswith(".L")}


@needs_binutils
@pytest.mark.parametrize("backend", BACKENDS)
def test_addr2line_puts_every_instruction_on_its_source_line(tmp_path, backend):
    image = assemble([SEAMCALL], backend=backend)
    path = _write(image, tmp_path)
    addresses = _instructions(image)
    answers = _tool("addr2line", "-e", str(path), *(hex(a) for a in addresses)).splitlines()
    expected = [f"{image.line_at(a).file}:{image.line_at(a).line}" for a in addresses]
    assert answers == expected and len(answers) > 100
    # Through the #include of tdxcall.S and into the TDX_MODULE_CALL macro body: the SEAMCALL
    # is on tdxcall.S's `seamcall` line, not on seamcall.S's macro invocation.
    site = image.extable[0].fault
    file, number = answers[addresses.index(site)].rsplit(":", 1)
    assert Path(file).name == "tdxcall.S"
    assert Path(file).read_text().splitlines()[int(number) - 1].strip() == "seamcall"


@needs_binutils
def test_objdump_disassembles_with_symbols_and_lines(tmp_path):
    image = assemble([SEAMCALL])
    text = _tool("objdump", "-d", "-l", str(_write(image, tmp_path)))
    for name in ("__seamcall", "__seamcall_ret", "__seamcall_saved_ret"):
        assert f"{image.symbols[name]:016x} <{name}>:" in text
    assert "seamcall" in text and "tdxcall.S:" in text


@needs_binutils
def test_an_objects_own_line_table_comes_through(tmp_path, kbuild, kstub):
    image = assemble([kbuild(kstub, "-g")])
    site = image.extable[0].fault
    answer = _tool("addr2line", "-e", str(_write(image, tmp_path)), hex(site)).strip()
    assert answer == f"{kstub}:{image.line_at(site).line}"


@needs_gdb
def test_gdb_reads_symbols_and_lines(tmp_path):
    image = assemble([SEAMCALL])
    path = _write(image, tmp_path)
    site = image.extable[1].fault
    out = _tool("gdb", "-batch", "-nx", "-ex", f"info line *{site:#x}", "-ex",
                "info address __seamcall_ret", str(path))
    line = image.line_at(site)
    assert f'Line {line.line} of "{REPO / line.file}"' in out
    assert f"{image.symbols['__seamcall_ret']:#x}" in out


def test_asm_elf_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "sc.elf"
    assert main(["asm", str(SEAMCALL), "--elf", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"{out}: ELF64 executable, 2 sections") and out.read_bytes()[:4] == b"\x7fELF"
    assert main(["asm", str(SEAMCALL), "--elf", str(tmp_path / "no" / "dir.elf")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--elf" in err
