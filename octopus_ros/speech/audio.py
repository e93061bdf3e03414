"""Audio plumbing for the speech node: sample decoding, down-mixing, streaming resampling to 16 kHz,
and reading recordings from disk. numpy only (no ROS, no model).

Everything downstream (VAD, recogniser) works on float32 mono samples in [-1, 1] at ``TARGET_RATE``.
"""
from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The rate the VAD and whisper work at.
TARGET_RATE = 16000

#: AudioData.encoding values we decode: name -> (numpy dtype, scale to [-1, 1], offset).
ENCODINGS: dict[str, tuple[str, float, float]] = {
    "S16LE": ("<i2", 1.0 / 32768.0, 0.0),
    "S32LE": ("<i4", 1.0 / 2147483648.0, 0.0),
    "F32LE": ("<f4", 1.0, 0.0),
    "U8": ("u1", 1.0 / 128.0, -128.0),
}


class AudioError(ValueError):
    """Undecodable audio: unknown encoding, a byte count that is not whole frames, a bad file."""


def decode_samples(data: bytes | bytearray | memoryview | np.ndarray, encoding: str, channels: int) -> np.ndarray:
    """Raw interleaved bytes -> float32 mono in [-1, 1] (channels are averaged)."""
    enc = (encoding or "").strip().upper()
    if enc not in ENCODINGS:
        raise AudioError(f"unsupported audio encoding {encoding!r} (supported: {', '.join(ENCODINGS)})")
    if channels < 1:
        raise AudioError(f"channels must be at least 1, got {channels}")
    dtype, scale, offset = ENCODINGS[enc]
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).ravel()
    width = np.dtype(dtype).itemsize * channels
    if buf.size % width:
        raise AudioError(f"{buf.size} bytes is not a whole number of {enc} frames of {channels} channel(s) "
                         f"({width} bytes each)")
    samples = buf.view(dtype).astype(np.float32)
    if offset:
        samples += offset
    samples *= scale
    if enc == "F32LE":
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(samples, -1.0, 1.0, out=samples)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return samples


def encode_samples(samples: np.ndarray, encoding: str = "S16LE") -> bytes:
    """float32 mono in [-1, 1] -> raw bytes in ``encoding`` (for publishing recordings)."""
    enc = encoding.upper()
    x = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    if enc == "S16LE":
        return np.round(x * 32767.0).astype("<i2").tobytes()
    if enc == "S32LE":
        return np.round(x.astype(np.float64) * 2147483647.0).astype("<i4").tobytes()
    if enc == "F32LE":
        return x.astype("<f4").tobytes()
    if enc == "U8":
        return np.round(x * 127.0 + 128.0).astype("u1").tobytes()
    raise AudioError(f"unsupported audio encoding {encoding!r} (supported: {', '.join(ENCODINGS)})")


class StreamResampler:
    """Band-limited resampling of a stream that arrives in chunks of any size.

    Windowed-sinc interpolation (Kaiser window) evaluated at each output instant; the cut-off is the
    lower of the two Nyquist frequencies (times ``rolloff``), so downsampling 48 kHz -> 16 kHz does
    not fold 8-24 kHz content into the speech band. The state (input history and the fractional
    position of the next output sample) carries over between chunks: feeding a signal in pieces
    gives the same output as feeding it whole. The output lags the input by ``half_taps`` input
    samples (0.5 ms at 48 kHz with the defaults), which nothing here needs to correct.
    """

    def __init__(self, rate_in: int, rate_out: int = TARGET_RATE, half_taps: int = 24, rolloff: float = 0.94,
                 beta: float = 8.0) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise AudioError(f"sample rates must be positive (got {rate_in} -> {rate_out})")
        self.rate_in, self.rate_out = int(rate_in), int(rate_out)
        self.passthrough = self.rate_in == self.rate_out
        self.step = self.rate_in / self.rate_out  # input samples per output sample
        self.cutoff = min(1.0, self.rate_out / self.rate_in) * rolloff  # in units of the input Nyquist
        # widen the kernel when downsampling so the filter length in OUTPUT samples stays the same
        self.half = int(math.ceil(half_taps * max(1.0, self.step)))
        self.beta = beta
        self._offsets = np.arange(-self.half + 1, self.half + 1, dtype=np.int64)
        # retained input (starts with `half` zeros: silence before the stream) and the position, in
        # that buffer's coordinates, of the next output sample
        self._buf = np.zeros(self.half, dtype=np.float32)
        self._t = float(self.half)
        self._table: np.ndarray | None = None

    #: Fractional positions are quantised to 1/PHASES of an input sample (error below -70 dB for speech).
    PHASES = 1024

    def _kernel(self, frac: np.ndarray) -> np.ndarray:
        """Filter taps for output instants ``frac`` (in [0, 1)) past an input sample: rows of 2*half weights."""
        if self._table is None:
            phases = np.arange(self.PHASES + 1, dtype=np.float64) / self.PHASES
            d = self._offsets[None, :].astype(np.float64) - phases[:, None]
            ratio = np.clip(d / (self.half + 1), -1.0, 1.0)
            window = np.i0(self.beta * np.sqrt(1.0 - ratio ** 2)) / np.i0(self.beta)
            self._table = (self.cutoff * np.sinc(self.cutoff * d) * window).astype(np.float32)
        return self._table[np.rint(frac * self.PHASES).astype(np.int64)]

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32).ravel()
        if self.passthrough:
            return x
        buf = np.concatenate([self._buf, x])
        # output at instant t uses buf[floor(t) - half + 1 .. floor(t) + half]
        last_base = buf.size - 1 - self.half
        n = 0 if self._t > last_base else int(math.floor((last_base - self._t) / self.step)) + 1
        if n:
            t = self._t + self.step * np.arange(n, dtype=np.float64)
            base = np.floor(t).astype(np.int64)
            window = buf[base[:, None] + self._offsets[None, :]]
            out = np.einsum("ij,ij->i", window, self._kernel(t - base)).astype(np.float32)
        else:
            out = np.zeros(0, dtype=np.float32)
        t_next = self._t + self.step * n
        keep_from = max(0, int(math.floor(t_next)) - self.half + 1)
        self._buf = buf[keep_from:].copy()
        self._t = t_next - keep_from
        return out


def resample(x: np.ndarray, rate_in: int, rate_out: int = TARGET_RATE) -> np.ndarray:
    """Resample a whole signal (flushing the filter tail with zeros so no input is lost)."""
    r = StreamResampler(rate_in, rate_out)
    if r.passthrough:
        return np.asarray(x, dtype=np.float32).ravel()
    tail = np.zeros(r.half + 1, dtype=np.float32)
    y = np.concatenate([r.process(x), r.process(tail)])
    want = int(round(len(x) * rate_out / rate_in))
    return y[:want]


@dataclass
class Recording:
    """A recording as it was stored: raw bytes plus their format (what an AudioData carries)."""
    data: bytes
    sample_rate: int
    channels: int
    encoding: str
    path: str = ""

    @property
    def frame_bytes(self) -> int:
        return np.dtype(ENCODINGS[self.encoding][0]).itemsize * self.channels

    @property
    def duration_s(self) -> float:
        return len(self.data) / self.frame_bytes / self.sample_rate

    def mono16k(self) -> np.ndarray:
        """float32 mono at 16 kHz."""
        return resample(decode_samples(self.data, self.encoding, self.channels), self.sample_rate, TARGET_RATE)


def read_recording(path: str | Path, raw_rate: int = 16000, raw_encoding: str = "S16LE",
                   raw_channels: int = 1) -> Recording:
    """Read a .wav (PCM 8/16/32-bit or IEEE float 32-bit) or a headerless .raw/.pcm file.

    A .raw file has no header; its format is given by ``raw_rate``/``raw_encoding``/``raw_channels``
    (default 16 kHz S16LE mono, the format of the pocketsphinx test recordings)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    blob = path.read_bytes()
    if path.suffix.lower() in (".raw", ".pcm", ".s16"):
        enc = raw_encoding.upper()
        if enc not in ENCODINGS:
            raise AudioError(f"unsupported raw encoding {raw_encoding!r}")
        rec = Recording(blob, int(raw_rate), int(raw_channels), enc, str(path))
        usable = len(blob) - len(blob) % rec.frame_bytes
        rec.data = blob[:usable]
        return rec
    if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise AudioError(f"{path}: not a RIFF/WAVE file (use .raw for headerless 16 kHz S16LE audio)")
    return _parse_wav(blob, str(path))


def _parse_wav(blob: bytes, name: str) -> Recording:
    """A small RIFF reader: the stdlib `wave` module rejects IEEE-float and extensible headers."""
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(blob):
        cid, size = blob[pos:pos + 4], struct.unpack("<I", blob[pos + 4:pos + 8])[0]
        body = blob[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None or len(fmt) < 16:
        raise AudioError(f"{name}: WAVE file without fmt/data chunks")
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag starts the sub-format GUID
        tag = struct.unpack("<H", fmt[24:26])[0]
    if tag == 1 and bits in (8, 16, 32):
        enc = {8: "U8", 16: "S16LE", 32: "S32LE"}[bits]
    elif tag == 3 and bits == 32:
        enc = "F32LE"
    else:
        raise AudioError(f"{name}: unsupported WAVE format (tag {tag}, {bits} bits); "
                         "use PCM 8/16/32-bit or float 32-bit")
    rec = Recording(bytes(data), int(rate), int(channels), enc, name)
    usable = len(rec.data) - len(rec.data) % rec.frame_bytes
    rec.data = rec.data[:usable]
    return rec


def write_wav(path: str | Path, samples: np.ndarray, rate: int = TARGET_RATE) -> None:
    """Write float32 mono as 16-bit PCM WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(encode_samples(samples, "S16LE"))
