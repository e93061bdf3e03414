"""Speech benchmark: `octopus-ros bench-speech` (or `python -m octopus_ros.speech.benchmark`).

1. WER of each speech model on every pocketsphinx-testdata recording that has a transcript, offline,
   segmented by the same VAD as the node (the texts of a file's utterances are joined).
2. Latency over real DDS (unless --no-ros): a speech node (per model) and an agent node run as
   subprocesses; each recording is published in real time as AudioData (100 ms chunks, 1 s of
   silence after it); measured from the end of speech (Transcript.utterance_end, the time of the last
   voiced sample on the AudioData clock = system clock) to the arrival of the Transcript and of the
   agent's answer (FunctionCall, or the status explaining why there is none). The end-of-speech
   latency includes the VAD's min_silence_ms wait, which any live system pays.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import typer

DATA = Path("/usr/share/pocketsphinx/test/data")
REPO = Path(__file__).resolve().parents[2]
_DIGITS = {"z": "zero", "o": "oh", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
           "7": "seven", "8": "eight", "9": "nine"}


def corpus(data: Path = DATA) -> list[dict]:
    """Every recording of pocketsphinx-testdata with a transcript: [{"id", "path", "reference", "source"}]."""
    items = []
    if (data / "goforward.raw").is_file():  # goforward.gram/.fsg/.kws: the sentence of this recording
        items.append({"id": "goforward", "path": str(data / "goforward.raw"), "reference": "go forward ten meters",
                      "source": "goforward.gram"})
    for folder, listing in (("cards", "cards.transcription"), ("librivox", "transcription")):
        path = data / folder / listing
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^)]+)\)\s*$", line)
            if not m:
                continue
            wav = data / folder / f"{m.group(2).strip()}.wav"
            if wav.is_file():
                items.append({"id": f"{folder}/{m.group(2).strip()}", "path": str(wav),
                              "reference": m.group(1).strip(), "source": f"{folder}/{listing}"})
    # TIDIGITS: the file name spells the digits (z = zero, o = oh); no transcript file ships for this one
    for raw in sorted((data / "tidigits").glob("*.raw")):
        code = raw.stem.split(".")[-1]
        if code and all(c in _DIGITS for c in code):
            items.append({"id": f"tidigits/{raw.stem}", "path": str(raw),
                          "reference": " ".join(_DIGITS[c] for c in code), "source": "TIDIGITS file name"})
    return items


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def offline_wer(model: str, items: list[dict], threads: int = 2, beam_size: int = 1) -> dict:
    from octopus_ros.speech.audio import read_recording
    from octopus_ros.speech.recognizer import SpeechRecognizer, silero_sha256
    from octopus_ros.speech.text import normalize, word_errors
    from octopus_ros.speech.vad import SileroVad, segment

    rec = SpeechRecognizer.load(model, threads=threads)
    rows, errors, words, rec_ms, audio_s = [], 0, 0, 0.0, 0.0
    for item in items:
        samples = read_recording(item["path"]).mono16k()
        texts, ms = [], 0.0
        for utt in segment(samples, SileroVad(sha256=silero_sha256())):
            r = rec.transcribe(utt.audio, None, beam_size=beam_size, allowed_languages=["en", "zh"])
            texts.append(r.text)
            ms += r.recognition_ms
        hyp = " ".join(texts)
        e, n = word_errors(item["reference"], hyp)
        errors, words, rec_ms, audio_s = errors + e, words + n, rec_ms + ms, audio_s + len(samples) / 16000
        rows.append({"id": item["id"], "reference": item["reference"], "hypothesis": hyp,
                     "normalized": normalize(hyp), "errors": e, "words": n, "recognition_ms": round(ms, 1)})
    return {"model": model, "wer": errors / max(1, words), "errors": errors, "words": words,
            "recognition_ms_total": round(rec_ms, 1), "audio_s_total": round(audio_s, 2),
            "real_time_factor": rec_ms / 1000 / max(audio_s, 1e-9), "utterances": rows}


def ros_latency(model: str, items: list[dict], agent_model: str, log_dir: Path, timeout: float = 60.0) -> dict:
    from octopus_ros.speech.audio import read_recording
    from octopus_ros.speech.client import SpeechClient, stamp_ns

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    log_dir.mkdir(parents=True, exist_ok=True)
    params = str(REPO / "config" / "agent.yaml")
    procs = []
    agent_args = ["-p", f"model:={agent_model}"]
    policy = REPO / "config" / "policy" / "random-model.yaml"
    if agent_model == "tiny-random" and policy.is_file():
        agent_args += ["-p", f"policy_file:={policy}"]
    started_ns = time.time_ns()  # the ROS clock of the nodes is the system clock
    for name, script, extra in (("agent", "agent_node", agent_args), ("speech", "speech_node", ["-p", f"model:={model}"])):
        log = open(log_dir / f"{name}_{model}.log", "wb")
        procs.append((subprocess.Popen([sys.executable, str(REPO / "scripts" / script), "--ros-args", "--params-file",
                                        params, *extra], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO), log))
    client = SpeechClient()
    rows = []
    try:
        if not client.spin_until(lambda: client.model_state(started_ns) in ("ready", "error"), 600):
            raise RuntimeError(f"agent model not ready; see {log_dir}")
        if not client.wait_audio_subscriber(60):
            raise RuntimeError(f"speech node not up; see {log_dir}")
        client.spin_until(lambda: False, 5.0)  # let the speech model finish loading (it loads in the background)
        for item in items:
            rec = read_recording(item["path"])
            start_ns, _ = client.stream(rec, rate=1.0, tail_silence_s=1.0)
            done = client.spin_until(lambda: client.transcripts_since(start_ns), timeout)
            client.spin_until(lambda: False, 0.3)
            for t in client.transcripts_since(start_ns) if done else []:
                end_s = stamp_ns(t.utterance_end) / 1e9
                t_recv = next(r for r, m in client.transcripts if m is t)
                row = {"id": item["id"], "request_id": t.request_id, "text": t.text,
                       "recognition_ms": round(t.recognition_ms, 1),
                       "end_to_transcript_ms": round((t_recv - end_s) * 1000, 1)}
                if t.text:
                    got = client.spin_until(lambda rid=t.request_id: client.answer(rid), timeout)
                    if got:
                        row["answer"] = got[1]
                        row["end_to_answer_ms"] = round((got[0] - end_s) * 1000, 1)
                rows.append(row)
            # forget this file's messages (transcripts_since looks back 0.5 s)
            client.spin_until(lambda: False, 0.6)
    finally:
        client.close()
        for proc, log in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()
    tr = [r["end_to_transcript_ms"] for r in rows]
    an = [r["end_to_answer_ms"] for r in rows if "end_to_answer_ms" in r]
    return {"model": model, "agent_model": agent_model, "utterances": rows,
            "end_to_transcript_ms": {"p50": pct(tr, 0.5), "p95": pct(tr, 0.95), "n": len(tr)},
            "end_to_answer_ms": {"p50": pct(an, 0.5), "p95": pct(an, 0.95), "n": len(an)},
            "recognition_ms": {"p50": pct([r["recognition_ms"] for r in rows], 0.5)}}


def bench_command(
    models: str = typer.Option("tiny.en,base", help="Speech models, comma separated."),
    ros: bool = typer.Option(True, "--ros/--no-ros", help="Also measure latencies over DDS with both nodes."),
    agent_model: str = typer.Option("tiny-random", help="Agent model for the latency run (default once trained)."),
    beam_size: int = typer.Option(1, help="Decoder beam size (the node's default is 1)."),
    threads: int = typer.Option(2, help="CPU threads for recognition."),
    out: Optional[Path] = typer.Option(Path("runs/speech_bench.json"), help="Write the full results here (JSON)."),
) -> None:
    """Speech benchmark on the pocketsphinx-testdata recordings: WER per model, latencies end of speech ->
    Transcript and -> FunctionCall (p50/p95)."""
    items = corpus()
    if not items:
        typer.echo(f"octopus-ros: no recordings in {DATA} (apt-get install pocketsphinx-testdata)", err=True)
        raise typer.Exit(1)
    report = {"corpus": [{k: v for k, v in i.items()} for i in items], "offline": [], "ros": [],
              "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()}, "beam_size": beam_size,
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    names = [m.strip() for m in models.split(",") if m.strip()]
    for model in names:
        r = offline_wer(model, items, threads, beam_size)
        report["offline"].append(r)
        typer.echo(f"{model}: WER {r['wer']:.1%} ({r['errors']}/{r['words']} words, {len(items)} recordings), "
                   f"real-time factor {r['real_time_factor']:.2f}")
        for u in r["utterances"]:
            if u["errors"]:
                typer.echo(f"    {u['id']}: {u['errors']} error(s): ref {u['reference']!r} hyp {u['normalized']!r}")
    if ros:
        for model in names:
            r = ros_latency(model, items, agent_model, (out.parent if out else Path("runs")) / "speech_bench_logs")
            report["ros"].append(r)
            typer.echo(f"{model}: end of speech -> Transcript p50 {r['end_to_transcript_ms']['p50']:.0f} ms, "
                       f"p95 {r['end_to_transcript_ms']['p95']:.0f} ms; -> agent answer "
                       f"p50 {r['end_to_answer_ms']['p50']:.0f} ms, p95 {r['end_to_answer_ms']['p95']:.0f} ms "
                       f"(n={r['end_to_answer_ms']['n']}, agent {agent_model}); recognition p50 "
                       f"{r['recognition_ms']['p50']:.0f} ms")
    report["load_avg_end"] = os.getloadavg()
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
        typer.echo(f"results: {out}")


if __name__ == "__main__":
    typer.run(bench_command)
