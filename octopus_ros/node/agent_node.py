"""The Octopus agent node: camera frames + text commands in, ``octopus_ros/FunctionCall`` out.

Run it with ``ros2 run octopus_ros agent_node``, ``ros2 launch octopus_ros agent.launch.py``,
``octopus-ros run`` or ``octopus-agent-node`` (all the same ``main()``), with ROS arguments, e.g.
``--ros-args --params-file config/agent.yaml -p model:=tiny-random``.

Topics (names are parameters; defaults shown):

- ``/camera/image_raw`` ``sensor_msgs/Image`` (``camera_topics``) and ``compressed_camera_topics``
  (``sensor_msgs/CompressedImage``): sensor-data QoS (best effort, keep last 5). The latest frame of
  each camera is kept; a frame is used only if it was received at most ``frame_max_age_s`` ago.
- ``/octopus/command`` ``std_msgs/String`` and ``/octopus/command_msg`` ``octopus_ros/Command``:
  reliable, depth 100 (a burst of commands reaches the request queue and its reported drop policy
  instead of being lost silently in DDS).
- ``/octopus/action`` ``octopus_ros/FunctionCall``: reliable, depth 10. Only real actions; a
  ``no_action`` decision publishes nothing here and says why on the status topic.
- ``/octopus/status`` ``octopus_ros/AgentStatus``: reliable, transient local, depth 100. One message
  per event (model loaded, request finished / rejected / dropped, bad camera frame) plus one every
  ``status_period_s``. Late subscribers get the recent history, so a client can check
  ``model_state`` at once.
- service ``/octopus/query`` ``octopus_ros/Query``: synchronous text (+ image) -> FunctionCall.

Threading: the model is loaded in a background thread (status says loading / ready / error; a failed
load leaves the node running and reporting the error). Inference runs in ONE worker thread behind a
bounded queue (``queue_size``; when full, the OLDEST pending request is dropped and reported, see
request_queue.py). Callbacks run in a MultiThreadedExecutor: cameras and commands share one mutually
exclusive group (so a frame published before a command is cached before that command is paired),
the periodic status timer has its own, and the Query service has its own, so a query can block
waiting for the worker (up to ``query_timeout_s``) while commands and frames keep flowing. Queries
go through the same queue as commands, so the model never runs twice at once. A query's result is
returned to the caller only, not published on the action topic (a query asks, a command acts).

Commands are validated before they reach the queue (see :func:`clean_command`): tabs, newlines and
runs of spaces are normalised to single spaces; any other control character (Unicode category Cc)
rejects the command, as do an empty command and one longer than ``max_command_chars`` (it is not
truncated: a cut command can mean something else). Every rejection, every exception in a callback
or in the worker, and every malformed camera frame is reported on the status topic; bad input
never stops the node.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from octopus_ros.images import ImageError, check_compressed_header, compressed_msg_to_rgb, image_msg_to_rgb
from octopus_ros.msg import AgentStatus, Argument, Command, FunctionCall
from octopus_ros.node.frame_cache import Frame, FrameCache
from octopus_ros.node.request_queue import RequestQueue
from octopus_ros.srv import Query

NODE_NAME = "octopus_agent"


# ---- parameters: every one declared here, with its default and description ------------------------
@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    type: Parameter.Type
    description: str


_P = Parameter.Type
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("model", "default", _P.STRING,
              "Model to load: a profile name in config/model/ (default, tiny-random, ...), a profile YAML "
              "path, or a trained checkpoint folder. Read at start-up."),
    ParamSpec("functions_file", "", _P.STRING,
              "Action registry YAML (functions.yaml). Empty = the checkpoint's own snapshot, or the "
              "package's config/functions.yaml for an untrained profile."),
    ParamSpec("camera_topics", ["/camera/image_raw"], _P.STRING_ARRAY,
              "sensor_msgs/Image topics to cache frames from (sensor-data QoS). The first one is the "
              "default camera for commands that do not name one."),
    ParamSpec("compressed_camera_topics", [], _P.STRING_ARRAY,
              "sensor_msgs/CompressedImage topics (JPEG/PNG) to cache frames from. Default camera when "
              "camera_topics is empty."),
    ParamSpec("command_topic", "/octopus/command", _P.STRING,
              "std_msgs/String command topic (text only; uses default_language and the default camera)."),
    ParamSpec("command_msg_topic", "/octopus/command_msg", _P.STRING,
              "octopus_ros/Command topic (request_id, text, language, camera)."),
    ParamSpec("action_topic", "/octopus/action", _P.STRING,
              "octopus_ros/FunctionCall output topic (reliable). no_action decisions are not published."),
    ParamSpec("status_topic", "/octopus/status", _P.STRING,
              "octopus_ros/AgentStatus topic: model state, queue, latency, errors (reliable, transient local)."),
    ParamSpec("query_service", "/octopus/query", _P.STRING, "octopus_ros/Query service name."),
    ParamSpec("frame_max_age_s", 1.0, _P.DOUBLE,
              "A camera frame is paired with a command only if it was received at most this many seconds "
              "before the command (0 = no limit). Older: the command runs without an image."),
    ParamSpec("queue_size", 8, _P.INTEGER,
              "Pending requests the worker queue holds; when full, the OLDEST pending request is dropped "
              "and reported on status."),
    ParamSpec("max_command_chars", 2000, _P.INTEGER,
              "Longer commands are rejected (not truncated) and reported on status."),
    ParamSpec("threads", 2, _P.INTEGER, "CPU threads for model inference (torch.set_num_threads)."),
    ParamSpec("status_period_s", 1.0, _P.DOUBLE, "Period of the status message in seconds (0 = only on events)."),
    ParamSpec("default_language", "", _P.STRING,
              "Language for commands that do not give one (std_msgs/String commands, empty Command.language): "
              "\"en\", \"zh\", or \"\" to detect it from the text."),
    ParamSpec("query_timeout_s", 60.0, _P.DOUBLE,
              "How long a Query call waits for its turn in the queue and the model before failing."),
)

_PARAM_NAMES = frozenset(spec.name for spec in PARAMETERS)

#: History depth of the command subscriptions (reliable).
COMMAND_QOS_DEPTH = 100

#: Executor threads: command/camera group, status timer, Query service, plus one spare.
EXECUTOR_THREADS = 4

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # Cc minus \t \n \r


def clean_command(text: Any, max_chars: int) -> tuple[str, str]:
    """Validate a command text. Returns (clean_text, "") or ("", reason).

    Tabs, newlines and carriage returns count as spaces and whitespace runs collapse to one space.
    Any other control character (U+0000-U+001F, U+007F-U+009F) rejects the command: commands are
    natural language, and a NUL / escape sequence is garbage or an injection attempt, not something
    to guess around. Empty and over-long commands (more than ``max_chars`` characters before
    normalisation) are rejected too; over-long ones are not truncated.
    """
    if not isinstance(text, str):
        return "", f"command must be text, got {type(text).__name__}"
    if max_chars > 0 and len(text) > max_chars:
        return "", f"command too long ({len(text)} characters, max {max_chars})"
    bad = _CONTROL.search(text)
    if bad:
        return "", (f"command contains control character U+{ord(bad.group()):04X} at index {bad.start()} "
                    "(only tab/newline are allowed)")
    clean = " ".join(text.split())
    if not clean:
        return "", "empty command"
    return clean, ""


def _snippet(text: Any, limit: int = 60) -> str:
    """A short, printable rendering of a command for status and log lines."""
    text = text if isinstance(text, str) else repr(text)
    short = text[:limit] + ("..." if len(text) > limit else "")
    return json.dumps(short, ensure_ascii=False)


def _image_note(req: "Request") -> str:
    """Which camera frame a request used, for status lines."""
    frame = req.frame
    if frame is None:
        return "no image"
    return (f"image {frame.topic or 'from the query'} frame_id {frame.frame_id!r} "
            f"stamp {frame.stamp_sec}.{frame.stamp_nanosec:09d}")


@dataclass
class _Reply:
    """Where a Query waits for its request to finish."""
    event: threading.Event = field(default_factory=threading.Event)
    response: Any = None  # Query.Response
    abandoned: bool = False


@dataclass
class Request:
    request_id: str
    text: str
    language: str
    frame: Frame | None  # the camera frame paired with the command (frame.topic = its topic; "" for a query's)
    source: str  # "command", "command_msg", "query"
    received: float = field(default_factory=time.monotonic)
    reply: _Reply | None = None


class AgentNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.params = self._declare_parameters()
        p = self.params
        self._agent = None
        self._model_state = "unloaded"
        self._model_error = ""
        self._load_started = time.monotonic()
        self._stats_lock = threading.Lock()
        self._last_latency_ms = 0.0
        self._last_error = ""
        self._last_request_id = ""
        self._last_outcome = ""
        self._ids = itertools.count(1)
        self._id_prefix = uuid.uuid4().hex[:6]
        self._closed = False
        self.frames = FrameCache()

        self.camera_topics = [t for t in p["camera_topics"] if t]
        self.compressed_topics = [t for t in p["compressed_camera_topics"] if t]
        all_cams = self.camera_topics + self.compressed_topics
        self.default_camera = all_cams[0] if all_cams else ""
        # Resolve names the way subscriptions do, so Command.camera may be given relative or absolute.
        self._camera_names = {self._resolve(t): t for t in all_cams}

        self.queue: RequestQueue[Request] = RequestQueue(
            max(1, int(p["queue_size"])), self._process, self._on_drop, self._on_worker_error)

        reliable10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        status_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST,
                                durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.action_pub = self.create_publisher(FunctionCall, p["action_topic"], reliable10)
        self.status_pub = self.create_publisher(AgentStatus, p["status_topic"], status_qos)

        # Cameras first, then commands, in ONE mutually exclusive group (the node's default group):
        # when a frame and a command are both waiting, the frame is taken (and cached) first.
        for topic in self.camera_topics:
            self.create_subscription(Image, topic, lambda m, t=topic: self._on_image(t, m), qos_profile_sensor_data)
        for topic in self.compressed_topics:
            self.create_subscription(CompressedImage, topic, lambda m, t=topic: self._on_compressed(t, m),
                                     qos_profile_sensor_data)
        # Commands: reliable, depth COMMAND_QOS_DEPTH (not 10): a burst of commands must reach the request
        # queue, whose drop policy is reported on status, instead of being lost silently in DDS.
        commands_qos = QoSProfile(depth=COMMAND_QOS_DEPTH, reliability=ReliabilityPolicy.RELIABLE,
                                  history=HistoryPolicy.KEEP_LAST)
        self.create_subscription(String, p["command_topic"], self._on_string, commands_qos)
        self.create_subscription(Command, p["command_msg_topic"], self._on_command, commands_qos)

        self.create_service(Query, p["query_service"], self._on_query,
                            callback_group=MutuallyExclusiveCallbackGroup())
        self._status_timer = None
        if p["status_period_s"] > 0:
            self._status_timer = self.create_timer(float(p["status_period_s"]), self._periodic_status,
                                                   callback_group=MutuallyExclusiveCallbackGroup())
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.queue.start()
        self._loader = threading.Thread(target=self._load_model, name="octopus-model-loader", daemon=True)
        self._loader.start()
        self.get_logger().info(
            f"octopus agent node up: model={p['model']!r}, cameras={all_cams}, commands on "
            f"{p['command_topic']} / {p['command_msg_topic']}, actions on {p['action_topic']}, "
            f"status on {p['status_topic']}, query service {p['query_service']}")

    # ---- parameters ------------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        values = {}
        for spec in PARAMETERS:
            descriptor = ParameterDescriptor(description=f"{spec.description} Default: {spec.default!r}.")
            if isinstance(spec.default, list) and not spec.default:
                # An empty list has no type for rclpy (and `[]` in a params file arrives unset):
                # declare the type only, and fall back to the empty default.
                self.declare_parameter(spec.name, spec.type, descriptor)
                param = self.get_parameter_or(spec.name, Parameter(spec.name, spec.type, []))
                values[spec.name] = list(param.value or [])
                continue
            value = self.declare_parameter(spec.name, spec.default, descriptor).value
            values[spec.name] = list(value) if isinstance(value, (list, tuple)) else value
        return values

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        # Our parameters are read at start-up; say so instead of silently ignoring a change. Others
        # (use_sim_time, ...) are rclpy's business.
        ours = [p.name for p in params if p.name in _PARAM_NAMES]
        if ours:
            return SetParametersResult(successful=False,
                                       reason=f"{', '.join(ours)}: read at start-up; restart the node to change")
        return SetParametersResult(successful=True)

    # ---- model -------------------------------------------------------------------------------------
    def _load_model(self) -> None:
        p = self.params
        self._model_state = "loading"
        self._load_started = time.monotonic()
        self.publish_status(AgentStatus.OK, f"loading model {p['model']!r}")
        try:
            from octopus_ros.model import OctopusAgent  # torch: imported here, off the main thread

            agent = OctopusAgent.load(p["model"], functions=p["functions_file"] or None,
                                      threads=int(p["threads"]) or None)
        except BaseException as exc:  # noqa: BLE001 - a failed load must not kill the node
            self._model_error = f"model load failed: {exc}"
            self._model_state = "error"
            self.get_logger().error(self._model_error)
            if not isinstance(exc, Exception):
                self.get_logger().error("".join(traceback.format_exception(exc)))
            with self._stats_lock:
                self._last_error = self._model_error
            self.publish_status(AgentStatus.ERROR, self._model_error)
            return
        self._agent = agent
        self._model_state = "ready"
        took = time.monotonic() - self._load_started
        try:
            info = json.dumps(agent.describe(), ensure_ascii=False)
        except Exception:  # noqa: BLE001 - description is cosmetic
            info = ""
        self.get_logger().info(f"model ready in {took:.1f} s {info}")
        self.publish_status(AgentStatus.OK, f"model ready ({took:.1f} s)")

    @property
    def model_state(self) -> str:
        return self._model_state

    # ---- status ------------------------------------------------------------------------------------
    def publish_status(self, level: int, message: str, request_id: str | None = None,
                       outcome: str | None = None, error: str | None = None,
                       latency_ms: float | None = None) -> None:
        """Publish one AgentStatus; the optional fields update the 'last_*' state first."""
        with self._stats_lock:
            if request_id is not None:
                self._last_request_id = request_id
            if outcome is not None:
                self._last_outcome = outcome
            if error:
                self._last_error = error
            if latency_ms is not None:
                self._last_latency_ms = float(latency_ms)
            msg = AgentStatus()
            msg.level = level
            msg.message = message
            msg.model_state = self._model_state
            msg.queue_depth = self.queue.depth
            msg.queue_capacity = self.queue.capacity
            msg.dropped_count = self.queue.dropped
            msg.last_latency_ms = self._last_latency_ms
            msg.last_error = self._last_error
            msg.last_request_id = self._last_request_id
            msg.last_outcome = self._last_outcome
        try:
            msg.header.stamp = self.get_clock().now().to_msg()
            self.status_pub.publish(msg)
        except Exception as exc:  # noqa: BLE001 - e.g. publishing during shutdown
            if not self._closed:
                self.get_logger().warning(f"cannot publish status: {exc}")

    def _periodic_status(self) -> None:
        try:
            state = self._model_state
            if state == "error":
                self.publish_status(AgentStatus.ERROR, self._model_error)
            elif state in ("loading", "unloaded"):
                self.publish_status(AgentStatus.WARN,
                                    f"model loading ({time.monotonic() - self._load_started:.0f} s)")
            else:
                busy = "busy" if self.queue.busy else "idle"
                self.publish_status(AgentStatus.OK, f"ready, {busy}, {self.queue.depth} queued")
        except Exception as exc:  # noqa: BLE001
            self.get_logger().error(f"status timer: {exc}")

    def _report_rejected(self, request_id: str, reason: str, text: Any = None, level: int = AgentStatus.WARN) -> None:
        what = f"request {request_id}" + (f" {_snippet(text)}" if text is not None else "")
        self.get_logger().warning(f"{what} rejected: {reason}", throttle_duration_sec=1.0)
        self.publish_status(level, f"{what} rejected: {reason}", request_id=request_id,
                            outcome="error", error=f"request {request_id}: {reason}")

    def report_exception(self, where: str, exc: BaseException) -> None:
        text = f"{where}: {type(exc).__name__}: {exc}"
        self.get_logger().error(text + "\n" + "".join(traceback.format_exception(exc)))
        self.publish_status(AgentStatus.ERROR, text, error=text)

    # ---- cameras -----------------------------------------------------------------------------------
    def _on_image(self, topic: str, msg: Image) -> None:
        try:
            image = image_msg_to_rgb(msg)
        except ImageError as exc:
            self._bad_frame(topic, msg, str(exc))
            return
        except Exception as exc:  # noqa: BLE001
            self._bad_frame(topic, msg, f"{type(exc).__name__}: {exc}")
            return
        self.frames.put(Frame.from_array(topic, image, msg.header.stamp.sec, msg.header.stamp.nanosec,
                                         msg.header.frame_id))

    def _on_compressed(self, topic: str, msg: CompressedImage) -> None:
        # Only the header is read here (cheap at camera rate); the frame is decoded once, when a
        # command uses it. Undecodable pixel data then fails that request (reported on status).
        try:
            check_compressed_header(msg.data, f"compressed image ({msg.format or 'no format'})")
        except ImageError as exc:
            self._bad_frame(topic, msg, str(exc))
            return
        except Exception as exc:  # noqa: BLE001
            self._bad_frame(topic, msg, f"{type(exc).__name__}: {exc}")
            return
        self.frames.put(Frame.lazy(topic, lambda m=msg: compressed_msg_to_rgb(m), msg.header.stamp.sec,
                                   msg.header.stamp.nanosec, msg.header.frame_id))

    def _bad_frame(self, topic: str, msg, reason: str) -> None:
        try:
            frame_id = msg.header.frame_id
            stamp = f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"
        except Exception:  # noqa: BLE001
            frame_id, stamp = "?", "?"
        text = f"camera {topic}: bad image (frame_id {frame_id!r}, stamp {stamp}) ignored: {reason}"
        self.get_logger().warning(text, throttle_duration_sec=1.0)
        self.publish_status(AgentStatus.WARN, text, error=text)

    # ---- commands ----------------------------------------------------------------------------------
    def _new_request_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def _resolve(self, topic: str) -> str:
        try:
            return self.resolve_topic_name(topic)
        except Exception:  # noqa: BLE001 - an invalid name simply matches nothing
            return topic

    def _on_string(self, msg: String) -> None:
        self._guarded("command", self.submit_command, msg.data, "", self.params["default_language"], "", "command")

    def _on_command(self, msg: Command) -> None:
        self._guarded("command_msg", self.submit_command, msg.text, msg.request_id,
                      msg.language or self.params["default_language"], msg.camera, "command_msg")

    def _guarded(self, where: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - bad input never kills the node
            self.report_exception(where, exc)

    def submit_command(self, text: str, request_id: str, language: str, camera: str, source: str) -> None:
        request_id = (request_id or "").strip() or self._new_request_id()
        clean, problem = clean_command(text, int(self.params["max_command_chars"]))
        if problem:
            self._report_rejected(request_id, problem, text)
            return
        if self._model_state != "ready":
            why = self._model_error if self._model_state == "error" else f"model {self._model_state}"
            self._report_rejected(request_id, f"model not ready ({why})", clean)
            return
        _topic, frame, problem = self._pick_frame(camera)
        if problem:
            self._report_rejected(request_id, problem, clean)
            return
        self.queue.submit(Request(request_id, clean, (language or "").strip(), frame, source))

    def _pick_frame(self, camera: str) -> tuple[str, Frame | None, str]:
        """(topic, fresh frame or None, problem) for a command's camera ("" = the default camera)."""
        if camera:
            topic = self._camera_names.get(self._resolve(camera))
            if topic is None:
                known = ", ".join(self._camera_names.values()) or "none"
                return "", None, f"unknown camera {camera!r} (subscribed: {known})"
        else:
            topic = self.default_camera
        if not topic:
            return "", None, ""
        return topic, self.frames.get(topic, float(self.params["frame_max_age_s"])), ""

    # ---- Query service -----------------------------------------------------------------------------
    def _on_query(self, request: Query.Request, response: Query.Response) -> Query.Response:
        request_id = self._new_request_id()
        try:
            clean, problem = clean_command(request.text, int(self.params["max_command_chars"]))
            if not problem and self._model_state != "ready":
                problem = f"model not ready ({self._model_error or self._model_state})"
            frame = None
            if not problem and request.has_image:
                try:
                    image = image_msg_to_rgb(request.image)
                    stamp = request.image.header.stamp
                    frame = Frame.from_array("", image, stamp.sec, stamp.nanosec, request.image.header.frame_id)
                except ImageError as exc:
                    problem = f"bad image: {exc}"
            elif not problem:
                _topic, frame, problem = self._pick_frame("")
            if problem:
                self._report_rejected(request_id, problem, request.text)
                response.success, response.error = False, problem
                return response
            reply = _Reply()
            language = request.language or self.params["default_language"]
            self.queue.submit(Request(request_id, clean, language, frame, "query", reply=reply))
            if not reply.event.wait(float(self.params["query_timeout_s"])):
                reply.abandoned = True
                response.success = False
                response.error = f"timed out after {self.params['query_timeout_s']} s waiting for the model"
                self.publish_status(AgentStatus.WARN, f"query {request_id}: {response.error}",
                                    request_id=request_id, outcome="error", error=response.error)
                return response
            return reply.response
        except Exception as exc:  # noqa: BLE001
            self.report_exception("query", exc)
            response.success, response.error = False, f"internal error: {exc}"
            return response

    # ---- worker ------------------------------------------------------------------------------------
    def _process(self, req: Request) -> None:
        """Runs in the worker thread: one model call, then publish."""
        if req.reply is not None and req.reply.abandoned:
            return
        agent = self._agent
        if agent is None:  # cannot happen (checked on submit), but never crash on it
            self._finish_error(req, "model not ready")
            return
        image = None
        if req.frame is not None:
            try:
                image = req.frame.image()
            except ImageError as exc:
                self._finish_error(req, f"bad image from {req.frame.topic or 'query'}: {exc}")
                return
        result = agent.infer(req.text, image, req.language or None)
        stamp = self.get_clock().now().to_msg()
        latency = float(result.timings_ms.get("total", 0.0))
        if result.outcome == "error":
            self._finish_error(req, result.reason, latency)
            return
        call = self._function_call(req, result, stamp)
        if result.outcome == "call":
            if req.reply is None:
                self.action_pub.publish(call)
            args = ", ".join(f"{a.name}={a.value!r}" for a in call.arguments)
            self.get_logger().info(f"request {req.request_id}: {call.function_name}({args}) "
                                   f"p={call.confidence:.2f} {latency:.0f} ms image={call.has_image}")
            self.publish_status(AgentStatus.OK, f"request {req.request_id} {_snippet(req.text)}: "
                                f"{call.function_name} {call.arguments_json} ({latency:.0f} ms; {_image_note(req)})",
                                request_id=req.request_id,
                                outcome="ok", latency_ms=latency)
            self._reply(req, True, "", call)
            return
        # no_action: nothing on the action topic; say why on status
        is_no_action = result.function_name == agent.registry.no_action.name
        outcome = "no_action" if is_no_action else "invalid_output"
        text = f"request {req.request_id} {_snippet(req.text)}: {outcome}: {result.reason} ({_image_note(req)})"
        self.get_logger().info(text)
        self.publish_status(AgentStatus.OK if is_no_action else AgentStatus.WARN, text, request_id=req.request_id,
                            outcome=outcome, latency_ms=latency, error=None if is_no_action else text)
        if is_no_action:
            self._reply(req, True, "", call)
        else:
            self._reply(req, False, result.reason, call)

    def _function_call(self, req: Request, result, stamp: TimeMsg) -> FunctionCall:
        call = FunctionCall()
        call.header.stamp = stamp
        call.request_id = req.request_id
        call.function_name = result.function_name
        call.token_id = int(result.token_index)
        call.arguments_json = result.arguments_json if result.outcome == "call" else "{}"
        call.arguments = [Argument(name=str(n), type=str(t), value=str(v))
                          for n, t, v in (result.typed_arguments if result.outcome == "call" else [])]
        call.confidence = float(result.confidence)
        if req.frame is not None:
            call.header.frame_id = req.frame.frame_id
            call.image_stamp = TimeMsg(sec=req.frame.stamp_sec, nanosec=req.frame.stamp_nanosec)
            call.has_image = True
            call.camera_topic = req.frame.topic
        call.command_text = req.text
        call.language = result.language or req.language
        call.inference_ms = float(result.timings_ms.get("total", 0.0))
        call.raw_output = result.raw_output
        return call

    def _finish_error(self, req: Request, reason: str, latency: float | None = None) -> None:
        text = f"request {req.request_id} {_snippet(req.text)}: error: {reason}"
        self.get_logger().warning(text)
        self.publish_status(AgentStatus.WARN, text, request_id=req.request_id, outcome="error", error=text,
                            latency_ms=latency)
        self._reply(req, False, reason)

    @staticmethod
    def _reply(req: Request, success: bool, error: str, call: FunctionCall | None = None) -> None:
        if req.reply is None:
            return
        response = Query.Response()
        response.success, response.error = success, error
        if call is not None:
            response.call = call
        req.reply.response = response
        req.reply.event.set()

    def _on_drop(self, req: Request, reason: str) -> None:
        text = f"request {req.request_id} {_snippet(req.text)} dropped: {reason}"
        if reason != "shutdown":
            text += f" (queue capacity {self.queue.capacity}; the oldest pending request is dropped)"
            self.get_logger().warning(text, throttle_duration_sec=1.0)
            self.publish_status(AgentStatus.WARN, text, request_id=req.request_id, outcome="dropped", error=text)
        self._reply(req, False, text)

    def _on_worker_error(self, req: Request, exc: BaseException) -> None:
        self.report_exception(f"request {req.request_id}", exc)
        self._reply(req, False, f"internal error: {type(exc).__name__}: {exc}")

    # ---- shutdown ----------------------------------------------------------------------------------
    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker (pending requests are dropped, waiting queries answered) and destroy the node."""
        if self._closed:
            return
        self._closed = True
        self.queue.stop(timeout)
        self.destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of the `agent_node` executable. ``args`` defaults to sys.argv (with --ros-args)."""
    rclpy.init(args=sys.argv if args is None else args)  # installs SIGINT/SIGTERM handlers
    node = None
    executor = MultiThreadedExecutor(num_threads=EXECUTOR_THREADS)
    try:
        node = AgentNode()
        executor.add_node(node)
        while rclpy.ok():
            try:
                executor.spin_once(timeout_sec=0.5)
            except (KeyboardInterrupt, ExternalShutdownException):
                break
            except Exception as exc:  # noqa: BLE001 - e.g. a message that fails to deserialise
                node.report_exception("executor", exc)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # noqa: BLE001 - bad parameters etc.: say it clearly, exit non-zero
        print(f"octopus agent node: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        worker_busy = False
        if node is not None:
            if rclpy.ok():
                node.get_logger().info("shutting down")
            else:  # the signal handler already shut the context down: the logger cannot reach /rosout
                print(f"[{NODE_NAME}] shutting down", file=sys.stderr, flush=True)
            worker_busy = node.queue.busy
            node.close()
            worker_busy = worker_busy and node.queue.busy
        executor.shutdown(timeout_sec=1.0, wait_for_threads=False)
        rclpy.try_shutdown()
        if worker_busy:
            # The worker is inside a model call that cannot be interrupted; it is a daemon thread, but
            # interpreter teardown under a running torch op can crash. Leave at once instead.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
