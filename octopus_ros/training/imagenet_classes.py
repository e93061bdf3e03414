"""Which ImageNet-1k classes depict a catalog object, matched by name (for the object lexicon).

The trunk's pretrained classifier knows 1,000 classes by their WordNet names (timm's ImageNetInfo, e.g.
"African elephant", "tree frog, tree-frog, tailed frog"). An object matches a class when its English name
(or its singular) is one of the class's names, or is the last word of the class's first name: "elephant"
-> "African elephant", "Indian elephant"; "crab" -> "rock crab", "king crab". The last-word rule also finds
things that are not the object ("sea cucumber" for cucumber); `exclude` (config/train/lexicon.yaml) drops
those classes by name. When several objects name a class exactly, the longest name takes it ("mouse,
computer mouse" goes to the computer mouse, not to the animal). Only names are read here, never a picture.

A class that no name matches may still name an object through WordNet, whose noun synsets the ImageNet
classes are (the id n02099712 is the offset of "Labrador retriever" in WordNet 3.0's data.noun): walking up
its hypernyms ("retriever" -> "sporting dog" -> "dog"), the nearest ancestor that is an object's name takes
the class, so the catalog's dog gets the 118 breeds and its sheep the ram.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def class_names() -> tuple[tuple[str, ...], ...]:
    """The 1,000 classes in the classifier's order, each as its lower-case names."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(tuple(part.strip().lower() for part in info.index_to_description(i).split(","))
                 for i in range(info.num_classes()))


@lru_cache(maxsize=1)
def class_synsets() -> tuple[str, ...]:
    """The 1,000 classes' WordNet 3.0 noun offsets, in the classifier's order ("n01440764" -> "01440764")."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_label_name(i).lstrip("n") for i in range(info.num_classes()))


Hypernyms = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]


def read_wordnet_nouns(path: Path) -> Hypernyms:
    """{synset offset: (lower-case lemmas, hypernym offsets)} from a WordNet 3.0 data.noun file.

    Each data line is "offset lex_filenum ss_type w_cnt (word lex_id)* p_cnt (symbol offset pos source/target)*
    | gloss" (wndb(5)); "@" and "@i" point to the synset's (instance) hypernyms. Licence lines start with spaces.
    """
    graph: Hypernyms = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue
            fields = line.split(" ")
            words = int(fields[3], 16)
            lemmas = tuple(fields[4 + 2 * i].replace("_", " ").lower() for i in range(words))
            at = 4 + 2 * words
            pointers = [fields[at + 1 + 4 * j: at + 3 + 4 * j] for j in range(int(fields[at]))]
            graph[fields[0]] = (lemmas, tuple(offset for symbol, offset in pointers if symbol in ("@", "@i")))
    return graph


def _forms(name: str) -> set[str]:
    """The name and its plausible singulars: "cherries" -> cherry, "boots" -> boot, "glasses" -> glass."""
    name = name.strip().lower().replace("_", " ")
    forms = {name}
    if name.endswith("ies"):
        forms.add(name[:-3] + "y")
    if name.endswith("es"):
        forms.add(name[:-2])
    if name.endswith("s"):
        forms.add(name[:-1])
    return forms


def _nearest_ancestor(graph: Hypernyms, synset: str, named: dict[str, list[str]], depth: int) -> list[str]:
    """The objects named by the nearest hypernyms (within `depth` steps up) of a synset that name any."""
    level, seen = [synset], {synset}
    for _ in range(depth):
        level = [up for s in level for up in graph.get(s, ((), ()))[1] if up not in seen]
        seen.update(level)
        hits = sorted({oid for s in level for lemma in graph[s][0] for oid in named.get(lemma, ())})
        if hits or not level:
            return hits
    return []


def assign_classes(names_en: dict[str, str], exclude: frozenset[str] = frozenset(),
                   hypernyms: Hypernyms | None = None, depth: int = 0) -> dict[str, tuple[int, ...]]:
    """{object id: indices of the ImageNet classes that depict it} for a catalog's English names.

    With a WordNet graph (read_wordnet_nouns) and depth > 0, a class no name matches goes to the object its
    nearest hypernym names, looking at most `depth` steps up."""
    forms = {oid: _forms(name) for oid, name in names_en.items()}
    named: dict[str, list[str]] = {}
    for oid, words in forms.items():
        for word in words:
            named.setdefault(word, []).append(oid)
    found: dict[str, list[int]] = {oid: [] for oid in names_en}
    for index, names in enumerate(class_names()):
        if names[0] in exclude:
            continue
        named_here = set(names)
        exact = [oid for oid in names_en if forms[oid] & named_here]
        if exact:
            found[max(exact, key=lambda oid: len(names_en[oid]))].append(index)
            continue
        takers = [oid for oid in names_en if names[0].split(" ")[-1] in forms[oid]]
        if not takers and hypernyms and depth > 0:
            above = _nearest_ancestor(hypernyms, class_synsets()[index], named, depth)
            takers = [max(above, key=lambda oid: len(names_en[oid]))] if above else []
        for oid in takers:
            found[oid].append(index)
    return {oid: tuple(hits) for oid, hits in found.items()}
