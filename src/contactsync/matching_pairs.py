"""Comparing every candidate pair once, in one process or two.

A large batch forks one helper process (the records are shared, copy on write):
it compares every other pair while this process compares the rest, then the two
halves are put together. The result does not depend on the number of processes.
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from collections.abc import Sequence

from contactsync.matching_blocking import FAMILIES
from contactsync.matching_compare import Vector
from contactsync.matching_normalise import Features
from contactsync.matching_scoring import Scorer
from contactsync.matching_weights import split_tf

# Batches smaller than this are compared in one process (forking costs more than it saves).
PARALLEL_FROM_RECORDS = 50_000
MAX_WORKERS = 2


def default_workers(records: int) -> int:
    if records < PARALLEL_FROM_RECORDS:
        return 1
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


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

    def extend(self, other: ComparedPairs) -> None:
        """Append another batch of compared pairs (its patterns renumbered into ours)."""
        renumber = array("l")
        for vector in other.vectors:
            pattern = self._ids.get(vector)
            if pattern is None:
                pattern = self._ids[vector] = len(self.vectors)
                self.vectors.append(vector)
            renumber.append(pattern)
        self.first.extend(other.first)
        self.second.extend(other.second)
        self.pattern.extend(renumber[p] for p in other.pattern)
        self.personal_tf.extend(other.personal_tf)
        self.shared_tf.extend(other.shared_tf)
        self.families.extend(other.families)


# What a forked helper compares: set just before the fork, read by the helper.
_SHARED: tuple[Sequence[Features], dict[int, int], Scorer] | None = None


def _compare_share(part: int, parts: int) -> ComparedPairs:
    """Compare the pairs whose position in the pair list is ``part`` modulo ``parts``."""
    assert _SHARED is not None
    items, pairs, scorer = _SHARED
    compared = ComparedPairs()
    vector = scorer.vector
    size = len(items)
    for position, (code, families) in enumerate(pairs.items()):
        if position % parts != part:
            continue
        i, j = divmod(code, size)
        compared.add(i, j, *vector(items[i], items[j]), families)
    return compared


def compare_pairs(
    items: Sequence[Features], pairs: dict[int, int], scorer: Scorer, workers: int = 1
) -> ComparedPairs:
    """Every candidate pair's comparison vector (``pairs``: code -> key families)."""
    global _SHARED
    _SHARED = (items, pairs, scorer)
    try:
        if workers <= 1:
            return _compare_share(0, 1)
        with multiprocessing.get_context("fork").Pool(workers - 1) as pool:
            helpers = [
                pool.apply_async(_compare_share, (part, workers)) for part in range(1, workers)
            ]
            compared = _compare_share(0, workers)
            for helper in helpers:
                compared.extend(helper.get())
        return compared
    finally:
        _SHARED = None
