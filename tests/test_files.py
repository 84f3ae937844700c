# SPDX-License-Identifier: MIT
"""seamemu.files: reads stop at their limit, writes fail in one line naming the option."""

from __future__ import annotations

import os

import pytest

from seamemu.errors import InputError, LimitError
from seamemu.files import LIMITS, output_dir, output_file, read_bytes, read_text, write_text


def test_a_read_stops_at_the_limit_of_its_kind(tmp_path):
    limit = LIMITS["platform file"]
    at = tmp_path / "at.toml"
    at.write_bytes(b"x" * limit)
    assert len(read_bytes(at, "--platform", "platform file")) == limit
    over = tmp_path / "over.toml"
    over.write_bytes(b"x" * (limit + 1))
    with pytest.raises(LimitError, match=r"--platform .*over.toml: larger than 1 MiB, the limit "
                                         r"for a platform file"):
        read_bytes(over, "--platform", "platform file")


def test_dev_zero_is_refused_without_reading_it_all():
    with pytest.raises(LimitError, match="larger than 4 MiB"):
        read_bytes("/dev/zero", "--replay", "reproducer")


def test_directories_missing_files_and_bad_names_are_one_line(tmp_path):
    for path, reason in ((tmp_path, "is a directory"), (tmp_path / "absent", "no such file"),
                         ("", "empty file name"), ("a\0b", "NUL byte")):
        with pytest.raises(InputError, match=reason):
            read_bytes(path, "--asm", "assembly source")


def test_a_fifo_without_a_writer_reads_as_empty_instead_of_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_bytes(fifo, "--platform", "platform file") == b""


def test_text_must_be_utf8(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 7 is 0xff\)"):
        read_text(bad, "--replay", "reproducer")


def test_writes_name_the_option_and_the_reason(tmp_path):
    (tmp_path / "file").write_text("x")
    cases = (
        (tmp_path, "is a directory"),
        ("", "empty file name"),
        ("/dev/full", "no space left"),
        (tmp_path / "file" / "below", "not a directory"),
    )
    for path, reason in cases:
        with pytest.raises(InputError, match=rf"^--out\b.*{reason}"):
            write_text(path, "data", "--out")
    with pytest.raises(InputError, match="does not exist"):
        write_text(tmp_path / "new" / "r.html", "data", "--log")
    assert write_text(tmp_path / "new" / "deep" / "r.html", "data", "--out",
                      parents=True).read_text() == "data"


def test_an_output_directory_is_created_or_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    assert output_dir(tmp_path / "a" / "b", "--out").is_dir()
    with pytest.raises(InputError, match="exists and is not a directory"):
        output_dir(tmp_path / "file", "--out")
    with pytest.raises(InputError, match="cannot create the directory"):
        output_dir("/proc/no/such/place", "--out")
    with pytest.raises(InputError, match="is a directory"):
        output_file(tmp_path, "--log")
