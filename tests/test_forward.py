# SPDX-License-Identifier: MIT
"""seamemu.forward: a facade's attribute is its holder's, read at each access."""

from __future__ import annotations

import pytest

from seamemu.forward import forward


class _Inner:
    value = 1
    other = 2


class _Facade:
    value = forward("inner")
    renamed = forward("inner", "other", doc="the inner object's `other`")

    def __init__(self) -> None:
        self.inner = _Inner()


def test_reads_the_holders_attribute_now_not_once():
    f = _Facade()
    assert (f.value, f.renamed) == (1, 2)
    f.inner = type("Later", (), {"value": 5, "other": 6})()
    assert (f.value, f.renamed) == (5, 6)
    assert _Facade.renamed.__doc__ == "the inner object's `other`"


def test_it_is_read_only():
    with pytest.raises(AttributeError):
        _Facade().value = 3
