"""Objects a user teaches the agent from a few photos, named from the camera frame without retraining.

The object lexicon names what training had pictures of; an object no training picture shows is named 6 % of
the time (held-out objects of the test split, evaluation.md), and no pretrained vision-language tower ships
offline to do better. A user can do better in seconds: `octopus-ros objects teach "blue mug" --zh 蓝杯子
photo1.jpg ...` keeps the trunk features of each photo (the centre crop the lexicon reads) in a small file.
With a frame, a taught object wins when one of its photos is nearer (cosine) to the frame than every picture
the lexicon was trained on (`known` features, saved by `octopus-ros train lexicon`); otherwise the lexicon
decides as before. So a taught object never needs a threshold, and it only takes frames that look more like
it than like anything the model already knows (session 19: 5 photos per held-out object name 84 % of the
test split's frames of those objects, and take 0.3-0.5 % of the frames of other objects).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from .errors import ModelLoadError
from .lexicon import NamesSaid, frame_features

TAUGHT_FORMAT = 1
DEFAULT_TAUGHT_FILE = Path("~/.local/share/octopus_ros/taught_objects.safetensors")
MAX_NAME_CHARS = 80


@dataclass
class TaughtObject:
    en: str
    zh: str
    features: torch.Tensor   # [K, D] unit vectors, one per photo

    def name(self, language: str) -> str:
        """The object's name in `language`; an object taught with one name answers with it in both."""
        return (self.zh if language == "zh" else self.en) or self.en or self.zh


@torch.no_grad()
def photo_features(vision, photos: list[np.ndarray], crop: float) -> torch.Tensor:
    """[B, D] unit trunk-feature vectors of the centre crop the lexicon reads (model/lexicon.py)."""
    vision.eval()
    return F.normalize(frame_features(vision, photos, crop).float(), dim=-1)


@dataclass
class TaughtObjects:
    """The taught objects of one model profile (the features are its image trunk's, read at its crop)."""
    profile: str
    crop: float
    feature_dim: int
    objects: list[TaughtObject] = field(default_factory=list)

    # ---- recognising -------------------------------------------------------------------------------------
    def recognise(self, features: torch.Tensor, known: torch.Tensor) -> TaughtObject | None:
        """The taught object a frame shows (its trunk features [D] at `crop`), or None when some picture the
        lexicon was trained on (`known` [M, D] unit vectors) is at least as near as every taught photo."""
        if not self.objects:
            return None
        frame = F.normalize(features.float().view(1, -1), dim=-1)
        best, owner = -2.0, None
        for obj in self.objects:
            nearest = float((frame @ obj.features.t()).max())
            if nearest > best:
                best, owner = nearest, obj
        return owner if best > float((frame @ known.float().t()).max()) else None

    def check(self, obj: TaughtObject, known: torch.Tensor) -> list[str]:
        """For each photo of `obj`, what the other photos (and objects) would name it: the English (else Chinese)
        name of the object or of another taught object, or "known" (a training picture is nearer). A photo with no
        others is "known" unless another taught object is nearer."""
        verdicts = []
        for i in range(len(obj.features)):
            others = [TaughtObject(o.en, o.zh, o.features if o is not obj else
                                   torch.cat([o.features[:i], o.features[i + 1:]]))
                      for o in self.objects if o is not obj or len(o.features) > 1]
            found = TaughtObjects(self.profile, self.crop, self.feature_dim, others).recognise(obj.features[i], known)
            verdicts.append("known" if found is None else found.name("en"))
        return verdicts

    def mentioned_in(self, command: str) -> bool:
        """Does the command name a taught object itself ("pick up my blue mug")? Then, as for the lexicon's
        objects, an argument may be copied from the command."""
        return NamesSaid([o.en for o in self.objects], [o.zh for o in self.objects]).in_command(command)

    def names_in(self, language: str) -> dict[str, str]:
        """The taught names in `language`, keyed as compared (English in lower case) -> as written."""
        if language == "zh":
            return {o.zh: o.zh for o in self.objects if o.zh}
        return {o.en.lower(): o.en for o in self.objects if o.en}

    # ---- editing -----------------------------------------------------------------------------------------
    def find(self, name: str) -> TaughtObject | None:
        name = name.strip()
        return next((o for o in self.objects if o.en.lower() == name.lower() or (o.zh and o.zh == name)), None)

    def teach(self, en: str, zh: str, features: torch.Tensor, replace: bool = False) -> TaughtObject:
        """Add photos to the object named `en` (a new object when there is none; `replace`: forget its old
        photos)."""
        en, zh = " ".join(en.split()), "".join(zh.split())
        if not en and not zh:
            raise ValueError("a taught object needs a name (English, Chinese or both)")
        for name in (en, zh):
            if len(name) > MAX_NAME_CHARS:
                raise ValueError(f"name {name[:20]!r}... is longer than {MAX_NAME_CHARS} characters")
        if features.ndim != 2 or features.shape[1] != self.feature_dim or not len(features):
            raise ValueError(f"expected photo features [K, {self.feature_dim}], got {list(features.shape)}")
        features = F.normalize(features.float(), dim=-1)
        obj = self.find(en or zh)
        if obj is None:
            obj = TaughtObject(en, zh, features)
            self.objects.append(obj)
        else:
            obj.zh = zh or obj.zh
            obj.features = features if replace else torch.cat([obj.features, features])
        return obj

    def forget(self, name: str) -> bool:
        obj = self.find(name)
        if obj is not None:
            self.objects.remove(obj)
        return obj is not None

    # ---- files -------------------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": TAUGHT_FORMAT, "profile": self.profile, "crop": self.crop, "feature_dim": self.feature_dim,
                "objects": [{"en": o.en, "zh": o.zh, "photos": len(o.features)} for o in self.objects]}
        tensors = {f"object{i}": o.features.half().contiguous() for i, o in enumerate(self.objects)}
        if not tensors:   # safetensors needs one tensor
            tensors = {"empty": torch.zeros(0, self.feature_dim, dtype=torch.float16)}
        tmp = path.with_suffix(path.suffix + ".tmp")   # written whole, then renamed: a reader never sees half
        save_file(tensors, str(tmp), metadata={"taught_objects": json.dumps(meta, ensure_ascii=False)})
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> "TaughtObjects":
        path = Path(path).expanduser()
        if not path.exists():
            raise ModelLoadError(f"taught objects file {path} not found (create it with `octopus-ros objects teach`)")
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = json.loads(fh.metadata()["taught_objects"])
                objects = [TaughtObject(o["en"], o["zh"], fh.get_tensor(f"object{i}").float())
                           for i, o in enumerate(meta["objects"])]
            if meta["format"] != TAUGHT_FORMAT:
                raise ValueError(f"format {meta['format']}, this version reads {TAUGHT_FORMAT}")
            return cls(meta["profile"], float(meta["crop"]), int(meta["feature_dim"]), objects)
        except Exception as exc:  # truncated file, missing metadata, wrong fields
            raise ModelLoadError(f"{path} is not a readable taught-objects file: {exc}") from exc

    def matches(self, profile: str, crop: float, feature_dim: int) -> None:
        """Raise ModelLoadError when these features were taken by another image tower or crop."""
        if (self.profile, round(self.crop, 4), self.feature_dim) != (profile, round(crop, 4), feature_dim):
            raise ModelLoadError(
                f"the taught objects were taught with profile {self.profile!r} (crop {self.crop}, {self.feature_dim} "
                f"features), this model is {profile!r} (crop {crop}, {feature_dim}): teach them again with this model")
