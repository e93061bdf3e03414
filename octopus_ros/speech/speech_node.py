"""The speech node: ``octopus_ros/AudioData`` in, ``octopus_ros/Transcript`` and ``octopus_ros/Command`` out.

Run it with ``ros2 run octopus_ros speech_node``, ``octopus-ros speech-node`` or ``scripts/speech_node``,
with ROS arguments, e.g. ``--ros-args --params-file config/agent.yaml -p model:=base``.

Pipeline (names are parameters; defaults shown):

1. ``/octopus/audio`` (``audio_topic``) ``octopus_ros/AudioData`` chunks, reliable QoS depth 200 (or best
   effort with ``audio_reliable: false``, which also matches best-effort microphone drivers). Any
   sample rate, 1..n interleaved channels, encodings S16LE / S32LE / F32LE / U8. Each chunk is decoded,
   averaged to mono and resampled to 16 kHz (windowed-sinc, state kept across chunks) in the
   subscription callback (about 1 % of a core for 48 kHz input).
2. VAD (``vad``: auto = Silero VAD v6 from the faster-whisper wheel if it loads, else the energy
   detector) and utterance segmentation with hysteresis (``vad_threshold``, ``vad_neg_threshold``,
   ``min_speech_ms``, ``min_silence_ms``, ``speech_pad_ms``); an utterance is cut at ``max_utterance_s``;
   an open utterance is also ended when no audio arrives for ``idle_flush_s`` (microphone stopped).
3. Each utterance goes into a bounded queue (``queue_size``; when full the OLDEST waiting utterance is
   dropped and logged) served by ONE worker thread running faster-whisper (``model``: tiny.en or base,
   CPU int8, ``threads``). Audio keeps flowing and being segmented while the worker recognises, so a
   long utterance or a slow model never blocks the subscription, and silence costs only the VAD.
4. ``/octopus/transcript`` (``transcript_topic``) ``octopus_ros/Transcript`` for every utterance (text ""
   when nothing was recognised), reliable depth 50; and, when the text is not empty, the confidence at
   least ``min_confidence`` and the utterance was not cut at ``max_utterance_s``, an
   ``octopus_ros/Command`` on ``/octopus/command_msg`` (``command_topic``) with the same request_id,
   the detected language ("en", "zh", ...) and ``header.stamp`` = the time of the utterance's first
   voiced sample (in the clock of the AudioData headers).

Timing: a chunk's ``header.stamp`` is the capture time of its first sample; sample k of a chunk is at
stamp + k / sample_rate. A chunk with a zero stamp is stamped on arrival (now - its duration).
"""
from __future__ import annotations

import bisect
import collections
import itertools
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from builtin_interfaces.msg import Time as TimeMsg
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from octopus_ros.msg import AudioData, Command, Transcript
from octopus_ros.node.request_queue import RequestQueue
from octopus_ros.node.runtime import ParamSpec, declare_parameters, spin_until_shutdown
from octopus_ros.speech.audio import TARGET_RATE, AudioError, StreamResampler, decode_samples
from octopus_ros.speech.vad import SegmenterConfig, Utterance, UtteranceSegmenter, make_vad

NODE_NAME = "octopus_speech"
_P = Parameter.Type


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("audio_topic", "/octopus/audio", _P.STRING, "octopus_ros/AudioData input topic."),
    ParamSpec("audio_reliable", True, _P.BOOL,
              "Subscribe to audio with reliable QoS (depth 200). false = best effort, which also matches "
              "best-effort publishers but may lose chunks under load."),
    ParamSpec("transcript_topic", "/octopus/transcript", _P.STRING, "octopus_ros/Transcript output topic."),
    ParamSpec("command_topic", "/octopus/command_msg", _P.STRING,
              "octopus_ros/Command output topic (the agent node's command_msg_topic)."),
    ParamSpec("publish_commands", True, _P.BOOL, "Publish a Command for each recognised utterance."),
    ParamSpec("model", "tiny.en", _P.STRING,
              "Speech model: a profile of config/speech/models.yaml (tiny.en: English only; base: "
              "multilingual) or a CTranslate2 Whisper folder."),
    ParamSpec("language", "", _P.STRING,
              "Language hint (\"en\", \"zh\", ...); \"\" = detect per utterance (multilingual models)."),
    ParamSpec("allowed_languages", ["en", "zh"], _P.STRING_ARRAY,
              "When detecting: a detected language outside this list is replaced by the most probable one "
              "in it. [\"\"] = any language."),
    ParamSpec("camera", "", _P.STRING, "Command.camera of the published commands (\"\" = the agent's default)."),
    ParamSpec("threads", 2, _P.INTEGER, "CPU threads for recognition."),
    ParamSpec("beam_size", 1, _P.INTEGER, "Beam size of the decoder (1 = greedy, fastest)."),
    ParamSpec("min_confidence", 0.3, _P.DOUBLE,
              "Transcripts with a lower confidence (exp of the mean token log-probability) are published "
              "but not sent as commands."),
    ParamSpec("vad", "auto", _P.STRING, "auto (Silero if available, else energy), silero or energy."),
    ParamSpec("vad_threshold", 0.5, _P.DOUBLE, "Speech probability that starts an utterance (Silero)."),
    ParamSpec("vad_neg_threshold", 0.35, _P.DOUBLE,
              "Inside an utterance, a frame counts as speech while its probability is at least this."),
    ParamSpec("energy_threshold_db", -45.0, _P.DOUBLE, "Energy VAD: minimum frame level in dBFS for speech."),
    ParamSpec("energy_margin_db", 10.0, _P.DOUBLE, "Energy VAD: minimum level above the noise floor."),
    ParamSpec("min_speech_ms", 200.0, _P.DOUBLE, "Utterances with less voiced audio are ignored (clicks)."),
    ParamSpec("min_silence_ms", 500.0, _P.DOUBLE, "Silence that ends an utterance."),
    ParamSpec("speech_pad_ms", 200.0, _P.DOUBLE, "Audio kept before and after the voiced part."),
    ParamSpec("max_utterance_s", 15.0, _P.DOUBLE,
              "Longer speech is cut here and recognised in pieces; pieces are published as transcripts "
              "but not sent as commands."),
    ParamSpec("idle_flush_s", 0.6, _P.DOUBLE,
              "End an open utterance when no audio arrived for this long (the microphone stopped)."),
    ParamSpec("queue_size", 4, _P.INTEGER,
              "Utterances waiting for recognition; when full the OLDEST waiting one is dropped (logged)."),
)


@dataclass
class Job:
    request_id: str
    utterance: Utterance
    start: int  # ns, clock of the audio headers
    end: int
    frame_id: str
    queued: float  # time.monotonic()


def _time_msg(ns: int) -> TimeMsg:
    ns = max(0, int(ns))
    return TimeMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class SampleClock:
    """Maps 16 kHz stream sample indices to header times (ns) from per-chunk anchors."""

    def __init__(self, keep: int = 4096) -> None:
        self._index: collections.deque[int] = collections.deque(maxlen=keep)
        self._ns: collections.deque[int] = collections.deque(maxlen=keep)

    def anchor(self, index: int, ns: int) -> None:
        self._index.append(index)
        self._ns.append(ns)

    def time_ns(self, index: int) -> int:
        if not self._index:
            return 0
        k = max(0, bisect.bisect_right(self._index, index) - 1)
        return self._ns[k] + round((index - self._index[k]) * 1e9 / TARGET_RATE)


class SpeechNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.params = self._declare_parameters()
        p = self.params
        from octopus_ros.speech.recognizer import silero_sha256

        self.vad, note = make_vad(p["vad"], p["energy_threshold_db"], p["energy_margin_db"], silero_sha256())
        if note:
            self.get_logger().warning(note)
        self.segmenter = UtteranceSegmenter(self.vad, SegmenterConfig(
            threshold=p["vad_threshold"], neg_threshold=min(p["vad_neg_threshold"], p["vad_threshold"]),
            min_speech_ms=p["min_speech_ms"], min_silence_ms=p["min_silence_ms"],
            speech_pad_ms=p["speech_pad_ms"], max_utterance_s=p["max_utterance_s"]))
        self.clock_map = SampleClock()
        self._lock = threading.Lock()  # audio callback vs idle timer
        self._resampler: StreamResampler | None = None
        self._format: tuple | None = None
        self._produced = 0  # 16 kHz samples produced so far
        self._last_audio = time.monotonic()
        self._frame_id = ""
        self._ids = itertools.count(1)
        self._id_prefix = uuid.uuid4().hex[:6]
        self.recognizer = None
        self.model_error = ""
        self._loaded = threading.Event()
        self.stats = {"chunks": 0, "bad_chunks": 0, "utterances": 0, "dropped": 0, "commands": 0}

        depth_qos = QoSProfile(depth=200, history=HistoryPolicy.KEEP_LAST,
                               reliability=ReliabilityPolicy.RELIABLE if p["audio_reliable"]
                               else ReliabilityPolicy.BEST_EFFORT)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.transcript_pub = self.create_publisher(Transcript, p["transcript_topic"], reliable)
        self.command_pub = self.create_publisher(Command, p["command_topic"],
                                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.queue: RequestQueue[Job] = RequestQueue(max(1, int(p["queue_size"])), self._recognise, self._on_drop,
                                                     self._on_error, name="octopus-speech-worker")
        self.create_subscription(AudioData, p["audio_topic"], self._on_audio, depth_qos)
        if p["idle_flush_s"] > 0:
            self.create_timer(min(0.1, p["idle_flush_s"] / 2), self._idle_check)
        self.queue.start()
        threading.Thread(target=self._load_model, name="octopus-speech-loader", daemon=True).start()
        self.get_logger().info(
            f"speech node up: model={p['model']!r}, vad={self.vad.name}, audio on {p['audio_topic']}, "
            f"transcripts on {p['transcript_topic']}, commands on {p['command_topic']}")

    # ---- parameters --------------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        values = declare_parameters(self, PARAMETERS)
        values["allowed_languages"] = [x.strip().lower() for x in values["allowed_languages"] if x.strip()]
        return values

    # ---- model -------------------------------------------------------------------------------------
    def _load_model(self) -> None:
        from octopus_ros.speech.recognizer import SpeechRecognizer

        try:
            self.recognizer = SpeechRecognizer.load(self.params["model"], threads=int(self.params["threads"]))
            self.get_logger().info(f"speech model ready: {self.recognizer.describe()}")
        except Exception as exc:  # noqa: BLE001 - report, keep running (utterances are logged and dropped)
            self.model_error = f"{type(exc).__name__}: {exc}"
            self.get_logger().error(f"speech model failed to load: {self.model_error}")
        finally:
            self._loaded.set()

    # ---- audio -------------------------------------------------------------------------------------
    def _on_audio(self, msg: AudioData) -> None:
        try:
            self._feed(msg)
        except AudioError as exc:
            self.stats["bad_chunks"] += 1
            self.get_logger().warning(f"bad audio chunk ignored: {exc}", throttle_duration_sec=2.0)
        except Exception as exc:  # noqa: BLE001 - bad input never stops the node
            self.stats["bad_chunks"] += 1
            self.get_logger().error(f"audio callback: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    def _feed(self, msg: AudioData) -> None:
        fmt = (int(msg.sample_rate), int(msg.channels), msg.encoding.strip().upper())
        if fmt[0] <= 0:
            raise AudioError(f"sample_rate must be positive, got {fmt[0]}")
        samples = decode_samples(msg.data, fmt[2], fmt[1])
        now_ns = self.get_clock().now().nanoseconds
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp_ns == 0:
            stamp_ns = now_ns - round(len(samples) * 1e9 / fmt[0])
        with self._lock:
            self._last_audio = time.monotonic()
            self._frame_id = msg.header.frame_id
            if fmt != self._format:
                if self._format is not None:
                    self.get_logger().info(f"audio format changed {self._format} -> {fmt}")
                self._resampler = StreamResampler(fmt[0], TARGET_RATE)
                self._format = fmt
            out = self._resampler.process(samples)
            self.clock_map.anchor(self._produced, stamp_ns)
            self._produced += len(out)
            self.stats["chunks"] += 1
            utterances = self.segmenter.feed(out)
        for utt in utterances:
            self._submit(utt)

    def _idle_check(self) -> None:
        with self._lock:
            idle = time.monotonic() - self._last_audio
            if not self.segmenter.in_speech or idle < self.params["idle_flush_s"]:
                return
            utterances = self.segmenter.flush()
        for utt in utterances:
            self._submit(utt)

    def _submit(self, utt: Utterance) -> None:
        self.stats["utterances"] += 1
        job = Job(f"speech-{self._id_prefix}-{next(self._ids)}", utt, self.clock_map.time_ns(utt.start),
                  self.clock_map.time_ns(utt.end), self._frame_id, time.monotonic())
        how = "cut at max_utterance_s" if utt.truncated else ("ended by idle audio" if utt.flushed else "")
        self.get_logger().info(f"utterance {job.request_id}: {utt.duration_s:.2f} s of speech"
                               + (f" ({how})" if how else "") + f", queue depth {self.queue.depth}")
        self.queue.submit(job)

    # ---- worker ------------------------------------------------------------------------------------
    def _recognise(self, job: Job) -> None:
        self._loaded.wait()
        if self.recognizer is None:
            self.get_logger().error(f"utterance {job.request_id} not recognised: model not loaded "
                                    f"({self.model_error})", throttle_duration_sec=5.0)
            return
        p = self.params
        result = self.recognizer.transcribe(job.utterance.audio, p["language"] or None, beam_size=int(p["beam_size"]),
                                            allowed_languages=p["allowed_languages"])
        t = Transcript()
        t.header.stamp = _time_msg(job.start)
        t.header.frame_id = job.frame_id
        t.request_id = job.request_id
        t.text = result.text
        t.language = result.language
        t.language_probability = float(result.language_probability)
        t.confidence = float(result.confidence)
        t.utterance_start = _time_msg(job.start)
        t.utterance_end = _time_msg(job.end)
        t.recognition_ms = float(result.recognition_ms)
        self.transcript_pub.publish(t)
        waited = (time.monotonic() - job.queued) * 1000 - result.recognition_ms
        forward, why = self._should_forward(job, result)
        self.get_logger().info(
            f"transcript {job.request_id}: {result.text!r} [{result.language} p={result.language_probability:.2f}] "
            f"confidence {result.confidence:.2f}, recognition {result.recognition_ms:.0f} ms, waited {waited:.0f} ms"
            + ("" if forward else f"; not sent as a command: {why}")
            + (f"; {result.language_note}" if result.language_note else ""))
        if forward and p["publish_commands"]:
            cmd = Command()
            cmd.header.stamp = _time_msg(job.start)
            cmd.header.frame_id = job.frame_id
            cmd.request_id = job.request_id
            cmd.text = result.text
            cmd.language = result.language
            cmd.camera = p["camera"]
            self.command_pub.publish(cmd)
            self.stats["commands"] += 1

    def _should_forward(self, job: Job, result) -> tuple[bool, str]:
        if not result.text.strip():
            return False, "nothing recognised"
        if job.utterance.truncated or job.utterance.continued:
            return False, f"part of an utterance longer than max_utterance_s ({self.params['max_utterance_s']} s)"
        if result.confidence < self.params["min_confidence"]:
            return False, f"confidence {result.confidence:.2f} < min_confidence {self.params['min_confidence']}"
        return True, ""

    def _on_drop(self, job: Job, reason: str) -> None:
        self.stats["dropped"] += 1
        if reason != "shutdown":
            self.get_logger().warning(f"utterance {job.request_id} dropped: {reason} (queue capacity "
                                      f"{self.queue.capacity}; the oldest waiting utterance is dropped)")

    def _on_error(self, job: Job, exc: BaseException) -> None:
        self.get_logger().error(f"utterance {job.request_id}: {type(exc).__name__}: {exc}\n"
                                + "".join(traceback.format_exception(exc)))

    def close(self) -> None:
        self.queue.stop(1.0)
        self.destroy_node()


def _close(node: SpeechNode) -> bool:
    busy = node.queue.busy   # inside a CTranslate2 call that cannot be interrupted: leave at once
    node.close()
    return busy


def main(args: list[str] | None = None) -> int:
    """Entry point of the `speech_node` executable (ROS arguments in ``args``/sys.argv)."""
    return spin_until_shutdown("octopus speech node", SpeechNode, SingleThreadedExecutor, _close, args=args)


if __name__ == "__main__":
    sys.exit(main())
