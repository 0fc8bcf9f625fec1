"""Rebuilding the crosswalk from the person ids stamped into the systems.

contactsync stamps its person id into every record it links (Trackops
``account_code``, Rhythm ``origin_service_record_id``, Pylon's ``contactsync``
external id, Xurrent ``source``/``sourceID``); the mappings read it back as
``Contact.sync_id``. Those stamps are the systems' own record of who is who, so a
state that lost its persons (a deleted file, a new machine) adopts them as they
are instead of minting new ids: minting would re-stamp every record and let the
matcher re-decide identities the systems already agree on.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from contactsync.engine.ports import LinkingState
from contactsync.matching.matcher import Candidate, PersonIndex
from contactsync.model.contact import Contact

log = structlog.get_logger(__name__)

# What new_person_id makes: "p_" and a 26-character Crockford base32 ULID. A stamp of
# any other shape is a user's value in that field (or a typo), not one of our ids.
_PERSON_ID = re.compile(r"p_[0-9A-HJKMNP-TV-Z]{26}")


def is_person_id(value: str) -> bool:
    return _PERSON_ID.fullmatch(value) is not None


def person_for_stamp(state: LinkingState, stamped: str | None) -> tuple[str | None, bool]:
    """The live person a record's stamp names, and whether it was adopted just now.

    A well-formed stamp the state does not know yet starts that person under the
    stamped id; a malformed one is ignored (the matcher decides that record)."""
    if not stamped:
        return None, False
    if state.get_person(stamped) is not None:
        return state.resolve_person(stamped), False
    if not is_person_id(stamped):
        log.warning("stamped person id has an unknown shape; matching the record instead")
        return None, False
    return state.create_person(person_id=stamped), True


def stamped_person_of(
    state: LinkingState,
    index: PersonIndex,
    system: str,
    contact: Contact,
    candidates: Iterable[Candidate],
    adopted: Collection[str],
) -> str | None:
    """On a rebuild, the person adopted from stamps that an unstamped record the
    matcher could not place belongs to, when one alone fits; else None (the record
    starts a new person, its candidates go to the review queue).

    Such a person's stamped records are the systems' own word on who it is; its other
    records were linked by the matcher in this pass, in the order the systems were
    read. So a candidate is judged on its stamped records only. It fits when one of
    them scores at the merge threshold without contradicting the record: another of
    its stamped records may (the person's old name and email, from before a name
    change), but all are one person already, and the matcher's veto is there to keep
    two persons apart. Or it fits when none contradicts the record, one scores in the
    review band, and the person holds no record in this system yet: a person
    contactsync synced was linked or created in every system that could hold it, so
    its record here is among the unstamped ones still to link, and a record that may
    be it, with no other such candidate, is it. Starting a new person instead would
    create that person again in every system (issue 15)."""
    merge_at, review_at = index.config.merge_threshold, index.config.review_threshold
    fitting: set[str] = set()
    for person_id in {state.resolve_person(c.person_id) for c in candidates}:
        if person_id not in adopted:
            continue
        records = state.records_for_person(person_id)
        scores = [
            index.score(contact, stamped)
            for record in records
            if (stamped := _stamped_contact(record.payload, person_id)) is not None
        ]
        strong = any(s.score >= merge_at and not s.conflict for s in scores)
        clean = bool(scores) and not any(s.conflict for s in scores)
        best = max((s.score for s in scores), default=0.0)
        held_here = any(record.system == system for record in records)
        if strong or (clean and best >= review_at and not held_here):
            fitting.add(person_id)
    return fitting.pop() if len(fitting) == 1 else None


def _stamped_contact(payload: Mapping[str, Any] | None, person_id: str) -> Contact | None:
    if _stamp_of(payload) != person_id:
        return None
    try:
        return Contact.model_validate(payload)
    except ValidationError:
        return None


@dataclass(frozen=True)
class LinkCounts:
    """How a state's records came to their persons, as a rebuild reports them."""

    stamped: int = 0  # linked to the person id stamped in them
    matched: int = 0  # unstamped, linked to a person stamped elsewhere
    new: int = 0  # unstamped, of a person no system holds a stamp of

    def as_dict(self) -> dict[str, int]:
        return {"stamped": self.stamped, "matched": self.matched, "new": self.new}


def link_counts(state: LinkingState) -> LinkCounts:
    """Count the live linked records by how they are linked (two reads of the records:
    the persons that some stamp names first, then each record)."""
    stamped_persons: set[str] = set()
    for record in state.iter_records():
        stamp = _stamp_of(record.payload)
        if record.person_id and stamp and state.resolve_person(record.person_id) == stamp:
            stamped_persons.add(stamp)
    stamped = matched = new = 0
    for record in state.iter_records():
        if not record.person_id:
            continue
        person_id = state.resolve_person(record.person_id)
        if _stamp_of(record.payload) == person_id:
            stamped += 1
        elif person_id in stamped_persons:
            matched += 1
        else:
            new += 1
    return LinkCounts(stamped, matched, new)


def _stamp_of(payload: Mapping[str, Any] | None) -> str | None:
    stamp = (payload or {}).get("sync_id")
    return stamp if isinstance(stamp, str) else None


def persons_held(state: LinkingState) -> int:
    return sum(1 for _ in state.iter_persons())
