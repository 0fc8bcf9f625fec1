"""The matcher: who is who among the records of all systems.

The steps live in their own modules:

* normalisation: :mod:`contactsync.matching.normalise`, :mod:`contactsync.matching.nicknames`;
* blocking: :mod:`contactsync.matching.blocking`;
* comparison vectors: :mod:`contactsync.matching.compare`, :mod:`contactsync.matching.names`;
* weights, learned without labels or set and documented:
  :mod:`contactsync.matching.stats`, :mod:`contactsync.matching.weights`;
* scoring and its rules (households, role mailboxes, sync ids, conflicts):
  :mod:`contactsync.matching.scoring`;
* batch clustering: :mod:`contactsync.matching.pairs`, :mod:`contactsync.matching.clustering`.

This module holds the two ways in:

* :class:`PersonIndex`, incremental: the sync engine indexes every known record
  under its person and asks, for each new or changed record, which person it
  belongs to. Nothing is re-clustered; person ids are the engine's.
* :func:`cluster`, in one batch: ``match-file`` and the benchmark.

A score at or above ``merge_threshold`` merges; between ``review_threshold`` and
it, the pair waits for a person's decision (``contactsync review``); below, the
records stay apart.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from contactsync.matching.blocking import block_limit, blocking_keys, build_blocks, candidate_pairs
from contactsync.matching.clustering import cluster_features, compare_candidates
from contactsync.matching.linkage import exclusive_sources, source_numbers
from contactsync.matching.normalise import Features, features
from contactsync.matching.scoring import PairScore, Scorer
from contactsync.matching.stats import Frequencies, is_shared
from contactsync.matching.weights import Weights
from contactsync.model.contact import Contact

__all__ = [
    "Candidate",
    "MatchConfig",
    "PersonIndex",
    "RecordKey",
    "Resolution",
    "candidate_pairs_of",
    "cluster",
]

RecordKey = tuple[str, str]  # (system, external_id)
K = TypeVar("K", bound=Hashable)

# A person with more records than this is only checked on the ones that were blocked.
MAX_PERSON_CHECK = 50


@dataclass(frozen=True)
class MatchConfig:
    merge_threshold: float = 0.92
    review_threshold: float = 0.70
    default_region: str = "US"


@dataclass(frozen=True)
class Candidate:
    """One existing record (and its person) that a record was compared with."""

    key: RecordKey
    person_id: str
    score: float
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    person_id: str | None  # the person to join (score >= merge threshold), else None
    score: float
    review: list[Candidate]  # pairs between the thresholds, for the review queue


@dataclass
class _PersonMatch:
    person_id: str
    best_key: RecordKey
    best: PairScore
    conflict: bool


class PersonIndex:
    """Incremental, in memory: records indexed under their persons, queried one at a time."""

    def __init__(self, config: MatchConfig) -> None:
        self.config = config
        self._features: dict[RecordKey, Features] = {}
        self._person: dict[RecordKey, str] = {}
        self._members: dict[str, set[RecordKey]] = {}
        self._blocks: dict[str, set[RecordKey]] = {}
        self._frequencies = Frequencies()
        self._scorer = Scorer(self._frequencies, self._is_shared)

    def __len__(self) -> int:
        return len(self._features)

    def __contains__(self, key: object) -> bool:
        return key in self._features

    def person_of(self, key: RecordKey) -> str | None:
        return self._person.get(key)

    def add(self, key: RecordKey, contact: Contact, person_id: str) -> None:
        """Index a record under a person (replacing what was indexed under ``key``)."""
        if key in self._features:
            self.remove(key)
        item = features(contact)
        self._features[key] = item
        self._person[key] = person_id
        self._members.setdefault(person_id, set()).add(key)
        for block in blocking_keys(item):
            self._blocks.setdefault(block, set()).add(key)
        self._frequencies.update(item)

    def remove(self, key: RecordKey) -> None:
        """Forget a record; unknown keys are ignored."""
        item = self._features.pop(key, None)
        if item is None:
            return
        person_id = self._person.pop(key)
        members = self._members[person_id]
        members.discard(key)
        if not members:
            del self._members[person_id]
        for block in blocking_keys(item):
            holders = self._blocks[block]
            holders.discard(key)
            if not holders:
                del self._blocks[block]
        self._frequencies.update(item, sign=-1)

    def fit(self) -> bool:
        """Learn the weights from the indexed records, as a batch does (see
        :mod:`contactsync.matching.estimate`), as a linkage of their systems; until
        then the documented defaults hold. Returns whether there was enough to learn
        from. (:func:`contactsync.matching.stored_weights.fit_or_load` keeps them in the state.)"""
        keys = sorted(self._features)
        items = [self._features[key] for key in keys]
        numbers, systems = source_numbers(keys, lambda key: key[0])
        # One system alone is a deduplication (its duplicates are all there is to learn).
        scorer, _ = compare_candidates(items, sources=numbers if len(systems) > 1 else None)
        if not scorer.weights.fitted:
            return False
        self._scorer.set_weights(scorer.weights)
        return True

    @property
    def weights(self) -> Weights:
        return self._scorer.weights

    def use_weights(self, weights: Weights) -> None:
        """Score with these weights (fitted earlier on this population, e.g. stored)."""
        self._scorer.set_weights(weights)

    def merge_persons(self, survivor: str, absorbed: str) -> None:
        """Move the absorbed person's records to the survivor (after the engine merged them)."""
        for key in self._members.pop(absorbed, set()):
            self._person[key] = survivor
            self._members.setdefault(survivor, set()).add(key)

    def resolve(self, key: RecordKey, contact: Contact) -> Resolution:
        """The best existing person for a record (never the record's own key)."""
        matches = self._matches(key, features(contact))
        merge_at, review_at = self.config.merge_threshold, self.config.review_threshold
        joinable = [m for m in matches if m.best.score >= merge_at and not m.conflict]
        chosen = joinable[0] if joinable else None
        review = [
            self._candidate(m)
            for m in matches
            if m.best.score >= review_at and all(m is not j for j in joinable)
        ]
        best_score = matches[0].best.score if matches else 0.0
        return Resolution(chosen.person_id if chosen else None, best_score, review)

    def persons_linked(self, key: RecordKey, contact: Contact) -> list[Candidate]:
        """Every person the record links at or above the merge threshold, best first.

        A person that contradicts one already linked (a conflict between their
        records) is left out: a bridging record must not merge two people who
        cannot be one.
        """
        linked: list[_PersonMatch] = []
        for match in self._matches(key, features(contact)):
            if match.best.score < self.config.merge_threshold or match.conflict:
                continue
            if all(not self._persons_conflict(match.person_id, o.person_id) for o in linked):
                linked.append(match)
        return [self._candidate(m) for m in linked]

    def score(self, first: Contact, second: Contact) -> PairScore:
        """Score two contacts against this index's population (with the evidence)."""
        return self._scorer.score(features(first), features(second), explain=True)

    # --- internals -----------------------------------------------------------------

    def _is_shared(self, value: str) -> bool:
        holders = self._blocks.get(f"e:{value}") or self._blocks.get(f"p:{value}") or set()
        if len(holders) < 3:
            return False
        return is_shared([self._features[k] for k in sorted(holders)])

    def _candidates(self, key: RecordKey, item: Features) -> set[RecordKey]:
        found: set[RecordKey] = set()
        for block in blocking_keys(item):
            holders = self._blocks.get(block)
            if holders and len(holders) <= block_limit(block):
                found |= holders
        found.discard(key)
        return found

    def _matches(self, key: RecordKey, item: Features) -> list[_PersonMatch]:
        by_person: dict[str, _PersonMatch] = {}
        for other in sorted(self._candidates(key, item)):
            person_id = self._person[other]
            result = self._scorer.score(item, self._features[other], explain=True)
            current = by_person.get(person_id)
            if current is None:
                by_person[person_id] = _PersonMatch(person_id, other, result, result.conflict)
            else:
                current.conflict = current.conflict or result.conflict
                if result.score > current.best.score:
                    current.best_key, current.best = other, result
        for match in by_person.values():
            if not match.conflict:
                match.conflict = self._conflicts_with_person(key, item, match.person_id)
        return sorted(by_person.values(), key=lambda m: (-m.best.score, m.person_id))

    def _conflicts_with_person(self, key: RecordKey, item: Features, person_id: str) -> bool:
        members = sorted(self._members.get(person_id, ()))[:MAX_PERSON_CHECK]
        return any(
            self._scorer.score(item, self._features[m]).conflict for m in members if m != key
        )

    def _persons_conflict(self, first: str, second: str) -> bool:
        a = sorted(self._members.get(first, ()))[:MAX_PERSON_CHECK]
        b = sorted(self._members.get(second, ()))[:MAX_PERSON_CHECK]
        score = self._scorer.score
        return any(score(self._features[x], self._features[y]).conflict for x in a for y in b)

    def _candidate(self, match: _PersonMatch) -> Candidate:
        evidence = dict(match.best.evidence or {})
        if match.conflict:
            evidence["conflict"] = 0.0
        return Candidate(match.best_key, match.person_id, match.best.score, evidence)


def cluster(
    records: Iterable[tuple[K, Contact]],
    config: MatchConfig,
    *,
    on_stage: Callable[[str], None] | None = None,
    source_of: Callable[[K], str] | None = None,
    dedup_free: Collection[str] = (),
) -> dict[K, int]:
    """Batch: record key -> cluster number (0, 1, ... in order of first appearance).

    ``records`` may be a generator: only each record's features are kept. The
    cyclic garbage collector is paused meanwhile (millions of small objects, no
    cycles), which makes a large batch about twice as fast.

    ``source_of`` (key -> source name) makes it a linkage: only pairs across sources
    are compared. A cluster then holds at most one record of a source named in
    ``dedup_free`` or seen to hold no duplicates (see :mod:`contactsync.matching.linkage`).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        keys, items = _featured(records)
        sources: list[int] | None = None
        exclusive: list[int] | None = None
        if source_of is not None:
            sources, names = source_numbers(keys, source_of)
            exclusive = exclusive_sources(items, sources, names, dedup_free)
        if on_stage is not None:
            on_stage(f"comparing {len(items):,} records")
        numbers, _ = cluster_features(
            items, config.merge_threshold, on_stage=on_stage, sources=sources, exclusive=exclusive
        )
        return dict(zip(keys, numbers, strict=True))
    finally:
        if collecting:
            gc.enable()


def candidate_pairs_of(
    records: Iterable[tuple[K, Contact]],
    config: MatchConfig,
    *,
    source_of: Callable[[K], str] | None = None,
) -> set[tuple[K, K]]:
    """The pairs :func:`cluster` would compare (its blocking), for pair completeness."""
    keys, items = _featured(records)
    sources = source_numbers(keys, source_of)[0] if source_of is not None else None
    size = len(items)
    pairs = candidate_pairs(build_blocks(items), size, sources)
    return {(keys[code // size], keys[code % size]) for code in pairs}


def _featured(records: Iterable[tuple[K, Contact]]) -> tuple[list[K], list[Features]]:
    keys: list[K] = []
    items: list[Features] = []
    for key, contact in records:
        keys.append(key)
        items.append(features(contact))
    return keys, items
