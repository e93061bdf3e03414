"""The Octopus agent node: camera frames + text commands in, ``octopus_ros/FunctionCall`` out.

Run it with ``ros2 run octopus_ros agent_node``, ``ros2 launch octopus_ros agent.launch.py``,
``octopus-ros run`` or ``octopus-agent-node`` (all the same ``main()``), with ROS arguments, e.g.
``--ros-args --params-file config/agent.yaml -p model:=tiny-random``.

Topics (names are parameters; defaults shown):

- ``/camera/image_raw`` ``sensor_msgs/Image`` (``camera_topics``) and ``compressed_camera_topics``
  (``sensor_msgs/CompressedImage``): sensor-data QoS (best effort, keep last 5). The latest frame of
  each camera is kept; a frame is used only if it was received at most ``frame_max_age_s`` ago.
- ``/octopus/command`` ``std_msgs/String`` and ``/octopus/command_msg`` ``octopus_ros/Command``:
  reliable, keep all (a burst of commands reaches the request queue and its reported drop policy
  instead of being lost silently in DDS).
- ``/octopus/action`` ``octopus_ros/FunctionCall``: reliable, depth 10. Only real actions; a
  ``no_action`` decision publishes nothing here and says why on the status topic.
- ``/octopus/status`` ``octopus_ros/AgentStatus``: reliable, transient local, depth 100. One message
  per event (model loaded, request finished / rejected / dropped, bad camera frame) plus one every
  ``status_period_s``. Late subscribers get the recent history, so a client can check
  ``model_state`` at once.
- service ``/octopus/query`` ``octopus_ros/Query``: synchronous text (+ image) -> FunctionCall.
- ``/octopus/outcome`` ``octopus_ros/CommandOutcome`` (reliable, depth 1000): exactly one terminal outcome per
  command (see outcomes.py); ``/octopus/pending`` ``octopus_ros/PendingCall``: calls waiting for a human;
  service ``/octopus/confirm`` ``octopus_ros/Confirm``; service ``/octopus/reload_model`` ``std_srvs/Trigger``.

Safety (docs/safety.md): every decoded call of a command passes the policy gate (octopus_ros.safety) before
it is published; confirmation-required calls wait in confirmations.py; a command that is exactly a stop
phrase is published at once by the command callback (the stop fast path) and cancels what arrived before it.

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

import faulthandler
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
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from octopus_ros.cpu_process import leave_out_triton
from octopus_ros.images import ImageError, check_compressed_header, compressed_msg_to_rgb, image_msg_to_rgb
from octopus_ros.msg import AgentStatus, Argument, Command, CommandOutcome, FunctionCall, PendingCall
from octopus_ros.node.confirmations import PendingConfirmations
from octopus_ros.node.frame_cache import Frame, FrameCache
from octopus_ros.node.runtime import ParamSpec, declare_parameters, spin_until_shutdown
from octopus_ros.node.outcomes import OutcomeReporter
from octopus_ros.node.request_queue import RequestQueue
from octopus_ros.node.safety_state import SafetyState, load_safety, registry_for
from octopus_ros.safety import ALLOW, CONFIRM, LOW_CONFIDENCE, POLICY, Verdict
from octopus_ros.srv import Confirm, Query, TeachObject

NODE_NAME = "octopus_agent"


# ---- parameters: every one declared here, with its default and description ------------------------
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
    ParamSpec("quantize", "", _P.STRING,
              "Override the profile's quantisation: int8, int8-embedding (token embeddings in int8 too: "
              "about 140 MiB less, slightly less accurate) or none; \"\" = the profile's setting."),
    ParamSpec("taught_objects", "", _P.STRING,
              "Objects taught from photos (`octopus-ros objects teach`, default file "
              "~/.local/share/octopus_ros/taught_objects.safetensors), named from the camera frame; \"\" = none. "
              "Read at start-up and on reload; the teach service adds to it (a missing file is created)."),
    ParamSpec("status_period_s", 1.0, _P.DOUBLE, "Period of the status message in seconds (0 = only on events)."),
    ParamSpec("default_language", "", _P.STRING,
              "Language for commands that do not give one (std_msgs/String commands, empty Command.language): "
              "\"en\", \"zh\", or \"\" to detect it from the text."),
    ParamSpec("query_timeout_s", 60.0, _P.DOUBLE,
              "How long a Query call waits for its turn in the queue and the model before failing."),
    ParamSpec("outcome_topic", "/octopus/outcome", _P.STRING,
              "octopus_ros/CommandOutcome topic: exactly one terminal outcome per command (reliable)."),
    ParamSpec("pending_topic", "/octopus/pending", _P.STRING,
              "octopus_ros/PendingCall topic: calls waiting for a confirmation (reliable)."),
    ParamSpec("confirm_service", "/octopus/confirm", _P.STRING, "octopus_ros/Confirm service name."),
    ParamSpec("teach_service", "/octopus/teach_object", _P.STRING,
              "octopus_ros/TeachObject service name: teach an object from the camera (needs taught_objects)."),
    ParamSpec("reload_service", "/octopus/reload_model", _P.STRING,
              "std_srvs/Trigger service: reload the model and the safety policy (e.g. after fixing a checkpoint)."),
    ParamSpec("policy_file", "", _P.STRING,
              "Safety policy overlay YAML (default_policy / functions.<name>) applied over the policies in the "
              "functions file; \"\" = none. Relative paths are looked up in the working directory, then in the "
              "package's config/ directory."),
    ParamSpec("confirmation_timeout_s", 60.0, _P.DOUBLE,
              "A call that requires confirmation expires (outcome expired) this many seconds after it was "
              "published on the pending topic."),
    ParamSpec("max_pending_confirmations", 32, _P.INTEGER,
              "Most calls waiting for a confirmation at once; one more expires the oldest."),
)

_PARAM_NAMES = frozenset(spec.name for spec in PARAMETERS)

#: Depth hint of the command subscriptions (reliable, KEEP_ALL: unread commands are never overwritten).
COMMAND_QOS_DEPTH = 100

#: Executor threads: command/camera group, status timer, Query service, Confirm/reload services, expiry timer.
EXECUTOR_THREADS = 6

#: Seconds the node may take to shut down before the watchdog dumps the threads' stacks and exits (status 1).
SHUTDOWN_WATCHDOG_S = 20.0

#: History depth of the outcome topic (reliable): a burst of outcomes must not overwrite undelivered ones.
OUTCOME_QOS_DEPTH = 1000

_BAD = object()  # marks a camera frame that failed its check

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


def _with_reading(what: str, result) -> str:
    """`what` happened to a call, with how the agent read the command when not as typed ("read as 'Play.' (typing
    slips respelled)": a call's only reason), for log lines; CommandOutcome's reason stays empty for a call."""
    return f"{what}; {result.reason}" if result.reason else what


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
    seq: int = 0  # arrival order; a stop fast path cancels every request with a smaller seq
    camera: str = ""  # the camera topic the command was paired with ("" = none configured)
    done: bool = False  # its outcome has been reported (exactly once)


class AgentNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.params = declare_parameters(self, PARAMETERS)
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
        # Safety (docs/safety.md): policies + gate + stop matcher, pending confirmations, stop ordering.
        self._seq = itertools.count(1)
        self._stop_seq = 0  # requests with a smaller seq were cancelled by a stop fast path
        self._publish_lock = threading.Lock()  # orders "check cancelled + publish" against the stop fast path
        self._reload_lock = threading.Lock()
        self._safety: SafetyState | None = None
        self.commands_received = 0  # every command callback, valid or not (for the soak's accounting)
        self.confirmations = PendingConfirmations(max(0.1, float(p["confirmation_timeout_s"])),
                                                  max(1, int(p["max_pending_confirmations"])))

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
        outcome_qos = QoSProfile(depth=OUTCOME_QOS_DEPTH, reliability=ReliabilityPolicy.RELIABLE,
                                 history=HistoryPolicy.KEEP_LAST)
        self.outcome_pub = self.create_publisher(CommandOutcome, p["outcome_topic"], outcome_qos)
        self.pending_pub = self.create_publisher(PendingCall, p["pending_topic"], QoSProfile(
            depth=100, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST))
        self.outcomes = OutcomeReporter(self.outcome_pub, lambda: self.get_clock().now().to_msg(),
                                        lambda text: None if self._closed else self.get_logger().warning(text))
        self._init_safety()

        # Cameras first, then commands, in ONE mutually exclusive group (the node's default group):
        # when a frame and a command are both waiting, the frame is taken (and cached) first.
        for topic in self.camera_topics:
            self.create_subscription(Image, topic, lambda m, t=topic: self._on_image(t, m), qos_profile_sensor_data)
        for topic in self.compressed_topics:
            self.create_subscription(CompressedImage, topic, lambda m, t=topic: self._on_compressed(t, m),
                                     qos_profile_sensor_data)
        # Commands: reliable, KEEP_ALL: a burst of commands (or a node stalled by a busy CPU) must reach the
        # request queue, whose drop policy is reported as an outcome, instead of being overwritten in the DDS
        # reader history (KEEP_LAST) and lost without a trace. A publisher faster than the node for long
        # is slowed down by reliable flow control instead.
        commands_qos = QoSProfile(depth=COMMAND_QOS_DEPTH, reliability=ReliabilityPolicy.RELIABLE,
                                  history=HistoryPolicy.KEEP_ALL)
        self.create_subscription(String, p["command_topic"], self._on_string, commands_qos)
        self.create_subscription(Command, p["command_msg_topic"], self._on_command, commands_qos)

        self.create_service(Query, p["query_service"], self._on_query,
                            callback_group=MutuallyExclusiveCallbackGroup())
        control = MutuallyExclusiveCallbackGroup()  # Confirm + reload: short, never wait for the worker
        self.create_service(Confirm, p["confirm_service"], self._on_confirm, callback_group=control)
        self.create_service(Trigger, p["reload_service"], self._on_reload, callback_group=control)
        # its own group: teaching waits for a model load in progress, which must not hold up Confirm
        self.create_service(TeachObject, p["teach_service"], self._on_teach, callback_group=MutuallyExclusiveCallbackGroup())
        self.create_timer(0.25, self._expire_confirmations, callback_group=MutuallyExclusiveCallbackGroup())
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
            f"status on {p['status_topic']}, outcomes on {p['outcome_topic']}, pending calls on "
            f"{p['pending_topic']}, services {p['query_service']} {p['confirm_service']} {p['reload_service']} "
            f"{p['teach_service']}")

    # ---- parameters ------------------------------------------------------------------------------
    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        # Our parameters are read at start-up; say so instead of silently ignoring a change. Others
        # (use_sim_time, ...) are rclpy's business.
        ours = [p.name for p in params if p.name in _PARAM_NAMES]
        if ours:
            return SetParametersResult(successful=False,
                                       reason=f"{', '.join(ours)}: read at start-up; restart the node to change")
        return SetParametersResult(successful=True)

    # ---- model and safety policy ---------------------------------------------------------------------
    def _init_safety(self) -> None:
        """Policies from the functions file alone, so the stop fast path works before (or without) a model."""
        p = self.params
        try:
            self._safety = load_safety(registry_for(p["model"], p["functions_file"]), p["policy_file"])
        except Exception as exc:  # noqa: BLE001 - reported; the model load reports it again with its own
            self._safety = None
            self.get_logger().error(f"safety policy not loaded: {exc}")

    def _load_model(self) -> None:
        """Load (or reload) the model and the safety policy. While a model is serving, it keeps serving
        until the new one is ready; if the new load fails it stays in use and the error is reported."""
        with self._reload_lock:
            p = self.params
            serving = self._agent is not None
            if not serving:
                self._model_state = "loading"
            self._load_started = time.monotonic()
            self.publish_status(AgentStatus.OK, f"{'reloading' if serving else 'loading'} model {p['model']!r}")
            try:
                from octopus_ros.model import OctopusAgent  # torch: imported here, off the main thread

                if p["taught_objects"] and not _existing(p["taught_objects"]):
                    self.get_logger().info(f"taught objects: {p['taught_objects']} does not exist yet; the "
                                           f"{p['teach_service']} service creates it")
                agent = OctopusAgent.load(p["model"], functions=p["functions_file"] or None,
                                          threads=int(p["threads"]) or None, quantize=p["quantize"] or None,
                                          taught=_existing(p["taught_objects"]))
                try:
                    safety = load_safety(agent.registry, p["policy_file"])
                except Exception as exc:  # noqa: BLE001
                    raise RuntimeError(f"safety policy invalid: {exc}") from None
            except BaseException as exc:  # noqa: BLE001 - a failed load must not kill the node
                error = f"model load failed: {exc}"
                self.get_logger().error(error)
                if not isinstance(exc, Exception):
                    self.get_logger().error("".join(traceback.format_exception(exc)))
                with self._stats_lock:
                    self._last_error = error
                if serving:
                    self.publish_status(AgentStatus.ERROR, f"{error} (the previous model stays in use)")
                else:
                    self._model_error = error
                    self._model_state = "error"
                    self.publish_status(AgentStatus.ERROR, error)
                return
            if self._safety is not None:
                safety.gate.inherit(self._safety.gate)  # a reload does not reset rate-limit windows
            self._safety = safety
            self._agent = agent
            self._model_error = ""
            self._model_state = "ready"
        took = time.monotonic() - self._load_started
        try:
            info = json.dumps(agent.describe(), ensure_ascii=False)
        except Exception:  # noqa: BLE001 - description is cosmetic
            info = ""
        self.get_logger().info(f"model ready in {took:.1f} s {info}")
        self.publish_status(AgentStatus.OK, f"model ready ({took:.1f} s)")

    def _on_teach(self, request: TeachObject.Request, response: TeachObject.Response) -> TeachObject.Response:
        """Add photos (the request's images, or the camera's latest fresh frame) to a taught object and write the
        taught_objects file; the model names the object from the next command on."""
        name = request.name_en or request.name_zh
        try:
            path = self.params["taught_objects"]
            problem, photos = "", []
            if not path:
                problem = "set the taught_objects parameter to a file to teach objects (docs/model/teaching.md)"
            elif self._model_state != "ready":
                problem = f"model not ready ({self._model_error or self._model_state})"
            elif request.images:
                try:
                    photos = [image_msg_to_rgb(msg) for msg in request.images]
                except ImageError as exc:
                    problem = f"bad image: {exc}"
            else:
                topic, frame, problem = self._pick_frame(request.camera)
                if not problem and frame is None:
                    problem = (f"no frame younger than {self.params['frame_max_age_s']} s from "
                               f"{topic or 'any camera (none subscribed)'}")
                elif not problem:
                    try:
                        photos = [frame.image()]
                    except ImageError as exc:
                        problem = f"bad image from {topic}: {exc}"
            if not problem:
                from octopus_ros.model import ModelLoadError  # torch: already imported by the ready model

                with self._reload_lock:   # a reload in progress reads the file: teach the model it loads
                    agent = self._agent
                    try:
                        obj, named = agent.teach(request.name_en, request.name_zh, photos, replace=request.replace)
                        agent.taught.save(path)
                    except (ValueError, OSError, ModelLoadError) as exc:
                        problem = str(exc)
            if problem:
                response.success, response.error = False, f"teaching {name!r}: {problem}"
                self.publish_status(AgentStatus.WARN, response.error)
                return response
            response.success, response.photos = True, len(obj.features)
            response.photos_named = sum(verdict == obj.name("en") for verdict in named)
            self.get_logger().info(f"taught {obj.en!r} / {obj.zh!r}: {response.photos} photos, {response.photos_named} "
                                   f"named by the others; {len(agent.taught.objects)} objects in {path}")
            return response
        except Exception as exc:  # noqa: BLE001
            self.report_exception("teach", exc)
            response.success, response.error = False, f"internal error: {exc}"
            return response

    def _on_reload(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self._reload_lock.locked():
            response.success, response.message = False, "a model load is already in progress"
            return response
        threading.Thread(target=self._load_model, name="octopus-model-reload", daemon=True).start()
        response.success = True
        response.message = (f"reloading model {self.params['model']!r} and the safety policy; watch "
                            f"{self.params['status_topic']} for model_state")
        return response

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

    def _report_rejected(self, request_id: str, reason: str, text: Any = None, level: int = AgentStatus.WARN,
                         command: bool = True) -> None:
        what = f"request {request_id}" + (f" {_snippet(text)}" if text is not None else "")
        self.get_logger().warning(f"{what} rejected: {reason}", throttle_duration_sec=1.0)
        self.publish_status(level, f"{what} rejected: {reason}", request_id=request_id,
                            outcome="error", error=f"request {request_id}: {reason}")
        if command:
            self.outcomes.report(request_id, CommandOutcome.ERROR, reason=f"rejected: {reason}")

    def report_exception(self, where: str, exc: BaseException) -> None:
        text = f"{where}: {type(exc).__name__}: {exc}"
        self.get_logger().error(text + "\n" + "".join(traceback.format_exception(exc)))
        self.publish_status(AgentStatus.ERROR, text, error=text)

    # ---- cameras -----------------------------------------------------------------------------------
    def _on_image(self, topic: str, msg: Image) -> None:
        image = self._checked_frame(topic, msg, image_msg_to_rgb)
        if image is not _BAD:
            self.frames.put(Frame.from_array(topic, image, msg.header.stamp.sec, msg.header.stamp.nanosec,
                                             msg.header.frame_id))

    def _on_compressed(self, topic: str, msg: CompressedImage) -> None:
        # Only the header is read here (cheap at camera rate); the frame is decoded once, when a
        # command uses it. Undecodable pixel data then fails that request (reported on status).
        header = self._checked_frame(topic, msg, lambda m: check_compressed_header(
            m.data, f"compressed image ({m.format or 'no format'})"))
        if header is not _BAD:
            self.frames.put(Frame.lazy(topic, lambda m=msg: compressed_msg_to_rgb(m), msg.header.stamp.sec,
                                       msg.header.stamp.nanosec, msg.header.frame_id))

    def _checked_frame(self, topic: str, msg, check):
        """``check(msg)``, or _BAD after reporting why the frame is unusable (it never raises)."""
        try:
            return check(msg)
        except ImageError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - a malformed message must never stop the node
            reason = f"{type(exc).__name__}: {exc}"
        self._bad_frame(topic, msg, reason)
        return _BAD

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
        # a stamped Command (e.g. from the speech node: the start of the utterance) gets the frame seen then
        self._guarded("command_msg", self.submit_command, msg.text, msg.request_id,
                      msg.language or self.params["default_language"], msg.camera, "command_msg",
                      (msg.header.stamp.sec, msg.header.stamp.nanosec))

    def _guarded(self, where: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - bad input never kills the node
            self.report_exception(where, exc)

    def submit_command(self, text: str, request_id: str, language: str, camera: str, source: str,
                       stamp: tuple[int, int] = (0, 0)) -> None:
        self.commands_received += 1
        request_id = (request_id or "").strip() or self._new_request_id()
        clean, problem = clean_command(text, int(self.params["max_command_chars"]))
        if problem:
            self._report_rejected(request_id, problem, text)
            return
        safety = self._safety
        if safety is not None and safety.stop is not None and safety.stop.matches(clean):
            self._fast_stop(safety, request_id, clean, (language or "").strip())
            return
        if self._model_state != "ready":
            why = self._model_error if self._model_state == "error" else f"model {self._model_state}"
            self._report_rejected(request_id, f"model not ready ({why})", clean)
            return
        topic, frame, problem = self._pick_frame(camera, stamp)
        if problem:
            self._report_rejected(request_id, problem, clean)
            return
        self.queue.submit(Request(request_id, clean, (language or "").strip(), frame, source,
                                  seq=next(self._seq), camera=topic))

    # ---- stop fast path (docs/safety.md) -------------------------------------------------------------
    def _fast_stop(self, safety: SafetyState, request_id: str, text: str, language: str) -> None:
        """A command that is exactly a stop phrase: publish the stop call now, in this callback, without
        the model and ahead of the queue; then cancel every request that arrived before it and has not
        produced its outcome yet (queued ones now, the one in the model when it finishes)."""
        spec = safety.policies.stop_function
        arguments = safety.registry.normalize_arguments(spec, {})
        call = FunctionCall(request_id=request_id, function_name=spec.name, token_id=spec.index,
                            arguments_json=json.dumps(arguments, ensure_ascii=False),
                            arguments=[Argument(name=a.name, type=a.type, value=a.value_text(arguments[a.name]))
                                       for a in spec.args],
                            confidence=1.0, command_text=text, language=language or _language_of(text),
                            inference_ms=0.0, raw_output=safety.registry.format_call(spec, arguments))
        call.header.stamp = self.get_clock().now().to_msg()
        with self._publish_lock:
            self._stop_seq = next(self._seq)
            self.action_pub.publish(call)
        self.outcomes.report(request_id, CommandOutcome.CALL, spec.name,
                             "stop fast path: the command is a stop phrase; published without the model, "
                             "ahead of the queue")
        cancelled = self.queue.drain()
        for req in cancelled:
            self._cancelled_by_stop(req, request_id)
        text_status = (f"request {request_id} {_snippet(text)}: {spec.name} (stop fast path)"
                       + (f"; cancelled {len(cancelled)} queued request(s)" if cancelled else ""))
        self.get_logger().warning(text_status)
        self.publish_status(AgentStatus.OK, text_status, request_id=request_id, outcome="ok")

    def _cancelled_by_stop(self, req: Request, stop_request_id: str) -> None:
        reason = f"cancelled: stop request {stop_request_id} arrived before this request was acted on"
        self.publish_status(AgentStatus.WARN, f"request {req.request_id} {_snippet(req.text)}: {reason}",
                            request_id=req.request_id, outcome=CommandOutcome.POLICY)
        self._conclude(req, CommandOutcome.POLICY, "", reason)
        self._reply(req, False, reason)

    def _pick_frame(self, camera: str, stamp: tuple[int, int] = (0, 0)) -> tuple[str, Frame | None, str]:
        """(topic, fresh frame or None, problem) for a command's camera ("" = the default camera); a
        command stamp selects the frame current at that time when the history holds one."""
        if camera:
            topic = self._camera_names.get(self._resolve(camera))
            if topic is None:
                known = ", ".join(self._camera_names.values()) or "none"
                return "", None, f"unknown camera {camera!r} (subscribed: {known})"
        else:
            topic = self.default_camera
        if not topic:
            return "", None, ""
        max_age = float(self.params["frame_max_age_s"])
        frame = self.frames.at_stamp(topic, stamp[0], stamp[1], max_age) or self.frames.get(topic, max_age)
        return topic, frame, ""

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
                self._report_rejected(request_id, problem, request.text, command=False)
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
        """Runs in the worker thread: one model call, then the policy gate, then publish."""
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
        if result.outcome != "call":
            self._finish_no_action(req, result, call, latency, agent.registry.no_action.name)
            return
        if req.reply is not None:  # a query asks, it does not act: its answer is not gated nor published
            self._log_call(req, call, latency, _with_reading("answered (query)", result))
            self._reply(req, True, "", call)
            return
        self._gate_and_publish(req, call, result, latency)

    def _gate_and_publish(self, req: Request, call: FunctionCall, result, latency: float) -> None:
        safety = self._safety
        name = call.function_name
        with self._publish_lock:  # against the stop fast path: cancelled, or published before the stop
            if req.seq < self._stop_seq:
                verdict = None
            elif safety is None:
                verdict = Verdict(POLICY, "no valid safety policy is loaded")
            else:
                verdict = safety.gate.admit(name, result.arguments, call.confidence, call.has_image)
                if verdict.decision == ALLOW:
                    self.action_pub.publish(call)
        if verdict is None:
            self._cancelled_by_stop(req, "(fast path)")
            return
        if verdict.decision == ALLOW:
            self._log_call(req, call, latency, _with_reading("published", result))
            self._conclude(req, CommandOutcome.CALL, name, "")
            return
        if verdict.decision == CONFIRM:
            self._hold_for_confirmation(req, call, latency)
            return
        code = CommandOutcome.LOW_CONFIDENCE if verdict.decision == LOW_CONFIDENCE else CommandOutcome.POLICY
        reason = verdict.reason + (self._camera_note(req) if "camera frame" in verdict.reason else "")
        text = f"request {req.request_id} {_snippet(req.text)}: {name} not published: {code}: {reason}"
        self.get_logger().warning(text)
        self.publish_status(AgentStatus.WARN, text, request_id=req.request_id, outcome=code, latency_ms=latency)
        self._conclude(req, code, name, reason)

    def _camera_note(self, req: Request) -> str:
        if not req.camera:
            return " (no camera configured)"
        frame = self.frames.latest(req.camera)
        age = "no frame received yet" if frame is None else f"last frame {frame.age():.1f} s old"
        return f" (camera {req.camera}: {age}; frame_max_age_s {self.params['frame_max_age_s']:g})"

    def _log_call(self, req: Request, call: FunctionCall, latency: float, what: str) -> None:
        args = ", ".join(f"{a.name}={a.value!r}" for a in call.arguments)
        self.get_logger().info(f"request {req.request_id}: {call.function_name}({args}) "
                               f"p={call.confidence:.2f} {latency:.0f} ms image={call.has_image} {what}")
        self.publish_status(AgentStatus.OK, f"request {req.request_id} {_snippet(req.text)}: "
                            f"{call.function_name} {call.arguments_json} ({latency:.0f} ms; {_image_note(req)})",
                            request_id=req.request_id, outcome="ok", latency_ms=latency)

    def _finish_no_action(self, req: Request, result, call: FunctionCall, latency: float, no_action: str) -> None:
        """no_action, or output that is not a valid call (treated as no_action): nothing on the action topic."""
        is_no_action = result.function_name == no_action
        outcome = "no_action" if is_no_action else "invalid_output"
        text = f"request {req.request_id} {_snippet(req.text)}: {outcome}: {result.reason} ({_image_note(req)})"
        self.get_logger().info(text)
        self.publish_status(AgentStatus.OK if is_no_action else AgentStatus.WARN, text, request_id=req.request_id,
                            outcome=outcome, latency_ms=latency, error=None if is_no_action else text)
        reason = result.reason if is_no_action else f"invalid model output (treated as no action): {result.reason}"
        self._conclude(req, CommandOutcome.NO_ACTION, result.function_name, reason)
        if is_no_action:
            self._reply(req, True, "", call)
        else:
            self._reply(req, False, result.reason, call)

    # ---- confirmations -------------------------------------------------------------------------------
    def _hold_for_confirmation(self, req: Request, call: FunctionCall, latency: float) -> None:
        pending, displaced = self.confirmations.add(req.request_id, call.function_name, call)
        for old in displaced:
            self._expired(old, f"displaced: more than {self.confirmations.capacity} calls were waiting for "
                               "a confirmation")
        msg = PendingCall(confirmation_id=pending.confirmation_id, call=call)
        now = self.get_clock().now()
        msg.header.stamp = now.to_msg()
        expires_ns = now.nanoseconds + int(self.confirmations.timeout_s * 1e9)
        msg.expires = TimeMsg(sec=expires_ns // 10**9, nanosec=expires_ns % 10**9)
        self.pending_pub.publish(msg)
        text = (f"request {req.request_id} {_snippet(req.text)}: {call.function_name} {call.arguments_json} "
                f"waits for confirmation {pending.confirmation_id} (octopus-ros confirm {pending.confirmation_id}; "
                f"expires in {self.confirmations.timeout_s:g} s)")
        self.get_logger().info(text)
        self.publish_status(AgentStatus.OK, text, request_id=req.request_id, outcome=CommandOutcome.PENDING,
                            latency_ms=latency)
        self.outcomes.report(req.request_id, CommandOutcome.PENDING, call.function_name,
                             "requires confirmation", pending.confirmation_id)

    def _on_confirm(self, request: Confirm.Request, response: Confirm.Response) -> Confirm.Response:
        try:
            cid = (request.confirmation_id or "").strip()
            pending = self.confirmations.take(cid)
            if pending is None:
                response.ok = False
                response.message = (f"no pending call with confirmation id {cid!r} (unknown, already "
                                    "confirmed/rejected, or expired)")
                return response
            call = pending.payload
            if request.accept:
                with self._publish_lock:
                    self.action_pub.publish(call)
                code, what = CommandOutcome.CONFIRMED, "confirmed and published"
            else:
                code, what = CommandOutcome.REJECTED, "rejected"
            text = f"request {pending.request_id}: {pending.function_name} {call.arguments_json} {what} ({cid})"
            self.get_logger().info(text)
            self.publish_status(AgentStatus.OK, text, request_id=pending.request_id, outcome=code)
            self.outcomes.report(pending.request_id, code, pending.function_name, what, cid)
            response.ok, response.message = True, text
        except Exception as exc:  # noqa: BLE001
            self.report_exception("confirm", exc)
            response.ok, response.message = False, f"internal error: {exc}"
        return response

    def _expire_confirmations(self) -> None:
        try:
            for pending in self.confirmations.expire():
                self._expired(pending, f"no confirmation within {self.confirmations.timeout_s:g} s")
        except Exception as exc:  # noqa: BLE001
            self.report_exception("confirmation expiry", exc)

    def _expired(self, pending, reason: str) -> None:
        text = f"request {pending.request_id}: {pending.function_name} expired ({pending.confirmation_id}): {reason}"
        self.get_logger().warning(text)
        self.publish_status(AgentStatus.WARN, text, request_id=pending.request_id, outcome=CommandOutcome.EXPIRED)
        self.outcomes.report(pending.request_id, CommandOutcome.EXPIRED, pending.function_name, reason,
                             pending.confirmation_id)

    def _conclude(self, req: Request, code: str, function_name: str, reason: str) -> None:
        """Report the outcome of a command request, exactly once (queries have their response instead)."""
        if req.reply is not None or req.done:
            return
        req.done = True
        self.outcomes.report(req.request_id, code, function_name, reason)

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
        self._conclude(req, CommandOutcome.ERROR, "", reason)
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
            self._conclude(req, CommandOutcome.QUEUE_FULL, "", text)
        else:  # best effort: during shutdown the context may already be gone
            self._conclude(req, CommandOutcome.ERROR, "", "dropped: the node is shutting down")
        self._reply(req, False, text)

    def _on_worker_error(self, req: Request, exc: BaseException) -> None:
        self.report_exception(f"request {req.request_id}", exc)
        self._conclude(req, CommandOutcome.ERROR, "", f"internal error: {type(exc).__name__}: {exc}")
        self._reply(req, False, f"internal error: {type(exc).__name__}: {exc}")

    # ---- shutdown ----------------------------------------------------------------------------------
    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker (pending requests are dropped, waiting queries answered) and destroy the node."""
        if self._closed:
            return
        self.queue.stop(timeout)
        for pending in self.confirmations.drain():  # best effort, like the queue's shutdown drops
            self._expired(pending, "the node is shutting down")
        self._closed = True
        self.destroy_node()


def _language_of(text: str) -> str:
    return "zh" if re.search(r"[\u3400-\u9fff\uf900-\ufaff]", text) else "en"


def _close(node: AgentNode) -> bool:
    # Shutdown watchdog: if cleaning up (or the interpreter's teardown under torch) ever takes longer than
    # SHUTDOWN_WATCHDOG_S, print every thread's stack to stderr and exit with status 1 instead of hanging
    # (docs/safety.md). Normal shutdowns take well under a second.
    faulthandler.dump_traceback_later(SHUTDOWN_WATCHDOG_S, exit=True)
    if rclpy.ok():
        node.get_logger().info("shutting down")
    else:  # the signal handler already shut the context down: the logger cannot reach /rosout
        print(f"[{NODE_NAME}] shutting down", file=sys.stderr, flush=True)
    # Mid-inference or mid-load (torch import / weights): leave at once, even if it finishes meanwhile.
    busy = node.queue.busy or node._reload_lock.locked()
    node.close()
    print(f"[{NODE_NAME}] commands received: {node.commands_received}; outcomes: "
          f"{json.dumps(node.outcomes.totals(), sort_keys=True)}", file=sys.stderr, flush=True)
    return busy


def _existing(path: str) -> str | None:
    """The taught-objects file to load: None when none is set or it does not exist yet (the teach service
    creates it)."""
    return path if path and os.path.exists(os.path.expanduser(path)) else None


def main(args: list[str] | None = None) -> int:
    """Entry point of the `agent_node` executable. ``args`` defaults to sys.argv (with --ros-args)."""
    leave_out_triton()   # before the model's imports: 75 MiB less resident
    return spin_until_shutdown("octopus agent node", AgentNode, lambda: MultiThreadedExecutor(num_threads=EXECUTOR_THREADS),
                               _close, on_error=lambda node, exc: node.report_exception("executor", exc), args=args)


if __name__ == "__main__":
    sys.exit(main())
