# SPDX-License-Identifier: MIT
"""A kernel generation's hotplug decisions: which policy, the situation at boot, the verdict.

The tables are hotplug_policies.py, the engine platform.hotplug_policy.  A policy belongs to
one generation; the generation's boot-time detection (detection.py) says whether the kernel
sees TDX at all, and its module counts as initialised (at boot for mainline; by KVM before the
event for 6.8 and v5-2022) when detection passes, the host uses TDX, a module is installed,
MCHECK passed and every usable range lies in a CMR.
"""

from __future__ import annotations

import difflib

from seamemu.errors import InputError
from seamemu.kernel.detection import platform_detection
from seamemu.kernel.generations import Generation, generation
from seamemu.kernel.hotplug_policies import POLICIES
from seamemu.platform.events import Decision, Event, Situation, place_of
from seamemu.platform.facts import Platform
from seamemu.platform.hotplug_policy import apply_hotplug, convertible, decide, tdx_memory_blocks
from seamemu.platform.hotplug_rules import Policy


def policy_names() -> list[str]:
    return list(POLICIES)


def get_policy(policy: str | Policy) -> Policy:
    if isinstance(policy, Policy):
        return policy
    if policy not in POLICIES:
        close = difflib.get_close_matches(policy, list(POLICIES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"unknown hotplug policy '{policy}' ({hint}known: {', '.join(POLICIES)})")
    return POLICIES[policy]


def policy_for(kernel: Generation | str | None, policy: str | None = None) -> Policy:
    """The policy `policy` of generation `kernel` (its first one when None); a policy of
    another generation is a one-line error naming the ones it has."""
    gen = generation(kernel)
    if policy is None:
        return POLICIES[gen.hotplug_policies[0]]
    pol = get_policy(policy)
    if pol.kernel != gen.name:
        raise InputError(f"--policy {pol.name}: belongs to kernel {pol.kernel}; kernel "
                         f"{gen.name} has {', '.join(gen.hotplug_policies)}")
    return pol


def tdx_detected(platform: Platform, policy: str | Policy) -> bool:
    return platform_detection(platform, get_policy(policy).kernel).enabled


def situation_for(platform: Platform, policy: str | Policy, *, use_tdx: bool = True,
                  module_initialized: bool | None = None,
                  cmrs_read_at_boot: bool | None = None) -> Situation:
    """The kernel's situation on `platform` after boot (and module init, if it happens).

    The CMRs are known at boot only under the `cmr-aware` proposal.
    """
    pol = get_policy(policy)
    tdx = tdx_detected(platform, pol)
    if module_initialized is None:
        module_initialized = (use_tdx and tdx and platform.module is not None
                              and platform.mcheck_ok and convertible(platform))
    if cmrs_read_at_boot is None:
        cmrs_read_at_boot = pol.name == "cmr-aware"
    return Situation(tdx_enabled_by_bios=tdx, module_initialized=module_initialized,
                     use_tdx=use_tdx, cmrs_read_at_boot=cmrs_read_at_boot,
                     tdx_memory=tdx_memory_blocks(platform) if module_initialized else (),
                     pw_mce_bug=platform.tdx_pw_mce_bug)


def judge(platform: Platform, event: Event, policy: str | Policy,
          situation: Situation | None = None) -> Decision:
    """decide() with the event's place computed from the platform's CMRs.

    Pass the Situation computed once at boot (situation_for on the boot platform): the TDX
    memory list is fixed at module init, so recomputing it after a hotplug would be wrong.
    """
    if situation is None:
        situation = situation_for(platform, policy)
    return decide(get_policy(policy), event, place_of(platform.cmrs, event), situation)


def handle(platform: Platform, event: Event, policy: str | Policy,
           situation: Situation | None = None) -> tuple[Decision, Platform]:
    """Decide on `event`, and apply it when the decision allows it."""
    decision = judge(platform, event, policy, situation)
    return decision, apply_hotplug(platform, event) if decision.allow else platform


__all__ = ["get_policy", "handle", "judge", "policy_for", "policy_names", "situation_for",
           "tdx_detected"]
