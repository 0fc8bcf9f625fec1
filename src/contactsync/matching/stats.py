"""What the matcher learns from the data itself, without labels.

* **Term frequencies.** Agreeing on a rare last name is stronger evidence than
  agreeing on ``Smith``: the chance that two different people agree on a value
  (Fellegi-Sunter's *u*) is that value's share of the records, smoothed towards a
  per-field default so that a small data set does not over-trust its counts.
* **Shared values.** An email or a phone number that records with three or more
  unrelated first names hold (noisy spellings of one person's name are not
  unrelated: see :func:`could_be_one_holder`) (or that more than :data:`MAX_PERSONAL_HOLDERS`
  records hold) belongs to a team, a household or a switchboard, not to a person;
  it never decides identity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz.distance import JaroWinkler

from contactsync.matching.names import compare_last, first_names_compatible
from contactsync.matching.normalise import Features

# Pseudo-records of prior belief behind every frequency (additive smoothing).
SMOOTHING = 1000.0
# Expected share of the records that hold a given value, before any data is seen.
DEFAULT_SHARE = {
    "first": 1 / 200,
    "last": 1 / 500,
    "street": 1 / 5000,
    "postal": 1 / 500,
    "city": 1 / 200,
    "org": 1 / 2000,
}
# The evidence is weighed as if there were at least this many records: a tiny data set
# (a test, the first run) must not make a name-only match look certain.
MIN_POPULATION = 10_000
# An identifier held by more records than this is a shared one, whoever holds it.
MAX_PERSONAL_HOLDERS = 12
# An identifier held by records with this many mutually unrelated first names is shared.
SHARED_NAME_GROUPS = 3
# First names this similar (Jaro-Winkler) are one holder's when the last names agree.
HOLDER_FIRST_JW = 0.9
LAST_NAMES_AGREEING = frozenset({"exact", "maiden", "part", "typo", "phonetic", "missing"})


@dataclass
class Frequencies:
    """Counts of field values over the records seen (kept up to date incrementally)."""

    total: int = 0
    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {name: Counter() for name in DEFAULT_SHARE}
    )
    _surprise: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)

    def update(self, item: Features, sign: int = 1) -> None:
        """Count (``sign=1``) or uncount (``sign=-1``) one record's values."""
        self.total += sign
        self._surprise.clear()
        values = {
            "first": item.first,
            "last": item.last,
            "street": item.street,
            "postal": item.postal,
            "city": item.city,
            "org": item.org,
        }
        for name, value in values.items():
            if value:
                counter = self.counts[name]
                counter[value] += sign
                if counter[value] <= 0:
                    del counter[value]

    def share(self, field_name: str, value: str) -> float:
        """The smoothed share of the records holding ``value`` in ``field_name``."""
        count = self.counts[field_name].get(value, 0)
        prior = DEFAULT_SHARE[field_name]
        return (count + SMOOTHING * prior) / (self.total + SMOOTHING)

    def surprise(self, field_name: str, value: str) -> float:
        """``-log2(share)``: the bits of agreeing on ``value`` by chance (cached)."""
        key = (field_name, value)
        bits = self._surprise.get(key)
        if bits is None:
            bits = self._surprise[key] = -math.log2(self.share(field_name, value))
        return bits

    @property
    def log_population(self) -> float:
        return math.log2(max(self.total, MIN_POPULATION))


def could_be_one_holder(a: Features, b: Features) -> bool:
    """Whether two holders of a value could be one person spelt two ways: compatible
    first names (nickname, typo, initial, phonetic ...), or, when their last names
    agree (exactly, by a typo or by sound), first names that are merely similar."""
    if first_names_compatible(a, b):
        return True
    last, _ = compare_last(a, b)
    if last not in LAST_NAMES_AGREEING:
        return False
    return JaroWinkler.similarity(a.first, b.first) >= HOLDER_FIRST_JW


def name_groups(holders: Iterable[Features], limit: int = SHARED_NAME_GROUPS) -> int:
    """How many mutually unrelated first names the holders have (counting stops at limit)."""
    groups: list[Features] = []
    for holder in holders:
        if not holder.first:
            continue
        if all(not could_be_one_holder(holder, other) for other in groups):
            groups.append(holder)
            if len(groups) >= limit:
                break
    return len(groups)


def is_shared(holders: list[Features]) -> bool:
    """Whether a value held by these records belongs to no single person."""
    if len(holders) > MAX_PERSONAL_HOLDERS:
        return True
    return name_groups(holders) >= SHARED_NAME_GROUPS
