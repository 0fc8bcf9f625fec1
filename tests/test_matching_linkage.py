"""Linkage mode: only pairs across sources, and one partner per record of a dedup-free source."""

from __future__ import annotations

from typing import Any

from contactsync.matching.matcher import MatchConfig, candidate_pairs_of, cluster
from contactsync.model.contact import Contact

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


def test_a_record_without_a_name_does_not_chain_two_people() -> None:
    """It may join one person, never bridge two named people it resembles (here two
    people of one family, whom nothing else keeps apart)."""
    ann_channels = {"emails": [{"address": "ann.lee@example.com"}], "phones": [MOBILES[0]]}
    tom_channels = {"emails": [{"address": "tom.lee@example.com"}], "phones": [MOBILES[1]]}
    ann_record = person(first_name="Ann", last_name="Lee", **ann_channels)
    tom_record = person(first_name="Tom", last_name="Lee", **tom_channels)
    nameless = person(
        emails=ann_channels["emails"] + tom_channels["emails"],
        phones=ann_channels["phones"] + tom_channels["phones"],
    )
    clusters = cluster([("a", ann_record), ("n", nameless), ("t", tom_record)], CONFIG)
    assert clusters["a"] != clusters["t"]
    assert clusters["n"] in (clusters["a"], clusters["t"])


MOBILES = [
    {"number": "404-555-0199", "type": "mobile"},
    {"number": "404-555-0177", "type": "mobile"},
]


def test_noisy_spellings_of_one_holder_do_not_make_a_mailbox_shared() -> None:
    from contactsync.matching.normalise import features
    from contactsync.matching.stats import is_shared

    spellings = [("Jonathan", "Smith"), ("Jonathon", "Smith"), ("J.", "Smith"),
                 ("Jonatan", "Smyth"), ("Smith", "Jonathan"), ("Johnathan", "Smiht")]  # fmt: skip
    one = [features(person(first_name=f, last_name=last)) for f, last in spellings]
    assert not is_shared(one)
    three = [features(person(first_name=f, last_name="Smith")) for f in ("John", "Mary", "Omar")]
    assert is_shared(three)
