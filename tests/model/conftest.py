# SPDX-License-Identifier: MIT
"""Fixtures for the model tests (helpers live in model_bench.py)."""

from __future__ import annotations

import pytest
from model_bench import Bench, good_tdmrs, make_platform

from seamemu.platform.facts import Platform


@pytest.fixture
def platform15() -> Platform:
    return make_platform(abi="1.5")


@pytest.fixture
def platform10() -> Platform:
    return make_platform(abi="1.0")


@pytest.fixture(params=["1.0", "1.5"])
def bench(request) -> Bench:
    return Bench(make_platform(abi=request.param))


@pytest.fixture
def bench15() -> Bench:
    return Bench(make_platform(abi="1.5"))


@pytest.fixture
def bench10() -> Bench:
    return Bench(make_platform(abi="1.0"))


@pytest.fixture
def make_bench():
    def make(abi: str | None = "1.5", injector=None, **over) -> Bench:
        return Bench(make_platform(abi=abi, **over), injector=injector)
    return make


@pytest.fixture
def tdmrs():
    return good_tdmrs

