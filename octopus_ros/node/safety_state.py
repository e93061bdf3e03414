"""The node's safety state: registry + merged policies + gate + stop matcher, built without the model.

The stop fast path must work even when the model is missing or still loading, so the node builds this
from the functions file alone at start-up (``registry_for``): the ``functions_file`` parameter, else the
checkpoint folder's functions.yaml snapshot, else the packaged config/functions.yaml. Once the model is
loaded, the node rebuilds it from the model's own registry (the authority) if that differs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from octopus_ros.actions import ActionRegistry
from octopus_ros.actions.loader import config_dirs
from octopus_ros.actions.registry import default_path
from octopus_ros.safety import PolicyGate, PolicySet, StopMatcher, load_policies


@dataclass
class SafetyState:
    registry: ActionRegistry
    policies: PolicySet
    gate: PolicyGate
    stop: StopMatcher | None  # None: no (enabled) stop function, so no fast path


def resolve_policy_file(name: str) -> Path | None:
    """The overlay path for the ``policy_file`` parameter ("" = None): as given, else under config/."""
    if not name:
        return None
    path = Path(name).expanduser()
    if path.is_absolute() or path.exists():
        return path
    for d in config_dirs():
        candidate = d / name
        if candidate.exists():
            return candidate
        candidate = d.parent / name  # "config/policy/x.yaml" given relative to the package root
        if candidate.exists():
            return candidate
    return path  # does not exist: load_overlay reports it


def registry_for(model: str, functions_file: str) -> ActionRegistry:
    """The action set the node will use, decided without loading the model (raises RegistryError)."""
    if functions_file:
        return ActionRegistry.from_yaml(functions_file)
    snapshot = Path(model).expanduser() / "functions.yaml"
    if snapshot.is_file():
        return ActionRegistry.from_yaml(snapshot)
    return ActionRegistry.from_yaml(default_path())


def load_safety(registry: ActionRegistry, policy_file: str) -> SafetyState:
    """Merge and check the policies (raises PolicyError / RegistryError with a clear message)."""
    policies = load_policies(registry, resolve_policy_file(policy_file))
    return SafetyState(registry, policies, PolicyGate(policies), StopMatcher.from_policies(policies))
