"""Object catalog for image-conditioned examples: names (en/zh), category, tags, attributes and image files.

Built from config/train/objects.yaml:
  sources:   where the images live (tuxpaint stamps with .txt captions, emoji-datasource PNGs, openclipart)
  groups:    curated objects, each with en/zh names, tags, attributes (bin, product category, ...) and
             image references "tux:<stamp path without .png>", "emoji:<short_name>", "clip:<path under
             the openclipart png folder>" (glob patterns allowed)
  auto:      other Tux Paint stamps whose caption parses cleanly become distractor-only objects
  filters:   named selections of objects (what suits which slot: graspable, groceries, pets, ...)

A Tux Paint caption file (<stamp>.txt) holds the English caption on its first line and translations as
`<locale>.utf8=<text>` lines, e.g. `zh_CN.utf8=一个杯子。`. Curated objects give their names explicitly
(the zh_CN captions are sometimes wrong: "lion" is translated as 洋葱, onion); captions only name the
auto distractors, and every parsed caption is kept on the image reference for the record.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .templates import TemplateError, localize, stable_hash

DEFAULT_ROOTS = {
    "tux": "/usr/share/tuxpaint/stamps",
    "emoji": ".cache/npm/node_modules/emoji-datasource-google",
    "clip": "/usr/share/openclipart/png",
}


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class ImageRef:
    source: str           # tux | emoji | clip
    path: str             # absolute path of the PNG
    ref: str              # the reference as written (e.g. tux:food/fruit/banana)
    caption_en: str = ""
    caption_zh: str = ""


@dataclass(eq=False)
class CatalogObject:
    id: str
    name_en: str
    name_zh: str
    category: str
    tags: frozenset
    attrs: dict = field(default_factory=dict)     # attribute -> value or {en:, zh:}
    images: list = field(default_factory=list)    # [ImageRef]
    article: str | None = None
    curated: bool = True
    heldout: bool = False
    core: bool = False                            # never held out

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def attrs_for(self, lang: str) -> dict:
        return {k: localize(v, lang) for k, v in self.attrs.items()}


def parse_caption_file(path: Path) -> tuple[str, str]:
    """(English caption, zh_CN caption) of a Tux Paint stamp's .txt file ('' when absent)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "", ""
    en, zh = "", ""
    for i, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        if i == 0 and not re.match(r"^[A-Za-z_@]+\.utf8=", line):
            en = line
        elif line.startswith("zh_CN.utf8="):
            zh = line.split("=", 1)[1].strip()
    return en, zh


_EN_DROP = re.compile(r"^(a pair of|a bunch of|a cluster of|a head of|a string of|a slice of|a glass of|a cup of|"
                      r"a piece of|a quarter of|a|an|the|some|two|another)\s+", re.I)
_ZH_DROP = re.compile(r"^(一个|一只|一支|一对|一片|一串|一颗|一朵|一块|一辆|一棵|一面|一杯|一把|一副|一条|一座|两只|另一个)")


def clean_caption_en(caption: str) -> str:
    """'A mug.' -> 'mug'; '' for captions that are not a short noun phrase."""
    text = caption.strip().strip("“”\"'")
    text = re.sub(r"[.!]+$", "", text).strip()
    prev = None
    while prev != text:
        prev = text
        text = _EN_DROP.sub("", text)
    if not text or len(text.split()) > 3 or re.search(r"[^A-Za-z \-']", text) or text[0].isupper():
        return ""
    return text.lower()


def clean_caption_zh(caption: str) -> str:
    text = re.sub(r"[。！!.]+$", "", caption.strip())
    text = _ZH_DROP.sub("", text)
    if not text or len(text) > 6 or re.search(r"[^\u4e00-\u9fff]", text):
        return ""
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass
class Filter:
    name: str
    tags_any: frozenset = frozenset()
    tags_all: frozenset = frozenset()
    exclude_tags: frozenset = frozenset()
    has_attrs: frozenset = frozenset()
    curated_only: bool = True

    def match(self, obj: CatalogObject) -> bool:
        if self.curated_only and not obj.curated:
            return False
        if self.tags_any and not (self.tags_any & obj.tags):
            return False
        if self.tags_all and not (self.tags_all <= obj.tags):
            return False
        if self.exclude_tags & obj.tags:
            return False
        return all(a in obj.attrs for a in self.has_attrs)


class Catalog:
    def __init__(self, objects: list[CatalogObject], filters: dict[str, Filter], warnings: list[str]):
        self.objects = objects
        self.by_id = {o.id: o for o in objects}
        self.filters = filters
        self.warnings = warnings

    def select(self, filter_name: str) -> list[CatalogObject]:
        if filter_name not in self.filters:
            raise CatalogError(f"unknown object filter {filter_name!r} (known: {sorted(self.filters)})")
        f = self.filters[filter_name]
        return [o for o in self.objects if f.match(o)]

    @property
    def curated(self) -> list[CatalogObject]:
        return [o for o in self.objects if o.curated]

    def assign_holdout(self, seed: int, fraction: float, filters_in_use: list[str], min_train: int = 3) -> None:
        """Hold out a fraction of the curated objects (deterministic from the seed): they only ever appear in
        the test split. Every filter in use keeps >= min_train non-held-out objects with images, and gets at
        least one held-out object when it has >= 5 objects with images."""
        curated = sorted(self.curated, key=lambda o: stable_hash(seed, "object", o.id))
        n_out = int(round(fraction * len(curated)))
        eligible = [o for o in curated if not o.core]
        for obj in curated:
            obj.heldout = False
        for obj in eligible[:n_out]:
            obj.heldout = True
        for name in sorted(set(filters_in_use)):
            members = [o for o in self.select(name) if o.images]
            members.sort(key=lambda o: stable_hash(seed, "object", o.id))
            train = [o for o in members if not o.heldout]
            for obj in [o for o in members if o.heldout]:
                if len(train) >= min_train:
                    break
                obj.heldout = False
                train.append(obj)
            if len(members) >= 5 and not any(o.heldout for o in members):
                # hold out the member shared by the fewest other in-use filters
                for obj in [o for o in reversed(members) if not o.core]:
                    others = [n for n in filters_in_use if n != name and obj in self.select(n)]
                    if all(len([o for o in self.select(n) if o.images and not o.heldout and o is not obj])
                           >= min_train for n in others):
                        obj.heldout = True
                        break

    def summary(self) -> dict:
        return {"objects": len(self.objects), "curated": len(self.curated),
                "with_images": sum(1 for o in self.objects if o.images),
                "images": sum(len(o.images) for o in self.objects),
                "by_source": _count_sources(self.objects)}


def _count_sources(objects) -> dict:
    counts: dict = {}
    for o in objects:
        for im in o.images:
            counts[im.source] = counts.get(im.source, 0) + 1
    return dict(sorted(counts.items()))


MAX_PIXELS = 8_000_000   # a few openclipart PNGs are 10000x16000: too slow to decode, skipped


def _small_enough(path: Path) -> bool:
    import warnings

    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                return im.width * im.height <= MAX_PIXELS
    except Exception:   # unreadable or huge file: skip it
        return False


class _Resolver:
    """Expands image references into files, per source."""

    def __init__(self, roots: dict[str, Path]):
        self.roots = roots
        self._emoji = None
        self._clip_files = None
        self._tux_files = None

    def available(self, source: str) -> bool:
        root = self.roots.get(source)
        return bool(root and root.is_dir())

    def tux_files(self) -> list[str]:
        if self._tux_files is None:
            root = self.roots["tux"]
            self._tux_files = sorted(str(p.relative_to(root))[:-4] for p in root.rglob("*.png")) \
                if self.available("tux") else []
        return self._tux_files

    def clip_files(self) -> list[str]:
        if self._clip_files is None:
            root = self.roots["clip"]
            self._clip_files = sorted(str(p.relative_to(root)) for p in root.rglob("*.png")) \
                if self.available("clip") else []
        return self._clip_files

    def emoji_index(self) -> dict:
        if self._emoji is None:
            self._emoji = {}
            root = self.roots.get("emoji")
            if root and (root / "emoji.json").is_file():
                for entry in json.loads((root / "emoji.json").read_text(encoding="utf-8")):
                    if not entry.get("has_img_google"):
                        continue
                    for name in entry.get("short_names") or [entry.get("short_name")]:
                        self._emoji[name] = entry["image"]
        return self._emoji

    def tux_caption(self, rel: str) -> tuple[str, str]:
        path = self.roots["tux"] / (rel + ".txt")
        if not path.exists() and rel.endswith("_mirror"):
            path = self.roots["tux"] / (rel[:-7] + ".txt")
        return parse_caption_file(path)

    def expand(self, ref: str) -> list[ImageRef]:
        source, _, pattern = ref.partition(":")
        if source not in ("tux", "emoji", "clip") or not pattern:
            raise CatalogError(f"bad image reference {ref!r} (use tux:..., emoji:... or clip:...)")
        if not self.available(source):
            return []
        root = self.roots[source]
        if source == "tux":
            rels = [r for r in self.tux_files() if fnmatch.fnmatchcase(r, pattern)]
            out = []
            for rel in rels:
                en, zh = self.tux_caption(rel)
                out.append(ImageRef("tux", str(root / (rel + ".png")), f"tux:{rel}", en, zh))
            return out
        if source == "clip":
            return [ImageRef("clip", str(root / rel), f"clip:{rel}")
                    for rel in self.clip_files() if fnmatch.fnmatchcase(rel, pattern) and _small_enough(root / rel)]
        index = self.emoji_index()
        image = index.get(pattern)
        if not image:
            return []
        path = root / "img" / "google" / "64" / image
        return [ImageRef("emoji", str(path), f"emoji:{pattern}")] if path.is_file() else []


def load_catalog(path: str | Path, repo_root: str | Path | None = None,
                 roots: dict[str, str] | None = None) -> Catalog:
    """Load objects.yaml. Relative source roots are taken from repo_root (default: the file's repo)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read object catalog {path}: {exc}") from exc
    repo_root = Path(repo_root) if repo_root else path.resolve().parents[2]
    root_specs = dict(DEFAULT_ROOTS)
    root_specs.update({k: v.get("root", root_specs.get(k)) if isinstance(v, dict) else v
                       for k, v in (raw.get("sources") or {}).items()})
    root_specs.update(roots or {})
    resolved = {}
    for key, value in root_specs.items():
        p = Path(value)
        resolved[key] = p if p.is_absolute() else repo_root / p
    resolver = _Resolver(resolved)
    warnings = [f"image source {k!r} not found at {v} (objects keep their other images)"
                for k, v in resolved.items() if not resolver.available(k)]

    objects: list[CatalogObject] = []
    seen_ids: dict[str, CatalogObject] = {}
    used_refs: set[str] = set()
    for gi, group in enumerate(raw.get("groups") or []):
        gtags = set(group.get("tags") or [])
        gattrs = dict(group.get("attrs") or {})
        category = group.get("category") or (sorted(gtags)[0] if gtags else "object")
        for item in group.get("objects") or []:
            if not isinstance(item, dict) or "en" not in item or "zh" not in item:
                raise CatalogError(f"{path}: group {gi}: every object needs en and zh names: {item!r}")
            name_en, name_zh = str(item["en"]), str(item["zh"])
            oid = str(item.get("id") or _slug(name_en))
            if oid in seen_ids:
                raise CatalogError(f"{path}: duplicate object id {oid!r}")
            images = []
            for ref in item.get("src") or []:
                found = resolver.expand(ref)
                if not found and resolver.available(ref.partition(":")[0]):
                    warnings.append(f"{oid}: image reference {ref!r} matched no file")
                for im in found:
                    if im.ref not in used_refs:
                        used_refs.add(im.ref)
                        images.append(im)
            attrs = dict(gattrs)
            attrs.update(item.get("attrs") or {})
            for key in ("bin",):
                if key in item:
                    attrs[key] = item[key]
            attrs = {k: v for k, v in attrs.items() if v is not None}   # `null` removes a group attribute
            obj = CatalogObject(id=oid, name_en=name_en, name_zh=name_zh,
                                category=str(item.get("category") or category),
                                tags=frozenset(gtags | set(item.get("tags") or [])),
                                attrs=attrs, images=images, article=item.get("article"), core=bool(item.get("core")))
            seen_ids[oid] = obj
            objects.append(obj)

    auto = raw.get("auto") or {}
    if auto.get("tux_distractors", True) and resolver.available("tux"):
        exclude = [str(p) for p in auto.get("exclude") or []]
        names_taken = {o.name_en for o in objects}
        for rel in resolver.tux_files():
            ref = f"tux:{rel}"
            if ref in used_refs or any(fnmatch.fnmatchcase(rel, pat) for pat in exclude):
                continue
            en_cap, zh_cap = resolver.tux_caption(rel)
            en, zh = clean_caption_en(en_cap), clean_caption_zh(zh_cap)
            if not en or not zh or en in names_taken:
                continue
            oid = "auto_" + _slug(en)
            obj = seen_ids.get(oid)
            im = ImageRef("tux", str(resolver.roots["tux"] / (rel + ".png")), ref, en_cap, zh_cap)
            if obj is None:
                obj = CatalogObject(id=oid, name_en=en, name_zh=zh, category=rel.split("/")[0],
                                    tags=frozenset({"auto"}), curated=False)
                seen_ids[oid] = obj
                objects.append(obj)
            obj.images.append(im)
            used_refs.add(ref)

    filters = {}
    for name, spec in (raw.get("filters") or {}).items():
        spec = spec or {}
        filters[name] = Filter(name=name, tags_any=frozenset(spec.get("tags_any") or []),
                               tags_all=frozenset(spec.get("tags_all") or []),
                               exclude_tags=frozenset(spec.get("exclude_tags") or []),
                               has_attrs=frozenset(spec.get("has_attrs") or []),
                               curated_only=bool(spec.get("curated_only", True)))
    catalog = Catalog(objects, filters, warnings)
    for name in filters:
        if not catalog.select(name):
            raise CatalogError(f"{path}: filter {name!r} selects no object")
    return catalog


def validate_names(catalog: Catalog) -> list[str]:
    """Problems with curated names: a zh name without CJK, duplicate names within a language."""
    problems = []
    by_name: dict = {}
    for obj in catalog.curated:
        if not re.search(r"[\u4e00-\u9fff]", obj.name_zh):
            problems.append(f"{obj.id}: zh name {obj.name_zh!r} has no Chinese character")
        for lang in ("en", "zh"):
            key = (lang, obj.name(lang))
            if key in by_name:
                problems.append(f"{obj.id} and {by_name[key]} share the {lang} name {obj.name(lang)!r}")
            by_name[key] = obj.id
    return problems


def load_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read {path}: {exc}") from exc


class CatalogSource:
    """A template slot filled with a catalog object: its name in the command's language (the argument),
    its attributes (for expressions such as `item.bin`) and, for image templates, its pictures.
    balance: an attribute name; its values are drawn uniformly first (e.g. equal shares of each bin)."""
    kind = "catalog"

    def __init__(self, name: str, filter_name: str, catalog: Catalog, balance: str | None = None):
        self.name = name
        self.filter_name = filter_name
        self.catalog = catalog
        self.balance = balance
        self.members = catalog.select(filter_name)
        if balance and not all(balance in o.attrs for o in self.members):
            raise CatalogError(f"slot {name!r}: filter {filter_name!r} has objects without attribute {balance!r}")

    def candidates(self, pool: str, need_image: bool) -> list[CatalogObject]:
        members = [o for o in self.members if o.images] if need_image else list(self.members)
        if pool in ("fit", "train"):
            out = [o for o in members if not o.heldout]
        elif pool == "heldout":
            out = [o for o in members if o.heldout] or members
        else:
            out = members
        if not out:
            raise CatalogError(f"slot {self.name!r} (filter {self.filter_name!r}): no {pool} objects"
                               + (" with images" if need_image else ""))
        return out

    def sample(self, lang: str, rng, pool: str, need_image: bool = False):
        from .templates import SlotValue
        objs = self.candidates(pool, need_image)
        if self.balance:
            values = sorted({str(o.attrs[self.balance]) for o in objs})
            chosen = rng.choice(values)
            objs = [o for o in objs if str(o.attrs[self.balance]) == chosen]
        obj = rng.choice(objs)
        name = obj.name(lang)
        return SlotValue(text=name, value=name, attrs=obj.attrs_for(lang), obj=obj, heldout=obj.heldout,
                         article=obj.article)
