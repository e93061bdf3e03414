"""A tiny, hermetic synthetic dataset for tests: generated stamp images with Tux Paint style caption files
in a temporary folder (no Debian/npm image packages needed), the real templates and config/functions.yaml."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]

# (stamp path, EN caption, zh_CN caption, colour, shape)
STAMPS = [
    ("food/apple", "A red apple.", "一只红苹果。", (220, 30, 30), "ellipse"),
    ("food/banana", "A banana.", "香蕉。", (240, 220, 40), "rect"),
    ("food/pear", "A pear.", "一只梨。", (170, 200, 60), "ellipse"),
    ("food/grapes", "A bunch of grapes.", "葡萄串。", (120, 40, 140), "ellipse"),
    ("food/lemon", "A yellow lemon.", "黄色柠檬。", (250, 240, 90), "ellipse"),
    ("food/peach", "A peach.", "一个桃子。", (250, 170, 130), "ellipse"),
    ("food/pizza", "A quarter of pizza.", "", (230, 160, 60), "triangle"),
    ("food/cake", "A pink cake.", "一块蛋糕。", (240, 150, 200), "rect"),
    ("food/noodles", "Noodles.", "", (240, 230, 180), "rect"),
    ("household/mug", "A mug.", "一个杯子。", (30, 90, 200), "rect"),
    ("household/bottle", "A bottle.", "", (40, 160, 90), "rect"),
    ("household/key", "A key.", "钥匙。", (200, 180, 50), "triangle"),
    ("household/phone", "A telephone.  Hello? Hello?", "电话", (20, 20, 20), "rect"),
    ("household/hat", "A brown hat.", "", (120, 70, 30), "triangle"),
    ("household/book", "A book.", "", (200, 40, 80), "rect"),
    ("animals/dog", "A dog.", "狗。", (150, 100, 60), "ellipse"),
    ("animals/cat", "A white kitten.", "", (230, 230, 230), "ellipse"),
    ("animals/rabbit", "A rabbit.", "一只兔子。", (200, 190, 180), "ellipse"),
    ("animals/parrot", "An Adelaide Rosella.", "阿德莱德罗塞拉。", (30, 180, 60), "triangle"),
    ("animals/lion", "A lion.", "一个洋葱。", (210, 150, 40), "ellipse"),   # a wrong zh caption, as in the real files
    ("plants/rose", "A rose.", "一支玫瑰。", (200, 0, 40), "ellipse"),
    ("plants/tulip", "", "", (250, 80, 120), "triangle"),
    ("plants/cactus", "A cactus.", "仙人掌。", (40, 140, 60), "rect"),
    ("misc/cloud", "A cloud.", "一朵云。", (240, 240, 250), "ellipse"),         # auto distractor
    ("misc/drum", "A drum.", "鼓。", (180, 40, 40), "rect"),                    # auto distractor
    ("misc/story", "Tux and spider - two friends who like to play in the garden.", "企鹅和蜘蛛", (0, 0, 0), "rect"),
]

OBJECTS_YAML = """
sources:
  tux: {root: %(root)s}
  emoji: {root: %(root)s/no-emoji}
  clip: {root: %(root)s/no-clip}
auto: {tux_distractors: true}
filters:
  graspable: {tags_any: [graspable], exclude_tags: [bulky]}
  groceries: {tags_any: [grocery]}
  dishes: {tags_any: [dish]}
  pets: {tags_any: [pet]}
  animals: {tags_any: [animal]}
  plants: {tags_any: [plant]}
  recyclables: {has_attrs: [bin]}
  lost_items: {tags_any: [personal]}
  products: {has_attrs: [category]}
  searchable: {tags_any: [plant, animal, dish, grocery, product]}
  anything: {curated_only: false}
groups:
  - category: fruit
    tags: [food, grocery, graspable]
    attrs: {bin: compost, category: {en: grocery, zh: 食品}}
    objects:
      - {en: apple, zh: 苹果, core: true, src: ["tux:food/apple"]}
      - {en: banana, zh: 香蕉, src: ["tux:food/banana"]}
      - {en: pear, zh: 梨, src: ["tux:food/pear"]}
      - {en: grapes, zh: 葡萄, article: some, src: ["tux:food/grapes"]}
      - {en: lemon, zh: 柠檬, src: ["tux:food/lemon"]}
      - {en: peach, zh: 桃子, src: ["tux:food/peach"]}
  - category: dish
    tags: [food, dish]
    attrs: {bin: compost}
    objects:
      - {en: pizza, zh: 披萨, src: ["tux:food/pizza"]}
      - {en: cake, zh: 蛋糕, src: ["tux:food/cake"]}
      - {en: noodles, zh: 面条, article: some, src: ["tux:food/noodles"]}
      - {en: fried rice, zh: 炒饭}
  - category: household
    tags: [graspable]
    attrs: {category: {en: home, zh: 家居}}
    objects:
      - {en: mug, zh: 马克杯, bin: landfill, src: ["tux:household/mug"]}
      - {en: bottle, zh: 瓶子, bin: recycling, src: ["tux:household/bottle"]}
      - {en: key, zh: 钥匙, tags: [personal], attrs: {category: null}, src: ["tux:household/key"]}
      - {en: phone, zh: 手机, bin: hazardous, tags: [personal], attrs: {category: {en: electronics, zh: 电子产品}}, src: ["tux:household/phone"]}
      - {en: hat, zh: 帽子, bin: landfill, tags: [personal], src: ["tux:household/hat"]}
      - {en: book, zh: 书, bin: recycling, tags: [personal], src: ["tux:household/book"]}
  - category: pet
    tags: [animal, pet]
    objects:
      - {en: dog, zh: 狗, src: ["tux:animals/dog"]}
      - {en: cat, zh: 猫, src: ["tux:animals/cat"]}
      - {en: rabbit, zh: 兔子, src: ["tux:animals/rabbit"]}
      - {en: parrot, zh: 鹦鹉, src: ["tux:animals/parrot"]}
  - category: animal
    tags: [animal]
    objects:
      - {en: lion, zh: 狮子, src: ["tux:animals/lion"]}
  - category: plant
    tags: [plant]
    objects:
      - {en: rose, zh: 玫瑰, src: ["tux:plants/rose"]}
      - {en: tulip, zh: 郁金香, src: ["tux:plants/tulip"]}
      - {en: cactus, zh: 仙人掌, tags: [graspable], src: ["tux:plants/cactus"]}
"""


def make_stamps(root: Path) -> None:
    for rel, en, zh, colour, shape in STAMPS:
        path = root / (rel + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        im = Image.new("RGBA", (120, 90), (0, 0, 0, 0))
        draw = ImageDraw.Draw(im)
        box = (10, 8, 110, 82)
        if shape == "ellipse":
            draw.ellipse(box, fill=colour + (255,))
        elif shape == "rect":
            draw.rectangle(box, fill=colour + (255,))
        else:
            draw.polygon([(60, 8), (110, 82), (10, 82)], fill=colour + (255,))
        im.save(path)
        if en or zh:
            lines = ([en] if en else []) + ["de.utf8=irgendwas"] + ([f"zh_CN.utf8={zh}"] if zh else [])
            path.with_suffix(".txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def tiny_config(base: Path, seed: int = 3, sizes: dict | None = None) -> dict:
    """SynthConfig keyword arguments for a tiny dataset whose stamps and catalog live under `base`."""
    stamps = base / "stamps"
    make_stamps(stamps)
    objects = base / "objects.yaml"
    objects.write_text(OBJECTS_YAML % {"root": stamps}, encoding="utf-8")
    return dict(seed=seed, functions=str(REPO / "config/functions.yaml"),
                templates=str(REPO / "config/train/templates"), objects=str(objects),
                sizes=sizes or {"train": 4, "val": 2, "test": 4}, weights={"no_action": 2.0},
                holdout={"object_fraction": 0.25, "template_fraction": 0.2, "value_fraction": 0.15,
                         "test_template_share": 0.5, "test_object_share": 0.6, "test_value_share": 0.5,
                         "min_train_objects": 2},
                image={"context_rate": 0.15})
