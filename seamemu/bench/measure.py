# SPDX-License-Identifier: MIT
"""The one measurer of `seamemu bench`: every case timed in interleaved rounds, medians taken.

On a shared machine the load drifts, and a ratio of two rates taken far apart would measure
the drift.  So each round gives every case a slice of about `seconds / rounds` of this
process's CPU time (other processes slow no side), one case after another, and a case's rate
is the median over the rounds.  Only ratios of rates from one call mean anything.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

from seamemu.errors import InputError

ROUNDS = 5

# A case: one call does some operations (round trips, fuzz runs) and says how many.
Step = Callable[[], int]


def measure(steps: Mapping[str, Step], seconds: float = 1.0, *, rounds: int = ROUNDS,
            clock: Callable[[], float] = time.process_time) -> dict[str, float]:
    """Operations per second of each step, over about `seconds` of CPU time each."""
    if seconds <= 0 or rounds <= 0:
        raise InputError(f"bench: seconds ({seconds}) and rounds ({rounds}) must be positive")
    per_round: dict[str, list[float]] = {name: [] for name in steps}
    slice_s = seconds / rounds
    for _ in range(rounds):
        for name, step in steps.items():
            ops, start = 0, clock()
            while True:
                ops += step()
                elapsed = clock() - start
                if elapsed >= slice_s:
                    break
            per_round[name].append(ops / elapsed)
    return {name: statistics.median(rates) for name, rates in per_round.items()}


__all__ = ["ROUNDS", "Step", "measure"]
