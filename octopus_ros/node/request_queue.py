"""A bounded request queue served by one worker thread. No ROS imports.

Drop policy (documented in the README): the queue holds at most ``capacity`` PENDING requests (the one
the worker is processing does not count). When a new request arrives and the queue is full, the OLDEST
pending request is dropped and reported through ``on_drop`` (the node publishes it on /octopus/status
with outcome "dropped" and counts it in ``dropped_count``); the new request is always accepted. For a
robot the newest command is the one that matters: a backlog of old commands acted on late is worse than
losing one of them. Requests are otherwise served in arrival order (FIFO), one at a time, because the
model uses all the CPU threads it is given.

Every exception raised by ``handle`` is caught and passed to ``on_error``; the worker never dies
from a bad request. ``stop()`` drops what is still pending (reason "shutdown") so that nobody waits
for it forever, and joins the worker with a timeout (it is a daemon thread, so a long inference can
never keep the process alive).
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
_log = logging.getLogger(__name__)


class RequestQueue(Generic[T]):
    def __init__(self, capacity: int, handle: Callable[[T], None],
                 on_drop: Callable[[T, str], None] | None = None,
                 on_error: Callable[[T, BaseException], None] | None = None,
                 name: str = "octopus-worker") -> None:
        if capacity < 1:
            raise ValueError(f"queue capacity must be at least 1, got {capacity}")
        self.capacity = int(capacity)
        self._handle = handle
        self._on_drop = on_drop or (lambda item, reason: None)
        self._on_error = on_error or (lambda item, exc: None)
        self._items: collections.deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.dropped = 0
        self.processed = 0

    # ---- producer side -----------------------------------------------------------------------------
    def start(self) -> "RequestQueue[T]":
        self._thread.start()
        return self

    def submit(self, item: T) -> T | None:
        """Enqueue ``item``; returns the request dropped to make room (the oldest pending one), if any.
        After stop(), the item itself is dropped (reason "shutdown") and returned."""
        dropped, reason = None, ""
        with self._cond:
            if self._stopping:
                dropped, reason = item, "shutdown"
            else:
                if len(self._items) >= self.capacity:
                    dropped, reason = self._items.popleft(), "queue full"
                self._items.append(item)
                self._cond.notify()
            if dropped is not None:
                self.dropped += 1
        if dropped is not None:
            self._safe_drop(dropped, reason)
        return dropped

    @property
    def depth(self) -> int:
        """Number of pending requests (not counting the one in progress)."""
        with self._cond:
            return len(self._items)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or in progress (for tests). True when idle."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items and not self._busy, timeout)

    def drain(self) -> list[T]:
        """Remove and return every pending request (not the one in progress), oldest first, without calling
        on_drop: the caller reports them (the stop fast path cancels what was queued before it)."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            self.dropped += len(items)
            self._cond.notify_all()
        return items

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting work, drop pending requests (reason "shutdown"), join the worker."""
        with self._cond:
            self._stopping = True
            pending = list(self._items)
            self._items.clear()
            self.dropped += len(pending)
            self._cond.notify_all()
        for item in pending:
            self._safe_drop(item, "shutdown")
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # ---- worker ---------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._items or self._stopping)
                if self._stopping:
                    self._busy = False
                    self._cond.notify_all()
                    return
                item = self._items.popleft()
                self._busy = True
            try:
                self._handle(item)
            except BaseException as exc:  # noqa: BLE001 - the worker must survive anything
                try:
                    self._on_error(item, exc)
                except BaseException:  # noqa: BLE001
                    _log.exception("request queue: on_error failed")
            finally:
                with self._cond:
                    self._busy = False
                    self.processed += 1
                    self._cond.notify_all()

    def _safe_drop(self, item: T, reason: str) -> None:
        try:
            self._on_drop(item, reason)
        except BaseException:  # noqa: BLE001
            _log.exception("request queue: on_drop failed")
