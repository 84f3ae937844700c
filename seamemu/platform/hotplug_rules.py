# SPDX-License-Identifier: MIT
"""The shape of a hotplug policy: ordered rules, the conditions they test, the first match wins.

The policies themselves (which kernel decides what, and says what) are kernel facts and live
in seamemu.kernel.hotplug_policies; this module only says what a rule is.  A rule's `message`
is the line a kernel prints, in its format ("" when it prints nothing); its `note` is
seamemu's own account, shown labelled and never as dmesg.  Placeholders: {mem} is
"[mem 0x...-0x...]", {start}/{end} the range in hex, {cpu} "CPU n".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seamemu.platform.events import CMR_PLACES, EVENTS, NO_PLACE, PLACES, Event, Situation

ANY_PLACE = frozenset(PLACES + (NO_PLACE,))
ALL_EVENTS = frozenset(EVENTS)


def _in_one_tdx_block(e: Event, s: Situation) -> bool:
    return any(b <= e.base and e.end <= b + n for b, n in s.tdx_memory)


# Named conditions a rule may require ("name") or exclude ("!name").
CONDITIONS: dict[str, Callable[[Event, Situation], bool]] = {
    "cmrs_known": lambda e, s: s.cmrs_read_at_boot,
    "in_one_tdx_block": _in_one_tdx_block,
    "initialized": lambda e, s: s.module_initialized,
    "pw_mce": lambda e, s: s.pw_mce_bug,
    "tdx": lambda e, s: s.tdx_enabled_by_bios,
    "tdx_memory_empty": lambda e, s: not s.tdx_memory,
    "use_tdx": lambda e, s: s.use_tdx,
}


@dataclass(frozen=True)
class Rule:
    id: str
    events: frozenset[str]
    allow: bool
    severity: str
    message: str                 # the kernel's line ("" when it prints nothing)
    source: str
    places: frozenset[str] = ANY_PLACE
    when: tuple[str, ...] = ()
    note: str = ""               # seamemu's account of what happens

    def matches(self, event: Event, place: str, situation: Situation) -> bool:
        if event.kind not in self.events or place not in self.places:
            return False
        for cond in self.when:
            want = not cond.startswith("!")
            if CONDITIONS[cond.lstrip("!")](event, situation) != want:
                return False
        return True


@dataclass(frozen=True)
class Policy:
    name: str
    kernel: str                  # the generation (seamemu.kernel.generations) it belongs to
    title: str
    rules: tuple[Rule, ...]


__all__ = ["ALL_EVENTS", "ANY_PLACE", "CMR_PLACES", "CONDITIONS", "Policy", "Rule"]
