"""The command's own wording: phrases a function's training commands say around its values, never as one.

Eleven uses, mostly on a decoded call's values (`CommandWording`, used by model/agent.py):

1. A value that is one of these phrases means an incomplete command: "关掉" ("switch off") ->
   turn_off(device='关掉'), "pick up the" -> pick_up(object='pick up'), "send a message to" ->
   send_text_message(contact='message', ...) (session 13's test misses). No training value is such a phrase,
   so the agent answers no_action. Session 14, validation split (2,560 commands): 0 right calls changed, 7
   wrong ones (start_vacuum(area='vacuum'), turn_off(device='off'), ...) became no_action.
2. A value that runs into the command's wording: "Show me tropical ideas for the kitchen" -> style 'tropical
   ideas', "把灯亮度调到百分之五十" -> device '灯亮度', "tell everyone good morning" -> text 'everyone good
   morning'. A value loses a frame phrase it ends (then starts) with, unless the phrase is also a piece of
   some training value, of any argument (`value_phrases`: "room" is in "living room", "的" in "我的钥匙")
   (`trim_frame`). Session 14, validation split: 33 wrong calls made right, 0 right ones changed. Protecting
   only the phrases that begin or end a training value of the same argument made 47 right on validation, but
   cut 3.7 % of values never seen in training (5-fold over the training values) against 0.4 % with this rule,
   and on the test split's unseen values it cut "快递已经到了" to "递已经到了".

3. Two values that claim the same words: "把衣帽间的电饭煲关掉" -> device '电饭煲', area '衣帽间的电饭煲'; "Show me
   tropical ideas for the living room" -> style 'tropical ideas for the living room'. Arguments that training
   always copies from the command (the span rules) never share words there, so a value that ends (starts) with
   another one's value, said once, gives it up together with the frame phrase that joined them, even a
   protected one like "的" (`CommandWording.separated`). Session 15, validation predictions: 7 wrong calls
   made right, 0 right ones changed; applied to the 19,200 training calls it changes none.

4. A value the command says where the picture was asked for. With a camera frame, an argument read from the
   picture (`from_image`) must be the object lexicon's name for it unless the command names a lexicon object
   itself, so "search for electric car prices" with a frame became query 'notebook' (session 15's validation
   predictions: 9 such calls). A command that says none of the phrases by which training commands point at
   the picture (`pointing_phrases`: 'this', 'one of these', '这个', '面前', 'what i'm holding') is also decoded
   without the lexicon's names, and that call wins when the picture values it changes are whole words of the
   command, none of the function's frame phrases nor a typing slip of a pointing word ('ths'), share no words
   with its other values and do not hold the lexicon's name ('cherimoyas' said, 'cherimoya' named), and it
   leaves no argument empty that the first call filled (`CommandWording.says_picture_values`). Session 16,
   validation split: 9 wrong calls made right, 0 right ones changed.
5. A plural the data writes in the singular. Instacart commands say "order eight avocados" and write item
   'avocado' (`singular_args`: the arguments at least MIN_COMMANDS training commands say only in the plural); with
   the object catalog's names at hand, such a value that is a plural of a name becomes the name ("soda cans" ->
   'soda can'; `CommandWording.in_singular`). Session 16, validation split: 5 made right, 0 broken.

6. An argument left empty that the command fills. "set the balcony night light to 55%" -> area '': a span
   argument the call leaves empty takes the longest value training commands say for it (`said_values`) that the
   command says as whole words outside the other values (`CommandWording.with_said_values`). Session 18,
   validation split: 8 made right, 0 broken.
7. Whole words, as written. "Change the spotlights brightness" -> device 'lights': an English span value the
   command says only inside longer words becomes those words (`CommandWording.in_whole_words`); every training
   span value is whole words except the plurals of `singular_args`. Since session 27 a value also takes the
   command's letter case ("rain in Qingdao" -> location 'qingdao' becomes 'Qingdao'): all 6,828 training span
   values in Latin letters are written as their command writes them. (The evaluation compares values in any case,
   so no score moves; a controller that matches names exactly gets the user's spelling.)

8. A value training says once its frame is cut. "把手机放进柜子里" decoded as location '柜子里', "把除湿机关了" as
   device '除湿机关': the phrase the value ends with ('里', '关') is protected from rule 2, being a piece of some
   training value, but the value without it ('柜子', '除湿机') is one training commands say for that argument
   (`said_values`) and the value itself is not, so it is cut (`CommandWording.as_said`). Session 26, validation split: 18 wrong calls made right, 0 right
   ones changed.

9. A part of an object's name for the whole name. "帮我找找拐杖糖" decoded as object '拐杖' (walking stick) for the
   candy cane '拐杖糖', "order kung pao chicken" as dish 'chicken': a value of an argument read from the picture
   (`from_image`) that is a part of a longer object name (the lexicon's, or a taught one) which the command says
   becomes that name (`CommandWording.in_whole_names`; English in whole words). Held-out objects' names are the
   ones the LM cuts, never having copied them in training. Session 27: 0 of 19,200 training calls change;
   validation split, 1 made right, 0 broken.

10. The robot's name is no object's. "小章鱼，它一直发抖" ("little octopus, it keeps shaking", with a picture of a
   hamster) named the octopus '章鱼', so the agent copied the pet from the command ('鱼'). A phrase that the
   training commands of at least half the functions say around their values and that is no piece of any value
   (`CommandWording.common`: '小章鱼', 'hey') does not name an object, even when a name is inside it: the
   agent looks for object names in the command without such phrases that hide one (model/agent.py). Session 27:
   validation 1 made right, 0 broken.

11. Two values in each other's places. "给客厅来个海滨风的设计" ("a coastal design for the living room") decoded as
   room '海滨', style '客厅': two values the command says trade places when one is a value training says for the
   other's argument and never for its own, and the other is none training says for the argument that holds it
   (`CommandWording.unswapped`). No training call changes. Session 27: validation 0 made right, 0 broken (1
   wrong call changed, still wrong); on the test split 6 made right, 0 broken (the first version also compared
   a value read from the picture and broke 1 there, "place this item inside the drawer" with a basket pictured;
   only values the command says are compared since).

The phrases (`frame_phrases`, `value_phrases`, `pointing_phrases`), `singular_args` and `said_values` are learned
from the training split (training.span_rules) and stored with the checkpoint, like the span rules, so a user's own
action set gets its own.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

from .errors import ModelLoadError

MAX_LENGTH = 4      # phrases of up to 4 English words, or 4 Chinese characters
MIN_COMMANDS = 10   # a phrase in fewer of a function's training commands is not part of its frame
TYPO_MIN = 4        # words this long may carry a typing slip (as the training commands' typos do)
POINTING_SHARE = 0.02   # a pointing phrase: in commands that say the picture's value at most this share as often
COMMON_SHARE = 0.5      # wording of at least this share of the functions: how any command is put ("小章鱼", "hey")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9']+", re.IGNORECASE)
_CHAR = re.compile(r"\S")
_BREAK = re.compile(r"[\x00,.!?;:，。！？；：、\"“”()（）]+")


def _unit_spans(text: str) -> tuple[list[tuple[int, int]], str]:
    """(start, end) of each unit phrases are made of (Chinese: every non-space character; otherwise English
    words), and the separator that joins units into a phrase."""
    if _CJK.search(text):
        return [m.span() for m in _CHAR.finditer(text)], ""
    return [m.span() for m in _WORD.finditer(text)], " "


def _units_of(text: str) -> tuple[list[tuple[int, int]], list[str], str]:
    """The spans of `text`'s units, the units in lower case, and their separator."""
    spans, sep = _unit_spans(text)
    return spans, [text[a:b].lower() for a, b in spans], sep


def _units(text: str) -> tuple[list[str], str]:
    """The units of `text`, lower case, and their separator."""
    _spans, units, sep = _units_of(text)
    return units, sep


def phrase_key(text: str) -> str:
    """The form phrases are compared in: lower case; English as its words, Chinese without spaces."""
    units, sep = _units(text)
    return sep.join(units)


def _phrases(piece: str) -> set[str]:
    """Every phrase of up to MAX_LENGTH words (characters, in Chinese) of a piece of a command."""
    units, sep = _units(piece)
    return {sep.join(units[i:i + n]) for n in range(1, MAX_LENGTH + 1) for i in range(len(units) - n + 1)}


def frame_phrases(examples: Iterable[tuple[str, str, dict]]) -> dict[str, list[str]]:
    """{function: phrases} from (function, command, arguments) examples: the phrases that at least
    MIN_COMMANDS of the function's commands say outside its argument values, and that are not one of its
    values."""
    counts: dict[str, Counter] = defaultdict(Counter)
    values: dict[str, set[str]] = defaultdict(set)
    for function, command, arguments in examples:
        values[function].update(phrase_key(v) for v in arguments.values() if isinstance(v, str) and v)
        counts[function].update(_said_around(command, arguments))
    return {function: sorted(p for p, n in counted.items() if n >= MIN_COMMANDS and p not in values[function])
            for function, counted in sorted(counts.items())}


def _said_around(command: str, arguments: dict) -> set[str]:
    """The phrases the command says outside its string values (each value, longest first, is a break)."""
    frame = command.lower()
    for value in sorted((v for v in arguments.values() if isinstance(v, str) and v), key=len, reverse=True):
        frame = frame.replace(value.lower(), "\x00")
    return set().union(*(_phrases(p) for p in _BREAK.split(frame) if p.strip()))


def pointing_phrases(examples: Iterable[tuple[str, str, dict, tuple]], functions: set[str]) -> list[str]:
    """How commands point at the picture ("this", "one of these", "我拿着的这个"), from (function, command,
    arguments, arguments read from the picture) examples and the names of the functions with from_image
    arguments: the phrases that at least MIN_COMMANDS commands with an argument read from the picture say
    outside their values, and that the other commands of those functions (which say the value) say at most
    POINTING_SHARE as often. A single Chinese character is no phrase here: '儿' of '这玩意儿' is also in '儿童房'."""
    pointing: Counter = Counter()
    saying: Counter = Counter()
    for function, command, arguments, pictured in examples:
        if function not in functions:
            continue
        found = _said_around(command, arguments)
        (pointing if pictured else saying).update(p for p in found if not (len(p) == 1 and _CJK.match(p)))
    return sorted(p for p, n in pointing.items() if n >= MIN_COMMANDS and saying[p] <= POINTING_SHARE * n)


def _plurals(value: str) -> list[str]:
    """English plural forms of a value (on its last word): 'avocado' -> 'avocados', 'avocadoes'; 'berry' ->
    'berries'."""
    forms = [value + "s", value + "es"]
    return forms + [value[:-1] + "ies"] if value.endswith("y") else forms


def _singulars(value: str) -> list[str]:
    """The values that `value` may be a plural form of ('potatoes' -> 'potatoe', 'potato'; 'berries' -> 'berry')."""
    forms = [value[:-1]] if value.endswith("s") else []
    forms += [value[:-2]] if value.endswith("es") else []
    return forms + ([value[:-3] + "y"] if value.endswith("ies") else [])


def singular_args(examples: Iterable[tuple[str, str, dict]]) -> dict[str, list[str]]:
    """{function: [argument]}: the string arguments whose value at least MIN_COMMANDS training commands say in
    the plural and not as written ("order eight avocados on Instacart" -> item 'avocado')."""
    counts: Counter = Counter()
    for function, command, arguments in examples:
        words = _units(command)[0]
        for name, value in arguments.items():
            if not (isinstance(value, str) and re.search(r"[a-z]", value.lower())):
                continue
            key = phrase_key(value)
            if not _contains(words, key.split(" ")) and \
                    any(_contains(words, form.split(" ")) for form in _plurals(key)):
                counts[function, name] += 1
    out: dict[str, list[str]] = defaultdict(list)
    for (function, name), n in sorted(counts.items()):
        if n >= MIN_COMMANDS:
            out[function].append(name)
    return dict(out)


def said_values(examples: Iterable[tuple[str, str, dict]]) -> dict[str, dict[str, list[str]]]:
    """{function: {argument: values}}: the string values (lower case) that training commands say as written."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for function, command, arguments in examples:
        for name, value in arguments.items():
            if isinstance(value, str) and value.strip() and value.lower() in command.lower():
                out[function][name].add(value.lower())
    return {f: {a: sorted(v) for a, v in sorted(args.items())} for f, args in sorted(out.items())}


def value_phrases(examples: Iterable[tuple[str, str, dict]]) -> list[str]:
    """Every phrase (up to MAX_LENGTH units) inside a string value of the examples, of any argument."""
    found: set[str] = set()
    for _function, _command, arguments in examples:
        for value in arguments.values():
            if isinstance(value, str) and value:
                found |= _phrases(value)
    return sorted(found)


def _one_slip(typed: str, word: str) -> bool:
    """True when `typed` is `word` with one keyboard slip: a letter replaced, dropped or doubled (added), or two
    neighbours swapped."""
    if typed == word or abs(len(typed) - len(word)) > 1:
        return False
    start = next((i for i, (a, b) in enumerate(zip(typed, word)) if a != b), min(len(typed), len(word)))
    if len(typed) == len(word):
        return typed[start + 1:] == word[start + 1:] or (
            typed[start:start + 2] == word[start:start + 2][::-1] and typed[start + 2:] == word[start + 2:])
    longer, shorter = (typed, word) if len(typed) > len(word) else (word, typed)
    return longer[start + 1:] == shorter[start:]


def _contains(units: list[str], piece: list[str]) -> bool:
    """True when `piece` is a run of whole `units` (words; characters in Chinese)."""
    n = len(piece)
    return n > 0 and any(units[i:i + n] == piece for i in range(len(units) - n + 1))


def _frame_at(units: list[str], sep: str, cut: frozenset[str], end: bool) -> int:
    """How many units the longest phrase of `cut` at the end (else the start) of `units` has; 0 for none. At
    least one unit is always left."""
    for n in range(min(MAX_LENGTH, len(units) - 1), 0, -1):
        if sep.join(units[-n:] if end else units[:n]) in cut:
            return n
    return 0


def _units_like(value: str, command: str) -> list[str]:
    """The units of `value` as the command's units are cut (characters when the command is Chinese)."""
    return [u.lower() for u in _CHAR.findall(value)] if _CJK.search(command) else _units(value)[0]


def _whole_words(value: str, command: str) -> str:
    """`value` as the command writes it: its whole words, in the command's letter case ('qingdao' -> 'Qingdao'),
    or the words of the command around its first mention when it says it only inside longer words ('lights' in
    "the spotlights" -> 'spotlights'); `value` itself when the command does not say it."""
    lowered, piece = command.lower(), value.lower()
    starts = [m.start() for m in re.finditer(re.escape(piece), lowered)]

    def inside_word(a: int, b: int) -> bool:
        return (a > 0 and lowered[a - 1].isalnum() and piece[0].isalnum()) or \
            (b < len(lowered) and lowered[b].isalnum() and piece[-1].isalnum())

    if not starts:
        return value
    whole = [a for a in starts if not inside_word(a, a + len(piece))]
    if whole:
        written = [command[a:a + len(piece)] for a in whole]
        return value if value in written else written[0]
    a, b = starts[0], starts[0] + len(piece)
    while a > 0 and lowered[a - 1].isalnum():
        a -= 1
    while b < len(lowered) and lowered[b].isalnum():
        b += 1
    return command[a:b]


def _whole_words_in(piece: str, text: str) -> bool:
    """True when `piece` is whole words of `text` (both lower case)."""
    return re.search(r"(?<![a-z0-9])" + re.escape(piece) + r"(?![a-z0-9])", text) is not None


def _name_said(key: str, command: str, english: bool) -> bool:
    """Does the command say this name (a key of in_whole_names' `names`)? English as whole words (`command` in
    lower case), Chinese of two or more characters (as in lexicon.NamesSaid)."""
    return _whole_words_in(key, command) if english else len(key) > 1 and key in command


def trim_frame(value: str, cut: frozenset[str]) -> str:
    """`value` without the longest phrase of `cut` it ends with, then the longest it starts with. At least
    one word (character) is kept, and the rest is returned as it is written in `value`."""
    spans, units, sep = _units_of(value)
    keep_to = len(units) - _frame_at(units, sep, cut, end=True)
    keep_from = _frame_at(units[:keep_to], sep, cut, end=False)
    if (keep_from, keep_to) == (0, len(units)):
        return value
    return value[spans[keep_from][0]:spans[keep_to - 1][1]]


def trim_side(value: str, cut: frozenset[str], end: bool) -> str:
    """`value` without the longest phrase of `cut` at its end (else its start) only."""
    spans, units, sep = _units_of(value)
    n = _frame_at(units, sep, cut, end)
    if not n:
        return value
    return value[:spans[-n - 1][1]] if end else value[spans[n][0]:]


class CommandWording:
    """A checkpoint's learned wording (frame, value and pointing phrases; arguments written in the singular),
    applied to a decoded call's values."""

    def __init__(self, phrases: dict[str, list[str]], protected: list[str], pointing: Iterable[str] = (),
                 singular: dict[str, list[str]] | None = None, said: dict[str, dict[str, list[str]]] | None = None):
        self.phrases = {f: frozenset(p) for f, p in phrases.items()}
        self.singular = {f: frozenset(a) for f, a in (singular or {}).items()}   # singular_args
        self.said = said or {}   # said_values
        self._said_keys = {f: {a: frozenset(v.lower() for v in values) for a, values in args.items()}
                           for f, args in self.said.items()}
        self.pointing = frozenset(pointing)   # how commands point at the picture (pointing_phrases)
        self._pointing_words = {w for p in self.pointing for w in p.split(" ") if len(w) >= TYPO_MIN}
        # what may be cut from a value's ends: the frame phrases that are no piece of a training value
        self.cuttable = {f: p - frozenset(protected) for f, p in self.phrases.items()}
        counts = Counter(p for cut in self.cuttable.values() for p in cut)
        self.common = frozenset(p for p, n in counts.items() if n >= COMMON_SHARE * len(self.cuttable))

    @staticmethod
    def without(command: str, phrases: Iterable[str]) -> str:
        """`command` with every mention of `phrases` (any case) replaced by a comma."""
        for phrase in sorted(phrases, key=len, reverse=True):
            command = re.sub(re.escape(phrase), ",", command, flags=re.IGNORECASE)
        return command

    @classmethod
    def from_meta(cls, meta: dict | None, registry, checkpoint) -> "CommandWording":
        """From a checkpoint's octopus.json (none: no phrases, nothing is judged); function names are checked
        against the action set."""
        meta = meta or {}

        def function(name: str, field: str):
            try:
                return registry.by_name(name)
            except KeyError as exc:
                raise ModelLoadError(f"checkpoint {checkpoint}: {field}: {exc.args[0]}") from None

        phrases = meta.get("frame_phrases") or {}
        for name in phrases:
            function(name, "frame_phrases")
        for field in ("singular_args", "said_values"):
            for name, args in (meta.get(field) or {}).items():
                unknown = set(args) - {a.name for a in function(name, field).args if a.type == "str"}
                if unknown:
                    raise ModelLoadError(f"checkpoint {checkpoint}: {field}: {name} has no string argument "
                                         f"{sorted(unknown)[0]!r}")
        return cls(phrases, meta.get("value_phrases") or [], meta.get("pointing_phrases") or [],
                   meta.get("singular_args") or {}, meta.get("said_values") or {})

    def _copied(self, function, arguments: dict, command: str):
        """(argument, value) of the free-text arguments whose value is a piece of the command."""
        lowered = command.lower()
        for arg in function.args:
            value = arguments.get(arg.name)
            if arg.type == "str" and isinstance(value, str) and value.strip() and value.lower() in lowered:
                yield arg.name, value

    def points_at_picture(self, command: str) -> bool:
        """True when the command says a pointing phrase (whole words; Chinese characters)."""
        return not self.pointing.isdisjoint(_phrases(command))

    def says_picture_values(self, function, pictured: dict, unpictured: dict, command: str) -> bool:
        """True when `unpictured` (the call decoded without the lexicon's names) takes the from_image values
        that differ from `pictured`'s (decoded with them) from the command's own words: each is whole words of
        the command, none of the function's frame phrases ('online') nor a typing slip of a pointing word
        ('ths'), shares no words with another value of the call ('paw' beside concern 'has a swollen paw') and
        does not hold the lexicon's name ('cherimoyas' beside 'cherimoya'); and no string argument `pictured`
        fills is left empty (dish 'Shake Shack' with the restaurant gone). Without learned pointing phrases,
        never."""
        if not self.pointing:
            return False
        if any(a.type == "str" and pictured.get(a.name) and not unpictured.get(a.name) for a in function.args):
            return False
        changed = [a.name for a in function.args
                   if a.from_image and a.type == "str" and unpictured.get(a.name) != pictured.get(a.name)]
        for name in changed:   # the lexicon's name inside the said value: the command agrees with the picture
            named = str(pictured.get(name) or "").lower()   # and the name is the catalog's form ('cherimoya')
            if named and named in str(unpictured.get(name) or "").lower():
                return False
        return bool(changed) and all(self._said_alone(function, name, unpictured, command) for name in changed)

    def says_changed_values(self, function, before: dict, after: dict, command: str) -> bool:
        """True when every string value `after` changes from `before` is said alone in the command
        (_said_alone: whole words of it, no frame phrase, no slip of a pointing word, no words shared with
        another value) and trimming would not leave only wording: 'entryway' for "send the vacuum to the
        entryway"; not 't' for "search for it", nor '亚马逊上买一个新的' (trimmed: '买')."""
        changed = [a.name for a in function.args if a.type == "str" and after.get(a.name) != before.get(a.name)]
        cut = self.cuttable.get(function.name, frozenset())
        return bool(changed) and all(
            self._said_alone(function, name, after, command)
            and not self.is_wording(function, trim_frame(after[name], cut), command) for name in changed)

    def _said_alone(self, function, name: str, arguments: dict, command: str) -> bool:
        value = arguments.get(name)
        if not isinstance(value, str) or not value.strip():
            return False
        words, key = _units(value)[0], phrase_key(value)
        if key in self.phrases.get(function.name, frozenset()) or not _contains(_units(command)[0], words):
            return False
        if any(_one_slip(word, known) for word in words for known in self._pointing_words):
            return False
        others = [phrase_key(v) for k, v in arguments.items() if k != name and isinstance(v, str) and v.strip()]
        return not any(key in other or other in key for other in others)

    def worded(self, function, arguments: dict, command: str) -> list[tuple[str, str]]:
        """(argument, value) of the copied values that are one of the function's frame phrases."""
        return [(name, value) for name, value in self._copied(function, arguments, command)
                if self.is_wording(function, value, command)]

    def is_wording(self, function, value: str, command: str) -> bool:
        """Is `value` a piece of the command that is one of the function's frame phrases ('播报' in "播报：开饭了")?"""
        return bool(value.strip()) and value.lower() in command.lower() \
            and phrase_key(value) in self.phrases.get(function.name, frozenset())

    def separated(self, function, arguments: dict, command: str, span_args: frozenset[int]) -> dict:
        """`arguments` where no two span arguments (`span_args`, indices: the values training always copies
        from the command) claim the same words: a value that has another one's value at its end or start, where
        the command says that value once, gives it up, and the frame phrase that joined them ("衣帽间的电饭煲"
        -> area '衣帽间' beside device '电饭煲'; "tropical ideas for the living room" -> style 'tropical ideas',
        trimmed() then makes it 'tropical'). No training call has such a pair (session 15)."""
        lowered = command.lower()
        joints = self.phrases.get(function.name, frozenset())
        span_names = {function.args[i].name for i in span_args}
        copied = {name: value for name, value in self._copied(function, arguments, command) if name in span_names}
        out = dict(arguments)
        for name, outer in copied.items():
            for other, inner in copied.items():
                if other == name or len(inner) >= len(outer) or lowered.count(inner.lower()) != 1:
                    continue
                if outer.lower().endswith(inner.lower()):
                    rest = trim_side(outer[:len(outer) - len(inner)].rstrip(" ,"), joints, end=True)
                elif outer.lower().startswith(inner.lower()):
                    rest = trim_side(outer[len(inner):].lstrip(" ,"), joints, end=False)
                else:
                    continue
                if rest.strip() and phrase_key(rest) not in joints:   # not just the joint ("的电饭煲" -> "的")
                    out[name] = rest.strip()
                    break
        return out

    def unswapped(self, function, arguments: dict, command: str) -> dict:
        """`arguments` where two values the command says trade places when one is a value training says for the
        other's argument and never for its own, and the other is no value training says for the argument it
        holds: "给客厅来个海滨风的设计" decoded as room '海滨', style '客厅' -> room '客厅', style '海滨'. Values
        from the picture are not compared: the command does not say them."""
        known = self._said_keys.get(function.name, {})
        said = dict(self._copied(function, arguments, command))
        names = [name for name in said if name in known]
        out = dict(arguments)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                va, vb = said[a].lower(), said[b].lower()
                if (va in known[b] and va not in known[a] and vb not in known[b]) or \
                        (vb in known[a] and vb not in known[b] and va not in known[a]):
                    out[a], out[b] = arguments[b], arguments[a]
        return out

    def with_said_values(self, function, arguments: dict, command: str, span_args: frozenset[int]) -> dict:
        """`arguments` where a span argument (`span_args`, indices) left empty takes the longest value training
        wrote for it (said_values) that the command says, as whole words, outside the call's other values: area
        'balcony' for "set the balcony night light to 55%" decoded with no area, restaurant '汉堡王' for
        "在DoorDash上点汉堡王的拉面". No training command says such a value for an argument its call leaves
        empty; on the validation split, 8 calls made right and none broken (session 18)."""
        known = self.said.get(function.name, {})
        out = dict(arguments)
        for index in sorted(span_args):
            name = function.args[index].name
            if not known.get(name) or str(out.get(name) or "").strip():
                continue
            rest = command.lower()
            for other in out.values():   # the words other values hold are theirs (blanked, same length)
                if isinstance(other, str) and other.strip():
                    rest = rest.replace(other.lower(), "\x00" * len(other.lower()))
            spans, units, _sep = _units_of(rest)
            found = [(len(v), i, len(piece)) for v in known[name] if (piece := _units_like(v, rest))
                     for i in range(len(units) - len(piece) + 1) if units[i:i + len(piece)] == piece]
            if found:
                _, i, n = max(found, key=lambda f: (f[0], -f[1]))   # the longest value, first said
                out[name] = command[spans[i][0]:spans[i + n - 1][1]] if len(rest) == len(command) \
                    else rest[spans[i][0]:spans[i + n - 1][1]]
        return out

    def in_whole_words(self, function, arguments: dict, command: str, span_args: frozenset[int]) -> dict:
        """`arguments` where an English span value (`span_args`, indices) that the command says only inside
        longer words becomes those whole words: device 'lights' for "the spotlights", location 'windows' for
        "the windowsill"; and one it says in other letter case takes the command's ('qingdao' -> 'Qingdao'). Every
        training value of a span argument is whole words of its command as written, except the plurals written in
        the singular (singular_args: 'avocado' for "ten avocados"), which keep their form."""
        if _CJK.search(command):   # Chinese has no spaces to say where a word ends
            return arguments
        singular = self.singular.get(function.name, frozenset())
        out = dict(arguments)
        for index in span_args:
            name = function.args[index].name
            value = arguments.get(name)
            if name not in singular and isinstance(value, str) and value.strip():
                out[name] = _whole_words(value, command)
        return out

    def in_singular(self, function, arguments: dict, names: dict[str, str]) -> dict:
        """`arguments` where a value of a singular argument (singular_args) that is a plural of one of `names`
        (lower case -> as written; the object catalog's English names) and not a name itself becomes that
        name: 'soda cans' -> 'soda can', 'potatoes' -> 'potato'; 'grapes', a name, stays."""
        out = dict(arguments)
        for name in self.singular.get(function.name, ()):
            value = arguments.get(name)
            if not isinstance(value, str) or value.lower() in names:
                continue
            found = [names[form] for form in _singulars(value.lower()) if form in names]
            if found:
                out[name] = found[0]
        return out

    @staticmethod
    def in_whole_names(function, arguments: dict, command: str, names: dict[str, str], language: str) -> dict:
        """`arguments` where a from_image value that is a part of a longer name of `names` (the command's language;
        keyed as compared, lower case in English -> as written) that the command says becomes that name, the
        longest such: object '拐杖' -> '拐杖糖' for "帮我找找拐杖糖", dish 'chicken' -> 'kung pao chicken'."""
        english = language != "zh"
        command = command.lower() if english else command
        out = dict(arguments)
        for arg in function.args:
            value = arguments.get(arg.name)
            if not (arg.from_image and isinstance(value, str) and value.strip()):
                continue
            key = value.lower() if english else value
            longer = [n for n in names if n != key and (_whole_words_in(key, n) if english else key in n)
                      and _name_said(n, command, english)]
            if longer:
                out[arg.name] = names[max(longer, key=len)]
        return out

    def as_said(self, function, arguments: dict, command: str) -> dict:
        """`arguments` where a copied value that no training command says for its argument, but that is one once a
        frame phrase at its end (else its start) is cut, becomes that value, protected phrases included (rule 2
        keeps those, since they are pieces of training values): location '柜子里' -> '柜子' for "把手机放进柜子里",
        device '除湿机关' -> '除湿机' for "把除湿机关了", body '是我今天去不了' -> '我今天去不了' after "内容是". A value
        training never said keeps its words."""
        phrases, known = self.phrases.get(function.name), self._said_keys.get(function.name, {})
        if not phrases or not known:
            return arguments
        out = dict(arguments)
        for name, value in self._copied(function, arguments, command):
            said = known.get(name)
            if not said or value.lower() in said:
                continue
            for end in (True, False):
                cut = trim_side(value, phrases, end)
                if cut != value and cut.lower() in said:
                    out[name] = cut
                    break
        return out

    def trimmed(self, function, arguments: dict, command: str) -> dict:
        """`arguments` with every copied value trimmed of the function's frame phrases at its ends, unless that
        leaves only wording ('大家好' -> '好' for "告诉大家大家好": the value stays '大家好')."""
        cut = self.cuttable.get(function.name)
        if not cut:
            return arguments
        out = dict(arguments)
        for name, value in self._copied(function, arguments, command):
            trimmed = trim_frame(value, cut)
            out[name] = value if self.is_wording(function, trimmed, command) else trimmed
        return out
