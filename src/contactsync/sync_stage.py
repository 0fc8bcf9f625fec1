"""Extract and stage: vendor records in, canonical records (or quarantine entries) stored.

For each source system the adapter yields raw records for the run's window; each
is mapped to a canonical ``Contact`` and stored with its content hash. What the
stage step decides, record by record:

* mapping or validation fails -> quarantined with the reason (the run goes on);
  the same bad payload seen again is not re-reported;
* the stored hash is the same -> a boundary duplicate or an unchanged record: skipped
  (unless a killed run left it unplanned: then it is handed on again);
* the hash is what contactsync itself last wrote there (or the record is one it
  created without seeing the result) -> an *echo*: stored as contactsync's own
  write (it never feeds back into the golden record), but nobody is told;
* the record is the result of one of contactsync's writes whose answer was lost
  (:mod:`contactsync.sync_own_writes`) -> the action is recorded as done and the
  record as contactsync's own write;
* otherwise -> staged and handed on to matching.

A staged record stays marked *unplanned* in the state until the plan that took it
into account is in the outbox; :func:`unplanned_leftovers` hands the records a
killed or failed run left behind to the next one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from contactsync import faultpoints
from contactsync.adapters.base import Adapter, ChangeStrategy, RawRecord, Window
from contactsync.mapping import Mapping
from contactsync.models import Contact, SourceRef, SystemCounts
from contactsync.state import StateStore, raw_hash
from contactsync.sync_own_writes import OwnWrites

log = structlog.get_logger(__name__)

STAGE_BATCH = 500
#: longest text a mapped field may hold (a name, an address line, a note)
MAX_TEXT = 20_000
#: C0 controls but tab, line feed and carriage return; DEL and C1 controls; surrogates
_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class StagedRecord:
    system: str
    external_id: str
    contact: Contact


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
    try:
        contact, errors = mapping.inbound(raw.payload, default_region=default_region)
    except Exception as exc:  # a mapping bug must not stop the run
        return None, f"{system} record {raw.external_id}: mapping failed: {exc}"
    if contact is None:
        reasons = "; ".join(str(e) for e in errors) or "unknown mapping error"
        return None, f"{system} record {raw.external_id}: {reasons}"
    problem = text_problem(contact.model_dump(mode="json"))
    if problem is not None:
        return None, f"{system} record {raw.external_id}: {problem}"
    update: dict[str, object] = {"source": SourceRef(system=system, external_id=raw.external_id)}
    if contact.updated_at is None and raw.updated_at is not None:
        update["updated_at"] = raw.updated_at
    return contact.model_copy(update=update), None


def text_problem(value: Any, path: str = "") -> str | None:
    """Why a mapped value cannot be passed on to other systems, or None: text longer
    than :data:`MAX_TEXT`, control characters, or lone surrogates (not Unicode)."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = text_problem(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = text_problem(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"{path}: {len(value)} characters (at most {MAX_TEXT})"
        bad = _BAD_CHARACTER.search(value)
        if bad is not None:
            kind = (
                "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
            )
            return f"{path}: {kind} (U+{ord(bad.group()):04X}) at position {bad.start()}"
    return None


def stage_records(
    state: StateStore,
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

    def flush() -> None:
        with state.transaction():
            for raw in batch:
                _stage_one(state, system, raw, mapping, default_region, result, own)
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


def _stage_one(
    state: StateStore,
    system: str,
    raw: RawRecord,
    mapping: Mapping,
    default_region: str,
    result: StageResult,
    own: OwnWrites,
) -> None:
    counts = result.counts
    digest_raw = raw_hash(raw.payload)
    if state.is_same_quarantined(system, raw.external_id, digest_raw):
        return
    if raw.problem is not None:  # listed, but no record (e.g. it has no usable id)
        unusable = f"{system} record {raw.external_id}: {raw.problem}"
        state.quarantine(system, raw.external_id, unusable, raw.payload)
        counts.quarantined += 1
        log.warning("record quarantined", system=system, record=raw.external_id, reason=unusable)
        return
    contact, reason = map_record(raw, mapping, system, default_region)
    if contact is None:
        state.quarantine(system, raw.external_id, reason or "invalid", raw.payload)
        counts.quarantined += 1
        log.warning("record quarantined", system=system, record=raw.external_id, reason=reason)
        return
    digest = contact.content_hash()
    stored = state.get_record(system, raw.external_id)
    if stored is None and own.adopt_create(raw, contact, digest):
        counts.echoes += 1
        return
    if stored is not None and stored.hash == digest and not stored.deleted:
        if stored.unplanned:  # left unplanned by a killed run: hand it on again, in order
            counts.staged += 1
            result.staged.append(StagedRecord(system, raw.external_id, contact))
        return
    payload = contact.model_dump(mode="json")
    pushed = state.pushed_hash(system, raw.external_id)
    # An echo: what contactsync last wrote there, or the first sight of a record it
    # created without seeing the result (the vendor's answer was lost or empty).
    echo = pushed is not None and pushed in (digest, "")
    if not echo and stored is not None and own.adopt_update(stored, raw, contact, digest):
        counts.echoes += 1
        return
    state.upsert_record(
        system,
        raw.external_id,
        hash=digest,
        payload=payload,
        source_updated_at=contact.updated_at,
        raw=raw.payload,
        unplanned=not echo,
        own_write=echo,
    )
    if echo:
        if pushed != digest:
            state.remember_push(system, raw.external_id, digest)
        counts.echoes += 1
        return
    counts.staged += 1
    result.staged.append(StagedRecord(system, raw.external_id, contact))


def vanished(state: StateStore, system: str, seen_ids: set[str]) -> list[str]:
    """Records a full snapshot no longer shows (deletion candidates)."""
    return [
        record.external_id
        for record in state.iter_records(system)
        if record.external_id not in seen_ids
    ]


def unplanned_leftovers(state: StateStore, results: Iterable[StageResult]) -> list[StageResult]:
    """Records staged (or found deleted) by an earlier run that never got planned, and
    not already handed on by this run: per system, ready for matching."""
    handed_on = set()
    for result in results:
        handed_on |= {(result.system, item.external_id) for item in result.staged}
        handed_on |= {(result.system, external_id) for external_id in result.deleted_ids}
    leftovers: dict[str, StageResult] = {}
    for record in state.unplanned_records():
        key = (record.system, record.external_id)
        if key in handed_on:
            continue
        result = leftovers.setdefault(record.system, StageResult(system=record.system))
        if record.deleted:
            result.deleted_ids.append(record.external_id)
            continue
        try:
            contact = Contact.model_validate(record.payload)
        except ValidationError:
            continue
        result.staged.append(StagedRecord(record.system, record.external_id, contact))
    return list(leftovers.values())


def handed_on_keys(results: Iterable[StageResult]) -> list[tuple[str, str]]:
    """Every record a run took into account: staged or found deleted."""
    keys: list[tuple[str, str]] = []
    for result in results:
        keys += [(result.system, item.external_id) for item in result.staged]
        keys += [(result.system, external_id) for external_id in result.deleted_ids]
    return keys
