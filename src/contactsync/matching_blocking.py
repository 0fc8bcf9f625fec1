"""Blocking: which records are worth comparing at all.

Each record gets a handful of *blocking keys*; only records sharing a key are
scored. The keys pair a strong identifier with nothing (email, phone, reference
id, sync id) or a weak one with another (name root + last name, birthday + an
initial, street + postal code, name + postal code, name + organization), so that
each block stays small and the number of pairs grows close to linearly with the
number of records. A block larger than :data:`MAX_BLOCK` (20 for names) says nothing about
identity (a role mailbox, a switchboard, a very common name in a big city) and is
skipped; its members still meet through their other keys.

Name keys are unordered pairs, so ``John Smith`` and ``Smith John`` (first and
last swapped) share one, and are built from every nickname root of the first
name and from the maiden name too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from contactsync.matching_normalise import Features

MAX_BLOCK = 60
# Name blocks are capped lower: when this many records share a name, the name alone
# decides nothing, and the pairs worth scoring meet in a narrower block too.
MAX_BLOCK_BY_FAMILY = {"n": 8}
IDENTIFIER_PREFIXES = ("e:", "p:")


def _pair(a: str, b: str) -> str:
    return f"{a}|{b}" if a <= b else f"{b}|{a}"


def blocking_keys(item: Features) -> set[str]:
    """The blocking keys of one record."""
    keys: set[str] = set()
    keys.update(f"e:{email}" for email in item.emails)
    keys.update(f"p:{phone}" for phone in item.phones)
    if item.reference:
        keys.add(f"r:{item.reference}")
    if item.sync_id:
        keys.add(f"s:{item.sync_id}")
    roots = item.first_roots if not item.is_initial else frozenset()
    lasts = [name for name in (item.last, item.maiden) if name]
    for root in roots:
        for last in lasts:
            keys.add(f"n:{_pair(root, last)}")
        if item.postal:
            keys.add(f"fp:{root}|{item.postal}")
        if item.org:
            keys.add(f"fo:{root}|{item.org}")
    if item.first and not roots and lasts:
        keys.add(f"n:{_pair(item.first, lasts[0])}")
    if item.birthday is not None:
        day = item.birthday.isoformat()
        for name in (item.first, *lasts):
            if name:
                keys.add(f"b:{day}|{name[0]}")
    if item.street:
        keys.add(f"a:{item.street}|{item.postal or item.city}")
    if item.last and item.postal:
        keys.add(f"lp:{item.last}|{item.postal}")
    return keys


# Key families, strongest first: a pair met in several blocks belongs to the first family.
FAMILIES = ("s", "e", "p", "r", "n", "b", "fp", "fo", "a", "lp")
# The fields a family's blocks agree on by construction (left out when learning from them).
FAMILY_FIELDS: dict[str, frozenset[str]] = {
    "s": frozenset(),
    "e": frozenset({"email"}),
    "p": frozenset({"phone"}),
    "r": frozenset({"reference"}),
    "n": frozenset({"first", "last"}),
    "b": frozenset({"birthday", "first", "last"}),
    "fp": frozenset({"first", "place"}),
    "fo": frozenset({"first", "org"}),
    "a": frozenset({"street", "place"}),
    "lp": frozenset({"last", "place"}),
}


def family_of(key: str) -> str:
    return key.partition(":")[0]


def block_limit(key: str) -> int:
    """The largest block of this key that is still worth comparing."""
    return MAX_BLOCK_BY_FAMILY.get(family_of(key), MAX_BLOCK)


def build_blocks(items: Iterable[Features]) -> dict[str, list[int]]:
    """Blocking key -> the positions of the records holding it (in ``items`` order)."""
    blocks: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        for key in sorted(blocking_keys(item)):
            members = blocks.get(key)
            if members is None:
                blocks[key] = [position]
            else:
                members.append(position)
    return blocks


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
