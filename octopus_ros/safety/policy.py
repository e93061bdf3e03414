"""The per-function safety policy: what `default_policy:` / `policy:` in functions.yaml (plus an optional
overlay file) mean, merged and checked into one immutable ``PolicySet``. No ROS, no torch.

Effective policy of a function, key by key, later wins:
    BUILTIN_DEFAULTS <- functions.yaml default_policy <- overlay default_policy
                     <- functions.yaml functions[i].policy <- overlay functions.<name>
The policy is configuration of the node, not of the model: it is not part of
``ActionRegistry.canonical()`` / ``fingerprint()``, so editing it never invalidates a checkpoint.
See docs/safety.md for the format and what each key guarantees.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from octopus_ros.actions.registry import ActionRegistry, ArgSpec, FunctionSpec

#: What a function gets when neither functions.yaml nor the overlay says anything.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "min_confidence": 0.0,
    "rate_limit": None,
    "requires_confirmation": False,
    "without_image": "allow",
}
#: Keys the stop function may not set for itself (stop is never rate-limited, confirmed or gated on confidence).
STOP_EXEMPT_KEYS = ("rate_limit", "requires_confirmation", "min_confidence")
#: Keys only a function's own policy may carry (not default_policy).
FUNCTION_ONLY_KEYS = ("args", "stop", "phrases")


class PolicyError(ValueError):
    """The policy in a functions file or overlay is not valid. ``problems`` lists every problem, each
    starting with the path of the bad field."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


@dataclass(frozen=True)
class RateLimit:
    max_calls: int
    window_s: float

    def describe(self) -> str:
        return f"{self.max_calls} per {self.window_s:g} s"


@dataclass(frozen=True)
class ArgRule:
    """A rule for one argument, tighter than its schema in functions.yaml."""

    allow: tuple[str, ...] | None = None  # str/enum: the value must be one of these (str: ignoring case)
    deny: tuple[str, ...] = ()            # str: refused when the value contains one of these (ignoring case)
    min: float | None = None              # int/float
    max: float | None = None              # int/float
    max_length: int | None = None         # str

    def problem(self, arg: ArgSpec, value: Any) -> str:
        """Why ``value`` breaks this rule ("" when it does not)."""
        if arg.type in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"{arg.name}={value!r} is not a finite number"
            if self.min is not None and value < self.min:
                return f"{arg.name}={value!r} is below the policy minimum {self.min:g}"
            if self.max is not None and value > self.max:
                return f"{arg.name}={value!r} is above the policy maximum {self.max:g}"
            return ""
        if not isinstance(value, str):
            return f"{arg.name}={value!r} is not text"
        if self.max_length is not None and len(value) > self.max_length:
            return f"{arg.name} is {len(value)} characters long (policy max_length {self.max_length})"
        if self.allow is not None:
            allowed = self.allow if arg.type == "enum" else tuple(a.casefold() for a in self.allow)
            probe = value if arg.type == "enum" else value.strip().casefold()
            if probe not in allowed:
                return f"{arg.name}={value!r} is not in the policy allow-list {list(self.allow)}"
        folded = value.casefold()
        for word in self.deny:
            if word.casefold() in folded:
                return f"{arg.name}={value!r} contains the denied text {word!r}"
        return ""


@dataclass(frozen=True)
class FunctionPolicy:
    name: str
    enabled: bool = True
    min_confidence: float = 0.0
    rate_limit: RateLimit | None = None
    requires_confirmation: bool = False
    without_image: str = "allow"  # "allow" | "refuse"
    args: Mapping[str, ArgRule] = field(default_factory=dict)
    stop: bool = False
    phrases: tuple[str, ...] = ()

    def summary(self) -> dict:
        """A plain-data view (for `octopus-ros policy show` and logs)."""
        return {"enabled": self.enabled, "min_confidence": self.min_confidence,
                "rate_limit": self.rate_limit.describe() if self.rate_limit else None,
                "requires_confirmation": self.requires_confirmation, "without_image": self.without_image,
                "args": {n: {k: v for k, v in vars(r).items() if v not in (None, ())} for n, r in self.args.items()},
                "stop": self.stop, "phrases": list(self.phrases)}


class PolicySet:
    """The effective policy of every function of a registry."""

    def __init__(self, registry: ActionRegistry, policies: dict[str, FunctionPolicy], source: str = ""):
        self.registry = registry
        self.source = source
        self._policies = dict(policies)
        stops = [p.name for p in policies.values() if p.stop]
        self.stop_function: FunctionSpec | None = registry.by_name(stops[0]) if stops else None

    def __getitem__(self, name: str) -> FunctionPolicy:
        return self._policies[name]

    def __iter__(self):
        return iter(self._policies.values())

    @classmethod
    def from_registry(cls, registry: ActionRegistry, overlay: Mapping | None = None,
                      overlay_source: str = "") -> "PolicySet":
        """Merge and check the policies of ``registry`` (+ ``overlay``); raises PolicyError listing every problem."""
        overlay = dict(overlay or {})
        problems = _overlay_problems(registry, overlay, overlay_source)
        if problems:
            raise _error(problems)
        file_default = dict(registry.default_policy)
        over_default = dict(overlay.get("default_policy") or {})
        over_functions = dict(overlay.get("functions") or {})
        for where, block in (("default_policy", file_default), ("overlay default_policy", over_default)):
            for key in FUNCTION_ONLY_KEYS:
                if key in block:
                    problems.append(f"{where}.{key}: only allowed in a function's own policy")
        policies: dict[str, FunctionPolicy] = {}
        for f in registry.functions:
            own = {**(f.policy or {}), **dict(over_functions.get(f.name) or {})}
            merged = {**BUILTIN_DEFAULTS, **file_default, **over_default, **own}
            where = f"functions[{f.index}] ({f.name}).policy"
            policy, found = _build(f, merged, own, where)
            problems += found
            policies[f.name] = policy
        stops = [p.name for p in policies.values() if p.stop]
        if len(stops) > 1:
            problems.append(f"policy.stop: more than one stop function ({', '.join(stops)})")
        if problems:
            raise _error(problems)
        source = registry.source + (f" + {overlay_source}" if overlay_source else "")
        return cls(registry, policies, source)

    def describe(self) -> dict[str, dict]:
        return {name: p.summary() for name, p in self._policies.items()}


def load_overlay(path: str | Path) -> dict:
    """Read a policy overlay YAML file (``default_policy:`` and/or ``functions: {name: policy}``)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: a policy file is a mapping with default_policy / functions, "
                          f"got {type(data).__name__}")
    return data


def load_policies(registry: ActionRegistry, overlay_path: str | Path | None = None) -> PolicySet:
    """The PolicySet of ``registry`` with the overlay file at ``overlay_path`` (None / "" = none)."""
    if not overlay_path:
        return PolicySet.from_registry(registry)
    return PolicySet.from_registry(registry, load_overlay(overlay_path), str(overlay_path))


# ---- checking and building --------------------------------------------------------------------------
def _error(problems: list[str]) -> PolicyError:
    message = problems[0] if len(problems) == 1 else f"{len(problems)} policy problems:\n  " + "\n  ".join(problems)
    return PolicyError(message, problems)


def _overlay_problems(registry: ActionRegistry, overlay: dict, source: str) -> list[str]:
    import jsonschema

    from octopus_ros.actions import loader

    schema = json.loads(loader.find_config_file(loader.SCHEMA_FILE).read_text(encoding="utf-8"))
    overlay_schema = {
        "$schema": schema["$schema"], "$defs": schema["$defs"], "type": "object", "additionalProperties": False,
        "properties": {"default_policy": {"$ref": "#/$defs/policy"},
                       "functions": {"type": "object", "additionalProperties": {"$ref": "#/$defs/policy"}}}}
    validator = jsonschema.validators.validator_for(overlay_schema)(overlay_schema)
    prefix = f"{source}: " if source else ""
    problems = [f"{prefix}{loader.format_path(e.absolute_path)}: {e.message}"
                for e in sorted(validator.iter_errors(overlay), key=lambda e: list(map(str, e.absolute_path)))]
    for name in (overlay.get("functions") or {}) if isinstance(overlay.get("functions"), dict) else ():
        if name not in registry:
            problems.append(f"{prefix}functions.{name}: no function {name!r} in {registry.source or 'the registry'}")
    return problems


def _build(f: FunctionSpec, merged: dict, own: dict, where: str) -> tuple[FunctionPolicy, list[str]]:
    problems: list[str] = []
    stop = bool(merged.get("stop", False))
    if stop:
        for key in STOP_EXEMPT_KEYS:
            if key in own and own[key] not in (None, False, 0, 0.0):
                problems.append(f"{where}.{key}: the stop function is never rate-limited, confirmed or gated "
                                f"on confidence; remove {key}")
        if f.required_args:
            problems.append(f"{where}.stop: the stop function must have no required arguments "
                            f"(the fast path publishes it without the model)")
    elif merged.get("phrases"):
        problems.append(f"{where}.phrases: only allowed together with stop: true")
    rules: dict[str, ArgRule] = {}
    for arg_name, raw in (merged.get("args") or {}).items():
        rule, found = _build_rule(f, arg_name, raw, f"{where}.args.{arg_name}")
        problems += found
        if rule is not None:
            rules[arg_name] = rule
    limit = merged.get("rate_limit")
    policy = FunctionPolicy(
        name=f.name, enabled=bool(merged["enabled"]),
        min_confidence=0.0 if stop else float(merged["min_confidence"]),
        rate_limit=None if stop or not limit else RateLimit(int(limit["max_calls"]), float(limit["window_s"])),
        requires_confirmation=False if stop else bool(merged["requires_confirmation"]),
        without_image=str(merged["without_image"]), args=rules, stop=stop,
        phrases=tuple(merged.get("phrases") or ()))
    return policy, problems


def _build_rule(f: FunctionSpec, arg_name: str, raw: dict, where: str) -> tuple[ArgRule | None, list[str]]:
    if arg_name not in f.arg_names:
        return None, [f"{where}: {f.name} has no argument {arg_name!r} (arguments: {', '.join(f.arg_names) or 'none'})"]
    arg = f.arg(arg_name)
    problems = []
    allowed_keys = {"str": ("allow", "deny", "max_length"), "enum": ("allow",),
                    "int": ("min", "max"), "float": ("min", "max")}[arg.type]
    for key in raw:
        if key not in allowed_keys:
            problems.append(f"{where}.{key}: not allowed for a {arg.type} argument (only {', '.join(allowed_keys)})")
    if arg.type == "enum" and "allow" in raw:
        unknown = [v for v in raw["allow"] if v not in arg.values]
        if unknown:
            problems.append(f"{where}.allow: {unknown} are not values of {arg_name} ({list(arg.values)})")
    lo, hi = raw.get("min"), raw.get("max")
    if lo is not None and hi is not None and lo > hi:
        problems.append(f"{where}: min {lo!r} is greater than max {hi!r}")
    if problems:
        return None, problems
    allow = tuple(str(v) for v in raw["allow"]) if "allow" in raw else None
    return ArgRule(allow=allow, deny=tuple(raw.get("deny", ())), min=lo, max=hi,
                   max_length=raw.get("max_length")), []
