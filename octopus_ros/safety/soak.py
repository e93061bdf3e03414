"""Soak run: a real agent node (subprocess) under a stream of commands and a camera, with accounting.

`octopus-ros soak --commands 10000` (and the shortened CI test, test/test_soak.py) start the node exactly
as launch_ros would (``python -m octopus_ros.node.agent_node --ros-args ...``, on topics of their own),
publish camera frames at ``camera_hz`` and commands at ``rate_hz`` (a mix of the registry's example
commands, stop phrases, shopping orders and malformed commands), confirm / reject / ignore each pending
call at random, and check from the outside that:

- every request_id got exactly one terminal outcome (pending is not terminal; it must be followed by
  exactly one of confirmed / rejected / expired), and no outcome arrived for an unknown request_id;
- every FunctionCall on the action topic belongs to a request whose outcome was call or confirmed (so a
  call that needs a confirmation never reached the action topic without one).

The node's resident memory (VmRSS from /proc) is sampled once a second; growth is measured from the end
of a warm-up (the first ``warmup_fraction`` of the commands) to the end.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

TERMINAL = ("call", "no_action", "low_confidence", "policy", "queue_full", "error", "confirmed", "rejected", "expired")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class SoakReport:
    commands: int = 0
    duration_s: float = 0.0
    frames_published: int = 0
    outcomes: Counter = field(default_factory=Counter)       # terminal outcome code -> count
    pending_seen: int = 0
    missing: list = field(default_factory=list)             # request_ids without a terminal outcome
    duplicates: list = field(default_factory=list)          # request_ids with more than one terminal outcome
    unknown: list = field(default_factory=list)             # outcomes for request_ids never sent
    unconfirmed_actions: list = field(default_factory=list)  # FunctionCalls without a call/confirmed outcome
    actions: int = 0
    rss_ready_kib: int = 0
    rss_warm_kib: int = 0
    rss_end_kib: int = 0
    rss_peak_kib: int = 0
    node_exit_code: int | None = None
    node_received: int | None = None   # commands the node's callbacks saw (from its shutdown line)
    node_outcomes: dict = field(default_factory=dict)  # outcomes the node published, by code

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates or self.unknown or self.unconfirmed_actions) \
            and sum(self.outcomes.values()) == self.commands

    @property
    def growth_kib(self) -> int:
        return self.rss_end_kib - self.rss_warm_kib

    def lines(self) -> list[str]:
        per_k = self.growth_kib / max(1, self.commands * 0.8) * 1000  # growth over the post-warm-up commands
        return [
            f"commands sent: {self.commands} in {self.duration_s:.1f} s; camera frames published: {self.frames_published}",
            "terminal outcomes: " + ", ".join(f"{k}={self.outcomes.get(k, 0)}" for k in TERMINAL)
            + f" (total {sum(self.outcomes.values())}); pending seen: {self.pending_seen}",
            f"FunctionCalls on the action topic: {self.actions}; without a call/confirmed outcome: "
            f"{len(self.unconfirmed_actions)}",
            f"missing outcomes: {len(self.missing)}; duplicate outcomes: {len(self.duplicates)}; "
            f"unknown request ids: {len(self.unknown)}",
            f"node RSS: {self.rss_ready_kib / 1024:.1f} MiB after load, {self.rss_warm_kib / 1024:.1f} MiB after "
            f"warm-up, {self.rss_end_kib / 1024:.1f} MiB at the end (peak {self.rss_peak_kib / 1024:.1f} MiB); "
            f"growth after warm-up {self.growth_kib / 1024:+.1f} MiB ({per_k:+.0f} KiB per 1000 commands)",
            f"node side: {self.node_received} commands received (the rest were lost in DDS before the node), "
            f"outcomes published {sum(v for k, v in self.node_outcomes.items() if k != 'pending')} "
            f"+ {self.node_outcomes.get('pending', 0)} pending",
            f"node exit code after SIGINT: {self.node_exit_code}",
            "RESULT: " + ("OK" if self.ok else "FAILED"),
        ]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def command_mix(registry, rng: random.Random, n: int) -> list[str]:
    examples = [e["text"] for f in registry.functions for e in f.examples]
    shopping = ["order 50 of these on Amazon", "buy 100 phone chargers on Amazon", "在亚马逊买五十个这个",
                "get 40 cartons of oat milk from Instacart", "order ramen for everyone on DoorDash"]
    stops = ["stop", "STOP!", "停下", "halt"]
    bad = ["", "   ", "go\x01 forward", "x" * 3000]
    out = []
    for _ in range(n):
        roll = rng.random()
        pool = stops if roll < 0.04 else bad if roll < 0.06 else shopping if roll < 0.25 else examples
        out.append(rng.choice(pool))
    return out


def run_soak(commands: int = 300, rate_hz: float = 20.0, camera_hz: float = 30.0, image_size=(240, 320),
             model: str = "tiny-random", policy_file: str = "config/policy/random-model.yaml",
             confirmation_timeout_s: float = 2.0, seed: int = 0, warmup_fraction: float = 0.2,
             model_timeout_s: float = 600.0, log_path: Path | None = None, progress=None) -> SoakReport:
    import numpy as np
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from octopus_ros.actions import ActionRegistry
    from octopus_ros.images import rgb_to_image_msg
    from octopus_ros.msg import AgentStatus, Command, CommandOutcome, FunctionCall, PendingCall
    from octopus_ros.node.runtime import ros_client
    from octopus_ros.node.safety_state import registry_for
    from octopus_ros.srv import Confirm

    say = progress or (lambda text: None)
    rng = random.Random(seed)
    prefix = f"/soak_{uuid.uuid4().hex[:6]}"
    topics = {"command_topic": f"{prefix}/command", "command_msg_topic": f"{prefix}/command_msg",
              "action_topic": f"{prefix}/action", "status_topic": f"{prefix}/status",
              "query_service": f"{prefix}/query", "outcome_topic": f"{prefix}/outcome",
              "pending_topic": f"{prefix}/pending", "confirm_service": f"{prefix}/confirm",
              "reload_service": f"{prefix}/reload_model", "teach_service": f"{prefix}/teach_object"}
    camera = f"{prefix}/camera"
    args = [sys.executable, "-m", "octopus_ros.node.agent_node", "--ros-args", "-r", "__node:=octopus_soak",
            "-p", f"model:={model}", "-p", f"policy_file:={policy_file}", "-p", f"camera_topics:=[{camera}]",
            "-p", f"confirmation_timeout_s:={confirmation_timeout_s}", "-p", "status_period_s:=1.0"]
    for name, value in topics.items():
        args += ["-p", f"{name}:={value}"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    if log_path is None:
        import tempfile
        log_path = Path(tempfile.mkstemp(prefix="octopus-soak-", suffix=".log")[1])
    log = open(log_path, "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=REPO)

    report = SoakReport()
    sent: list[str] = []
    terminal: dict[str, list[str]] = defaultdict(list)
    call_ok: set[str] = set()
    actions: list[str] = []
    state = {"model": ""}
    try:
        with ros_client("octopus_soak_client") as (node, executor):
            # KEEP_ALL on this side too: with KEEP_LAST a writer overwrites samples its reader has not acknowledged
            # yet (a node starved of CPU), and a reader overwrites samples this client has not taken yet; either
            # would be a loss in DDS that the node never sees (the 10,000-command run on a starved machine lost
            # 1,406 commands that way).
            reliable = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_ALL)
            cmd_pub = node.create_publisher(Command, topics["command_msg_topic"], reliable)
            cam_pub = node.create_publisher(Image, camera, qos_profile_sensor_data)
            confirm = node.create_client(Confirm, topics["confirm_service"])

            def on_outcome(msg):
                if msg.outcome == CommandOutcome.PENDING:
                    report.pending_seen += 1
                    choice = rng.random()
                    if choice < 2 / 3:  # confirm or reject; the rest is left to expire
                        confirm.call_async(Confirm.Request(confirmation_id=msg.confirmation_id, accept=choice < 1 / 3))
                    return
                terminal[msg.request_id].append(msg.outcome)
                if msg.outcome in ("call", "confirmed"):
                    call_ok.add(msg.request_id)

            node.create_subscription(CommandOutcome, topics["outcome_topic"], on_outcome, reliable)
            node.create_subscription(FunctionCall, topics["action_topic"], lambda m: actions.append(m.request_id),
                                     reliable)
            node.create_subscription(PendingCall, topics["pending_topic"], lambda m: None, reliable)
            status_sub = node.create_subscription(AgentStatus, topics["status_topic"],
                                                  lambda m: state.__setitem__("model", m.model_state), reliable)

            def spin_for(seconds: float, until=None) -> bool:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    if until is not None and until():
                        return True
                    if proc.poll() is not None:
                        raise RuntimeError(f"the node exited with code {proc.returncode}")
                    executor.spin_once(timeout_sec=min(0.02, max(0.0, end - time.monotonic())))
                return until is not None and bool(until())

            say(f"starting the node (model {model}) on {prefix}/...")
            if not spin_for(model_timeout_s, lambda: state["model"] in ("ready", "error")
                            and cmd_pub.get_subscription_count() > 0 and confirm.service_is_ready()):
                raise RuntimeError(f"the node did not become ready within {model_timeout_s} s")
            if state["model"] != "ready":
                raise RuntimeError("the node's model failed to load")
            report.rss_ready_kib = rss_kib(proc.pid)
            node.destroy_subscription(status_sub)  # one status per request: not needed, and it costs the client CPU
            registry = (registry_for(model, "") if not Path(model).is_dir()
                        else ActionRegistry.from_yaml(Path(model) / "functions.yaml"))
            texts = command_mix(registry, rng, commands)
            frames = [rgb_to_image_msg(np.random.default_rng(i).integers(0, 256, (*image_size, 3), dtype=np.uint8),
                                       "rgb8", frame_id=f"soak_cam_{i}") for i in range(4)]
            say(f"model ready; RSS {report.rss_ready_kib / 1024:.1f} MiB; sending {commands} commands at {rate_hz:g}/s "
                f"with a {camera_hz:g} Hz {image_size[1]}x{image_size[0]} camera")
            start = time.monotonic()
            next_cmd, next_frame, next_sample = start, start, start
            warm_at = max(1, int(commands * warmup_fraction))
            while len(sent) < commands:
                now = time.monotonic()
                if now >= next_frame:
                    msg = frames[report.frames_published % len(frames)]
                    msg.header.stamp = node.get_clock().now().to_msg()
                    cam_pub.publish(msg)
                    report.frames_published += 1
                    next_frame += 1.0 / camera_hz
                if now >= next_cmd:
                    rid = f"soak-{len(sent)}"
                    cmd = Command(request_id=rid, text=texts[len(sent)])
                    cmd.header.stamp = node.get_clock().now().to_msg()
                    cmd_pub.publish(cmd)
                    sent.append(rid)
                    next_cmd += 1.0 / rate_hz
                    if len(sent) == warm_at:
                        report.rss_warm_kib = rss_kib(proc.pid)
                    if len(sent) % max(1, commands // 10) == 0:
                        say(f"  {len(sent)}/{commands} sent, {sum(len(v) > 0 for v in terminal.values())} answered, "
                            f"RSS {rss_kib(proc.pid) / 1024:.1f} MiB")
                if now >= next_sample:
                    report.rss_peak_kib = max(report.rss_peak_kib, rss_kib(proc.pid))
                    next_sample += 1.0
                executor.spin_once(timeout_sec=max(0.0, min(next_cmd, next_frame) - time.monotonic()))
            # Let the queue empty and pending calls be decided or expire.
            spin_for(confirmation_timeout_s + 60.0, lambda: all(rid in terminal for rid in sent))
            spin_for(confirmation_timeout_s + 1.0)  # a late duplicate would show up here
            report.duration_s = time.monotonic() - start
            report.rss_end_kib = rss_kib(proc.pid)
            report.rss_peak_kib = max(report.rss_peak_kib, report.rss_end_kib)
    finally:
        if proc.poll() is None:
            proc.send_signal(2)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        report.node_exit_code = proc.returncode
        log.close()
        import json
        import re
        found = re.search(r"commands received: (\d+); outcomes: (\{.*\})", Path(log_path).read_text(errors="replace"))
        if found:
            report.node_received, report.node_outcomes = int(found.group(1)), json.loads(found.group(2))
    sent_set = set(sent)
    report.commands = len(sent)
    report.actions = len(actions)
    for rid, codes in terminal.items():
        if rid not in sent_set:
            report.unknown.append(rid)
            continue
        report.outcomes[codes[0]] += 1
        if len(codes) > 1:
            report.duplicates.append((rid, codes))
    report.missing = [rid for rid in sent if rid not in terminal]
    report.unconfirmed_actions = [rid for rid in actions if rid not in call_ok]
    return report
