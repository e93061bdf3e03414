"""Publishing the one CommandOutcome of each command (/octopus/outcome), with running totals.

Every command the node receives ends in exactly one terminal outcome: call, no_action, low_confidence,
policy, queue_full or error, or, for a call that needs a confirmation, pending followed later by exactly
one of confirmed / rejected / expired. The agent node calls ``OutcomeReporter.report`` at each of those
points and nowhere else; ``counts`` is what `octopus-ros soak` and the status line read back.
"""
from __future__ import annotations

import collections
import threading
from typing import Callable

from octopus_ros.msg import CommandOutcome

CODES = (CommandOutcome.CALL, CommandOutcome.PENDING, CommandOutcome.CONFIRMED, CommandOutcome.REJECTED,
         CommandOutcome.EXPIRED, CommandOutcome.NO_ACTION, CommandOutcome.LOW_CONFIDENCE, CommandOutcome.POLICY,
         CommandOutcome.QUEUE_FULL, CommandOutcome.ERROR)


class OutcomeReporter:
    def __init__(self, publisher, now: Callable[[], object], log_failure: Callable[[str], None]):
        self._publisher = publisher
        self._now = now  # -> builtin_interfaces/Time
        self._log_failure = log_failure
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def report(self, request_id: str, outcome: str, function_name: str = "", reason: str = "",
               confirmation_id: str = "") -> None:
        """Publish one outcome (never raises: a failure, e.g. during shutdown, is logged)."""
        if outcome not in CODES:
            raise ValueError(f"unknown outcome code {outcome!r}")
        msg = CommandOutcome(request_id=request_id, outcome=outcome, function_name=function_name or "",
                             reason=reason or "", confirmation_id=confirmation_id or "")
        with self._lock:
            self.counts[outcome] += 1
        try:
            msg.header.stamp = self._now()
            self._publisher.publish(msg)
        except Exception as exc:  # noqa: BLE001 - publishing during shutdown
            self._log_failure(f"cannot publish outcome {outcome} of request {request_id}: {exc}")

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)
