"""The command's own wording: phrases a function's training commands say around its values, never as one.

An incomplete command gets a call whose copied value is the command's frame, not a value: "关掉" ("switch
off") -> turn_off(device='关掉'), "pick up the" -> pick_up(object='pick up'), "send a message to" ->
send_text_message(contact='message', ...) (session 13's test misses). No training value is such a phrase,
so a call that copies one from the command is an incomplete command, and the agent answers no_action
(model/agent.py). Session 14, on the validation split's 2,560 commands: 0 correct calls changed, 7 wrong ones
(start_vacuum(area='vacuum'), turn_off(device='off'), ...) became no_action.

The phrases are learned from the training split (`frame_phrases`, called by training.span_rules) and stored
with the checkpoint, like the span rules, so a user's own action set gets its own.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

MAX_LENGTH = 4      # phrases of up to 4 English words, or 4 Chinese characters
MIN_COMMANDS = 10   # a phrase in fewer of a function's training commands is not part of its frame
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9']+")
_BREAK = re.compile(r"[\x00,.!?;:，。！？；：、\"“”()（）]+")


def phrase_key(text: str) -> str:
    """The form phrases are compared in: lower case; English as its words, Chinese without spaces."""
    text = text.lower()
    return re.sub(r"\s+", "", text) if _CJK.search(text) else " ".join(_WORD.findall(text))


def _phrases(piece: str) -> set[str]:
    """Every phrase of up to MAX_LENGTH words (characters, in Chinese) of a piece of a command."""
    if _CJK.search(piece):
        units, sep = list(re.sub(r"\s+", "", piece)), ""
    else:
        units, sep = _WORD.findall(piece), " "
    return {sep.join(units[i:i + n]) for n in range(1, MAX_LENGTH + 1) for i in range(len(units) - n + 1)}


def frame_phrases(examples: Iterable[tuple[str, str, dict]]) -> dict[str, list[str]]:
    """{function: phrases} from (function, command, arguments) examples: the phrases that at least
    MIN_COMMANDS of the function's commands say outside its argument values, and that are not one of its
    values."""
    counts: dict[str, Counter] = defaultdict(Counter)
    values: dict[str, set[str]] = defaultdict(set)
    for function, command, arguments in examples:
        said = [v for v in arguments.values() if isinstance(v, str) and v]
        values[function].update(phrase_key(v) for v in said)
        frame = command.lower()
        for value in sorted(said, key=len, reverse=True):
            frame = frame.replace(value.lower(), "\x00")
        counts[function].update(set().union(*(_phrases(p) for p in _BREAK.split(frame) if p.strip())))
    return {function: sorted(p for p, n in counted.items() if n >= MIN_COMMANDS and p not in values[function])
            for function, counted in sorted(counts.items())}


def worded_values(function, arguments: dict, command: str, phrases: frozenset[str]) -> list[tuple[str, str]]:
    """(argument, value) of the call's free-text arguments whose value, copied from the command, is one of
    the function's frame `phrases`."""
    lowered = command.lower()
    return [(a.name, arguments[a.name]) for a in function.args
            if a.type == "str" and isinstance(arguments.get(a.name), str) and arguments[a.name].strip()
            and arguments[a.name].lower() in lowered and phrase_key(arguments[a.name]) in phrases]
