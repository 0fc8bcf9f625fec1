"""Pairwise scoring: a pair's comparison vector weighed into a match probability.

``W = prior + sum(level bits) + term-frequency bits`` (see
:mod:`contactsync.matching.weights`); the score is ``1 / (1 + 2 ** -W)``. Rules on top:

* **sync ids**: the same stamped person id is certain (score 1); different ones are
  certainly two persons (score 0, a conflict).
* **households and shared mailboxes**: when the first names disagree, what a
  household or a team shares (address, landlines, organization) counts for nothing;
  role mailboxes and shared numbers never count. Only personal evidence (a
  personal email, a mobile, the birthday, the reference id) and the last name can
  still make them one person.
* **conflict**: when the evidence as a whole says "two people" and the
  disagreements alone weigh :data:`CONFLICT_BITS` or less, the two records must
  not end up in one person, whatever links them otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contactsync.matching.compare import FIELDS, LEVELS, SharedTest, Vector, compare
from contactsync.matching.normalise import Features
from contactsync.matching.stats import Frequencies
from contactsync.matching.weights import (
    PatternWeight,
    Weights,
    pattern_weight,
    shareable,
    split_tf,
)

CONFLICT_BITS = -9.0
CONFLICT_EVIDENCE = 0.0
ROLE_LEVEL = LEVELS["email"].index("role")


@dataclass(frozen=True, slots=True)
class PairScore:
    score: float
    weight: float  # log2 odds
    conflict: bool
    evidence: dict[str, float] | None = None


class Scorer:
    """Scores pairs against a population's frequencies, shared values and weights."""

    def __init__(
        self, frequencies: Frequencies, is_shared: SharedTest, weights: Weights | None = None
    ) -> None:
        self.frequencies = frequencies
        self.is_shared = is_shared
        self.weights = weights or Weights()
        self._patterns: dict[Vector, PatternWeight] = {}

    def set_weights(self, weights: Weights) -> None:
        self.weights = weights
        self._patterns.clear()

    def vector(self, a: Features, b: Features) -> tuple[Vector, list[float]]:
        return compare(a, b, self.frequencies, self.is_shared)

    def score(self, a: Features, b: Features, explain: bool = False) -> PairScore:
        if a.sync_id and b.sync_id:
            same = a.sync_id == b.sync_id
            bits = math.inf if same else -math.inf
            return PairScore(float(same), bits, not same, {"sync_id": bits} if explain else None)
        vector, tf = self.vector(a, b)
        result = self.score_vector(vector, tf)
        if not explain:
            return result
        return PairScore(result.score, result.weight, result.conflict, self._explain(vector, tf))

    def pattern(self, vector: Vector) -> PatternWeight:
        pattern = self._patterns.get(vector)
        if pattern is None:
            pattern = self._patterns[vector] = pattern_weight(self.weights, vector)
        return pattern

    def score_vector(self, vector: Vector, tf: list[float]) -> PairScore:
        personal, shared = split_tf(tf)
        return self.score_pattern(self.pattern(vector), personal, shared)

    def score_pattern(self, pattern: PatternWeight, personal: float, shared: float) -> PairScore:
        """Score from a pattern's weight and the pair's term-frequency bits."""
        log_n = self.frequencies.log_population
        evidence = pattern.bits + pattern.identifiers * log_n + personal
        if not pattern.household:
            evidence += shared
        weight = self.weights.log_prior(log_n) + evidence
        score = 1.0 / (1.0 + 2.0 ** (-weight)) if weight > -60 else 0.0
        conflict = pattern.cannot_link or (
            evidence < CONFLICT_EVIDENCE and pattern.negative <= CONFLICT_BITS
        )
        return PairScore(score, weight, conflict)

    def _explain(self, vector: Vector, tf: list[float]) -> dict[str, float]:
        """Bits per field (rounded), with the rules that applied."""
        log_n = self.frequencies.log_population
        household = self.weights.household(vector)
        void = pattern_weight(self.weights, vector)
        evidence: dict[str, float] = {}
        for index, level_index in enumerate(vector):
            name = FIELDS[index]
            level = LEVELS[name][level_index]
            if level_index == 0:
                continue
            bits = self.weights.level_bits(index, level_index, log_n) + tf[index]
            if household and bits > 0 and shareable(index, level_index):
                bits = 0.0  # void under the household rule
            evidence[f"{name}:{level}"] = round(bits, 2)
        if household:
            evidence["rule:household"] = 0.0
        if void.cannot_link:
            evidence["rule:household_cannot_link"] = 0.0
        if vector[FIELDS.index("email")] == ROLE_LEVEL:
            evidence["rule:role_mailbox"] = 0.0
        evidence["prior"] = round(self.weights.log_prior(log_n), 2)
        personal, shared = split_tf(tf)
        total = void.bits + void.identifiers * log_n + personal + (0.0 if household else shared)
        evidence["total"] = round(evidence["prior"] + total, 2)
        return evidence
