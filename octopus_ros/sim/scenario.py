"""Scenario files (scenarios/*.yaml) and the closed-loop runner behind `octopus-ros scenario`.

A scenario:

    name: fetch_the_mug
    description: ...
    world: home                      # layout (config/sim/<world>.yaml or a path)
    needs_trained_model: false       # default for its command steps
    steps:
      - call: {function: navigate_to, arguments: {location: kitchen}}   # injected FunctionCall (no model)
        expect: [robot in kitchen]
      - command: "pick up the red mug"                                  # sent to the agent node
        needs_trained_model: true
        expect_call: {function: pick_up}                                 # optional
        expect: [red mug held]
      - call: {function: speak, arguments: {text: hi}}
        expect_success: false        # the ExecutionResult (default true; null = either)

`call:` steps publish an octopus_ros/FunctionCall on /octopus/action exactly as the agent would (validated
against config/functions.yaml), so the sim + controller loop is tested without any model. `command:` steps
publish an octopus_ros/Command to the agent node, wait for its FunctionCall (or its no-action outcome), then
for the controller's ExecutionResult. Steps that need language understanding are skipped, with the reason,
unless the model is a trained checkpoint (models/default/octopus.json for the `default` profile).
After each step the runner waits for the WorldState published with (or after) the ExecutionResult and checks
the `expect:` predicates (octopus_ros/sim/predicates.py) on it.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import predicates
from .layout import Layout, LayoutError, load_layout

__all__ = ["ScenarioError", "Step", "Scenario", "StepResult", "ScenarioResult", "load_scenario",
           "model_trained", "ScenarioClient", "run_scenario"]

TERMINAL_STATUS = ("no_action", "invalid_output", "error", "dropped")
NO_CALL_OUTCOMES = ("no_action", "low_confidence", "policy", "queue_full", "error", "rejected", "expired", "pending")


class ScenarioError(ValueError):
    """A scenario file is invalid; the message says where."""


@dataclass
class Step:
    index: int
    kind: str                        # "call" | "command"
    call: dict | None                # {function, arguments}
    command: str
    language: str
    needs_trained_model: bool
    expect: list[str]
    expect_call: dict | None
    expect_success: bool | None
    timeout_s: float

    def describe(self) -> str:
        if self.kind == "call":
            args = ", ".join(f"{k}={v!r}" for k, v in (self.call.get("arguments") or {}).items())
            return f"call {self.call['function']}({args})"
        return f"command {self.command!r}"


@dataclass
class Scenario:
    name: str
    description: str
    world: str
    steps: list[Step]
    source: Path | None = None

    @property
    def needs_agent(self) -> bool:
        return any(s.kind == "command" for s in self.steps)


@dataclass
class StepResult:
    step: Step
    status: str                      # PASS | FAIL | SKIP
    detail: str
    seconds: float = 0.0


@dataclass
class ScenarioResult:
    scenario: Scenario
    steps: list[StepResult] = field(default_factory=list)
    error: str = ""

    @property
    def status(self) -> str:
        if self.error or any(s.status == "FAIL" for s in self.steps):
            return "FAIL"
        if self.steps and all(s.status == "SKIP" for s in self.steps):
            return "SKIP"
        return "PASS"


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"]:
        raise ScenarioError(f"{path}: a scenario is a mapping with a non-empty `steps:` list")
    default_trained = bool(raw.get("needs_trained_model", False))
    steps = []
    for i, s in enumerate(raw["steps"], 1):
        where = f"{path}: step {i}"
        if not isinstance(s, dict) or ("call" in s) == ("command" in s):
            raise ScenarioError(f"{where}: needs exactly one of `call:` or `command:`")
        call = None
        if "call" in s:
            call = s["call"]
            if not isinstance(call, dict) or not isinstance(call.get("function"), str):
                raise ScenarioError(f"{where}: `call:` is {{function: name, arguments: {{...}}}}")
            call = {"function": call["function"], "arguments": dict(call.get("arguments") or {})}
        expect = s.get("expect") or []
        if isinstance(expect, str):
            expect = [expect]
        expect_call = s.get("expect_call")
        if isinstance(expect_call, str):
            expect_call = {"function": expect_call}
        steps.append(Step(
            index=i, kind="call" if call else "command", call=call, command=str(s.get("command") or ""),
            language=str(s.get("language") or ""),
            needs_trained_model=bool(s.get("needs_trained_model", default_trained)) if not call else False,
            expect=[str(e) for e in expect], expect_call=expect_call,
            expect_success=s.get("expect_success", True), timeout_s=float(s.get("timeout_s", 60.0))))
    return Scenario(name=str(raw.get("name") or path.stem), description=str(raw.get("description") or ""),
                    world=str(raw.get("world") or "home"), steps=steps, source=path)


def model_trained(model: str) -> tuple[bool, str]:
    """Is `model` (profile name, profile YAML or checkpoint folder) a trained checkpoint? (no torch import)"""
    from ..actions import loader

    path = Path(model)
    if path.is_dir():
        ok = (path / "octopus.json").is_file()
        return ok, "" if ok else f"{path} is not a checkpoint (no octopus.json)"
    profile = path if path.suffix in (".yaml", ".yml") and path.is_file() else None
    if profile is None:
        for d in loader.config_dirs():
            if (d / "model" / f"{model}.yaml").is_file():
                profile = d / "model" / f"{model}.yaml"
                break
    if profile is None:
        return False, f"model {model!r} not found"
    raw = yaml.safe_load(profile.read_text(encoding="utf-8")) or {}
    ckpt = raw.get("checkpoint")
    if not ckpt:
        return False, f"model profile {raw.get('name', model)!r} has no trained checkpoint (random/untrained weights)"
    ckpt_dir = (profile.parent / ckpt).resolve()
    if (ckpt_dir / "octopus.json").is_file():
        return True, ""
    return False, f"{ckpt_dir}/octopus.json is missing (the {raw.get('name', model)} model is not trained yet)"


class ScenarioClient:
    """The runner's rclpy node: injects FunctionCalls, sends Commands, collects FunctionCalls, outcomes,
    statuses, ExecutionResults and WorldStates."""

    def __init__(self, domain_id: int | None = None, action_topic: str = "/octopus/action",
                 command_topic: str = "/octopus/command_msg", status_topic: str = "/octopus/status",
                 outcome_topic: str = "/octopus/outcome", execution_topic: str = "/octopus/execution",
                 world_state_topic: str = "/sim/world_state", reset_service: str = "/sim/reset"):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from std_srvs.srv import Trigger

        from octopus_ros.msg import AgentStatus, Command, CommandOutcome, ExecutionResult, FunctionCall, WorldState

        self.context = rclpy.context.Context()
        kwargs = {"domain_id": domain_id} if domain_id is not None else {}
        rclpy.init(context=self.context, **kwargs)
        self.node = rclpy.create_node(f"octopus_scenario_{uuid.uuid4().hex[:8]}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.calls: list = []
        self.statuses: list = []
        self.outcomes: list = []
        self.results: list = []
        self.world_states: list = []
        self.call_pub = self.node.create_publisher(FunctionCall, action_topic, reliable)
        self.command_pub = self.node.create_publisher(Command, command_topic, reliable)
        self.node.create_subscription(FunctionCall, action_topic, self.calls.append, reliable)
        self.node.create_subscription(ExecutionResult, execution_topic, self.results.append, reliable)
        self.node.create_subscription(CommandOutcome, outcome_topic, self.outcomes.append, reliable)
        self.node.create_subscription(
            AgentStatus, status_topic, self.statuses.append,
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.node.create_subscription(
            WorldState, world_state_topic, self._on_world,
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.reset_client = self.node.create_client(Trigger, reset_service)
        self._FunctionCall, self._Command, self._Trigger = FunctionCall, Command, Trigger
        self._registry = None

    def _on_world(self, msg) -> None:
        self.world_states.append(msg)
        del self.world_states[:-20]

    # ---- waiting ------------------------------------------------------------------------------------
    def spin_until(self, cond, timeout: float):
        from octopus_ros.node.runtime import spin_until

        return spin_until(self.executor, cond, timeout, 0.05)

    def wait_sim(self, timeout: float = 30.0) -> str:
        """"" when the sim's action subscription, reset service and world state are up; else what is missing."""
        ok = self.spin_until(lambda: self.call_pub.get_subscription_count() > 0 and self.world_states
                             and self.reset_client.service_is_ready(), timeout)
        if ok:
            return ""
        return (f"sim not reachable after {timeout:.0f} s (action subscribers: "
                f"{self.call_pub.get_subscription_count()}, world states: {len(self.world_states)}, "
                f"reset service: {self.reset_client.service_is_ready()})")

    def wait_agent(self, timeout: float) -> str:
        ok = self.spin_until(lambda: self.command_pub.get_subscription_count() > 0, min(timeout, 60.0))
        if not ok:
            return "no agent node subscribes to the command topic"
        state = self.spin_until(lambda: next((s.model_state for s in reversed(self.statuses)
                                              if s.model_state in ("ready", "error")), None), timeout)
        if state == "ready":
            return ""
        last = self.statuses[-1].message if self.statuses else "no status"
        return f"agent model not ready after {timeout:.0f} s ({state or last})"

    def reset(self, timeout: float = 10.0) -> str:
        before = len(self.world_states)
        future = self.reset_client.call_async(self._Trigger.Request())
        self.spin_until(future.done, timeout)
        if not future.done() or not future.result().success:
            return "sim reset failed"
        self.spin_until(lambda: len(self.world_states) > before, timeout)
        return ""

    def world_after(self, stamp, timeout: float = 5.0):
        """The first WorldState stamped at or after ``stamp``."""
        def key(t):
            return (t.sec, t.nanosec)

        return self.spin_until(lambda: next((w for w in self.world_states if key(w.header.stamp) >= key(stamp)),
                                            None), timeout)

    # ---- sending ------------------------------------------------------------------------------------
    def registry(self):
        if self._registry is None:
            from ..actions import ActionRegistry
            from ..actions.registry import default_path

            self._registry = ActionRegistry.from_yaml(default_path())
        return self._registry

    def inject_call(self, function: str, arguments: dict, request_id: str):
        """Publish a FunctionCall as the agent would (arguments validated, defaults filled)."""
        from octopus_ros.msg import Argument

        registry = self.registry()
        parsed = registry.parse(registry.format_call(function, arguments))
        if not parsed.ok:
            raise ScenarioError(f"cannot build {function}{arguments}: {parsed.error}")
        pc = parsed.call
        msg = self._FunctionCall()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.request_id = request_id
        msg.function_name = pc.function.name
        msg.token_id = pc.function.index
        msg.arguments_json = pc.arguments_json
        msg.arguments = [Argument(name=n, type=t, value=v) for n, t, v in pc.typed_arguments]
        msg.confidence = 1.0
        msg.command_text = f"(scenario call {function})"
        msg.raw_output = registry.format_call(function, arguments)
        self.call_pub.publish(msg)
        return msg

    def send_command(self, text: str, request_id: str, language: str = "") -> None:
        msg = self._Command(request_id=request_id, text=text, language=language, camera="")
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.command_pub.publish(msg)

    def agent_answer(self, request_id: str, timeout: float):
        """("call", FunctionCall) or (outcome, reason) once the agent decided; None on timeout."""
        def find():
            for c in self.calls:
                if c.request_id == request_id:
                    return ("call", c)
            for o in self.outcomes:
                if o.request_id == request_id and o.outcome in NO_CALL_OUTCOMES:
                    return (o.outcome, o.reason)
            for s in self.statuses:
                if s.last_request_id == request_id and s.last_outcome in TERMINAL_STATUS:
                    return (s.last_outcome, s.message)
            return None
        return self.spin_until(find, timeout)

    def execution(self, request_id: str, timeout: float):
        return self.spin_until(lambda: next((r for r in self.results if r.request_id == request_id), None), timeout)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _check_call(expect: dict, call) -> str:
    """"" when the FunctionCall matches expect_call {function, arguments (subset, str compared loosely)}."""
    if expect.get("function") and call.function_name != expect["function"]:
        return f"expected {expect['function']}, the agent called {call.function_name} {call.arguments_json}"
    args = json.loads(call.arguments_json or "{}")
    for k, v in (expect.get("arguments") or {}).items():
        got = args.get(k)
        if isinstance(v, str) and isinstance(got, str):
            if v.strip().lower() not in got.strip().lower():
                return f"argument {k}={got!r}, expected {v!r}"
        elif got != v:
            return f"argument {k}={got!r}, expected {v!r}"
    return ""


def run_step(client: ScenarioClient, layout: Layout, scenario: Scenario, step: Step, trained: bool,
             trained_reason: str, agent_up: str) -> StepResult:
    t0 = time.monotonic()
    rid = f"scn-{scenario.name}-{step.index}-{uuid.uuid4().hex[:6]}"
    if step.kind == "command":
        if step.needs_trained_model and not trained:
            return StepResult(step, "SKIP", f"needs a trained model: {trained_reason}")
        if agent_up:
            return StepResult(step, "FAIL", f"agent node unavailable: {agent_up}")
        client.send_command(step.command, rid, step.language)
        answer = client.agent_answer(rid, step.timeout_s)
        if not answer:
            return StepResult(step, "FAIL", f"no decision from the agent within {step.timeout_s:.0f} s",
                              time.monotonic() - t0)
        kind, payload = answer
        if kind != "call":
            if step.expect_call and step.expect_call.get("function") in ("no_action", kind):
                return StepResult(step, "PASS", f"agent: {kind} ({payload})", time.monotonic() - t0)
            if not step.expect and not step.expect_call:
                return StepResult(step, "PASS", f"agent decided {kind} ({payload}); nothing expected",
                                  time.monotonic() - t0)
            return StepResult(step, "FAIL", f"agent decided {kind}: {payload}", time.monotonic() - t0)
        call = payload
        note = f"agent: {call.function_name} {call.arguments_json}"
        if step.expect_call:
            problem = _check_call(step.expect_call, call)
            if problem:
                return StepResult(step, "FAIL", f"{note}; {problem}", time.monotonic() - t0)
    else:
        try:
            client.inject_call(step.call["function"], step.call["arguments"], rid)
        except Exception as exc:  # noqa: BLE001 - ArgumentError etc.: a scenario file problem
            return StepResult(step, "FAIL", f"invalid call: {exc}")
        note = ""
    result = client.execution(rid, step.timeout_s)
    if result is None:
        return StepResult(step, "FAIL", f"{note + '; ' if note else ''}no ExecutionResult within "
                                        f"{step.timeout_s:.0f} s", time.monotonic() - t0)
    note = f"{note + '; ' if note else ''}{'ok' if result.success else 'failed'}: {result.message}"
    problems = []
    # A plumbing command step (any model) checks the loop, not what the model chose: its result may fail.
    plumbing = step.kind == "command" and not step.needs_trained_model
    if step.expect_success is not None and result.success != bool(step.expect_success) and not plumbing:
        problems.append(f"expected {'success' if step.expect_success else 'failure'}")
    world = client.world_after(result.header.stamp)
    if world is None and step.expect:
        problems.append("no WorldState after the result")
    elif step.expect:
        state = predicates.state_from_msg(world)
        for pred in step.expect:
            try:
                ok, seen = predicates.evaluate(pred, state, layout)
            except predicates.PredicateError as exc:
                problems.append(str(exc))
                continue
            if not ok:
                problems.append(f"expected '{pred}', observed {seen}")
    status = "FAIL" if problems else "PASS"
    return StepResult(step, status, note + ("; " + "; ".join(problems) if problems else ""), time.monotonic() - t0)


def run_scenario(client: ScenarioClient, scenario: Scenario, trained: bool, trained_reason: str,
                 agent_up: str = "", layout: Layout | None = None, printer=print) -> ScenarioResult:
    result = ScenarioResult(scenario)
    try:
        layout = layout or load_layout(scenario.world)
    except LayoutError as exc:
        result.error = str(exc)
        return result
    problem = client.reset()
    if problem:
        result.error = problem
        printer(f"[FAIL] {scenario.name}: {problem}")
        return result
    printer(f"scenario {scenario.name} (world {scenario.world}): {scenario.description}".rstrip(": "))
    for step in scenario.steps:
        r = run_step(client, layout, scenario, step, trained, trained_reason, agent_up)
        result.steps.append(r)
        printer(f"  [{r.status}] {step.index}. {step.describe()}: {r.detail} ({r.seconds:.2f} s)")
    printer(f"[{result.status}] {scenario.name}")
    return result


def state_from_snapshot(snap) -> dict[str, Any]:
    """A world.WorldSnapshot in the form predicates.evaluate() takes (the same as state_from_msg)."""
    return {"robot": {"x": snap.robot_x, "y": snap.robot_y, "yaw": snap.robot_yaw, "room": snap.robot_room},
            "held": snap.held_object,
            "objects": [{k: o[k] for k in ("name", "category", "room", "held", "position")} for o in snap.objects],
            "devices": [dict(d) for d in snap.devices]}


def run_offline(scenario: Scenario, printer=None) -> ScenarioResult:
    """Run a scenario's `call:` steps in-process (world + controller, no ROS, motion at once); `command:`
    steps are skipped. For checking scenario files and the controller quickly."""
    from ..actions import ActionRegistry
    from ..actions.registry import default_path
    from .controller import HomeController
    from .world import CameraConfig, HomeWorld

    registry = ActionRegistry.from_yaml(default_path())
    layout = load_layout(scenario.world)
    world = HomeWorld(layout, CameraConfig(width=96, height=72))
    controller = HomeController(world, 0.0, 0.0)
    result = ScenarioResult(scenario)
    try:
        for step in scenario.steps:
            if step.kind != "call":
                result.steps.append(StepResult(step, "SKIP", "command step (needs the agent node)"))
                continue
            try:
                args = registry.normalize_arguments(step.call["function"], step.call["arguments"])
            except Exception as exc:  # noqa: BLE001
                result.steps.append(StepResult(step, "FAIL", f"invalid call: {exc}"))
                continue
            outs = [e for e in controller.handle(f"offline-{step.index}", step.call["function"], args)
                    if e.request_id == f"offline-{step.index}"]
            problems = []
            if not outs:
                problems.append("no result")
            elif step.expect_success is not None and outs[0].success != bool(step.expect_success):
                problems.append(f"expected {'success' if step.expect_success else 'failure'}")
            state = state_from_snapshot(world.snapshot())
            for pred in step.expect:
                try:
                    ok, seen = predicates.evaluate(pred, state, layout)
                except predicates.PredicateError as exc:
                    problems.append(str(exc))
                    continue
                if not ok:
                    problems.append(f"expected '{pred}', observed {seen}")
            detail = (outs[0].message if outs else "") + ("; " + "; ".join(problems) if problems else "")
            result.steps.append(StepResult(step, "FAIL" if problems else "PASS", detail))
            if printer:
                printer(f"  [{result.steps[-1].status}] {step.index}. {step.describe()}: {detail}")
    finally:
        world.close()
    return result
