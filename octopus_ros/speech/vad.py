"""Voice activity detection and utterance segmentation on a 16 kHz stream. No ROS imports.

Two frame classifiers with one interface (``frame_size`` samples in, a speech probability out):

- :class:`SileroVad`: the Silero VAD v6 network that faster-whisper ships as an ONNX file inside its
  wheel (``faster_whisper/assets/silero_vad_v6.onnx``), run with onnxruntime one 32 ms frame at a time,
  carrying its recurrent state and 64-sample context across frames (streaming use). The file is pinned
  by sha256 (config/speech/models.yaml) and checked when loaded.
- :class:`EnergyVad`: frame energy against an adaptive noise floor; no model. The fallback when the
  ONNX file or onnxruntime is unavailable (``vad: auto``), or by choice (``vad: energy``).

:class:`UtteranceSegmenter` turns the per-frame probabilities into utterances with hysteresis:
speech starts at a frame with probability >= ``threshold``; a frame counts as voiced while its
probability stays >= ``neg_threshold``; the utterance ends after ``min_silence_ms`` without a voiced
frame, or is cut at ``max_utterance_s`` (the rest continues as the next utterance, flagged
``continued``). Utterances with less than ``min_speech_ms`` of voiced frames are discarded as clicks.
The returned audio is padded by ``speech_pad_ms`` on both sides; the reported start/end sample
indices are those of the first and last voiced frames (no padding).
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from octopus_ros.speech.audio import TARGET_RATE

FRAME = 512  # samples per VAD frame at 16 kHz (32 ms): the frame size Silero v6 expects at 16 kHz
_CONTEXT = 64  # samples of the previous frame Silero v6 prepends at 16 kHz


class VadError(RuntimeError):
    """The requested VAD cannot run (model file missing or altered, onnxruntime absent)."""


def silero_model_path() -> Path:
    """The Silero VAD ONNX file inside the installed faster-whisper wheel."""
    import importlib.util

    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise VadError("faster-whisper is not installed (pip install -r requirements.txt)")
    path = Path(list(spec.submodule_search_locations)[0]) / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise VadError(f"{path} is missing: the installed faster-whisper does not ship Silero VAD v6")
    return path


class SileroVad:
    """Streaming Silero VAD v6 (ONNX). ``__call__(frame)`` -> speech probability of one 512-sample frame."""

    name = "silero"
    frame_size = FRAME

    def __init__(self, path: str | Path | None = None, sha256: str | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise VadError(f"onnxruntime is not installed: {exc}") from exc
        path = Path(path) if path else silero_model_path()
        if sha256:
            from octopus_ros.model.base_weights import sha256_file

            actual = sha256_file(path)
            if actual != sha256:
                raise VadError(f"{path}: sha256 {actual} does not match the pinned {sha256}")
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a corrupt file, an old onnxruntime
            raise VadError(f"cannot load {path} with onnxruntime: {exc}") from exc
        self.path = path
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        frame = np.asarray(frame, dtype=np.float32)
        x = np.concatenate([self._context, frame])[None, :]
        prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = frame[-_CONTEXT:]
        return float(np.asarray(prob).ravel()[0])


class EnergyVad:
    """Frame energy (dBFS) against a noise floor that follows the quietest recent frames.

    A frame is speech (probability 1.0) when its level is above ``threshold_db`` AND at least
    ``margin_db`` above the noise floor; otherwise 0.0. The floor drops at once to a quieter frame and
    rises slowly (``floor_rise_db_per_s``), so it tracks a changing background but not speech."""

    name = "energy"
    frame_size = FRAME

    def __init__(self, threshold_db: float = -45.0, margin_db: float = 10.0, floor_rise_db_per_s: float = 3.0,
                 rate: int = TARGET_RATE) -> None:
        self.threshold_db = float(threshold_db)
        self.margin_db = float(margin_db)
        self._rise = float(floor_rise_db_per_s) * FRAME / rate
        self.reset()

    def reset(self) -> None:
        self.floor_db = -60.0

    @staticmethod
    def level_db(frame: np.ndarray) -> float:
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) if len(frame) else 0.0
        return 20.0 * math.log10(max(rms, 1e-7))

    def __call__(self, frame: np.ndarray) -> float:
        level = self.level_db(frame)
        speech = level > self.threshold_db and level > self.floor_db + self.margin_db
        self.floor_db = min(level, self.floor_db + self._rise) if not speech else self.floor_db + self._rise / 4
        return 1.0 if speech else 0.0


def make_vad(kind: str = "auto", energy_threshold_db: float = -45.0, energy_margin_db: float = 10.0,
             silero_sha256: str | None = None):
    """'silero', 'energy' or 'auto' (Silero if it loads, else energy). Returns (vad, note)."""
    kind = (kind or "auto").lower()
    if kind not in ("auto", "silero", "energy"):
        raise VadError(f"unknown vad {kind!r} (expected auto, silero or energy)")
    if kind in ("auto", "silero"):
        try:
            return SileroVad(sha256=silero_sha256), ""
        except VadError as exc:
            if kind == "silero":
                raise
            note = f"Silero VAD unavailable ({exc}); using the energy detector"
            return EnergyVad(energy_threshold_db, energy_margin_db), note
    return EnergyVad(energy_threshold_db, energy_margin_db), ""


@dataclass
class Utterance:
    """One segmented utterance. Sample indices count 16 kHz samples since the segmenter started."""
    audio: np.ndarray  # float32 mono 16 kHz, padded by speech_pad_ms each side
    start: int  # index of the first voiced sample
    end: int  # index just past the last voiced sample
    audio_start: int  # index of audio[0]
    truncated: bool = False  # cut at max_utterance_s (speech went on)
    continued: bool = False  # the continuation of a truncated utterance
    flushed: bool = False  # ended by flush() (stream stopped), not by silence
    voiced_ms: float = 0.0
    detected_at: int = 0  # stream position (samples) when the end was decided

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / TARGET_RATE


@dataclass
class SegmenterConfig:
    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_ms: float = 200.0
    min_silence_ms: float = 500.0
    speech_pad_ms: float = 200.0
    max_utterance_s: float = 15.0

    def validate(self) -> "SegmenterConfig":
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"vad threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.neg_threshold <= self.threshold:
            raise ValueError(f"vad neg_threshold must be in [0, threshold], got {self.neg_threshold}")
        if self.max_utterance_s <= 0.5:
            raise ValueError(f"max_utterance_s must be above 0.5 s, got {self.max_utterance_s}")
        if self.min_silence_ms < 0 or self.min_speech_ms < 0 or self.speech_pad_ms < 0:
            raise ValueError("min_silence_ms, min_speech_ms and speech_pad_ms must not be negative")
        return self


@dataclass
class _Open:
    frames: list = field(default_factory=list)  # audio frames from audio_start on
    audio_start: int = 0
    start: int = 0
    last_voiced_end: int = 0
    voiced_frames: int = 0
    continued: bool = False


class UtteranceSegmenter:
    """Feed 16 kHz float32 audio in chunks of any size; get finished utterances back."""

    def __init__(self, vad, config: SegmenterConfig | None = None) -> None:
        self.vad = vad
        self.cfg = (config or SegmenterConfig()).validate()
        ms = TARGET_RATE / 1000.0
        self._pad_frames = int(math.ceil(self.cfg.speech_pad_ms * ms / FRAME))
        self._silence_samples = int(self.cfg.min_silence_ms * ms)
        self._min_voiced = int(math.ceil(self.cfg.min_speech_ms * ms / FRAME))
        self._max_samples = int(self.cfg.max_utterance_s * TARGET_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._pos = 0  # samples classified so far
        self._preroll: collections.deque = collections.deque(maxlen=max(1, self._pad_frames))
        self._open: _Open | None = None
        self.probabilities: list[float] | None = None  # set to [] to record every frame's probability

    @property
    def position(self) -> int:
        """Samples consumed (classified) so far."""
        return self._pos

    @property
    def in_speech(self) -> bool:
        return self._open is not None

    @property
    def open_since(self) -> int | None:
        """Start index of the utterance in progress, if any."""
        return None if self._open is None else self._open.start

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self._preroll.clear()
        self._open = None
        if hasattr(self.vad, "reset"):
            self.vad.reset()

    def feed(self, samples: np.ndarray) -> list[Utterance]:
        samples = np.asarray(samples, dtype=np.float32).ravel()
        buf = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = buf.size - buf.size % FRAME
        out: list[Utterance] = []
        for i in range(0, whole, FRAME):
            out.extend(self._frame(buf[i:i + FRAME]))
        self._pending = buf[whole:].copy()
        return out

    def flush(self) -> list[Utterance]:
        """End the utterance in progress now (the stream stopped or paused)."""
        if self._open is None:
            return []
        utt = self._close(self._open, truncated=False)
        self._open = None
        if utt is not None:
            utt.flushed = True
            return [utt]
        return []

    def _frame(self, frame: np.ndarray) -> list[Utterance]:
        prob = self.vad(frame)
        if self.probabilities is not None:
            self.probabilities.append(prob)
        start, end = self._pos, self._pos + FRAME
        self._pos = end
        out: list[Utterance] = []
        cur = self._open
        if cur is None:
            if prob >= self.cfg.threshold:
                pre = list(self._preroll)
                cur = self._open = _Open(frames=pre + [frame], audio_start=start - FRAME * len(pre), start=start,
                                         last_voiced_end=end, voiced_frames=1)
                self._preroll.clear()
            else:
                if self._pad_frames:
                    self._preroll.append(frame)
            return out
        cur.frames.append(frame)
        if prob >= self.cfg.neg_threshold:
            cur.last_voiced_end = end
            cur.voiced_frames += 1
        if end - cur.last_voiced_end >= self._silence_samples:
            utt = self._close(cur, truncated=False)
            self._open = None
            # the frames after the post-pad become the next pre-roll
            self._refill_preroll(cur)
            if utt is not None:
                out.append(utt)
        elif end - cur.start >= self._max_samples:
            utt = self._close(cur, truncated=True)
            self._open = _Open(frames=[], audio_start=end, start=end, last_voiced_end=end, voiced_frames=0,
                               continued=True)
            if utt is not None:
                out.append(utt)
        return out

    def _refill_preroll(self, cur: _Open) -> None:
        self._preroll.clear()
        for f in cur.frames[-self._pad_frames:] if self._pad_frames else []:
            self._preroll.append(f)

    def _close(self, cur: _Open, truncated: bool) -> Utterance | None:
        if cur.voiced_frames < max(1, self._min_voiced):
            return None
        audio = np.concatenate(cur.frames) if cur.frames else np.zeros(0, np.float32)
        if truncated:
            stop = len(audio)
            end = self._pos
        else:
            end = cur.last_voiced_end
            stop = min(len(audio), end - cur.audio_start + self._pad_frames * FRAME)
        return Utterance(audio=audio[:stop].copy(), start=cur.start, end=end, audio_start=cur.audio_start,
                         truncated=truncated, continued=cur.continued,
                         voiced_ms=cur.voiced_frames * FRAME * 1000.0 / TARGET_RATE, detected_at=self._pos)


def segment(samples: np.ndarray, vad, config: SegmenterConfig | None = None) -> list[Utterance]:
    """Segment a whole 16 kHz recording (the end of the recording ends any open utterance)."""
    samples = np.asarray(samples, dtype=np.float32).ravel()
    tail = (-samples.size) % FRAME  # complete the last frame with silence
    seg = UtteranceSegmenter(vad, config)
    return seg.feed(np.concatenate([samples, np.zeros(tail, np.float32)])) + seg.flush()
