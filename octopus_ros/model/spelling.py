"""Typing slips in English commands, read as the words training commands use: "Paly." -> "Play.",
"get me a pair of high heels from Anazon" -> "... from Amazon".

The model answered `no_action` to many commands with a slip in a short word: it has seen "Play." but not
"Paly." (session 21's test misses: 11 of the 36 real commands answered `no_action`), and training on more
typos traded them for plain commands (sessions 23-24). So the agent reads an English command with its slips
respelled (OctopusAgent.infer), and free-text values keep the words as typed ("text Chloe ..." texts Chloe
whatever the reading). Chinese has no slips of this kind: an input method types whole characters.

A slip is a word that no training command says, that the LM's tokenizer does not hold as one piece (so not
"pay", "bill" or "frog", which training never says either), and that is one slip (a letter replaced,
dropped or added, or two neighbours swapped) from a word of at least TYPO_MIN letters that training
commands say at least MIN_SAID times outside their free-text values; the most said one wins. Session 25,
against the shipped model without it: validation split 14 commands made right, 2 made wrong, 0 without a typo
changed; test split 9 made right, 1 made wrong, 0 without a typo changed (docs/model/evaluation.md).

The words (`command_words`) are learned from the training split and stored with the checkpoint, like the
wording (model/wording.py), so a user's own action set gets its own; a checkpoint without them reads every
command as typed.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Iterable

from .wording import TYPO_MIN, _one_slip

# A slip is respelled into a word of at least TYPO_MIN letters (the words training's typos go into), so a typed
# slip has one less at least ("net" for "next"): shorter words are too often one slip from another real word
# ("sky" / "say", "on" / "in").
MIN_SAID = 3   # ... that training commands say outside values this often: not "Cloe", one negative's name
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def command_words(examples: Iterable[tuple[str, dict]]) -> dict[str, int]:
    """{word: how many times training commands say it outside their free-text values} over (command, free-text
    arguments) pairs, lower case; a word said only inside such values ("cloe" in "text Cloe ...") counts 0 but
    is listed. An enum's value is the command's own word ("play" in "Play."), so it is not left out."""
    said, outside = set(), Counter()
    for command, arguments in examples:
        said.update(_words(command))
        rest = command.lower()
        for value in arguments.values():
            if isinstance(value, str) and value.strip():   # as a substring: "apples" for 'apple' goes too
                rest = rest.replace(value.lower(), " ")
        outside.update(_words(rest))
    return {word: outside[word] for word in sorted(said)}


class CommandSpelling:
    """A checkpoint's command words (none: nothing is ever respelled) and the LM's test for a word it knows."""

    def __init__(self, words: dict[str, int] | None = None, is_word: Callable[[str], bool] = lambda word: False):
        self.words = dict(words or {})
        self.is_word = is_word
        self._targets: dict[int, list[str]] = {}   # the words a slip may be respelled into, by length
        for word, count in self.words.items():
            if count >= MIN_SAID and len(word) >= TYPO_MIN:
                self._targets.setdefault(len(word), []).append(word)

    def _meant(self, typed: str) -> str | None:
        """The word `typed` is a slip of (written in its case), or None when it is no slip."""
        lower = typed.lower()
        if len(lower) < TYPO_MIN - 1 or lower in self.words or self.is_word(lower):
            return None
        near = [w for n in (len(lower) - 1, len(lower), len(lower) + 1) for w in self._targets.get(n, ())
                if _one_slip(lower, w)]
        if not near:
            return None
        word = min(near, key=lambda w: (-self.words[w], w))
        if typed.isupper() and len(typed) > 1:
            return word.upper()
        return word[0].upper() + word[1:] if typed[0].isupper() else word

    def respelled(self, command: str) -> str | None:
        """`command` with its slips respelled, or None when it has none."""
        if not self._targets:
            return None
        out = _WORD.sub(lambda m: self._meant(m.group(0)) or m.group(0), command)
        return out if out != command else None


def typed_values(arguments: dict, free_text: set[str], command: str, respelled: str) -> dict:
    """`arguments` (of a call made of `respelled`, CommandSpelling.respelled(command)) with every respelled
    word inside a free-text value (the arguments named in `free_text`; an enum's values are the schema's)
    written back as the command typed it."""
    pairs = [(meant, typed) for typed, meant in zip(_WORD.findall(command), _WORD.findall(respelled))
             if typed != meant]

    def back(value: str) -> str:
        for meant, typed in pairs:
            value = re.sub(rf"(?<![A-Za-z']){re.escape(meant)}(?![A-Za-z'])", typed, value, flags=re.IGNORECASE)
        return value

    return {name: back(value) if name in free_text and isinstance(value, str) else value
            for name, value in arguments.items()}
