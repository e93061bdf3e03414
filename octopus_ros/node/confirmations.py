"""Calls waiting for a human confirmation (the node's /octopus/pending + /octopus/confirm). No ROS imports.

A pending call lives until it is confirmed, rejected or expires (``timeout_s`` after it was added), and
at most ``capacity`` of them are held: adding one more displaces the oldest (reported by the node as
EXPIRED, so nothing disappears silently and memory stays bounded). Confirmation ids are random (8 hex
digits), not counters, so a confirmation cannot be aimed at a call one has not seen. Thread-safe; the
clock is injectable for tests.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Pending:
    confirmation_id: str
    request_id: str
    function_name: str
    payload: Any       # the FunctionCall to publish when confirmed
    created: float     # clock() when added
    expires: float     # clock() after which it expires


class PendingConfirmations:
    def __init__(self, timeout_s: float, capacity: int = 32, clock: Callable[[], float] = time.monotonic):
        if timeout_s <= 0:
            raise ValueError(f"confirmation timeout must be positive, got {timeout_s}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.timeout_s = float(timeout_s)
        self.capacity = int(capacity)
        self._clock = clock
        self._items: OrderedDict[str, Pending] = OrderedDict()  # oldest first
        self._lock = threading.Lock()

    def add(self, request_id: str, function_name: str, payload: Any) -> tuple[Pending, list[Pending]]:
        """Hold a new pending call; returns it and the pending calls displaced to make room (oldest first)."""
        now = self._clock()
        with self._lock:
            cid = secrets.token_hex(4)
            while cid in self._items:
                cid = secrets.token_hex(4)
            pending = Pending(cid, request_id, function_name, payload, now, now + self.timeout_s)
            displaced = []
            while len(self._items) >= self.capacity:
                displaced.append(self._items.popitem(last=False)[1])
            self._items[cid] = pending
        return pending, displaced

    def take(self, confirmation_id: str) -> Pending | None:
        """Remove and return the pending call (None when unknown, already decided or expired)."""
        now = self._clock()
        with self._lock:
            pending = self._items.get(confirmation_id)
            if pending is None or now > pending.expires:
                return None  # an expired one stays until expire() reports it
            return self._items.pop(confirmation_id)

    def expire(self) -> list[Pending]:
        """Remove and return every pending call whose time is up."""
        now = self._clock()
        with self._lock:
            gone = [p for p in self._items.values() if now > p.expires]
            for p in gone:
                del self._items[p.confirmation_id]
        return gone

    def drain(self) -> list[Pending]:
        """Remove and return everything (shutdown)."""
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
        return items

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
