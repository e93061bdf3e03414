"""Matching argument values ("the red mug", "客厅里", "lights") against the aliases of the vocabulary
(config/sim/vocabulary.yaml). Pure functions, no pybullet, no ROS.

English aliases match as whole words, Chinese (CJK) aliases as substrings; the longest matching alias
wins, so "kitchen counter" names the counter, not the kitchen.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

__all__ = ["normalize", "is_cjk", "alias_match", "best_match", "strip_stopwords", "split_room_words"]

_PUNCT = re.compile(r"[\s\.,;:!?'\"`()\[\]{}，。！？、；：“”‘’（）]+")


def normalize(text: str) -> str:
    """Lower case, NFKC, possessive 's dropped, punctuation -> single spaces, underscores -> spaces."""
    text = unicodedata.normalize("NFKC", str(text)).lower().replace("_", " ")
    text = re.sub(r"(\w)'s\b", r"\1", text)
    return _PUNCT.sub(" ", text).strip()


def is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def strip_stopwords(text: str, stopwords: Iterable[str]) -> str:
    """`text` (normalized) without stop words: English ones as whole words, CJK ones as substrings."""
    words = set()
    out = normalize(text)
    for word in stopwords:
        w = normalize(word)
        if is_cjk(w):
            out = out.replace(w, " ")
        else:
            words.add(w)
    return " ".join(t for t in out.split() if t not in words)


def alias_match(text: str, alias: str) -> bool:
    """True when `alias` occurs in `text` (both normalized): as whole words, or as a substring for CJK."""
    a = normalize(alias)
    t = normalize(text)
    if not a:
        return False
    if is_cjk(a):
        return a in t.replace(" ", "")
    return re.search(rf"(?<![\w]){re.escape(a)}(?![\w])", t) is not None or (
        # plural / singular: "mugs" names mugs, "keys" matches "key"
        re.search(rf"(?<![\w]){re.escape(a)}s(?![\w])", t) is not None)


def best_match(text: str, table: dict[str, list[str]]) -> tuple[str, str] | None:
    """(key, alias) of the longest alias in `table` (key -> aliases) found in `text`; None if none."""
    best: tuple[int, str, str] | None = None
    for key, aliases in table.items():
        for alias in [*aliases, key.replace("_", " ")]:
            if alias_match(text, alias):
                length = len(normalize(alias))
                if best is None or length > best[0]:
                    best = (length, key, alias)
    return (best[1], best[2]) if best else None


def split_room_words(text: str, rooms: dict[str, list[str]]) -> tuple[str, str]:
    """("living_room", "light") for "living room light": the room a phrase names (longest alias) and the
    rest of the phrase. ("", text) when no room is named."""
    found = best_match(text, rooms)
    if not found:
        return "", normalize(text)
    room, alias = found
    a = normalize(alias)
    t = normalize(text)
    if is_cjk(a):
        rest = t.replace(" ", "").replace(a, " ", 1)
    else:
        rest = re.sub(rf"(?<![\w]){re.escape(a)}(?![\w])", " ", t, count=1)
    return room, " ".join(rest.split())
