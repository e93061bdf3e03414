"""The policy gate: the last check between a decoded call and /octopus/action. No ROS, no torch.

``PolicyGate.admit(...)`` decides, in this order (the first that applies wins):

1. ``enabled: false``                        -> "policy"
2. the stop function                         -> "allow" (no other check: stopping is always allowed)
3. arguments not valid for the schema        -> "policy"   (defence in depth; the decoder already checks)
4. confidence < ``min_confidence`` (or NaN)  -> "low_confidence"
5. no fresh image and ``without_image: refuse`` -> "policy"
6. an argument rule (allow/deny/min/max/max_length) -> "policy"
7. ``rate_limit`` reached                    -> "policy"
8. ``requires_confirmation``                 -> "confirm"
9. otherwise                                 -> "allow"

Only an "allow" or "confirm" verdict counts against the rate limit (it is recorded by admit()), so a refused
or low-confidence call never uses up a function's budget. Thread-safe.
"""
from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

from octopus_ros.safety.policy import PolicySet

ALLOW, CONFIRM, LOW_CONFIDENCE, POLICY = "allow", "confirm", "low_confidence", "policy"


@dataclass(frozen=True)
class Verdict:
    decision: str  # ALLOW | CONFIRM | LOW_CONFIDENCE | POLICY
    reason: str = ""

    @property
    def admitted(self) -> bool:
        return self.decision in (ALLOW, CONFIRM)


class PolicyGate:
    def __init__(self, policies: PolicySet, clock: Callable[[], float] = time.monotonic):
        self.policies = policies
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: dict[str, collections.deque[float]] = {}

    def admit(self, function_name: str, arguments: dict, confidence: float, has_image: bool,
              now: float | None = None) -> Verdict:
        """The verdict for one decoded call (see the module docstring); records admitted calls."""
        registry = self.policies.registry
        if function_name not in registry:
            return Verdict(POLICY, f"unknown function {function_name!r}")
        policy = self.policies[function_name]
        if not policy.enabled:
            return Verdict(POLICY, f"{function_name} is disabled by the safety policy")
        if policy.stop:
            return Verdict(ALLOW)
        errors = registry.validate_arguments(function_name, arguments)
        if errors:
            return Verdict(POLICY, f"invalid arguments for {function_name}: " + "; ".join(errors))
        if not (isinstance(confidence, (int, float)) and math.isfinite(confidence)
                and confidence >= policy.min_confidence):
            return Verdict(LOW_CONFIDENCE, f"confidence {confidence:.3f} is below {function_name}'s "
                                           f"min_confidence {policy.min_confidence:g}")
        if not has_image and policy.without_image == "refuse":
            return Verdict(POLICY, f"{function_name} needs a fresh camera frame and none was available "
                                   "(without_image: refuse)")
        spec = registry.by_name(function_name)
        for arg_name, rule in policy.args.items():
            problem = rule.problem(spec.arg(arg_name), arguments.get(arg_name, spec.arg(arg_name).default))
            if problem:
                return Verdict(POLICY, f"{function_name}: {problem}")
        if policy.rate_limit is not None and not self._take(function_name, policy.rate_limit, now):
            limit = policy.rate_limit
            return Verdict(POLICY, f"rate limit of {function_name} reached ({limit.describe()})")
        if policy.requires_confirmation:
            return Verdict(CONFIRM, f"{function_name} requires confirmation")
        return Verdict(ALLOW)

    def _take(self, name: str, limit, now: float | None) -> bool:
        now = self._clock() if now is None else now
        with self._lock:
            recent = self._recent.setdefault(name, collections.deque())
            while recent and now - recent[0] >= limit.window_s:
                recent.popleft()
            if len(recent) >= limit.max_calls:
                return False
            recent.append(now)
            return True

    def inherit(self, other: "PolicyGate") -> None:
        """Take over ``other``'s rate-limit history (a policy reload must not reset the windows)."""
        with other._lock:
            recent = {name: collections.deque(times) for name, times in other._recent.items()}
        with self._lock:
            self._recent.update(recent)

    def recent_calls(self, name: str, now: float | None = None) -> int:
        """Admitted calls of ``name`` inside its current rate-limit window (for status and tests)."""
        policy = self.policies[name]
        if policy.rate_limit is None:
            return 0
        now = self._clock() if now is None else now
        with self._lock:
            return sum(1 for t in self._recent.get(name, ()) if now - t < policy.rate_limit.window_s)
