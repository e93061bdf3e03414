"""The shipped default agent's published values where the LM's own value would be wrong: the catalog's category
of a product (model/lexicon.py, `catalog_values`), a value cut to the one training says (model/wording.py,
`as_said`), a part of an object's name said whole (`in_whole_names`), the robot's name read as no object's
(`CommandWording.common`) and the duration a timer command says (model/durations.py). Real weights, real
decoding; each command below decodes to the wrong value without the rule."""
from __future__ import annotations

from pathlib import Path

import pytest

model_module = pytest.importorskip("octopus_ros.model")


@pytest.fixture(scope="module")
def shipped_agent():
    return model_module.OctopusAgent.load("default", threads=2)


def test_the_shipped_lexicon_knows_which_arguments_the_catalog_derives(shipped_agent):
    assert shipped_agent.lexicon.derived == {"amazon_shopping": {"category": ["product", "category"]},
                                             "smart_recycle": {"bin": ["item", "bin"]}}


@pytest.mark.parametrize("command, function, arguments", [
    ("order a pair of scissors from Amazon", "amazon_shopping", {"product": "scissors", "category": "office supplies"}),
    ("在亚马逊上买笔记本", "amazon_shopping", {"product": "笔记本", "category": "办公用品"}),
    ("把手机放进柜子里。", "place", {"object": "手机", "location": "柜子"}),
    ("麻烦你把除湿机关了。", "turn_off", {"device": "除湿机", "area": ""}),
    ("帮我找找拐杖糖", "find_object", {"object": "拐杖糖"}),     # the LM cuts a held-out object's name: '拐杖'
    ("亚马逊下单一个拐杖糖", "amazon_shopping", {"product": "拐杖糖", "category": "食品"}),
    ("机器人，请倒计时十秒", "set_timer", {"hours": 0, "minutes": 0, "seconds": 10}),   # the LM: 10 minutes
])
def test_the_shipped_agent_publishes_the_value_training_writes(shipped_agent, command, function, arguments):
    result = shipped_agent.infer(command)
    assert result.function_name == function and result.arguments == arguments


LEMON = Path("/usr/share/tuxpaint/stamps/food/fruit/lemon.png")


@pytest.mark.parametrize("command, function, arguments", [
    ("小章鱼，把我手里这个加到露营清单。", "add_to_list", {"item": "柠檬", "list_name": "露营"}),   # was '小章鱼'
    ("小章鱼，这个小家伙爪子肿了，正常吗", "pet_care", {"pet": "柠檬", "concern": "爪子肿了"}),     # was '章鱼'
    ("小章鱼，把这个扔到正确的垃圾桶吧", "smart_recycle", {"item": "柠檬", "bin": "compost"}),    # was no_action
])
def test_the_robots_name_names_no_object(shipped_agent, command, function, arguments):
    """'小章鱼' ("little octopus", how training commands address the robot) holds the name '章鱼'; the picture,
    not the command, says what the object is."""
    if not LEMON.exists():
        pytest.skip("tuxpaint-stamps-default is not installed (scripts/data_deps.sh)")
    from octopus_ros.training.evaluate import load_rgb

    assert shipped_agent._hiding_names == ["小章鱼"]
    result = shipped_agent.infer(command, load_rgb(LEMON))
    assert result.function_name == function and result.arguments == arguments
