"""Synthetic data generator (octopus_ros.training.synth): determinism, splits, validity, languages, images.

The dataset tests build a tiny dataset from the real templates (config/train/templates) and the real
config/functions.yaml, with a small hermetic object catalog: generated stamp images with Tux Paint style
caption files in a temporary folder (so they do not need the Debian/npm image packages). One more test
checks the real catalog and every real template when the image packages are installed.
"""
from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from octopus_ros.training.synth import templates as T
from octopus_ros.training.synth.build import SynthConfig, _norm_text, build, prepare
from octopus_ros.training.synth.catalog import clean_caption_en, clean_caption_zh, load_catalog, parse_caption_file
from synth_helpers import tiny_config

REPO = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny config: real templates + functions, hermetic catalog; built twice (1 and 2 workers)."""
    base = tmp_path_factory.mktemp("synth")
    cfg = tiny_config(base)
    objects = Path(cfg["objects"])
    out_a, out_b = base / "a", base / "b"
    summary = build(SynthConfig(name="tiny", workers=1, **cfg), out_a)
    build(SynthConfig(name="tiny", workers=2, **cfg), out_b)
    rows = [json.loads(line) for split in ("train", "val", "test")
            for line in (out_a / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    catalog = load_catalog(objects, repo_root=REPO)
    return {"out": out_a, "out_b": out_b, "rows": rows, "summary": summary, "catalog": catalog,
            "manifest": json.loads((out_a / "manifest.json").read_text(encoding="utf-8"))}


def _registry():
    actions = pytest.importorskip("octopus_ros.actions")
    return actions.ActionRegistry.from_yaml(REPO / "config/functions.yaml")


# ------------------------------------------------------------------------------------------------ unit tests
@pytest.mark.parametrize("n,zh,en", [(0, "零", "zero"), (2, "二", "two"), (10, "十", "ten"), (11, "十一", "eleven"),
                                     (20, "二十", "twenty"), (25, "二十五", "twenty-five"), (100, "一百", "one hundred"),
                                     (105, "一百零五", "one hundred five"), (110, "一百一十", "one hundred ten"),
                                     (1050, "一千零五十", "one thousand fifty")])
def test_numbers(n, zh, en):
    assert T.number_to_zh(n) == zh
    assert T.number_to_en(n) == en


def test_number_forms():
    assert T.number_to_zh(2, liang=True) == "两"
    assert T.number_to_zh(200, liang=True) == "两百"
    assert T.number_to_zh(22, liang=True) == "二十二"
    assert T.render_number(21.5, "zh", "words") == "二十一点五"
    assert T.render_number(21.5, "en", "words") == "twenty-one point five"
    assert T.render_number(10.0, "en", "digits") == "10"
    assert T.article_for("80", None) == "an" and T.article_for("8", None) == "an" and T.article_for("7", None) == "a"
    assert T.pluralize("cherry") == "cherries" and T.pluralize("peach") == "peaches" and T.pluralize("apple") == "apples"
    assert T.pluralize("grapes", "some") == "grapes"


def test_template_parse_and_render():
    nodes = T.parse_template("[turn|switch] on the {device} [in the {area}|]")
    assert T.placeholders(nodes) == {"device", "area"}
    assert T.count_variants(nodes) == 4
    import random
    values = {"device": T.SlotValue("lamp", "lamp"), "area": T.SlotValue("kitchen", "kitchen")}
    texts = {T.join_segments(T.render_nodes(nodes, values.__getitem__, random.Random(i), "en"), "en") for i in range(40)}
    assert "turn on the lamp in the kitchen" in texts and "switch on the lamp" in texts
    with pytest.raises(T.TemplateError):
        T.parse_template("turn on the {device")


def test_expressions():
    slots = {"tdir": T.SlotValue("right", "right", attrs={"sign": -1}), "deg": T.SlotValue("45", 45.0)}
    assert T.eval_expression("tdir.sign * deg", slots) == -45.0
    assert T.eval_expression("deg // 60", {"deg": T.SlotValue("90", 90)}) == 1
    with pytest.raises(T.TemplateError):
        T.eval_expression("__import__('os')", slots)


def test_extra_values_only_fit_the_train_split():
    """`extra:` values widen what training copies from; they are never held out, and val/test never see them."""
    import random
    spec = {"holdout": True, "values": [{"en": f"room {i}"} for i in range(10)],
            "extra": [{"en": f"spare room {i}"} for i in range(30)]}
    source = T.VocabSource("rooms", spec, seed=0, heldout_fraction=0.2)
    extras = {e.key for e in source.entries if e.extra}
    assert len(extras) == 30 and not any(e.heldout for e in source.entries if e.extra)
    assert sum(e.heldout for e in source.entries) == 2
    rng = random.Random(0)
    seen = {pool: {source.sample("en", rng, pool).text for _ in range(300)} for pool in ("fit", "train", "heldout")}
    assert seen["fit"] & extras and not (seen["train"] | seen["heldout"]) & extras
    assert not seen["fit"] & set(source.heldout_keys())
    with pytest.raises(T.TemplateError, match="copied text"):
        T.VocabSource("rooms", {"values": ["a"], "extra": [{"en": "b", "value": 1}]}, seed=0, heldout_fraction=0.2)


def test_extra_values_cannot_repeat_a_value():
    """An extra equal to another vocabulary's value (which may be held out) would leak it into training."""
    vocab = {"rooms": T.VocabSource("rooms", {"values": [{"en": "attic", "zh": "阁楼"}]}, 0, 0.2),
             "places": T.VocabSource("places", {"values": ["sofa"], "extra": [{"en": "Attic"}]}, 0, 0.2)}
    with pytest.raises(T.TemplateError, match="places: en 'Attic'"):
        T._check_extras(vocab, None)


def test_captions(tmp_path):
    p = tmp_path / "mug.txt"
    p.write_text("A mug.\nde.utf8=Eine Tasse.\nzh_CN.utf8=一个杯子。\nzh_TW.utf8=杯子\n", encoding="utf-8")
    assert parse_caption_file(p) == ("A mug.", "一个杯子。")
    assert clean_caption_en("A mug.") == "mug" and clean_caption_zh("一个杯子。") == "杯子"
    assert clean_caption_en("A pair of open scissors.") == "open scissors"
    assert clean_caption_en("Tux—the Linux mascot!") == ""
    assert clean_caption_zh("记住冲马桶和用肥皂洗手。") == ""


# ------------------------------------------------------------------------------------------------ dataset
def test_deterministic(tiny):
    """Same config and seed -> byte-identical files (with 1 or 2 worker processes)."""
    a, b = tiny["out"], tiny["out_b"]
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors


def test_format_and_coverage(tiny):
    registry = _registry()
    rows = tiny["rows"]
    seen = {(r["expected"]["function"], r["lang"], r["split"]) for r in rows}
    for f in registry.names:
        for lang in ("en", "zh"):
            for split in ("train", "val", "test"):
                assert (f, lang, split) in seen, (f, lang, split)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    for r in rows:
        assert set(r) >= {"id", "lang", "text", "image", "expected", "split", "tags"}
        assert r["lang"] in ("en", "zh") and r["text"].strip() and isinstance(r["tags"], list)
    assert (tiny["out"] / "card.md").read_text(encoding="utf-8").startswith("# Dataset card")


def test_every_example_validates(tiny):
    registry = _registry()
    for r in tiny["rows"]:
        name, args = r["expected"]["function"], r["expected"]["arguments"]
        assert registry.validate_arguments(name, args) == [], r
        parsed = registry.parse(registry.format_call(name, args))
        assert parsed.ok, (r, parsed.error)
        assert parsed.call.function.name == name
        assert parsed.call.arguments == args, r      # defaults are filled in the case files


def test_splits_disjoint_objects(tiny):
    heldout = set(tiny["manifest"]["heldout_objects"])
    assert heldout, "the tiny catalog should hold out some objects"
    catalog = tiny["catalog"]
    names = {lang: {catalog.by_id[o].name(lang) for o in heldout} for lang in ("en", "zh")}
    for r in tiny["rows"]:
        used = {r["meta"].get("target")} | set(r["meta"].get("distractors", []))
        if r["split"] != "test":
            assert not used & heldout, r
            assert "heldout_object" not in r["tags"]
            for value in r["expected"]["arguments"].values():
                assert value not in names[r["lang"]], r
    assert any("heldout_object" in r["tags"] for r in tiny["rows"] if r["split"] == "test")


def test_splits_disjoint_templates_and_values(tiny):
    heldout = set(tiny["manifest"]["heldout_templates"])
    assert heldout
    for r in tiny["rows"]:
        if r["split"] != "test":
            assert r["meta"]["template"] not in heldout, r
            assert not {"heldout_template", "heldout_value"} & set(r["tags"]), r
    test_templates = {r["meta"]["template"] for r in tiny["rows"] if r["split"] == "test"}
    assert test_templates & heldout
    # a text command (with or without a context frame) never appears in two splits
    texts = {}
    for r in tiny["rows"]:
        if "deictic" not in r["tags"]:
            texts.setdefault((r["lang"], _norm_text(r["text"])), set()).add(r["split"])
    assert all(len(splits) == 1 for splits in texts.values())


def test_validation_phrasings_are_only_in_val(tmp_path):
    """holdout.val_template_fraction: phrasings that only the validation split draws from (tagged
    heldout_template), so that val measures new phrasings as the test does; train and test never use them."""
    cfg = tiny_config(tmp_path, sizes={"train": 4, "val": 6, "test": 4})
    cfg["holdout"] = {**cfg["holdout"], "val_template_fraction": 0.2}
    out = tmp_path / "out"
    build(SynthConfig(name="tiny", workers=1, **cfg), out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    val_only = set(manifest["val_templates"])
    assert val_only and not val_only & set(manifest["heldout_templates"])
    rows = [json.loads(line) for split in ("train", "val", "test")
            for line in (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert not [r for r in rows if r["split"] != "val" and r["meta"]["template"] in val_only]
    val = [r for r in rows if r["split"] == "val"]
    new = [r for r in val if r["meta"]["template"] in val_only]
    assert new and all("heldout_template" in r["tags"] for r in new)
    assert all("heldout_template" not in r["tags"] for r in val if r not in new)
    assert "validation-only phrasings" in (out / "card.md").read_text(encoding="utf-8")


def _copy_templates(src: Path, dst: Path, edit) -> None:
    """A copy of a template folder, each file's parsed YAML changed in place by `edit(raw)` first."""
    import yaml
    dst.mkdir()
    for path in sorted(src.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        edit(raw)
        (dst / path.name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def _without_train_only(src: Path, dst: Path) -> None:
    """A copy of a template folder with every `train_only: true` phrasing taken out."""
    def edit(raw):
        for fspec in (raw.get("functions") or {}).values():
            for lang, items in (fspec.get("templates") or {}).items():
                fspec["templates"][lang] = [i for i in items if not (isinstance(i, dict) and i.get("train_only"))]
    _copy_templates(src, dst, edit)


def test_train_only_phrasings_leave_val_and_test_as_they_were(tiny, tmp_path):
    """Phrasings marked train_only (written after the split was fixed) are only in train, outside the held-out
    draw; taking them out again rebuilds val, test and the held-out phrasings byte for byte."""
    rows, manifest = tiny["rows"], tiny["manifest"]
    train_only = {t.id for t in prepare(SynthConfig(name="tiny", workers=1, **tiny_config(tmp_path / "a")),
                                        tmp_path / "p").templates.train_only_templates()}
    assert manifest["train_only_templates"] == len(train_only) > 0
    assert not train_only & set(manifest["heldout_templates"])
    used = {r["meta"]["template"] for r in rows if r["split"] == "train"}
    assert used & train_only
    assert not [r for r in rows if r["split"] != "train" and r["meta"]["template"] in train_only]

    cfg = tiny_config(tmp_path / "b")
    cfg["templates"] = str(tmp_path / "templates")
    _without_train_only(REPO / "config/train/templates", tmp_path / "templates")
    out = tmp_path / "out"
    build(SynthConfig(name="tiny", workers=1, **cfg), out)
    for split in ("val", "test"):
        assert filecmp.cmp(out / f"{split}.jsonl", tiny["out"] / f"{split}.jsonl", shallow=False), split
    assert not filecmp.cmp(out / "train.jsonl", tiny["out"] / "train.jsonl", shallow=False)
    before = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert before["heldout_templates"] == manifest["heldout_templates"]
    assert "train_only_templates" not in before


def test_no_validation_phrasings_by_default(tiny):
    assert "val_templates" not in tiny["manifest"]
    assert not any("heldout_template" in r["tags"] for r in tiny["rows"] if r["split"] == "val")


def test_split_pools():
    """The main draw of train and val never draws held-out values (nor `extra:` ones: see the next test)."""
    import random
    from octopus_ros.training.synth.build import _pool
    rng = random.Random(0)
    assert _pool("train", 1.0, rng) == "train" and _pool("val", 1.0, rng) == "train"
    assert _pool("test", 1.0, rng) == "heldout" and _pool("test", 0.0, rng) == "train"


def _with_extras(src: Path, dst: Path, extras: dict | None) -> None:
    """A copy of a template folder whose vocabularies' `extra:` lists are replaced by `extras` (name -> list;
    None: every `extra:` list taken out)."""
    def edit(raw):
        for name, spec in (raw.get("vocab") or {}).items():
            if isinstance(spec, dict):
                spec.pop("extra", None)
                if extras and name in extras:
                    spec["extra"] = extras[name]
    _copy_templates(src, dst, edit)


def test_extra_values_leave_val_and_test_as_they_were(tmp_path):
    """With `holdout.extra_rate`, a share of the training examples draws the `extra:` values too, on a stream of
    its own: val and test come out byte for byte as without any extra value, and train says some extras."""
    extras = {"rooms": [{"en": f"spare room {i}", "zh": f"备用房间{i}"} for i in range(40)]}
    outs = {}
    for case, given in (("with", extras), ("without", None)):
        cfg = tiny_config(tmp_path / case, sizes={"train": 6, "val": 2, "test": 4})
        cfg["holdout"]["extra_rate"] = 0.5
        cfg["only_functions"] = ["turn_on", "start_vacuum", "navigate_to"]
        cfg["templates"] = str(tmp_path / case / "templates")
        _with_extras(REPO / "config/train/templates", tmp_path / case / "templates", given)
        outs[case] = tmp_path / case / "out"
        build(SynthConfig(name="tiny", workers=1, **cfg), outs[case])
    for split in ("val", "test"):
        assert filecmp.cmp(outs["with"] / f"{split}.jsonl", outs["without"] / f"{split}.jsonl", shallow=False)
    said = {v for e in extras["rooms"] for v in (e["en"], e["zh"])}
    rows = {split: [json.loads(line) for line in (outs["with"] / f"{split}.jsonl").read_text("utf-8").splitlines()]
            for split in ("train", "val", "test")}
    used = [r for r in rows["train"] if set(map(str, r["expected"]["arguments"].values())) & said]
    assert used and len(used) < len(rows["train"])
    # the main draw is untouched: a training example the extras' stream passes over is the same in both builds
    before = {json.loads(line)["id"]: line for line in (outs["without"] / "train.jsonl").read_text("utf-8").splitlines()}
    kept = [line for line in (outs["with"] / "train.jsonl").read_text("utf-8").splitlines()
            if T.rng_for(3, "extra_values", json.loads(line)["id"]).random() >= 0.5]
    assert kept and all(before[json.loads(line)["id"]] == line for line in kept)
    assert not [r for split in ("val", "test") for r in rows[split] if any(s in r["text"] for s in said)]


def _with_and_without_train_only(tmp_path, n_train: int, functions: list[str], set_rate):
    """Builds a tiny dataset with a train-only rate at 0.5 ("with") and at 0.0 ("without"); checks that val and test
    are byte for byte the same and returns both outputs and their training rows by id."""
    outs = {}
    for case, rate in (("with", 0.5), ("without", 0.0)):
        cfg = tiny_config(tmp_path / case, sizes={"train": n_train, "val": 2, "test": 4})
        set_rate(cfg, rate)
        cfg["only_functions"] = functions
        outs[case] = tmp_path / case / "out"
        build(SynthConfig(name="tiny", workers=1, **cfg), outs[case])
    for split in ("val", "test"):
        assert filecmp.cmp(outs["with"] / f"{split}.jsonl", outs["without"] / f"{split}.jsonl", shallow=False)
    rows = {case: {json.loads(line)["id"]: json.loads(line)
                   for line in (outs[case] / "train.jsonl").read_text("utf-8").splitlines()} for case in outs}
    assert rows["with"].keys() == rows["without"].keys()
    return outs, rows


def test_train_typos_leave_val_and_test_as_they_were(tmp_path):
    """`noise.train_typo_rate` puts one more typo into a share of the English training texts, on a stream of its
    own: val and test come out byte for byte as without it, the typo'd texts keep their call and the values they
    copy, and a training example the stream passes over is unchanged."""
    def set_rate(cfg, rate):
        cfg["noise"] = {"train_typo_rate": rate, "train_typo_short_rate": rate}
    # enough training commands that some frame phrases reach the wording's 10-command threshold
    outs, rows = _with_and_without_train_only(tmp_path, 40, ["turn_on", "media_control", "navigate_to"], set_rate)
    changed = [i for i in rows["with"] if rows["with"][i]["text"] != rows["without"][i]["text"]]
    assert changed and all(rows["with"][i]["lang"] == "en" for i in changed)
    for i in changed:
        new, old = rows["with"][i], rows["without"][i]
        assert "typo" in new["tags"] and "typo" not in old["tags"], (new, old)
        assert new["expected"] == old["expected"] and new["image"] == old["image"]
        assert len(new["text"].split()) == len(old["text"].split())
        assert sum(a != b for a, b in zip(new["text"].split(), old["text"].split())) == 1, (new["text"], old["text"])
        for name in new["meta"]["copied"]:        # a value the command says is never misspelt
            assert new["expected"]["arguments"][name] in new["text"], (name, new["text"])
    passed = [i for i in rows["with"] if T.rng_for(3, "train_typo_rate", i).random() >= 0.5]
    assert passed and all(rows["with"][i] == rows["without"][i] for i in passed)
    cards = {case: (outs[case] / "card.md").read_text(encoding="utf-8") for case in outs}
    assert "train-only typos" in cards["with"] and "train-only typos" not in cards["without"]
    # the decoding rules' wording is counted in the text before the typo, so the typos leave it as it was
    from octopus_ros.training.span_rules import train_wording
    assert all(rows["with"][i]["meta"]["before_typo"] == rows["without"][i]["text"] for i in changed)
    wording = train_wording(outs["with"], _registry())
    assert wording["frame_phrases"]["media_control"] and wording == train_wording(outs["without"], _registry())


def test_train_context_frames_leave_val_and_test_as_they_were(tmp_path):
    """`image.train_context_rate` gives a share of the training text commands a context frame, on a stream of its
    own: val and test come out byte for byte as without it, a framed command keeps its text and call, and the
    examples the stream passes over are unchanged (frames included)."""
    def set_rate(cfg, rate):
        cfg["image"] = {**cfg.get("image", {}), "train_context_rate": rate}
    outs, rows = _with_and_without_train_only(tmp_path, 12, ["turn_on", "navigate_to"], set_rate)
    framed = [i for i in rows["with"] if rows["with"][i]["image"] != rows["without"][i]["image"]]
    assert framed
    for i in framed:
        new, old = rows["with"][i], rows["without"][i]
        assert old["image"] is None and "context_image" in new["tags"] and "deictic" not in new["tags"]
        assert (new["text"], new["expected"]) == (old["text"], old["expected"])
        assert (outs["with"] / new["image"]).is_file()
    for i in rows["with"]:
        if i not in framed:
            assert rows["with"][i] == rows["without"][i]
            if rows["with"][i]["image"]:
                image = rows["with"][i]["image"]
                assert filecmp.cmp(outs["with"] / image, outs["without"] / image, shallow=False)
    cards = {case: (outs[case] / "card.md").read_text(encoding="utf-8") for case in outs}
    assert "train-only context frames" in cards["with"] and "train-only context frames" not in cards["without"]


def test_chinese_examples(tiny):
    """Chinese commands contain Chinese; string arguments are copied from the text (in Chinese), unless read
    from the image, derived from an object's attributes (e.g. the Amazon category), or the default."""
    registry = _registry()
    zh = [r for r in tiny["rows"] if r["lang"] == "zh"]
    assert zh
    for r in zh:
        assert CJK.search(r["text"]), r
        meta = r["meta"]
        for name in meta["copied"]:
            assert r["expected"]["arguments"][name] in r["text"], r
        for arg in registry.by_name(r["expected"]["function"]).args:
            value = r["expected"]["arguments"][arg.name]
            if arg.type != "str" or value == arg.default or arg.name in meta["image_args"] + meta["derived"]:
                continue
            assert arg.name in meta["copied"] and value in r["text"], (arg.name, r)
            assert CJK.search(value) or re.fullmatch(r"[\w .'-]+", value), (arg.name, r)
    assert sum(len(r["meta"]["copied"]) for r in zh) > len(zh) // 3


def test_image_examples(tiny):
    catalog = tiny["catalog"]
    image_rows = [r for r in tiny["rows"] if r["image"]]
    deictic = [r for r in image_rows if "from_image" in r["tags"]]
    assert deictic and any(r["lang"] == "zh" for r in deictic) and any(r["lang"] == "en" for r in deictic)
    for r in image_rows:
        path = tiny["out"] / r["image"]
        assert path.is_file(), r
        with Image.open(path) as im:
            assert im.size == (224, 224) and im.mode == "RGB"
    for r in deictic:
        target = catalog.by_id[r["meta"]["target"]]
        assert r["meta"]["image_args"], r
        for name in r["meta"]["image_args"]:
            assert r["expected"]["arguments"][name] == target.name(r["lang"]), r


def test_catalog_captions_and_auto_distractors(tiny):
    catalog = tiny["catalog"]
    auto = {o.name_en: o.name_zh for o in catalog.objects if not o.curated}
    assert auto.get("cloud") == "云" and auto.get("drum") == "鼓"
    assert "tux and spider - two friends who like to play in the garden" not in auto
    lion = catalog.by_id["lion"]
    assert lion.name_zh == "狮子" and lion.images[0].caption_zh == "一个洋葱。"   # curated names win over captions
    assert catalog.by_id["fried_rice"].images == []


@pytest.mark.skipif(not Path("/usr/share/tuxpaint/stamps").is_dir(), reason="tuxpaint-stamps-default not installed")
def test_real_catalog_and_templates(tmp_path):
    """The shipped catalog and every shipped template: each template yields a valid call (prepare() renders
    each one and validates it), every object filter has pictures, names are unique per language."""
    cfg = SynthConfig.from_yaml(REPO / "config/train/data.yaml")
    state = prepare(cfg, tmp_path)
    for name in state.catalog.filters:
        assert any(o.images for o in state.catalog.select(name)), name
    for fn in state.schema.order:
        for lang in ("en", "zh"):
            assert state.templates.templates(fn, lang), (fn, lang)
    assert sum(1 for o in state.catalog.curated if o.heldout) > 10


def test_the_manifest_records_each_splits_case_digest(tiny):
    """What `octopus-ros eval` prints for a whole split file is what the manifest and the card say for it."""
    from octopus_ros.training.cases import cases_digest, read_cases
    digests = tiny["manifest"]["cases_sha256"]
    for split in ("train", "val", "test"):
        assert digests[split] == cases_digest(read_cases(tiny["out"] / f"{split}.jsonl"))
        assert f"{split} `{digests[split]}`" in (tiny["out"] / "card.md").read_text(encoding="utf-8")
    assert len(set(digests.values())) == 3


@pytest.mark.skipif(not Path("/usr/share/tuxpaint/stamps").is_dir(), reason="tuxpaint-stamps-default not installed")
def test_the_default_dataset_is_the_one_docs_dataset_md_describes(tmp_path):
    """Building the default dataset (about 40 s) gives docs/dataset.md, byte for byte: the same counts and the
    same case digests, so the test split every documented number was measured on is the one the committed
    templates and this machine's image packages build. When a change to the templates, the catalog or the
    generator moves a split on purpose, copy the new card to docs/dataset.md and measure the model again."""
    import shutil
    out = tmp_path / "default"   # the card names the dataset after its folder
    build(SynthConfig.from_yaml(REPO / "config/train/data.yaml", name="default"), out)
    built = (out / "card.md").read_text(encoding="utf-8")
    shutil.rmtree(out / "images")   # about 350 MB
    assert built == (REPO / "docs/dataset.md").read_text(encoding="utf-8"), \
        "data synth builds another default dataset than docs/dataset.md describes (see this test's docstring)"


def test_cli_warns_about_missing_image_sources(tmp_path):
    """`data synth` names a missing image source: without it the build silently differs (fewer frames)."""
    import yaml
    from typer.testing import CliRunner

    from octopus_ros.training.synth.cli import app

    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tmp_path, sizes={"train": 1, "val": 1, "test": 1})), encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "out"), "--config", str(config),
                                      "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "warning: image source 'emoji' not found" in result.output
    assert (tmp_path / "out" / "card.md").exists()


def test_teach_photos_are_the_held_out_objects_alone_and_deterministic(tiny, tmp_path):
    """`data teach-photos`: a few photos of each held-out object with pictures (what a user would take to teach
    it, docs/model/teaching.md), the same objects the dataset holds out, the same files every time."""
    import yaml
    from typer.testing import CliRunner

    from octopus_ros.training.synth.cli import app

    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tmp_path / "base")), encoding="utf-8")
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        result = CliRunner().invoke(app, ["teach-photos", "--out", str(out), "--config", str(config), "--photos", "2"])
        assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (outs[0] / "objects.jsonl").read_text(encoding="utf-8").splitlines()]
    held = {o.id for o in tiny["catalog"].objects if o.id in set(tiny["manifest"]["heldout_objects"]) and o.images}
    names = {o.id: (o.name_en, o.name_zh) for o in tiny["catalog"].objects}
    assert rows and {(r["en"], r["zh"]) for r in rows} == {names[i] for i in held}
    for row in rows:
        assert len(row["photos"]) == 2
        for photo in row["photos"]:
            assert (outs[0] / photo).read_bytes() == (outs[1] / photo).read_bytes()


def test_a_dataset_built_from_other_templates_is_an_error_not_reused(tmp_path):
    """The manifest records a fingerprint of the inputs; `train all` (ensure_dataset) reuses a dataset only when
    it matches, and says how to rebuild one whose templates changed since. Rebuilding drops the old frames'
    cached trunk features (cached by path, they would describe the old pictures)."""
    import yaml
    from octopus_ros.training.pipeline import ConfigError, ensure_dataset
    cfg = tiny_config(tmp_path)
    cfg["templates"] = str(tmp_path / "templates")
    _without_train_only(REPO / "config/train/templates", tmp_path / "templates")
    config_file = tmp_path / "data.yaml"
    config_file.write_text(yaml.safe_dump(dict(cfg, workers=1)), encoding="utf-8")
    data = tmp_path / "tiny"
    ensure_dataset(data, config_file)
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs_sha256"] == SynthConfig.from_yaml(config_file, name="tiny", workers=2).fingerprint()
    stale_cache = data / "image_trunk.default.v2.pt"
    stale_cache.write_bytes(b"features of the old frames")
    ensure_dataset(data, config_file)                      # same inputs: reused as it is
    assert stale_cache.exists()

    with open(tmp_path / "templates" / "robot.yaml", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    with pytest.raises(ConfigError, match="rebuild it"):
        ensure_dataset(data, config_file)
    build(SynthConfig.from_yaml(config_file, name="tiny"), data)
    assert not stale_cache.exists()
    ensure_dataset(data, config_file)
