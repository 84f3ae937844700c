# SPDX-License-Identifier: MIT
"""Loading platform descriptions: a TOML file, TOML text, or a named preset shipped with seamemu.

A description may start from a preset with `extends = "default"`: tables merge key by key and
arrays (`[[memory]]`, `[[cmr]]`, ...) replace the preset's arrays whole.  Every problem becomes
one line of a `PlatformError`; nothing here lets a traceback out.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from importlib import resources
from pathlib import Path

from seamemu.arch.module_versions import find_profile, profile_names
from seamemu.errors import InputError, PlatformError
from seamemu.files import read_text
from seamemu.platform.facts import ModuleInfo, Platform
from seamemu.platform.schema import read_platform
from seamemu.platform.validate import validate_platform

DEFAULT_PRESET = "default"


def _preset_dir():
    return resources.files("seamemu") / "data" / "platforms"


def preset_names() -> list[str]:
    """Names of the platform presets shipped with seamemu, sorted."""
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".toml"))


def _preset_text(name: str) -> str:
    if name not in preset_names():
        close = difflib.get_close_matches(name, preset_names(), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise PlatformError([f"unknown preset '{name}' ({hint}known: {', '.join(preset_names())})"])
    return (_preset_dir() / f"{name}.toml").read_text(encoding="utf-8")


def _parse(text: str, filename: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlatformError([f"TOML syntax error: {e}"], file=filename) from None
    except RecursionError:
        raise PlatformError(["TOML nested too deeply to be a platform"], file=filename) from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(doc: dict, filename: str, seen: tuple[str, ...] = ()) -> dict:
    """Apply `extends` (a preset name) recursively; the document's own keys win."""
    parent = doc.get("extends")
    if parent is None:
        return doc
    if not isinstance(parent, str):
        raise PlatformError([f"extends: expected a preset name, got {parent!r}"], file=filename)
    if parent in seen:
        raise PlatformError([f"extends: preset '{parent}' extends itself "
                             f"({' -> '.join(seen + (parent,))})"], file=filename)
    try:
        base = _resolve(_parse(_preset_text(parent), f"preset {parent}"), f"preset {parent}",
                        seen + (parent,))
    except PlatformError as e:
        raise PlatformError([f"extends: {p}" for p in e.problems], file=filename) from None
    base.pop("name", None)  # a derived platform is never named after its parent
    base.pop("description", None)
    return _merge(base, {k: v for k, v in doc.items() if k != "extends"})


def _finish(platform: Platform) -> Platform:
    """Memory map sorted by base (validation reported problems in file order)."""
    memory = tuple(sorted(platform.memory, key=lambda m: m.base))
    return dataclasses.replace(platform, memory=memory)


def platform_from_dict(doc: dict, filename: str = "<dict>", name: str | None = None) -> Platform:
    """A Platform from an already parsed document (`extends` applied here too).

    Schema problems are reported first; the semantic checks run once the document reads
    cleanly, so one mistake does not show up again as a string of follow-on problems.
    """
    doc = _resolve(doc, filename)
    default_name = name or (Path(filename).stem if not filename.startswith("<") else "custom")
    platform, problems = read_platform(doc, default_name, source=filename)
    if platform is not None:
        problems = validate_platform(platform)
    if problems or platform is None:
        raise PlatformError(problems, file=filename)
    return _finish(platform)


def load_platform_text(text: str, filename: str = "<string>", name: str | None = None) -> Platform:
    """A Platform from TOML text; raises PlatformError listing every problem found."""
    return platform_from_dict(_parse(text, filename), filename, name)


def load_platform(path: str | Path | None = None, preset: str | None = None) -> Platform:
    """The platform in `path`, or the named preset, or (neither given) the embedded default.

    A `path` that names no file but is a preset's name loads that preset, so `--platform
    one-socket` works wherever `--platform FILE` does.
    """
    if path is not None and preset is not None:
        raise PlatformError(["give either a platform file or a preset name, not both"])
    if path is not None and not Path(path).exists() and str(path) in preset_names():
        path, preset = None, str(path)
    if path is not None and not Path(path).exists():
        raise PlatformError([f"cannot read the platform file: No such file or directory, and no "
                             f"preset has that name (presets: {', '.join(preset_names())})"],
                            file=str(path))
    if path is None:
        name = preset or DEFAULT_PRESET
        return load_platform_text(_preset_text(name), f"preset {name}", name=name)
    try:
        text = read_text(path, "", "platform file")
    except InputError as e:
        reason = str(e).removeprefix(f"{path}: ")
        raise PlatformError([f"cannot read the platform file: {reason}"], file=str(path)) from None
    return load_platform_text(text, str(path))


def as_platform(spec: Platform | str | Path | None, *,
                module_version: str | None = None) -> Platform:
    """A Platform from what a user or caller gave: a Platform, a TOML file, a preset name, or
    None for the embedded default.  `module_version` replaces the platform file's
    `[module] version` (the `--module-version` option): the module loaded at boot is then that
    release, with the numbers its profile reports."""
    platform = spec if isinstance(spec, Platform) else load_platform(spec)
    if module_version is None:
        return platform
    prof = find_profile(module_version)
    if prof is None:
        raise InputError(f"--module-version {module_version!r}: not a known TDX module release "
                         f"(known: {', '.join(profile_names())})")
    if platform.module is None:
        raise InputError(f"--module-version {module_version}: platform {platform.name!r} loads "
                         "no TDX module at boot ([module] present = false)")
    return dataclasses.replace(platform, module=ModuleInfo(version=prof.name))


__all__ = ["DEFAULT_PRESET", "as_platform", "load_platform", "load_platform_text",
           "platform_from_dict", "preset_names"]
