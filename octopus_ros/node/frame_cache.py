"""Recent camera frames per topic, for pairing commands with what the robot sees. No ROS imports.

Freshness is judged by the time the node RECEIVED the frame (a monotonic clock), not by its header
stamp: header stamps come from the camera driver's clock (simulated time, an unsynchronised robot
computer, a replayed bag) and cannot be compared with the node's clock reliably. The header stamp and
frame_id are kept and copied into the FunctionCall (``image_stamp``, ``header.frame_id``).

One exception: a command that carries its own stamp (a spoken command is stamped with the start of the
utterance, seconds before recognition ends) is paired with the frame seen at that moment, found by
comparing header stamps, which is meaningful when the camera and the speech node share a clock. A short,
thinned history per camera (at most one frame per ``HISTORY_STEP_S`` over ``history_s``) keeps that
bounded; when no frame of the history fits, the latest fresh frame is used as for any other command.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Frame:
    """One camera frame. ``image()`` returns the H x W x 3 uint8 RGB array, decoding it on first use
    when the frame was cached compressed (and remembering the result)."""
    topic: str
    stamp_sec: int
    stamp_nanosec: int
    frame_id: str
    received: float  # time.monotonic() at reception
    _loader: Callable[[], np.ndarray] = field(repr=False)
    _image: np.ndarray | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_array(cls, topic: str, image: np.ndarray, stamp_sec: int = 0, stamp_nanosec: int = 0,
                   frame_id: str = "", received: float | None = None) -> "Frame":
        return cls(topic, int(stamp_sec), int(stamp_nanosec), frame_id,
                   time.monotonic() if received is None else received, lambda: image, image)

    @classmethod
    def lazy(cls, topic: str, loader: Callable[[], np.ndarray], stamp_sec: int = 0, stamp_nanosec: int = 0,
             frame_id: str = "", received: float | None = None) -> "Frame":
        return cls(topic, int(stamp_sec), int(stamp_nanosec), frame_id,
                   time.monotonic() if received is None else received, loader)

    def image(self) -> np.ndarray:
        """The decoded image (may raise octopus_ros.images.ImageError for a lazily decoded frame)."""
        with self._lock:
            if self._image is None:
                self._image = self._loader()
            return self._image

    def age(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.received


HISTORY_STEP_S = 0.25


def _stamp_ns(sec: int, nanosec: int) -> int:
    return int(sec) * 1_000_000_000 + int(nanosec)


class FrameCache:
    """Thread-safe map camera topic -> latest Frame, plus a thinned history of the last ``history_s``."""

    def __init__(self, history_s: float = 5.0) -> None:
        self._frames: dict[str, Frame] = {}
        self._history: dict[str, collections.deque[Frame]] = {}
        self._history_s = float(history_s)
        self._lock = threading.Lock()

    def put(self, frame: Frame) -> None:
        with self._lock:
            self._frames[frame.topic] = frame
            if self._history_s <= 0:
                return
            history = self._history.setdefault(frame.topic, collections.deque())
            if history and int(frame.received // HISTORY_STEP_S) == int(history[-1].received // HISTORY_STEP_S):
                history[-1] = frame          # keep the newest frame of each step
            else:
                history.append(frame)
            while history and frame.received - history[0].received > self._history_s:
                history.popleft()

    def at_stamp(self, topic: str, sec: int, nanosec: int, max_age_s: float) -> Frame | None:
        """The frame of ``topic`` that was current at header time (sec, nanosec): the latest one stamped at
        or before it and at most ``max_age_s`` older (<= 0: no limit). None when no such frame is kept."""
        when = _stamp_ns(sec, nanosec)
        if when <= 0:
            return None
        with self._lock:
            history = list(self._history.get(topic, ()))
        best = None
        for frame in history:
            stamp = _stamp_ns(frame.stamp_sec, frame.stamp_nanosec)
            if 0 < stamp <= when and (max_age_s <= 0 or when - stamp <= max_age_s * 1e9):
                best = frame if best is None or stamp > _stamp_ns(best.stamp_sec, best.stamp_nanosec) else best
        return best

    def latest(self, topic: str) -> Frame | None:
        """The latest frame of ``topic`` regardless of its age."""
        with self._lock:
            return self._frames.get(topic)

    def get(self, topic: str, max_age_s: float, now: float | None = None) -> Frame | None:
        """The latest frame of ``topic`` if it was received at most ``max_age_s`` ago (max_age_s <= 0
        means no age limit), else None."""
        frame = self.latest(topic)
        if frame is None:
            return None
        if max_age_s > 0 and frame.age(now) > max_age_s:
            return None
        return frame

    def freshest(self, max_age_s: float, topics: list[str] | None = None, now: float | None = None) -> Frame | None:
        """The most recently received frame over ``topics`` (default: every topic) within ``max_age_s``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            candidates = [f for t, f in self._frames.items() if topics is None or t in topics]
        candidates = [f for f in candidates if max_age_s <= 0 or f.age(now) <= max_age_s]
        return max(candidates, key=lambda f: f.received, default=None)

    def topics(self) -> list[str]:
        with self._lock:
            return list(self._frames)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._history.clear()
