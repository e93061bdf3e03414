"""Text normalisation for comparing transcripts, and word error rate. Pure Python.

``normalize("Go forward 10 meters.") == "go forward ten meters"``: lower case, numbers written out
(cardinals up to 9999; longer digit strings and ones with a leading zero digit by digit, as spoken
digit sequences are), a few abbreviations expanded (Mr. -> mister), "oh" as a digit -> "zero",
punctuation dropped, hyphens as spaces. Applied to the reference AND the hypothesis before WER.
"""
from __future__ import annotations

import re
import unicodedata

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ABBREV = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "m": "meters", "km": "kilometers",
           "cm": "centimeters", "ok": "okay"}
# words whisper may spell differently from the references
_EQUIV = {"oh": "zero", "metres": "meters", "metre": "meter", "centimetres": "centimeters"}


def number_words(n: int) -> str:
    """Cardinal 0..9999 in English words, no "and", no hyphens ("one hundred twenty three")."""
    if n < 0 or n > 9999:
        raise ValueError(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (" " + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + number_words(rest) if rest else "")
    thousands, rest = divmod(n, 1000)
    return _ONES[thousands] + " thousand" + (" " + number_words(rest) if rest else "")


def _spell_number(token: str) -> str:
    digits = token.replace(",", "")
    if len(digits) > 4 or (len(digits) > 1 and digits[0] == "0"):
        return " ".join(_ONES[int(d)] for d in digits)
    return number_words(int(digits))


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)  # 1,000 -> 1000
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)  # 10m -> 10 m
    text = re.sub(r"[-‐–—/]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text)  # punctuation (keeps letters of every script, digits, apostrophes)
    words = []
    for token in text.split():
        token = token.strip("'")
        if not token:
            continue
        if token.isdigit():
            words.extend(_spell_number(token).split())
            continue
        token = _ABBREV.get(token, token)
        words.append(_EQUIV.get(token, token))
    return " ".join(words)


def edit_distance(ref: list, hyp: list) -> int:
    """Levenshtein distance between two token sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, reference words) after normalising both."""
    ref, hyp = normalize(reference).split(), normalize(hypothesis).split()
    return edit_distance(ref, hyp), len(ref)


def wer(reference: str, hypothesis: str) -> float:
    errors, n = word_errors(reference, hypothesis)
    return errors / max(1, n)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the normalised ``phrase`` occurs in the normalised ``text`` as whole words."""
    return f" {normalize(phrase)} " in f" {normalize(text)} "
