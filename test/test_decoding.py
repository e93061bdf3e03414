"""Model and decoding details that the fuzz test does not look at: the form of quoted values, the int8
deployment (fp16 or int8 embedding matrix), and image tokens at a word's norm. Tiny random model of the real
architecture, in-process."""
from __future__ import annotations

import random

import numpy as np
import pytest

from test_model_fuzz import random_command

torch = pytest.importorskip("torch")
model_module = pytest.importorskip("octopus_ros.model")
CommandWording = pytest.importorskip("octopus_ros.model.wording").CommandWording


@pytest.fixture(scope="module")
def int8_agent():
    return model_module.OctopusAgent.load("tiny-random", threads=2, quantize="int8")


def test_quoted_values_never_start_with_whitespace(int8_agent):
    rng = random.Random(3)
    values = []
    for i in range(300):
        result = int8_agent.infer(random_command(rng, i))
        if result.outcome == "call":
            values += [v for v in result.arguments.values() if isinstance(v, str) and v]
    assert len(values) > 20, "too few string values to check"
    assert [v for v in values if v[0].isspace()] == []


def _decodes_calls(agent):
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    for text, image in (("turn on the kitchen light", None), ("pick that up", frame), ("打开客厅的台灯", None)):
        result = agent.infer(text, image)
        assert result.outcome in ("call", "no_action"), result.reason
        assert 0.0 <= result.confidence <= 1.0


def test_int8_stores_the_embedding_matrix_in_fp16_and_still_decodes(int8_agent):
    embedding = int8_agent.model.lm.get_input_embeddings().weight
    assert embedding.dtype == torch.float16
    assert int8_agent.model.lm.get_output_embeddings().weight is embedding    # still tied: one copy
    _decodes_calls(int8_agent)


def test_int8_embedding_mode_keeps_one_int8_matrix_and_still_decodes():
    from octopus_ros.model.int8 import Int8Embedding
    agent = model_module.OctopusAgent.load("tiny-random", threads=2, quantize="int8-embedding")
    lm = agent.model.lm
    embedding = lm.get_input_embeddings()
    assert isinstance(embedding, Int8Embedding) and embedding.weight_int8.dtype == torch.int8
    assert lm.get_output_embeddings() is embedding    # still tied: one copy
    matrix = embedding.num_embeddings * embedding.embedding_dim
    assert not [t.shape for t in [*lm.parameters(), *lm.buffers()] if t.is_floating_point() and t.numel() >= matrix]
    ids = torch.tensor([5, 17])
    assert torch.equal(agent.model.output_rows(ids), embedding.rows(ids))
    _decodes_calls(agent)


def test_an_unknown_quantize_mode_is_a_load_error_that_lists_the_modes():
    with pytest.raises(model_module.ModelLoadError, match="int8-embedding"):
        model_module.OctopusAgent.load("tiny-random", threads=2, quantize="int4")


def test_image_tokens_have_the_mean_norm_of_a_word_embedding(int8_agent):
    model = int8_agent.model
    assert model.profile.head.normalize_image_tokens and model.image_token_norm > 0
    frames = np.random.default_rng(1).integers(0, 255, (3, 96, 128, 3), dtype=np.uint8)
    with torch.no_grad():
        tokens = model.image_embeds(model.vision.preprocess(list(frames)))
    assert tokens.shape == (3, model.image_tokens, model.hidden_size)
    assert torch.allclose(tokens.norm(dim=-1), torch.full((3, model.image_tokens), model.image_token_norm), rtol=1e-4)


@pytest.fixture(scope="module")
def fp32_agent():
    return model_module.OctopusAgent.load("tiny-random", threads=2, quantize="none")


def rescored(agent, command: str, decoded) -> float:
    """The total log-probability of the decoded argument tokens, recomputed with one forward pass over
    prompt + functional token + those tokens (no KV cache, so no beam reordering to get wrong)."""
    model = agent.model
    ids, _texts, rows = agent.vocab.for_command(command)
    prompt = model.prompt_embeds(model.prompt_ids(command), None)
    fed = [model.function_token_id(decoded.function_index)] + decoded.argument_ids[:-1]
    with torch.no_grad():
        hidden, _ = model.hidden(torch.cat([prompt, model.embed_ids(torch.tensor([fed]))], dim=1))
        logp = torch.log_softmax(model.token_logits(hidden[0, prompt.shape[1]:], rows).float(), dim=-1)
    column = {token: j for j, token in enumerate(ids)}
    return sum(float(logp[t, column[token]]) for t, token in enumerate(decoded.argument_ids))


@pytest.mark.parametrize("beams", [1, 3])
def test_decoded_score_is_the_log_probability_of_the_decoded_tokens(fp32_agent, beams):
    decoding = pytest.importorskip("octopus_ros.model.decoding")
    model = fp32_agent.model
    rng = random.Random(5)
    checked = 0
    for i in range(60):
        command = random_command(rng, i)
        if not command.strip() or len(model.prompt_ids(command)) > 200:
            continue
        decoded = decoding.decode(model, fp32_agent.registry, fp32_agent.vocab,
                                  model.prompt_embeds(model.prompt_ids(command), None), command, 48, beams=beams)
        if decoded.argument_ids:
            assert decoded.score == pytest.approx(rescored(fp32_agent, command, decoded), abs=2e-3)
            assert "".join(fp32_agent.vocab.texts(decoded.argument_ids)) == decoded.argument_text
            checked += 1
    assert checked > 10


def test_beam_search_returns_valid_calls(fp32_agent):
    decoding = pytest.importorskip("octopus_ros.model.decoding")
    model = fp32_agent.model
    rng = random.Random(8)
    wider = 0
    for i in range(60):
        command = random_command(rng, i).strip()
        if not command or len(model.prompt_ids(command)) > 200:
            continue
        prompt = model.prompt_embeds(model.prompt_ids(command), None)
        greedy, beam = (decoding.decode(model, fp32_agent.registry, fp32_agent.vocab, prompt, command, 48, beams=b)
                        for b in (1, 4))
        assert beam.function_index == greedy.function_index
        if beam.complete:
            function = fp32_agent.registry.by_index(beam.function_index)
            assert function.grammar.check(beam.argument_text) is decoding.PrefixState.COMPLETE
        wider += beam.argument_text != greedy.argument_text
    assert wider > 0, "beam search never differed from greedy: the test cannot tell them apart"


def test_beams_below_one_are_refused():
    with pytest.raises(model_module.ModelLoadError, match="beams must be 1"):
        model_module.OctopusAgent.load("tiny-random", beams=0)


def test_number_margin_override():
    """`octopus-ros eval --number-margin` (how the profile's value is chosen): set on load, never negative."""
    with pytest.raises(model_module.ModelLoadError, match="number_margin must be 0"):
        model_module.OctopusAgent.load("tiny-random", number_margin=-1.0)
    assert model_module.OctopusAgent.load("tiny-random", number_margin=0.5).profile.number_margin == 0.5


def test_a_grammatical_token_ranked_below_the_first_scan_is_still_found(fp32_agent):
    """When the model ranks every grammatical token below the first FIRST_SCAN (here: the closing ')' of
    pick_up('mug'), the decoder scans on instead of giving up on a call it can still complete."""
    decoding = pytest.importorskip("octopus_ros.model.decoding")
    command = "pick up the mug"
    _ids, texts, _rows = fp32_agent.vocab.for_command(command)
    grammar = fp32_agent.registry.by_name("pick_up").grammar
    closing = [j for j, t in enumerate(texts) if grammar.check("('mug'" + t) is not decoding.PrefixState.INVALID]
    assert closing and len(texts) - len(closing) > decoding.FIRST_SCAN
    logp = torch.zeros(len(texts))
    logp[closing] = -50.0
    found = decoding._continuations(grammar, decoding._Hypothesis("('mug'", 0.0, []), logp, texts,
                                    decoding._ValueRules(command), 2)
    assert found and all(j in closing for _score, j, _state in found)


@pytest.mark.parametrize("argument_text,outcome", [("('')", "no_action"), ("('  ', 'kitchen')", "no_action"),
                                                   ("('fan')", "call"), ("('fan', '')", "call")])
def test_a_call_with_an_empty_required_string_is_an_incomplete_command(int8_agent, monkeypatch,
                                                                       argument_text, outcome):
    """"关掉" ("switch off") decoded as turn_off(device=''): nothing to execute, so no_action with the reason.
    An empty optional argument (the area) is fine."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    turn_off = int8_agent.registry.by_name("turn_off")
    monkeypatch.setattr(agent_module, "decode", lambda *a, **k: Decoded(turn_off.index, 0.99, argument_text,
                                                                       complete=True))
    result = int8_agent.infer("关掉")
    assert result.outcome == outcome
    if outcome == "no_action":
        assert result.function_name == "no_action" and result.arguments == {}
        assert "incomplete command: turn_off needs device" in result.reason
    else:
        assert result.function_name == "turn_off" and result.arguments["device"] == "fan"


def test_number_rules_allow_only_said_numbers_and_their_prefixes(int8_agent):
    decoding = pytest.importorskip("octopus_ros.model.decoding")
    grammar = int8_agent.registry.by_name("set_timer").grammar
    rules = decoding._ValueRules("五十七分钟倒计时", numbers=frozenset({"0", "57", "-57"}))
    assert rules   # a rule to check, though no string argument is constrained
    assert rules.allow(grammar, "(0, 5") and rules.allow(grammar, "(0, 57)")
    assert not rules.allow(grammar, "(0, 5)") and not rules.allow(grammar, "(0, 6")
    assert not rules.allow(grammar, "(1")


def test_a_required_number_keeps_a_call_from_ending_without_it(int8_agent):
    """The closing ')' after (5) is not a continuation while 19 is required; ', ' is, and (5, 19) may end."""
    decoding = pytest.importorskip("octopus_ros.model.decoding")
    grammar = int8_agent.registry.by_name("set_timer").grammar
    rules = decoding._ValueRules("5 hours and nineteen minutes", numbers=frozenset({"0", "5", "19"}),
                                 required=frozenset({"19"}))
    assert not rules.completes(grammar, "(5)") and rules.completes(grammar, "(5, 19)")
    texts = [")", ", ", "9"]
    hyp = decoding._Hypothesis("(5", 0.0, [])
    found = decoding._continuations(grammar, hyp, torch.tensor([-0.1, -2.0, -3.0]), texts, rules, 3)
    assert [texts[j] for _, j, _ in found] == [", "]
    hyp = decoding._Hypothesis("(5, 19", 0.0, [])
    found = decoding._continuations(grammar, hyp, torch.tensor([-0.1, -2.0, -3.0]), texts, rules, 3)
    assert texts[found[0][1]] == ")" and found[0][2] is decoding.PrefixState.COMPLETE


def _second_decodes(monkeypatch, agent, function: str, first: str, second, score: float = -9.0,
                    complete: bool = True) -> list:
    """Patch the agent's decoder: a first decode (no number limits) gives `first`, a second one `second` (the
    call text, or a function of the allowed numbers giving it) at `score`; returns the list the second
    decodes' (numbers, required) limits are recorded in. number_margin is 2.0."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    index = agent.registry.by_name(function).index
    limits = []

    def fake_decode(*args, **kwargs):
        if args[-2] is None:
            return Decoded(index, 0.99, first, complete=True, score=-1.0)
        limits.append(args[-2:])
        text = second(args[-2]) if callable(second) else second
        return Decoded(index, 0.99, text, complete=complete, score=score)

    monkeypatch.setattr(agent_module, "decode", fake_decode)
    monkeypatch.setattr(agent.profile, "number_margin", 2.0)
    return limits


@pytest.mark.parametrize("second_score,margin,expected", [(-2.5, 2.0, 57), (-4.0, 2.0, 5), (-2.5, 0.0, 5)])
def test_a_number_the_command_did_not_say_is_decoded_again_with_the_said_ones(int8_agent, monkeypatch,
                                                                              second_score, margin, expected):
    """"音量调到五十七" decoded as set_volume(5): decoded again with only 57 and 0 allowed, and the second call is
    kept when it is at most `number_margin` less likely (0: off, no second decode)."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    volume = int8_agent.registry.by_name("set_volume")
    calls = []

    def fake_decode(*args, **kwargs):
        numbers, required = args[-2:]
        assert required == frozenset()     # the call holds an unsaid number: nothing is required
        calls.append(numbers)
        if numbers is None:
            return Decoded(volume.index, 0.99, "(5)", complete=True, score=-1.0)
        assert numbers == {"0", "57", "-57"}
        return Decoded(volume.index, 0.99, "(57)", complete=True, score=second_score)

    monkeypatch.setattr(agent_module, "decode", fake_decode)
    monkeypatch.setattr(int8_agent.profile, "number_margin", margin)
    result = int8_agent.infer("音量调到五十七")
    assert result.outcome == "call" and result.arguments["level"] == expected
    assert len(calls) == (2 if margin else 1)
    int8_agent.infer("set the volume to 5")   # the call says only said numbers: decoded once
    assert len(calls) == (3 if margin else 2)


def test_a_timer_writes_every_count_it_says_whatever_the_margin(int8_agent, monkeypatch):
    """"五十七分钟倒计时" decoded as set_timer(0, 5): every number a timer command says is a count, so the second
    decode must write 57 and is kept however much less likely (unwritten_counts)."""
    limits = _second_decodes(monkeypatch, int8_agent, "set_timer", "(0, 5)", "(0, 57)", score=-20.0)
    assert int8_agent.infer("五十七分钟倒计时").arguments["minutes"] == 57
    assert limits == [({"0", "57", "-57"}, {"57"})]


def test_a_duration_said_in_one_unit_may_be_written_in_its_base_60_parts(int8_agent, monkeypatch):
    """"倒计时125秒" decoded as set_timer(0, 1, 25): set_timer counts in sixties, so the second decode may also
    write 125's parts, 2 (minutes) and 5 (seconds)."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    timer = int8_agent.registry.by_name("set_timer")
    allowed = []

    def fake_decode(*args, **kwargs):
        if args[-2] is None:
            return Decoded(timer.index, 0.99, "(0, 1, 25)", complete=True, score=-1.0)
        allowed.append(args[-2])
        return Decoded(timer.index, 0.99, "(0, 2, 5)", complete=True, score=-1.5)

    monkeypatch.setattr(agent_module, "decode", fake_decode)
    monkeypatch.setattr(int8_agent.profile, "number_margin", 2.0)
    result = int8_agent.infer("倒计时125秒")
    assert allowed == [{"0", "125", "-125", "2", "5"}]
    assert result.arguments == {"hours": 0, "minutes": 2, "seconds": 5}


def test_a_duration_in_one_unit_must_be_written_with_all_its_base_60_digits(int8_agent, monkeypatch):
    """"倒计时一百四十秒" decoded as set_timer(0, 2): 2 is one of 140's base-60 digits, so the call holds only
    allowed numbers, but 140 seconds is 2 minutes 20. The second decode must write 2 and 20 and is kept however
    much less likely. "倒计时90秒" decoded as (0, 1, 30) writes every digit: nothing is required, so a much less
    likely second call is not kept."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    timer = int8_agent.registry.by_name("set_timer")
    limits = []

    def fake_decode(*args, **kwargs):
        if args[-2] is None:
            return Decoded(timer.index, 0.99, "(0, 2)" if "四十" in args[4] else "(0, 1, 30)", complete=True,
                           score=-1.0)
        limits.append(args[-2:])
        return Decoded(timer.index, 0.99, "(0, 2, 20)", complete=True, score=-8.0)

    monkeypatch.setattr(agent_module, "decode", fake_decode)
    monkeypatch.setattr(int8_agent.profile, "number_margin", 2.0)
    assert int8_agent.infer("倒计时一百四十秒").arguments == {"hours": 0, "minutes": 2, "seconds": 20}
    assert limits == [({"0", "140", "-140", "2", "20"}, {"2", "20"})]
    assert int8_agent.infer("倒计时90秒").arguments == {"hours": 0, "minutes": 1, "seconds": 30}
    assert limits[1][1] == set()


@pytest.mark.parametrize("command,first,limits", [
    # 一 in 一个 is an article: not allowed when 1 is none of the duration's digits
    ("快定一个155分钟的计时器", "(1, 5)", ({"0", "155", "-155", "2", "35"}, {"2", "35"})),
    # "半" is 30 for a call in sixties: left out, so every count said is required
    ("定个两个半小时的计时器", "(2)", ({"0", "2", "-2", "30", "-30"}, {"2", "30"})),
])
def test_a_timer_second_decode_reads_articles_and_halves(int8_agent, monkeypatch, command, first, limits):
    seen = _second_decodes(monkeypatch, int8_agent, "set_timer", first, first, complete=False)
    int8_agent.infer(command)
    assert seen == [limits]


@pytest.mark.parametrize("command,first,limits,angle", [
    # no number said: the turn is the only allowed number, and required
    ("Do a full circle.", "(180)", ({"0", "360", "-360"}, {"360"}), 360.0),
    # 一 is said (and allowed), but the circle must be written
    ("原地转一圈", "(1)", ({"0", "1", "-1", "360", "-360"}, {"360"}), 360.0),
    # the first call turned right: so does the second
    ("turn right a full circle", "(-90)", ({"0", "-360"}, {"360"}), -360.0),
])
def test_a_turn_said_in_circles_must_be_written_in_degrees(int8_agent, monkeypatch, command, first, limits, angle):
    seen = _second_decodes(monkeypatch, int8_agent, "turn", first,
                           lambda numbers: "(360)" if "360" in numbers else "(-360)")
    assert int8_agent.infer(command).arguments == {"angle_deg": angle}
    assert seen == [limits]


def test_a_required_number_may_be_written_either_way_round(int8_agent):
    """"turn right a full circle": a required 360 is met by -360."""
    from octopus_ros.model.decoding import _ValueRules

    grammar = int8_agent.registry.by_name("turn").grammar
    rules = _ValueRules("turn right a full circle", required=frozenset({"360"}))
    assert rules.completes(grammar, "(-360)") and rules.completes(grammar, "(360)")
    assert not rules.completes(grammar, "(-180)")


def test_a_said_number_the_call_left_out_is_required_in_a_second_decode(int8_agent, monkeypatch):
    """"Set a timer for 5 hours and nineteen minutes" decoded as set_timer(5): 19 was said, and the minutes,
    which could hold it, kept their default. The second decode must write 19 and is kept, however much less
    likely (ending early always scores higher)."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    timer = int8_agent.registry.by_name("set_timer")
    limits = _second_decodes(monkeypatch, int8_agent, "set_timer", "(5)", "(5, 19)")
    result = int8_agent.infer("Set a timer for 5 hours and nineteen minutes")
    assert limits == [({"0", "5", "-5", "19", "-19"}, {"5", "19"})]   # a timer writes every count it says
    assert result.arguments == {"hours": 5, "minutes": 19, "seconds": 0}
    limits.clear()   # 一 in 一个 is an article, not a number left out: decoded once
    assert int8_agent.infer("定一个五小时的计时器").arguments["hours"] == 5 and limits == []
    # a second call that cannot be completed leaves the first one as it was (looked at without the said duration,
    # which model/durations.py publishes whatever the decoder wrote)
    monkeypatch.setattr(agent_module, "with_said_duration", lambda function, arguments, text: arguments)
    monkeypatch.setattr(agent_module, "decode", lambda *a, **k: Decoded(timer.index, 0.99, "(5)", complete=True,
                                                                   score=-1.0) if a[-2] is None else
                        Decoded(timer.index, 0.99, "(5, 1", complete=False, score=-9.0))
    assert int8_agent.infer("Set a timer for 5 hours and nineteen minutes").arguments["minutes"] == 0


def test_a_call_that_copies_the_commands_own_wording_is_an_incomplete_command(int8_agent, monkeypatch):
    """"关掉" decoded as turn_off(device='关掉'): '关掉' is what turn_off commands say around a device."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    turn_off = int8_agent.registry.by_name("turn_off")
    monkeypatch.setattr(agent_module, "decode", lambda *a, **k: Decoded(turn_off.index, 0.99, "('关掉')",
                                                                       complete=True))
    monkeypatch.setattr(int8_agent, "wording", CommandWording({"turn_off": ["关掉", "关"]}, []))
    result = int8_agent.infer("关掉")
    assert result.outcome == "no_action" and result.arguments == {}
    assert "turn_off's device would be '关掉'" in result.reason
    monkeypatch.setattr(int8_agent, "wording", CommandWording({}, []))
    assert int8_agent.infer("关掉").outcome == "call"


def test_an_avoided_value_cannot_close(int8_agent):
    """`avoid` judges a value when its quote closes: 'vacuum' may be the start of a longer value, not a value."""
    decoding = pytest.importorskip("octopus_ros.model.decoding")
    grammar = int8_agent.registry.by_name("start_vacuum").grammar
    rules = decoding._ValueRules("send the vacuum to the vacuum room",
                                 avoid=lambda index, value: index == 0 and value == "vacuum")
    assert rules   # a rule to check
    assert rules.allow(grammar, "('vacuum") and rules.allow(grammar, "('vacuum room')")
    assert not rules.allow(grammar, "('vacuum')")


@pytest.mark.parametrize("second,outcome", [("('entryway')", "entryway"), ("('t')", None), ("('", None)])
def test_a_worded_call_is_decoded_again_without_the_wording(int8_agent, monkeypatch, second, outcome):
    """"Okay, send the vacuum to the entryway" decoded as area 'vacuum' (start_vacuum wording): decoded again
    with the wording avoided; the second call is kept when it completes with values the command says alone,
    else the command stays incomplete (no_action)."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    vacuum = int8_agent.registry.by_name("start_vacuum")
    avoided = []

    def fake_decode(*args, avoid=None):
        if avoid is None:
            return Decoded(vacuum.index, 0.99, "('vacuum')", complete=True, score=-0.5)
        avoided.append((avoid(0, "vacuum"), avoid(0, "entryway")))
        return Decoded(vacuum.index, 0.99, second, complete=second.endswith(")"), score=-1.0)

    monkeypatch.setattr(agent_module, "decode", fake_decode)
    monkeypatch.setattr(int8_agent, "wording", CommandWording({"start_vacuum": ["vacuum", "send the"]}, []))
    result = int8_agent.infer("Okay, send the vacuum to the entryway.")
    assert avoided == [(True, False)]
    if outcome:
        assert result.outcome == "call" and result.arguments == {"area": outcome}
        assert result.raw_output == f"{vacuum.token}('{outcome}')<nexa_end>"
    else:
        assert result.outcome == "no_action" and "start_vacuum's area would be 'vacuum'" in result.reason


def test_a_copied_value_loses_the_commands_wording_at_its_ends(int8_agent, monkeypatch):
    """"Show me tropical ideas for the kitchen" decoded as style 'tropical ideas': "ideas" is interior_design
    wording that no style ends with. The published call is the trimmed one, raw text included."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    design = int8_agent.registry.by_name("interior_design")
    monkeypatch.setattr(agent_module, "decode", lambda *a, **k: Decoded(design.index, 0.99,
                                                                       "('kitchen', 'tropical ideas')",
                                                                       complete=True))
    monkeypatch.setattr(int8_agent, "wording", CommandWording({"interior_design": ["ideas", "show me"]}, []))
    result = int8_agent.infer("Show me tropical ideas for the kitchen")
    assert result.outcome == "call" and result.arguments == {"room": "kitchen", "style": "tropical"}
    assert result.raw_output == "<nexa_26>('kitchen', 'tropical')<nexa_end>"
    assert '"style": "tropical"' in result.arguments_json


def test_a_value_gives_up_the_words_of_another_span_value(int8_agent, monkeypatch):
    """"把衣帽间的电饭煲关掉" decoded as turn_off(device='电饭煲', area='衣帽间的电饭煲'): both are span arguments
    (always copied in training), so the area gives up '电饭煲' and the '的' that joined them."""
    from octopus_ros.model import agent as agent_module
    from octopus_ros.model.decoding import Decoded

    turn_off = int8_agent.registry.by_name("turn_off")
    monkeypatch.setattr(agent_module, "decode", lambda *a, **k: Decoded(turn_off.index, 0.99,
                                                                       "('电饭煲', '衣帽间的电饭煲')", complete=True))
    monkeypatch.setattr(int8_agent, "wording", CommandWording({"turn_off": ["的", "关掉"]}, ["的"]))
    monkeypatch.setitem(int8_agent.span_args, "text", {turn_off.index: frozenset({0, 1})})
    result = int8_agent.infer("把衣帽间的电饭煲关掉")
    assert result.outcome == "call" and result.arguments == {"device": "电饭煲", "area": "衣帽间"}
    monkeypatch.setitem(int8_agent.span_args, "text", {})     # no span rules: nothing to judge by
    assert int8_agent.infer("把衣帽间的电饭煲关掉").arguments["area"] == "衣帽间的电饭煲"


def test_frame_phrases_for_an_unknown_function_are_a_load_error(int8_agent):
    from pathlib import Path

    with pytest.raises(model_module.ModelLoadError, match="fly_to_moon"):
        CommandWording.from_meta({"frame_phrases": {"fly_to_moon": ["fly"]}}, int8_agent.registry, Path("ckpt"))


@pytest.mark.parametrize("field", ["singular_args", "said_values"])
@pytest.mark.parametrize("args,match", [({"fly_to_moon": {"item": []}}, "fly_to_moon"),
                                        ({"move": {"direction": []}}, "no string argument 'direction'")])
def test_learned_arguments_of_an_unknown_function_or_argument_are_a_load_error(int8_agent, field, args, match):
    from pathlib import Path

    with pytest.raises(model_module.ModelLoadError, match=f"{field}: .*{match}"):
        CommandWording.from_meta({field: args}, int8_agent.registry, Path("ckpt"))


# ---- argument text from byte-level BPE vocabularies (Qwen, SmolLM2) ---------------------------------------
def _byte_level_tokenizer(corpus: list[str]):
    """A real byte-level BPE tokenizer (tokenizers' ByteLevel pre-tokenizer and decoder, as Qwen's and SmolLM2's
    are built), trained here on `corpus`: characters it saw often become whole tokens, others stay bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus * 20, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


def test_byte_level_tokens_write_their_text_and_pieces_of_a_character_are_left_out():
    from octopus_ros.model.decoding import byte_level_decoder, text_tokens, token_texts
    tok = _byte_level_tokenizer(["turn on the kitchen light", "打开客厅的灯", "pick up the red mug"])
    assert byte_level_decoder(tok) is not None
    for text in ("turn on the red light", "打开客厅的灯"):   # what it was trained on: whole characters and words
        ids = tok(text, add_special_tokens=False).input_ids
        assert text_tokens(tok, ids) == ids
        assert "".join(token_texts(tok, ids)) == text
    assert " light" in token_texts(tok, tok(" light", add_special_tokens=False).input_ids)
    unseen = tok("鑫", add_special_tokens=False).input_ids          # 3 UTF-8 bytes, no merge: 3 byte tokens
    assert len(unseen) == 3 and text_tokens(tok, unseen) == []
    assert tok.eos_token_id not in text_tokens(tok, [tok.eos_token_id, *ids])


def test_sentencepiece_tokens_write_a_space_for_the_word_mark(int8_agent):
    from octopus_ros.model.decoding import byte_level_decoder, text_tokens, token_texts
    tok = int8_agent.model.tokenizer                     # Gemma's SentencePiece vocabulary
    assert byte_level_decoder(tok) is None
    ids = tok("turn on the kitchen light 打开客厅的灯", add_special_tokens=False).input_ids
    assert text_tokens(tok, ids) == ids
    assert "".join(token_texts(tok, ids)) == "turn on the kitchen light 打开客厅的灯"
