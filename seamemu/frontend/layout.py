# SPDX-License-Identifier: MIT
"""The keystone backend's layout: addresses by iterating to a fixed point, then the bytes.

Each pass walks the items with the instruction sizes reserved so far, places the pieces,
resolves every symbol, and encodes every instruction at its address.  A size that grew is
reserved for the next pass; sizes never shrink (branches start short, as in GNU as), so the
passes converge.  An instruction that ends up shorter than its slot is padded with NOPs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from ..errors import AsmError
from ..image import IMAGE_BASE, Image, SourceLine, SymbolInfo
from .directives import encode_value, nop_fill
from .encoding_check import branch_problem, check_prefix_statements, checked_encoding
from .expr import ExprError, Value, evaluate, parse
from .items import Item, Program
from .keystone_worker import Encoded, KeystoneWorker, Refused, WorkerDied
from .limits import MAX_IMAGE_BYTES, image_too_large
from .link import Piece, Placement, build_image, merge_symbols, place
from .operands import Rendered, encode_branch, fmt_disp, nop_from_prefetch, render, short_fits

_MAX_PASSES = 64
EXTERN_SECTION = "*extern*"   # the section tag of a symbol an object file defines
# `.type NAME, @TYPE` spellings and the ELF symbol type each means (GNU as manual, ".type").
_TYPE_KINDS = {"function": "func", "gnu_indirect_function": "func", "notype": "notype",
               "object": "object", "tls_object": "object"}
_ANSWERS_LIMIT = 200_000    # keystone answers a worker keeps (KeystoneWorker.answers)


@dataclass
class _Pass:
    offsets: list[int]                      # offset of each item within its piece
    pads: dict[int, int]                    # align item -> padding
    var: dict[int, int]                     # skip/fill/nops item -> size
    labels: dict[tuple[int, str], tuple[str, int]]   # (scope, name) -> (section, offset)
    pieces: dict[tuple[int, str], Piece]
    failed: list[tuple[Item, str]]          # size expressions that could not be evaluated


class Layout:
    def __init__(self, program: Program, worker: KeystoneWorker,
                 externs: Mapping[str, int] | None = None, base: int = IMAGE_BASE):
        self.p = program
        self.worker = worker
        # Symbols object files define (objlink placed them first), and where our sections start.
        self.externs = dict(externs or {})
        self.base = base
        self.reserved = [0] * len(program.items)
        self.near: set[int] = set()
        self.texts: dict[int, tuple[str, str]] = {}    # item -> (keystone text, NOP form)
        self.table: dict[tuple[int, str], Value] = {}   # last pass's symbol values
        self.globals: dict[str, int] = {}               # global name -> defining scope
        self._set_errors: dict[tuple[int, str], tuple[Item, str]] = {}
        self._check_labels()

    def _check_labels(self) -> None:
        defined: dict[tuple[int, str], Item] = {}
        for it in self.p.items:
            if it.kind in ("label", "set"):
                key = (it.stmt.scope, it.name)
                if it.kind == "label" or key not in defined:
                    defined[key] = it
        for scope, names in enumerate(self.p.globals):
            for name in names:
                if (scope, name) not in defined:
                    continue
                if name in self.globals:
                    first = defined[(self.globals[name], name)].loc
                    raise defined[(scope, name)].loc.error(
                        f"global symbol `{name}` is also defined at {first.file}:{first.line}")
                self.globals[name] = scope

    # -- symbols -------------------------------------------------------------------------------
    def resolver(self, item: Item, dot: Value, table: dict[tuple[int, str], Value]
                 ) -> Callable[[str], Value]:
        scope, env = item.stmt.scope, item.stmt.env

        def resolve(name: str) -> Value:
            if name == ".":
                return dot
            if name in env:
                return Value(env[name])
            v = table.get((scope, name))
            if v is None and name in self.globals:
                v = table.get((self.globals[name], name))
            if v is None:
                later = self.p.final_env[scope].get(name)
                if later is None:
                    if name in self.externs:  # in another section, as GNU as would see it
                        return Value(self.externs[name], EXTERN_SECTION)
                    raise ExprError(_undefined(name))
                v = Value(later)  # a constant .set/.equ further down the file
            return v
        return resolve

    def _eval(self, item: Item, text: str, dot: Value, table) -> Value:
        return evaluate(parse(text), self.resolver(item, dot, table))

    # -- one pass ------------------------------------------------------------------------------
    def _walk(self, placement: Placement | None, lenient: bool) -> _Pass:
        items = self.p.items
        offs: dict[tuple[int, str], int] = {}
        aligns: dict[tuple[int, str], int] = {}
        st = _Pass([0] * len(items), {}, {}, {}, {}, [])
        total = 0
        for i, it in enumerate(items):
            key = (it.stmt.scope, it.section)
            off = offs.setdefault(key, 0)
            before = off
            aligns.setdefault(key, 1)
            st.offsets[i] = off
            kind = it.kind
            if kind in ("label", "set"):
                if kind == "label":
                    st.labels[(it.stmt.scope, it.name)] = (it.section, off)
            elif kind in ("insn", "raw"):
                off += self.reserved[i]
            elif kind == "data":
                off += it.width * len(it.exprs)
            elif kind == "bytes":
                off += len(it.data)
            elif kind == "align":
                pad = (-off) % it.align
                if it.max_skip is not None and pad > it.max_skip:
                    pad = 0
                st.pads[i] = pad
                aligns[key] = max(aligns[key], it.align)
                off += pad
            else:  # skip, fill, nops: sizes may depend on symbols, so use the last pass's
                base = placement.piece_address.get(key, 0) if placement else 0
                dot = Value(base + off, it.section)
                try:
                    n = self._eval(it, it.exprs[0], dot, self.table).n
                except ExprError as exc:
                    if not lenient:
                        raise it.loc.error(f"`{it.stmt.op}`: {exc}") from None
                    n = 0
                    st.failed.append((it, str(exc)))
                if n < 0:
                    raise it.loc.error(f"`{it.stmt.op}` with negative size {n}")
                size = n * it.width if kind == "fill" else n
                if total + size > MAX_IMAGE_BYTES:
                    raise image_too_large(it.loc, f"`{it.stmt.op}` of {size:,} bytes", total + size)
                st.var[i] = size
                off += size
            total += off - before
            if total > MAX_IMAGE_BYTES:
                raise image_too_large(it.loc, f"`{it.stmt.op}`", total)
            offs[key] = off
        st.pieces = {k: Piece(k[0], k[1], offs[k], aligns[k]) for k in offs}
        return st

    def _symbols(self, st: _Pass, placement: Placement) -> dict[tuple[int, str], Value]:
        table: dict[tuple[int, str], Value] = {}
        for (scope, name), (section, off) in st.labels.items():
            table[(scope, name)] = Value(placement.piece_address[(scope, section)] + off, section)
        for i, it in enumerate(self.p.items):
            if it.kind == "set":
                key = (it.stmt.scope, it.section)
                dot = Value(placement.piece_address[key] + st.offsets[i], it.section)
                merged = {**self.table, **table}
                try:
                    table[(it.stmt.scope, it.name)] = self._eval(it, it.exprs[0], dot, merged)
                except ExprError as exc:
                    table[(it.stmt.scope, it.name)] = Value(0)
                    self._set_errors[(it.stmt.scope, it.name)] = (it, str(exc))
        return table

    def _address(self, i: int, st: _Pass, placement: Placement) -> int:
        it = self.p.items[i]
        return placement.piece_address[(it.stmt.scope, it.section)] + st.offsets[i]

    # -- encoding ----------------------------------------------------------------------------
    def _encode_all(self, st: _Pass, placement: Placement, table) -> dict[int, bytes]:
        """Encode every instruction at its address in this pass; returns item -> bytes."""
        out: dict[int, bytes] = {}
        pending: dict[int, tuple[Rendered, int]] = {}
        for i, it in enumerate(self.p.items):
            if it.kind == "raw":
                pending[i] = (Rendered(text=it.data.decode()), self._address(i, st, placement))
                continue
            if it.kind != "insn":
                continue
            addr = self._address(i, st, placement)
            dot = Value(addr, it.section)
            assert it.insn is not None
            try:
                if it.insn.direct_branch:
                    out[i] = self._branch(i, it, addr, dot, table)
                    continue
                rendered = render(it.insn, partial(self._eval, it, dot=dot, table=table))
            except ExprError as exc:
                raise it.loc.error(str(exc)) from None
            if rendered.data is not None:
                out[i] = rendered.data
            else:
                pending[i] = (rendered, addr)
        # Round 1: everything, with RIP-relative displacements as 0 to learn the lengths.
        first = {i: (r.text.replace("{disp}", "0x0") if r.text else "") for i, (r, _) in pending.items()}
        self._keystone(first, pending)
        second: dict[int, str] = {}
        for i, (r, addr) in pending.items():
            code = self._answer(i, first[i])
            if r.rip_target is not None:
                assert r.text is not None  # a RIP-relative operand is rendered as text
                disp = r.rip_target - (addr + len(r.prefixes) + len(code))
                try:
                    second[i] = r.text.replace("{disp}", fmt_disp(disp, "RIP-relative target"))
                except ExprError as exc:
                    raise self.p.items[i].loc.error(str(exc)) from None
            else:
                out[i] = self._checked(i, first[i], nop_from_prefetch(code, r.nop) if r.nop else code,
                                       r.nop)
        if second:
            self._keystone(second, pending)
            for i, text in second.items():
                code = self._answer(i, text)
                if len(code) != len(self._answer(i, first[i])):
                    raise self.p.items[i].loc.error(
                        "keystone changed the length of a RIP-relative instruction")
                out[i] = self._checked(i, text, code, "")
        return out

    def _checked(self, i: int, text: str, code: bytes, nop: str) -> bytes:
        """keystone's `code` for `text` with the item's prefix bytes, once the check passed it."""
        it = self.p.items[i]
        if it.kind != "insn":
            return code  # the raw test hook sends keystone what it likes
        self.texts[i] = (text, nop)
        return checked_encoding(it, text, code, nop)

    def _branch(self, i: int, it: Item, addr: int, dot: Value, table) -> bytes:
        assert it.insn is not None
        target = self._eval(it, it.insn.operands[0].disp, dot, table)
        weak = any(it.insn.operands[0].disp.strip() == w for w in self.p.weak)
        # GNU as keeps a branch near when it cannot resolve it itself: another section, an
        # absolute address, or a weak symbol (left to the linker).
        if target.section != it.section or weak:
            self.near.add(i)
        if i not in self.near and not short_fits(it.insn, target.n, addr):
            if it.insn.mnemonic not in ("loop", "loope", "loopz", "loopne", "loopnz",
                                        "jrcxz", "jecxz"):
                self.near.add(i)
        code = encode_branch(it.insn, target.n, addr, i in self.near)
        why = branch_problem(it.insn, code, addr, target.n)
        if why:
            raise ExprError(why)
        return code

    def _keystone(self, texts: dict[int, str], pending: dict[int, tuple[Rendered, int]]) -> None:
        known = self.worker.answers
        todo: dict[str, int] = {}  # each new text once, with the first item that uses it
        for i, t in texts.items():
            if t not in known:
                todo.setdefault(t, i)
        if not todo:
            return
        batch = list(todo.items())
        try:
            results = self.worker.encode([(t, pending[i][1]) for t, i in batch])
        except WorkerDied as died:
            text, i = batch[min(died.index, len(batch) - 1)]
            loc = self.p.items[i].loc
            raise loc.error(f"{died.reason} while assembling `{loc.text}` (sent as `{text}`)") from None
        for (text, _), res in zip(batch, results):
            known[text] = res

    def _answer(self, i: int, text: str) -> bytes:
        res = self.worker.answers.get(text)
        it = self.p.items[i]
        if isinstance(res, Encoded) and res.data:
            return res.data
        message = res.message if isinstance(res, Refused) else "no answer"
        if "MNEMONICFAIL" in message:
            name = it.insn.mnemonic if it.insn else text.split()[0]
            raise it.loc.error(f"unknown instruction or macro `{_as_written(it.loc.text, name)}`")
        stmt = f"{it.stmt.op} {it.stmt.args}".rstrip()
        raise it.loc.error(f"keystone cannot assemble `{stmt}` (sent as `{text}`): {message}")

    # -- driver --------------------------------------------------------------------------------
    def run(self) -> Image:
        if len(self.worker.answers) > _ANSWERS_LIMIT:
            self.worker.answers.clear()
        specs = list(self.p.sections.values())
        placement: Placement | None = None
        previous = None
        for npass in range(_MAX_PASSES):
            self._set_errors = {}
            st = self._walk(placement, lenient=npass == 0)
            placement = place(specs, st.pieces.values(), self.base)
            table = self._symbols(st, placement)
            encoded = self._encode_all(st, placement, table)
            grew = False
            for i, code in encoded.items():
                if len(code) > self.reserved[i]:
                    self.reserved[i] = len(code)
                    grew = True
            shape = (st.offsets, st.var, st.pads, placement.piece_address)
            stable = not grew and shape == previous and table == self.table
            self.table = table
            previous = shape
            if stable:
                return self._finish(st, placement, table, encoded)
        raise AsmError(f"layout did not settle after {_MAX_PASSES} passes "
                       f"({self.p.files[0] if self.p.files else '?'})")

    def _finish(self, st: _Pass, placement: Placement, table, encoded) -> Image:
        for (_scope, name), (it, message) in self._set_errors.items():
            raise it.loc.error(f"cannot evaluate `{name}`: {message}")
        contents = {name: bytearray(size) for name, size in placement.section_size.items()}
        lines: list[SourceLine] = []
        nobits = {s.name for s in self.p.sections.values() if s.nobits}
        emitted: list[tuple[int, int, int]] = []  # (item, address, size) of what is laid down
        for i, it in enumerate(self.p.items):
            addr = self._address(i, st, placement)
            data = self._bytes(i, it, st, addr, encoded, table)
            if not data:
                continue
            emitted.append((i, addr, len(data)))
            if it.section in nobits and any(data):
                raise it.loc.error(f"non-zero data in the no-bits section {it.section}")
            base = placement.section_address[it.section]
            contents[it.section][addr - base:addr - base + len(data)] = data
            if it.kind != "align":
                loc = it.loc
                lines.append(SourceLine(addr, len(data), loc.file, loc.line, loc.text))
        check_prefix_statements(self.p.items, emitted, encoded, self.texts)
        for it in self.p.sizes:
            key = (it.stmt.scope, it.name)
            if key not in table and it.name not in self.globals:
                raise it.loc.error(f"`.size` of undefined symbol `{it.name}`")
            try:
                self._eval(it, it.exprs[0], Value(0), table)
            except ExprError:
                pass  # `.size name, .-name` needs the location of .size; it is only recorded
        per_scope: list[dict[str, int]] = [dict() for _ in self.p.globals]
        for (scope, name), v in table.items():
            if v.section is not None and "\x02" not in name:
                per_scope[scope][name] = v.n
        globals_ = {n for names in self.p.globals for n in names if n in self.globals}
        symbols = merge_symbols(per_scope, globals_, self.p.files)
        kinds = {n: SymbolInfo(0, _TYPE_KINDS.get(t, "notype")) for n, t in self.p.types.items()
                 if n in symbols}
        return build_image(list(self.p.sections.values()), placement,
                           {k: bytes(v) for k, v in contents.items()}, symbols, globals_, lines,
                           kinds)

    def _bytes(self, i: int, it: Item, st: _Pass, addr: int, encoded, table) -> bytes:
        kind = it.kind
        if kind in ("insn", "raw"):
            code = encoded[i]
            return code + nop_fill(self.reserved[i] - len(code))
        if kind == "align":
            pad = st.pads.get(i, 0)
            code = "x" in self.p.sections[it.section].flags
            # GNU as pads code with multi-byte NOPs when no fill or the NOP byte is given.
            if code and it.fill in (None, 0x90):
                return nop_fill(pad)
            return bytes([it.fill or 0]) * pad
        if kind == "bytes":
            return it.data
        if kind == "nops":
            return nop_fill(st.var[i])
        if kind == "data":
            out = bytearray()
            for k, text in enumerate(it.exprs):
                dot = Value(addr + k * it.width, it.section)
                try:
                    v = self._eval(it, text, dot, table).n
                    out += encode_value(v, it.width)
                except (ExprError, ValueError) as exc:
                    raise it.loc.error(f"`{it.stmt.op} {text}`: {exc}") from None
            return bytes(out)
        if kind in ("skip", "fill"):
            dot = Value(addr, it.section)
            try:
                v = self._eval(it, it.exprs[1], dot, table).n
                if kind == "skip":
                    return bytes([v & 0xFF]) * st.var[i]
                if not it.width:
                    return b""
                # GAS: the value is a 4-byte number, zero-extended for wider fills.
                v &= 0xFFFFFFFF if it.width > 4 else (1 << (8 * it.width)) - 1
                return encode_value(v, it.width) * (st.var[i] // it.width)
            except (ExprError, ValueError) as exc:
                raise it.loc.error(f"`{it.stmt.op}`: {exc}") from None
        return b""


def _as_written(text: str, word: str) -> str:
    """`word` spelled as in the source line (mnemonics and macro names are lowercased)."""
    m = re.search(rf"(?<![\w.$]){re.escape(word)}(?![\w.$])", text, re.I)
    return m.group(0) if m else word


def _undefined(name: str) -> str:
    if "\x02" in name:
        number = name.split("\x02")[0]
        return f"numeric label `{number}` is not defined there"
    return f"undefined symbol `{name}`"


def layout(program: Program, worker: KeystoneWorker, externs: Mapping[str, int] | None = None,
           base: int = IMAGE_BASE) -> Image:
    """Lay out a classified program with keystone for the instructions, from `base`;
    `externs` are global symbols defined outside it (by object files), at fixed addresses."""
    return Layout(program, worker, externs, base).run()


__all__ = ["layout"]
