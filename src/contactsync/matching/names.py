"""Comparing names: how two records' first and last names relate.

Each comparison returns a *level*; :mod:`contactsync.matching.scoring` turns levels
into evidence. First names: ``exact``, ``nickname`` (a shared nickname root),
``typo`` (one edit; two for long names), ``initial`` (``J`` and ``John``),
``middle`` (one goes by the other's middle name), ``similar`` (Jaro-Winkler at
least 0.9 but more edits), ``phonetic`` (the same metaphone code), ``differ``,
``missing``. Last names: ``exact``, ``maiden`` (one record's maiden name is the
other's last name), ``part`` (one double-barrelled name contains the other),
``typo``, ``phonetic``, ``similar``, ``differ``,
``missing``.
"""

from __future__ import annotations

from functools import lru_cache

import jellyfish
from rapidfuzz.distance import OSA, JaroWinkler

from contactsync.matching.normalise import Features

FirstLevel = str
LastLevel = str

SIMILAR_JW = 0.9
# First-name levels under which two records can be one person.
COMPATIBLE_FIRST = frozenset(
    {"exact", "nickname", "typo", "initial", "middle", "phonetic", "missing"}
)


@lru_cache(maxsize=65536)
def phonetic(name: str) -> str:
    """The metaphone code of a folded name (``chandler`` and ``chnadler``: ``XNTLR``)."""
    return jellyfish.metaphone(name)[:5] if name else ""


# Shorter metaphone codes say too little (``john`` and ``jane`` are both ``JN``).
MIN_PHONETIC_CODE = 3


def sounds_alike(a: str, b: str) -> bool:
    """The same metaphone code, of at least MIN_PHONETIC_CODE letters."""
    code = phonetic(a)
    return len(code) >= MIN_PHONETIC_CODE and code == phonetic(b)


def is_typo(a: str, b: str) -> bool:
    """One edit apart (adjacent swaps count as one); two for names of eight letters or more.
    A three-letter name only with two neighbours swapped (``pia``, ``pai``): ``tim`` and
    ``tom``, ``ann`` and ``anne`` may be two people."""
    length_a, length_b = len(a), len(b)
    if length_a - length_b > 2 or length_b - length_a > 2:
        return False  # more edits than any name is allowed (most pairs of names end here)
    shorter = min(length_a, length_b)
    if shorter == 3 and length_a == length_b:
        return sorted(a) == sorted(b) and OSA.distance(a, b, score_cutoff=1) <= 1
    if shorter < 4:
        return False
    allowed = 2 if shorter >= 8 else 1
    return OSA.distance(a, b, score_cutoff=allowed) <= allowed


def compare_first(a: Features, b: Features) -> tuple[FirstLevel, str]:
    """The level at which two first names agree, and the name that decided it."""
    if not a.first or not b.first:
        return "missing", ""
    if not a.first_alts.isdisjoint(b.first_alts):
        return "exact", a.first if a.first in b.first_alts else b.first
    if a.is_initial or b.is_initial:
        if a.first[0] == b.first[0]:
            return "initial", a.first[0]
        return "differ", ""
    if not a.first_roots.isdisjoint(b.first_roots):
        return "nickname", ""
    if is_typo(a.first, b.first):
        return "typo", ""
    if (a.middle and a.middle == b.first) or (b.middle and b.middle == a.first):
        return "middle", ""
    if sounds_alike(a.first, b.first):
        return "phonetic", ""
    if JaroWinkler.similarity(a.first, b.first) >= SIMILAR_JW:
        return "similar", ""
    return "differ", ""


def compare_last(a: Features, b: Features) -> tuple[LastLevel, str]:
    """The level at which two last names agree, and the name that decided it."""
    if not a.last or not b.last:
        if (a.maiden and a.maiden == b.last) or (b.maiden and b.maiden == a.last):
            return "maiden", a.maiden or b.maiden
        return "missing", ""
    if a.last == b.last:
        return "exact", a.last
    if a.maiden and (a.maiden == b.last or a.maiden == b.maiden):
        return "maiden", a.maiden
    if b.maiden and b.maiden == a.last:
        return "maiden", b.maiden
    if (len(a.last_words) > 1 or len(b.last_words) > 1) and set(a.last_words) & set(b.last_words):
        return "part", ""
    if is_typo(a.last, b.last):
        return "typo", ""
    if sounds_alike(a.last, b.last):
        return "phonetic", ""
    if JaroWinkler.similarity(a.last, b.last) >= SIMILAR_JW:
        return "similar", ""
    return "differ", ""


def swapped(a: Features, b: Features) -> bool:
    """Whether one record has the first and last names the other way round."""
    if not (a.first and a.last and b.first and b.last):
        return False
    first_last = a.first == b.last or is_typo(a.first, b.last)
    last_first = a.last == b.first or b.first in a.first_alts or is_typo(a.last, b.first)
    return first_last and last_first


def names_crossed(a: Features, b: Features) -> tuple[bool, tuple[FirstLevel, LastLevel] | None]:
    """:func:`swapped` and :func:`crossed` at once, each cross comparison made once
    (both are asked of every pair whose names disagree)."""
    first = _plain_level(a.last, b.first)
    last = _plain_level(a.first, b.last)
    first_agrees, last_agrees = first in _CROSS_AGREEING, last in _CROSS_AGREEING
    is_swapped = (
        bool(a.first and a.last and b.first and b.last)
        and last_agrees
        and (first_agrees or b.first in a.first_alts)
    )
    return is_swapped, ((first, last) if first_agrees or last_agrees else None)


_CROSS_AGREEING = frozenset({"exact", "typo"})


def _plain_level(a: str, b: str) -> str:
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    if is_typo(a, b):
        return "typo"
    if JaroWinkler.similarity(a, b) >= SIMILAR_JW:
        return "similar"
    return "differ"


def crossed(a: Features, b: Features) -> tuple[FirstLevel, LastLevel] | None:
    """Name levels when one record has its first and last name the other way round.

    Compares one record's last name with the other's first name (as the first name)
    and its first name with the other's last name; returns those levels when at least
    one of them agrees (exact or one typo), else None.
    """
    first = _plain_level(a.last, b.first)
    last = _plain_level(a.first, b.last)
    if first in ("exact", "typo") or last in ("exact", "typo"):
        return first, last
    return None


def first_names_compatible(a: Features, b: Features) -> bool:
    """Whether two records' first names could name one person (missing counts as yes)."""
    return compare_first(a, b)[0] in COMPATIBLE_FIRST or swapped(a, b)
