"""Which vendor fields the planner empties: those only a stale email or phone fills.

The planner writes only fields with a value, so an item that should be gone from a
target (a second email, an old mobile number) stays there unless its field is
emptied on purpose. Two kinds of item are stale:

* one a user removed: its newest change, by the golden provenance, removed it;
* a leftover of contactsync's own: the target holds it only because contactsync wrote
  it there (its field time in that record is ``own``) and the golden record no longer
  has it. Own copies have no say in the golden record, so nothing else would ever take
  such an item out; leaving it would show a value nobody holds any more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contactsync.engine.ports import LinkingState
from contactsync.model.contact import Contact
from contactsync.model.field_changes import FieldTimes
from contactsync.state.types import StoredRecord

_EMPTY: tuple[Any, ...] = (None, "", [], {})


def removed_items(state: LinkingState, person_id: str) -> frozenset[str]:
    """The emails and phones whose newest change, by the golden provenance, removed them."""
    person = state.get_person(person_id)
    if person is None:
        return frozenset()
    return frozenset(
        key.split(":", 1)[1]
        for key, entry in person.provenance.items()
        if key.startswith(("emails:", "phones:"))
        and isinstance(entry, dict)
        and entry.get("removed")
    )


def fields_to_clear(
    outbound: Callable[[Contact], dict[str, Any]], current: Contact | None, removed: frozenset[str]
) -> frozenset[str]:
    """The target's top-level fields that only an email or phone a user removed fills
    (its old mobile number, a second email): the planner empties them, since leaving
    them would keep the removed value alive there."""
    if current is None or not removed:
        return frozenset()
    emails = [e for e in current.emails if e.address not in removed]
    phones = [p for p in current.phones if p.number not in removed]
    if len(emails) == len(current.emails) and len(phones) == len(current.phones):
        return frozenset()
    have = outbound(current)
    without = outbound(current.model_copy(update={"emails": emails, "phones": phones}))
    return frozenset(
        key for key, value in have.items() if value not in _EMPTY and without.get(key) in _EMPTY
    )


def own_leftovers(
    times: Mapping[tuple[str, str], FieldTimes], live: Sequence[StoredRecord], golden: Contact
) -> frozenset[str]:
    """Items the target record holds as contactsync's own copy that the golden lacks."""
    if not live:
        return frozenset()
    record_times = times.get((live[0].system, live[0].external_id), {})
    wanted = {e.address for e in golden.emails} | {p.number for p in golden.phones}
    items = (
        key.split(":", 1)[1]
        for key, time in record_times.items()
        if time.own and key.startswith(("emails:", "phones:"))
    )
    return frozenset(item for item in items if item not in wanted)
