"""Which ImageNet-1k classes depict a catalog object, matched by name (for the object lexicon).

The trunk's pretrained classifier knows 1,000 classes by their WordNet names (timm's ImageNetInfo, e.g.
"African elephant", "tree frog, tree-frog, tailed frog"). An object matches a class when its English name
(or its singular) is one of the class's names, or is the last word of the class's first name: "elephant"
-> "African elephant", "Indian elephant"; "crab" -> "rock crab", "king crab". The last-word rule also finds
things that are not the object ("sea cucumber" for cucumber); `exclude` (config/train/lexicon.yaml) drops
those classes by name. When several objects name a class exactly, the longest name takes it ("mouse,
computer mouse" goes to the computer mouse, not to the animal). Only names are read here, never a picture.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def class_names() -> tuple[tuple[str, ...], ...]:
    """The 1,000 classes in the classifier's order, each as its lower-case names."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(tuple(part.strip().lower() for part in info.index_to_description(i).split(","))
                 for i in range(info.num_classes()))


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


def assign_classes(names_en: dict[str, str], exclude: frozenset[str] = frozenset()) -> dict[str, tuple[int, ...]]:
    """{object id: indices of the ImageNet classes that depict it} for a catalog's English names."""
    forms = {oid: _forms(name) for oid, name in names_en.items()}
    found: dict[str, list[int]] = {oid: [] for oid in names_en}
    for index, names in enumerate(class_names()):
        if names[0] in exclude:
            continue
        named = set(names)
        exact = [oid for oid in names_en if forms[oid] & named]
        if exact:
            found[max(exact, key=lambda oid: len(names_en[oid]))].append(index)
            continue
        for oid in names_en:
            if names[0].split(" ")[-1] in forms[oid]:
                found[oid].append(index)
    return {oid: tuple(hits) for oid, hits in found.items()}
