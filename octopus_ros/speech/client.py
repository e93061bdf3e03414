"""Publishing recordings as ``octopus_ros/AudioData`` the way a live microphone does, and waiting for what
the speech node (Transcript) and the agent (FunctionCall / AgentStatus) make of them.

Used by ``octopus-ros send --audio FILE``, the tests and the speech benchmark.
"""
from __future__ import annotations

import array
import os
import time
import uuid
from typing import Any, Callable

from octopus_ros.speech.audio import Recording, encode_samples, read_recording


def audio_messages(rec: Recording, chunk_ms: float = 100.0, start_ns: int = 0, frame_id: str = "",
                   tail_silence_s: float = 0.0, lead_silence_s: float = 0.0):
    """Yield (offset_s, AudioData) chunks of ``rec`` in its own format, stamped start_ns + offset.

    Silence before/after (in the recording's format) stands for a microphone that keeps running."""
    from octopus_ros.msg import AudioData

    frame = rec.frame_bytes
    per_chunk = max(1, int(rec.sample_rate * chunk_ms / 1000.0)) * frame
    silence_unit = encode_samples([0.0] * rec.channels, rec.encoding)  # one frame of silence
    lead = silence_unit * int(lead_silence_s * rec.sample_rate)
    tail = silence_unit * int(tail_silence_s * rec.sample_rate)
    data = lead + rec.data + tail
    for pos in range(0, len(data), per_chunk):
        piece = data[pos:pos + per_chunk]
        offset_s = pos / frame / rec.sample_rate
        msg = AudioData()
        ns = start_ns + round(offset_s * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
        msg.header.frame_id = frame_id
        msg.sample_rate = rec.sample_rate
        msg.channels = rec.channels
        msg.encoding = rec.encoding
        msg.data = array.array("B", piece)
        yield offset_s, msg


class SpeechClient:
    """An rclpy node (own context) that publishes audio and collects Transcripts, FunctionCalls and statuses."""

    def __init__(self, audio_topic: str = "/octopus/audio", transcript_topic: str = "/octopus/transcript",
                 action_topic: str = "/octopus/action", status_topic: str = "/octopus/status",
                 command_topic: str = "/octopus/command_msg", image_topic: str = "",
                 domain_id: int | None = None, watch_commands: bool = False) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

        from octopus_ros.msg import AgentStatus, AudioData, Command, FunctionCall, Transcript

        self.context = rclpy.context.Context()
        if domain_id is None:
            rclpy.init(context=self.context)
        else:
            rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f"octopus_speech_client_{os.getpid()}_{uuid.uuid4().hex[:6]}",
                                      context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
        self.audio_pub = self.node.create_publisher(AudioData, audio_topic, reliable)
        self.image_pub = None
        if image_topic:
            from sensor_msgs.msg import Image

            self.image_pub = self.node.create_publisher(Image, image_topic, qos_profile_sensor_data)
        self.transcripts: list[tuple[float, Any]] = []  # (receipt time.time(), Transcript)
        self.calls: list[tuple[float, Any]] = []
        self.statuses: list[tuple[float, Any]] = []
        self.commands: list[tuple[float, Any]] = []
        self.node.create_subscription(Transcript, transcript_topic, lambda m: self.transcripts.append((time.time(), m)),
                                      reliable)
        self.node.create_subscription(FunctionCall, action_topic, lambda m: self.calls.append((time.time(), m)),
                                      reliable)
        self.node.create_subscription(
            AgentStatus, status_topic, lambda m: self.statuses.append((time.time(), m)),
            QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        if watch_commands:
            self.node.create_subscription(Command, command_topic, lambda m: self.commands.append((time.time(), m)),
                                          reliable)

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def spin_until(self, cond: Callable[[], Any], timeout: float) -> Any:
        from octopus_ros.node.runtime import spin_until

        return spin_until(self.executor, cond, timeout, 0.02)

    def wait_audio_subscriber(self, timeout: float) -> bool:
        return bool(self.spin_until(lambda: self.audio_pub.get_subscription_count() > 0, timeout))

    def model_state(self, since_ns: int = 0) -> str:
        """The agent's model_state from the newest status stamped at or after since_ns. Pass the time an
        agent was started: statuses of an earlier agent can still be queued for this client (transient
        local, and nothing was taken while the client did not spin), and one saying "ready" would let a
        caller talk to an agent that is still loading."""
        return next((s.model_state for _, s in reversed(self.statuses)
                     if s.model_state and stamp_ns(s.header.stamp) >= since_ns), "")

    def stream(self, rec: Recording, rate: float = 1.0, chunk_ms: float = 100.0, tail_silence_s: float = 1.0,
               lead_silence_s: float = 0.0, frame_id: str = "octopus_send_mic") -> tuple[int, int]:
        """Publish ``rec`` as AudioData chunks. ``rate`` 1.0 = real time, 2.0 = twice as fast, 0 = no pacing.
        Header stamps follow the recording's own timeline from the moment publishing starts (as a
        microphone's would at rate 1). Returns (start_ns, end_ns) of the recording itself (without the
        added silence) on that timeline."""
        start_ns = self.now_ns()
        t0 = time.monotonic()
        for offset_s, msg in audio_messages(rec, chunk_ms, start_ns, frame_id, tail_silence_s, lead_silence_s):
            if rate > 0:
                delay = t0 + offset_s / rate - time.monotonic()
                if delay > 0:
                    self.spin_until(lambda: False, delay)
            self.audio_pub.publish(msg)
            self.executor.spin_once(timeout_sec=0)
        rec_start = start_ns + round(lead_silence_s * 1e9)
        return rec_start, rec_start + round(rec.duration_s * 1e9)

    def transcripts_since(self, start_ns: int) -> list:
        return [m for _, m in self.transcripts
                if stamp_ns(m.utterance_start) >= start_ns - 500_000_000]

    def answer(self, request_id: str):
        """(receipt time, "call", FunctionCall) or (receipt time, outcome, AgentStatus) or None: the agent's
        FunctionCall for the request, else the first status that reports an outcome for it."""
        for t, call in self.calls:
            if call.request_id == request_id:
                return t, "call", call
        for t, status in self.statuses:
            if status.last_request_id == request_id and status.last_outcome not in ("", "ok"):
                return t, status.last_outcome, status
        return None

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def send_audio(path, *, rgb=None, camera: str = "", rate: float = 1.0, chunk_ms: float = 100.0,
               tail_silence_s: float = 1.0, wait: bool = False, timeout: float = 30.0, as_json: bool = False,
               audio_topic: str = "/octopus/audio", transcript_topic: str = "/octopus/transcript",
               action_topic: str = "/octopus/action", status_topic: str = "/octopus/status",
               command_topic: str = "/octopus/command_msg", frame_id: str = "octopus_send_camera",
               raw_rate: int = 16000) -> tuple[int, str]:
    """`octopus-ros send --audio FILE`: (exit code, text to print)."""
    import typer

    from octopus_ros.cli import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, _dump, message_to_dict
    from octopus_ros.speech.audio import AudioError

    try:
        rec = read_recording(path, raw_rate=raw_rate)
    except AudioError as exc:
        typer.echo(f"octopus-ros: {exc}", err=True)
        return EXIT_USAGE, ""
    client = SpeechClient(audio_topic, transcript_topic, action_topic, status_topic,
                          image_topic=camera if rgb is not None else "")
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    def err(code: int, message: str) -> tuple[int, str]:
        typer.echo(f"octopus-ros: {message}", err=True)
        return code, ""

    try:
        if not client.wait_audio_subscriber(left()):
            return err(EXIT_TIMEOUT, f"no subscriber on {audio_topic} after {timeout:.0f} s: is the speech node "
                                     "running (octopus-ros speech-node) in the same ROS_DOMAIN_ID?")
        if client.image_pub is not None:
            if not client.spin_until(lambda: client.image_pub.get_subscription_count() > 0, left()):
                return err(EXIT_TIMEOUT, f"nobody subscribes to the camera topic {camera}")
            from octopus_ros.images import rgb_to_image_msg

            client.image_pub.publish(rgb_to_image_msg(rgb, frame_id=frame_id,
                                                      stamp=client.node.get_clock().now().to_msg()))
        t_start = time.monotonic()
        start_ns, end_ns = client.stream(rec, rate=rate, chunk_ms=chunk_ms, tail_silence_s=tail_silence_s)
        if not wait:
            return EXIT_OK, (f"published {rec.duration_s:.2f} s of audio ({rec.sample_rate} Hz, {rec.channels} ch, "
                             f"{rec.encoding}) on {audio_topic} in {time.monotonic() - t_start:.2f} s")
        found = client.spin_until(lambda: client.transcripts_since(start_ns), left())
        if not found:
            return err(EXIT_TIMEOUT, f"no Transcript on {transcript_topic} within {timeout:.0f} s")
        # the recogniser may split the recording into several utterances: wait for those still in progress
        client.spin_until(lambda: False, min(left(), 0.5))
        transcripts = client.transcripts_since(start_ns)
        out: dict[str, Any] = {"transcripts": [message_to_dict(t) for t in transcripts]}
        code = EXIT_OK
        answers = []
        agent_listening = client.node.count_subscribers(command_topic) > 0
        if not agent_listening:
            typer.echo(f"octopus-ros: note: nobody subscribes to {command_topic} (no agent node): "
                       "not waiting for a FunctionCall", err=True)
        for t in transcripts:
            if not t.text or not agent_listening:
                continue
            got = client.spin_until(lambda rid=t.request_id: client.answer(rid), left())
            if not got:
                code = EXIT_TIMEOUT
                typer.echo(f"octopus-ros: no FunctionCall or status for {t.request_id} (is the agent node running? "
                           f"a transcript below min_confidence is not sent as a command)", err=True)
                continue
            _, kind, msg = got
            answers.append({"function_call" if kind == "call" else "status": message_to_dict(msg)})
            if kind in ("error", "dropped"):
                code = EXIT_FAILED
        out["answers"] = answers
        if not answers and any(t.text for t in transcripts) and code == EXIT_OK:
            out["note"] = "no answer from an agent node"
        return code, _dump(out, as_json)
    finally:
        client.close()


def stamp_ns(stamp) -> int:
    """A builtin_interfaces/Time as integer nanoseconds."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec
