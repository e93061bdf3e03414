"""The object lexicon (octopus_ros.model.lexicon): fitting the map, saving and loading it with a checkpoint,
deciding whether a command names an object, and the decoder keeping from_image arguments to the lexicon's
names for the frame (tiny random model of the real architecture, real tokenizer)."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
model_module = pytest.importorskip("octopus_ros.model")

from octopus_ros.actions import ActionRegistry  # noqa: E402
from octopus_ros.model.agent import _CONTROL  # noqa: E402
from octopus_ros.model.decoding import _ValueRules  # noqa: E402
from octopus_ros.model.errors import ModelLoadError  # noqa: E402
from octopus_ros.model.lexicon import (LEXICON_FILE, LexiconEntry, ObjectLexicon, load_lexicon, name_embeddings,  # noqa: E402
                                       read_known_features, unit_fp16)
from octopus_ros.training.lexicon import FAR_GRID, LexiconConfig, _accuracy, _choose_far, _fit  # noqa: E402
from test_model_fuzz import random_command  # noqa: E402

R = ActionRegistry.default()
ENTRIES = [LexiconEntry("apple", "apple", "苹果", True), LexiconEntry("horse", "horse", "马", True),
           LexiconEntry("red_mug", "red mug", "红杯子", True), LexiconEntry("kiwi", "kiwi", "猕猴桃", False)]


@pytest.fixture(scope="module")
def agent():
    return model_module.OctopusAgent.load("tiny-random", threads=2)


@pytest.fixture(scope="module")
def fitted(agent):
    """A lexicon fitted on features that are a noisy code of the object: learnable, so it must be learned."""
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(3, 32, generator=gen)
    y = torch.arange(3).repeat(40)
    x = codes[y] + 0.3 * torch.randn(len(y), 32, generator=gen)
    names_en = name_embeddings(agent.model, [e.en for e in ENTRIES])
    names_zh = name_embeddings(agent.model, [e.zh for e in ENTRIES])
    lexicon = _fit(LexiconConfig(steps=150, batch_size=64), 32, ENTRIES, names_en, names_zh, x, y,
                   torch.tensor([0, 1, 2]), "test fit")
    return lexicon, codes


def test_the_map_learns_to_name_the_pictured_objects(fitted):
    lexicon, codes = fitted
    assert _accuracy(lexicon, codes, torch.arange(3), 0.0, lexicon.novel) == 1.0
    assert lexicon.names_for(codes[1], "en") == ["horse"]
    assert lexicon.names_for(codes[2], "zh") == ["红杯子"]


def test_the_novelty_bonus_lifts_only_unpictured_objects(fitted):
    lexicon, codes = fitted
    plain, lifted = lexicon.scores(codes, 0.0), lexicon.scores(codes, 5.0)
    assert torch.allclose(lifted[:, :3], plain[:, :3]) and torch.allclose(lifted[:, 3], plain[:, 3] + 5.0)
    assert _accuracy(lexicon, codes, torch.full((3,), 3), 5.0, lexicon.novel) == 1.0


def test_save_and_load_with_a_checkpoint(fitted, agent, tmp_path):
    lexicon, codes = fitted
    lexicon.novel_bonus = 0.05
    lexicon.save(tmp_path, {"val_accuracy": 1.0})
    loaded = load_lexicon(tmp_path, agent.model)
    assert loaded.entries == ENTRIES and loaded.novel_bonus == 0.05 and loaded.top_k == 1
    assert torch.allclose(loaded.scores(codes), lexicon.scores(codes))
    assert load_lexicon(tmp_path, agent.model, top_k=0).top_k == 0
    assert load_lexicon(tmp_path / "none", agent.model) is None


def test_the_fitted_pictures_are_saved_for_taught_objects(fitted, agent, tmp_path):
    """`known`: the pictures' trunk features, which taught objects must be nearer than (taught_objects.py);
    stored as fp16 unit vectors, read on their own, never loaded with the map."""
    lexicon, codes = fitted
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    lexicon.save(tmp_path / "with", known=codes * 3)
    known, crop = read_known_features(tmp_path / "with")
    assert known.dtype == torch.float16 and crop == lexicon.crop
    assert torch.allclose(known.float(), torch.nn.functional.normalize(codes, dim=-1), atol=1e-3)
    assert torch.allclose(load_lexicon(tmp_path / "with", agent.model).scores(codes), lexicon.scores(codes))
    lexicon.save(tmp_path / "without")
    assert read_known_features(tmp_path / "without") == (None, lexicon.crop)
    with pytest.raises(ModelLoadError, match="not a readable object lexicon"):
        read_known_features(tmp_path / "missing")


def test_a_corrupt_lexicon_file_is_a_load_error(agent, tmp_path):
    (tmp_path / LEXICON_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="not a readable object lexicon"):
        load_lexicon(tmp_path, agent.model)


@pytest.mark.parametrize("command,named", [
    ("pick up the red mug", True), ("buy this apple", True), ("Buy an APPLE", True), ("buy this", False),
    ("a pineapple please", False),            # whole words only
    ("这个猕猴桃多少钱", True), ("在亚马逊上买这个", False),   # one-character names (马) do not count
])
def test_a_command_names_an_object_only_as_a_whole_word(fitted, command, named):
    assert fitted[0].mentioned_in(command) is named


def test_value_rules_keep_image_arguments_to_the_names():
    grammar = R.by_name("pick_up").grammar
    deictic = _ValueRules("pick this up", image_args=frozenset({0}), names=("red mug",), copy_image_args=False)
    assert deictic.allow(grammar, "('red m") and deictic.allow(grammar, "('red mug'")
    assert not deictic.allow(grammar, "('this'") and not deictic.allow(grammar, "('red mu'")
    assert not deictic.allow(grammar, "('Red m")            # names are written as they are
    assert not deictic.allow(grammar, "('red\\")             # an escape no name continues (a dead end)
    named = _ValueRules("pick up the blue cup", image_args=frozenset({0}), names=("red mug",))
    assert named.allow(grammar, "('blue cup'") and named.allow(grammar, "('red mug'")
    assert not named.allow(grammar, "('green")


def test_with_a_frame_every_image_argument_is_the_lexicon_name(agent, fitted):
    """Random commands through the tiny random model, with a frame: whatever function it picks, each
    from_image argument is the lexicon's name for the frame, or a piece of a command that names an object.
    (When no call with the names completes, the agent decodes without them and says so in its timings.)"""
    lexicon = fitted[0]
    trunk_dim = agent.model.vision.trunk_features(agent.model.vision.preprocess([np.zeros((32, 32, 3), np.uint8)])).shape[1]
    lexicon = ObjectLexicon(trunk_dim, ENTRIES, lexicon.names_en, lexicon.names_zh)
    agent.lexicon = lexicon
    rng, np_rng = random.Random(5), np.random.default_rng(5)
    checked = 0
    try:
        for i in range(120):
            command = random_command(rng, i)
            frame = np_rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            result = agent.infer(command, frame)
            if result.outcome != "call" or "unnamed" in result.timings_ms:
                continue   # no call, or no call continued the names and the decoder ran without them (by design)
            function = R.by_name(result.function_name)
            pixels = agent.model.vision.preprocess([frame])
            names = lexicon.names_for(agent.model.vision.trunk_features(pixels)[0], result.language)
            for arg in function.args:
                value = result.arguments.get(arg.name)
                if arg.from_image and arg.type == "str" and value:
                    checked += 1
                    said = _CONTROL.sub(" ", command).strip()   # what the agent decodes against
                    copied = lexicon.mentioned_in(said) and value.lower() in said.lower()
                    assert value in names or copied, (command, value, names)
    finally:
        agent.lexicon = None
    assert checked > 5, "too few image arguments to check"


def test_a_value_the_command_says_wins_over_the_lexicon_name(agent, fitted, monkeypatch):
    """"search for electric car prices" with a frame: decoded with the lexicon's names it is query 'apple';
    the command does not point at the picture, so it is decoded again without them, and the query in the
    command's own words wins. "search for this" points at the picture: the lexicon's name, decoded once."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded
    from octopus_ros.model.wording import CommandWording

    search = R.by_name("google_search")
    trunk_dim = agent.model.vision.trunk_features(agent.model.vision.preprocess([np.zeros((32, 32, 3), np.uint8)])).shape[1]
    monkeypatch.setattr(agent, "lexicon", ObjectLexicon(trunk_dim, ENTRIES, fitted[0].names_en, fitted[0].names_zh))
    names_given = []

    def fake_decode(*args, **kwargs):
        names_given.append(args[8])
        unnamed = args[4].split("for ", 1)[1]
        return Decoded(search.index, 0.9, f"('{args[8][0] if args[8] else unnamed}')", complete=True)

    monkeypatch.setattr(agent_module, "decode", fake_decode)
    monkeypatch.setattr(agent, "wording", CommandWording({}, [], ["this"]))
    frame = np.full((48, 64, 3), 90, np.uint8)
    named = agent.lexicon.names_for(agent.model.vision.trunk_features(agent.model.vision.preprocess([frame]))[0], "en")
    result = agent.infer("search for electric car prices", frame, "en")
    assert result.arguments == {"query": "electric car prices"} and names_given == [named, None]
    assert "unpictured" in result.timings_ms
    names_given.clear()
    assert agent.infer("search for this", frame, "en").arguments == {"query": named[0]}
    assert names_given == [named]
    names_given.clear()   # no pointing phrases in the checkpoint: decoded once, with the names
    monkeypatch.setattr(agent, "wording", CommandWording({}, []))
    assert agent.infer("search for electric car prices", frame, "en").arguments == {"query": named[0]}
    assert names_given == [named]


def test_a_plural_of_a_lexicon_name_is_written_as_the_name(agent, fitted, monkeypatch):
    """"order nine apples on Instacart" decoded as item 'apples': the training data writes Instacart items in
    the singular (singular_args), and 'apple' is a lexicon name. With no lexicon, the value stays."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded
    from octopus_ros.model.wording import CommandWording

    shop = R.by_name("instacart_shopping")
    monkeypatch.setattr(agent, "lexicon", fitted[0])
    monkeypatch.setattr(agent_module, "decode", lambda *a, **k: Decoded(shop.index, 0.9, "('apples', 9)", complete=True))
    monkeypatch.setattr(agent, "wording", CommandWording({}, [], singular={"instacart_shopping": ["item"]}))
    result = agent.infer("order 9 apples on Instacart", None, "en")
    assert result.arguments == {"item": "apple", "quantity": 9}
    assert result.raw_output == f"{shop.token}('apple', 9){R.end_token}"
    monkeypatch.setattr(agent, "lexicon", None)
    assert agent.infer("order 9 apples on Instacart", None, "en").arguments["item"] == "apples"


def test_centre_crop_keeps_the_middle_of_the_frame():
    from octopus_ros.model.lexicon import centre_crop
    frame = np.arange(100 * 60 * 3, dtype=np.int64).reshape(100, 60, 3).astype(np.uint8)
    crop = centre_crop(frame, 0.7)
    assert crop.shape == (70, 42, 3) and np.array_equal(crop, frame[15:85, 9:51])
    assert centre_crop(frame, 1.0) is frame


def test_cached_trunk_features_do_not_depend_on_the_batch(agent, tmp_path):
    """Features are computed as at inference (BatchNorm running statistics), not with the statistics of
    whatever frames share the batch, even when the training stage left the tower in train mode."""
    from PIL import Image

    from octopus_ros.training.features import trunk_features
    vision = agent.model.vision
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in vision.modules()), "no BatchNorm: test is moot"
    rng = np.random.default_rng(1)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"frame{i}.png"))
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(paths[-1])
    vision.train()
    try:
        alone = trunk_features(agent.model, paths[:1], tmp_path / "alone.pt")
        together = trunk_features(agent.model, paths, tmp_path / "together.pt")
        assert vision.training   # the caller's mode is restored
    finally:
        vision.eval()
    assert torch.allclose(alone[paths[0]], together[paths[0]], atol=1e-5)


# ---- the pretrained ImageNet classifier as a second source of names --------------------------------------
def _lexicon_with_classes(fitted):
    lexicon = fitted[0]
    entries = [LexiconEntry(e.id, e.en, e.zh, e.trained, classes)
               for e, classes in zip(ENTRIES, [(948,), (339, 603), (), (0,)])]   # kiwi gets a made-up class
    out = ObjectLexicon(32, entries, lexicon.names_en, lexicon.names_zh, imagenet_weight=0.5)
    out.map.load_state_dict(lexicon.map.state_dict())
    out.feature_mean.copy_(lexicon.feature_mean)
    out.feature_std.copy_(lexicon.feature_std)
    return out.eval()


def test_imagenet_evidence_lifts_the_objects_of_the_likely_classes(fitted):
    lexicon, codes = _lexicon_with_classes(fitted), fitted[1]
    probs = torch.zeros(3, 1000)
    probs[:, 0] = 0.8      # the classifier is fairly sure every frame shows class 0 (the kiwi's)
    probs[:, 603] = 0.2
    plain, lifted = lexicon.scores(codes), lexicon.scores(codes, imagenet_probs=probs)
    assert torch.allclose(lifted - plain, torch.tensor([0.0, 0.1, 0.0, 0.4]).expand(3, 4))
    assert torch.allclose(lexicon.scores(codes, imagenet_probs=probs, imagenet_weight=0.0), plain)
    assert lexicon.names_for(codes[0], "en", probs[0] * 0) == ["apple"]
    lexicon.imagenet_weight = 5.0   # strong enough to outweigh the map: the unpictured kiwi wins
    assert lexicon.names_for(codes[0], "zh", probs[0]) == ["猕猴桃"]


def test_imagenet_classes_and_weight_survive_save_and_load(fitted, agent, tmp_path):
    lexicon = _lexicon_with_classes(fitted)
    lexicon.save(tmp_path)
    loaded = load_lexicon(tmp_path, agent.model)
    assert [e.imagenet for e in loaded.entries] == [(948,), (339, 603), (), (0,)]
    assert loaded.imagenet_weight == 0.5
    assert torch.equal(loaded.imagenet_members, lexicon.imagenet_members)


def test_frames_far_from_every_known_picture_get_their_own_bonus_and_weight(fitted, agent, tmp_path):
    """The pictures the map was fitted on are codes 0 and 1: frame 2 (the red mug's code) is unlike both, so it
    alone gets the `far` weight, strong enough for the classifier's kiwi to win there."""
    lexicon, codes = _lexicon_with_classes(fitted), fitted[1]
    lexicon.far, lexicon.known = {"below": 0.9, "bonus": 0.0, "imagenet_weight": 50.0}, unit_fp16(codes[:2])
    bonus, weight = lexicon.frame_settings(codes)
    assert weight.view(-1).tolist() == [0.5, 0.5, 50.0] and bonus.view(-1).tolist() == [0.0, 0.0, 0.0]
    probs = torch.zeros(3, 1000)
    probs[:, 0] = 0.1      # class 0, the kiwi's
    assert [lexicon.names_for(codes[i], "en", probs[i])[0] for i in range(3)] == ["apple", "horse", "kiwi"]
    lexicon.save(tmp_path, known=codes[:2])
    loaded = load_lexicon(tmp_path, agent.model)
    assert loaded.far == lexicon.far and torch.allclose(loaded.scores(codes, imagenet_probs=probs),
                                                        lexicon.scores(codes, imagenet_probs=probs), atol=1e-3)
    lexicon.save(tmp_path)     # `far` without the pictures it is measured against
    with pytest.raises(ModelLoadError, match="does not hold the pictures"):
        load_lexicon(tmp_path, agent.model)


def test_the_far_setting_is_chosen_only_when_it_helps():
    """Left-out frames (cosine 0.71 to their nearest picture) are named only with the weight 1.0, which costs the
    seen frames (0.9) nothing when they keep (0, 0): a threshold between the two is chosen, the smallest in the
    grid. When the weight also helps seen frames, there is nothing for a threshold to add: None."""
    hit, miss = torch.ones(4, dtype=torch.bool), torch.zeros(4, dtype=torch.bool)
    sims = {"seen": torch.full((4,), 0.9), "left_out": torch.full((4,), 0.71)}
    hits = {(0.0, 0.0): {"seen": hit, "left_out": miss}, (1.0, 0.0): {"seen": miss, "left_out": hit}}
    far = _choose_far(hits, (0.0, 0.0), sims, base=0.5)
    assert far == {"below": FAR_GRID[1], "bonus": 0.0, "imagenet_weight": 1.0, "mean": 1.0}
    hits[1.0, 0.0]["seen"] = hit
    assert _choose_far(hits, (1.0, 0.0), sims, base=1.0) is None


def test_objects_take_imagenet_classes_by_name():
    from octopus_ros.training.imagenet_classes import assign_classes, class_names

    names = {"elephant": "elephant", "mouse": "mouse", "computer_mouse": "computer mouse", "boots": "boots",
             "cherries": "cherries", "cucumber": "cucumber", "sofa": "sofa", "unicorn": "unicorn"}
    got = {oid: {class_names()[i][0] for i in hits}
           for oid, hits in assign_classes(names, frozenset({"sea cucumber"})).items()}
    assert got["elephant"] == {"indian elephant", "african elephant"}      # the last word of a class name
    assert got["computer_mouse"] == {"mouse"} and got["mouse"] == set()    # the longer exact name wins
    assert got["boots"] == {"cowboy boot"}                                  # singular forms
    assert got["cucumber"] == {"cucumber"}                                  # "sea cucumber" excluded
    assert got["sofa"] == set() and got["unicorn"] == set()                 # ImageNet's is a "studio couch"


def _wndb_line(offset: str, words: list[str], hypernyms: list[str]) -> str:
    """One data.noun line in WordNet's format (wndb(5)), with a gloss."""
    lemmas = " ".join(f"{w.replace(' ', '_')} 0" for w in words)
    pointers = " ".join(f"@ {h} n 0000" for h in hypernyms)
    return f"{offset} 05 n {len(words):02x} {lemmas} {len(hypernyms):03d} {pointers} | a gloss  \n"


def test_a_class_names_the_object_of_its_nearest_wordnet_hypernym(tmp_path):
    from octopus_ros.training.imagenet_classes import assign_classes, class_names, class_synsets, read_wordnet_nouns

    lab = next(i for i, names in enumerate(class_names()) if names[0] == "labrador retriever")
    retriever, sporting, dog, canine = "10000001", "10000002", "10000003", "10000004"
    nouns = tmp_path / "data.noun"
    nouns.write_text("  1 This software and database is being provided ... (licence lines start with spaces)\n"
                     + _wndb_line(class_synsets()[lab], ["Labrador retriever"], [retriever])
                     + _wndb_line(retriever, ["retriever"], [sporting])
                     + _wndb_line(sporting, ["sporting dog", "gun dog"], [dog])
                     + _wndb_line(dog, ["dog", "domestic dog", "Canis familiaris"], [canine])
                     + _wndb_line(canine, ["canine", "canid"], []), encoding="latin-1")
    graph = read_wordnet_nouns(nouns)
    assert graph[sporting] == (("sporting dog", "gun dog"), (dog,))
    assert graph[dog][0] == ("dog", "domestic dog", "canis familiaris")
    names = {"dog": "dog", "canine": "canine"}
    assert lab in assign_classes(names, hypernyms=graph, depth=3)["dog"]          # the nearest ancestor wins
    assert lab not in assign_classes(names, hypernyms=graph, depth=3)["canine"]
    assert lab not in assign_classes(names, hypernyms=graph, depth=2)["dog"]      # three steps up: too far
    assert lab not in assign_classes(names)["dog"]                                # names only


def test_the_default_lexicon_config_reads_the_pinned_wordnet():
    """Debian wordnet-base (make setup installs it) gives the catalog's dog the dog breeds and its sheep the ram."""
    from octopus_ros.training.imagenet_classes import assign_classes, class_names
    from octopus_ros.training.lexicon import _wordnet
    from octopus_ros.training.pipeline import load_config

    cfg = load_config(LexiconConfig, Path(__file__).resolve().parents[1] / "config/train/lexicon.yaml", {})
    if not cfg.imagenet_wordnet or not Path(cfg.imagenet_wordnet).exists():
        pytest.skip("WordNet is not installed (Debian wordnet-base; scripts/setup.sh installs it)")
    got = assign_classes({"dog": "dog", "sheep": "sheep", "cat": "cat"},
                         frozenset(c.lower() for c in cfg.imagenet_exclude), _wordnet(cfg), cfg.imagenet_hypernym_depth)
    breeds = {class_names()[i][0] for i in got["dog"]}
    assert len(breeds) > 100 and {"labrador retriever", "chihuahua", "yorkshire terrier"} <= breeds
    assert "ram" in {class_names()[i][0] for i in got["sheep"]}
    assert "madagascar cat" not in {class_names()[i][0] for i in got["cat"]}   # a lemur: excluded by name


def test_a_wordnet_file_that_does_not_match_its_pin_is_an_error(tmp_path):
    from octopus_ros.training.lexicon import _wordnet

    nouns = tmp_path / "data.noun"
    nouns.write_text(_wndb_line("10000001", ["thing"], []), encoding="latin-1")
    with pytest.raises(ModelLoadError, match="does not match the pinned"):
        _wordnet(LexiconConfig(imagenet_wordnet=str(nouns), imagenet_wordnet_sha256="0" * 64))
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        _wordnet(LexiconConfig(imagenet_wordnet=str(tmp_path / "missing")))
    assert _wordnet(LexiconConfig(imagenet_wordnet=None)) is None


@pytest.mark.parametrize("stamp,label", [("food/fruit/pineapple", "pineapple"), ("food/fruit/lemon", "lemon")])
def test_the_default_tower_has_the_pretrained_classifier(stamp, label):
    """The real ImageNet head that ships with the pinned MobileNetV2 file names a Tux Paint stamp."""
    from octopus_ros.model.base_weights import vision_weights_file
    from octopus_ros.model.profile import load_profile
    from octopus_ros.model.vision import build_vision
    from octopus_ros.training.evaluate import load_rgb

    spec = load_profile("default").vision
    try:
        vision_weights_file(spec["weights"])
    except Exception as exc:  # the registry package is installed by `make setup`
        pytest.skip(f"pinned vision weights not installed: {exc}")
    stamp = Path(f"/usr/share/tuxpaint/stamps/{stamp}.png")
    if not stamp.exists():
        pytest.skip("tuxpaint-stamps-default is not installed (scripts/data_deps.sh)")
    vision = build_vision(spec).eval()
    assert "imagenet_weight" not in vision.state_dict()     # never saved into a checkpoint
    with torch.no_grad():
        probs = vision.imagenet_probs(vision.trunk_features(vision.preprocess([load_rgb(stamp)])))
    assert probs.shape == (1, 1000) and abs(float(probs.sum()) - 1.0) < 1e-4
    from octopus_ros.training.imagenet_classes import class_names
    assert class_names()[int(probs.argmax())][0] == label


# ---- arguments the catalog derives from an object (session 26) ---------------------------------------------
SHOP = {"amazon_shopping": {"category": ["product", "category"]}}
GROCERY = (("category", "grocery", "食品"),)


def _shop_lexicon(agent, derived=SHOP):
    entries = [LexiconEntry("apple", "apple", "苹果", True, attrs=GROCERY), LexiconEntry("horse", "horse", "马", True)]
    return ObjectLexicon(32, entries, name_embeddings(agent.model, [e.en for e in entries]),
                         name_embeddings(agent.model, [e.zh for e in entries]), derived=derived)


def test_a_derived_argument_is_the_catalogs_value_of_the_named_object(agent, monkeypatch):
    """amazon_shopping's category is written from the catalog (`= product.category`): the LM's guess gives way
    to the catalog's value when the product is a catalog object, in the command's language, and stays otherwise."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    shop = R.by_name("amazon_shopping")
    monkeypatch.setattr(agent, "lexicon", _shop_lexicon(agent))

    def decoded(product, category):
        monkeypatch.setattr(agent_module, "decode",
                            lambda *a, **k: Decoded(shop.index, 0.9, f"('{product}', '{category}')", complete=True))

    decoded("Apple", "toys")
    result = agent.infer("buy an Apple on Amazon", None, "en")
    assert result.arguments == {"product": "Apple", "category": "grocery"}
    assert result.raw_output == f"{shop.token}('Apple', 'grocery'){R.end_token}"
    decoded("苹果", "玩具")
    assert agent.infer("在亚马逊买苹果", None, "zh").arguments == {"product": "苹果", "category": "食品"}
    decoded("horse", "toys")    # in the catalog, without a category: the LM's value stays
    assert agent.infer("buy a horse on Amazon", None, "en").arguments["category"] == "toys"
    decoded("banana", "toys")   # not in the catalog
    assert agent.infer("buy a banana on Amazon", None, "en").arguments["category"] == "toys"
    monkeypatch.setattr(agent, "lexicon", _shop_lexicon(agent, derived={}))
    decoded("apple", "toys")
    assert agent.infer("buy an apple on Amazon", None, "en").arguments["category"] == "toys"


def test_catalog_attributes_survive_save_and_load(agent, tmp_path):
    _shop_lexicon(agent).save(tmp_path)
    loaded = load_lexicon(tmp_path, agent.model)
    assert [e.attrs for e in loaded.entries] == [GROCERY, ()] and loaded.derived == SHOP
    assert loaded.entries[0].attribute("category", "zh") == "食品" and loaded.entries[1].attribute("category", "en") is None


def test_derived_arguments_are_found_where_the_catalog_agrees_with_every_row():
    """The source argument and attribute of a derived argument are learned from the training rows: the pair
    that never disagrees. 'colour' matches the category of one row by chance and not of the other."""
    from octopus_ros.training.lexicon import derived_arguments
    from octopus_ros.training.synth.catalog import CatalogObject

    objects = [CatalogObject("scissors", "scissors", "剪刀", "tools", frozenset(),
                             {"category": {"en": "office supplies", "zh": "办公用品"}, "colour": "red"}),
               CatalogObject("mug", "mug", "杯子", "kitchen", frozenset(),
                             {"category": {"en": "kitchen", "zh": "厨房用品"}, "colour": "kitchen"})]

    def row(lang, product, category, derived=("category",)):
        return {"lang": lang, "expected": {"function": "amazon_shopping",
                                           "arguments": {"product": product, "category": category}},
                "meta": {"derived": list(derived)}}

    rows = [row("en", "Scissors", "office supplies"), row("zh", "杯子", "厨房用品"), row("en", "mug", "kitchen"),
            row("en", "stapler", "office supplies"), row("en", "mug", "red", derived=())]
    assert derived_arguments(rows, objects) == {"amazon_shopping": {"category": ["product", "category"]}}
    assert derived_arguments([row("en", "scissors", "tools")], objects) == {}
