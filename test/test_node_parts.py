"""The node's ROS-free parts: frame cache, request queue (drop policy), command validation."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from octopus_ros.node.frame_cache import Frame, FrameCache
from octopus_ros.node.request_queue import RequestQueue


def test_frame_cache_latest_and_max_age():
    cache = FrameCache()
    img = np.zeros((8, 8, 3), np.uint8)
    cache.put(Frame.from_array("/a", img, 1, 2, "cam_a", received=100.0))
    cache.put(Frame.from_array("/b", img, 3, 4, "cam_b", received=101.0))
    assert cache.get("/a", 1.0, now=100.5).frame_id == "cam_a"
    assert cache.get("/a", 1.0, now=101.5) is None          # too old
    assert cache.get("/a", 0.0, now=1e9).frame_id == "cam_a"  # 0 = no limit
    assert cache.get("/missing", 1.0) is None
    assert cache.freshest(5.0, now=101.2).topic == "/b"
    assert cache.freshest(5.0, topics=["/a"], now=101.2).topic == "/a"
    assert cache.freshest(0.1, now=200.0) is None
    cache.put(Frame.from_array("/a", img, 9, 0, "cam_a2", received=102.0))
    assert cache.latest("/a").stamp_sec == 9
    assert sorted(cache.topics()) == ["/a", "/b"]


def test_frame_cache_pairs_a_stamped_command_with_the_frame_seen_then():
    """A spoken command stamped at the start of the utterance gets the frame current at that time, from a
    thinned, bounded history; without a fitting frame it falls back to the latest fresh one."""
    cache = FrameCache(history_s=5.0)
    img = np.zeros((2, 2, 3), np.uint8)
    for k in range(40):   # 10 Hz for 4 s: stamps 100.0 .. 103.9 s, received at the same monotonic times
        cache.put(Frame.from_array("/cam", img, stamp_sec=100 + k // 10, stamp_nanosec=(k % 10) * 100_000_000,
                                   received=1000.0 + k * 0.1))
    at = cache.at_stamp("/cam", 101, 550_000_000, max_age_s=1.0)
    assert (at.stamp_sec, at.stamp_nanosec) in ((101, 500_000_000), (101, 400_000_000))  # thinned to 0.25 s
    assert len(cache._history["/cam"]) <= 5.0 / 0.25 + 1
    assert cache.at_stamp("/cam", 99, 0, max_age_s=1.0) is None             # before every kept frame
    assert cache.at_stamp("/cam", 200, 0, max_age_s=1.0) is None            # no frame within max age
    assert cache.at_stamp("/cam", 0, 0, max_age_s=1.0) is None              # unstamped command
    assert cache.at_stamp("/other", 101, 0, max_age_s=1.0) is None


def test_frame_decodes_lazily_once():
    calls = []

    def loader():
        calls.append(1)
        return np.ones((8, 8, 3), np.uint8)

    frame = Frame.lazy("/c", loader, 1, 0, "c")
    assert not calls
    assert frame.image().shape == (8, 8, 3)
    frame.image()
    assert len(calls) == 1


def test_frame_cache_is_thread_safe():
    cache = FrameCache()
    img = np.zeros((8, 8, 3), np.uint8)

    def writer(topic):
        for i in range(2000):
            cache.put(Frame.from_array(topic, img, i, 0, topic))

    threads = [threading.Thread(target=writer, args=(f"/t{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for _ in range(2000):
        cache.freshest(10.0)
    for t in threads:
        t.join()
    assert all(cache.latest(f"/t{k}").stamp_sec == 1999 for k in range(4))


def test_queue_processes_in_order_and_survives_exceptions():
    done, errors = [], []

    def handle(item):
        if item == "boom":
            raise RuntimeError("bad request")
        done.append(item)

    q = RequestQueue(4, handle, on_error=lambda item, exc: errors.append((item, str(exc)))).start()
    for item in ["a", "boom", "b", "c"]:
        q.submit(item)
    assert q.wait_idle(5)
    assert done == ["a", "b", "c"]
    assert errors == [("boom", "bad request")]
    q.stop()


def test_queue_drops_oldest_pending_when_full():
    gate = threading.Event()
    started = threading.Event()
    done, dropped = [], []

    def handle(item):
        started.set()
        gate.wait(5)
        done.append(item)

    q = RequestQueue(2, handle, on_drop=lambda item, reason: dropped.append((item, reason))).start()
    q.submit(0)
    assert started.wait(5)      # 0 is in progress: does not count against the capacity
    assert q.submit(1) is None
    assert q.submit(2) is None
    assert q.depth == 2
    assert q.submit(3) == 1     # full: the OLDEST pending (1) is dropped, 3 accepted
    assert q.submit(4) == 2
    assert dropped == [(1, "queue full"), (2, "queue full")] and q.dropped == 2
    gate.set()
    assert q.wait_idle(5)
    assert done == [0, 3, 4]
    q.stop()


def test_queue_stop_drops_pending_and_does_not_hang():
    gate = threading.Event()
    dropped = []
    q = RequestQueue(8, lambda item: gate.wait(10), on_drop=lambda item, reason: dropped.append((item, reason)))
    q.start()
    for i in range(3):
        q.submit(i)
    time.sleep(0.05)  # let the worker take item 0 (not needed for correctness)
    start = time.monotonic()
    q.stop(timeout=0.2)  # the worker is stuck in a long "inference": stop returns anyway
    assert time.monotonic() - start < 2
    assert {r for _, r in dropped} == {"shutdown"} and len(dropped) >= 2
    assert q.submit(99) == 99  # after stop: refused
    gate.set()


def test_queue_rejects_zero_capacity():
    with pytest.raises(ValueError):
        RequestQueue(0, lambda item: None)


@pytest.mark.parametrize("text, expected", [
    ("turn on the light", "turn on the light"),
    ("  turn\ton\nthe   light \r\n", "turn on the light"),
    ("打开客厅的台灯", "打开客厅的台灯"),
])
def test_clean_command_accepts(text, expected):
    from octopus_ros.node.agent_node import clean_command

    assert clean_command(text, 2000) == (expected, "")


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    (" \t\n ", "empty"),
    ("x" * 2001, "too long"),
    ("turn on\x00 the light", "control character U+0000"),
    ("\x1b[31mstop", "control character U+001B"),
    ("go\x7f", "control character U+007F"),
    ("go\x85", "control character U+0085"),
    (None, "must be text"),
])
def test_clean_command_rejects(text, reason):
    from octopus_ros.node.agent_node import clean_command

    clean, problem = clean_command(text, 2000)
    assert clean == "" and reason in problem


def test_every_parameter_is_in_agent_yaml(repo_root):
    import yaml

    from octopus_ros.node.agent_node import NODE_NAME, PARAMETERS

    params = yaml.safe_load((repo_root / "config" / "agent.yaml").read_text())[NODE_NAME]["ros__parameters"]
    assert set(params) == {spec.name for spec in PARAMETERS}
    for spec in PARAMETERS:
        assert spec.description
        assert params[spec.name] == spec.default, spec.name
