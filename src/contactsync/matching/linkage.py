"""Linkage of sources: which source each record comes from, and which sources hold no
duplicates.

In linkage mode only pairs across sources are compared. A source is *dedup-free* when
it is said to be, or when it visibly is: most of its records hold an identifier (an
email, a phone, a reference id) and no identifier value is held twice within it. A
cluster holds at most one record of each dedup-free source; links are taken strongest
first, so that record is the best partner (a one-to-one or many-to-one assignment).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Sequence
from typing import TypeVar

from contactsync.matching.normalise import Features

K = TypeVar("K", bound=Hashable)

# Share of a source's records that must hold an identifier before the absence of
# repeated identifiers says anything about duplicates.
DETECT_MIN_IDENTIFIED = 0.5
# A source this small is never called dedup-free on its own evidence.
DETECT_MIN_RECORDS = 20


def source_numbers(keys: Sequence[K], source_of: Callable[[K], str]) -> tuple[list[int], list[str]]:
    """A number per record for its source (in order of first appearance), and the names."""
    names: dict[str, int] = {}
    numbers = []
    for key in keys:
        name = source_of(key)
        numbers.append(names.setdefault(name, len(names)))
    return numbers, list(names)


def _identifiers(item: Features) -> set[str]:
    values = {f"e:{e}" for e in item.personal_emails}
    values |= {f"p:{p}" for p in item.mobiles}
    if item.reference:
        values.add(f"r:{item.reference}")
    return values


def detected_dedup_free(items: Sequence[Features], sources: Sequence[int]) -> set[int]:
    """Sources whose records visibly hold no duplicates (see the module docs)."""
    seen: dict[int, set[str]] = {}
    identified: dict[int, int] = {}
    total: dict[int, int] = {}
    repeated: set[int] = set()
    for item, source in zip(items, sources, strict=True):
        total[source] = total.get(source, 0) + 1
        values = _identifiers(item)
        if not values:
            continue
        identified[source] = identified.get(source, 0) + 1
        held = seen.setdefault(source, set())
        if not held.isdisjoint(values):
            repeated.add(source)
        held |= values
    return {
        source
        for source, count in total.items()
        if count >= DETECT_MIN_RECORDS
        and source not in repeated
        and identified.get(source, 0) >= DETECT_MIN_IDENTIFIED * count
    }


def exclusive_sources(
    items: Sequence[Features],
    sources: Sequence[int],
    names: Sequence[str],
    dedup_free: Collection[str],
) -> list[int]:
    """Per record, its source number when that source is dedup-free (said or detected),
    else -1."""
    free = {number for number, name in enumerate(names) if name in set(dedup_free)}
    free |= detected_dedup_free(items, sources)
    return [source if source in free else -1 for source in sources]
