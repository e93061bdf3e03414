"""VAD and utterance segmentation on real recordings (Debian pocketsphinx-testdata) and on silence."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from octopus_ros.speech.audio import TARGET_RATE, read_recording
from octopus_ros.speech.vad import (FRAME, EnergyVad, SegmenterConfig, SileroVad, UtteranceSegmenter, VadError,
                                    segment)

DATA = Path("/usr/share/pocketsphinx/test/data")
GOFORWARD = DATA / "goforward.raw"
LIBRIVOX = DATA / "librivox" / "sense_and_sensibility_01_austen_64kb-0870.wav"
pytestmark = pytest.mark.skipif(not GOFORWARD.is_file(), reason="Debian package pocketsphinx-testdata not installed "
                                                                "(scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def goforward():
    return read_recording(GOFORWARD).mono16k()


def _silero():
    from octopus_ros.speech.recognizer import silero_sha256

    return SileroVad(sha256=silero_sha256())


@pytest.fixture(params=["silero", "energy"])
def vad(request):
    return _silero() if request.param == "silero" else EnergyVad()


def _s(i: int) -> float:
    return i / TARGET_RATE


def test_one_utterance_in_goforward(vad, goforward):
    (utt,) = segment(goforward, vad)
    # the words run from about 0.5 s to 2.2 s of the 2.79 s file (checked by listening)
    assert 0.3 < _s(utt.start) < 0.65 and 2.0 < _s(utt.end) < 2.5, (_s(utt.start), _s(utt.end))
    assert not utt.truncated
    # the returned audio is padded: it starts before the first voiced sample
    assert utt.audio_start < utt.start and len(utt.audio) >= utt.end - utt.start


def test_silence_and_low_noise_give_nothing(vad):
    rng = np.random.default_rng(0)
    quiet = np.concatenate([np.zeros(TARGET_RATE * 2, np.float32),
                            (rng.standard_normal(TARGET_RATE * 3) * 3e-4).astype(np.float32)])
    assert segment(quiet, vad) == []


def test_two_utterances_separated_by_silence(vad, goforward):
    gap = np.zeros(TARGET_RATE, np.float32)
    audio = np.concatenate([goforward, gap, goforward])
    utts = segment(audio, vad)
    assert len(utts) == 2
    offset = len(goforward) + len(gap)
    assert abs((utts[1].start - utts[0].start) - offset) < 0.1 * TARGET_RATE


def test_streaming_chunks_give_the_same_segments(goforward):
    vad = _silero()
    whole = [(u.start, u.end) for u in segment(goforward, vad)]
    seg = UtteranceSegmenter(_silero())
    got = []
    for i in range(0, len(goforward), 1234):
        got += seg.feed(goforward[i:i + 1234])
    got += seg.feed(np.zeros(TARGET_RATE, np.float32))
    assert [(u.start, u.end) for u in got] == whole


def test_long_speech_is_cut_at_max_utterance_s():
    if not LIBRIVOX.is_file():
        pytest.skip(f"{LIBRIVOX} missing")
    speech = read_recording(LIBRIVOX).mono16k()  # 7.1 s of continuous reading
    utts = segment(speech, _silero(), SegmenterConfig(max_utterance_s=3.0, min_silence_ms=800))
    assert len(utts) >= 2
    assert utts[0].truncated and utts[0].end - utts[0].start <= 3.0 * TARGET_RATE + FRAME
    assert all(u.continued for u in utts[1:])


def test_flush_ends_an_open_utterance(goforward):
    seg = UtteranceSegmenter(_silero())
    assert seg.feed(goforward[: int(1.5 * TARGET_RATE)]) == []  # the speaker is mid-sentence
    assert seg.in_speech
    (utt,) = seg.flush()
    assert utt.flushed and not seg.in_speech


def test_clicks_shorter_than_min_speech_are_ignored(goforward):
    click = np.zeros(TARGET_RATE, np.float32)
    click[8000:8000 + 2 * FRAME] = goforward[16000:16000 + 2 * FRAME] * 3  # 64 ms burst of speech
    assert segment(click, EnergyVad(), SegmenterConfig(min_speech_ms=200)) == []


def test_altered_model_file_is_refused(tmp_path):
    from octopus_ros.speech.vad import silero_model_path

    copy = tmp_path / "vad.onnx"
    copy.write_bytes(silero_model_path().read_bytes())
    with pytest.raises(VadError, match="sha256"):
        SileroVad(copy, sha256="0" * 64)
