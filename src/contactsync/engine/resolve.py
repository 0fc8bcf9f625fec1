"""Match, merge and plan: staged records in, golden records and outbox actions out.

* **match**: a staged record keeps its crosswalk link; else the person id stamped
  in the system (``sync_id``) decides; else the matcher links it to the best
  existing person, or it starts a new one. Uncertain pairs go to the review queue.
  A record that bridges two persons merges them (the older id survives).
* **merge**: each touched person's golden record is rebuilt from all its records.
* **plan**: for each touched person and each target system, the golden record is
  compared with what that system holds (:mod:`contactsync.engine.plan`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError

from contactsync.engine.claims import UniqueHolders, name_key
from contactsync.engine.duplicates import resolve_duplicates, survivor_first
from contactsync.engine.golden import SourceContact, UntimedRule, merge
from contactsync.engine.golden_agreement import Holder, prefer_agreed, settled_keys
from contactsync.engine.plan import Target, plan_person, with_person_id
from contactsync.engine.plan_clear import fields_to_clear, own_leftovers, removed_items
from contactsync.engine.ports import LinkingState
from contactsync.engine.queue import NamesTaken
from contactsync.engine.rebuild import person_for_stamp, stamped_person_of
from contactsync.engine.stage import StagedRecord
from contactsync.engine.targets import TargetSystem
from contactsync.matching.matcher import PersonIndex
from contactsync.model.contact import Action, Contact, ContactStatus, OrgChannel
from contactsync.model.field_changes import ORGANIZATION_NAME
from contactsync.state.types import StoredRecord

log = structlog.get_logger(__name__)


@dataclass
class ResolveResult:
    touched: set[str] = field(default_factory=set)
    new_persons: int = 0
    merged_persons: int = 0
    # persons started under an id stamped in a system (a rebuilt state), and the
    # records linked to a person by their stamp
    adopted_persons: int = 0
    adopted_ids: set[str] = field(default_factory=set)
    stamped_links: int = 0
    matched_links: int = 0  # records the matcher linked to an existing person
    actions: list[Action] = field(default_factory=list)
    unholdable: list[tuple[str, str, str]] = field(default_factory=list)


def load_contact(record: StoredRecord) -> Contact | None:
    if not record.payload:  # a create whose answer carried no record: staged next extract
        return None
    try:
        return Contact.model_validate(record.payload)
    except ValidationError:
        log.warning(
            "stored record no longer validates", system=record.system, record=record.external_id
        )
        return None


def load_source_contact(record: StoredRecord) -> Contact | None:
    """The record as its own users last left it: what survivorship merges. None for a
    record contactsync created and nobody changed since (it holds nothing new)."""
    if record.source_payload is None:
        return None
    try:
        return Contact.model_validate(record.source_payload)
    except ValidationError:
        log.warning(
            "stored record no longer validates", system=record.system, record=record.external_id
        )
        return None


def _validated(payload: dict[str, Any]) -> Contact | None:
    try:
        return Contact.model_validate(payload)
    except ValidationError:
        return None


def link_records(
    state: LinkingState,
    index: PersonIndex | None,
    staged: Iterable[StagedRecord],
    result: ResolveResult,
) -> None:
    """Give every staged record a person (crosswalk, stamped id, matcher or new).
    ``index`` may be None only when every staged record is linked already."""
    staged = list(staged)
    if not staged:
        return
    refused = _UnholdableNotes(state, len(staged))
    for item in staged:
        key = (item.system, item.external_id)
        stored = state.linked_payload(item.system, item.external_id)
        contact = _validated(stored[1]) if stored is not None else None
        if stored is None or contact is None:
            log.warning("staged record not found", system=item.system, record=item.external_id)
            continue
        person_id = stored[0]
        if person_id is None:
            if index is None:
                raise ValueError(f"{key}: not linked, and there is no index to match it against")
            person_id = _match(state, index, key, contact, result)
            state.link(item.system, item.external_id, person_id)
        person_id = state.resolve_person(person_id)
        if index is not None:
            index.remove(key)
            index.add(key, contact, person_id)
        for system in refused.pop(person_id):  # its data changed: try again
            state.clear_unholdable(system, person_id)
        result.touched.add(person_id)


class _UnholdableNotes:
    """The systems noted as unable to hold each person, handed out once per person: read
    all at once when there are fewer notes than staged records (a backfill), else looked
    up person by person (a sync of a few edits over many people)."""

    def __init__(self, state: LinkingState, staged: int) -> None:
        self._state = state
        self._all: dict[str, list[str]] | None = None
        self._handed: set[str] = set()
        if state.unholdable_count() <= staged:
            self._all = {}
            for entry in state.list_unholdable():
                self._all.setdefault(entry.person_id, []).append(entry.system)

    def pop(self, person_id: str) -> list[str]:
        if person_id in self._handed:
            return []
        self._handed.add(person_id)
        if self._all is not None:
            return self._all.pop(person_id, [])
        return self._state.unholdable_systems(person_id)


def _match(
    state: LinkingState,
    index: PersonIndex,
    key: tuple[str, str],
    contact: Contact,
    result: ResolveResult,
) -> str:
    stamped, adopted = person_for_stamp(state, contact.sync_id)
    if stamped is not None:
        result.adopted_persons += adopted
        if adopted:
            result.adopted_ids.add(stamped)
        result.stamped_links += 1
        return stamped
    resolution = index.resolve(key, contact)
    if resolution.person_id is None:  # on a rebuild, the one stamped person it can be
        found = stamped_person_of(
            state, index, key[0], contact, resolution.review, result.adopted_ids
        )
        if found is not None:
            result.matched_links += 1
            return found
    for candidate in resolution.review:
        state.add_review(
            key[0],
            key[1],
            candidate.key[0],
            candidate.key[1],
            candidate.score,
            dict(candidate.evidence),
        )
    if resolution.person_id is None:
        result.new_persons += 1
        return state.create_person()
    result.matched_links += 1
    person_id = state.resolve_person(resolution.person_id)
    for other in index.persons_linked(key, contact):
        other_id = state.resolve_person(other.person_id)
        if other_id != person_id:
            person_id = state.merge_persons(person_id, other_id)
            result.merged_persons += 1
    return person_id


def rebuild_golden(
    state: LinkingState,
    person_id: str,
    priority: Mapping[str, int],
    propagating: frozenset[str] = frozenset(),
    channels: Mapping[tuple[str, str], list[OrgChannel]] | None = None,
    untimed_conflicts: UntimedRule = "timestamped_wins",
    targets: Sequence[TargetSystem] = (),
) -> Contact | None:
    """Merge the person's live records into the golden record and save it.

    ``channels`` are organizations' own channels by (system, organization id), read
    from the systems that keep them (Xurrent): the golden organization carries its
    channels, so outbound mappings can fall back on them (e.g. an office phone).

    Each record takes part with what it holds and the change time of each of its
    fields (:mod:`contactsync.model.field_changes`): what contactsync wrote there carries
    the time of the edit it came from and loses to every value a user made, so it
    never overrides the golden record it was derived from (a system that cannot
    express a detail, or fills a default, would otherwise change it).
    ``untimed_conflicts`` decides a change in a system without timestamps against a
    timestamped change inside its interval (see :mod:`contactsync.engine.golden`).

    A record deleted in a system whose deletes propagate marks the person deleted
    (the planner then deletes or archives it elsewhere); a deletion elsewhere
    only means that system no longer holds the person.

    A field no record has seen a change of since contactsync first saw it (a lost
    state, a first backfill: its time is only the record's) keeps a value the
    ``targets`` holding the person's records already agree on
    (:mod:`contactsync.engine.golden_agreement`); a record under the organization its system
    files creates under (Grow CRM's default client) then says nothing of the org.
    """
    defaults: dict[str, str] = {t.system: t.default_org_ref for t in targets if t.default_org_ref}
    sources: list[SourceContact] = []
    deleted_by_source = False
    times = state.field_times_of_person(person_id)
    for record in state.records_for_person(person_id, include_deleted=True):
        if record.deleted and not state.is_deleted_duplicate(record.system, record.external_id):
            deleted_by_source = deleted_by_source or record.system in propagating
            continue
        contact = load_contact(record)
        own_times = times.get((record.system, record.external_id), {})
        if contact is not None and ORGANIZATION_NAME not in settled_keys([own_times]):
            contact = _without_default_org(contact, defaults.get(record.system), record.system)
        if contact is not None:
            sources.append(
                SourceContact(
                    system=record.system,
                    external_id=record.external_id,
                    contact=contact,
                    users_content=record.source_payload,
                    updated_at=record.source_updated_at,
                    seen_at=record.seen_at,
                    field_times=own_times,
                )
            )
    if not sources:
        return None
    golden, provenance = merge(sources, priority, untimed_conflicts)
    golden = with_org_channels(golden, channels or {})
    if targets:
        settled = settled_keys(s.field_times or {} for s in sources)
        holders = _holders(sources, targets)
        golden, provenance = prefer_agreed(
            golden, provenance, sources, holders, priority, untimed_conflicts, settled
        )
    if deleted_by_source:
        golden = golden.model_copy(update={"status": ContactStatus.DELETED})
    state.save_person(
        person_id,
        golden.model_dump(mode="json"),
        {name: p.as_dict() for name, p in provenance.items()},
    )
    return golden


def _without_default_org(contact: Contact, default_ref: str | None, system: str) -> Contact:
    """The record without its organization when that is the system's create default: a
    placeholder the system filled in, not a user's word on where the person works."""
    org = contact.organization
    if default_ref is None or org is None or org.refs.get(system) != default_ref:
        return contact
    return contact.model_copy(update={"organization": None})


def _holders(sources: Iterable[SourceContact], targets: Iterable[TargetSystem]) -> list[Holder]:
    """Each system's live record of the person as survivorship sees it, with the
    system's outbound mapping."""
    by_system = {t.system: t for t in targets}
    return [
        Holder(s.system, target.outbound, s.contact, target.written)
        for s in sources
        if (target := by_system.get(s.system)) is not None
    ]


def with_org_channels(
    golden: Contact, channels: Mapping[tuple[str, str], list[OrgChannel]]
) -> Contact:
    """The golden record with its organization's channels as their system holds them."""
    organization = golden.organization
    if organization is None or not channels:
        return golden
    for system, org_id in sorted(organization.refs.items()):
        found = channels.get((system, org_id))
        if found is not None:
            updated = organization.model_copy(update={"channels": list(found)})
            return golden.model_copy(update={"organization": updated})
    return golden


def plan_for_person(
    state: LinkingState,
    person_id: str,
    golden: Contact,
    targets: Sequence[TargetSystem],
    names_taken: NamesTaken,
    *,
    unique_held: Mapping[str, UniqueHolders] | None = None,
) -> tuple[list[Action], list[tuple[str, str]]]:
    """Actions for one person, and the (system, reason) pairs it cannot be held in.

    ``unique_held`` (see :func:`unique_values_by_system`): a system where the person has
    no record, and whose unique value the create would send another person's record
    holds, cannot hold the person (the vendor would refuse the create)."""
    records = state.records_for_person(person_id, include_deleted=True)
    removed = removed_items(state, person_id)
    times = state.field_times_of_person(person_id)
    plan_targets: list[Target] = []
    unholdable: list[tuple[str, str]] = []
    for target in targets:
        own = [r for r in records if r.system == target.system]
        live = survivor_first([r for r in own if not r.deleted], golden, target.duplicates)
        if own and not live:
            continue  # deleted there by a user: not ours to resurrect
        current = load_contact(live[0]) if live else None
        reason = None
        name_taken = False
        if not live:
            reason = _cannot_hold(golden, target.required_for_create)
            if reason is None and unique_held is not None and target.system in unique_held:
                stamped = with_person_id(golden, person_id)
                reason = unique_held[target.system].refusal(target.outbound(stamped), person_id)
            if reason is not None:
                # reported (and remembered) as the vendor's refusal was before: should the
                # create that claimed the value this run fail for good, a user's edit to
                # this person plans them again
                unholdable.append((target.system, reason))
            elif state.is_unholdable(target.system, person_id):
                reason = "reported earlier: the system refused this person"
            if reason is None:  # a create: does another person there have the name?
                others = names_taken.get(target.system, {}).get(name_key(golden), set())
                name_taken = bool(others - {person_id})
        plan_targets.append(
            Target(
                system=target.system,
                outbound=target.outbound,
                current=current,
                external_id=live[0].external_id if live else None,
                writable=target.writable,
                propagate_deletes=target.deletes_propagate,
                cannot_hold=reason,
                name_taken=name_taken,
                clear=fields_to_clear(
                    target.outbound, current, removed | own_leftovers(times, live, golden)
                ),
            )
        )
    planned = plan_person(person_id, with_person_id(golden, person_id), plan_targets)
    return resolve_duplicates(state, person_id, records, targets, golden) + planned, unholdable


def _cannot_hold(golden: Contact, required: tuple[str, ...]) -> str | None:
    missing = [name for name in required if not getattr(golden, name, None)]
    if not (golden.first_name or golden.last_name or golden.full_name) and not missing:
        # a person known by an email, phone or id only: none of the five vendors creates
        # a contact without a name, so creating one could only fail, run after run
        missing.append("a name")
    return f"missing {', '.join(missing)}" if missing else None
