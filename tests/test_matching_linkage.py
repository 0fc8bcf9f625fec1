"""Linkage mode: only pairs across sources, and one partner per record of a dedup-free source."""

from __future__ import annotations

from typing import Any

from contactsync.matching import MatchConfig, candidate_pairs_of, cluster
from contactsync.models import Contact

CONFIG = MatchConfig()


def person(**fields: Any) -> Contact:
    return Contact.model_validate(fields, context={"default_region": "US"})


def ann(email: str = "ann.lee@example.com") -> Contact:
    return person(first_name="Ann", last_name="Lee", emails=[{"address": email}])


def source(key: str) -> str:
    return key.split("-")[0]


def test_linkage_compares_only_pairs_across_sources() -> None:
    records = [("a-1", ann()), ("a-2", ann()), ("b-1", ann())]
    assert candidate_pairs_of(records, CONFIG) == {
        ("a-1", "a-2"),
        ("a-1", "b-1"),
        ("a-2", "b-1"),
    }
    assert candidate_pairs_of(records, CONFIG, source_of=source) == {
        ("a-1", "b-1"),
        ("a-2", "b-1"),
    }


def test_a_dedup_free_source_keeps_one_best_partner() -> None:
    best = person(
        first_name="Ann",
        last_name="Lee",
        emails=[{"address": "ann.lee@example.com"}],
        phones=[{"number": "404-555-0199", "type": "mobile"}],
    )
    records = [("a-1", best), ("b-1", ann()), ("b-2", ann())]
    free = cluster(records, CONFIG, source_of=source, dedup_free={"b"})
    assert free["b-1"] != free["b-2"]  # two records of source b never in one cluster
    assert free["a-1"] in (free["b-1"], free["b-2"])
    shared = cluster(records, CONFIG, source_of=source)
    assert len(set(shared.values())) == 1  # without the promise, both b copies join
