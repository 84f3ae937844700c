# SPDX-License-Identifier: MIT
"""TDH.SYS.RD (34) and TDH.SYS.RDALL (37): read global metadata (1.5 only).

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_rd.c, tdh_sys_rdall.c and
src/common/metadata_handlers/metadata_generic.c (md_check_as_single_element_id,
md_get_next_element_in_context, md_dump_list / md_dump_sequence).  Every field of the model's
table is readable by the host, so TDX_METADATA_FIELD_NOT_READABLE never occurs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from seamemu.arch import metadata as md
from seamemu.arch.module_versions import ModuleProfile
from seamemu.arch.platform_checks import SEAMOPS_SEAMVERIFYREPORT
from seamemu.arch.status import MASK64
from seamemu.arch.status import TdxStatus as S
from seamemu.model.context import Call
from seamemu.model.leaf_spec import LP_INIT_DONE, Check, leaf, operand_check
from seamemu.model.reported_values import cached_global_values

PAGE = 4096
RDALL_BUFFER_SIZE = PAGE            # md_dump_list is called with _4KB
SINGLE_ELEMENT_MASK = md.RESERVED_MASK | (0xF << 34) | (0x1FF << 38)
_FIELD_CODE_MASK = (1 << md.FIELD_CODE[1]) - 1
_CLASS_SHIFT, _CLASS_MASK = md.CLASS_CODE[0], (1 << md.CLASS_CODE[1]) - 1


class SysTable:
    """One release's global_sys_lookup[] with the lookups TDH.SYS.RD makes on every call
    (dicts instead of md_find_entry_idx's linear scan; the first matching entry wins, as
    there), built once per release."""

    def __init__(self, names: tuple[str, ...]):
        self.entries: tuple[md.GlobalField, ...] = tuple(
            md.global_field(n) for n in names)
        # Every element (entry, flat index) and every field (entry, field index), in order.
        self.elements = [(e, k) for e in self.entries
                         for k in range(e.num_fields * e.num_elements)]
        self.fields = [(e, f) for e in self.entries for f in range(e.num_fields)]
        # (class code, field code) -> (entry, flat element index): one probe per TDH.SYS.RD.
        self.by_code: dict[tuple[int, int], tuple[md.GlobalField, int]] = {}
        for e, k in self.elements:
            self.by_code.setdefault((e.class_code, e.field_code + k), (e, k))
        self.field_pos: dict[tuple[md.GlobalField, int], int] = {}
        for pos, item in enumerate(self.fields):
            self.field_pos.setdefault(item, pos)
        # The first element ID of the entry after each entry (NULL_FIELD_ID after the last).
        self.next_entry_id: dict[md.GlobalField, int] = {
            e: (self.entries[i + 1].field_id if i + 1 < len(self.entries) else md.NULL_FIELD_ID)
            for i, e in enumerate(self.entries)}
        # RDX as the host passed it -> what a successful TDH.SYS.RD of it reads (read_plan).
        self._plans: dict[int, tuple[str, int, int] | None] = {}

    @property
    def first_id(self) -> int:
        return self.entries[0].field_id if self.entries else md.NULL_FIELD_ID

    def locate(self, field_id: int) -> tuple[md.GlobalField, int] | None:
        """(entry, flat element index) of a field ID, matched on class and field code."""
        return self.by_code.get(((field_id >> _CLASS_SHIFT) & _CLASS_MASK,
                                 field_id & _FIELD_CODE_MASK))

    def next_element_id(self, field_id: int, entry: md.GlobalField, index: int) -> int:
        """md_get_next_element_in_context: within an entry the caller's own ID with the field
        code stepped by one (so its size code carries over); past an entry's last element
        the next entry's table ID; NULL_FIELD_ID after the last entry."""
        if index < entry.num_fields * entry.num_elements - 1:
            return md.set_bits(field_id, md.FIELD_CODE, (field_id & _FIELD_CODE_MASK) + 1)
        return self.next_entry_id[entry]

    def read_plan(self, rdx: int) -> tuple[str, int, int] | None:
        """(field name, element index, next element ID) for an RDX that passes every field
        check of TDH.SYS.RD (the LP check aside), else None: the same steps as the handler's
        checks, done once per distinct RDX (a host reads the same few fields over and over)."""
        plans = self._plans
        if rdx in plans:
            return plans[rdx]
        fid = md.set_bits(rdx, md.CONTEXT_CODE, md.MD_CTX_SYS)
        where = None if md.is_null_field_id(fid) or fid & SINGLE_ELEMENT_MASK else \
            self.locate(fid)
        plan = None if where is None else \
            (where[0].name, where[1], self.next_element_id(fid, *where))
        if len(plans) >= 4096:       # random IDs (fuzzing) must not grow it without bound
            plans.clear()
        plans[rdx] = plan
        return plan

    def field_position(self, field_id: int) -> int | None:
        """Position in `fields` of an ID naming the first element of a field, with the right
        element size (md_check_field_and_get_entry); None otherwise."""
        where = self.locate(field_id)
        if where is None:
            return None
        entry, index = where
        if index % entry.num_elements or md.element_bytes(field_id) != entry.element_size:
            return None
        return self.field_pos[(entry, index // entry.num_elements)]


_TABLES: dict[str, SysTable] = {}


def sys_table(profile: ModuleProfile) -> SysTable:
    table = _TABLES.get(profile.name)
    if table is None:
        table = _TABLES[profile.name] = SysTable(profile.fields)
    return table


def _values(c: Call) -> Mapping[str, Sequence[int]]:
    sample = c.state.sample
    attestation = sample is not None and bool(sample.seamops & SEAMOPS_SEAMVERIFYREPORT)
    return cached_global_values(c.module.platform, c.module.module_info,
                                c.state.sys_attributes, c.state.handoff, attestation)


def _note_unpinned(c: Call, names: Sequence[str]) -> None:
    """Say so when a value the call returned is a placeholder (arch.module_versions
    ModuleProfile.unpinned): seamemu's own commentary, not the module's."""
    for name, why in c.module.profile.unpinned:
        if name in names:
            c.notes.append(f"seamemu: {name} is a placeholder, not {c.module.profile.name}'s "
                           f"value ({why})")


def _sys_field_id(c: Call, reg: str) -> int:
    """The field ID in `reg`, read in the SYS context (its context code ignored); the LP must
    have run TDH.SYS.LP.INIT (the first check of both leaves)."""
    fid = md.set_bits(c.reg(reg), md.CONTEXT_CODE, md.MD_CTX_SYS)
    c.require(c.lp in c.state.lp_init, "lp_init")
    return fid


_READ_TRACE = ("lp_init", "null_field", "single_element", "known_field")


@leaf(
    "TDH.SYS.RD",
    summary="Read one element of global metadata and get the ID of the next element.",
    inputs=(("rdx", "MD_FIELD_ID of the element (context code ignored)"),),
    outputs=(("r8", "the element's value (0 on error)"),
             ("rdx", "ID of the next element, or -1 after the last one / on error")),
    on_entry=(("rdx", md.NULL_FIELD_ID), ("r8", 0)),
    checks=(
        LP_INIT_DONE,
        Check("null_field", "RDX is the null field ID (all ones but the context code): RDX out "
              "= the first field ID (not an error)", S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT),
        Check("single_element", "reserved bits, LAST_ELEMENT_IN_FIELD or "
              "LAST_FIELD_IN_SEQUENCE are not 0", S.TDX_METADATA_FIELD_ID_INCORRECT),
        Check("known_field", "no global field has this class and field code",
              S.TDX_METADATA_FIELD_ID_INCORRECT),
    ),
    success="R8 = value masked to the element size, RDX = next element ID",
)
def tdh_sys_rd(c: Call) -> None:
    table = sys_table(c.module.profile)
    plan = table.read_plan(c.reg("rdx"))
    if plan is not None and c.injected_status is None and c.lp in c.state.lp_init:
        # The common case, every check passing, without re-running them one by one: the
        # same trace and outputs as the checks below give (RDX before R8, as c.write sets).
        name, index, next_id = plan
        c.trace += _READ_TRACE
        c.out = {"rdx": next_id, "r8": _values(c)[name][index] & MASK64}
        if c.module.profile.unpinned:
            _note_unpinned(c, (name,))
        return
    c.write(rdx=md.NULL_FIELD_ID, r8=0)
    fid = _sys_field_id(c, "rdx")
    if md.is_null_field_id(fid):
        c.write(rdx=table.first_id)
        c.fail("null_field")
    c.require(True, "null_field")
    c.require(fid & SINGLE_ELEMENT_MASK == 0, "single_element")
    where = table.locate(fid)
    c.require(where is not None, "known_field")
    assert where is not None  # require() ended the call otherwise
    entry, index = where
    c.write(r8=_values(c)[entry.name][index], rdx=table.next_element_id(fid, entry, index))
    _note_unpinned(c, (entry.name,))


def dump_list(table: SysTable, values: Mapping[str, Sequence[int]], start: int,
              buff_size: int) -> tuple[bytes, int, bool]:
    """md_dump_list over the model's table from field position `start`.

    Returns (list bytes, position of the next field not dumped, finished).
    """
    fields = table.fields
    body = bytearray()
    remaining = buff_size - md.MD_LIST_HEADER_SIZE
    num_seq, pos = 0, start
    while pos < len(fields) and remaining >= 8 + 8 * fields[pos][0].num_elements:
        entry, f = fields[pos]
        first_entry, first_f = entry, f
        elements: list[int] = []
        rem, count, no_space = remaining - 8, 0, True
        while rem >= 8 * entry.num_elements:
            n = entry.num_elements
            elements += values[entry.name][f * n:(f + 1) * n]
            rem -= 8 * n
            count += 1
            pos += 1
            if pos >= len(fields):
                no_space = False
                break
            nxt, nf = fields[pos]
            sequential = (nxt.class_code == entry.class_code and
                          nxt.field_code + nf * nxt.num_elements ==
                          entry.field_code + (f + 1) * entry.num_elements and
                          nxt.num_elements == entry.num_elements and
                          nxt.element_size == entry.element_size)
            if not sequential:
                no_space = False
                break
            entry, f = nxt, nf
        if elements:
            header = first_entry.element_id(first_f, 0)
            header = md.set_bits(header, md.LAST_ELEMENT_IN_FIELD, first_entry.num_elements - 1)
            header = md.set_bits(header, md.LAST_FIELD_IN_SEQUENCE, count - 1)
            body += header.to_bytes(8, "little")
            body += b"".join(v.to_bytes(8, "little") for v in elements)
            num_seq += 1
            remaining -= 8 + 8 * len(elements)
        if no_space or pos >= len(fields):
            break
    size = md.MD_LIST_HEADER_SIZE + len(body)
    head = size.to_bytes(2, "little") + num_seq.to_bytes(2, "little") + bytes(4)
    return head + bytes(body), pos, pos >= len(fields)


@leaf(
    "TDH.SYS.RDALL",
    summary="Dump global metadata as a metadata list (header, then sequences) into one page.",
    inputs=(("rdx", "PA of a 4 KiB-aligned shared page for the list"),
            ("r8", "first field ID to dump; -1 for the first field")),
    outputs=(("r8", "next field ID to dump, or -1 when the context is complete"),),
    on_entry=(("r8", md.NULL_FIELD_ID),),
    checks=(
        LP_INIT_DONE,
        operand_check("rdx_hpa", "RDX", "RDX is not a 4 KiB-aligned shared HPA"),
        Check("start_field", "R8 is not -1 and not the first element of a field with the "
              "field's element size", S.TDX_METADATA_FIELD_ID_INCORRECT),
        Check("list_overflow", "the page fills before the last field: R8 out = the next field",
              S.TDX_METADATA_LIST_OVERFLOW),
    ),
    success="metadata list at RDX, R8 = -1",
)
def tdh_sys_rdall(c: Call) -> None:
    c.write(r8=md.NULL_FIELD_ID)
    rdx = c.reg("rdx")
    fid = _sys_field_id(c, "r8")
    c.require(c.rules.shared_hpa_ok(rdx, PAGE), "rdx_hpa")
    table = sys_table(c.module.profile)
    start = 0 if md.is_null_field_id(fid) else table.field_position(fid)
    c.require(start is not None, "start_field")
    assert start is not None  # require() ended the call otherwise
    data, pos, finished = dump_list(table, _values(c), start, RDALL_BUFFER_SIZE)
    c.mem.write(rdx, data)
    _note_unpinned(c, [e.name for e, _f in table.fields[start:pos]])
    if not finished:
        entry, f = table.fields[pos]
        c.write(r8=entry.element_id(f, 0))
    c.require(finished, "list_overflow")


__all__ = ["RDALL_BUFFER_SIZE", "SysTable", "dump_list", "sys_table", "tdh_sys_rd", "tdh_sys_rdall"]
