"""The duration a command says, in seconds: "an hour and a half", "20 minutes and twenty seconds", "九十分钟",
"一个半小时", "半分钟", "一刻钟".

The LM places a timer's numbers by their unit word, and on held-out phrasings it sometimes picks the wrong
unit or drops one: "倒计时十秒" -> 10 minutes, "设一个九十分钟的倒计时" -> 1 minute 30, "Set a timer for an hour and a
half" -> 30 minutes (sessions 26-27, validation and test splits). A duration is arithmetic once it is read, so a
call that writes hours, minutes and seconds (set_timer) publishes the said duration in base 60 when the command
says one unambiguously (`duration_said`) and the call writes another (model/agent.py).

Ambiguous commands are not read: a number with no unit ("a timer for 5"), a unit with no number of its own
("minutes"), a number or fraction outside every number-unit pair ("5 timers of 2 minutes", a misspelt unit), a
unit said twice ("10 minutes for the pasta and 5 minutes for the sauce"), or
"一个半分钟", which the data reads both as a half minute ("设一个半分钟的倒计时") and, for hours, as one and a half
("倒计时一个半小时").
"""
from __future__ import annotations

import re
import unicodedata

from .command_numbers import EN_NUMBER_WORDS, numbers_said

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_EN_UNITS = {"hour": "h", "hours": "h", "hr": "h", "hrs": "h", "minute": "m", "minutes": "m", "min": "m",
             "mins": "m", "second": "s", "seconds": "s", "sec": "s", "secs": "s"}
_ZH_UNITS = {"小时": "h", "钟头": "h", "分钟": "m", "分": "m", "秒钟": "s", "秒": "s"}

_EN_WORDS = "|".join(sorted((*EN_NUMBER_WORDS, "hundred"), key=len, reverse=True))
_EN_NUMBER = rf"\d+(?:\.\d+)?|(?:{_EN_WORDS})(?:(?:[ -]|\s+and\s+)(?:{_EN_WORDS}))*|an?"
_EN_PAIR = re.compile(
    rf"\b(?:(?P<half>half\s+an?)|(?P<quarters>a|one|two|three)[ -]quarters?\s+of\s+an?"
    rf"|(?P<number>{_EN_NUMBER})(?P<and_half>\s+and\s+a\s+half)?)"
    rf"[ -]*(?P<unit>{'|'.join(sorted(_EN_UNITS, key=len, reverse=True))})\b(?P<half_after>\s+and\s+a\s+half)?")
_ZH_NUMBER = r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+(?:点[零〇一二三四五六七八九]+)?"
_ZH_PAIR = re.compile(
    rf"(?P<quarters>[一两三])刻钟?|(?:(?P<number>{_ZH_NUMBER})\s*(?P<ge>个)?(?P<and_half>半)?|(?P<half>半)个?)\s*"
    rf"(?P<unit>{'|'.join(sorted(_ZH_UNITS, key=len, reverse=True))})(?P<half_after>半钟?)?")
_ZH_ARTICLE = re.compile(r"一个")   # "定一个25分钟的计时器": a, not one
_QUARTERS = {"a": 1, "one": 1, "two": 2, "three": 3, "一": 1, "两": 2, "三": 3}
_FRACTION_LEFT = re.compile(r"半|\bhalf\b|\bquarters?\b|刻")


def duration_said(text: str) -> int | None:
    """The whole seconds the command's number-unit pairs add up to, or None when it says no duration or an
    ambiguous one (a number or a fraction outside the pairs, a total that is no whole number of seconds)."""
    text = unicodedata.normalize("NFKC", text).lower()
    chinese = re.search(r"[\u4e00-\u9fff]", text) is not None
    pairs = _ZH_PAIR if chinese else _EN_PAIR
    units = _ZH_UNITS if chinese else _EN_UNITS
    total, rest, end, seen = 0.0, [], 0, set()
    for m in pairs.finditer(text):
        if m.group("quarters") and chinese:          # 一刻钟: a quarter of an hour
            amount, unit = float(_QUARTERS[m.group("quarters")]) / 4, "h"
        else:
            unit = units[m.group("unit")]
            if m.group("half"):
                amount = 0.5
            elif m.group("quarters"):
                amount = _QUARTERS[m.group("quarters")] / 4
            else:
                amount = _number(m.group("number"))
                if amount is None or (chinese and m.group("number") == "一" and m.group("ge") and m.group("and_half")):
                    return None   # "设一个半分钟": a half minute, or one and a half? (the data says both)
                amount += 0.5 if m.group("and_half") or m.group("half_after") else 0.0
        if unit in seen:   # "10 minutes for the pasta and 5 minutes for the sauce": two durations, not one
            return None
        seen.add(unit)
        total += amount * _UNIT_SECONDS[unit]
        rest.append(text[end:m.start()])
        end = m.end()
    rest.append(text[end:])
    leftover = " , ".join(rest)
    if chinese:
        leftover = _ZH_ARTICLE.sub(" ", leftover)
    if not total or numbers_said(leftover) or _FRACTION_LEFT.search(leftover) or total != int(total):
        return None
    return int(total)


def _number(literal: str) -> float | None:
    if literal in ("a", "an"):
        return 1.0
    values = numbers_said(literal)
    return next(iter(values)) if len(values) == 1 else None


def base60(seconds: int) -> dict[str, int]:
    """Hours, minutes and seconds of a duration: 5400 -> 1 hour 30 minutes."""
    return {"hours": seconds // 3600, "minutes": seconds // 60 % 60, "seconds": seconds % 60}


def with_said_duration(function, arguments: dict, text: str) -> dict:
    """`arguments` with hours, minutes and seconds as the command says the duration, for a function that takes
    all three as integers (set_timer); as they are when the command says none unambiguously, or one the
    function cannot hold (a day or more)."""
    if not {"hours", "minutes", "seconds"} <= {a.name for a in function.args if a.type == "int"}:
        return arguments
    said = duration_said(text)
    if said is None or said >= 24 * 3600:
        return arguments
    return {**arguments, **base60(said)}
