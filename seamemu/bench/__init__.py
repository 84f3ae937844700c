# SPDX-License-Identifier: MIT
"""`seamemu bench`: SEAMCALL round trips and fuzz runs against bare-Unicorn references, one run."""

from seamemu.bench.measure import measure
from seamemu.bench.report import RATES, BenchReport, Rate, run_bench

__all__ = ["BenchReport", "RATES", "Rate", "measure", "run_bench"]
