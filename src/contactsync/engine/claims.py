"""Who holds what a vendor keeps to one record: names (a vendor may refuse a second
contact by name unless told it is a different person) and unique values (an email
address a vendor lets only one record hold).

The planner checks every create against them and registers the creates it plans, so a
person planned later in the same run meets them too. The tables are read per system
when the first create there is planned (see :class:`~contactsync.engine.queue.PerSystem`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contactsync.adapters.base import unique_key, unique_values
from contactsync.engine.ports import LinkingState
from contactsync.engine.queue import NamesTaken, NameTable, PerSystem
from contactsync.model.contact import Action, ActionKind, Contact


def claim_names(actions: Iterable[Action], golden: Contact, taken: NamesTaken) -> None:
    """Register the names this plan is about to create, so two different people with one
    name planned in the same run both know the name is shared."""
    for action in actions:
        if action.kind is ActionKind.CREATE and action.system in taken:
            taken[action.system].setdefault(name_key(golden), set()).add(action.person_id)


def name_key(contact: Contact) -> tuple[str, str]:
    return ((contact.first_name or "").casefold(), (contact.last_name or "").casefold())


@dataclass(frozen=True)
class UniqueHolders:
    """Who holds the values one system keeps unique: ``fields`` are the vendor payload
    fields (one namespace for all of them), ``holders`` map each value (stripped,
    casefolded) to (person id, external id) of the stored record holding it, or
    (person id, None) for a create already planned in this run."""

    fields: tuple[str, ...]
    holders: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def values_of(self, payload: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(field, value) of each unique value a payload carries, as sent."""
        return unique_values(self.fields, payload)

    def refusal(self, payload: Mapping[str, Any], person_id: str) -> str | None:
        """Why the vendor would refuse to create this payload for ``person_id``, or None."""
        for name, value in self.values_of(payload):
            holder = self.holders.get(unique_key(value))
            if holder is None or holder[0] == person_id:
                continue
            if holder[1] is None:
                return f"another person ({holder[0]}) is being created with {name} {value.strip()}"
            return f"{_HELD_BY}{holder[1]}{_HELD_BY_END}{name} {value.strip()}"
        return None


# How a refusal names the record holding the value (read back by still_held).
_HELD_BY = "another person's record (id "
_HELD_BY_END = ") already holds "


def still_held(state: LinkingState, system: str, person_id: str, reason: str) -> bool | None:
    """Whether the record a :meth:`UniqueHolders.refusal` named still holds the value,
    for another person than ``person_id``; None when ``reason`` is no such refusal."""
    if not reason.startswith(_HELD_BY) or _HELD_BY_END not in reason:
        return None
    external_id, _, rest = reason[len(_HELD_BY) :].partition(_HELD_BY_END)
    value = unique_key(rest.partition(" ")[2])
    record = state.get_record(system, external_id)
    if record is None or record.deleted or record.person_id is None:
        return False
    if state.resolve_person(record.person_id) == state.resolve_person(person_id):
        return False
    # any top-level field, as the holders are read: the unique fields share one namespace
    fields = record.raw.values() if isinstance(record.raw, dict) else ()
    items = [i for f in fields for i in (f if isinstance(f, list) else [f])]
    return any(isinstance(i, str) and unique_key(i) == value for i in items)


def unique_values_by_system(
    state: LinkingState, unique_fields: Mapping[str, Iterable[str]]
) -> PerSystem[UniqueHolders]:
    """Per system with unique fields (an adapter's ``unique_fields``), who holds each
    value among its stored live linked records: one query per such system, made when
    the first create there is planned."""
    fields_of = {system: tuple(fields) for system, fields in unique_fields.items() if fields}

    def read(system: str) -> UniqueHolders:
        holders: dict[str, tuple[str, str | None]] = {}
        for value, person_id, external_id in state.linked_unique_values(system, fields_of[system]):
            holders.setdefault(unique_key(value), (person_id, external_id))
        return UniqueHolders(fields_of[system], holders)

    return PerSystem(fields_of, read)


def claim_unique_values(actions: Iterable[Action], held: Mapping[str, UniqueHolders]) -> None:
    """Register the unique values the creates of this plan will hold, so a person planned
    after it in the same run is not sent to the vendor with one of them."""
    for action in actions:
        if action.kind is not ActionKind.CREATE or action.system not in held:
            continue
        unique = held[action.system]
        for _name, value in unique.values_of(action.payload):
            unique.holders.setdefault(unique_key(value), (action.person_id, None))


def names_by_system(state: LinkingState, systems: Iterable[str]) -> PerSystem[NameTable]:
    """(first, last) -> person ids, per system: who would collide on a same-name rule
    (read when the first create there is planned)."""

    def read(system: str) -> NameTable:
        table: NameTable = {}
        for _system, person_id, first, last in state.linked_names([system]):
            table.setdefault((first.casefold(), last.casefold()), set()).add(person_id)
        return table

    return PerSystem(systems, read)
