"""Frames of one object alone on a varied background, with its English and Chinese name.

Caption frames (data/<name>/captions.jsonl + images/captions/): every non-held-out catalog object, for the
alignment stages. Stage 1 (contrastive) pulls the image head towards these names; stage 2 (projector
alignment) teaches the frozen LM to say them. Held-out objects never appear here, so the test split still
measures generalisation to unseen objects.

Teaching photos (`octopus-ros data teach-photos`): a few frames of each held-out object, what a user would
photograph to teach the agent an object (`octopus-ros objects teach`). They are never training data; they
measure how well a taught object is named in the test split's frames (docs/model/evaluation.md, Session 19).
"""
from __future__ import annotations

import json
from pathlib import Path

from .frames import render_frame
from .templates import stable_hash

CAPTIONS_FILE = "captions.jsonl"
TEACH_FILE = "objects.jsonl"


def build_captions(state, out: Path, frames_per_object: int = 3) -> int:
    """Render the caption frames and write captions.jsonl; returns the number of frames."""
    cfg = state.config
    folder = out / "images" / "captions"
    folder.mkdir(parents=True, exist_ok=True)
    objects = sorted((o for o in state.catalog.objects if o.images and not o.heldout), key=lambda o: o.id)
    rows = []
    for obj in objects:
        for k in range(frames_per_object):
            ref = obj.images[k % len(obj.images)]
            seed = stable_hash(cfg.seed, "caption", obj.id, k)
            image, _ = render_frame(ref.path, [], seed=seed, size=int(cfg.image["size"]),
                                    backgrounds=tuple(cfg.image["backgrounds"]))
            rel = f"images/captions/{obj.id}-{k}.png"
            image.save(out / rel, format="PNG", compress_level=1)
            rows.append({"image": rel, "object": obj.id, "en": obj.name_en, "zh": obj.name_zh})
    with open(out / CAPTIONS_FILE, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def build_teach_photos(state, out: Path, per_object: int) -> int:
    """Render `per_object` frames of every held-out object with pictures into out/<object>/<k>.png and write
    out/objects.jsonl ({"en", "zh", "photos": [paths relative to out]}); returns the number of objects."""
    cfg = state.config
    objects = sorted((o for o in state.catalog.objects if o.images and o.heldout), key=lambda o: o.id)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / TEACH_FILE, "w", encoding="utf-8") as fh:
        for obj in objects:
            (out / obj.id).mkdir(exist_ok=True)
            photos = []
            for k in range(per_object):
                seed = stable_hash(cfg.seed, "teach", obj.id, k)   # no frame of the dataset has this seed
                image, _ = render_frame(obj.images[k % len(obj.images)].path, [], seed=seed,
                                        size=int(cfg.image["size"]), backgrounds=tuple(cfg.image["backgrounds"]))
                photos.append(f"{obj.id}/{k}.png")
                image.save(out / photos[-1], format="PNG", compress_level=1)
            fh.write(json.dumps({"en": obj.name_en, "zh": obj.name_zh, "photos": photos}, ensure_ascii=False) + "\n")
    return len(objects)


def read_captions(data_dir: Path) -> list[dict]:
    path = Path(data_dir) / CAPTIONS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: rebuild the dataset with `octopus-ros data synth`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
