"""Helpers for tests that talk to a real agent node over DDS: start the node executable as a subprocess
(the command line launch_ros would run) and a small rclpy client with no fixed sleeps."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
NODE_EXECUTABLE = REPO / "scripts" / "agent_node"
MODEL_READY_TIMEOUT = float(os.environ.get("OCTOPUS_TEST_MODEL_TIMEOUT", "300"))
ANSWER_TIMEOUT = 120.0
# AgentStatus.last_outcome values that end a request (status vocabulary; "pending" ends it for the status view).
TERMINAL_OUTCOMES = ("no_action", "invalid_output", "error", "dropped", "pending", "low_confidence", "policy")
# CommandOutcome codes that end a command (pending is followed by confirmed / rejected / expired).
TERMINAL_CODES = ("call", "no_action", "low_confidence", "policy", "queue_full", "error", "confirmed", "rejected",
                  "expired")
# Policy overlay for random models: without it every call of tiny-random (p ~ 0.03) is low_confidence.
RANDOM_MODEL_POLICY = "config/policy/random-model.yaml"


def topic_params(prefix: str) -> list[str]:
    """`-p name:=value` for every topic/service parameter of the node, under ``prefix``."""
    names = {"command_topic": "command", "command_msg_topic": "command_msg", "action_topic": "action",
             "status_topic": "status", "query_service": "query", "outcome_topic": "outcome",
             "pending_topic": "pending", "confirm_service": "confirm", "reload_service": "reload_model",
             "teach_service": "teach_object"}
    out = [arg for name, leaf in names.items() for arg in ("-p", f"{name}:={prefix}/{leaf}")]
    return out + ["-p", f"camera_topics:=[{prefix}/camera]"]


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

        from std_srvs.srv import Trigger

        from octopus_ros.msg import AgentStatus, Command, CommandOutcome, FunctionCall, PendingCall
        from octopus_ros.srv import Confirm, Query, TeachObject

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
        self.outcomes: list = []
        self.pending: list = []
        self.node.create_subscription(CommandOutcome, f"{prefix}/outcome", self.outcomes.append, reliable)
        self.node.create_subscription(PendingCall, f"{prefix}/pending", self.pending.append, reliable)
        self.confirm_client = self.node.create_client(Confirm, f"{prefix}/confirm")
        self.reload_client = self.node.create_client(Trigger, f"{prefix}/reload_model")
        self.teach_client = self.node.create_client(TeachObject, f"{prefix}/teach_object")
        self.Command, self.String, self.Query, self.Confirm, self.Trigger = Command, String, Query, Confirm, Trigger
        self.TeachObject = TeachObject

    # ---- waiting ------------------------------------------------------------------------------------
    def spin_until(self, cond: Callable[[], object], timeout: float) -> object:
        from octopus_ros.node.runtime import spin_until

        return spin_until(self.executor, cond, timeout, 0.05)

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

    def outcome(self, request_id: str, timeout: float = ANSWER_TIMEOUT, codes=TERMINAL_CODES):
        """The first CommandOutcome of ``request_id`` whose code is in ``codes``; AssertionError on timeout."""
        found = self.spin_until(lambda: next((o for o in self.outcomes
                                              if o.request_id == request_id and o.outcome in codes), None), timeout)
        assert found, f"no outcome in {codes} for request {request_id} within {timeout} s " \
                      f"(got: {[(o.outcome, o.reason) for o in self.outcomes if o.request_id == request_id]})"
        return found

    def outcomes_of(self, request_id: str) -> list[str]:
        return [o.outcome for o in self.outcomes if o.request_id == request_id]

    def call_service(self, client, request, timeout: float = 30.0):
        assert client.wait_for_service(timeout_sec=timeout), f"service {client.srv_name} did not appear"
        future = client.call_async(request)
        self.spin_until(future.done, timeout)
        assert future.done(), f"{client.srv_name} did not answer within {timeout} s"
        return future.result()

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


@contextlib.contextmanager
def isolated_node(log_dir: Path, name: str, domain_id: int, *params: str, expect_state: str | None = "ready",
                  stop_signal: int = signal.SIGTERM, model_timeout: float = MODEL_READY_TIMEOUT):
    """A node of its own (node name octopus_<name>, every topic under /<name>), started without the params
    file, and a RosClient for it: yields (NodeProcess, RosClient) once the client is connected and, unless
    ``expect_state`` is None, the model state is ``expect_state``. On exit the node gets ``stop_signal`` and
    must exit with code 0."""
    prefix = f"/{name}"
    proc = NodeProcess(log_dir / f"{name}.log", "-r", f"__node:=octopus_{name}", *topic_params(prefix), *params,
                       params_file=None)
    client = RosClient(domain_id, prefix=prefix, camera=f"{prefix}/camera")
    try:
        client.wait_connected(60)
        if expect_state is not None:
            state = client.wait_model_state(timeout=model_timeout)
            assert state == expect_state, f"model state {state!r}, expected {expect_state!r}:\n{proc.log()}"
        yield proc, client
    finally:
        client.close()
        code = proc.stop(stop_signal)
    assert code == 0, f"exit code {code} after signal {stop_signal}:\n{proc.log()}"
