# SPDX-License-Identifier: MIT
"""Whatever a platform document holds, loading it gives a Platform or a PlatformError."""

import copy
import tomllib
from importlib import resources

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamemu.errors import PlatformError
from seamemu.platform.facts import Platform
from seamemu.platform.load import platform_from_dict

DEFAULT = tomllib.loads(
    (resources.files("seamemu") / "data" / "platforms" / "default.toml").read_text())

values = st.one_of(
    st.integers(min_value=-(1 << 70), max_value=1 << 70), st.booleans(), st.floats(),
    st.text(max_size=12), st.sampled_from(["4G", "0x1000", "512M", "1.5", "usable", "1.5.1"]),
    st.lists(st.integers(min_value=-2, max_value=70), max_size=4),
    st.dictionaries(st.sampled_from(["base", "size", "x"]), st.integers(0, 1 << 40), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(DEFAULT) if p]


@st.composite
def mutated(draw):
    doc = copy.deepcopy(DEFAULT)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["set", "delete", "typo"]))
            if action == "set":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[str(path[-1]) + "x"] = parent.pop(path[-1])
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or retyped this path
    return doc


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_documents_never_escape_as_tracebacks(doc):
    try:
        p = platform_from_dict(doc, "fuzz.toml")
    except PlatformError as e:
        assert e.problems and all(line and "\n" not in line for line in e.problems)
    else:
        assert isinstance(p, Platform)
