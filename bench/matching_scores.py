"""Scores of one method on one labelled set: pairwise precision, recall, F1 of the
clusters (two records in one cluster = a predicted link) and pair completeness of the
blocking (the share of true pairs the method compared at all)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Score:
    method: str
    precision: float
    recall: float
    f1: float
    pair_completeness: float | None
    seconds: float
    megabytes: float
    note: str = ""


def link_pairs(labels: Sequence[object]) -> set[tuple[int, int]]:
    groups: dict[object, list[int]] = defaultdict(list)
    for position, label in enumerate(labels):
        groups[label].append(position)
    return {pair for g in groups.values() for pair in itertools.combinations(g, 2)}


def score(
    method: str,
    labels: Sequence[object],
    truth: Sequence[str],
    candidates: set[tuple[int, int]] | None,
    seconds: float,
    megabytes: float,
    note: str = "",
) -> Score:
    predicted, true = link_pairs(labels), link_pairs(truth)
    hits = len(predicted & true)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    completeness = None
    if candidates is not None:
        completeness = len(candidates & true) / len(true) if true else 1.0
    return Score(method, precision, recall, f1, completeness, seconds, megabytes, note)
