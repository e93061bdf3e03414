"""Safety layer of the agent node: per-function policy (policy.py), the gate every call passes before it
is published (gate.py) and the stop fast path's phrase matcher (stop_phrases.py). See docs/safety.md."""
from octopus_ros.safety.gate import ALLOW, CONFIRM, LOW_CONFIDENCE, POLICY, PolicyGate, Verdict
from octopus_ros.safety.policy import (ArgRule, FunctionPolicy, PolicyError, PolicySet, RateLimit, load_overlay,
                                       load_policies)
from octopus_ros.safety.stop_phrases import StopMatcher, normalize

__all__ = ["ALLOW", "CONFIRM", "LOW_CONFIDENCE", "POLICY", "ArgRule", "FunctionPolicy", "PolicyError",
           "PolicyGate", "PolicySet", "RateLimit", "StopMatcher", "Verdict", "load_overlay", "load_policies",
           "normalize"]
