"""First sight of a person: keep what the systems already agree on (issue 15).

When the state knows nothing of a field's history (a lost state rebuilt from the
systems, a first backfill, a field nobody changed since), each record's field carries
only the record's own change time from when contactsync first saw it, after a
backfill usually contactsync's own last write, milliseconds apart from one system to
the next. Newest change wins (:mod:`contactsync.engine.golden`) would then re-decide, field
by field, values the systems already agree on, and write them all again: a full name
a system keeps in one field over the same name in parts, a primary phone chosen
anew, a default a system filled in itself. A field a user changed since has a
history (:func:`settled_keys`): there the merge alone decides.

So for each canonical field without a history, a value is *agreed* when every system
holding a record of the person would be left as it is: the vendor fields that depend
on this field (those that tell the candidate values apart) come out of the outbound
mapping for the golden record with that value as the system holds them, or empty
where the system holds that value in another of its fields (a number in two phone
slots). When the merge's own value is agreed, or no candidate is, the merge's
result stands (a real difference is still written, newest change first); otherwise
the agreed value the merge's order prefers (newest change, then priority) is taken.
The candidates are the records' own values, never an empty one (an empty value is
never written, so nothing would hold against it).

Emails and phones are decided as whole lists (see :func:`_decide_list`): the
merge's items, each as the merge or another record has it, or left out (a number a
system filled in from the organization's telephone), and which comes first. An item
a system holds whose mapping cannot write that list (Xurrent's phones) is never left
out: its users may have added it, and no other system's fields could say so.

The fields are decided one after another in a fixed order (each with the fields
before it decided), so the result is a function of the records, never of their order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contactsync.engine.golden import (
    Judge,
    Opinion,
    Provenance,
    SourceContact,
    UntimedRule,
    provenance_of,
)
from contactsync.engine.plan import flatten, same_value
from contactsync.model.contact import Contact
from contactsync.model.field_changes import ORGANIZATION_NAME, SCALAR_FIELDS, FieldTime

Outbound = Callable[[Contact], dict[str, Any]]
_EMPTY: tuple[Any, ...] = (None, "", [], {})


@dataclass(frozen=True)
class Holder:
    """A system holding a record of the person: that record, the system's mapping and
    the field keys its outbound mapping writes from (None: every field)."""

    system: str
    outbound: Outbound
    current: Contact
    written: frozenset[str] | None = None


#: outbound sources that stand for several field keys (``name``: the full name, or
#: else its parts, see the ``join_name`` transform)
_SOURCE_KEYS = {"name": frozenset({"full_name", "first_name", "middle_name", "last_name"})}


def written_keys(source_fields: Iterable[str]) -> frozenset[str]:
    """The field keys (see :mod:`contactsync.model.field_changes`) an outbound mapping writes
    from, given the canonical fields its rules read (``address.city``, ``phones``)."""
    keys: set[str] = set()
    for name in source_fields:
        if name == ORGANIZATION_NAME:
            keys.add(name)
        else:
            root = name.split(".", 1)[0]
            keys |= _SOURCE_KEYS.get(root, {root})
    return frozenset(keys)


#: Whether a candidate fits what a system that cannot write the field holds there:
#: (its record, the candidate golden record) -> bool.
Fits = Callable[[Contact, Contact], bool]


def _filled(value: Any) -> bool:
    if hasattr(value, "is_empty"):
        return not value.is_empty()
    return value not in _EMPTY and not (isinstance(value, str) and not value.strip())


def _left_alone(path: str, held: Mapping[str, Any], out: Mapping[str, Any]) -> bool:
    """Whether mapping out ``out`` leaves the vendor field ``path`` as ``held`` has it:
    the same value, or none to write where the value is still written elsewhere in
    the same record (a number held in two phone slots, the golden record in one)."""
    have, want = held.get(path), out.get(path)
    if same_value(have, want) or (have in _EMPTY and want in _EMPTY):
        return True
    if want not in _EMPTY:
        return False
    return any(v == have or (isinstance(v, list) and have in v) for v in out.values())


class _Agreement:
    """Which variants of the golden record leave every holder as it is."""

    def __init__(self, holders: Sequence[Holder]) -> None:
        self._holders = [(h, flatten(h.outbound(h.current))) for h in holders]

    def distance(self, variant: Contact) -> int:
        """How many vendor fields, over all holders, ``variant`` maps out unlike what the
        holder has (fields no mapping writes count for every variant alike)."""
        count = 0
        for holder, held in self._holders:
            out = flatten(holder.outbound(variant))
            count += sum(1 for path in {*held, *out} if not _left_alone(path, held, out))
        return count

    def agreed(self, key: str, variants: Sequence[Contact], fits: Fits | None = None) -> list[bool]:
        """For each variant: True when, in every holder, each vendor field whose value
        differs between the variants comes out as the holder has it, and, with ``fits``,
        every holder whose mapping cannot write the field ``key`` fits it."""
        verdicts = [True] * len(variants)
        for holder, held in self._holders:
            if holder.written is not None and key not in holder.written:
                if fits is None:
                    continue
                verdicts = [
                    ok and fits(holder.current, v) for ok, v in zip(verdicts, variants, strict=True)
                ]
                continue
            outs = [flatten(holder.outbound(variant)) for variant in variants]
            paths = sorted({path for out in outs for path in out})
            telling = [p for p in paths if any(not _same(outs[0].get(p), o.get(p)) for o in outs)]
            for number, out in enumerate(outs):
                if verdicts[number] and not all(_left_alone(p, held, out) for p in telling):
                    verdicts[number] = False
        return verdicts


def _same(left: Any, right: Any) -> bool:
    return same_value(left, right) or (left in _EMPTY and right in _EMPTY)


def prefer_agreed(
    golden: Contact,
    provenance: Mapping[str, Provenance],
    sources: Sequence[SourceContact],
    holders: Sequence[Holder],
    priority: Mapping[str, int],
    untimed: UntimedRule = "timestamped_wins",
    settled: Collection[str] = frozenset(),
) -> tuple[Contact, dict[str, Provenance]]:
    """The golden record with, field by field, a value the holders already agree on in
    place of the merge's (see the module docstring), and its provenance. The fields
    of the ``settled`` keys (see :func:`settled_keys`) keep the merge's value."""
    judge = Judge(priority, untimed)
    ordered = judge.ordered(sources)
    agreement = _Agreement(holders)
    chosen = dict(provenance)
    for name in (n for n in SCALAR_FIELDS if n not in settled):
        opinions = [
            Opinion(s, s.time_of(name), value)
            for s in ordered
            if _filled(value := getattr(s.contact, name))
        ]
        golden = _decide(golden, name, opinions, agreement, judge, chosen, _with_scalar(name))
    if golden.organization is not None and ORGANIZATION_NAME not in settled:
        names = [
            Opinion(s, s.time_of(ORGANIZATION_NAME), org.name)
            for s in ordered
            if (org := s.contact.organization) is not None and _filled(org.name)
        ]
        golden = _decide(golden, ORGANIZATION_NAME, names, agreement, judge, chosen, _with_org_name)
    for field in ("emails", "phones"):
        if not any(k == f"{field}.primary" or k.startswith(f"{field}:") for k in settled):
            golden = _decide_list(golden, field, ordered, agreement, judge, chosen)
    return golden, chosen


def settled_keys(record_times: Iterable[Mapping[str, FieldTime]]) -> frozenset[str]:
    """The field keys some record has seen a user's change of since contactsync first
    saw it: those the merge decides alone (newest change wins). The others carry only
    records' times from their first sight, or contactsync's own copies, so nothing says
    which value is newer: what the systems agree on is kept there."""
    return frozenset(
        key for times in record_times for key, time in times.items() if not (time.first or time.own)
    )


def _with_scalar(name: str) -> Callable[[Contact, Any], Contact]:
    return lambda golden, value: golden.model_copy(update={name: value})


def _with_org_name(golden: Contact, name: Any) -> Contact:
    assert golden.organization is not None
    organization = golden.organization.model_copy(update={"name": name})
    return golden.model_copy(update={"organization": organization})


def _value_of(golden: Contact, key: str) -> Any:
    if key == ORGANIZATION_NAME:
        return golden.organization.name if golden.organization is not None else None
    return getattr(golden, key)


def _decide(
    golden: Contact,
    key: str,
    opinions: Sequence[Opinion],
    agreement: _Agreement,
    judge: Judge,
    chosen: dict[str, Provenance],
    with_value: Callable[[Contact, Any], Contact],
) -> Contact:
    """One field: the merge's value unless another candidate is agreed and it is not."""
    merged = _value_of(golden, key)
    candidates: list[Any] = []
    for opinion in opinions:
        if opinion.value not in candidates:
            candidates.append(opinion.value)
    if not candidates or candidates == [merged]:
        return golden  # nothing to choose between
    variants = [with_value(golden, value) for value in candidates]
    if key != "status":  # the one field that is never empty
        # the field emptied too: a vendor field that depends on it only when it is empty
        # (a name written from its parts when there is no full name) still depends on it
        variants.append(with_value(golden, None))

    verdicts = agreement.agreed(key, variants)[: len(candidates)]
    agreed = [value for value, ok in zip(candidates, verdicts, strict=True) if ok]
    if not agreed or merged in agreed:
        return golden
    best = judge.winner([o for o in opinions if o.value in agreed])
    if best is None:
        return golden
    chosen[key] = provenance_of(best)
    return with_value(golden, best.value)


def _decide_list(
    golden: Contact,
    field: str,
    ordered: Sequence[SourceContact],
    agreement: _Agreement,
    judge: Judge,
    chosen: dict[str, Provenance],
) -> Contact:
    """The emails (phones): the merge's items, each as the merge has it, as another
    record has it (a system that types no phones calls them all "other") or left out
    (a number a system filled in from elsewhere, such as an office phone from the
    organization's telephone, is not the person's own), and first the merge's primary
    or a record's own.

    The items depend on each other in the systems' fields (the first work phone fills
    one slot, a single phone field takes the work phone or else the first), so the
    list is searched as a whole: one change at a time (each item's other copies,
    leaving it out, each record's primary first), the one that leaves the fewest
    vendor fields unlike what the systems hold, until no change helps. The list found
    is taken only when it is agreed (see :class:`_Agreement`) and the merge's is not:
    else the merge's result stands."""
    merged: list[Any] = list(getattr(golden, field))
    identity = _identity(field)
    copies: dict[str, list[Opinion]] = {}
    primaries: dict[str, list[Opinion]] = {}
    for source in ordered:
        own = getattr(source.contact, field)
        for item in own:
            key = f"{field}:{identity(item)}"
            copies.setdefault(identity(item), []).append(Opinion(source, source.time_of(key), item))
        if own:
            first = Opinion(source, source.time_of(f"{field}.primary"), identity(own[0]))
            primaries.setdefault(identity(own[0]), []).append(first)
    best, best_score = merged, agreement.distance(_with_list(golden, field, merged))
    for _step in range(2 * len(merged) + 2):  # each step must help: a few at most
        moves = _moves(best, identity, copies, primaries, judge)
        scored = [(agreement.distance(_with_list(golden, field, m)), m) for m in moves]
        better = [(score, move) for score, move in scored if score < best_score]
        if not better:
            break
        best_score, best = min(better, key=lambda pair: pair[0])  # the first of equals
    if best == merged:
        return golden
    found, as_merged = _with_list(golden, field, best), _with_list(golden, field, merged)
    if not found.is_identifiable():
        return golden  # known by this email or phone alone: never left without it

    # A list that leaves an item out must keep every item a system holds that cannot
    # write the list (Xurrent's phones): its users may have added it there, and no
    # other system's fields could say so. (A scalar candidate is always some record's
    # own value, so none is checked so: a system's own full-name string that it never
    # has written would otherwise keep a name other systems hold in parts unsettled.)
    def fits(held: Contact, variant: Contact) -> bool:
        kept = {identity(item) for item in getattr(variant, field)}
        return all(identity(item) in kept for item in getattr(held, field))

    if agreement.agreed(field, [found, as_merged], fits) != [True, False]:
        return golden
    _note_provenance(field, merged, best, identity, copies, primaries, judge, chosen)
    return found


def _moves(
    items: list[Any],
    identity: Callable[[Any], str],
    copies: Mapping[str, Sequence[Opinion]],
    primaries: Mapping[str, Sequence[Opinion]],
    judge: Judge,
) -> list[list[Any]]:
    """Every list one change away from ``items``, in a fixed order (the merge's order
    of preference among the copies)."""
    moves: list[list[Any]] = []
    for at, item in enumerate(items):
        for opinion in _by_preference(copies.get(identity(item), ()), judge):
            if opinion.value != item:
                moves.append([*items[:at], opinion.value, *items[at + 1 :]])
        moves.append([*items[:at], *items[at + 1 :]])
    for at, item in enumerate(items[1:], start=1):
        if identity(item) in primaries:
            moves.append([item, *items[:at], *items[at + 1 :]])
    return moves


def _by_preference(opinions: Sequence[Opinion], judge: Judge) -> list[Opinion]:
    """The opinions, the one the merge would take first."""
    left, ranked = list(opinions), []
    while left:
        best = judge.winner(left) or left[0]  # contactsync's own copies have no say: last
        ranked.append(best)
        left.remove(best)
    return ranked


def _note_provenance(
    field: str,
    merged: Sequence[Any],
    found: Sequence[Any],
    identity: Callable[[Any], str],
    copies: Mapping[str, Sequence[Opinion]],
    primaries: Mapping[str, Sequence[Opinion]],
    judge: Judge,
    chosen: dict[str, Provenance],
) -> None:
    """Who said each item and the primary of the list found, where it differs from
    the merge's: the record the merge prefers among those that hold it so."""
    kept = {identity(item): item for item in found}
    for item in merged:
        key = f"{field}:{identity(item)}"
        if identity(item) not in kept:
            chosen.pop(key, None)  # left out: no opinion of the golden record on it
        elif kept[identity(item)] != item:
            holding = [o for o in copies[identity(item)] if o.value == kept[identity(item)]]
            if (best := judge.winner(holding)) is not None:
                chosen[key] = provenance_of(best)
    if not found:
        chosen.pop(f"{field}.primary", None)
    elif not merged or identity(found[0]) != identity(merged[0]):
        best = judge.winner(primaries.get(identity(found[0]), ()))
        if best is not None:
            chosen[f"{field}.primary"] = provenance_of(best)


def _with_list(golden: Contact, field: str, items: Sequence[Any]) -> Contact:
    return golden.model_copy(update={field: [item.model_copy() for item in items]})


def _identity(field: str) -> Callable[[Any], str]:
    if field == "emails":
        return lambda item: str(item.address)
    return lambda item: str(item.number)


__all__ = ["Holder", "prefer_agreed", "settled_keys", "written_keys"]
