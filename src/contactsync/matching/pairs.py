"""Comparing every candidate pair once, and keeping the results compactly.

Each pair keeps its positions, the id of its comparison vector (vectors repeat:
a few thousand distinct ones for a million pairs), its term-frequency bits and
the key families that brought it. (One process: forking a helper to share the
work cost more than it saved, as copy-on-write duplicated the records' pages.)
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from contactsync.matching.blocking import FAMILIES
from contactsync.matching.compare import Vector
from contactsync.matching.normalise import Features
from contactsync.matching.scoring import Scorer
from contactsync.matching.weights import split_tf


class ComparedPairs:
    """Every candidate pair, compared once: positions, pattern, term-frequency bits, family."""

    def __init__(self) -> None:
        self.first = array("l")
        self.second = array("l")
        self.pattern = array("l")
        self.personal_tf = array("d")
        self.shared_tf = array("d")
        self.families = array("l")
        self.vectors: list[Vector] = []
        self._ids: dict[Vector, int] = {}

    def add(self, i: int, j: int, vector: Vector, tf: list[float], families: int) -> None:
        pattern = self._ids.get(vector)
        if pattern is None:
            pattern = self._ids[vector] = len(self.vectors)
            self.vectors.append(vector)
        personal, shared = split_tf(tf)
        self.first.append(i)
        self.second.append(j)
        self.pattern.append(pattern)
        self.personal_tf.append(personal)
        self.shared_tf.append(shared)
        self.families.append(families)

    def __len__(self) -> int:
        return len(self.first)

    def sessions(self) -> tuple[dict[str, dict[Vector, int]], dict[str, dict[Vector, int]]]:
        """What the EM fit learns from: key family -> comparison vector -> count, over all
        the pairs each family brought, and over the pairs it brought first."""
        counts: dict[tuple[int, int], int] = {}
        for families, pattern in zip(self.families, self.pattern, strict=True):
            counts[(families, pattern)] = counts.get((families, pattern), 0) + 1
        sessions: dict[str, dict[Vector, int]] = {}
        primary: dict[str, dict[Vector, int]] = {}
        for (families, pattern), count in counts.items():
            vector = self.vectors[pattern]
            first = (families & -families).bit_length() - 1
            own = primary.setdefault(FAMILIES[first], {})
            own[vector] = own.get(vector, 0) + count
            for number, family in enumerate(FAMILIES):
                if families >> number & 1:
                    session = sessions.setdefault(family, {})
                    session[vector] = session.get(vector, 0) + count
        return sessions, primary


def compare_pairs(
    items: Sequence[Features], pairs: dict[int, int], scorer: Scorer
) -> ComparedPairs:
    """Every candidate pair's comparison vector (``pairs``: code -> key families)."""
    compared = ComparedPairs()
    vector = scorer.vector
    size = len(items)
    for code, families in pairs.items():
        i, j = divmod(code, size)
        compared.add(i, j, *vector(items[i], items[j]), families)
    return compared
