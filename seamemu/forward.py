# SPDX-License-Identifier: MIT
"""An attribute an object lends from one it holds: `machine = forward("session")` reads
`self.session.machine`.  For facades (the pytest harness, the real-module target) whose
attributes are another object's, read-only, looked up at each access."""

from __future__ import annotations

from typing import Any


class forward:
    """A read-only attribute: the same-named (or `name`d) attribute of `self.<holder>`."""

    def __init__(self, holder: str, name: str | None = None, doc: str | None = None):
        self.holder = holder
        self.name = name
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name is None:
            self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        assert self.name is not None
        return getattr(getattr(obj, self.holder), self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{self.name} is {self.holder}'s: read-only here")


__all__ = ["forward"]
