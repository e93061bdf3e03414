"""One benchmark variant in its own process (so that its peak resident memory is its own).

    python -m octopus_ros.bench.worker --kind octopus --model default --quantize int8 \\
        --cases cases.jsonl --out result.json
    python -m octopus_ros.bench.worker --kind baseline --model default --quantize int8 \\
        --cases cases.jsonl --cold-cases 20 --out result.json

Per case it records the stage timings (ms), token counts, outcome and prediction. Stages:
image_convert (sensor_msgs/Image -> RGB array, octopus_ros.images), image_preprocess (resize +
normalise), image_encode (image tower + projector), prefill, decode, parse (from the model's own
timings_ms), publish (building the FunctionCall message and rclpy publish(), reliable, one subscriber).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from octopus_ros.cpu_process import leave_out_triton


def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def weights_mb(module) -> float:
    """Bytes of the module's state (int8 Linear weights count one byte per weight). Tied tensors (the LM's
    input and output embeddings) are one tensor under two names, so each storage counts once."""
    storages = {v.untyped_storage().data_ptr(): v.untyped_storage().nbytes() for v in module.state_dict().values()}
    return sum(storages.values()) / 2 ** 20


class Publisher:
    """Publishes FunctionCall messages the way the node does (reliable, depth 10), to one subscriber."""

    def __init__(self):
        import rclpy
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from octopus_ros.msg import Argument, FunctionCall

        self.rclpy, self.FunctionCall, self.Argument = rclpy, FunctionCall, Argument
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f"octopus_bench_{os.getpid()}", context=self.context)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        topic = f"/octopus_bench_{os.getpid()}/action"
        self.pub = self.node.create_publisher(FunctionCall, topic, qos)
        self.node.create_subscription(FunctionCall, topic, lambda m: None, qos)

    def publish(self, request_id: str, text: str, function: str, token: int, arguments_json: str,
                typed: list, confidence: float, has_image: bool, latency_ms: float) -> None:
        call = self.FunctionCall()
        call.header.stamp = self.node.get_clock().now().to_msg()
        call.request_id = request_id
        call.function_name = function
        call.token_id = int(token)
        call.arguments_json = arguments_json
        call.arguments = [self.Argument(name=str(n), type=str(t), value=str(v)) for n, t, v in typed]
        call.confidence = float(confidence)
        call.has_image = has_image
        call.command_text = text
        call.inference_ms = float(latency_ms)
        self.pub.publish(call)

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def _publisher():
    try:
        return Publisher()
    except Exception as exc:  # noqa: BLE001 - no ROS here: the publish stage is left out
        print(f"bench worker: no rclpy publisher ({type(exc).__name__}: {exc}); publish stage skipped",
              file=sys.stderr)
        return None


def _image_msg(rgb):
    try:
        from octopus_ros.images import rgb_to_image_msg

        return rgb_to_image_msg(rgb)
    except Exception:  # noqa: BLE001 - sensor_msgs missing
        return None


def _typed(registry, name: str, arguments: dict) -> tuple[str, list]:
    parsed = registry.parse(registry.format_call(name, arguments))
    return parsed.call.arguments_json, [list(t) for t in parsed.call.typed_arguments]


def camera_frame_stages(agent, reps: int = 30) -> dict:
    """A 640x480 bgr8 camera frame (what a ROS camera driver publishes): conversion and preprocessing."""
    from octopus_ros.images import image_msg_to_rgb, rgb_to_image_msg

    rng = np.random.default_rng(0)
    msg = rgb_to_image_msg(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), encoding="bgr8")
    convert, preprocess = [], []
    for _ in range(reps):
        t = time.perf_counter()
        rgb = image_msg_to_rgb(msg)
        convert.append((time.perf_counter() - t) * 1000)
        if agent.model.vision is not None:
            t = time.perf_counter()
            agent.model.vision.preprocess([rgb])
            preprocess.append((time.perf_counter() - t) * 1000)
    out = {"frame": "640x480 bgr8", "image_convert_ms": convert}
    if preprocess:
        out["image_preprocess_ms"] = preprocess
    return out


def run_octopus(args, cases) -> dict:
    import torch

    from octopus_ros.images import image_msg_to_rgb
    from octopus_ros.model import OctopusAgent
    from octopus_ros.training.evaluate import load_rgb

    t = time.perf_counter()
    agent = OctopusAgent.load(args.model, threads=args.threads or None, quantize=args.quantize or None)
    load_s = time.perf_counter() - t
    rss_loaded = rss_mb()
    publisher = _publisher()
    quantize = args.quantize or agent.profile.quantize
    records = []
    for n, case in enumerate(cases[:args.warmup] + cases):
        rgb = load_rgb(case.image) if case.image else None
        msg = _image_msg(rgb) if rgb is not None else None
        stages = {}
        if msg is not None:
            t = time.perf_counter()
            rgb = image_msg_to_rgb(msg)
            stages["image_convert"] = (time.perf_counter() - t) * 1000
        result = agent.infer(case.text, rgb, case.lang or None)
        stages.update({k: v for k, v in result.timings_ms.items() if k != "total"})
        if publisher is not None and result.outcome == "call":
            t = time.perf_counter()
            publisher.publish(case.id, case.text, result.function_name, result.token_index,
                              result.arguments_json, result.typed_arguments, result.confidence,
                              rgb is not None, result.timings_ms.get("total", 0.0))
            stages["publish"] = (time.perf_counter() - t) * 1000
        if n < args.warmup:
            continue
        records.append({
            "id": case.id, "lang": case.lang, "has_image": case.image is not None,
            "expected_function": case.function, "outcome": result.outcome,
            "function": result.function_name if result.outcome != "error" else "",
            "arguments": result.arguments, "confidence": result.confidence, "raw_output": result.raw_output,
            "model_ms": result.timings_ms.get("total", 0.0), "stages_ms": stages,
            "prompt_tokens": result.prompt_tokens,
            # the functional token (chosen at prefill) + the argument tokens
            "generated_tokens": result.generated_tokens + (1 if result.outcome != "error" else 0),
            "computed_tokens": result.prompt_tokens + result.generated_tokens,
        })
    camera = camera_frame_stages(agent, reps=30 if args.warmup > 1 else 5)
    if publisher is not None:
        publisher.close()
    trained = agent.model.trained_state_dict()
    return {"kind": "octopus", "model": args.model, "quantize": quantize, "threads": torch.get_num_threads(),
            "load_s": load_s, "rss_after_load_mb": rss_loaded, "peak_rss_mb": peak_rss_mb(),
            "weights_in_memory_mb": weights_mb(agent.model),
            "parameters": sum(p.numel() for p in agent.model.parameters()),
            "trained_parameters": int(sum(v.numel() for v in trained.values())),
            "describe": agent.describe(), "camera_frame": camera, "records": records}


def run_baseline(args, cases) -> dict:
    import torch

    from octopus_ros.bench.baseline import PromptedBaseline

    t = time.perf_counter()
    baseline = PromptedBaseline.load(args.model, quantize=args.quantize or None, threads=args.threads or None,
                                     examples=args.examples, jump_forward=not args.no_jump_forward)
    load_s = time.perf_counter() - t
    prefix_ms = baseline.warm_prefix()
    rss_loaded = rss_mb()
    publisher = _publisher()
    plan = [("cached", c) for c in cases] + [("cold", c) for c in cases[:args.cold_cases]]
    warm = [("cached", c) for c in cases[:args.warmup]] + [("cold", c) for c in cases[:min(1, args.cold_cases)]]
    records = []
    for n, (mode, case) in enumerate(warm + plan):
        result = baseline.infer(case.text, None, case.lang or None, mode=mode)
        stages = {k: v for k, v in result.timings_ms.items() if k != "total"}
        if publisher is not None and result.outcome == "call":
            t = time.perf_counter()
            arguments_json, typed = _typed(baseline.registry, result.function_name, result.arguments)
            publisher.publish(case.id, case.text, result.function_name,
                              baseline.registry.by_name(result.function_name).index, arguments_json, typed, 0.0,
                              False, result.timings_ms.get("total", 0.0))
            stages["publish"] = (time.perf_counter() - t) * 1000
        if n < len(warm):
            continue
        records.append({
            "id": case.id, "lang": case.lang, "has_image": case.image is not None, "mode": mode,
            "expected_function": case.function, "outcome": result.outcome, "function": result.function_name,
            "arguments": result.arguments, "raw_output": result.raw_output, "reason": result.reason,
            "model_ms": result.timings_ms.get("total", 0.0), "stages_ms": stages,
            "prompt_tokens": result.prompt_tokens, "generated_tokens": result.generated_tokens,
            "forced_tokens": result.forced_tokens, "computed_tokens": result.computed_tokens,
        })
    if publisher is not None:
        publisher.close()
    head = baseline.lm.get_output_embeddings()
    hidden = torch.zeros(head.weight.shape[1])
    head_ms = []
    with torch.inference_mode():
        for _ in range(10):
            t = time.perf_counter()
            head(hidden)
            head_ms.append((time.perf_counter() - t) * 1000)
    return {"kind": "baseline", "output_head_ms_p50": float(np.median(head_ms)),
            "vocabulary": int(head.weight.shape[0]), "model": args.model, "quantize": baseline.quantize, "threads": torch.get_num_threads(),
            "load_s": load_s, "prefix_prefill_ms": prefix_ms, "rss_after_load_mb": rss_loaded,
            "peak_rss_mb": peak_rss_mb(), "weights_in_memory_mb": weights_mb(baseline.lm),
            "parameters": sum(p.numel() for p in baseline.lm.parameters()),
            "describe": baseline.describe(), "prompt_prefix": baseline.prefix_text, "records": records}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("octopus", "baseline"), required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--quantize", default="", help="int8 | int8-embedding | none | '' (the profile's setting)")
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--cold-cases", type=int, default=0, help="baseline: cases also run with a cold prompt")
    parser.add_argument("--examples", type=int, default=12, help="baseline: examples in the prompt")
    parser.add_argument("--no-jump-forward", action="store_true")
    parser.add_argument("--warmup", type=int, default=2, help="first commands not counted")
    args = parser.parse_args(argv)
    leave_out_triton()   # as the node and the CLI do, so the memory measured is theirs

    from octopus_ros.training.cases import read_cases

    cases = read_cases(args.cases)
    started = time.perf_counter()
    result = run_octopus(args, cases) if args.kind == "octopus" else run_baseline(args, cases)
    result["wall_s"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
