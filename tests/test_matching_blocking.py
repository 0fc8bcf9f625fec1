"""Blocking keys: a place most records share narrows nothing; and the name crossing
that every pair with disagreeing names asks for."""

from __future__ import annotations

import itertools
from typing import Any

from contactsync.matching.blocking import blocking_keys, build_blocks, common_places
from contactsync.matching.names import crossed, names_crossed, swapped
from contactsync.matching.normalise import Features, features
from contactsync.model.contact import Contact

WEAK_PLACE_FAMILIES = ("fp:", "lp:", "mp:", "hp:", "bp:", "lc:")


def person(first: str, last: str, **fields: Any) -> Features:
    data = {"first_name": first, "last_name": last, **fields}
    return features(Contact.model_validate(data, context={"default_region": "US"}))


def town(count: int) -> list[Features]:
    """``count`` people of one town: one postal code and city for all."""
    return [
        person(
            f"First{chr(97 + n % 26)}{chr(97 + n // 26)}",
            f"Last{chr(97 + n % 26)}{chr(97 + n // 26)}",
            birthday=f"19{50 + n % 40}-01-0{1 + n % 9}",
            address={"lines": [f"{n} Main Street"], "postal_code": "00000", "city": "Anytown"},
        )
        for n in range(count)
    ]


def weak_place_keys(keys: set[str], place: str) -> set[str]:
    return {k for k in keys if k.startswith(WEAK_PLACE_FAMILIES) and k.endswith(f"|{place}")}


def test_a_place_most_records_share_is_left_out_of_the_weak_pair_keys() -> None:
    items = town(100)
    elsewhere = person(
        "Ann", "Lee", address={"lines": ["9 Oak Road"], "postal_code": "30301", "city": "Atlanta"}
    )
    items.append(elsewhere)
    common = common_places(items)
    assert common == {"00000", "anytown"}
    assert weak_place_keys(blocking_keys(items[0], common), "00000") == set()
    assert weak_place_keys(blocking_keys(items[0], common), "anytown") == set()
    # the street keeps its place; the name keys stay
    assert "a:0mainstreet|00000" in blocking_keys(items[0], common)
    assert any(k.startswith("n:") for k in blocking_keys(items[0], common))
    # a rare place still makes weak-pair keys
    assert weak_place_keys(blocking_keys(elsewhere, common), "30301")
    assert not any(key.endswith("|00000") and key.startswith("lp:") for key in build_blocks(items))


def test_a_small_file_has_no_common_place() -> None:
    """A few records of one town: the share alone says nothing below MAX_BLOCK records."""
    items = town(20)
    assert common_places(items) == frozenset()
    assert weak_place_keys(blocking_keys(items[0]), "00000")


def test_names_crossed_is_swapped_and_crossed_at_once() -> None:
    names = [
        ("Ann", "Lee"),
        ("Lee", "Ann"),
        ("Lee", "Anne"),
        ("Bob", "White"),
        ("White", "Robert"),
        ("Whtie", "Bob"),
        ("Tom", "Tom"),
        ("Ann", ""),
        ("", "Lee"),
    ]
    items = [person(first, last) for first, last in names]
    # a nickname counts on one side: Robert "Bob" White and a Bob Robert
    items += [person("Robert", "White", nickname="Bob"), person("Bob", "Robert")]
    for a, b in itertools.product(items, repeat=2):
        assert names_crossed(a, b) == (swapped(a, b), crossed(a, b))
