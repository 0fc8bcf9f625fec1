"""Which creates compete for a value the vendor lets only one record hold: they are
sent one after the other, in queue order, so the first planned wins every time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from contactsync.mapping.mapper import Mapping
from contactsync.state.types import OutboxEntry


def contending_creates(
    page: list[OutboxEntry], mapping: Mapping, default_region: str
) -> list[tuple[list[OutboxEntry], set[str]]]:
    """The page's creates grouped by the unique values they compete for (with them)."""
    values = {entry.id: lookup_emails(entry, mapping, default_region) for entry in page}
    return [
        (group, set().union(*(values[entry.id] for entry in group)))
        for group in contending(page, lambda entry: values[entry.id])
    ]


def lookup_emails(entry: OutboxEntry, mapping: Mapping, default_region: str) -> set[str]:
    """The email addresses a create would hold. Wider than the vendor's unique values
    (:func:`contactsync.adapters.base.unique_values`, all of them emails) on purpose: a
    create whose answer is lost is looked up by email (``find_existing``), and two
    creates holding one address, sent at once, would make that lookup ambiguous."""
    try:
        contact, _errors = mapping.inbound(entry.action.payload, default_region=default_region)
    except Exception:  # a payload the mapping cannot read back competes with nobody
        return set()
    return {email.address for email in contact.emails} if contact is not None else set()


def contending(
    entries: Sequence[OutboxEntry], unique_values: Callable[[OutboxEntry], Iterable[str]]
) -> list[list[OutboxEntry]]:
    """``entries`` in groups that share a unique value (directly or through another
    entry), each group in queue order; groups ordered by their first entry."""
    owner: dict[str, int] = {}
    parent = list(range(len(entries)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for index, entry in enumerate(entries):
        for value in unique_values(entry):
            if value in owner:
                first, second = root(owner[value]), root(index)
                parent[max(first, second)] = min(first, second)
            else:
                owner[value] = index
    groups: dict[int, list[OutboxEntry]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(root(index), []).append(entry)
    return [groups[key] for key in sorted(groups)]
