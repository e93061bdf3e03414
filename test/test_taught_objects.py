"""Objects taught from photos (octopus_ros.model.taught_objects, `octopus-ros objects`): the nearest-photo rule
against the lexicon's own pictures, editing, the file, and, with the real default model and real pictures, a
taught object named from a new frame through the whole agent."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from octopus_ros.model.errors import ModelLoadError  # noqa: E402
from octopus_ros.model.taught_objects import MAX_NAME_CHARS, TaughtObjects  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DIM = 16


def unit(*hot: float) -> torch.Tensor:
    """A unit vector [DIM] with the given leading components."""
    v = torch.zeros(DIM)
    v[:len(hot)] = torch.tensor(hot)
    return v / v.norm()


@pytest.fixture
def taught() -> TaughtObjects:
    objects = TaughtObjects("default", 0.7, DIM)
    objects.teach("blue mug", "蓝杯子", torch.stack([unit(1, 0, 0), unit(1, 0.2, 0)]))
    objects.teach("robot toy", "", torch.stack([unit(0, 0, 1)]))
    return objects


KNOWN = torch.stack([unit(0, 1, 0), unit(0, 1, 0.3)])   # the lexicon's own pictures


def test_a_frame_nearer_a_taught_photo_than_any_known_picture_names_the_taught_object(taught):
    assert taught.recognise(unit(1, 0.1, 0), KNOWN).en == "blue mug"
    assert taught.recognise(unit(0.1, 0, 1), KNOWN).en == "robot toy"
    assert taught.recognise(unit(0.1, 1, 0), KNOWN) is None          # a known object's picture: the lexicon decides
    assert taught.recognise(unit(0.1, 1, 0) * 7, KNOWN) is None      # features need not be unit vectors
    assert TaughtObjects("default", 0.7, DIM).recognise(unit(1), KNOWN) is None


def test_names_by_language_fall_back_to_the_one_given(taught):
    mug, toy = taught.objects
    assert (mug.name("en"), mug.name("zh")) == ("blue mug", "蓝杯子")
    assert (toy.name("en"), toy.name("zh")) == ("robot toy", "robot toy")


def test_teaching_a_known_name_adds_photos_or_replaces_them(taught):
    taught.teach("Blue  Mug", "", torch.stack([unit(1, 0, 0.1)]))
    mug = taught.find("blue mug")
    assert len(taught.objects) == 2 and len(mug.features) == 3 and mug.zh == "蓝杯子"
    taught.teach("blue mug", "蓝色杯子", torch.stack([unit(1, 0, 0.1)]), replace=True)
    assert len(mug.features) == 1 and mug.zh == "蓝色杯子" and taught.find("蓝色杯子") is mug
    assert taught.forget("蓝色杯子") and not taught.forget("blue mug") and [o.en for o in taught.objects] == ["robot toy"]


@pytest.mark.parametrize("en,zh,features,message", [
    ("", " ", torch.ones(1, DIM), "needs a name"),
    ("x" * (MAX_NAME_CHARS + 1), "", torch.ones(1, DIM), "longer than"),
    ("mug", "", torch.ones(1, DIM + 1), "expected photo features"),
    ("mug", "", torch.ones(0, DIM), "expected photo features"),
])
def test_bad_lessons_are_refused(taught, en, zh, features, message):
    with pytest.raises(ValueError, match=message):
        taught.teach(en, zh, features)
    assert len(taught.objects) == 2


def test_leave_one_out_check_says_which_photos_the_others_name(taught):
    taught.teach("blue mug", "", torch.stack([unit(0, 1, 0.05)]))   # a photo that looks like a known picture
    assert taught.check(taught.find("blue mug"), KNOWN) == ["blue mug", "blue mug", "known"]
    assert taught.check(taught.find("robot toy"), KNOWN) == ["known"]   # its only photo: nothing else names it
    teapot = TaughtObjects("default", 0.7, DIM)
    teapot.teach("", "茶壶", torch.stack([unit(0, 0, 0, 1), unit(0, 0, 0.1, 1)]))   # a Chinese name only
    assert teapot.check(teapot.objects[0], KNOWN) == ["茶壶", "茶壶"]


def test_a_command_that_names_a_taught_object(taught):
    assert taught.mentioned_in("pick up the Blue Mug") and taught.mentioned_in("把蓝杯子拿过来")
    assert not taught.mentioned_in("pick that up") and not taught.mentioned_in("he has been in the robot toys")
    assert taught.names_in("en") == {"blue mug": "blue mug", "robot toy": "robot toy"}
    assert taught.names_in("zh") == {"蓝杯子": "蓝杯子"}   # the robot toy has no Chinese name


def test_save_and_load(taught, tmp_path):
    path = taught.save(tmp_path / "sub" / "taught.safetensors")
    loaded = TaughtObjects.load(path)
    assert [(o.en, o.zh, len(o.features)) for o in loaded.objects] == [("blue mug", "蓝杯子", 2), ("robot toy", "", 1)]
    assert torch.allclose(loaded.objects[0].features, taught.objects[0].features, atol=1e-3)   # fp16 on disk
    assert loaded.recognise(unit(1, 0.1, 0), KNOWN).en == "blue mug"
    empty = TaughtObjects.load(TaughtObjects("default", 0.7, DIM).save(tmp_path / "empty.safetensors"))
    assert empty.objects == [] and empty.feature_dim == DIM


def test_file_problems_are_load_errors(taught, tmp_path):
    with pytest.raises(ModelLoadError, match="not found .*objects teach"):
        TaughtObjects.load(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="not a readable taught-objects file"):
        TaughtObjects.load(tmp_path / "bad.safetensors")
    with pytest.raises(ModelLoadError, match="teach them again with this model"):
        taught.matches("default", 1.0, DIM)
    taught.matches("default", 0.7, DIM)


def test_a_model_without_a_lexicon_cannot_take_taught_objects(taught, tmp_path):
    from octopus_ros.model import OctopusAgent

    with pytest.raises(ModelLoadError, match="need a model with an object lexicon"):
        OctopusAgent.load("tiny-random", taught=taught.save(tmp_path / "t.safetensors"))


# ---- the real default model and real pictures ------------------------------------------------------------
def _pictures(object_id: str) -> list[str]:
    from octopus_ros.training.synth.catalog import load_catalog

    catalog = load_catalog(REPO / "config/train/objects.yaml", REPO)
    obj = next(o for o in catalog.objects if o.id == object_id)
    return [ref.path for ref in obj.images]


@pytest.fixture(scope="module")
def default_parts():
    from octopus_ros.sim.scenario import model_trained

    if not model_trained("default")[0]:
        pytest.skip("models/default is not trained")
    headphones, apple = _pictures("headphones"), _pictures("apple")
    if len(headphones) < 2 or not apple:
        pytest.skip("the catalog's pictures are not installed (scripts/data_deps.sh)")
    return headphones, apple


def _frame(picture: str, seed: int, distractors: list[str] = ()) -> np.ndarray:
    from octopus_ros.training.synth.frames import render_frame

    return np.asarray(render_frame(picture, list(distractors), seed=seed)[0])


def test_teach_a_held_out_object_and_the_agent_names_it_in_a_new_frame(default_parts, tmp_path):
    """headphones are held out of training: the model never saw them. Taught from 4 photos with the CLI, the
    agent names them in a frame it was not taught with (another background, a distractor), in both languages,
    and still names a known object (an apple) as before."""
    from octopus_ros.cli import main
    from octopus_ros.model import OctopusAgent

    headphones, apple = default_parts
    photos = []
    for k in range(4):
        photos.append(tmp_path / f"headphones{k}.png")
        from PIL import Image
        Image.fromarray(_frame(headphones[k % len(headphones)], seed=100 + k)).save(photos[-1])
    file = tmp_path / "taught.safetensors"
    assert main(["objects", "teach", "headphones", "--zh", "耳机", *map(str, photos), "--file", str(file)]) == 0
    assert main(["objects", "list", "--file", str(file)]) == 0

    agent = OctopusAgent.load("default", threads=2, taught=file)
    assert agent.describe()["taught_objects"] == 1
    scene = _frame(headphones[0], seed=999, distractors=[apple[0]])
    english = agent.infer("pick that up", scene)
    chinese = agent.infer("把那个捡起来", scene)
    assert (english.function_name, english.arguments.get("object")) == ("pick_up", "headphones"), english
    assert (chinese.function_name, chinese.arguments.get("object")) == ("pick_up", "耳机"), chinese
    known = agent.infer("pick that up", _frame(apple[0], seed=998))
    assert known.arguments.get("object") == "apple", known

    assert main(["objects", "forget", "headphones", "--file", str(file)]) == 0
    assert TaughtObjects.load(file).objects == []


def test_the_teach_command_refuses_bad_photos_and_saves_nothing(default_parts, tmp_path, capsys):
    from octopus_ros.cli import main

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    file = tmp_path / "taught.safetensors"
    assert main(["objects", "teach", "mug", str(bad), "--file", str(file)]) == 1
    assert main(["objects", "teach", "mug", "--file", str(file)]) == 1          # no photos
    assert "give a name and at least one photo" in capsys.readouterr().err
    assert not file.exists()
    lessons = tmp_path / "objects.jsonl"
    lessons.write_text(json.dumps({"en": "mug", "photos": ["bad.jpg"]}) + "\n", encoding="utf-8")
    assert main(["objects", "teach", "--from", str(lessons), "--file", str(file)]) == 1
    assert not file.exists()


def test_teach_through_the_node_from_its_camera_and_query(default_parts, tmp_path, ros_domain_id):
    """The running node, real default model: two photos sent with the TeachObject request and one taken from
    its camera (`octopus-ros objects teach-camera`) teach the held-out headphones; the file is written; a Query
    with a new frame names them."""
    import json as _json

    from ros_helpers import isolated_node

    from octopus_ros.images import rgb_to_image_msg

    headphones, apple = default_parts
    file = tmp_path / "taught" / "objects.safetensors"
    with isolated_node(tmp_path, "taughtnode", ros_domain_id, "-p", "model:=default",
                       "-p", f"taught_objects:={file}", "-p", "frame_max_age_s:=30.0") as (proc, c):
        request = c.TeachObject.Request(name_en="headphones", name_zh="耳机",
                                        images=[rgb_to_image_msg(_frame(headphones[k % len(headphones)], 200 + k))
                                                for k in range(2)])
        response = c.call_service(c.teach_client, request)
        assert response.success and response.photos == 2, response.error
        c.publish_image(rgb_to_image_msg(_frame(headphones[0], 202)))   # the camera's frame, with the CLI
        c.spin_until(lambda: c.node.count_subscribers(c.camera) > 0, 10)
        from octopus_ros.cli import main
        assert c.spin_until(lambda: main(["objects", "teach-camera", "headphones", "--photos", "1", "--service",
                                          "/taughtnode/teach_object"]) == 0, 20)
        assert TaughtObjects.load(file).objects[0].features.shape[0] == 3 and proc.alive()
        scene = rgb_to_image_msg(_frame(headphones[1 % len(headphones)], 999, [apple[0]]))
        answer = c.call_query(c.Query.Request(text="pick that up", image=scene, has_image=True))
        assert answer.success and answer.call.function_name == "pick_up", answer
        assert _json.loads(answer.call.arguments_json)["object"] == "headphones", answer.call.arguments_json
