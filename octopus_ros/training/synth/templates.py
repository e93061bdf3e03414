"""Template expansion for the synthetic command generator.

Everything about *what* is said lives in YAML (config/train/templates/*.yaml); this module only knows
the mechanics: the template syntax, slot sources (vocabularies, numbers, catalog objects, gibberish),
number rendering (digits, English words, Chinese numerals), argument expressions, politeness wrappers,
surface noise and typos.

Template syntax:
  {slot}              the slot's surface text (copied into string arguments)
  {slot|a}            English: the slot with its indefinite article ("an apple", "some cherries")
  {slot|unit=meter}   English: number + unit, pluralised unless the value is 1 ("1 meter", "3 meters")
  {slot|pl}           English: the plural of an object name ("apples"; the argument stays "apple")
  {slot|pct}          a percentage: "30%", "30 percent", "thirty percent", "30%", "百分之三十"
  [a|b|c]             one alternative at random; [a|] makes "a" optional; alternatives may hold slots
  anything else       literal text

Argument expressions (a template's or function's `args:`): a literal, or a string starting with "="
evaluated over the slots: `slot` is the slot's argument value, `slot.attr` one of its attributes
(vocabulary `attrs:` or catalog object attributes), with + - * / and round/int/float/abs.
"""
from __future__ import annotations

import ast
import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any

LANGS = ("en", "zh")
CJK_RE = re.compile(r"[\u3400-\u9fff]")


class TemplateError(ValueError):
    """A template or vocabulary file is malformed."""


def stable_hash(*parts: Any) -> int:
    """A process-independent 64-bit hash (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def stable_unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) for the given key."""
    return stable_hash(*parts) / 2 ** 64


def rng_for(*parts: Any) -> random.Random:
    return random.Random(stable_hash(*parts))


# ----------------------------------------------------------------------------------------------- numbers
_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ZH_DIGITS = "零一二三四五六七八九"


def number_to_en(n: int) -> str:
    """English words for 0 <= n < 1,000,000: 25 -> 'twenty-five', 105 -> 'one hundred five'."""
    if n < 0:
        return "minus " + number_to_en(-n)
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + ("-" + _EN_ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _EN_ONES[hundreds] + " hundred" + (" " + number_to_en(rest) if rest else "")
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        return number_to_en(thousands) + " thousand" + (" " + number_to_en(rest) if rest else "")
    raise ValueError(f"number too large for words: {n}")


def number_to_zh(n: int, liang: bool = False) -> str:
    """Chinese numerals for 0 <= n < 100,000: 25 -> 二十五, 105 -> 一百零五, 2 -> 两 (liang=True)."""
    if n < 0:
        return "负" + number_to_zh(-n)
    if n == 0:
        return "零"
    if n >= 100_000:
        raise ValueError(f"number too large for Chinese numerals: {n}")
    if n < 10:
        return "两" if (liang and n == 2) else _ZH_DIGITS[n]
    if n < 20:
        return "十" + (_ZH_DIGITS[n - 10] if n > 10 else "")
    units = [(10000, "万"), (1000, "千"), (100, "百"), (10, "十")]
    out, zero_pending, started = [], False, False
    rest = n
    for value, name in units:
        digit, rest = divmod(rest, value)
        if digit:
            if zero_pending and started:
                out.append("零")
            word = "两" if (digit == 2 and value >= 100 and liang) else _ZH_DIGITS[digit]
            out.append(word + name)
            started, zero_pending = True, False
        elif started:
            zero_pending = True
    if rest:
        if zero_pending or (started and out and not out[-1].endswith("十")):
            out.append("零")
        out.append(_ZH_DIGITS[rest])
    return "".join(out)


def float_parts(value: float) -> tuple[int, str]:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    whole, _, frac = text.partition(".")
    return int(whole), frac


def render_number(value: float, lang: str, form: str, liang: bool = False) -> str:
    """form: 'digits' or 'words' (English words / Chinese numerals)."""
    whole, frac = float_parts(value)
    if form == "digits":
        return str(whole) + ("." + frac if frac else "")
    if lang == "en":
        text = number_to_en(whole)
        return text + (" point " + " ".join(_EN_ONES[int(d)] for d in frac) if frac else "")
    text = number_to_zh(whole, liang=liang and not frac)
    return text + ("点" + "".join(_ZH_DIGITS[int(d)] for d in frac) if frac else "")


# ----------------------------------------------------------------------------------------------- slots
@dataclass
class SlotValue:
    text: str                       # surface text in the command's language
    value: Any                      # the argument value it stands for
    attrs: dict = field(default_factory=dict)
    args: dict = field(default_factory=dict)   # arguments the value sets directly (e.g. "half an hour")
    obj: Any = None                 # catalog object (object slots)
    heldout: bool = False           # a held-out value (only ever in the test split)
    tags: tuple = ()
    article: str | None = None
    free_text: bool = False         # open text (a message): no politeness suffix after it


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def localize(value, lang: str):
    """{en: .., zh: ..} -> the language's value; anything else unchanged."""
    if isinstance(value, dict) and set(value) <= set(LANGS) | {"value"} and lang in value:
        return value[lang]
    return value


@dataclass
class VocabEntry:
    key: str
    surfaces: dict                  # lang -> [surface strings]
    value: Any = None               # canonical value (enum/number); None = copy the surface text
    args: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)
    heldout: bool = False
    core: bool = False              # never held out
    extra: bool = False             # train split only (`extra:` values): more variety to copy from


class VocabSource:
    kind = "vocab"

    def __init__(self, name: str, spec: dict, seed: int, heldout_fraction: float):
        self.name = name
        if isinstance(spec, dict):
            unknown = set(spec) - {"values", "extra", "holdout", "holdout_fraction", "free_text"}
            if unknown:
                raise TemplateError(f"vocabulary {name!r}: unknown keys {sorted(unknown)}")
        values = spec.get("values") if isinstance(spec, dict) else spec
        if not isinstance(values, list) or not values:
            raise TemplateError(f"vocabulary {name!r}: needs a non-empty list of values")
        extra = (spec.get("extra") or []) if isinstance(spec, dict) else []
        if not isinstance(extra, list):
            raise TemplateError(f"vocabulary {name!r}: 'extra' must be a list of values")
        self.entries: list[VocabEntry] = []
        for i, raw in enumerate(values + extra):
            is_extra = i >= len(values)
            if isinstance(raw, str):
                raw = {"en": raw}
            if not isinstance(raw, dict):
                raise TemplateError(f"vocabulary {name!r} entry {i}: expected a mapping, got {raw!r}")
            unknown = set(raw) - {"en", "zh", "value", "args", "attrs", "id", "core"}
            if unknown:
                raise TemplateError(f"vocabulary {name!r} entry {i}: unknown keys {sorted(unknown)}")
            if is_extra and raw.get("value") is not None:
                raise TemplateError(f"vocabulary {name!r} entry {i}: 'extra' values are copied text; "
                                    "they cannot set 'value'")
            surfaces = {lang: [str(s) for s in _as_list(raw.get(lang))] for lang in LANGS}
            if not any(surfaces.values()):
                raise TemplateError(f"vocabulary {name!r} entry {i}: no 'en' or 'zh' text")
            key = str(raw.get("id") or (surfaces["en"] or surfaces["zh"])[0])
            self.entries.append(VocabEntry(key=key, surfaces=surfaces, value=raw.get("value"),
                                           args=dict(raw.get("args") or {}), attrs=dict(raw.get("attrs") or {}),
                                           core=bool(raw.get("core", False)), extra=is_extra))
        self.free_text = bool(spec.get("free_text", False)) if isinstance(spec, dict) else False
        holdout = bool(spec.get("holdout", False)) if isinstance(spec, dict) else False
        if holdout:
            fraction = float(spec.get("holdout_fraction", heldout_fraction))
            for lang in LANGS:
                have = [e for e in self.entries if e.surfaces[lang] and not (e.core or e.extra)]
                ranked = sorted(have, key=lambda e: stable_hash(seed, "value", name, e.key))
                n_out = int(round(fraction * len(ranked))) if len(ranked) >= 5 else 0
                for entry in ranked[:n_out]:
                    entry.heldout = True

    def heldout_keys(self) -> list[str]:
        return sorted({e.key for e in self.entries if e.heldout})

    def sample(self, lang: str, rng: random.Random, pool: str, need_image: bool = False) -> SlotValue:
        have = [e for e in self.entries if e.surfaces[lang]]
        if not have:
            raise TemplateError(f"vocabulary {self.name!r} has no {lang} values")
        candidates = _pool_filter(have, pool, lambda e: e.heldout)
        if pool != "fit":
            candidates = [e for e in candidates if not e.extra]
        entry = rng.choice(candidates)
        text = rng.choice(entry.surfaces[lang])
        value = text if entry.value is None else entry.value
        return SlotValue(text=text, value=value, attrs={k: localize(v, lang) for k, v in entry.attrs.items()},
                         args=dict(entry.args), heldout=entry.heldout, free_text=self.free_text)


def _pool_filter(items: list, pool: str, is_heldout) -> list:
    """pool: 'fit' (the train split: never held-out, plus train-only extras), 'train' (never held-out),
    'heldout' (held-out only, falling back to all), 'any'."""
    if pool in ("fit", "train"):
        chosen = [x for x in items if not is_heldout(x)]
        if not chosen:
            raise TemplateError("every value of a slot is held out; lower the held-out fraction")
        return chosen
    if pool == "heldout":
        chosen = [x for x in items if is_heldout(x)]
        return chosen or items
    return items


class NumberSource:
    """A number slot. spec: min, max, step (1), type (int|float), halves (prob. of +0.5 for floats),
    round_bias (prob. of a multiple of 5), words (prob. of English words), hanzi (prob. of Chinese
    numerals), liang (write 2 as 两 in Chinese numerals)."""
    kind = "number"

    def __init__(self, name: str, spec: dict):
        self.name = name
        try:
            self.lo, self.hi = float(spec["min"]), float(spec["max"])
        except KeyError as exc:
            raise TemplateError(f"number slot {name!r}: needs min and max") from exc
        self.step = float(spec.get("step", 1))
        self.type = spec.get("type", "int")
        self.halves = float(spec.get("halves", 0.0))
        self.round_bias = float(spec.get("round_bias", 0.4))
        self.words = float(spec.get("words", 0.3))
        self.hanzi = float(spec.get("hanzi", 0.6))
        self.liang = bool(spec.get("liang", True))
        self.values = []
        v = self.lo
        while v <= self.hi + 1e-9:
            self.values.append(round(v, 6))
            v += self.step
        if not self.values:
            raise TemplateError(f"number slot {name!r}: empty range")

    def sample(self, lang: str, rng: random.Random, pool: str, need_image: bool = False) -> SlotValue:
        round_values = [v for v in self.values if v % 5 == 0 and v != 0]
        value = rng.choice(round_values) if round_values and rng.random() < self.round_bias else rng.choice(self.values)
        if self.type == "float" and self.halves and rng.random() < self.halves and value + 0.5 <= self.hi:
            value += 0.5
        words_p = self.words if lang == "en" else self.hanzi
        form = "words" if rng.random() < words_p else "digits"
        text = render_number(value, lang, form, liang=self.liang)
        typed = int(value) if self.type == "int" else float(value)
        return SlotValue(text=text, value=typed, tags=("number",) + (("numeral",) if form == "words" else ()))


class GibberishSource:
    """Random letter strings (en) or random common characters (zh): for the no-action set."""
    kind = "gibberish"
    _ZH_CHARS = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感"

    def __init__(self, name: str, spec: dict):
        self.name = name
        self.min_len = int(spec.get("min_words", 1))
        self.max_len = int(spec.get("max_words", 4))

    def sample(self, lang: str, rng: random.Random, pool: str, need_image: bool = False) -> SlotValue:
        if lang == "zh":
            text = "".join(rng.choice(self._ZH_CHARS) for _ in range(rng.randint(2 * self.min_len, 3 * self.max_len)))
        else:
            consonants, vowels = "bcdfghjklmnprstvwxz", "aeiou"
            words = []
            for _ in range(rng.randint(self.min_len, self.max_len)):
                n = rng.randint(2, 4)
                words.append("".join(rng.choice(consonants) + (rng.choice(vowels) if rng.random() < 0.7 else "")
                                     for _ in range(n)))
            text = " ".join(words)
        return SlotValue(text=text, value=text, free_text=True)


# ----------------------------------------------------------------------------------------------- template AST
@dataclass
class Placeholder:
    name: str
    mod: str = ""


@dataclass
class Group:
    alternatives: list  # list of node lists


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth_b, depth_s, start = [], 0, 0, 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth_b += 1
        elif ch == "}":
            depth_b -= 1
        elif ch == "[":
            depth_s += 1
        elif ch == "]":
            depth_s -= 1
        elif ch == sep and depth_b == 0 and depth_s == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_template(text: str) -> list:
    """Parse template text into nodes: str | Placeholder | Group."""
    nodes, i, buf = [], 0, []
    while i < len(text):
        ch = text[i]
        if ch == "{":
            j = text.find("}", i)
            if j < 0:
                raise TemplateError(f"unclosed '{{' in template {text!r}")
            if buf:
                nodes.append("".join(buf))
                buf = []
            inner = text[i + 1:j]
            name, _, mod = inner.partition("|")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
                raise TemplateError(f"bad slot name {name!r} in template {text!r}")
            nodes.append(Placeholder(name.strip(), mod.strip()))
            i = j + 1
        elif ch == "[":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(text):
                raise TemplateError(f"unclosed '[' in template {text!r}")
            if buf:
                nodes.append("".join(buf))
                buf = []
            nodes.append(Group([parse_template(alt) for alt in _split_top(text[i + 1:j], "|")]))
            i = j + 1
        elif ch in "}]":
            raise TemplateError(f"unbalanced {ch!r} in template {text!r}")
        else:
            buf.append(ch)
            i += 1
    if buf:
        nodes.append("".join(buf))
    return nodes


def placeholders(nodes: list) -> set[str]:
    names = set()
    for node in nodes:
        if isinstance(node, Placeholder):
            names.add(node.name)
        elif isinstance(node, Group):
            for alt in node.alternatives:
                names |= placeholders(alt)
    return names


def count_variants(nodes: list) -> int:
    total = 1
    for node in nodes:
        if isinstance(node, Group):
            total *= sum(count_variants(alt) for alt in node.alternatives)
    return total


# ----------------------------------------------------------------------------------------------- rendering
@dataclass
class Segment:
    text: str
    slot: str | None = None   # slot name when the text is a slot's value (protected from typos)


def article_for(word: str, explicit: str | None) -> str:
    """English indefinite article: explicit (objects' `article:`), else by sound ("an 80", "an eleven")."""
    if explicit is not None:
        return explicit
    m = re.match(r"\d+", word)
    if m:
        word = number_to_en(int(m.group()))
    return "an" if word[:1].lower() in "aeiou" else "a"


def render_nodes(nodes: list, resolve, rng: random.Random, lang: str) -> list[Segment]:
    out: list[Segment] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(Segment(node))
        elif isinstance(node, Group):
            alt = node.alternatives[rng.randrange(len(node.alternatives))]
            out.extend(render_nodes(alt, resolve, rng, lang))
        else:
            value: SlotValue = resolve(node.name)
            mod = node.mod
            if mod == "a" and lang == "en":
                art = article_for(value.text, value.article)
                if art:
                    out.append(Segment(art + " "))
                out.append(Segment(value.text, node.name))
            elif mod == "pl" and lang == "en":
                out.append(Segment(pluralize(value.text, value.article), node.name))
            elif mod == "pct":
                words = "numeral" in value.tags
                if lang == "en":
                    out.append(Segment(value.text, node.name))
                    out.append(Segment(" percent" if words or rng.random() < 0.3 else "%"))
                elif words:
                    out.append(Segment("百分之"))
                    out.append(Segment(value.text, node.name))
                else:
                    out.append(Segment(value.text, node.name))
                    out.append(Segment("%"))
            elif mod.startswith("unit=") and lang == "en":
                unit = mod[5:]
                plural = not (isinstance(value.value, (int, float)) and float(value.value) == 1.0)
                out.append(Segment(value.text, node.name))
                out.append(Segment(" " + unit + ("s" if plural and not unit.endswith("s") else "")))
            else:
                out.append(Segment(value.text, node.name))
    return out


def join_segments(segments: list[Segment], lang: str) -> str:
    text = "".join(s.text for s in segments)
    return tidy(text, lang)


def tidy(text: str, lang: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    if lang == "zh":
        # no spaces between CJK characters or around Chinese punctuation
        text = re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u9fff\uff00-\uffef])", "", text)
        text = re.sub(r"\s*([，。！？、：；])\s*", r"\1", text)
        text = re.sub(r"[，、]+$", "", text)
        text = re.sub(r"^[，、]+", "", text)
    else:
        text = re.sub(r",\s*,", ",", text).strip(" ,")
    return text


# ----------------------------------------------------------------------------------------------- expressions
class MissingSlot(KeyError):
    pass


_FUNCS = {"round": round, "int": int, "float": float, "abs": abs, "min": min, "max": max}


def eval_expression(expr: str, slots: dict[str, SlotValue]):
    """Evaluate an argument expression (without its leading '=') over the given slot values."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise TemplateError(f"bad argument expression {expr!r}: {exc}") from exc

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in slots:
                raise MissingSlot(node.id)
            return slots[node.id].value
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id not in slots:
                raise MissingSlot(node.value.id)
            attrs = slots[node.value.id].attrs
            if node.attr not in attrs:
                raise TemplateError(f"expression {expr!r}: slot {node.value.id!r} has no attribute {node.attr!r}")
            return attrs[node.attr]
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                   ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}
            if type(node.op) not in ops:
                raise TemplateError(f"expression {expr!r}: operator not allowed")
            return ops[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
                and not node.keywords:
            return _FUNCS[node.func.id](*[ev(a) for a in node.args])
        raise TemplateError(f"expression {expr!r}: unsupported syntax {ast.dump(node)[:60]}")

    return ev(tree)


def expression_names(expr: str) -> set[str]:
    tree = ast.parse(expr.strip(), mode="eval")
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in _FUNCS:
            names.add(node.id)
    return names


def arg_value(spec, slots: dict[str, SlotValue], lang: str):
    """A template/function `args:` entry: literal, {en:, zh:} literal, or '=expression'."""
    spec = localize(spec, lang)
    if isinstance(spec, str) and spec.startswith("="):
        return eval_expression(spec[1:], slots)
    return spec


# ----------------------------------------------------------------------------------------------- noise
_KEY_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb",
    "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol",
    "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc",
    "y": "tghu", "z": "asx"}


def typo(word: str, rng: random.Random) -> str:
    """One keyboard-style typo: swap, drop, double or neighbour-key replace (word length >= 3)."""
    if len(word) < 3:
        return word
    kind = rng.choice(["swap", "drop", "double", "replace"])
    i = rng.randrange(1, len(word) - 1) if len(word) > 3 else 1
    if kind == "swap" and word[i] != word[i + 1 if i + 1 < len(word) else i - 1]:
        j = i + 1 if i + 1 < len(word) else i - 1
        chars = list(word)
        chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    ch = word[i].lower()
    if ch in _KEY_NEIGHBOURS:
        return word[:i] + rng.choice(_KEY_NEIGHBOURS[ch]) + word[i + 1:]
    return word[:i] + word[i + 1:]


def apply_typo(segments: list[Segment], rng: random.Random) -> bool:
    """Put one typo into a literal (non-slot) word of >= 4 letters. Returns True if it did."""
    choices = []
    for si, seg in enumerate(segments):
        if seg.slot is not None:
            continue
        for m in re.finditer(r"[A-Za-z]{4,}", seg.text):
            choices.append((si, m.start(), m.end()))
    if not choices:
        return False
    si, a, b = rng.choice(choices)
    seg = segments[si]
    new = typo(seg.text[a:b], rng)
    if new == seg.text[a:b]:
        return False
    segments[si] = Segment(seg.text[:a] + new + seg.text[b:], None)
    return True


# ----------------------------------------------------------------------------------------------- plurals
_IRREGULAR = {"die": "dice", "mouse": "mice", "sheep": "sheep", "fish": "fish", "deer": "deer",
              "goose": "geese", "knife": "knives", "leaf": "leaves", "child": "children", "person": "people",
              "shrimp": "shrimp", "salmon": "salmon", "potato": "potatoes", "tomato": "tomatoes",
              "mango": "mangoes", "cactus": "cacti", "peach": "peaches"}


def pluralize(name: str, article: str | None = None) -> str:
    """English plural of a (possibly multi-word) noun; names already plural or mass nouns stay as they are."""
    if article in ("some", "a pair of") or not name:
        return name
    head, _, last = name.rpartition(" ")
    low = last.lower()
    if low in _IRREGULAR:
        plural = _IRREGULAR[low]
    elif low.endswith("s") and not low.endswith("ss"):
        plural = last
    elif re.search(r"[^aeiou]y$", low):
        plural = last[:-1] + "ies"
    elif re.search(r"(s|x|z|ch|sh)$", low):
        plural = last + "es"
    else:
        plural = last + "s"
    return (head + " " if head else "") + plural


# ----------------------------------------------------------------------------------------------- template set
@dataclass
class Template:
    id: str
    function: str
    lang: str
    text: str
    nodes: list
    image_slot: str | None = None
    args: dict = field(default_factory=dict)
    tags: tuple = ()
    wrap: bool | str = True         # True, False, "vocative" or "question" (both: vocatives only)
    noise: bool = True
    heldout: bool = False           # a phrasing only in the test split
    val_only: bool = False          # a phrasing only in the validation split (holdout.val_template_fraction)
    train_only: bool = False        # written after the test split was fixed: only the train split uses it

    @property
    def is_image(self) -> bool:
        return self.image_slot is not None

    @property
    def group(self) -> tuple:
        neg = next((t for t in self.tags if t.startswith("neg:")), "")
        return (self.function, self.lang, self.is_image, neg)


@dataclass
class FunctionTemplates:
    name: str
    slots: dict                     # slot name -> source
    args: dict                      # argument -> literal / "=expr"
    templates: list                 # [Template]


class TemplateSet:
    """All template files of a folder, compiled: vocabularies, slot sources, politeness wrappers and the
    templates of every function, with the held-out phrasings marked."""

    def __init__(self, functions: dict, politeness: dict, vocab: dict, files: list[str]):
        self.functions: dict[str, FunctionTemplates] = functions
        self.politeness = politeness
        self.vocab = vocab
        self.files = files

    def templates(self, function: str, lang: str, image: bool | None = None, heldout: bool | None = None) -> list:
        fdef = self.functions.get(function)
        if fdef is None:
            return []
        out = [t for t in fdef.templates if t.lang == lang]
        if image is not None:
            out = [t for t in out if t.is_image == image]
        if heldout is not None:
            out = [t for t in out if t.heldout == heldout]
        return out

    def assign_holdout(self, seed: int, fraction: float, min_group: int = 4, val_fraction: float = 0.0) -> None:
        """Per group (function x language x text/image x kind of negative, with at least `min_group` templates): a
        `fraction` of the phrasings only for the test split and, after them, a `val_fraction` only for the
        validation split, so that val measures new phrasings too; at least 2 stay for training."""
        groups: dict = {}
        for fdef in self.functions.values():
            for t in fdef.templates:
                if not t.train_only:     # outside the draw, so adding one leaves val and test as they were
                    groups.setdefault(t.group, []).append(t)
        for key, members in groups.items():
            members.sort(key=lambda t: stable_hash(seed, "template", t.id))
            big = len(members) >= min_group
            n_out = max(1, int(round(fraction * len(members)))) if big and fraction > 0 else 0
            n_val = max(1, int(round(val_fraction * len(members)))) if big and val_fraction > 0 else 0
            n_val = max(0, min(n_val, len(members) - n_out - 2))
            for i, t in enumerate(members):
                t.heldout = i < n_out
                t.val_only = n_out <= i < n_out + n_val

    def heldout_templates(self) -> list:
        return [t for f in self.functions.values() for t in f.templates if t.heldout]

    def val_templates(self) -> list:
        return [t for f in self.functions.values() for t in f.templates if t.val_only]

    def train_only_templates(self) -> list:
        return [t for f in self.functions.values() for t in f.templates if t.train_only]


def _template_items(raw, where: str) -> list[dict]:
    items = []
    for entry in raw or []:
        if isinstance(entry, str):
            items.append({"text": entry})
        elif isinstance(entry, dict) and "texts" in entry:
            shared = {k: v for k, v in entry.items() if k != "texts"}
            for text in entry["texts"] or []:
                if not isinstance(text, str):
                    raise TemplateError(f"{where}: template texts must be strings, got {text!r}")
                items.append(dict(shared, text=text))
        elif isinstance(entry, dict) and "text" in entry:
            items.append(dict(entry))
        else:
            raise TemplateError(f"{where}: a template is a string, {{text: ...}} or {{texts: [...]}}; got {entry!r}")
    return items


def _check_extras(vocab: dict, catalog) -> None:
    """A train-only extra value must not equal any vocabulary value or catalog object name: one of those may
    be held out for the test split, and the extra would leak it into training."""
    taken = {lang: set() for lang in LANGS}
    for source in vocab.values():
        for entry in source.entries:
            if not entry.extra:
                for lang in LANGS:
                    taken[lang].update(s.casefold().strip() for s in entry.surfaces[lang])
    for obj in (catalog.objects if catalog is not None else []):
        for lang in LANGS:
            taken[lang].add(obj.name(lang).casefold().strip())
    clashes = sorted(f"{name}: {lang} {s!r}" for name, source in vocab.items() for entry in source.entries
                     if entry.extra for lang in LANGS for s in entry.surfaces[lang]
                     if s.casefold().strip() in taken[lang])
    if clashes:
        raise TemplateError("extra vocabulary values repeat a value or object name (it may be held out): "
                            + "; ".join(clashes[:10]) + (f" (+{len(clashes) - 10} more)" if len(clashes) > 10 else ""))


def load_template_set(folder, catalog, seed: int, heldout_value_fraction: float) -> TemplateSet:
    """Read every *.yaml file of `folder` (sorted by name) and compile it."""
    from pathlib import Path

    import yaml

    from .catalog import CatalogSource

    folder = Path(folder)
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise TemplateError(f"no template files (*.yaml) in {folder}")
    vocab_raw, slots_raw, functions_raw = {}, {}, {}
    politeness = {lang: {"vocatives": [], "prefixes": [], "suffixes": [], "both": [], "statement_starts": [],
                         "verb_starts": ""} for lang in LANGS}
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TemplateError(f"cannot read {path}: {exc}") from exc
        unknown = set(raw) - {"vocab", "slots", "functions", "politeness"}
        if unknown:
            raise TemplateError(f"{path.name}: unknown top-level keys {sorted(unknown)}")
        for section, target in (("vocab", vocab_raw), ("slots", slots_raw), ("functions", functions_raw)):
            for key, value in (raw.get(section) or {}).items():
                if key in target:
                    raise TemplateError(f"{path.name}: {section} {key!r} is defined twice")
                target[key] = (value, path.name)
        for lang, spec in (raw.get("politeness") or {}).items():
            if lang not in LANGS:
                raise TemplateError(f"{path.name}: politeness for unknown language {lang!r}")
            unknown = set(spec or {}) - set(politeness[lang])
            if unknown:
                raise TemplateError(f"{path.name}: unknown politeness keys {sorted(unknown)}")
            for kind in ("vocatives", "prefixes", "suffixes", "both", "statement_starts"):
                politeness[lang][kind] += [str(x) for x in (spec or {}).get(kind) or []]
            politeness[lang]["verb_starts"] += str((spec or {}).get("verb_starts") or "")

    vocab = {name: VocabSource(name, spec, seed, heldout_value_fraction) for name, (spec, _) in vocab_raw.items()}
    _check_extras(vocab, catalog)

    def make_source(slot: str, spec, where: str):
        if not isinstance(spec, dict) or len(spec) < 1:
            raise TemplateError(f"{where}: slot {slot!r} needs a source ({{vocab: ..}}, {{number: ..}}, {{catalog: ..}})")
        if "vocab" in spec:
            names = _as_list(spec["vocab"])
            missing = [n for n in names if n not in vocab]
            if missing:
                raise TemplateError(f"{where}: slot {slot!r} uses unknown vocabularies {missing}")
            if len(names) == 1:
                return vocab[names[0]]
            merged = VocabSource.__new__(VocabSource)
            merged.name = "+".join(names)
            merged.entries = [e for n in names for e in vocab[n].entries]
            merged.free_text = any(vocab[n].free_text for n in names)
            return merged
        if "number" in spec:
            return NumberSource(slot, spec["number"] or {})
        if "catalog" in spec:
            if catalog is None:
                raise TemplateError(f"{where}: slot {slot!r} needs the object catalog")
            return CatalogSource(slot, spec["catalog"], catalog, balance=spec.get("balance"))
        if "gibberish" in spec:
            return GibberishSource(slot, spec["gibberish"] or {})
        raise TemplateError(f"{where}: slot {slot!r}: unknown source {sorted(spec)}")

    common = {name: make_source(name, spec, fname) for name, (spec, fname) in slots_raw.items()}
    functions = {}
    for fname_, (fspec, filename) in functions_raw.items():
        where = f"{filename}: {fname_}"
        fspec = fspec or {}
        unknown = set(fspec) - {"slots", "args", "templates"}
        if unknown:
            raise TemplateError(f"{where}: unknown keys {sorted(unknown)}")
        slots = dict(common)
        for slot, spec in (fspec.get("slots") or {}).items():
            slots[slot] = make_source(slot, spec, where)
        fargs = dict(fspec.get("args") or {})
        templates, seen = [], set()
        for lang, items in (fspec.get("templates") or {}).items():
            if lang not in LANGS:
                raise TemplateError(f"{where}: unknown language {lang!r}")
            for item in _template_items(items, f"{where} [{lang}]"):
                unknown = set(item) - {"text", "args", "image", "tags", "wrap", "noise", "id", "train_only"}
                if unknown:
                    raise TemplateError(f"{where} [{lang}]: unknown template keys {sorted(unknown)} in {item!r}")
                text = str(item["text"])
                nodes = parse_template(text)
                names = placeholders(nodes)
                image_slot = item.get("image")
                undefined = sorted(n for n in names | ({image_slot} if image_slot else set()) if n not in slots)
                if undefined:
                    raise TemplateError(f"{where} [{lang}]: template {text!r} uses undefined slots {undefined}")
                if image_slot and not isinstance(slots[image_slot], CatalogSource):
                    raise TemplateError(f"{where} [{lang}]: image slot {image_slot!r} must be a catalog slot")
                if image_slot and image_slot in names:
                    raise TemplateError(f"{where} [{lang}]: {text!r} names its image slot {image_slot!r} in the text")
                args = dict(item.get("args") or {})
                key = (lang, text, image_slot, repr(sorted(args.items())))
                if key in seen:
                    raise TemplateError(f"{where} [{lang}]: duplicate template {text!r}")
                seen.add(key)
                tid = item.get("id") or f"{fname_}.{lang}.{stable_hash(*key) % 16 ** 10:010x}"
                wrap = item.get("wrap", True)
                if wrap not in (True, False, "vocative"):
                    raise TemplateError(f"{where} [{lang}]: wrap must be true, false or vocative, got {wrap!r}")
                if text.rstrip().endswith(("?", "？")) and wrap is not False:
                    wrap = "question"        # only vocatives ("hey robot, ...?")
                templates.append(Template(id=str(tid), function=fname_, lang=lang, text=text, nodes=nodes,
                                          image_slot=image_slot, args=args, tags=tuple(item.get("tags") or ()),
                                          wrap=wrap, noise=bool(item.get("noise", True)),
                                          train_only=bool(item.get("train_only", False))))
        functions[fname_] = FunctionTemplates(fname_, slots, fargs, templates)
    return TemplateSet(functions, politeness, vocab, [p.name for p in files])
