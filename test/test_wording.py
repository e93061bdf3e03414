"""Frame phrases (model/wording.py): the words a function's commands say around its values, learned from
training examples; a call that copies one as a value is an incomplete command."""
from __future__ import annotations

from pathlib import Path

import pytest

from octopus_ros.actions import ActionRegistry
from octopus_ros.model import wording

REGISTRY = ActionRegistry.from_yaml(Path(__file__).resolve().parents[1] / "config" / "functions.yaml")
DEVICES = ["lamp", "fan", "heater", "radio", "kettle", "TV", "air conditioner", "printer", "switch", "light"]


def _examples():
    for i, device in enumerate(DEVICES * 2):
        yield "turn_off", f"please switch off the {device}", {"device": device, "area": ""}
        yield "turn_off", f"关掉{['台灯', '风扇', '电视', '空调', '开关'][i % 5]}", \
            {"device": ['台灯', '风扇', '电视', '空调', '开关'][i % 5], "area": ""}
    yield "turn_off", "switch off the kitchen light", {"device": "light", "area": "kitchen"}


def test_frame_phrases_are_the_words_around_values_never_a_value():
    phrases = set(wording.frame_phrases(_examples())["turn_off"])
    assert {"switch off", "switch off the", "please", "关掉", "关", "掉"} <= phrases
    assert "switch" not in phrases          # a device in one example: a value, so not a frame phrase
    assert "kitchen" not in phrases         # said once, outside a value: not the function's frame
    assert not any(device.lower() in phrases for device in DEVICES)


def test_a_phrase_needs_min_commands_of_the_function():
    few = [("turn_off", "kill the lamp", {"device": "lamp"})] * (wording.MIN_COMMANDS - 1)
    assert wording.frame_phrases(few)["turn_off"] == []
    assert "kill" in wording.frame_phrases(few + few[:1])["turn_off"]


@pytest.mark.parametrize("value,command,worded", [
    ("关掉", "关掉", True),
    ("Switch Off", "switch off the", True),         # any case
    ("lamp", "switch off the lamp", False),          # a value
    ("关掉", "把关掉的灯打开", True),
    ("switch off", "xyz", False),                    # not copied from the command: not judged here
])
def test_worded_values(value, command, worded):
    rules = wording.CommandWording(wording.frame_phrases(_examples()), [])
    turn_off = REGISTRY.by_name("turn_off")
    found = rules.worded(turn_off, {"device": value, "area": ""}, command)
    assert found == ([("device", value)] if worded else [])


def test_value_phrases_are_every_phrase_inside_a_value():
    examples = [("turn_on", "turn on the living room light", {"device": "light", "area": "living room"}),
                ("speak", "say 我的钥匙", {"text": "我的钥匙"})]
    assert set(wording.value_phrases(examples)) == {"light", "living", "room", "living room", "我", "的", "钥",
                                                    "匙", "我的", "的钥", "钥匙", "我的钥", "的钥匙", "我的钥匙"}


@pytest.mark.parametrize("value,expected", [
    ("tropical ideas", "tropical"),
    ("Body: see you at the airport", "see you at the airport"),   # the rest as written
    ("传统风格", "传统"),
    ("衣帽间的", "衣帽间"),
    ("living room", "living room"),      # "room" is inside a training value: protected
    ("ideas", "ideas"),                  # one word is kept (a whole-phrase value is judged by worded())
    ("modern", "modern"),
])
def test_trim_frame(value, expected):
    phrases = frozenset({"ideas", "body", "风格", "的", "room"})
    assert wording.trim_frame(value, phrases - {"room", "living room"}) == expected


def test_copied_values_are_trimmed_and_others_are_not():
    rules = wording.CommandWording({"interior_design": ["ideas", "风格"]}, ["room"])
    design = REGISTRY.by_name("interior_design")
    assert rules.trimmed(design, {"room": "kitchen", "style": "tropical ideas"}, "tropical ideas for the kitchen") \
        == {"room": "kitchen", "style": "tropical"}
    # not a piece of the command (e.g. a name the object lexicon gave): left as it is
    assert rules.trimmed(design, {"room": "kitchen", "style": "tropical ideas"}, "redo the kitchen")["style"] \
        == "tropical ideas"


@pytest.mark.parametrize("value,end,expected", [
    ("衣帽间的", True, "衣帽间"),
    ("tropical ideas for the", True, "tropical"),       # the longest phrase at that side
    ("的衣帽间", True, "的衣帽间"),                      # the other side is left alone
    ("for the kitchen", False, "kitchen"),
])
def test_trim_side(value, end, expected):
    assert wording.trim_side(value, frozenset({"的", "ideas for the", "for the", "the"}), end) == expected


def test_two_span_values_never_share_the_commands_words():
    rules = wording.CommandWording({"turn_off": ["的", "关掉"], "interior_design": ["ideas for the", "for the"]}, [])
    turn_off, design = REGISTRY.by_name("turn_off"), REGISTRY.by_name("interior_design")
    spans = frozenset({0, 1})
    assert rules.separated(turn_off, {"device": "电饭煲", "area": "衣帽间的电饭煲"}, "把衣帽间的电饭煲关掉", spans) \
        == {"device": "电饭煲", "area": "衣帽间"}
    command = "Show me tropical ideas for the living room"
    assert rules.separated(design, {"room": "living room", "style": "tropical ideas for the living room"}, command,
                           spans) == {"room": "living room", "style": "tropical"}
    # the inner value said twice: each claim may be its own ("主题是发票，内容是发票在附件里")
    twice = {"device": "灯", "area": "灯房的灯"}
    assert rules.separated(turn_off, twice, "关掉灯房的灯", spans) == twice
    # not span arguments (e.g. a value read from the picture that happens to be said): left alone
    assert rules.separated(turn_off, {"device": "电饭煲", "area": "衣帽间的电饭煲"}, "把衣帽间的电饭煲关掉",
                           frozenset()) == {"device": "电饭煲", "area": "衣帽间的电饭煲"}
    # inside, not at an edge: left alone
    inside = {"device": "饭", "area": "电饭煲"}
    assert rules.separated(turn_off, inside, "关掉电饭煲", spans) == inside
    # what would be left is only the joint: left alone
    joint = {"device": "电饭煲", "area": "的电饭煲"}
    assert rules.separated(turn_off, joint, "关掉客厅的电饭煲", spans) == joint


def test_the_shipped_checkpoint_knows_the_frame_of_incomplete_commands():
    """The test split's incomplete commands that session 13's decoder turned into calls."""
    import json

    meta = json.loads((Path(__file__).resolve().parents[1] / "models/default/octopus.json").read_text())
    phrases = meta["frame_phrases"]
    assert "关掉" in phrases["turn_off"] and "pick up" in phrases["pick_up"]
    assert "message" in phrases["send_text_message"]
    assert set(phrases) <= {f.name for f in REGISTRY.functions}
    assert {"room", "的"} <= set(meta["value_phrases"]) and "ideas" not in meta["value_phrases"]
    assert {"this", "面前", "这个", "what i'm holding", "one of these"} <= set(meta["pointing_phrases"])
    assert not {"search", "please", "搜一下", "amazon"} & set(meta["pointing_phrases"])
    assert meta["singular_args"] == {"instacart_shopping": ["item"]}
    assert {"balcony", "卫生间"} <= set(meta["said_values"]["set_brightness"]["area"])
    assert "汉堡王" in meta["said_values"]["doordash_order"]["restaurant"]


def test_pointing_phrases_are_what_only_picture_commands_say():
    """Phrases said by at least MIN_COMMANDS commands whose argument is read from the picture, outside their
    values, and hardly ever by commands that say the value; functions without from_image arguments do not count."""
    n = wording.MIN_COMMANDS
    pictured = [("google_search", "please search for this", {"query": "mango"}, ("query",))] * n
    pictured += [("google_search", "搜一下这个东西", {"query": "芒果"}, ("query",))] * n
    said = [("google_search", f"please search for cheap flights {i}", {"query": "cheap flights"}, ())
            for i in range(n)]
    said += [("google_search", "搜一下东京", {"query": "东京"}, ())] * n
    others = [("speak", "say this", {"text": "hello"}, ())] * (2 * n)   # no from_image argument: not counted
    phrases = set(wording.pointing_phrases(pictured + said + others, {"google_search"}))
    assert {"this", "for this", "search for this", "这个", "这个东西"} <= phrases
    assert not {"please", "search", "search for", "搜一下", "mango"} & phrases   # said values' commands say them
    assert "这" not in phrases and "个" not in phrases                          # one Chinese character
    assert "this" not in wording.pointing_phrases(pictured[1:n] + said, {"google_search"})   # too few
    # a function's own commands that say the value, as often as 1 in 50 picture commands, do not spoil a phrase
    one_in_50 = [("google_search", "search for this cheap flight", {"query": "cheap flight"}, ())]
    assert "this" in wording.pointing_phrases(pictured * 5 + one_in_50, {"google_search"})
    assert "this" not in wording.pointing_phrases(pictured * 4 + one_in_50, {"google_search"})


@pytest.mark.parametrize("command,points", [
    ("search for this please", True),
    ("Search For This", True),                 # any case
    ("search for thistle tea", False),         # whole words only
    ("帮我搜一下这个东西", True),
    ("search for electric car prices", False),
])
def test_points_at_picture(command, points):
    rules = wording.CommandWording({}, [], ["this", "这个"])
    assert rules.points_at_picture(command) is points


@pytest.mark.parametrize("command,pictured,unpictured,says", [
    # the query is said in the command: it wins over the lexicon's name for the frame
    ("Okay, search for electric car prices", {"query": "notebook"}, {"query": "electric car prices"}, True),
    ("查一下流感的症状", {"query": "杏"}, {"query": "流感的症状"}, True),
    ("search online for car prices", {"query": "mango"}, {"query": "online"}, False),   # the function's frame
    ("order ths on amazon", {"query": "mango"}, {"query": "ths"}, False),              # a slip of 'this'
    # whole words of the command only
    ("search for electric car prices", {"query": "notebook"}, {"query": "ric car"}, False),
    # not in the command: the model's guess, not the command's words
    ("search for it please", {"query": "mango"}, {"query": "lettuce"}, False),
    ("search for it please", {"query": "mango"}, {"query": "mango"}, False),   # nothing changed
    ("search for mangos please", {"query": "mango"}, {"query": "mangos"}, False),   # the name, said in a plural
])
def test_says_picture_values(command, pictured, unpictured, says):
    rules = wording.CommandWording({"google_search": ["online", "search for"]}, [], ["this", "面前"])
    assert rules.says_picture_values(REGISTRY.by_name("google_search"), pictured, unpictured, command) is says


def test_a_picture_value_must_not_take_another_values_words_or_leave_one_empty():
    rules = wording.CommandWording({}, [], ["this"])
    pets = REGISTRY.by_name("pet_care")
    command = "she has a swollen paw, what do I do?"
    assert not rules.says_picture_values(pets, {"pet": "hamster", "concern": "has a swollen paw"},
                                         {"pet": "paw", "concern": "has a swollen paw"}, command)
    dinner = REGISTRY.by_name("doordash_order")
    command = "could you get me the pudding from Shake Shack."
    assert not rules.says_picture_values(dinner, {"dish": "pudding", "restaurant": "Shake Shack"},
                                         {"dish": "Shake Shack", "restaurant": ""}, command)
    design = REGISTRY.by_name("interior_design")   # the other value moves to its own argument: fine
    assert rules.says_picture_values(design, {"room": "温馨", "style": "钢笔"}, {"room": "阳台", "style": "温馨"},
                                     "阳台想要温馨风格的装修")
    # a checkpoint without pointing phrases: never
    assert not wording.CommandWording({}, []).says_picture_values(
        REGISTRY.by_name("google_search"), {"query": "notebook"}, {"query": "car prices"}, "search car prices")


def test_trimming_never_leaves_only_wording():
    """"告诉大家大家好": '大家' is speak wording ("告诉大家 X") and so is '好'; trimming '大家好' would leave '好'."""
    rules = wording.CommandWording({"speak": ["告诉大家", "大家", "好"]}, [])
    speak = REGISTRY.by_name("speak")
    assert rules.trimmed(speak, {"text": "大家好"}, "告诉大家大家好。") == {"text": "大家好"}
    assert rules.trimmed(speak, {"text": "大家晚安"}, "告诉大家大家晚安。") == {"text": "晚安"}


@pytest.mark.parametrize("command,before,after,says", [
    ("Okay, send the vacuum to the entryway.", {"area": "vacuum"}, {"area": "entryway"}, True),
    ("喂，播报：开饭了。", {"text": "播报"}, {"text": "开饭了"}, True),
    ("search for it", {"query": "search"}, {"query": "t"}, False),             # not a whole word
    ("search for it", {"query": "search"}, {"query": "search for"}, False),    # a frame phrase
    ("send the vacuum", {"area": "vacuum"}, {"area": "vacuum"}, False),        # nothing changed
    ("send the vacuum to the hall", {"area": "vacuum"}, {"area": ""}, False),  # emptied
    ("send the vacuum there", {"area": "vacuum"}, {"area": "send the vacuum"}, False),   # trims to wording
])
def test_says_changed_values(command, before, after, says):
    rules = wording.CommandWording({"start_vacuum": ["vacuum", "send the"], "speak": ["播报"],
                                    "google_search": ["search", "search for"]}, [])
    name = {"area": "start_vacuum", "text": "speak", "query": "google_search"}[next(iter(before))]
    assert rules.says_changed_values(REGISTRY.by_name(name), before, after, command) is says


def test_changed_values_share_no_words():
    """"给妈妈发个消息" decoded as message '消息' (wording), then message '妈妈' beside contact '妈妈'."""
    rules = wording.CommandWording({"send_text_message": ["消息", "发个"]}, [])
    message = REGISTRY.by_name("send_text_message")
    assert not rules.says_changed_values(message, {"contact": "妈妈", "message": "消息"},
                                         {"contact": "妈妈", "message": "妈妈"}, "给妈妈发个消息")


def test_singular_args_are_the_arguments_said_in_the_plural():
    """Instacart commands say "order 3 avocados" and write item 'avocado': at least MIN_COMMANDS of them."""
    n = wording.MIN_COMMANDS
    plural = [("instacart_shopping", f"order {i} avocados on Instacart", {"item": "avocado", "quantity": i})
              for i in range(n)]
    as_said = [("instacart_shopping", "order 3 grapes", {"item": "grapes", "quantity": 3})] * n
    berries = [("instacart_shopping", "order 3 berries", {"item": "berry", "quantity": 3})] * n
    assert wording.singular_args(plural) == {"instacart_shopping": ["item"]}
    assert wording.singular_args(berries) == {"instacart_shopping": ["item"]}
    assert wording.singular_args(plural[1:] + as_said) == {}        # too few; a value said as written is none
    assert wording.singular_args([("speak", "say 我的钥匙们", {"text": "我的钥匙"})] * n) == {}   # English only


@pytest.mark.parametrize("value,written", [
    ("melons", "melon"), ("soda cans", "soda can"), ("potatoes", "potato"), ("berries", "berry"),
    ("grapes", "grapes"),      # a name itself
    ("lemons", "lemons"),      # no name's plural
    ("Melons", "melon"),       # any case; the name as the catalog writes it
])
def test_in_singular_writes_a_plural_of_a_catalog_name_as_the_name(value, written):
    rules = wording.CommandWording({}, [], singular={"instacart_shopping": ["item"]})
    names = {n.lower(): n for n in ["melon", "soda can", "potato", "berry", "grapes", "grape"]}
    shop = REGISTRY.by_name("instacart_shopping")
    assert rules.in_singular(shop, {"item": value, "quantity": 2}, names) == {"item": written, "quantity": 2}
    # another function's values are left as they are
    assert rules.in_singular(REGISTRY.by_name("find_object"), {"object": value}, names) == {"object": value}


def test_said_values_are_the_string_values_commands_say_as_written():
    examples = [("turn_off", "switch off the Kitchen light", {"device": "light", "area": "kitchen"}),
                ("turn_off", "关掉卧室的灯", {"device": "灯", "area": "卧室"}),
                ("turn_off", "switch off the lamp", {"device": "lamp", "area": ""}),
                ("instacart_shopping", "order 3 avocados", {"item": "avocado", "quantity": 3})]
    assert wording.said_values(examples) == {"instacart_shopping": {"item": ["avocado"]},
                                             "turn_off": {"area": ["kitchen", "卧室"], "device": ["lamp", "light", "灯"]}}


SAID = {"set_brightness": {"device": ["light", "night light"], "area": ["balcony", "bath", "卫生间"]},
        "doordash_order": {"restaurant": ["汉堡王"]}}


@pytest.mark.parametrize("command,arguments,filled", [
    ("set the balcony night light to 55%", {"brightness": 55, "device": "night light", "area": ""},
     {"area": "balcony"}),
    ("dim the Light to 85 percent", {"brightness": 85, "device": "", "area": ""}, {"device": "Light"}),
    ("卫生间的床头灯调成最亮", {"brightness": 100, "device": "床头灯", "area": ""}, {"area": "卫生间"}),
    # the words another value holds are its own; whole words only ('bath' is not in "bathroom")
    ("set the night light to 55%", {"brightness": 55, "device": "night light", "area": ""}, {}),
    ("set the bathroom lamp to 25%", {"brightness": 25, "device": "lamp", "area": ""}, {}),
    # a value the call gives is kept
    ("set the balcony lamp to 5%", {"brightness": 5, "device": "lamp", "area": "porch"}, {}),
])
def test_an_empty_span_argument_takes_a_training_value_the_command_says(command, arguments, filled):
    rules = wording.CommandWording({}, [], said=SAID)
    brightness = REGISTRY.by_name("set_brightness")
    spans = frozenset({1, 2})
    assert rules.with_said_values(brightness, arguments, command, spans) == arguments | filled
    # only span arguments
    assert rules.with_said_values(brightness, arguments, command, frozenset()) == arguments


def test_said_values_in_a_chinese_command():
    rules = wording.CommandWording({}, [], said=SAID)
    order = REGISTRY.by_name("doordash_order")
    assert rules.with_said_values(order, {"dish": "拉面", "restaurant": ""}, "快在DoorDash上点汉堡王的拉面。",
                                  frozenset({0, 1})) == {"dish": "拉面", "restaurant": "汉堡王"}


@pytest.mark.parametrize("value,command,whole", [
    ("lights", "Change the spotlights brightness to 45.", "spotlights"),
    ("windows", "set it down on the windowsill", "windowsill"),
    ("light", "the LIGHT and the lightbulb", "LIGHT"),       # said once as a whole word, as the command writes it
    ("qingdao", "will it rain in Qingdao", "Qingdao"),
    ("Waffle", "DoorDash me some waffle", "waffle"),
    ("Let's meet", "Let Sophia know let's meet at noon", "let's meet"),
    ("kids' room", "in the kids' room", "kids' room"),
    ("灯", "关掉门廊灯", "灯"),                               # Chinese has no word boundaries
])
def test_a_span_value_is_whole_words_of_the_command(value, command, whole):
    rules = wording.CommandWording({}, [], singular={"instacart_shopping": ["item"]})
    off = REGISTRY.by_name("turn_off")
    assert rules.in_whole_words(off, {"device": value, "area": ""}, command, frozenset({0, 1}))["device"] == whole
    # not a span argument, or one written in the singular ("order ten avocados" -> 'avocado'): kept
    assert rules.in_whole_words(off, {"device": value, "area": ""}, command, frozenset())["device"] == value
    shop = REGISTRY.by_name("instacart_shopping")
    assert rules.in_whole_words(shop, {"item": "avocado", "quantity": 10}, "order ten avocados",
                                frozenset({0}))["item"] == "avocado"


@pytest.mark.parametrize("typed,word,slip", [
    ("plrase", "please", True), ("pleas", "please", True), ("pleasse", "please", True), ("plaese", "please", True),
    ("ths", "this", True), ("please", "please", False), ("plrasr", "please", False), ("pl", "please", False),
])
def test_one_slip(typed, word, slip):
    assert wording._one_slip(typed, word) is slip


def test_unseen_value_cuts_counts_the_values_trimming_would_break():
    """`octopus-ros data wording-check`: every copied value is checked once, by phrases learned without it.
    'lamp please' ends with "please", which the other commands say around their devices, and '开关' with 关
    ("关掉"), in no other device: both are cut, every time they are said (2 and 4 commands)."""
    from octopus_ros.training.cases import Case
    from octopus_ros.training.span_rules import unseen_value_cuts

    cases = [Case(str(i), "en", text, None, function, arguments) for i, (function, text, arguments)
             in enumerate(_examples())]
    cases += [Case(f"p{i}", "en", "please switch off the lamp please", None, "turn_off",
                   {"device": "lamp please", "area": ""}) for i in range(2)]
    found = unseen_value_cuts(cases, REGISTRY, folds=5, seed=0)
    assert found["values"] == len(cases) + 1          # the kitchen light has two values (device, area)
    assert found["cut"] == 6
    assert sorted(found["samples"]) == [("turn_off", "lamp please", "lamp"), ("turn_off", "开关", "开")]
    assert found["rate"] == pytest.approx(6 / found["values"])


@pytest.mark.parametrize("command,arguments,said", [
    # a protected frame phrase at the end: cut when what is left is a value training says for the argument
    ("把除湿机关了", {"device": "除湿机关", "area": ""}, {"device": "除湿机", "area": ""}),
    ("把衣帽间的电饭煲关掉", {"device": "电饭煲", "area": "衣帽间的"}, {"device": "电饭煲", "area": "衣帽间"}),
    # a value training says is kept, and so is one it never says either way
    ("把开关关了", {"device": "开关", "area": ""}, {"device": "开关", "area": ""}),
    ("把新风机关了", {"device": "新风机关", "area": ""}, {"device": "新风机关", "area": ""}),
    ("turn off the kitchen fan off", {"device": "fan off", "area": "kitchen"}, {"device": "fan", "area": "kitchen"}),
])
def test_a_value_becomes_the_training_value_it_is_once_its_frame_is_cut(command, arguments, said):
    # '关', '的' and 'off' are frame phrases and '的' and '关' also pieces of values (开关): rule 2 keeps them
    rules = wording.CommandWording({"turn_off": ["关", "关了", "把", "的", "off", "turn off the"]}, ["关", "的"],
                                   said={"turn_off": {"device": ["除湿机", "电饭煲", "开关", "fan"],
                                                      "area": ["衣帽间", "kitchen"]}})
    turn_off = REGISTRY.by_name("turn_off")
    assert rules.as_said(turn_off, arguments, command) == said
    assert wording.CommandWording({}, [], said=rules.said).as_said(turn_off, arguments, command) == arguments


NAMES = {"en": {n.lower(): n for n in ["kung pao chicken", "chicken", "four-leaf clover", "Clover", "hot dog"]},
         "zh": {n: n for n in ["拐杖糖", "美式橄榄球", "橄榄球"]}}


@pytest.mark.parametrize("function,command,arguments,whole", [
    ("doordash_order", "order kung pao chicken from Luigi's",
     {"dish": "chicken", "restaurant": "Luigi's"}, {"dish": "kung pao chicken", "restaurant": "Luigi's"}),
    ("google_search", "search the web for a Four-Leaf Clover",
     {"query": "leaf clover"}, {"query": "four-leaf clover"}),      # any case; the name as written
    ("find_object", "帮我找找拐杖糖", {"object": "拐杖"}, {"object": "拐杖糖"}),
    ("find_object", "美式橄榄球去哪了", {"object": "橄榄球"}, {"object": "美式橄榄球"}),   # the longest name said
    # left as they are: a name itself; a name the command does not say; only inside a word; not from the picture
    ("find_object", "where is the chicken", {"object": "chicken"}, {"object": "chicken"}),
    ("find_object", "where is the hot sauce", {"object": "hot"}, {"object": "hot"}),
    ("find_object", "where are the hot dogs", {"object": "dog"}, {"object": "dog"}),
    ("navigate_to", "go to the kung pao chicken stand", {"location": "chicken"}, {"location": "chicken"}),
])
def test_a_part_of_a_said_object_name_becomes_the_name(function, command, arguments, whole):
    language = "zh" if wording._CJK.search(command) else "en"
    call = REGISTRY.by_name(function)
    assert wording.CommandWording.in_whole_names(call, arguments, command, NAMES[language], language) == whole


def test_common_phrases_are_the_wording_of_half_the_functions_and_no_value():
    phrases = {"turn_off": ["小章鱼", "关掉", "hey robot"], "turn_on": ["小章鱼", "打开", "hey robot"],
               "stop": ["小章鱼"], "speak": ["说"]}
    rules = wording.CommandWording(phrases, ["hey robot"])       # 'hey robot' is a piece of some value
    assert rules.common == {"小章鱼"}
    assert wording.CommandWording.without("Hey Robot, 小章鱼，拿这个", ["小章鱼", "hey robot"]) == ",, ,，拿这个"


@pytest.mark.parametrize("command,arguments,unswapped", [
    ("给客厅来个海滨风的设计", {"room": "海滨", "style": "客厅"}, {"room": "客厅", "style": "海滨"}),
    ("a coastal living room", {"room": "coastal", "style": "living room"}, {"room": "living room", "style": "coastal"}),
    # kept: each value is said for its own argument; neither is said for the other's; a value not in the command
    ("a modern kitchen", {"room": "kitchen", "style": "modern"}, {"room": "kitchen", "style": "modern"}),
    ("a coastal basement", {"room": "coastal", "style": "basement"}, {"room": "coastal", "style": "basement"}),
    ("design this for me", {"room": "modern", "style": "kitchen"}, {"room": "modern", "style": "kitchen"}),
])
def test_two_values_in_each_others_places_trade(command, arguments, unswapped):
    rules = wording.CommandWording({}, [], said={"interior_design": {"room": ["客厅", "living room", "kitchen"],
                                                                     "style": ["modern", "北欧"]}})
    assert rules.unswapped(REGISTRY.by_name("interior_design"), arguments, command) == unswapped
