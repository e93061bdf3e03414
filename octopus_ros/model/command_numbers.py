"""The numbers a command says: digits, English number words, Chinese numerals.

The LM writes a number digit by digit, and a one-digit prefix of the number the user said can score higher
than the whole number, because every further digit costs log-probability ("volume fifty" -> 5, "五十七分钟"
-> 5 minutes, "向右转一百四十五度" -> -45; session 14, validation split). When a call holds a number the
command did not say, the agent (model/agent.py) decodes it again allowing only the said numbers
(`allowed_literals`, enforced by decoding's value rules; for a function with minutes and seconds also their
base-60 parts, so "125秒" may become 2 minutes 5 seconds). When a call leaves out a said number that one of
its arguments kept at the default could hold ("5 hours and nineteen minutes" -> 5 hours; `unplaced_literals`),
the second decode must also write it. The first kind of second call is kept unless the model finds it much
less likely (the profile's `number_margin`); the second kind whenever it completes, as ending a call early
always scores higher.

Only cardinal numbers are read: "1.5", "twenty-five", "one hundred and five", "五十七", "两百", "一点五",
"3万". Fractions in words ("half", "半", "a quarter", "一刻") are numbers only for a call that counts in sixties,
where they are parts of sixty (`sixtieths_said`: half an hour -> 30 minutes; session 17), and turns are
numbers of degrees only for a call that takes an angle (`turns_said`: "转一圈" -> 360; session 18).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from ..actions.numbers import format_number

_EN_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_EN_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
            if w != "_"}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_EN_WORD = re.compile(r"[a-z]+")

_ZH_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
_ZH_SMALL = {"十": 10, "百": 100, "千": 1000}
_ZH_LARGE = {"万": 10_000, "亿": 100_000_000}
_ZH_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?")
EN_NUMBER_WORDS = (*_EN_UNITS, *_EN_TENS)   # the English words of the numbers below a hundred
_DIGITS = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?:万)?")
_PERCENT_PREFIX = "百分之"   # "per hundred": its 百 is not a number, what follows it is


def numbers_said(text: str) -> frozenset[float]:
    """Every number `text` says, as floats (ints are integral floats)."""
    text = unicodedata.normalize("NFKC", text).lower()   # full-width digits -> ASCII
    found: set[float] = set()
    for m in _DIGITS.finditer(text):
        literal = m.group()
        found.add(float(literal[:-1]) * 10_000 if literal.endswith("万") else float(literal))
    found.update(_english_numbers(text))
    found.update(_chinese_numbers(text.replace(_PERCENT_PREFIX, " ")))
    return frozenset(found)


def _english_numbers(text: str) -> list[float]:
    """Runs of number words: "one hundred and five" -> 105, "twenty-five" -> 25, "a hundred" -> 100,
    "two thousand three hundred" -> 2300; "five six" is two numbers."""
    out: list[float] = []
    total = current = 0
    in_run = False
    previous = ""

    def flush():
        nonlocal total, current, in_run
        if in_run:
            out.append(float(total + current))
        total = current = 0
        in_run = False

    for m in _EN_WORD.finditer(text.replace("-", " ")):
        word = m.group()
        value = _EN_UNITS.get(word, _EN_TENS.get(word))
        if value is not None:
            # a new number starts unless this word completes the last one ("twenty" + "five", "hundred" + "five")
            if in_run and current % 100 and not (previous in _EN_TENS and value < 10):
                flush()
            current += value
            in_run = True
        elif word in _EN_SCALES and (in_run or previous == "a"):
            scale = _EN_SCALES[word]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total, current = total + max(current, 1) * scale, 0
            in_run = True
        elif word != "and":
            flush()
        previous = word
    flush()
    return out


def _chinese_numbers(text: str) -> list[float]:
    out = []
    for m in _ZH_RUN.finditer(text):
        whole, _, fraction = m.group().partition("点")
        value = _chinese_integer(whole)
        if value is None:
            continue
        if fraction:
            value += float("0." + "".join(str(_ZH_DIGITS[c]) for c in fraction))
        out.append(float(value))
    return out


def _chinese_integer(run: str) -> int | None:
    """五十七 -> 57, 一百零五 -> 105, 两千 -> 2000, 十五 -> 15, 三五 -> 35 (digit by digit); None for a run
    with no digit or unit value (a lone 万)."""
    if all(c in _ZH_DIGITS for c in run):   # 二零二五: read digit by digit
        return int("".join(str(_ZH_DIGITS[c]) for c in run))
    total = section = digit = 0
    seen = False
    for c in run:
        if c in _ZH_DIGITS:
            digit = _ZH_DIGITS[c]
            seen = True
        elif c in _ZH_SMALL:
            section += (digit or 1) * _ZH_SMALL[c]
            digit = 0
            seen = True
        elif c in _ZH_LARGE:
            if not seen:
                return None
            total += (section + digit) * _ZH_LARGE[c]
            section = digit = 0
    return total + section + digit if seen else None


_HALF = re.compile(r"半|\bhalf\b")
_QUARTERS = re.compile(r"([一两三])刻|\b(a|one|two|three)[ -]quarters?\b")
_QUARTER_WORDS = {"一": 1, "两": 2, "三": 3, "a": 1, "one": 1, "two": 2, "three": 3}


def without_fractions(text: str) -> str:
    """`text` without the quarters it says, whose count is no number of their own ("three quarters of an hour"
    is 45 minutes, not 3; "一刻钟" 15, not 1): what a call that counts in sixties reads numbers from, beside
    `sixtieths_said`."""
    return _QUARTERS.sub(" ", unicodedata.normalize("NFKC", text).lower())


def sixtieths_said(text: str) -> frozenset[float]:
    """The parts of sixty a duration says in words: "half" / "半" -> 30, "a quarter" / "一刻" -> 15, "three
    quarters" / "三刻" -> 45 ("一个半小时" is 1 hour and 30 minutes, "half a minute" 30 seconds). Only for a
    call that counts in sixties (`counts_in_sixties`), where every such fraction of an hour or a minute is one
    of these numbers."""
    text = unicodedata.normalize("NFKC", text).lower()
    found = {30.0} if _HALF.search(text) else set()
    for m in _QUARTERS.finditer(text):
        found.add(15.0 * _QUARTER_WORDS[m.group(1) or m.group(2)])
    return frozenset(found)


def _numbers_written(arguments: dict) -> set[float]:
    """The magnitudes of a call's number arguments."""
    return {abs(float(v)) for v in arguments.values() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# a turn said in circles: 一圈 / 一整圈 / 半圈, "a full circle", "one complete rotation", "half a turn", "a quarter
# turn"; a bare "turn" or "spin" is a verb as often as a noun, so a count or "full" must come with it
_ZH_TURNS = re.compile(r"([一两二半])整?圈")
_EN_TURNS = re.compile(r"\b(?:(full|complete|whole)[ -](?:circle|turn|spin|rotation|revolution|360)"
                       r"|(?:a|one)\s+(?:(?:full|complete|whole)\s+)?(?:circle|spin|rotation|revolution)"
                       r"|(half)[ -](?:a\s+)?(?:turn|circle|spin|rotation|revolution)"
                       r"|(quarter)[ -](?:of\s+a\s+)?(?:turn|circle|rotation|revolution))\b")
_ZH_TURN_COUNTS = {"一": 1.0, "两": 2.0, "二": 2.0, "半": 0.5}


def counts_in_degrees(function) -> bool:
    """Does the function take an angle in degrees, i.e. has a numeric argument whose range ends at 360 (turn's
    angle_deg)?"""
    return bool(_degree_args(function))


def _degree_args(function) -> list:
    return [a for a in function.args if a.type in ("int", "float") and a.max == 360]


def turns_said(text: str) -> frozenset[float]:
    """The angles a command says in turns, in degrees: "转一圈" / "do a full circle" -> 360, "半圈" / "half a turn"
    -> 180, "a quarter turn" -> 90 (two turns, 720, fit no angle argument and are left out). Only for a call
    that counts in degrees (`counts_in_degrees`): no training command says a full turn (each phrasing of it is
    held out with its template), so the model never writes 360 unless the command does (session 18)."""
    text = unicodedata.normalize("NFKC", text).lower()
    found = {360.0 * _ZH_TURN_COUNTS[m.group(1)] for m in _ZH_TURNS.finditer(text)}
    for m in _EN_TURNS.finditer(text):
        found.add(180.0 if m.group(2) else 90.0 if m.group(3) else 360.0)
    return frozenset(v for v in found if v <= 360.0)


_LEFT = re.compile(r"\bleft\b|\b(?:counter|anti)[ -]?clockwise\b|左|逆时针")
_NO_WAY = r"\s+(?:away|now|here|there)"   # "right away", "right now": no direction
_RIGHT = re.compile(rf"\bright\b(?!{_NO_WAY})|(?<![a-z-])(?<!counter )(?<!anti )clockwise\b|右|顺时针")
_RIGHT_NOW = re.compile(rf"\bright{_NO_WAY}\b")


def rotation_sign(text: str) -> int:
    """+1 or -1: the sign of an angle the command turns by, as the action set writes it (positive is to the left,
    counter-clockwise; negative to the right, clockwise; a turn that names neither way, "turn around" or "do a full
    circle", is positive). 0 when it cannot say: both ways named, or none but a "right now" / "right away" ("spin
    125 degrees right now": the data reads it as right, a user may not). The training split's 600 turn commands
    all agree with it or get 0."""
    text = unicodedata.normalize("NFKC", text).lower()
    left, right = _LEFT.search(text) is not None, _RIGHT.search(text) is not None
    if left == right:
        return 0 if left or _RIGHT_NOW.search(text) else 1
    return 1 if left else -1


def with_said_rotation(function, arguments: dict, text: str) -> dict:
    """`arguments` with the angle of a function that takes one in degrees (`counts_in_degrees`) turned the way the
    command says (`rotation_sign`): "顺时针旋转六十度" -> -60, not 60."""
    sign = rotation_sign(text)
    out = dict(arguments)
    for a in _degree_args(function) if sign else ():
        value = arguments.get(a.name)
        if isinstance(value, (int, float)) and value:
            out[a.name] = type(value)(sign * abs(value))
    return out


def unwritten_turns(arguments: dict, turns: frozenset[float]) -> frozenset[str]:
    """The said turns (`turns_said`) that no argument holds, either way round, as literals: the second decode
    must write them ("原地转一圈" -> turn(1) or turn(180) -> 360)."""
    written = _numbers_written(arguments)
    return frozenset(format_number(v, "float") for v in turns if v not in written)


def allowed_literals(said: frozenset[float], base60: bool = False) -> frozenset[str]:
    """The number literals a call may contain when it uses only numbers the command said: each said number,
    its negative (a direction word may flip the sign: "turn right 45 degrees" -> -45) and 0 (a default); with
    `base60` (the call counts in sixties: `counts_in_sixties`), also the base-60 parts of a whole number from 60
    up, as a duration said in one unit is written in hours, minutes and seconds ("125秒" -> 2 minutes 5
    seconds, "100 minutes" -> 1 hour 40)."""
    values = {0.0} | set(said) | {-v for v in said}
    for v in said if base60 else ():
        if v >= 60 and v == int(v):
            values.update(float(part) for part in sexagesimal_parts(int(v)))
    return frozenset(format_number(v, "float") for v in values)


def counts_in_sixties(function) -> bool:
    """Does the function write a quantity in base-60 digits, i.e. has an integer argument from 0 to 59
    (set_timer's minutes and seconds)?"""
    return any(a.type == "int" and a.min == 0 and a.max == 59 for a in function.args)


def sexagesimal_parts(n: int) -> set[int]:
    """The base-60 digits of n as seconds -> (minutes, seconds) and, from an hour up, (hours, minutes, seconds):
    3725 -> {62, 5, 1, 2} (62 minutes 5 seconds, or 1 hour 2 minutes 5 seconds)."""
    minutes, seconds = divmod(n, 60)
    parts = {minutes, seconds}
    if minutes >= 60:
        parts.update(divmod(minutes, 60))
    return parts


def unwritten_sixties(function, arguments: dict, said: frozenset[float]) -> frozenset[str]:
    """For a call that counts in sixties (`counts_in_sixties`): the base-60 digits, as literals, of each said
    whole number that no argument can hold and whose digits the call does not all write ("倒计时一百四十秒" ->
    set_timer(0, 2): 140 needs 2 and 20; "set a 100 second timer" -> (0, 0, 20): 1 and 40). Such a number is
    a duration said in one unit, and a call that writes only part of it, or other numbers, has lost it
    (session 17, validation split). Zero digits are not required (120 s -> 2 minutes)."""
    if not counts_in_sixties(function):
        return frozenset()
    numeric = [a for a in function.args if a.type in ("int", "float")]
    written = _numbers_written(arguments)
    out: set[str] = set()
    for n in said:
        if n < 60 or n != int(n) or n >= 24 * 3600:
            continue
        literal = format_number(n, "float")
        if any(not a.number_rule.value(literal)[1] for a in numeric):   # an argument holds it as it is
            continue
        n = int(n)
        digits = (n // 3600, n // 60 % 60, n % 60) if n >= 3600 else (n // 60, n % 60)
        needed = {float(d) for d in digits if d}
        if not needed <= written:
            out.update(format_number(d, "float") for d in needed)
    return frozenset(out)


_ONE_AND_A_HALF = re.compile(r"一个半|\bone and a half\b")


def unwritten_counts(function, arguments: dict, said: frozenset[float], text: str = "") -> frozenset[str]:
    """For a call that counts in sixties (`counts_in_sixties`) and does not write one of the said whole numbers
    from 2 to 59: all of them, as literals ("四十四分钟" -> set_timer(0, 4): 44; "fifty minutes and 15 seconds" ->
    (0, 5, 15): 50 and 15, as a second call must not lose the 15 to write the 50). Every number a timer
    command says is a count of its hours, minutes or seconds, written as said (from 60 up in base-60 digits:
    `unwritten_sixties`); 1 is an article as often as a count ("一个", "a"), so it counts only in "one and a
    half" (`text`: "一个半小时" -> 1 and 30), and 0 is the default (session 18, validation split)."""
    if not counts_in_sixties(function):
        return frozenset()
    written = _numbers_written(arguments)
    counts = {n for n in said if n == int(n) and 2 <= n < 60}
    if 1.0 in said and _ONE_AND_A_HALF.search(unicodedata.normalize("NFKC", text).lower()):
        counts.add(1.0)
    return frozenset(format_number(n, "float") for n in counts) if counts - written else frozenset()


def says_other_numbers(literals: Iterable[str], said: frozenset[float]) -> bool:
    """Is one of a call's number literals (CallGrammar.number_literals) a number other than 0 that is not a
    said number (or its negative)?"""
    for literal in literals:
        try:
            value = abs(float(literal))
        except ValueError:   # an unfinished "-" cannot be in a complete call
            continue
        if value and value not in said:
            return True
    return False


def unplaced_literals(function, arguments: dict, said: frozenset[float]) -> frozenset[str]:
    """The said numbers a call left out although an argument kept at its default could hold them ("5 hours and
    nineteen minutes" -> set_timer(5): 19 fits the minutes, which stayed 0), as literals. A number inside a string
    value is placed ("light 3"). Not 0, and not 1, which is an article as often as a number ("一个计时器", "one of
    these")."""
    placed = _numbers_written(arguments)
    for value in arguments.values():
        if isinstance(value, str):   # "turn on light 3": the 3 is in the device's name
            placed |= numbers_said(value)
    free = [a for a in function.args if a.type in ("int", "float") and arguments.get(a.name) == a.default]
    left_out = {format_number(n, "float") for n in said if n not in (0.0, 1.0) and n not in placed}
    # a literal fits an argument its number rule accepts (type and range): the one the decoder would check
    return frozenset(literal for literal in left_out if any(not a.number_rule.value(literal)[1] for a in free))
