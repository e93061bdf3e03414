"""The agent node end to end over real DDS, with the tiny random model of the real architecture.

The node is started as a subprocess exactly as launch_ros starts it:
    agent_node --ros-args --params-file config/agent.yaml -p model:=tiny-random
Waits use subscription matching / wait_for_service / message arrival, never fixed sleeps.

The tiny model's weights are random, so WHICH function it picks for a text is arbitrary (but
deterministic). Tests therefore accept either a FunctionCall or a no_action/invalid_output status
where the model decides, and check every published FunctionCall field by field against the registry.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ros_helpers import RANDOM_MODEL_POLICY, REPO, NodeProcess, RosClient, isolated_node, ros_subprocess_env

pytestmark = [pytest.mark.ros]

rclpy = pytest.importorskip("rclpy")

# Commands to try when a test needs a real FunctionCall from the random model.
CANDIDATES = ["turn on the kitchen light", "打开客厅的台灯", "go forward ten meters", "pick that up",
              "set a timer for five minutes", "volume to 40", "what's the weather in Beijing?",
              "text Bob I'm running late", "关掉风扇", "find my keys", "stop", "add milk to my shopping list"]


COMPRESSED = "/camera/image_raw/compressed"


@pytest.fixture(scope="module")
def registry():
    from octopus_ros.actions import ActionRegistry
    from octopus_ros.actions.registry import default_path

    return ActionRegistry.from_yaml(default_path())


@pytest.fixture(scope="module")
def node(tmp_path_factory, ros_domain_id):
    proc = NodeProcess(tmp_path_factory.mktemp("node") / "agent_node.log", "-p", "model:=tiny-random",
                       "-p", f"compressed_camera_topics:=[{COMPRESSED}]", "-p", f"policy_file:={RANDOM_MODEL_POLICY}")
    yield proc
    if proc.alive():
        code = proc.stop(signal.SIGTERM)
        assert code == 0, f"exit code {code} after SIGTERM:\n{proc.log()}"


@pytest.fixture(scope="module")
def client(node, ros_domain_id):
    c = RosClient(ros_domain_id, compressed_camera=COMPRESSED)
    try:
        c.wait_connected(60)
        state = c.wait_model_state()
        assert state == "ready", f"model failed to load:\n{node.log()}"
        yield c
    finally:
        c.close()


def _image(seed: int, frame_id: str, sec: int, nanosec: int, size=(48, 64)):
    from builtin_interfaces.msg import Time

    from octopus_ros.images import rgb_to_image_msg

    rgb = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    return rgb_to_image_msg(rgb, "rgb8", frame_id=frame_id, stamp=Time(sec=sec, nanosec=nanosec))


def check_call(call, registry, text: str | None = None) -> None:
    """Every field of a published FunctionCall is filled and consistent with the registry."""
    spec = registry.by_name(call.function_name)
    assert spec is not None and spec.name != registry.no_action.name
    assert call.token_id == spec.index
    assert call.request_id
    arguments = json.loads(call.arguments_json)
    assert registry.validate_arguments(spec.name, arguments) == []
    assert [a.name for a in call.arguments] == [a.name for a in spec.args]
    for arg, typed in zip(spec.args, call.arguments):
        assert typed.type == arg.type
        if arg.type in ("int", "float"):
            assert float(typed.value) == pytest.approx(float(arguments[arg.name]))
        else:
            assert typed.value == arguments[arg.name]
    assert 0.0 <= call.confidence <= 1.0
    assert call.header.stamp.sec > 0
    assert call.inference_ms > 0
    assert call.raw_output.startswith(spec.token) and call.raw_output.endswith(registry.end_token)
    assert call.language in ("en", "zh")
    if text is not None:
        assert call.command_text == text
    if not call.has_image:
        assert (call.image_stamp.sec, call.image_stamp.nanosec, call.camera_topic) == (0, 0, "")


def first_call(client, texts=CANDIDATES, before_each=None, **send_kwargs):
    """Send candidate texts until the random model answers one with a FunctionCall."""
    outcomes = []
    for i, text in enumerate(texts):
        if before_each is not None:
            before_each(i)
        kind, msg = client.result(client.send(text, **send_kwargs))
        if kind == "call":
            return text, msg, outcomes
        outcomes.append((text, kind, msg.message))
    pytest.fail(f"no FunctionCall for any candidate text: {outcomes}")


def test_text_command_gives_function_call(client, registry):
    text, call, _ = first_call(client)
    check_call(call, registry, text)
    assert not call.has_image or call.camera_topic == "/camera/image_raw"


def test_string_topic_and_command_msg_agree(client, registry):
    text, call, _ = first_call(client)
    before = len(client.actions)
    client.string_pub.publish(client.String(data=f"  {text}\n"))  # whitespace is normalised
    found = client.spin_until(lambda: next((c for c in client.actions[before:] if c.command_text == text), None), 120)
    assert found, "no FunctionCall for the std_msgs/String command"
    assert found.request_id != call.request_id  # assigned by the node
    assert (found.function_name, found.arguments_json) == (call.function_name, call.arguments_json)  # deterministic


def test_image_pairs_with_the_sent_frame(client, registry):
    def send_frame(i):
        client.publish_image(_image(i, f"test_cam_{i}", 1000 + i, 500 + i))

    text, call, _ = first_call(client, before_each=send_frame)
    i = int(call.header.frame_id.rsplit("_", 1)[1])
    check_call(call, registry, text)
    assert call.has_image
    assert call.header.frame_id == f"test_cam_{i}"
    assert (call.image_stamp.sec, call.image_stamp.nanosec) == (1000 + i, 500 + i)
    assert call.camera_topic == "/camera/image_raw"


def test_compressed_camera(client):
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import CompressedImage

    from octopus_ros.images import rgb_to_compressed_msg

    bad = CompressedImage(format="jpeg", data=b"definitely not a jpeg")
    bad.header.frame_id = "bad_jpeg"
    for _ in range(5):  # best effort: resend if lost
        client.compressed_pub.publish(bad)
        if client.status_matching(lambda s: "frame_id 'bad_jpeg'" in s.message and "bad image" in s.message, 2.0):
            break
    else:
        pytest.fail("an undecodable compressed frame was not reported on status")
    rgb = np.random.default_rng(5).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    good = rgb_to_compressed_msg(rgb, "jpeg", frame_id="jpeg_cam", stamp=Time(sec=77, nanosec=1))
    for _ in range(3):  # best effort: a lost frame means a request without an image; try again
        client.compressed_pub.publish(good)
        kind, msg = client.result(client.send("pick that up", camera=COMPRESSED))
        if kind == "call" and msg.has_image:
            assert msg.header.frame_id == "jpeg_cam" and msg.camera_topic == COMPRESSED
            assert (msg.image_stamp.sec, msg.image_stamp.nanosec) == (77, 1)
            return
        if kind != "call" and "no image" not in msg.message:
            assert f"image {COMPRESSED} frame_id 'jpeg_cam' stamp 77.000000001" in msg.message, msg.message
            return
    pytest.fail("the compressed frame never reached the node")


def test_unknown_camera_is_reported(client):
    rid = client.send("pick that up", camera="/no/such/camera")
    kind, status = client.result(rid)
    assert kind == "error" and "unknown camera" in status.message


def test_query_service(client, registry):
    from octopus_ros.images import rgb_to_image_msg

    request = client.Query.Request(text="pick that up", language="en", has_image=True)
    request.image = _image(7, "query_cam", 42, 7)
    response = client.call_query(request)
    if response.success:
        call = response.call
        assert call.function_name in [f.name for f in registry.functions]
        assert call.has_image and call.header.frame_id == "query_cam" and call.image_stamp.sec == 42
        assert call.camera_topic == ""
        if call.function_name != registry.no_action.name:
            check_call(call, registry, "pick that up")
    else:
        assert response.error  # invalid_output from the random model: says why
    bad = client.call_query(client.Query.Request(text="   "))
    assert not bad.success and "empty command" in bad.error
    bad_image = client.Query.Request(text="pick that up", has_image=True)
    bad_image.image = rgb_to_image_msg(np.zeros((8, 8, 3), np.uint8))
    bad_image.image.step = 3
    response = client.call_query(bad_image)
    assert not response.success and "wrong step" in response.error


def test_survives_malformed_images_and_bad_commands(client, node, registry):
    from sensor_msgs.msg import Image

    from test_images import random_malformed_image

    rng = np.random.default_rng(7)
    for i in range(100):
        bad = random_malformed_image(rng, i)
        msg = Image(height=bad.height, width=bad.width, encoding=bad.encoding, step=bad.step, data=bad.data)
        msg.header.frame_id = f"bad-{i}"
        needle = f"frame_id 'bad-{i}'"
        for _ in range(5):  # the camera subscription is best effort: resend if a frame was lost
            client.publish_image(msg)
            if client.status_matching(lambda s: needle in s.message, timeout=2.0):
                break
        else:
            pytest.fail(f"malformed image {i} ({bad.encoding} {bad.width}x{bad.height} step {bad.step}) "
                        "was not reported on status")
    assert node.alive()

    bad_commands = {"empty": "", "blank": " \n\t ", "1 MB": "x" * (1 << 20), "SOH": "turn on\x01 the light",
                    "escape": "\x1b[2Jstop", "bell": "go forward\x07"}
    for name, text in bad_commands.items():
        kind, status = client.result(client.send(text, request_id=f"bad-command-{name.replace(' ', '')}"))
        assert kind == "error", (name, status.message)
        assert status.level >= 1 and "rejected" in status.message and status.last_error
    assert node.alive()

    text, call, _ = first_call(client)  # the next valid command still gets its FunctionCall
    check_call(call, registry, text)


def test_flood_every_request_is_answered_or_dropped(client):
    rids = [client.send(f"go forward {n} meters") for n in range(20)]
    results = {rid: client.result(rid)[0] for rid in rids}
    assert set(results.values()) <= {"call", "no_action", "invalid_output", "dropped", "pending", "policy"}, results
    assert results[rids[-1]] != "dropped"  # the newest request is never the one dropped
    status = client.statuses[-1]
    assert status.queue_capacity == 8


def test_send_cli_prints_function_call(client, registry, tmp_path):
    text = "turn on the kitchen light"
    expected_kind, expected = client.result(client.send(text))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "octopus_ros.cli", "send", text, "--wait", "--timeout", "120"],
                          capture_output=True, text=True, env=ros_subprocess_env(), cwd=REPO, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 150
    if expected_kind == "call":  # the model is deterministic: the same decision as over the topic
        assert "function_call:" in proc.stdout
        assert f"function_name: {expected.function_name}" in proc.stdout
        assert "request_id: send-" in proc.stdout
    else:
        assert "status:" in proc.stdout and expected_kind in proc.stdout


def test_send_cli_with_image(client, registry, tmp_path):
    """A 640x480 photo-sized frame: `send` scales it to 448 px and publishes it before the command; the
    decision (a FunctionCall, or the status line explaining no_action) names the frame it used."""
    from PIL import Image as PILImage

    path = tmp_path / "frame.png"
    PILImage.fromarray(np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(path)
    proc = subprocess.run([sys.executable, "-m", "octopus_ros.cli", "send", "pick that up", "--image", str(path),
                           "--wait", "--json", "--frame-id", "cli_cam", "--timeout", "120"],
                          capture_output=True, text=True, env=ros_subprocess_env(), cwd=REPO, timeout=180)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    if "function_call" in out:
        call = out["function_call"]
        assert call["has_image"] and call["header"]["frame_id"] == "cli_cam"
        assert call["camera_topic"] == "/camera/image_raw"
        assert call["image_stamp"]["sec"] > 0
    else:
        assert out["status"]["last_outcome"] in ("no_action", "invalid_output")
        assert "image /camera/image_raw frame_id 'cli_cam'" in out["status"]["message"]


def test_send_cli_without_node_times_out(ros_domain_id):
    proc = subprocess.run([sys.executable, "-m", "octopus_ros.cli", "send", "hello", "--timeout", "2",
                           "--command-topic", "/nobody/listens"],
                          capture_output=True, text=True, env=ros_subprocess_env(), cwd=REPO, timeout=60)
    assert proc.returncode == 3 and "no subscriber" in proc.stderr


# ---- separate node processes ------------------------------------------------------------------------
def test_no_action_publishes_nothing_and_reports_status(tmp_path, ros_domain_id):
    """A registry whose only function is no_action: every decision is no_action, deterministically. The node
    also runs with the opt-in int8 token embeddings (the `quantize` parameter overrides the profile's)."""
    functions = tmp_path / "only_no_action.yaml"
    functions.write_text("schema_version: 1\nno_action: no_action\nend_token: \"<nexa_end>\"\n"
                         "token_format: \"<nexa_{index}>\"\nfunctions:\n"
                         "  - {name: no_action, description: Do nothing., args: []}\n")
    with isolated_node(tmp_path, "noact", ros_domain_id, "-p", "model:=tiny-random",
                       "-p", f"functions_file:={functions}", "-p", "quantize:=int8-embedding",
                       stop_signal=signal.SIGINT) as (proc, c):
        assert c.spin_until(lambda: '"quantize": "int8-embedding"' in proc.log(), 10), proc.log()
        rid = c.send("turn on the kitchen light")
        kind, status = c.result(rid)
        assert kind == "no_action"
        assert "no_action" in status.message and "turn on the kitchen light" in status.message
        assert status.level == 0 and status.last_request_id == rid
        assert c.outcome(rid).outcome == "no_action"
        # nothing on the action topic, even after a query round trip has flushed the pipeline
        response = c.call_query(c.Query.Request(text="stop"))
        assert response.success and response.call.function_name == "no_action"
        assert c.actions == []
        # Stopping while requests are queued / in the model must not hang (stop() times out otherwise).
        for n in range(5):
            c.send(f"go forward {n} meters")
        c.spin_until(lambda: any(s.queue_depth > 0 or "go forward" in s.message for s in c.statuses), 10)


def test_failed_model_load_keeps_node_alive(tmp_path, ros_domain_id):
    with isolated_node(tmp_path, "broken", ros_domain_id, "-p", f"model:={tmp_path / 'no_such_model.yaml'}",
                       expect_state="error", model_timeout=120) as (proc, c):
        status = c.statuses[-1]
        assert status.level == 2 and "model load failed" in status.last_error
        rid = c.send("turn on the light")
        kind, status = c.result(rid)
        assert kind == "error" and "model not ready" in status.message
        assert c.outcome(rid).outcome == "error"
        response = c.call_query(c.Query.Request(text="stop"))
        assert not response.success and "model not ready" in response.error
        assert proc.alive()



def test_the_teach_service_explains_what_it_cannot_do(tmp_path, ros_domain_id):
    """Teaching needs a model with an object lexicon and a photo. A taught-objects file that does not exist yet
    is no load error (the service creates it); one that exists is loaded, and a model without a lexicon cannot
    take it: a load error the node survives."""
    from octopus_ros.images import rgb_to_image_msg

    missing = tmp_path / "taught.safetensors"
    with isolated_node(tmp_path, "teach", ros_domain_id, "-p", "model:=tiny-random",
                       "-p", f"taught_objects:={missing}") as (proc, c):
        teach = c.TeachObject.Request(name_en="blue mug")
        response = c.call_service(c.teach_client, teach)
        assert not response.success and "no frame younger than" in response.error, response.error
        teach.images = [rgb_to_image_msg(np.full((48, 64, 3), 90, np.uint8))]
        response = c.call_service(c.teach_client, teach)
        assert not response.success and "object lexicon" in response.error, response.error
        assert not missing.exists() and proc.alive()
    missing.write_bytes(b"not safetensors")
    with isolated_node(tmp_path, "taught", ros_domain_id, "-p", "model:=tiny-random",
                       "-p", f"taught_objects:={missing}", expect_state="error", model_timeout=120) as (proc, c):
        error = c.statuses[-1].last_error
        assert "model load failed" in error and "object lexicon" in error, error
        assert proc.alive()
