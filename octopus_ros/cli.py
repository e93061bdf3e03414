"""`octopus-ros`: the command line of octopus_ros.

    octopus-ros run [--model M] [--camera-topic T] [--params-file F] [--ros-args ...]
    octopus-ros send "turn on the kitchen light" --wait
    octopus-ros send "pick that up" --image mug.jpg --wait --json
    octopus-ros infer "打开客厅的台灯" --model tiny-random --json
    octopus-ros models ...   (and the other sub-apps in SUBCOMMANDS, loaded on demand)

Start-up cost matters (`send` is used from scripts): this module imports only typer at import time.
rclpy is imported by `run` / `send`, torch only by `infer` and the sub-apps that need it. The sub-apps
(SUBCOMMANDS) are imported only when invoked; `--help` lists them from their one-line descriptions.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from .cpu_process import leave_out_triton

_PKG_DIR = Path(__file__).resolve().parent

#: Sub-apps of other parts of the package: name -> (module, attribute, one-line help). The attribute is a
#: typer.Typer (added as a command group) or a function (added as one command). An entry whose module
#: file does not exist is left out, so the CLI works while a part is still being written.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "models": ("octopus_ros.model.cli", "app", "Prepare, list and verify model profiles and their files."),
    "objects": ("octopus_ros.model.objects_cli", "app",
                "Teach the agent objects from a few photos (no retraining); list and forget them."),
    "data": ("octopus_ros.training.synth.cli", "app", "Synthesise training and evaluation data."),
    "train": ("octopus_ros.training.cli", "train_app", "Train the Octopus model stage by stage."),
    "eval": ("octopus_ros.training.cli", "eval_command", "Evaluate a model on a case file (JSONL)."),
    "compare": ("octopus_ros.training.cli", "compare_command",
                "Compare two models' predictions on the same case file, case by case (what a retrain changed)."),
    "sim": ("octopus_ros.sim.cli", "app", "The simulated home (pybullet): sim node, bring-up, snapshots."),
    "scenario": ("octopus_ros.sim.cli", "scenario_command",
                 "Run closed-loop scenarios (scenarios/*.yaml) in the simulated home; pass/fail per step."),
    "bench": ("octopus_ros.bench.cli", "bench_command",
              "Benchmark functional tokens vs prompted JSON function calling (offline and through ROS)."),
    "transcribe": ("octopus_ros.speech.cli", "transcribe_command",
                   "Transcribe a recording offline with the speech node's VAD and model (no ROS)."),
    "speech-node": ("octopus_ros.speech.cli", "node_command", "Start the speech node (AudioData -> Transcript + Command)."),
    "speech-models": ("octopus_ros.speech.cli", "models_app", "Prepare, list and verify the speech models."),
    "bench-speech": ("octopus_ros.speech.benchmark", "bench_command",
                     "Speech benchmark: WER per model and end-of-speech latencies over real recordings."),
    "confirm": ("octopus_ros.safety.cli", "confirm_command", "Confirm a pending call (publish it)."),
    "reject": ("octopus_ros.safety.cli", "reject_command", "Reject a pending call (never publish it)."),
    "reload": ("octopus_ros.safety.cli", "reload_command", "Reload the node's model and safety policy."),
    "policy": ("octopus_ros.safety.cli", "policy_app", "Check and show the safety policy."),
    "soak": ("octopus_ros.safety.cli", "soak_command", "Soak-test a node: accounting and memory growth."),
}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


def _module_file_exists(module: str) -> bool:
    parts = module.split(".")
    assert parts[0] == "octopus_ros"
    rel = Path(*parts[1:])
    roots = [Path(p) for p in getattr(sys.modules.get("octopus_ros"), "__path__", [_PKG_DIR])]
    return any((root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file() for root in roots)


class _LazyGroup(TyperGroup):
    """A typer group whose SUBCOMMANDS are imported only when one of them is invoked."""

    def list_commands(self, ctx):
        names = super().list_commands(ctx)
        return names + [n for n, (mod, _, _) in SUBCOMMANDS.items() if n not in names and _module_file_exists(mod)]

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in SUBCOMMANDS and _module_file_exists(SUBCOMMANDS[cmd_name][0]):
            # A light stand-in for help listings; resolve_command() loads the real one.
            from typer.core import TyperCommand

            cmd = TyperCommand(cmd_name, help=SUBCOMMANDS[cmd_name][2], short_help=SUBCOMMANDS[cmd_name][2])
        return cmd

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name in SUBCOMMANDS and name not in self.commands and _module_file_exists(SUBCOMMANDS[name][0]):
            self.commands[name] = _load_subcommand(name)
        return super().resolve_command(ctx, args)


def _load_subcommand(name: str):
    module_name, attr, help_text = SUBCOMMANDS[name]
    obj = getattr(importlib.import_module(module_name), attr)
    if isinstance(obj, typer.Typer):
        if not obj.info.help:
            obj.info.help = help_text
        cmd = typer.main.get_group(obj) if obj.registered_commands or obj.registered_groups else typer.main.get_command(obj)
    else:
        single = typer.Typer()
        single.command(name, help=(obj.__doc__ or help_text))(obj)
        cmd = typer.main.get_command(single)
    cmd.name = name
    return cmd


app = typer.Typer(
    name="octopus-ros",
    cls=_LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="octopus_ros: an on-device multimodal agent for ROS 2. Camera frames + text commands in, "
         "structured function calls (octopus_ros/FunctionCall) out.\n\n"
         "Examples:\n\n"
         "  octopus-ros run --model tiny-random\n\n"
         "  octopus-ros send \"turn on the kitchen light\" --wait\n\n"
         "  octopus-ros infer \"pick that up\" --image mug.jpg --json",
)


# ---- helpers --------------------------------------------------------------------------------------
def default_params_file() -> Path | None:
    """config/agent.yaml of this checkout, or of the installed package (share/octopus_ros)."""
    repo = _PKG_DIR.parent / "config" / "agent.yaml"
    if repo.is_file():
        return repo
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory("octopus_ros")) / "config" / "agent.yaml"
        return installed if installed.is_file() else None
    except Exception:  # noqa: BLE001 - ament index absent or package not installed
        return None


def message_to_dict(msg: Any) -> Any:
    """A ROS message as plain Python data (dicts, lists, numbers, strings), in field order."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {name: message_to_dict(getattr(msg, name)) for name in msg.get_fields_and_field_types()}
    if isinstance(msg, (bytes, bytearray)):
        return list(msg)
    if hasattr(msg, "tolist"):  # array.array, numpy
        return msg.tolist()
    if isinstance(msg, (list, tuple)):
        return [message_to_dict(v) for v in msg]
    return msg


def _dump(data: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(data, ensure_ascii=False, indent=2)
    import yaml

    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000).rstrip()


def _fail(message: str, code: int) -> "typer.Exit":
    typer.echo(f"octopus-ros: {message}", err=True)
    return typer.Exit(code)


# ---- run ------------------------------------------------------------------------------------------
@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Examples:\n\n"
           "  octopus-ros run\n\n"
           "  octopus-ros run --model tiny-random --camera-topic /front/image_raw\n\n"
           "  octopus-ros run --ros-args -p queue_size:=4 -r __ns:=/robot1",
)
def run(
    ctx: typer.Context,
    model: str = typer.Option("", help="Model profile name, profile YAML or checkpoint folder "
                                       "(overrides the params file's `model`)."),
    camera_topic: str = typer.Option("", help="sensor_msgs/Image camera topic (overrides `camera_topics`)."),
    taught: Optional[Path] = typer.Option(None, help="Objects taught from photos (`octopus-ros objects teach`; "
                                                     "overrides `taught_objects`)."),
    params_file: Optional[Path] = typer.Option(None, help="ROS parameters file (default: config/agent.yaml "
                                                          "of the package)."),
    log_level: str = typer.Option("info", help="debug, info, warn, error or fatal."),
) -> None:
    """Start the agent node (the same as `ros2 launch octopus_ros agent.launch.py`).

    Anything after the options (e.g. `--ros-args -p name:=value -r from:=to`) is passed to the node unchanged and takes precedence. Stop it with Ctrl-C or SIGTERM.
    """
    params = params_file or default_params_file()
    ros_args = ["--ros-args", "--log-level", log_level]
    if params is not None:
        if not Path(params).is_file():
            raise _fail(f"params file {params} does not exist", EXIT_USAGE)
        ros_args += ["--params-file", str(params)]
    if model:
        ros_args += ["-p", f"model:={model}"]
    if camera_topic:
        ros_args += ["-p", f"camera_topics:=[{json.dumps(camera_topic)}]"]
    if taught:
        ros_args += ["-p", f"taught_objects:={taught.expanduser()}"]
    extra = list(ctx.args)
    if extra and extra[0] == "--ros-args":
        extra = extra[1:]
    # Ours first, then the user's: for repeated -p the last one wins, and -p beats --params-file.
    from octopus_ros.node.agent_node import main as node_main

    raise typer.Exit(node_main(["octopus-ros", *ros_args, *extra]))


# ---- send -----------------------------------------------------------------------------------------
@app.command(
    epilog="Exit status: 0 = a FunctionCall, or a no_action decision (printed as the status entry that "
           "explains it), was received or, without --wait, "
           "the command was delivered; 1 = the node reported an error for the request (rejected, dropped, "
           "model failed); 2 = bad arguments or image file; 3 = timed out (no node, or no answer).\n\n"
           "Examples:\n\n"
           "  octopus-ros send \"turn on the kitchen light\" --wait\n\n"
           "  octopus-ros send \"把这个扔进哪个垃圾桶\" --image bottle.png --wait --json\n\n"
           "  octopus-ros send \"stop\" --camera /front/image_raw --no-wait\n\n"
           "  octopus-ros send --audio goforward.raw --wait   (needs the speech node: octopus-ros speech-node)",
)
def send(
    text: Optional[str] = typer.Argument(None, help="The command, e.g. \"turn on the kitchen light\" "
                                                    "(or give --audio instead)."),
    audio: Optional[Path] = typer.Option(None, help="Recording to publish as octopus_ros/AudioData chunks, like a "
                                                    "live microphone, instead of a text command: .wav (PCM 8/16/32-bit "
                                                    "or float) or .raw (headerless 16 kHz S16LE mono). With --wait, "
                                                    "prints the Transcript(s) and the agent's answer."),
    rate: float = typer.Option(1.0, help="--audio pacing: 1 = real time, 4 = four times faster, 0 = no pacing."),
    chunk_ms: float = typer.Option(100.0, help="--audio chunk length in milliseconds."),
    tail_silence: float = typer.Option(1.0, help="--audio: seconds of silence sent after the recording (a live "
                                                 "microphone keeps running; the VAD needs silence to end an utterance)."),
    audio_topic: str = typer.Option("/octopus/audio", help="AudioData topic of the speech node."),
    transcript_topic: str = typer.Option("/octopus/transcript", help="Transcript topic of the speech node."),
    image: Optional[Path] = typer.Option(None, help="Image file to publish on the camera topic first (the "
                                                    "node pairs the command with it)."),
    camera: str = typer.Option("", help="Camera topic for the image / whose latest frame the node should use "
                                        "(default: the node's default camera; /camera/image_raw with --image)."),
    language: str = typer.Option("", help="Language of the command (en, zh); empty = detect."),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="Wait for the resulting FunctionCall (or the "
                                                              "status explaining no_action) and print it."),
    timeout: float = typer.Option(30.0, help="Seconds to wait for the node (and, with --wait, for the model "
                                             "to be ready and answer)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
    request_id: str = typer.Option("", help="Request id (default: a new unique one)."),
    frame_id: str = typer.Option("octopus_send_camera", help="header.frame_id of the published image."),
    max_size: int = typer.Option(448, help="Scale the image down so that its longer side is at most this many "
                                           "pixels before publishing (0 = as is). Camera topics are best effort: "
                                           "a raw 640x480 frame is sometimes lost in DDS, and the model looks at "
                                           "224x224 anyway."),
    command_topic: str = typer.Option("/octopus/command_msg", help="octopus_ros/Command topic of the node."),
    action_topic: str = typer.Option("/octopus/action", help="FunctionCall topic of the node."),
    status_topic: str = typer.Option("/octopus/status", help="AgentStatus topic of the node."),
    outcome_topic: str = typer.Option("/octopus/outcome", help="CommandOutcome topic of the node."),
) -> None:
    """Send a command (and optionally a camera image) to a running agent node."""
    rgb = None
    if image is not None:
        from octopus_ros.images import ImageError, load_image_file

        try:
            rgb = _fit(load_image_file(image), max_size)
        except ImageError as exc:
            raise _fail(str(exc), EXIT_USAGE)
    if image is not None and not camera:
        camera = "/camera/image_raw"
    if (text is None) == (audio is None):
        raise _fail("give either a command text or --audio FILE", EXIT_USAGE)
    if audio is not None:
        from octopus_ros.speech.client import send_audio

        code, out = send_audio(audio, rgb=rgb, camera=camera, rate=rate, chunk_ms=chunk_ms,
                               tail_silence_s=tail_silence, wait=wait, timeout=timeout, as_json=as_json,
                               audio_topic=audio_topic, transcript_topic=transcript_topic,
                               action_topic=action_topic, status_topic=status_topic,
                               command_topic=command_topic, frame_id=frame_id)
        if out:
            typer.echo(out)
        raise typer.Exit(code)
    request_id = request_id or f"send-{uuid.uuid4().hex[:12]}"
    code, out = _send(text, rgb, camera, language, wait, timeout, request_id, frame_id,
                      command_topic, action_topic, status_topic, as_json, outcome_topic)
    if out:
        typer.echo(out)
    raise typer.Exit(code)


def _fit(rgb, max_size: int):
    """Scale an RGB array down (keeping its aspect ratio) so that its longer side is <= max_size."""
    height, width = rgb.shape[:2]
    if max_size <= 0 or max(height, width) <= max_size:
        return rgb
    import numpy as np
    from PIL import Image

    scale = max_size / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(size, Image.Resampling.BILINEAR))


def _send(text, rgb, camera, language, wait, timeout, request_id, frame_id, command_topic, action_topic,
          status_topic, as_json, outcome_topic="/octopus/outcome") -> tuple[int, str]:
    import rclpy
    from rclpy.duration import Duration
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

    from octopus_ros.msg import AgentStatus, Command, CommandOutcome, FunctionCall

    deadline = time.monotonic() + timeout
    context = rclpy.context.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f"octopus_send_{os.getpid()}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    state: dict[str, Any] = {"call": None, "status": None, "outcome": None, "model_state": "", "model_error": ""}

    def spin_until(done, what: str) -> bool:
        while not done():
            left = deadline - time.monotonic()
            if left <= 0 or not context.ok():
                return False
            executor.spin_once(timeout_sec=min(0.05, left))
        return True

    try:
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        cmd_pub = node.create_publisher(Command, command_topic, reliable)
        img_pub = None
        if rgb is not None:
            from sensor_msgs.msg import Image

            img_pub = node.create_publisher(Image, camera, qos_profile_sensor_data)
        if wait:
            def on_call(msg):
                if msg.request_id == request_id and state["call"] is None:
                    state["call"] = msg

            def on_status(msg):
                state["model_state"] = msg.model_state
                if msg.model_state == "error":
                    state["model_error"] = msg.last_error or msg.message
                if msg.last_request_id == request_id and msg.last_outcome not in ("", "ok"):
                    state["status"] = state["status"] or msg

            def on_outcome(msg):
                if msg.request_id == request_id and state["outcome"] is None:
                    state["outcome"] = msg

            node.create_subscription(FunctionCall, action_topic, on_call, reliable)
            node.create_subscription(CommandOutcome, outcome_topic, on_outcome,
                                     QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
            node.create_subscription(
                AgentStatus, status_topic, on_status,
                QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL))

        # Discovery: wait until the node's subscriptions are matched (no fixed sleeps).
        if not spin_until(lambda: cmd_pub.get_subscription_count() > 0, "command subscriber"):
            return EXIT_TIMEOUT, _err(f"no subscriber on {command_topic} after {timeout:.0f} s: is the agent node "
                                      "running (octopus-ros run) in the same ROS_DOMAIN_ID?")
        if img_pub is not None and not spin_until(lambda: img_pub.get_subscription_count() > 0, "camera"):
            return EXIT_TIMEOUT, _err(f"nobody subscribes to the camera topic {camera} (check the node's "
                                      "camera_topics parameter)")
        if wait:
            if not spin_until(lambda: state["model_state"] in ("ready", "error"), "model"):
                return EXIT_TIMEOUT, _err(f"the model is not ready after {timeout:.0f} s "
                                          f"(last state: {state['model_state'] or 'no status received'})")
            if state["model_state"] == "error":
                return EXIT_FAILED, _err(f"the node's model failed to load: {state['model_error']}")

        now = node.get_clock().now().to_msg()
        if img_pub is not None:
            from octopus_ros.images import rgb_to_image_msg

            img_pub.publish(rgb_to_image_msg(rgb, frame_id=frame_id, stamp=now))
        cmd = Command()
        cmd.header.stamp = now
        cmd.request_id = request_id
        cmd.text = text
        cmd.language = language
        cmd.camera = camera
        cmd_pub.publish(cmd)
        if not wait:
            # The command went out on publish(); an acknowledgement usually follows within milliseconds but
            # can take a DDS heartbeat period (seconds), so wait for it only briefly.
            if not cmd_pub.wait_for_all_acked(Duration(seconds=max(0.0, min(1.0, deadline - time.monotonic())))):
                typer.echo(f"octopus-ros: note: the node has not acknowledged request {request_id} yet", err=True)
            return EXIT_OK, f"sent request {request_id}"

        def answered() -> bool:
            outcome = state["outcome"]
            if outcome is not None and outcome.outcome in ("call", "confirmed"):
                return state["call"] is not None  # the FunctionCall is published just before its outcome
            return outcome is not None or state["call"] is not None or state["status"] is not None

        if not spin_until(answered, "answer"):
            return EXIT_TIMEOUT, _err(f"no FunctionCall or status for request {request_id} within {timeout:.0f} s")
        if state["call"] is not None:
            return EXIT_OK, _dump({"function_call": message_to_dict(state["call"])}, as_json)
        outcome = state["outcome"]
        if outcome is not None and outcome.outcome not in ("no_action", "error", "queue_full"):
            # pending / low_confidence / policy: the node decided, and did not publish (yet); say why.
            spin_until(lambda: state["status"] is not None, "status")  # its status line, if it comes soon
            data = {"outcome": message_to_dict(outcome)}
            if state["status"] is not None:
                data["status"] = message_to_dict(state["status"])
            return EXIT_OK, _dump(data, as_json)
        if state["status"] is None:
            spin_until(lambda: state["status"] is not None, "status")
        status = state["status"]
        if status is None:  # only the outcome arrived
            code = EXIT_OK if outcome.outcome == "no_action" else EXIT_FAILED
            return code, _dump({"outcome": message_to_dict(outcome)}, as_json)
        # no_action, or output the model could not finish as a valid call (treated as no_action): a decision.
        code = EXIT_OK if status.last_outcome in ("no_action", "invalid_output") else EXIT_FAILED
        return code, _dump({"status": message_to_dict(status)}, as_json)
    finally:
        executor.shutdown(timeout_sec=0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def _err(message: str) -> str:
    typer.echo(f"octopus-ros: {message}", err=True)
    return ""


# ---- infer ----------------------------------------------------------------------------------------
@app.command(
    epilog="Examples:\n\n"
           "  octopus-ros infer \"turn on the kitchen light\"\n\n"
           "  octopus-ros infer \"pick that up\" --image mug.jpg --model tiny-random --json",
)
def infer(
    text: str = typer.Argument(..., help="The command."),
    image: Optional[Path] = typer.Option(None, help="Image file (the camera frame)."),
    model: str = typer.Option("default", help="Model profile name, profile YAML or checkpoint folder."),
    functions: Optional[Path] = typer.Option(None, help="Functions YAML (default: the model's own)."),
    language: str = typer.Option("", help="Language of the command (en, zh); empty = detect."),
    threads: int = typer.Option(0, help="CPU threads (0 = torch's default)."),
    taught: Optional[Path] = typer.Option(None, help="Objects taught from photos (`octopus-ros objects teach`)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
) -> None:
    """Run the model once, offline (no ROS): text (+ image) -> function call."""
    rgb = None
    if image is not None:
        from octopus_ros.images import ImageError, load_image_file

        try:
            rgb = load_image_file(image)
        except ImageError as exc:
            raise _fail(str(exc), EXIT_USAGE)
    from octopus_ros.model import ModelLoadError, OctopusAgent

    try:
        agent = OctopusAgent.load(model, functions=functions, threads=threads or None, taught=taught)
    except ModelLoadError as exc:
        raise _fail(str(exc), EXIT_FAILED)
    result = agent.infer(text, rgb, language or None)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif result.outcome == "call":
        args = ", ".join(f"{name}={value!r}" for name, value in result.arguments.items())
        typer.echo(f"{result.function_name}({args})  confidence={result.confidence:.2f}  "
                   f"{result.timings_ms.get('total', 0):.0f} ms")
    else:
        typer.echo(f"{result.outcome}: {result.reason}")
    raise typer.Exit(EXIT_FAILED if result.outcome == "error" else EXIT_OK)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    leave_out_triton()
    try:
        app(args=argv, prog_name="octopus-ros", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
