"""Audio decoding, down-mixing, streaming resampling and file reading of the speech node (numpy only)."""
from __future__ import annotations

import struct
import wave

import numpy as np
import pytest

from octopus_ros.speech.audio import (AudioError, StreamResampler, decode_samples, encode_samples, read_recording,
                                      resample)


def _tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray, rate: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spec.argmax()])


@pytest.mark.parametrize("encoding", ["S16LE", "S32LE", "F32LE", "U8"])
def test_encodings_round_trip(encoding):
    x = _tone(300, 16000, 0.1)
    y = decode_samples(encode_samples(x, encoding), encoding, 1)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() < (1.5 / 128 if encoding == "U8" else 1e-4)


def test_stereo_is_averaged_to_mono():
    left, right = _tone(300, 16000, 0.05), np.zeros(800, np.float32)
    inter = np.stack([left, right], axis=1).ravel()
    y = decode_samples(encode_samples(inter, "F32LE"), "F32LE", 2)
    assert np.allclose(y, left / 2, atol=1e-6)


def test_bad_chunks_are_rejected():
    with pytest.raises(AudioError, match="unsupported"):
        decode_samples(b"\0\0", "MP3", 1)
    with pytest.raises(AudioError, match="whole number"):
        decode_samples(b"\0\0\0", "S16LE", 1)
    with pytest.raises(AudioError, match="whole number"):
        decode_samples(b"\0\0\0\0\0\0", "S16LE", 2)


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
def test_resampling_keeps_the_tone_and_duration(rate):
    y = resample(_tone(440, rate), rate)
    assert len(y) == 16000
    assert abs(_peak_hz(y[2000:-2000]) - 440) < 2
    ref = _tone(440, 16000)
    assert np.sqrt(np.mean((y[500:-500] - ref[500:-500]) ** 2)) < 1e-3  # aligned, no delay


@pytest.mark.parametrize("rate", [44100, 48000])
def test_downsampling_removes_content_above_8khz(rate):
    # a 12 kHz tone cannot be represented at 16 kHz; without the low-pass it would alias to 4 kHz
    y = resample(_tone(12000, rate), rate)
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 0.01 * 0.5


def test_streaming_in_random_chunks_equals_one_shot():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(48000 * 2).astype(np.float32) * 0.1
    whole = StreamResampler(48000).process(x)
    r = StreamResampler(48000)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 5000))
        parts.append(r.process(x[i:i + n]))
        i += n
    streamed = np.concatenate(parts)
    assert len(streamed) == len(whole)
    assert np.abs(streamed - whole).max() < 1e-5


def test_read_wav_formats_and_raw(tmp_path):
    x = _tone(500, 22050, 0.2)
    pcm = tmp_path / "a.wav"
    with wave.open(str(pcm), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(22050)
        w.writeframes(encode_samples(x, "S16LE"))
    rec = read_recording(pcm)
    assert (rec.sample_rate, rec.channels, rec.encoding) == (22050, 1, "S16LE")
    assert abs(len(rec.mono16k()) - 3200) <= 1
    # IEEE float WAV (format tag 3), stereo: the stdlib wave module cannot read it
    data = encode_samples(np.stack([x, x], axis=1).ravel(), "F32LE")
    fmt = struct.pack("<HHIIHH", 3, 2, 22050, 22050 * 8, 8, 32)
    blob = b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE" + b"fmt " + \
        struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    flt = tmp_path / "f.wav"
    flt.write_bytes(blob)
    rec = read_recording(flt)
    assert (rec.sample_rate, rec.channels, rec.encoding) == (22050, 2, "F32LE")
    assert np.allclose(decode_samples(rec.data, "F32LE", 2), x, atol=1e-6)
    raw = tmp_path / "a.raw"
    raw.write_bytes(encode_samples(x, "S16LE") + b"\0")  # a stray odd byte is ignored
    rec = read_recording(raw)
    assert (rec.sample_rate, rec.encoding, len(rec.data)) == (16000, "S16LE", 2 * len(x))
    with pytest.raises(AudioError, match="RIFF"):
        read_recording(raw.with_suffix(".wav").write_bytes(b"junk") and raw.with_suffix(".wav"))
