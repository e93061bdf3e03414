"""Pending confirmations and the queue's drain (no ROS): ids, expiry, capacity, exactly-once take."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octopus_ros.node.confirmations import PendingConfirmations
from octopus_ros.node.request_queue import RequestQueue


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_take_once_expire_and_capacity():
    clock = Clock()
    pc = PendingConfirmations(10.0, capacity=2, clock=clock)
    a, _ = pc.add("r1", "send_email", "A")
    assert len(a.confirmation_id) == 8 and pc.take("nope") is None
    assert pc.take(a.confirmation_id).payload == "A" and pc.take(a.confirmation_id) is None  # exactly once
    b, _ = pc.add("r2", "f", "B")
    c, _ = pc.add("r3", "f", "C")
    d, displaced = pc.add("r4", "f", "D")
    assert [p.request_id for p in displaced] == ["r2"] and pc.ids() == [c.confirmation_id, d.confirmation_id]
    clock.t = 10.5
    assert pc.take(c.confirmation_id) is None  # expired: not confirmable ...
    assert {p.request_id for p in pc.expire()} == {"r3", "r4"}  # ... and reported once by expire()
    assert pc.expire() == [] and len(pc) == 0
    with pytest.raises(ValueError):
        PendingConfirmations(0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "take", "expire", "tick"]), st.integers(0, 20)), max_size=60),
       st.integers(1, 5))
def test_every_pending_call_leaves_exactly_once(ops, capacity):
    clock = Clock()
    pc = PendingConfirmations(3.0, capacity=capacity, clock=clock)
    added, left = [], []
    for op, n in ops:
        if op == "add":
            p, displaced = pc.add(f"r{len(added)}", "f", None)
            added.append(p.confirmation_id)
            left += [d.confirmation_id for d in displaced]
        elif op == "take" and added:
            p = pc.take(added[n % len(added)])
            if p is not None:
                left.append(p.confirmation_id)
        elif op == "expire":
            left += [p.confirmation_id for p in pc.expire()]
        else:
            clock.t += n / 4
        assert len(pc) <= capacity
    left += [p.confirmation_id for p in pc.drain()]
    assert sorted(left) == sorted(added)  # every one left exactly once


def test_queue_drain_returns_pending_in_order_without_on_drop():
    import threading
    gate, dropped = threading.Event(), []
    q = RequestQueue(10, lambda item: gate.wait(5), lambda item, reason: dropped.append(item)).start()
    for i in range(4):
        q.submit(i)
    q.wait_idle(0.2)
    drained = q.drain()
    gate.set()
    q.stop()
    assert drained in ([1, 2, 3], [0, 1, 2, 3]) and dropped == [] and q.depth == 0
