"""1,000 random English / Chinese / garbage commands through the tiny random model of the real
architecture: every result is a schema-valid call or no_action, never a malformed call.

In-process (OctopusAgent, no ROS): the node publishes exactly what infer() returns for outcome "call"
(test_node_e2e.py checks that mapping field by field).
"""
from __future__ import annotations

import json
import random
import time

import numpy as np
import pytest

N_COMMANDS = 1000

EN_WORDS = ("turn on off the a kitchen living room bedroom light lamp fan go forward backward left right "
            "ten five 3 42 -7 0.5 meters degrees stop pick up put mug on table find my keys follow me take "
            "picture say hello set timer for minutes seconds volume to 40 what's weather in Beijing email "
            "Alice text Bob I'm running late search this plant order Amazon which bin does go recycle "
            "vacuum dim lights 30% heating 21 please now it that these two of them from Instacart cat "
            "isn't eating dinner pause music next song play brightness degrees celsius").split()
ZH_PHRASES = ("打开 关闭 客厅 卧室 厨房 的 台灯 风扇 向前 走 十米 左转 九十度 停下 把 这个 放到 桌子 上 找 我的 钥匙 "
              "跟着 我 拍照 说 你好 设置 五分钟 计时器 音量 调到 四十 北京 天气 怎么样 给 小明 发 短信 我 会 迟到 "
              "搜索 这种 植物 买 两个 这个 垃圾 扔 哪里 清扫 暂停 音乐 下一首 温度 二十一度 帮 我").split()
GARBAGE_POOLS = [
    "".join(chr(c) for c in range(33, 127)),                 # printable ASCII incl. quotes and backslash
    "'\"\\()<>,;:{}[]|`~!@#$%^&*_=+-./?",                    # call-syntax characters
    "<nexa_0><nexa_end><nexa_30>()'",                        # the model's own special-token text
    "абвгдежзийклмнопрстуфхцчшщыэюя",                         # Cyrillic
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",                           # Arabic
    "😀🤖🔥💡🏠🚗🍕🐱🌧️✅❌",                                      # emoji
    "ｱｲｳｴｵ１２３ＡＢＣ　、。「」",                              # full-width
]


def random_command(rng: random.Random, i: int) -> str:
    kind = i % 3
    if kind == 0:
        return " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(1, 14)))
    if kind == 1:
        if rng.random() < 0.3:  # random CJK characters, not words
            return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(1, 20)))
        return "".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(1, 8)))
    pool = rng.choice(GARBAGE_POOLS)
    text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 40)))
    if rng.random() < 0.2:
        text = f"{rng.choice(EN_WORDS)}\t{text} {rng.choice(ZH_PHRASES)}"
    return text if text.strip() else "?"


@pytest.fixture(scope="module")
def agent():
    model = pytest.importorskip("octopus_ros.model")
    return model.OctopusAgent.load("tiny-random", threads=2)


@pytest.mark.slow
def test_random_commands_give_only_valid_calls_or_no_action(agent):
    registry = agent.registry
    rng = random.Random(1234)
    images = [np.random.default_rng(k).integers(0, 256, (64, 64, 3), dtype=np.uint8) for k in range(3)]
    counts: dict[str, int] = {}
    functions: set[str] = set()
    start = time.monotonic()
    for i in range(N_COMMANDS):
        text = random_command(rng, i)
        image = images[i % 3] if i % 20 == 0 else None
        result = agent.infer(text, image)
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        where = f"command {i} {text!r}: {result.outcome} {result.raw_output!r} {result.reason}"
        assert result.outcome in ("call", "no_action"), where
        spec = registry.by_name(result.function_name)
        assert spec is not None and spec.index == result.token_index, where
        assert 0.0 <= result.confidence <= 1.0, where
        if result.outcome == "no_action":
            assert result.reason, where
            continue
        functions.add(result.function_name)
        assert spec.name != registry.no_action.name, where
        assert registry.validate_arguments(spec.name, result.arguments) == [], where
        parsed = registry.parse(result.raw_output)
        assert parsed.ok, f"{where}: {parsed.error}"
        assert parsed.call.function.name == spec.name and parsed.call.arguments == result.arguments, where
        assert json.loads(result.arguments_json) == json.loads(parsed.call.arguments_json), where
        assert [name for name, _, _ in result.typed_arguments] == [a.name for a in spec.args], where
    elapsed = time.monotonic() - start
    print(f"\n{N_COMMANDS} commands in {elapsed:.1f} s: {counts}; {len(functions)} distinct functions called")
    assert counts.get("call", 0) > 0  # the plumbing does produce calls
