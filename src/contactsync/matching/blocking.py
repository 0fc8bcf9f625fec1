"""Blocking: which records are worth comparing at all, recall first.

Each record gets blocking keys in several passes; only records sharing a key are
scored. The passes:

* identifiers alone: email, phone, reference id, sync id;
* near identifiers: an email's local part (a typo in the domain), a phone's and a
  reference id's *deletion neighbourhood* (the value with one character left out,
  so one substituted, dropped, added or swapped digit still meets);
* names: every nickname root of the first name with the last (and maiden) name,
  as an unordered pair (first and last swapped still meet); phonetic keys
  (metaphone, :func:`contactsync.matching.names.phonetic`) of the last name with the
  first initial and of the first name with the last initial, so typos in one name
  still meet;
* weak pairs: birthday + an initial, birthday + postal code, street + postal code
  or city, house number + postal code, name + postal code, name + organization, last
  name (or its metaphone) + postal code, last name + city. A postal code or city that
  a quarter of the records share (census-style files of one town) narrows nothing: the
  weak pairs other than the street's leave it out.

A block larger than its limit (:data:`MAX_BLOCK`, 8 for exact names) is not
dropped but split by a second key (the names' first letters, then the postal code
or birth year); only what is still too large after that is left out (a role
mailbox, a switchboard), and its members still meet through their other keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from contactsync.matching.names import phonetic
from contactsync.matching.normalise import Features

MAX_BLOCK = 60
# Name blocks are capped lower: when this many records share a name, the name alone
# decides nothing, and the pairs worth scoring meet in a narrower block too.
MAX_BLOCK_BY_FAMILY = {
    "n": 8,
    "ph": 20,
    **dict.fromkeys(("fp", "lp", "mp", "lc", "ac", "hp", "bp"), 20),
}
# A postal code or city held by more than this share of the records is left out of the
# weak-pair keys (see common_places).
COMMON_PLACE_SHARE = 0.25
# Near-identifier keys are built only from values at least this long.
MIN_NEAR_LENGTH = 6
# A phone's deletion neighbourhood is built on its last digits only.
PHONE_TAIL = 9
IDENTIFIER_PREFIXES = ("e:", "p:")


def _pair(a: str, b: str) -> str:
    return f"{a}|{b}" if a <= b else f"{b}|{a}"


def deletions(value: str) -> set[str]:
    """The value with each one of its characters left out."""
    return {value[:n] + value[n + 1 :] for n in range(len(value))}


def common_places(items: Sequence[Features]) -> frozenset[str]:
    """Postal codes and cities that more than :data:`COMMON_PLACE_SHARE` of the records
    hold (one town's code for a whole file): paired with a name, they narrow nothing."""
    counts: dict[str, int] = {}
    for item in items:
        for place in {item.postal, item.city}:
            if place:
                counts[place] = counts.get(place, 0) + 1
    floor = max(MAX_BLOCK, COMMON_PLACE_SHARE * len(items))
    return frozenset(place for place, count in counts.items() if count > floor)


def blocking_keys(item: Features, common: frozenset[str] = frozenset()) -> set[str]:
    """The blocking keys of one record; weak pairs with a place in ``common`` are left out
    (see :func:`common_places`: the name keys already compare those records)."""
    keys: set[str] = set()
    keys.update(f"e:{email}" for email in item.emails)
    keys.update(f"p:{phone}" for phone in item.phones)
    for email in item.personal_emails:
        local = email.partition("@")[0]
        if len(local) >= MIN_NEAR_LENGTH - 2:
            keys.add(f"el:{local}")
    for phone in item.phones:
        tail = phone[-PHONE_TAIL:]
        if len(tail) >= MIN_NEAR_LENGTH:
            keys.update(f"pd:{near}" for near in deletions(tail))
    if item.reference:
        keys.add(f"r:{item.reference}")
        if len(item.reference) >= MIN_NEAR_LENGTH:
            keys.update(f"rd:{near}" for near in deletions(item.reference))
    if item.sync_id:
        keys.add(f"s:{item.sync_id}")
    roots = item.first_roots if not item.is_initial else frozenset()
    lasts = [name for name in (item.last, item.maiden) if name]
    postal = item.postal if item.postal not in common else ""
    city = item.city if item.city not in common else ""
    for root in roots:
        for last in lasts:
            keys.add(f"n:{_pair(root, last)}")
        if postal:
            keys.add(f"fp:{root}|{postal}")
        if item.org:
            keys.add(f"fo:{root}|{item.org}")
    if item.first and not roots and lasts:
        keys.add(f"n:{_pair(item.first, lasts[0])}")
    if item.first and item.last:
        keys.add(f"ph:{_pair(item.first[0], phonetic(item.last))}")
        if not item.is_initial:
            keys.add(f"ph:{_pair(phonetic(item.first), item.last[0])}")
    if item.birthday is not None:
        day = item.birthday.isoformat()
        for name in (item.first, *lasts):
            if name:
                keys.add(f"b:{day}|{name[0]}")
        if postal:
            keys.add(f"bp:{day}|{postal}")
    if item.street:  # a street narrows enough on its own: the place stays in its keys
        keys.add(f"a:{item.street}|{item.postal or item.city}")
    if item.last and postal:
        keys.add(f"lp:{item.last}|{postal}")
        keys.add(f"mp:{phonetic(item.last)}|{postal}")
    if item.city:
        if item.street and item.postal:  # a typo in the postal code still meets
            keys.add(f"ac:{item.street}|{item.city}")
        if item.last and city:
            keys.add(f"lc:{item.last}|{city}")
    if item.house_number and postal:
        keys.add(f"hp:{item.house_number}|{postal}")
    return keys


# Key families, strongest first: a pair met in several blocks belongs to the first family.
FAMILIES = (
    *("s", "e", "p", "r", "n", "b", "fp", "fo", "a", "lp"),
    *("el", "pd", "rd", "ph", "bp", "mp", "ac", "lc", "hp"),
)


def family_of(key: str) -> str:
    return key.partition(":")[0]


def block_limit(key: str) -> int:
    """The largest block of this key that is still worth comparing."""
    return MAX_BLOCK_BY_FAMILY.get(family_of(key), MAX_BLOCK)


def build_blocks(items: Sequence[Features]) -> dict[str, list[int]]:
    """Blocking key -> the positions of the records holding it (in ``items`` order).

    A block over its limit is split by :func:`split_key` (see the module docs)."""
    blocks: dict[str, list[int]] = {}
    common = common_places(items)
    for position, item in enumerate(items):
        for key in sorted(blocking_keys(item, common)):
            members = blocks.get(key)
            if members is None:
                blocks[key] = [position]
            else:
                members.append(position)
    smallest = min(MAX_BLOCK, *MAX_BLOCK_BY_FAMILY.values())  # most blocks are far below it
    oversized = [
        key
        for key, members in blocks.items()
        if len(members) > smallest and len(members) > block_limit(key)
    ]
    for key in oversized:
        members = blocks.pop(key)
        for depth in (1, 2):
            parts: dict[str, list[int]] = {}
            for position in members:
                parts.setdefault(split_key(items[position], depth), []).append(position)
            members = []
            for part, held in parts.items():
                if len(held) <= block_limit(key):
                    if len(held) > 1:
                        blocks[f"{key}/{part}"] = held
                else:
                    members.extend(held)
            if not members:
                break
    return blocks


def split_key(item: Features, depth: int) -> str:
    """The second key a too-large block is split by: the names' first two letters, then
    also the postal code (or city) and the birth year."""
    names = f"{item.first[:2]}{item.last[:2]}"
    if depth == 1:
        return names
    year = str(item.birthday.year) if item.birthday else ""
    return f"{names}|{item.postal or item.city}|{year}"


def candidate_pairs(
    blocks: dict[str, list[int]], size: int, sources: Sequence[int] | None = None
) -> dict[int, int]:
    """Every pair sharing a block of at most MAX_BLOCK records, once.

    Returns ``i * size + j`` (``i < j``) -> a bit mask of the key families (bit ``n``
    for ``FAMILIES[n]``) whose blocks brought the pair, in a deterministic order.
    With ``sources`` (a source number per position: linkage), pairs within one source
    are left out.
    """
    pairs: dict[int, int] = {}
    bits = {family: 1 << number for number, family in enumerate(FAMILIES)}
    for key, members in blocks.items():
        count = len(members)
        family = family_of(key)
        if count < 2 or count > MAX_BLOCK_BY_FAMILY.get(family, MAX_BLOCK):
            continue
        bit = bits[family]
        for x in range(count):
            first = members[x]
            for y in range(x + 1, count):
                second = members[y]
                if sources is not None and sources[first] == sources[second]:
                    continue
                code = first * size + second if first < second else second * size + first
                pairs[code] = pairs.get(code, 0) | bit
    return pairs


def identifier_value(key: str) -> str | None:
    """The email or phone number of an identifier key, else None."""
    if key.startswith(IDENTIFIER_PREFIXES):
        return key[2:]
    return None
