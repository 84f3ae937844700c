# SPDX-License-Identifier: MIT
"""seamemu.jsonout: the one way a result becomes JSON, and the schemas users read pinned."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import pytest

from seamemu.jsonout import JsonRecord, hex64, hex_map, json_as, json_value, record_json
from seamemu.traps.target import CallRecord


@dataclass(frozen=True)
class _Inner(JsonRecord):
    pa: int = field(metadata=json_as(hex64))
    raw: bytes = b""


@dataclass(frozen=True)
class _Outer(JsonRecord):
    JSON_KEYS = ("schema", "name", "doubled", ("where", "inner"), "regs", "items")
    schema: ClassVar[int] = 7

    name: str
    inner: _Inner | None
    regs: dict = field(metadata=json_as(hex_map))
    items: tuple = ()
    hidden: str = "not in the document"

    @property
    def doubled(self) -> str:
        return self.name * 2


class _Event(NamedTuple):
    insn: str
    lp: int


def test_fields_are_written_by_their_metadata_in_order():
    doc = _Inner(0x1000, b"\x01\xff").to_json()
    assert json.dumps(doc) == '{"pa": "0x0000000000001000", "raw": "01ff"}'


def test_json_keys_orders_renames_derives_and_leaves_out():
    doc = _Outer("ab", _Inner(1), {"rax": 2}, (_Inner(3), (4, None))).to_json()
    assert list(doc) == ["schema", "name", "doubled", "where", "regs", "items"]
    assert doc["schema"] == 7 and doc["doubled"] == "abab"
    assert doc["where"] == {"pa": hex64(1), "raw": ""}
    assert doc["regs"] == {"rax": hex64(2)}
    assert doc["items"] == [{"pa": hex64(3), "raw": ""}, [4, None]]


def test_none_is_null_and_never_reaches_a_converter():
    assert _Outer("x", None, {}).to_json()["where"] is None
    assert record_json(_Inner(None))["pa"] is None       # type: ignore[arg-type]


def test_named_tuples_and_unknown_values():
    assert json_value(_Event("SEAMCALL", 1)) == ["SEAMCALL", 1]
    assert record_json(_Event("SEAMCALL", 1)) == {"insn": "SEAMCALL", "lp": 1}
    with pytest.raises(TypeError, match="object"):
        json_value(object())


def test_the_call_record_schema_is_pinned():
    """Users' scripts read this document (run --json "calls", the module log): its keys, their
    order and their spellings do not move."""
    rec = CallRecord(seq=1, lp=0, leaf=33, leaf_name="TDH.SYS.INIT", version=0,
                     inputs={"rax": 33, "rcx": 0}, consumed=("rax",), outputs={"rcx": 5},
                     status=0xC000050500000000, status_name="TDX_SYS_NOT_READY",
                     memory_written=((0x2000, 64),), checks=("state",))
    assert rec.to_json() == {
        "seq": 1, "lp": 0, "leaf": 33, "leaf_name": "TDH.SYS.INIT", "version": 0,
        "inputs": {"rax": "0x0000000000000021", "rcx": "0x0000000000000000"},
        "consumed": ["rax"], "outputs": {"rcx": "0x0000000000000005"},
        "status": "0xc000050500000000", "status_name": "TDX_SYS_NOT_READY",
        "state_before": "", "state_after": "", "note": "", "injected": None,
        "memory_written": [["0x2000", 64]], "checks": ["state"]}
    assert list(rec.to_json())[5:8] == ["inputs", "consumed", "outputs"]


def test_the_run_document_keys_are_pinned(asm_dir):
    from seamemu.session import Session

    r = Session([asm_dir / "seamcall.S"]).call("__seamcall_ret", leaf=33)
    doc = r.to_json()
    assert list(doc) == ["schema", "entry", "convention", "lp", "leaf", "outcome", "rax",
                         "rax_name", "rule", "regs", "inputs", "out", "calls", "abi", "fault",
                         "bound"]
    assert list(doc["abi"]) == ["preserved", "clobbered", "rsp_balanced", "df_clear", "returned"]
    assert list(doc["regs"])[-1] == "rflags" and doc["regs"]["rax"] == doc["rax"]
