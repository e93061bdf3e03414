"""Helpers for tests that talk to a real agent node over DDS: start the node executable as a subprocess
(the command line launch_ros would run) and a small rclpy client with no fixed sleeps."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
NODE_EXECUTABLE = REPO / "scripts" / "agent_node"
MODEL_READY_TIMEOUT = float(os.environ.get("OCTOPUS_TEST_MODEL_TIMEOUT", "300"))
ANSWER_TIMEOUT = 120.0
TERMINAL_OUTCOMES = ("no_action", "invalid_output", "error", "dropped")


def ros_subprocess_env() -> dict[str, str]:
    env = dict(os.environ)  # ROS_DOMAIN_ID / ROS_AUTOMATIC_DISCOVERY_RANGE come from conftest.py
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "0")
    return env


class NodeProcess:
    """`agent_node --ros-args --params-file config/agent.yaml -p ...` as a subprocess, output to a log file."""

    def __init__(self, log_path: Path, *ros_args: str, params_file: Path | None = REPO / "config" / "agent.yaml"):
        cmd = [sys.executable, str(NODE_EXECUTABLE), "--ros-args"]
        if params_file is not None:
            cmd += ["--params-file", str(params_file)]
        cmd += list(ros_args)
        self.cmd = cmd
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=ros_subprocess_env(), cwd=REPO)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig``; return the exit code (raises if the node does not exit within ``timeout``)."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"the node did not exit within {timeout} s of signal {sig}:\n{self.log()}")
        self._log.close()
        return self.proc.returncode


class RosClient:
    """Publishes commands / frames and collects FunctionCalls and AgentStatus messages of one node."""

    def __init__(self, domain_id: int, prefix: str = "/octopus", camera: str = "/camera/image_raw",
                 extra_cameras: tuple[str, ...] = (), compressed_camera: str | None = None):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image
        from std_msgs.msg import String

        from octopus_ros.msg import AgentStatus, Command, FunctionCall
        from octopus_ros.srv import Query

        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f"octopus_test_client_{uuid.uuid4().hex[:8]}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.actions: list = []
        self.statuses: list = []
        self.node.create_subscription(FunctionCall, f"{prefix}/action", self.actions.append, reliable)
        self.node.create_subscription(
            AgentStatus, f"{prefix}/status", self.statuses.append,
            QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.command_pub = self.node.create_publisher(Command, f"{prefix}/command_msg", reliable)
        self.string_pub = self.node.create_publisher(String, f"{prefix}/command", reliable)
        self.image_pubs = {t: self.node.create_publisher(Image, t, QoSProfile(depth=10)) for t in (camera, *extra_cameras)}
        self.camera = camera
        self.compressed_pub = (self.node.create_publisher(CompressedImage, compressed_camera, QoSProfile(depth=10))
                               if compressed_camera else None)
        self.query = self.node.create_client(Query, f"{prefix}/query")
        self.Command, self.String, self.Query = Command, String, Query

    # ---- waiting ------------------------------------------------------------------------------------
    def spin_until(self, cond: Callable[[], object], timeout: float) -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = cond()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                return value
            self.executor.spin_once(timeout_sec=min(0.05, left))

    def wait_connected(self, timeout: float = 30.0) -> None:
        pubs = [self.command_pub, self.string_pub, *self.image_pubs.values()]
        if self.compressed_pub is not None:
            pubs.append(self.compressed_pub)
        ok = self.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs), timeout)
        assert ok, "the node's subscriptions were not matched: " + ", ".join(
            f"{p.topic_name}={p.get_subscription_count()}" for p in pubs)
        assert self.query.wait_for_service(timeout_sec=timeout), "the Query service did not appear"

    def wait_model_state(self, states=("ready", "error"), timeout: float = MODEL_READY_TIMEOUT) -> str:
        found = self.spin_until(lambda: next((s.model_state for s in reversed(self.statuses)
                                              if s.model_state in states), None), timeout)
        assert found, f"model not {states} after {timeout} s (statuses: {[s.message for s in self.statuses[-5:]]})"
        return found

    # ---- sending ------------------------------------------------------------------------------------
    def send(self, text: str, request_id: str | None = None, camera: str = "", language: str = "") -> str:
        request_id = request_id or f"test-{uuid.uuid4().hex[:10]}"
        msg = self.Command(request_id=request_id, text=text, language=language, camera=camera)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.command_pub.publish(msg)
        return request_id

    def publish_image(self, msg, topic: str | None = None) -> None:
        self.image_pubs[topic or self.camera].publish(msg)

    def result(self, request_id: str, timeout: float = ANSWER_TIMEOUT):
        """("call", FunctionCall) or (outcome, AgentStatus) for a request; AssertionError on timeout."""
        def find():
            for call in self.actions:
                if call.request_id == request_id:
                    return ("call", call)
            for status in self.statuses:
                if status.last_request_id == request_id and status.last_outcome in TERMINAL_OUTCOMES:
                    return (status.last_outcome, status)
            return None

        found = self.spin_until(find, timeout)
        assert found, f"no answer for request {request_id} within {timeout} s"
        return found

    def status_matching(self, predicate: Callable, timeout: float = 10.0):
        return self.spin_until(lambda: next((s for s in self.statuses if predicate(s)), None), timeout)

    def call_query(self, request, timeout: float = ANSWER_TIMEOUT):
        future = self.query.call_async(request)
        self.spin_until(future.done, timeout)
        assert future.done(), f"Query did not answer within {timeout} s"
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=0)
        self.node.destroy_node()
        import rclpy

        rclpy.try_shutdown(context=self.context)
