"""`octopus-ros eval`: run a model over a case file, write predictions, print the metrics."""
from __future__ import annotations

import json
import random
import resource
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .cases import CaseFileError, cases_digest, read_cases
from .metrics import format_report, summarize


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def run_eval(agent, cases, predictions_path: Path | None = None, progress: bool = True) -> dict:
    predictions = []
    for case in tqdm(cases, desc="eval", disable=not progress, unit="case"):
        image = load_rgb(case.image) if case.image else None
        result = agent.infer(case.text, image, case.lang or None)
        predictions.append({"id": case.id, "function": result.function_name if result.outcome != "error" else "",
                            "arguments": result.arguments, "confidence": result.confidence,
                            "latency_ms": result.timings_ms.get("total", 0.0), "outcome": result.outcome,
                            "raw_output": result.raw_output})
    if predictions_path:
        predictions_path.parent.mkdir(parents=True, exist_ok=True)
        with open(predictions_path, "w", encoding="utf-8") as f:
            for p in predictions:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
    return summarize(cases, predictions, agent.registry.no_action.name, intervals=True)


def eval_file(agent, cases_path: Path, predictions_path: Path | None, limit: int | None = None,
              tags: tuple[str, ...] = (), skip_tags: tuple[str, ...] = ()) -> str:
    """The report of `agent` on the case file's cases that have all of `tags` and none of `skip_tags`
    (then a fixed sample of `limit` of them)."""
    cases = [c for c in read_cases(cases_path)
             if set(tags) <= set(c.tags) and not set(skip_tags) & set(c.tags)]
    if not cases:
        raise CaseFileError(f"{cases_path}: no case has the tags {list(tags)} without {list(skip_tags)}")
    if limit and limit < len(cases):  # a fixed random sample, so every function and language shows up
        cases = random.Random(0).sample(cases, limit)
    # which cases these numbers are for: the digest `data synth` records for a whole split (docs/dataset.md)
    digest = cases_digest(cases)
    report = format_report(run_eval(agent, cases, predictions_path))
    report = f"cases: {len(cases)} from {cases_path}, sha256 {digest}\n\n" + report
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report + f"\npeak resident memory of this process (model + evaluation): {peak_mb:.0f} MB\n"
