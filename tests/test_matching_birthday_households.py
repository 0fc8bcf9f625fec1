"""A shared birthday in "household" pairs: twins where people live together, one
person's records where nobody does (matching_estimate.birthday_is_personal).

The household rule keeps apart records with the same last name and address and first
names that cannot be one person's. In data without households (FEBRL's generator
replaces a duplicate's first name and keeps its birthday and address), almost every
such pair shares a birthday, and those pairs are one person; where people live
together, few do (twins), and they stay apart."""

from __future__ import annotations

from typing import Any

from contactsync.matching.matcher import MatchConfig, cluster
from contactsync.model.contact import Contact

CONFIG = MatchConfig()
# Pairs of first names that cannot be one person's (no nickname, initial or typo apart).
RENAMED = [
    ("Teaha", "Dylan"), ("Tate", "Jack"), ("Lukar", "Leah"), ("Madalyn", "Olivia"),
    ("Holly", "Matthew"), ("Maddison", "Jaden"), ("Elly", "Mikhaili"), ("Amelia", "Edward"),
    ("Kenji", "Priya"), ("Ingrid", "Pedro"), ("Fatima", "Lucas"), ("Sophie", "Ahmed"),
]  # fmt: skip
SURNAMES = [
    "Thorpe", "Broadby", "Reecs", "Gwatking", "Green", "Giordano", "Reid", "Ryan",
    "Okafor", "Lindqvist", "Kowalski", "Nguyen",
]  # fmt: skip


def person(first: str, last: str, number: int, birthday: str) -> Contact:
    fields: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "birthday": birthday,
        "address": {
            "lines": [f"{10 + number} Buvelot Street"],
            "city": f"Moonah {number}",
            "postal_code": f"{7300 + number}",
        },
    }
    return Contact.model_validate(fields, context={"default_region": "US"})


def strangers(count: int) -> list[tuple[str, Contact]]:
    """Unrelated people, one record each: the rest of the data set."""
    return [
        (
            f"s{n}",
            person(f"Name{n}", f"Family{n}", 100 + n, f"19{40 + n % 50}-0{1 + n % 9}-1{n % 9}"),
        )
        for n in range(count)
    ]


def pairs(renamed: int, birthday_of: Any) -> list[tuple[str, Contact]]:
    records = []
    for number, ((first, other), last) in enumerate(zip(RENAMED, SURNAMES, strict=True)):
        if number >= renamed:
            break
        records.append((f"a{number}", person(first, last, number, birthday_of(number, 0))))
        records.append((f"b{number}", person(other, last, number, birthday_of(number, 1))))
    return records


def joined(clusters: dict[str, int], count: int) -> int:
    return sum(clusters[f"a{n}"] == clusters[f"b{n}"] for n in range(count))


def test_renamed_first_names_in_data_without_households_are_one_person() -> None:
    records = pairs(12, lambda number, _: f"19{50 + number}-03-0{1 + number % 9}")
    clusters = cluster([*records, *strangers(60)], CONFIG)
    assert joined(clusters, 12) == 12


def test_too_few_such_pairs_say_nothing_twins_stay_apart() -> None:
    records = pairs(6, lambda number, _: f"19{50 + number}-03-0{1 + number % 9}")
    clusters = cluster([*records, *strangers(60)], CONFIG)
    assert joined(clusters, 6) == 0


HOUSEHOLD_FIRSTS = [
    "Oliver", "Chloe", "Noah", "Zoe", "Liam", "Emma", "Hugo", "Nora", "Felix", "Ada",
    "Oscar", "Iris", "Milo", "Ruth", "Axel", "Vera", "Ivan", "Lena", "Otto", "Mira",
    "Rolf", "Edna", "Saul", "Gina",
]  # fmt: skip


def test_twins_among_households_stay_apart() -> None:
    # Twelve pairs of twins, and twelve households whose two members have birthdays of
    # their own: people live together here, a shared birthday is what twins have.
    twins = pairs(12, lambda number, _: f"19{50 + number}-03-0{1 + number % 9}")
    households = [
        (f"h{number}{side}", person(HOUSEHOLD_FIRSTS[2 * number + side], f"{last}s", 50 + number,
                                    f"19{50 + number + 20 * side}-0{1 + side}-11"))
        for number, last in enumerate(SURNAMES)
        for side in (0, 1)
    ]  # fmt: skip
    clusters = cluster([*twins, *households, *strangers(60)], CONFIG)
    assert joined(clusters, 12) == 0
