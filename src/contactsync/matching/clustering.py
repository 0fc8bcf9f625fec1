"""Clustering records into persons, in one batch.

1. Block (:mod:`contactsync.matching.blocking`) and compare every candidate pair once.
2. Learn the weights from these records (:mod:`contactsync.matching.estimate`).
3. Take the pairs at or above the merge threshold, strongest first, and join their
   clusters (union-find), unless the join would put together two records that must
   stay apart: records stamped with different sync ids, a pair in conflict (see
   :mod:`contactsync.matching.scoring`; households are cannot-links), two records of
   one dedup-free source (linkage), or two named clusters through a record without a
   name. When both clusters are small, every cross pair is scored first, so a chain
   of links (A like B, B like C) cannot join two records that contradict each other.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

from contactsync.matching.blocking import (
    build_blocks,
    candidate_pairs,
    identifier_value,
)
from contactsync.matching.compare import Vector
from contactsync.matching.estimate import estimate_weights
from contactsync.matching.normalise import Features
from contactsync.matching.pairs import ComparedPairs, compare_pairs
from contactsync.matching.scoring import CONFLICT_BITS, CONFLICT_EVIDENCE, Scorer
from contactsync.matching.stats import Frequencies, is_shared

# Clusters whose sizes multiply to at most this are cross-checked pair by pair.
CROSS_CHECK_PAIRS = 64
# A conflict vetoes a join when the link's and the conflict's log2 odds add up below this.
VETO_MARGIN = 0.0
# Random pairs that u is measured on: one per record, within these bounds.
RANDOM_PAIRS = (2_000, 20_000)


class _Clusters:
    """Union-find over record positions, with each cluster's members and sync id."""

    def __init__(self, items: Sequence[Features], exclusive: Sequence[int] | None = None) -> None:
        self.parent = list(range(len(items)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(items))}
        self.sync: dict[int, str] = {i: item.sync_id for i, item in enumerate(items)}
        self.nameless = [not (item.first or item.last) for item in items]
        self.named: dict[int, bool] = {i: not nameless for i, nameless in enumerate(self.nameless)}
        # Per cluster, the dedup-free sources it holds a record of (linkage): a second
        # record of such a source may not join (one partner per record of that source).
        self.exclusive: dict[int, frozenset[int]] = {}
        if exclusive is not None:
            self.exclusive = {
                i: frozenset({source}) for i, source in enumerate(exclusive) if source >= 0
            }

    def find(self, position: int) -> int:
        parent = self.parent
        root = position
        while parent[root] != root:
            root = parent[root]
        while parent[position] != root:
            parent[position], position = root, parent[position]
        return root

    def union(self, first: int, second: int) -> None:
        big, small = first, second
        if len(self.members[big]) < len(self.members[small]):
            big, small = small, big
        self.parent[small] = big
        self.members[big].extend(self.members.pop(small))
        self.sync[big] = self.sync[big] or self.sync.pop(small)
        self.named[big] = self.named[big] or self.named.pop(small)
        if self.exclusive:
            held = self.exclusive.pop(small, frozenset())
            self.exclusive[big] = self.exclusive.get(big, frozenset()) | held

    def bridges(self, i: int, j: int, first: int, second: int) -> bool:
        """Whether the link i-j would join two named clusters through a record without a
        name (no chains through a record that cannot say who it is)."""
        through_nameless = self.nameless[i] or self.nameless[j]
        return through_nameless and self.named[first] and self.named[second]

    def clash(self, first: int, second: int) -> bool:
        """Whether both clusters hold a record of one dedup-free source."""
        a, b = self.exclusive.get(first), self.exclusive.get(second)
        return bool(a and b and not a.isdisjoint(b))


def shared_values(items: Sequence[Features], blocks: dict[str, list[int]]) -> set[str]:
    """Emails and phone numbers that no single person holds (see matching_stats.is_shared)."""
    shared = set()
    for key, members in blocks.items():
        value = identifier_value(key)
        if value is not None and len(members) > 2 and is_shared([items[m] for m in members]):
            shared.add(value)
    return shared


def compare_candidates(
    items: Sequence[Features], workers: int = 1, sources: Sequence[int] | None = None
) -> tuple[Scorer, ComparedPairs]:
    """Block, compare every candidate pair and fit the weights on these records.

    ``sources`` (a source number per record) switches to linkage: only pairs across
    sources are compared and sampled."""
    frequencies = Frequencies()
    for item in items:
        frequencies.update(item)
    blocks = build_blocks(items)
    scorer = Scorer(frequencies, shared_values(items, blocks).__contains__)
    pairs = candidate_pairs(blocks, len(items), sources)
    del blocks
    compared = compare_pairs(items, pairs, scorer)
    del pairs
    random_vectors = _random_vectors(scorer, items, sources)
    weights = estimate_weights(
        compared,
        random_vectors,
        len(items),
        pairs_total(sources, len(items)),
        [item.first for item in items],
    )
    scorer.set_weights(weights)
    return scorer, compared


def pairs_total(sources: Sequence[int] | None, size: int) -> int:
    """The pairs that exist: all of them in a deduplication, across sources in a linkage."""
    if sources is None:
        return size * (size - 1) // 2
    per_source = Counter(sources).values()
    return (size * size - sum(count * count for count in per_source)) // 2


def _random_vectors(
    scorer: Scorer, items: Sequence[Features], sources: Sequence[int] | None = None
) -> list[Vector]:
    size = len(items)
    if size < 2:
        return []
    rng = random.Random(0)
    vectors = []
    low, high = RANDOM_PAIRS
    for _ in range(min(max(low, min(high, size)), size * (size - 1) // 2)):
        i, j = rng.randrange(size), rng.randrange(size)
        if i != j and (sources is None or sources[i] != sources[j]):
            vectors.append(scorer.vector(items[i], items[j])[0])
    return vectors


def cluster_features(
    items: Sequence[Features],
    merge_threshold: float,
    on_stage: Callable[[str], None] | None = None,
    *,
    sources: Sequence[int] | None = None,
    exclusive: Sequence[int] | None = None,
) -> tuple[list[int], Scorer]:
    """Cluster number (0, 1, ... in order of first record) for each record position.

    ``sources``: linkage (see :func:`compare_candidates`). ``exclusive``: per record, its
    source number when that source holds no duplicates, else -1; links are taken
    strongest first, so each such record keeps its one best partner."""
    scorer, compared = compare_candidates(items, sources=sources)
    if on_stage is not None:
        on_stage(f"clustering ({len(compared):,} pairs compared)")
    links, conflicts = _links_and_conflicts(scorer, compared, items, merge_threshold)
    del compared
    links.sort(key=lambda link: (-link[0], link[1], link[2]))
    clusters = _Clusters(items, exclusive)
    for weight, i, j in links:
        first, second = clusters.find(i), clusters.find(j)
        if first == second or clusters.clash(first, second):
            continue
        if clusters.bridges(i, j, first, second):
            continue
        if not _must_stay_apart(clusters, conflicts, scorer, items, (first, second), weight):
            clusters.union(first, second)
    return _numbered(clusters, len(items)), scorer


def _links_and_conflicts(
    scorer: Scorer, compared: ComparedPairs, items: Sequence[Features], merge_threshold: float
) -> tuple[list[tuple[float, int, int]], dict[int, list[tuple[int, float]]]]:
    """The pairs at or above the merge threshold as (log2 odds, i, j), and each record's
    conflicts as (other record, log2 odds).

    :meth:`Scorer.score_pattern` inlined, with what each comparison vector weighs worked
    out once: this loop runs once per candidate pair (hundreds of thousands)."""
    log_n = scorer.frequencies.log_population
    prior = scorer.weights.log_prior(log_n)
    patterns = []
    for vector in compared.vectors:
        pattern = scorer.pattern(vector)
        patterns.append(
            (
                pattern.bits + pattern.identifiers * log_n,
                pattern.household,
                pattern.cannot_link,
                pattern.negative <= CONFLICT_BITS,
            )
        )
    links: list[tuple[float, int, int]] = []
    conflicts: dict[int, list[tuple[int, float]]] = {}
    for i, j, number, personal, shared in zip(
        compared.first,
        compared.second,
        compared.pattern,
        compared.personal_tf,
        compared.shared_tf,
        strict=True,
    ):
        if items[i].sync_id and items[j].sync_id:
            result = scorer.score(items[i], items[j])
            weight, conflict, score = result.weight, result.conflict, result.score
        else:
            base, household, cannot_link, negative = patterns[number]
            evidence = base + personal
            if not household:
                evidence += shared
            weight = prior + evidence
            conflict = cannot_link or (evidence < CONFLICT_EVIDENCE and negative)
            score = 1.0 / (1.0 + 2.0 ** (-weight)) if weight > -60 else 0.0
        if conflict:
            conflicts.setdefault(i, []).append((j, weight))
            conflicts.setdefault(j, []).append((i, weight))
        elif score >= merge_threshold:
            links.append((weight, i, j))
    return links, conflicts


def _must_stay_apart(
    clusters: _Clusters,
    conflicts: dict[int, list[tuple[int, float]]],
    scorer: Scorer,
    items: Sequence[Features],
    roots: tuple[int, int],
    link: float,
) -> bool:
    """Whether joining two clusters by a link of this weight (log2 odds) would put records
    in conflict together: a conflict outweighing the link vetoes the join."""
    first, second = roots
    sync_a, sync_b = clusters.sync[first], clusters.sync[second]
    if sync_a and sync_b and sync_a != sync_b:
        return True
    members_a, members_b = clusters.members[first], clusters.members[second]
    if len(members_a) > len(members_b):
        members_a, members_b = members_b, members_a
    find = clusters.find
    other = find(members_b[0])
    for member in members_a:
        for partner, weight in conflicts.get(member, ()):
            if link + weight < VETO_MARGIN and find(partner) == other:
                return True
    if len(members_a) * len(members_b) <= CROSS_CHECK_PAIRS and len(members_b) > 1:
        for a in members_a:
            for b in members_b:
                result = scorer.score(items[a], items[b])
                if result.conflict and link + result.weight < VETO_MARGIN:
                    return True
    return False


def _numbered(clusters: _Clusters, size: int) -> list[int]:
    numbers: dict[int, int] = {}
    result = []
    for position in range(size):
        root = clusters.find(position)
        if root not in numbers:
            numbers[root] = len(numbers)
        result.append(numbers[root])
    return result
