"""The object lexicon: names the object a camera frame shows, for arguments read from the picture.

The LM alone does not read object names from the picture (image-derived arguments 0.006 on the test split
in session 7). The lexicon does it in the LM's own word space: a linear map takes the frozen image trunk's
features to the LM's input-embedding space, where every name of the lexicon (English and Chinese) is the
mean input embedding of its tokens. The nearest object wins. Only the map is trained (`octopus-ros train
lexicon`, seconds); the names are data, recomputed from the LM at load. An object the map never saw a
picture of can be in the list, but a map fitted on a few hundred objects ranks such objects first almost
never (0 of 95 held-out test cases in session 8), even with the score bonus for them (`novel_bonus`) that
the training stage may choose on objects it leaves out of a first fit.

A second, pretrained source names some of those objects: the ImageNet-1k classifier that came with the
trunk's weights. Each entry may list the ImageNet classes that depict it (`imagenet`, matched by name at
training time: training/imagenet_classes.py); an object's score then adds `imagenet_weight` times the
classifier's probability mass on its classes. The training stage chooses that weight on objects it leaves
out of a first fit, as it does the bonus (session 12: held-out objects named 0.000 -> 0.063 on the test
split; 132 of the 352 objects have a class).

Decoding uses it as a constraint: a from_image argument of the chosen function, when a frame is given,
must be the name of one of the `top_k` nearest objects in the command's language, or, when the command
names an object itself ("pick up the red mug"), a piece of the command. (Left free to copy, the LM copied
pieces of deictic commands, "马" from "亚马逊", "d" from "what do I do"; session 8.) A command that does not
point at the picture ("search for electric car prices" with a frame) may keep its own words instead
(model/wording.py, `says_picture_values`; session 16).

The file also keeps the trunk features of the pictures the map was fitted on (`known_features`): an object a
user teaches from photos (model/taught_objects.py) names a frame only when one of its photos is nearer than all
of them (session 19). Since session 22 they also tell a frame unlike all of them (cosine to the nearest below
`far.below`: a new object, or a real photo instead of the clip art the map was fitted on) from the others; such a
frame is scored with its own novelty bonus and ImageNet weight (`far`), since the map, fitted on clip art of the
pictured objects, says little about it and the classifier, trained on photos, more. The training stage chooses
all three on the objects it leaves out.

Since session 26 an entry also keeps what the catalog says of the object that an argument is written from
(`attrs`: amazon_shopping's category, smart_recycle's bin), and the lexicon which arguments those are
(`derived`), so the agent publishes the catalog's value for a product or item the catalog holds
(`catalog_values`) instead of the LM's guess.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from .errors import ModelLoadError

LEXICON_FILE = "lexicon.safetensors"
KNOWN_FEATURES = "known_features"   # the fitted pictures' features, for taught objects to compete with
MAP_TENSORS = ("map.weight", "map.bias", "feature_mean", "feature_std")
IMAGENET_CLASSES = 1000


def centre_crop(frame: np.ndarray, fraction: float) -> np.ndarray:
    """The central `fraction` of an HxWx3 frame's width and height. A target object is the largest one, near
    the centre (training.synth.frames), so the crop drops most distractors and background: validation
    accuracy of the lexicon 0.89 on whole frames, 0.97 on the central 70 % (session 8)."""
    if fraction >= 1.0:
        return frame
    h, w = frame.shape[:2]
    top, left = int(h * (1 - fraction) / 2), int(w * (1 - fraction) / 2)
    return frame[top:top + max(1, round(h * fraction)), left:left + max(1, round(w * fraction))]


def frame_features(vision, frames: list[np.ndarray], crop: float) -> torch.Tensor:
    """[B, D] trunk features of each frame's centre `crop`: what the lexicon (and a taught object) reads."""
    return vision.trunk_features(vision.preprocess([centre_crop(frame, crop) for frame in frames]))


def unit_fp16(features: torch.Tensor) -> torch.Tensor:
    """Known pictures as the lexicon keeps them, in the file and in memory: unit vectors, fp16 (half the memory;
    a cosine to 3 decimals is all they are used for)."""
    return F.normalize(features.float(), dim=-1).half()


def read_known_features(folder: Path) -> tuple[torch.Tensor | None, float]:
    """([M, D] unit trunk features of the pictures the lexicon was fitted on (fp16), or None for a lexicon
    saved before session 19; the crop it reads), for objects taught from photos (model/taught_objects.py). (A
    lexicon with `far` also reads them when it loads.)"""
    path = Path(folder) / LEXICON_FILE
    try:
        with safe_open(str(path), framework="pt") as fh:
            crop = float(json.loads(fh.metadata()["lexicon"]).get("crop", 1.0))
            return (fh.get_tensor(KNOWN_FEATURES) if KNOWN_FEATURES in fh.keys() else None), crop
    except Exception as exc:  # noqa: BLE001 - missing or corrupt file
        raise ModelLoadError(f"{path} is not a readable object lexicon: {exc}") from exc


def known_pictures(folder: Path) -> tuple[torch.Tensor, float]:
    """read_known_features as fp32 for taught objects to compete with, or a ModelLoadError that says what to do."""
    known, crop = read_known_features(folder)
    if known is None:
        raise ModelLoadError(f"{folder}'s lexicon was saved without the pictures it was fitted on, which taught "
                             "objects are compared with: rerun `octopus-ros train lexicon`")
    return known.float(), crop


class NamesSaid:
    """Does a command say one of these object names? An English name as a whole word ("bee" is not in
    "been"), a Chinese name of two or more characters (one-character names, 马 or 猫, hide inside other
    words such as 亚马逊)."""

    def __init__(self, english: list[str], chinese: list[str]):
        english = sorted({name.lower() for name in english if name}, key=len, reverse=True)
        self._english = re.compile(r"(?<![a-z])(?:" + "|".join(map(re.escape, english)) + r")(?![a-z])") \
            if english else None
        self._chinese = [name for name in chinese if len(name) > 1]

    def in_command(self, command: str) -> bool:
        if self._english is not None and self._english.search(command.lower()):
            return True
        return any(name in command for name in self._chinese)


@dataclass(frozen=True)
class LexiconEntry:
    id: str
    en: str
    zh: str
    trained: bool   # the map saw pictures of it; the others get the novelty bonus
    imagenet: tuple[int, ...] = ()   # ImageNet-1k classes that depict it (none: the classifier cannot name it)
    # what the catalog says of it that an argument is derived from: (attribute, English value, Chinese value),
    # e.g. ("category", "office supplies", "办公用品") or ("bin", "recycling", "recycling")
    attrs: tuple[tuple[str, str, str], ...] = ()

    def attribute(self, name: str, language: str) -> str | None:
        for attribute, en, zh in self.attrs:
            if attribute == name:
                return zh if language == "zh" else en
        return None


def name_embeddings(model, names: list[str]) -> torch.Tensor:
    """[N,H] unit vectors: the mean LM input embedding of each name's tokens."""
    embed = model.lm.get_input_embeddings()
    rows = []
    with torch.no_grad():
        for name in names:
            ids = model.tokenizer(name, add_special_tokens=False).input_ids or [model.tokenizer.unk_token_id or 0]
            rows.append(embed(torch.tensor(ids)).float().mean(0))
    return F.normalize(torch.stack(rows), dim=-1)


class ObjectLexicon(nn.Module):
    def __init__(self, feature_dim: int, entries: list[LexiconEntry], names_en: torch.Tensor,
                 names_zh: torch.Tensor, novel_bonus: float = 0.0, top_k: int = 1, crop: float = 1.0,
                 imagenet_weight: float = 0.0, far: dict | None = None, known: torch.Tensor | None = None,
                 derived: dict | None = None):
        """`far` ({"below", "bonus", "imagenet_weight"}) scores a frame whose nearest `known` picture (unit trunk
        features [M, D] of the pictures the map was fitted on) is less similar than `below` with that bonus and
        weight instead; without `far` (or `known`) every frame gets novel_bonus and imagenet_weight. `derived`
        ({function: {argument: [source argument, attribute]}}): arguments the catalog derives from another one's
        object (`catalog_values`)."""
        super().__init__()
        self.entries = list(entries)
        self.crop = float(crop)   # the map reads the trunk features of this centre crop of the frame
        self.novel_bonus = float(novel_bonus)
        self.imagenet_weight = float(imagenet_weight)
        self.far = dict(far) if far else None
        self.register_buffer("known", None if known is None else unit_fp16(known), persistent=False)
        self.top_k = int(top_k)
        hidden = names_en.shape[1]
        self.map = nn.Linear(feature_dim, hidden)
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_std", torch.ones(feature_dim))
        self.register_buffer("names_en", names_en.float())
        self.register_buffer("names_zh", names_zh.float())
        self.register_buffer("novel", torch.tensor([not e.trained for e in entries], dtype=torch.float32))
        members = torch.zeros(len(entries), IMAGENET_CLASSES)   # [N,1000]: 1 where class c depicts entry n
        for n, entry in enumerate(entries):
            members[n, list(entry.imagenet)] = 1.0
        self.register_buffer("imagenet_members", members, persistent=False)
        self.derived = {f: dict(args) for f, args in (derived or {}).items()}   # argument -> (source, attribute)
        self._by_name = {"en": {e.en.lower(): e for e in entries if e.en}, "zh": {e.zh: e for e in entries if e.zh}}
        self._written = {"en": {key: e.en for key, e in self._by_name["en"].items()},   # key -> as written
                         "zh": {key: e.zh for key, e in self._by_name["zh"].items()}}
        self._names = NamesSaid([e.en for e in entries], [e.zh for e in entries])

    def catalog_values(self, function: str, arguments: dict, language: str) -> dict:
        """`arguments` with each argument the catalog derives from another one's object set as the catalog says:
        amazon_shopping(product='scissors', category='tools') -> category 'office supplies'. The training data
        writes such an argument from the catalog (`= product.category` in the templates), so the LM can only
        guess it for a product, and cannot know it for one it never saw; an object the catalog does not hold keeps
        the LM's value. Session 26, validation split: 30 wrong calls made right, 0 right ones changed."""
        derived = self.derived.get(function)
        if not derived:
            return arguments
        names = self._by_name.get(language, {})
        out = dict(arguments)
        for argument, (source, attribute) in derived.items():
            value = arguments.get(source)
            entry = names.get(value.lower() if language == "en" else value) if isinstance(value, str) else None
            said = entry.attribute(attribute, language) if entry is not None else None
            if said is not None:
                out[argument] = said
        return out

    def names_in(self, language: str) -> dict[str, str]:
        """The objects' names in `language`, keyed as compared (English in lower case) -> as written."""
        return self._written.get(language, {})

    def mentioned_in(self, command: str) -> bool:
        """True when the command names a lexicon object itself: then an argument may also be copied from the
        command."""
        return self._names.in_command(command)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """Trunk features [B,D] -> unit vectors [B,H] in the names' space."""
        return F.normalize(self.map((features - self.feature_mean) / self.feature_std), dim=-1)

    def similarity(self, features: torch.Tensor) -> torch.Tensor:
        """[B,N] mean cosine of each frame to each object's English and Chinese name (no bonus)."""
        image = self.embed(features)
        return (image @ self.names_en.t() + image @ self.names_zh.t()) / 2

    @property
    def uses_imagenet(self) -> bool:
        return bool(self.imagenet_weight or (self.far and self.far["imagenet_weight"]))

    def nearest_known(self, features: torch.Tensor) -> torch.Tensor:
        """[B] cosine of each frame's trunk features [B,D] to the nearest picture the map was fitted on."""
        return (F.normalize(features.float(), dim=-1).to(self.known.dtype) @ self.known.t()).max(-1).values.float()

    def scores(self, features: torch.Tensor, bonus=None, imagenet_probs: torch.Tensor | None = None,
               imagenet_weight=None, novel: torch.Tensor | None = None) -> torch.Tensor:
        """[B,N]: similarity + the novelty bonus on `novel` entries (default: those the map saw no picture of)
        + the ImageNet evidence (when `imagenet_probs` [B,1000] is given). Bonus and weight: numbers, [B,1]
        tensors (one per frame), or None for the lexicon's own (per frame, with `far`)."""
        if bonus is None or imagenet_weight is None:
            own_bonus, own_weight = self.frame_settings(features)
            bonus = own_bonus if bonus is None else bonus
            imagenet_weight = own_weight if imagenet_weight is None else imagenet_weight
        scores = self.similarity(features) + bonus * (self.novel if novel is None else novel)
        if imagenet_probs is not None:
            scores = scores + imagenet_weight * (imagenet_probs.float() @ self.imagenet_members.t())
        return scores

    def frame_settings(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """([B,1] novelty bonus, [B,1] ImageNet weight) of each frame: the `far` ones for a frame unlike every
        known picture."""
        shape = (features.shape[0], 1)
        bonus, weight = torch.full(shape, self.novel_bonus), torch.full(shape, self.imagenet_weight)
        if self.far and self.known is not None:
            far = (self.nearest_known(features) < self.far["below"]).view(shape)
            bonus = torch.where(far, torch.full(shape, float(self.far["bonus"])), bonus)
            weight = torch.where(far, torch.full(shape, float(self.far["imagenet_weight"])), weight)
        return bonus, weight

    @torch.no_grad()
    def names_for(self, features: torch.Tensor, language: str, imagenet_probs: torch.Tensor | None = None) -> list[str]:
        """The names, in `language` ("en" or "zh"), of the top_k objects of one frame's trunk features [D]
        (and its ImageNet class probabilities [1000], when the tower has the classifier)."""
        probs = None if imagenet_probs is None else imagenet_probs.view(1, -1)
        top = self.scores(features.view(1, -1).float(), imagenet_probs=probs)[0]
        top = top.topk(min(self.top_k, len(self.entries))).indices
        return [getattr(self.entries[i], language) for i in top.tolist()]

    # ---- files --------------------------------------------------------------------------------------------
    def save(self, folder: Path, info: dict | None = None, known: torch.Tensor | None = None) -> Path:
        """`known`: the trunk features of the pictures the map was fitted on (stored as fp16 unit vectors)."""
        meta = {"entries": [{**e.__dict__, "imagenet": list(e.imagenet), "attrs": [list(a) for a in e.attrs]}
                            for e in self.entries],
                "novel_bonus": self.novel_bonus, "imagenet_weight": self.imagenet_weight, "far": self.far,
                "derived": {f: {a: list(source) for a, source in args.items()} for f, args in self.derived.items()},
                "top_k": self.top_k, "crop": self.crop, "info": info or {}}
        tensors = {"map.weight": self.map.weight, "map.bias": self.map.bias,
                   "feature_mean": self.feature_mean, "feature_std": self.feature_std}
        if known is not None:
            tensors[KNOWN_FEATURES] = unit_fp16(known)
        path = Path(folder) / LEXICON_FILE
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path),
                  metadata={"lexicon": json.dumps(meta, ensure_ascii=False)})
        return path


def load_lexicon(folder: Path, model, top_k: int | None = None) -> ObjectLexicon | None:
    """The checkpoint's lexicon on top of `model`'s LM embeddings, or None when the folder has none."""
    path = Path(folder) / LEXICON_FILE
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads(fh.metadata()["lexicon"])
            tensors = {name: fh.get_tensor(name) for name in MAP_TENSORS}
            # the known pictures only when frames are told apart by them (a lexicon from before session 22: never)
            known = fh.get_tensor(KNOWN_FEATURES) if meta.get("far") and KNOWN_FEATURES in fh.keys() else None
        entries = [LexiconEntry(**{**e, "imagenet": tuple(e.get("imagenet", ())),
                                   "attrs": tuple(tuple(a) for a in e.get("attrs", ()))}) for e in meta["entries"]]
        if meta.get("far") and known is None:
            raise ValueError("it scores frames far from its pictures apart, but does not hold the pictures")
    except Exception as exc:  # truncated file, missing metadata, wrong fields
        raise ModelLoadError(f"{path} is not a readable object lexicon: {exc}") from exc
    lexicon = ObjectLexicon(tensors["map.weight"].shape[1], entries,
                            name_embeddings(model, [e.en for e in entries]),
                            name_embeddings(model, [e.zh for e in entries]),
                            meta["novel_bonus"], meta["top_k"] if top_k is None else top_k, meta.get("crop", 1.0),
                            meta.get("imagenet_weight", 0.0), meta.get("far"), known, meta.get("derived"))
    if lexicon.map.weight.shape[0] != lexicon.names_en.shape[1]:
        raise ModelLoadError(f"{path} maps to {lexicon.map.weight.shape[0]} dimensions, this LM has "
                             f"{lexicon.names_en.shape[1]}: it was trained for another profile")
    lexicon.load_state_dict(tensors, strict=False)
    return lexicon.eval()
