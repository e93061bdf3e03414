"""End to end through ROS 2: command published -> FunctionCall (or status outcome) received.

The agent node runs as its own process, started the way launch_ros starts it
(`python -m octopus_ros.node.agent_node --ros-args --params-file config/agent.yaml -p model:=...`).
This process publishes a 30 Hz camera (sensor_msgs/Image, 640x480 rgb8, sensor-data QoS) the whole
time and, phase by phase, octopus_ros/Command messages at a fixed rate (1, 5, 10 per second). Every
command is paired by the node with the latest camera frame, as on a robot with a running camera.

Per request: the time from publish() to the FunctionCall on /octopus/action or, for requests that end
without a call, to their CommandOutcome on /octopus/outcome or the first /octopus/status whose
last_request_id names it with an outcome (no_action, low_confidence, error, dropped, ...), whichever
comes first. Queue depth and dropped_count come from every
AgentStatus (one per event, plus the periodic one).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CAMERA_TOPIC = "/camera/image_raw"


def ros_env(domain_id: int) -> dict[str, str]:
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")  # full-size raw frames over Fast DDS
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def die_with_parent() -> None:
    """preexec_fn for child processes: Linux sends them SIGTERM when the bench process dies, so an
    interrupted or killed benchmark leaves no node or worker behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: nothing to do
        pass


def choose_domain_id() -> int:
    explicit = os.environ.get("OCTOPUS_BENCH_ROS_DOMAIN_ID") or os.environ.get("ROS_DOMAIN_ID")
    return int(explicit) if explicit else 1 + os.getpid() % 100


class NodeUnderTest:
    """The agent node as a subprocess (output to a log file); stop() sends SIGTERM."""

    def __init__(self, model: str, log_path: Path, env: dict[str, str], threads: int, queue_size: int,
                 params_file: Path | None):
        cmd = [sys.executable, "-m", "octopus_ros.node.agent_node", "--ros-args"]
        if params_file is not None:
            cmd += ["--params-file", str(params_file)]
        cmd += ["-p", f"model:={model}", "-p", f"queue_size:={queue_size}", "-p", "frame_max_age_s:=1.0"]
        if threads:
            cmd += ["-p", f"threads:={threads}"]
        self.cmd = cmd
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=REPO, preexec_fn=die_with_parent)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 60.0) -> int:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


class LoadClient:
    """Camera + command publisher and action/status collector, all in one thread."""

    def __init__(self, domain_id: int, frame: np.ndarray):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from octopus_ros.images import rgb_to_image_msg
        from octopus_ros.msg import AgentStatus, Command, FunctionCall

        self.rclpy = rclpy
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f"octopus_bench_load_{uuid.uuid4().hex[:8]}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.Command = Command
        self.calls: dict[str, float] = {}
        self.call_info: dict[str, dict] = {}
        self.outcomes: dict[str, tuple[str, float]] = {}
        self.status_latency: dict[str, float] = {}  # model time of requests that ended without a call
        self.statuses: list[dict] = []
        self.model_state = ""
        self.t0 = time.monotonic()
        self.node.create_subscription(FunctionCall, "/octopus/action", self._on_call, reliable)
        self.node.create_subscription(
            AgentStatus, "/octopus/status", self._on_status,
            QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.command_outcomes: dict[str, tuple[str, float]] = {}
        try:  # one CommandOutcome per request, where the node publishes them (/octopus/outcome)
            from octopus_ros.msg import CommandOutcome

            self.node.create_subscription(CommandOutcome, "/octopus/outcome", self._on_outcome, reliable)
        except ImportError:
            pass
        self.command_pub = self.node.create_publisher(Command, "/octopus/command_msg", reliable)
        self.camera_pub = self.node.create_publisher(Image, CAMERA_TOPIC, qos_profile_sensor_data)
        self.frame_msg = rgb_to_image_msg(frame, frame_id="bench_camera")
        self.frames_sent = 0

    # ---- callbacks ----------------------------------------------------------------------------------
    def _on_call(self, msg) -> None:
        now = time.monotonic()
        if msg.request_id not in self.calls:
            self.calls[msg.request_id] = now
            self.call_info[msg.request_id] = {"function": msg.function_name, "inference_ms": msg.inference_ms,
                                              "has_image": bool(msg.has_image)}

    def _on_outcome(self, msg) -> None:
        now = time.monotonic()
        outcome = "dropped" if msg.outcome == "queue_full" else msg.outcome
        if msg.request_id and msg.request_id not in self.command_outcomes:
            self.command_outcomes[msg.request_id] = (outcome, now)

    def _on_status(self, msg) -> None:
        now = time.monotonic()
        self.model_state = msg.model_state
        self.statuses.append({"t": now - self.t0, "queue_depth": int(msg.queue_depth),
                              "dropped_count": int(msg.dropped_count), "outcome": msg.last_outcome,
                              "request_id": msg.last_request_id, "latency_ms": float(msg.last_latency_ms)})
        rid, outcome = msg.last_request_id, msg.last_outcome
        if rid and outcome and rid not in self.outcomes:
            self.outcomes[rid] = (outcome, now)
            if msg.last_latency_ms > 0 and outcome not in ("dropped", "queue_full"):
                self.status_latency[rid] = float(msg.last_latency_ms)

    # ---- helpers ------------------------------------------------------------------------------------
    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.02, max(0.0, end - time.monotonic())))

    def spin_until(self, cond, timeout: float, camera_hz: float = 0.0) -> bool:
        end = time.monotonic() + timeout
        next_frame = time.monotonic()
        while not cond():
            now = time.monotonic()
            if now >= end:
                return False
            if camera_hz and now >= next_frame:
                self.publish_frame()
                next_frame += 1.0 / camera_hz
            self.executor.spin_once(timeout_sec=0.005 if camera_hz else 0.05)
        return True

    def publish_frame(self) -> None:
        self.frame_msg.header.stamp = self.node.get_clock().now().to_msg()
        self.camera_pub.publish(self.frame_msg)
        self.frames_sent += 1

    def send(self, text: str, request_id: str) -> float:
        msg = self.Command(request_id=request_id, text=text)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        sent = time.monotonic()
        self.command_pub.publish(msg)
        return sent

    def answer(self, request_id: str) -> tuple[str, float] | None:
        """(outcome, receive time) of a request: 'call' with the FunctionCall's time, or the status outcome."""
        if request_id in self.calls:
            return "call", self.calls[request_id]
        found = [f for f in (self.command_outcomes.get(request_id), self.outcomes.get(request_id))
                 if f and f[0] not in ("ok", "call", "confirmed")]  # (a call is timed by its FunctionCall)
        return min(found, key=lambda f: f[1]) if found else None

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=0)
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)

    # ---- one load phase -----------------------------------------------------------------------------
    def run_phase(self, texts: list[str], rate_hz: float, duration_s: float, camera_hz: float,
                  drain_timeout_s: float) -> dict:
        count = max(1, int(round(rate_hz * duration_s)))
        prefix = f"bench-{rate_hz:g}hz-{uuid.uuid4().hex[:6]}"
        sent: dict[str, float] = {}
        order: list[str] = []
        status_start = len(self.statuses)
        dropped_before = self.statuses[-1]["dropped_count"] if self.statuses else 0
        frames_before = self.frames_sent
        start = time.monotonic()
        next_frame, next_cmd = start, start
        i = 0
        while i < count:
            now = time.monotonic()
            if now >= next_frame:
                self.publish_frame()
                next_frame += 1.0 / camera_hz
            if now >= next_cmd:
                rid = f"{prefix}-{i}"
                sent[rid] = self.send(texts[i % len(texts)], rid)
                order.append(rid)
                i += 1
                next_cmd = start + i / rate_hz
            wait = max(0.0, min(next_frame, next_cmd) - time.monotonic())
            self.executor.spin_once(timeout_sec=min(wait, 0.01))
        send_end = time.monotonic()
        done = self.spin_until(lambda: all(self.answer(r) for r in order), drain_timeout_s, camera_hz)
        end = time.monotonic()
        self.spin_for(0.3)  # the status that follows the last answer
        requests = []
        for rid in order:
            ans = self.answer(rid)
            info = self.call_info.get(rid, {})
            requests.append({"request_id": rid, "sent_s": sent[rid] - start,
                             "outcome": ans[0] if ans else "no_answer",
                             "latency_ms": (ans[1] - sent[rid]) * 1000 if ans else None,
                             "inference_ms": info.get("inference_ms", self.status_latency.get(rid)),
                             "has_image": info.get("has_image")})
        statuses = self.statuses[status_start:]
        dropped_after = self.statuses[-1]["dropped_count"] if self.statuses else dropped_before
        series = [{"t": s["t"] - (start - self.t0), "queue_depth": s["queue_depth"],
                   "dropped_count": s["dropped_count"] - dropped_before} for s in statuses]
        return {"rate_hz": rate_hz, "camera_hz": camera_hz, "duration_s": duration_s, "commands": count,
                "send_window_s": send_end - start, "elapsed_s": end - start, "all_answered": bool(done),
                "frames_published": self.frames_sent - frames_before,
                "dropped_count_delta": dropped_after - dropped_before,
                "requests": requests, "queue_series": series}


class E2ESession:
    """The node process and the load client. `start()` launches the node (it loads its model in the
    background, so other work can run meanwhile); `run()` waits until it is ready and runs the phases."""

    def __init__(self, model: str, log_path: Path, *, threads: int = 0, queue_size: int = 8,
                 params_file: Path | None = None):
        self.model, self.log_path, self.threads, self.queue_size = model, log_path, threads, queue_size
        if params_file is None:
            candidate = REPO / "config" / "agent.yaml"
            params_file = candidate if candidate.is_file() else None
        self.params_file = params_file
        self.domain_id = choose_domain_id()
        self.env = ros_env(self.domain_id)
        self.node: NodeUnderTest | None = None
        self.started = 0.0

    def start(self) -> "E2ESession":
        self.started = time.monotonic()
        self.node = NodeUnderTest(self.model, self.log_path, self.env, self.threads, self.queue_size,
                                  self.params_file)
        return self

    def run(self, texts: list[str], frame: np.ndarray, *, rates=(1.0, 5.0, 10.0), duration_s: float = 15.0,
            camera_hz: float = 30.0, ready_timeout_s: float = 300.0, drain_timeout_s: float = 120.0,
            warmup: int = 2, progress=print) -> dict:
        if self.node is None:
            self.start()
        node = self.node
        for key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS"):
            os.environ[key] = self.env[key]
        client = None
        result: dict = {"model": self.model, "domain_id": self.domain_id, "queue_size": self.queue_size,
                        "camera_hz": camera_hz, "frame": f"{frame.shape[1]}x{frame.shape[0]} rgb8", "phases": []}
        try:
            client = LoadClient(self.domain_id, frame)
            ok = client.spin_until(lambda: client.model_state in ("ready", "error") or not node.alive(),
                                   ready_timeout_s)
            result["node_ready_s"] = time.monotonic() - self.started
            if not ok or client.model_state != "ready":
                raise RuntimeError(f"the agent node did not become ready (state {client.model_state!r}, "
                                   f"alive {node.alive()}):\n{node.log_tail()}")
            client.spin_until(lambda: client.command_pub.get_subscription_count() > 0
                              and client.camera_pub.get_subscription_count() > 0, 30.0)
            for k in range(warmup):  # first inferences are slower (allocations, caches)
                rid = f"bench-warmup-{k}-{uuid.uuid4().hex[:6]}"
                client.publish_frame()
                client.spin_for(0.05)
                client.send(texts[k % len(texts)], rid)
                client.spin_until(lambda: client.answer(rid) is not None, drain_timeout_s, camera_hz)
            for rate in rates:
                progress(f"e2e: {rate:g} commands/s for {duration_s:g} s with a {camera_hz:g} Hz camera")
                phase = client.run_phase(texts, rate, duration_s, camera_hz, drain_timeout_s)
                result["phases"].append(phase)
                client.spin_for(1.0)
        finally:
            if client is not None:
                client.close()
            result["node_exit_code"] = self.stop()
        return result

    def stop(self) -> int | None:
        return self.node.stop() if self.node is not None else None


def run_e2e(model: str, texts: list[str], frame: np.ndarray, log_path: Path, *, threads: int = 0,
            queue_size: int = 8, params_file: Path | None = None, **kwargs) -> dict:
    """Start the node, wait until it is ready, run the load phases, stop it."""
    session = E2ESession(model, log_path, threads=threads, queue_size=queue_size, params_file=params_file)
    return session.run(texts, frame, **kwargs)
