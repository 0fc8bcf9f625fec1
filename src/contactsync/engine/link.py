"""Linking a pass's staged records to persons: every system's stamped records first.

A staged record keeps its crosswalk link, else the person id stamped in it decides,
else the matcher (:func:`contactsync.engine.resolve.link_records`). The matcher
compares a record with the records indexed so far. Were the systems linked one after
another, an unstamped record (Grow CRM holds no stamp) would meet only the records
of the systems before its own: on a state that lost its links (issue 15) the
evidence that its person's records in later systems hold (a phone only Pylon keeps)
would come too late, and the record would start a new person, created again in
every system. So the records whose stamps are adopted are linked and indexed first,
in every system, the matcher's weights are fitted on them (a new state has none),
and only then is the rest matched.

Each system is linked in its own transaction, isolated from the others: a system
whose linking fails leaves its records for the next pass and takes no part after.
Then the persons kept out of a system by a unique value another record held are
planned again where that record let go of it (:func:`retry_released`). The index
the matcher uses is built here too (:func:`build_index`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog
from pydantic import ValidationError

from contactsync.engine.claims import still_held
from contactsync.engine.pass_outcome import RunOutcome, isolated
from contactsync.engine.ports import LinkingState
from contactsync.engine.rebuild import person_for_stamp
from contactsync.engine.resolve import ResolveResult, link_records
from contactsync.engine.stage import StagedRecord, StageResult, handed_on_keys
from contactsync.matching.matcher import MatchConfig, PersonIndex
from contactsync.matching.stored_weights import fit_or_load
from contactsync.model.contact import Contact

log = structlog.get_logger(__name__)


def link_stages(
    state: LinkingState,
    index: PersonIndex | None,
    staged: Sequence[StageResult],
    outcome: RunOutcome,
    result: ResolveResult,
    unfinished: set[tuple[str, str]],
) -> None:
    """Link every stage's records (see the module docs); the records of a system whose
    linking failed go in ``unfinished``. ``index`` is None when all are linked already."""
    failed: set[str] = set()
    if index is not None:
        for stage in staged:
            with isolated(outcome, stage.system, "matching") as linking, state.transaction():
                adopt_stamps(state, index, stage.staged, result)
            if linking.failed:
                failed.add(stage.system)
        if result.adopted_persons:
            fit_or_load(index, state)  # weights of these systems' own people
    for stage in staged:
        touched_before = set(result.touched)
        if stage.system not in failed:
            with isolated(outcome, stage.system, "matching") as linking, state.transaction():
                link_records(state, index, stage.staged, result)
                for external_id in stage.deleted_ids:
                    person_id = state.person_for(stage.system, external_id)
                    if person_id is not None:
                        result.touched.add(state.resolve_person(person_id))
            if not linking.failed:
                continue
        result.touched = touched_before  # its links rolled back: they wait for the next pass
        unfinished.update(handed_on_keys([stage]))
    retry_released(state, result)


def retry_released(state: LinkingState, result: ResolveResult) -> None:
    """Plan again each person noted as unholdable in a system because another record
    there held a value the system keeps unique (an email), once that record no longer
    holds it (a sync wrote it another email, it was deleted): the note alone would
    keep the person out of that system for good. One lookup per such note."""
    for entry in state.list_unholdable():
        if still_held(state, entry.system, entry.person_id, entry.reason) is False:
            state.clear_unholdable(entry.system, entry.person_id)
            result.touched.add(state.resolve_person(entry.person_id))


def adopt_stamps(
    state: LinkingState, index: PersonIndex, staged: Iterable[StagedRecord], result: ResolveResult
) -> None:
    """Link each unlinked staged record that carries a usable stamp to the person it
    names (started under that id when the state does not know it) and index it."""
    for item in staged:
        stored = state.linked_payload(item.system, item.external_id)
        if stored is None or stored[0] is not None or not stored[1].get("sync_id"):
            continue  # unknown, linked already, or unstamped: link_records decides
        try:
            contact = Contact.model_validate(stored[1])
        except ValidationError:
            continue  # link_records reports it
        person_id, adopted = person_for_stamp(state, contact.sync_id)
        if person_id is None:
            continue  # a stamp of another shape: the matcher decides
        if adopted:
            result.adopted_persons += 1
            result.adopted_ids.add(person_id)
        result.stamped_links += 1
        state.link(item.system, item.external_id, person_id)
        key = (item.system, item.external_id)
        index.add(key, contact, state.resolve_person(person_id))


def build_index(state: LinkingState, config: MatchConfig) -> PersonIndex:
    """Every linked, live record, indexed under its person."""
    index = PersonIndex(config)
    for system, external_id, person_id, payload in state.iter_linked_contacts():
        if not payload:  # a create whose answer carried no record: staged next extract
            continue
        try:
            contact = Contact.model_validate(payload)
        except ValidationError:
            log.warning("stored record no longer validates", system=system, record=external_id)
            continue
        index.add((system, external_id), contact, person_id)
    fit_or_load(index, state)  # weights fitted on what the state holds, kept there
    return index


def needs_matching(state: LinkingState, staged: Iterable[StagedRecord]) -> bool:
    """Whether any staged record lacks a crosswalk link (only those are matched: a run
    whose records are all linked needs no index of everyone stored)."""
    return any(state.person_for(item.system, item.external_id) is None for item in staged)
