"""The stop fast path's matcher: is this command text exactly one of the stop phrases? No ROS, no torch.

The model cannot tell the node that a command means "stop" before it has run, and it runs behind the
request queue. So the node checks every command against a small set of phrases first, in the command
callback: the stop function's examples in functions.yaml (EN/ZH) plus its policy ``phrases``. The match
is EXACT after normalisation (Unicode NFKC, case folded, punctuation/symbols removed, whitespace
collapsed), so "stop!" and "STOP." match "stop" but "stop the music" does not (that is media_control's
business and goes to the model). A command that says stop in other words still reaches the model, which
may choose the stop function, but then it waits its turn in the queue like any other command.
"""
from __future__ import annotations

import unicodedata
from typing import Iterable

from octopus_ros.safety.policy import PolicySet

#: Longest command (characters) the fast path looks at; anything longer goes to the model.
MAX_PHRASE_CHARS = 60


def normalize(text: str) -> str:
    """NFKC, casefold, punctuation and symbols -> spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text]
    return " ".join("".join(kept).split())


class StopMatcher:
    def __init__(self, function_name: str, phrases: Iterable[str]):
        self.function_name = function_name
        self.phrases = frozenset(p for p in (normalize(x) for x in phrases) if p)

    @classmethod
    def from_policies(cls, policies: PolicySet) -> "StopMatcher | None":
        """The matcher of the policy's stop function, or None when there is none or it is disabled."""
        stop = policies.stop_function
        if stop is None or not policies[stop.name].enabled:
            return None
        phrases = [e["text"] for e in stop.examples if isinstance(e.get("text"), str)]
        return cls(stop.name, phrases + list(policies[stop.name].phrases))

    def matches(self, text: str) -> bool:
        if not isinstance(text, str) or len(text) > MAX_PHRASE_CHARS:
            return False
        return normalize(text) in self.phrases
