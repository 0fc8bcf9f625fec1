"""Extract and stage: vendor records in, canonical records (or quarantine entries) stored.

For each source system the adapter yields raw records for the run's window; each
is mapped to a canonical ``Contact`` and stored with its content hash. What the
stage step decides, record by record:

* a value fails mapping or validation -> that value is left out (or, clearly in the
  wrong column, moved to the right field) and recorded per record and field for
  ``status`` (:mod:`contactsync.engine.stage_values`); the rest of the record goes on;
* nothing in the record identifies anyone (no name, email, phone or id) ->
  quarantined with the reason (the run goes on); the same bad payload seen again is
  not re-reported;
* the same raw record was staged before under the same mapping (its digest is
  stored with the hash it mapped to) -> unchanged: skipped before it is mapped, the
  cheap path every unchanged record of a snapshot takes on every run;
* the stored hash is the same -> a boundary duplicate or an unchanged record: skipped
  (unless a killed run left it unplanned: then it is handed on again); the raw
  record is kept as the one an update starts from;
* the hash is what contactsync itself last wrote there (or the record is one it
  created without seeing the result) -> an *echo*: stored as contactsync's own
  write (it never feeds back into the golden record), but nobody is told;
* the record is the result of one of contactsync's writes whose answer was lost
  (:mod:`contactsync.engine.own_writes`) -> the action is recorded as done and the
  record as contactsync's own write;
* otherwise -> staged and handed on to matching.

A staged record stays marked *unplanned* in the state until the plan that took it
into account is in the outbox; :func:`unplanned_leftovers` hands the records a
killed or failed run left behind to the next one.
"""

from __future__ import annotations

import hashlib
import marshal
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from pydantic import ValidationError

from contactsync import __version__
from contactsync.adapters.base import Adapter, ChangeStrategy, RawRecord, Window
from contactsync.engine import faultpoints
from contactsync.engine.own_writes import OwnWrites
from contactsync.engine.ports import StagingState
from contactsync.engine.stage_values import (
    keeps_stored_status,
    needs_writable_raw,
    problems_of,
    with_stored_status,
    without_bad_texts,
    writable_raw,
)
from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import Contact, SourceRef
from contactsync.model.run_summary import SystemCounts
from contactsync.state.types import RecordGlance, ValueProblem, raw_hash

log = structlog.get_logger(__name__)

STAGE_BATCH = 500
#: a function's address in a repr (differs from process to process)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass
class StagedRecord:
    """A record handed on to matching. Its canonical contact is what the state now
    holds for it (``records.payload``): matching reads it back from there, so that a
    backfill does not keep every record's contact in memory until it is matched."""

    system: str
    external_id: str


@dataclass
class StageResult:
    system: str
    counts: SystemCounts = field(default_factory=SystemCounts)
    staged: list[StagedRecord] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    deleted_ids: list[str] = field(default_factory=list)
    complete: bool = True


def extract_window(
    adapter: Adapter, watermark: datetime | None, overlap_start: datetime | None, end: datetime
) -> Window:
    """The closed window this run reads: snapshots always read everything."""
    if type(adapter).strategy is ChangeStrategy.SNAPSHOT or watermark is None:
        return Window(None, end)
    return Window(overlap_start, end)


def map_record(
    raw: RawRecord, mapping: Mapping, system: str, default_region: str
) -> tuple[Contact | None, str | None]:
    """Raw vendor record -> canonical contact, or the reason it cannot be one."""
    contact, reason, _problems = map_record_values(raw, mapping, system, default_region)
    return contact, reason


def map_record_values(
    raw: RawRecord, mapping: Mapping, system: str, default_region: str
) -> tuple[Contact | None, str | None, list[ValueProblem]]:
    """:func:`map_record`, with the values left out of the contact (or moved to the right
    field) and why: a bad value costs that value, not the record. The contact is None
    (with the reason) only when nothing in the record identifies anyone."""
    try:
        contact, errors = mapping.inbound(raw.payload, default_region=default_region)
    except Exception as exc:  # a mapping bug must not stop the run
        return None, f"{system} record {raw.external_id}: mapping failed: {exc}", []
    problems = problems_of(errors)
    if contact is not None:
        contact, more = without_bad_texts(contact)
        problems += more
    if contact is None:
        reasons = "; ".join(f"{p.field}: {p.reason}" for p in problems) or "unknown mapping error"
        return None, f"{system} record {raw.external_id}: {reasons}", problems
    update: dict[str, object] = {"source": SourceRef(system=system, external_id=raw.external_id)}
    if contact.updated_at is None and raw.updated_at is not None:
        update["updated_at"] = raw.updated_at
    return contact.model_copy(update=update), None, problems


def mapping_fingerprint(mapping: Mapping, default_region: str) -> str:
    """What, besides the raw record, decides what a record maps to: the compiled
    mapping (its rules, transforms by name, enums), the default region and the
    version of contactsync. A raw record staged under another fingerprint is mapped
    again."""
    compiled = _ADDRESS.sub("", repr(mapping._compiled))
    text = f"{__version__}|{default_region}|{compiled}"
    return hashlib.sha256(text.encode()).hexdigest()


def staged_digest(fingerprint: str, raw: RawRecord) -> str:
    """Identifies a raw record (payload and the time the adapter read off it) under
    one mapping fingerprint.

    The payload is serialised with ``marshal`` (format 2: no back-references), five
    times faster than canonical JSON. It is exact (it reads back to the same value,
    types included) but keeps the vendor's key order: a record listed with its keys
    in another order gets another digest and is merely mapped again."""
    try:
        body = marshal.dumps(raw.payload, 2)
    except ValueError:  # not plain JSON data: the canonical form instead
        body = raw_hash(raw.payload).encode()
    updated = raw.updated_at.isoformat() if raw.updated_at is not None else ""
    digest = hashlib.sha256(f"{fingerprint}|{updated}|".encode())
    digest.update(body)
    return digest.hexdigest()


def stage_records(
    state: StagingState,
    system: str,
    records: Iterable[RawRecord],
    mapping: Mapping,
    default_region: str,
    *,
    on_record: Callable[[], None] | None = None,
) -> StageResult:
    """Map and store ``records``; returns what changed for matching."""
    result = StageResult(system=system)
    counts = result.counts
    batch: list[RawRecord] = []
    own = OwnWrites(state, system, mapping)
    fingerprint = mapping_fingerprint(mapping, default_region)
    stage = _Stage(state, system, mapping, default_region, fingerprint)

    def flush() -> None:
        glances = state.stage_glances(system, (raw.external_id for raw in batch))
        seen: set[str] = set()
        with state.transaction():
            for raw in batch:
                key = raw.external_id
                if key in seen:  # listed twice: read what the first one stored
                    stage.one(raw, state.stage_glances(system, [key]).get(key), result, own)
                else:
                    seen.add(key)
                    stage.one(raw, glances.get(key), result, own)
        batch.clear()

    for raw in records:
        faultpoints.hit("extract")
        counts.extracted += 1
        result.seen_ids.add(raw.external_id)
        batch.append(raw)
        if on_record is not None:
            on_record()
        if len(batch) >= STAGE_BATCH:
            flush()
    if batch:
        flush()
    return result


@dataclass(frozen=True)
class _Stage:
    state: StagingState
    system: str
    mapping: Mapping
    default_region: str
    fingerprint: str

    def one(
        self, raw: RawRecord, glance: RecordGlance | None, result: StageResult, own: OwnWrites
    ) -> None:
        state, system, counts = self.state, self.system, result.counts
        digest_staged = staged_digest(self.fingerprint, raw)
        if (
            glance is not None
            and raw.problem is None
            and not glance.deleted
            and not glance.unplanned
            and glance.unchanged_by(digest_staged)
        ):
            counts.unchanged += 1
            return  # the same raw record, the same mapping: the same content as stored
        if state.is_same_quarantined(system, raw.external_id, raw_hash(raw.payload)):
            counts.quarantined += 1  # still quarantined, unchanged: counted, not logged again
            return
        if raw.problem is not None:  # listed, but no record (e.g. it has no usable id)
            unusable = f"{system} record {raw.external_id}: {raw.problem}"
            state.quarantine(system, raw.external_id, unusable, raw.payload)
            counts.quarantined += 1
            log.warning(
                "record quarantined", system=system, record=raw.external_id, reason=unusable
            )
            return
        contact, reason, problems = map_record_values(
            raw, self.mapping, system, self.default_region
        )
        # replaced on every mapping: a value that changed or became valid drops out (a
        # quarantined record's are in its reason instead)
        state.replace_value_problems(system, raw.external_id, problems if contact else [])
        if contact is None:
            state.quarantine(system, raw.external_id, reason or "invalid", raw.payload)
            counts.quarantined += 1
            log.warning("record quarantined", system=system, record=raw.external_id, reason=reason)
            return
        if glance is not None and keeps_stored_status(problems):
            stored = state.get_record(system, raw.external_id)
            contact = with_stored_status(contact, stored.payload if stored else None)
        # the raw record is what an update starts from (a vendor that takes the whole
        # record back): a lone surrogate in it could never be sent, so it is replaced there
        kept_raw = (
            writable_raw(raw.payload) if needs_writable_raw(problems, raw.payload) else raw.payload
        )
        for problem in problems:  # one line each in debug logs; `status` lists them all
            log.debug(
                "value left out" if problem.moved_to is None else "value moved",
                system=system,
                record=raw.external_id,
                field=problem.field,
                reason=problem.reason,
            )
        digest = contact.content_hash()
        if glance is None and own.adopt_create(raw, contact, digest):
            counts.echoes += 1
            return
        if glance is not None and glance.hash == digest and not glance.deleted:
            if not glance.unchanged_by(digest_staged):  # unmapped fields moved, or no raw yet
                state.refresh_raw(
                    system, raw.external_id, hash=digest, raw=kept_raw, raw_digest=digest_staged
                )
            if glance.unplanned:  # left unplanned by a killed run: hand it on again, in order
                counts.staged += 1
                result.staged.append(StagedRecord(system, raw.external_id))
            else:
                counts.unchanged += 1
            return
        payload = contact.model_dump(mode="json")
        pushed = state.pushed_hash(system, raw.external_id)
        # An echo: what contactsync last wrote there, or the first sight of a record it
        # created without seeing the result (the vendor's answer was lost or empty).
        # Not when a user changed the record after that write: then the same content
        # is the user's own (an edit back to the value contactsync last wrote).
        echo = pushed is not None and pushed in (digest, "")
        echo = echo and not state.changed_by_users_since_push(system, raw.external_id)
        if not echo and glance is not None:
            stored = state.get_record(system, raw.external_id)
            if stored is not None and own.adopt_update(stored, raw, contact, digest):
                counts.echoes += 1
                return
        state.upsert_record(
            system,
            raw.external_id,
            hash=digest,
            payload=payload,
            source_updated_at=contact.updated_at,
            raw=kept_raw,
            unplanned=not echo,
            own_write=echo,
            raw_digest=digest_staged,
        )
        if echo:
            if pushed != digest:
                state.remember_push(system, raw.external_id, digest)
            counts.echoes += 1
            return
        counts.staged += 1
        result.staged.append(StagedRecord(system, raw.external_id))


def vanished(state: StagingState, system: str, seen_ids: set[str]) -> list[str]:
    """Records a full snapshot no longer shows (deletion candidates)."""
    return sorted(state.live_external_ids(system) - seen_ids)


def unplanned_leftovers(state: StagingState, results: Iterable[StageResult]) -> list[StageResult]:
    """Records staged (or found deleted) by an earlier run that never got planned, and
    not already handed on by this run: per system, ready for matching."""
    handed_on = set()
    for result in results:
        handed_on |= {(result.system, item.external_id) for item in result.staged}
        handed_on |= {(result.system, external_id) for external_id in result.deleted_ids}
    leftovers: dict[str, StageResult] = {}
    for key in state.unplanned_keys():  # a backfill's are all handed on: read only the rest
        if key in handed_on:
            continue
        record = state.get_record(*key)
        if record is None:
            continue
        result = leftovers.setdefault(record.system, StageResult(system=record.system))
        if record.deleted:
            result.deleted_ids.append(record.external_id)
            continue
        try:
            Contact.model_validate(record.payload)
        except ValidationError:
            continue
        result.staged.append(StagedRecord(record.system, record.external_id))
    return list(leftovers.values())


def handed_on_keys(results: Iterable[StageResult]) -> list[tuple[str, str]]:
    """Every record a run took into account: staged or found deleted."""
    keys: list[tuple[str, str]] = []
    for result in results:
        keys += [(result.system, item.external_id) for item in result.staged]
        keys += [(result.system, external_id) for external_id in result.deleted_ids]
    return keys
