# SPDX-License-Identifier: MIT
"""How seamemu writes values for people and for JSON: the spelling of a 64-bit value, and the
one mechanism that turns a result object into its JSON document.

64-bit values (registers, addresses, statuses) are hex strings `0x%016x` everywhere, in text
and in JSON, and registers are listed in ABI order (docs/design.md, "Outcome vocabulary").

A result type becomes JSON through `record_json`: its fields in order, each written by the
converter its field metadata names (`field(metadata=json_as(hex64))`), under its own name or
the one the metadata gives; a type whose document differs from its fields (a derived key,
another order, fields left out) lists its keys in `JSON_KEYS`, and a NamedTuple (whose fields
carry no metadata) hands record_json its keys and converters.  Values inside are written by
`json_value`: records by their own `to_json`, sequences as lists, mappings as objects, bytes
as hex, None as null.  Every schema stays visible in the type it describes, and nothing else
builds one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, ClassVar

Converter = Callable[[Any], Any]

_CONVERT = "json"           # field metadata: the converter of the field's value
_NAME = "json_name"         # field metadata: the key the field is written under


def hex64(value: int) -> str:
    """A 64-bit value as `0x` and sixteen hex digits."""
    return f"0x{value:016x}"


def hex64_or_none(value: int | None) -> str | None:
    return None if value is None else hex64(value)


def hex_regs(regs: Mapping[str, int], order: Iterable[str] | None = None) -> dict[str, str]:
    """Registers as {name: hex64}, in `order` (those of it present) or as given."""
    names = [n for n in order if n in regs] if order is not None else list(regs)
    return {n: hex64(regs[n]) for n in names}


def hex_short(value: int) -> str:
    """A value as `0x` and as few hex digits as it needs (where a schema has always said so)."""
    return f"0x{value:x}"


def rounded(digits: int) -> Converter:
    """A converter writing a float rounded to `digits` decimals (timings)."""
    return lambda value: round(value, digits)


def json_as(convert: Converter | None = None, *, name: str | None = None) -> dict[str, Any]:
    """Field metadata: write the field by `convert` (None: as its value), under `name` if given.

        address: int = field(metadata=json_as(hex64))
    """
    meta: dict[str, Any] = {}
    if convert is not None:
        meta[_CONVERT] = convert
    if name is not None:
        meta[_NAME] = name
    return meta


def json_value(value: Any) -> Any:
    """Any value seamemu reports, as JSON data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        return to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return record_json(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, Mapping):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [json_value(v) for v in value]
    raise TypeError(f"no JSON spelling for {type(value).__name__}")


@cache
def _shape(cls: Any, keys: tuple | None = None, convert: tuple = ()
           ) -> tuple[tuple[str, str, Converter], ...]:
    """(key, attribute, converter) of each key of `cls`'s document, in order (per class: the
    answer depends on the class alone, or on the shape a NamedTuple's to_json gives)."""
    fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    if keys is None:
        keys = getattr(cls, "JSON_KEYS", None)
    if keys is None:     # every field, in order (a NamedTuple's too)
        keys = tuple(fields) or getattr(cls, "_fields", ())
    named = dict(convert)
    out = []
    for key in keys:
        name, attr = key if isinstance(key, tuple) else (None, key)
        meta = fields[attr].metadata if attr in fields else {}
        out.append((name or meta.get(_NAME, attr), attr,
                    meta.get(_CONVERT) or named.get(attr, json_value)))
    return tuple(out)


def record_json(obj: Any, keys: tuple | None = None,
                convert: Mapping[str, Converter] | None = None) -> dict[str, Any]:
    """A record (a dataclass, or a class naming JSON_KEYS) as a JSON object: each key's value
    by its converter, None as null.  A NamedTuple, whose fields carry no metadata, gives its
    `keys` and the `convert`er of each field that needs one."""
    out = {}
    cls: Any = type(obj)     # (typed Any: a class is hashable, whatever mypy says of type[Any])
    for name, attr, conv in _shape(cls, keys, tuple((convert or {}).items())):
        value = getattr(obj, attr)
        out[name] = None if value is None else conv(value)
    return out


class JsonRecord:
    """Mixin: `to_json()` is `record_json(self)`.

    `JSON_KEYS`, when a type sets it, is its document's keys in order: attribute names
    (fields, properties or class constants such as `schema`), or (key, attribute) pairs.
    """

    __slots__ = ()
    JSON_KEYS: ClassVar[tuple[str | tuple[str, str], ...] | None] = None

    def to_json(self) -> dict[str, Any]:
        return record_json(self)


def hex_span(span: tuple[int, int]) -> dict[str, str]:
    """A (base, size) pair as {"base": hex64, "size": hex64}."""
    return {"base": hex64(span[0]), "size": hex64(span[1])}


def hex_map(values: Mapping[str, int]) -> dict[str, str]:
    """{name: int} as {name: hex64}, in the mapping's order."""
    return {k: hex64(v) for k, v in values.items()}


__all__ = ["Converter", "JsonRecord", "hex64", "hex64_or_none", "hex_map", "hex_regs", "hex_short",
           "hex_span", "json_as", "json_value", "record_json", "rounded"]

