"""Staging recognises an unchanged raw record without mapping it again, and keeps the
raw record last seen for the updates that start from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactsync.adapters.base import RawRecord
from contactsync.engine.stage import mapping_fingerprint, stage_records, staged_digest
from contactsync.mapping.mapper import Mapping, load_mappings
from contactsync.state.sqlite.store import StateStore

MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite") as state:
        yield state


class CountingMapping:
    """The Pylon mapping, counting the records it maps in."""

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = mapping
        self.inbound_calls = 0

    def inbound(self, payload: dict[str, Any], **kwargs: Any) -> Any:
        self.inbound_calls += 1
        return self._mapping.inbound(payload, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mapping, name)


def pylon_record(external_id: str, **changes: Any) -> RawRecord:
    payload: dict[str, Any] = {
        "id": external_id,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone_numbers": [],
        "external_ids": [],
        **changes,
    }
    return RawRecord(external_id, payload, None)


def stage(state: StateStore, mapping: Any, *records: RawRecord) -> list[str]:
    result = stage_records(state, "pylon", list(records), mapping, "US")
    return [item.external_id for item in result.staged]


def test_an_unchanged_raw_record_is_not_mapped_again(store: StateStore) -> None:
    mapping = CountingMapping(load_mappings(MAPPINGS)["pylon"])
    assert stage(store, mapping, pylon_record("c1"), pylon_record("c2")) == ["c1", "c2"]
    assert mapping.inbound_calls == 2
    store.mark_planned([("pylon", "c1"), ("pylon", "c2")])

    assert stage(store, mapping, pylon_record("c1"), pylon_record("c2")) == []
    assert mapping.inbound_calls == 2  # both recognised by their digest

    changed = pylon_record("c2", email="ada@example.org")
    assert stage(store, mapping, pylon_record("c1"), changed) == ["c2"]
    assert mapping.inbound_calls == 3


def test_a_record_left_unplanned_is_handed_on_again(store: StateStore) -> None:
    mapping = CountingMapping(load_mappings(MAPPINGS)["pylon"])
    assert stage(store, mapping, pylon_record("c1")) == ["c1"]
    # no plan recorded (a killed run): the same raw record is mapped and handed on again
    assert stage(store, mapping, pylon_record("c1")) == ["c1"]


def test_unmapped_changes_refresh_the_stored_raw_record(store: StateStore) -> None:
    mapping = load_mappings(MAPPINGS)["pylon"]
    stage(store, mapping, pylon_record("c1"))
    store.mark_planned([("pylon", "c1")])
    before = store.get_record("pylon", "c1")
    assert before is not None

    moved = pylon_record("c1", unmapped_counter=7)  # a field no mapping reads
    assert stage(store, mapping, moved) == []
    after = store.get_record("pylon", "c1")
    assert after is not None
    assert after.hash == before.hash
    assert after.raw["unmapped_counter"] == 7
    glance = store.stage_glances("pylon", ["c1"])["c1"]
    assert glance.unchanged_by(staged_digest(mapping_fingerprint(mapping, "US"), moved))


def test_the_digest_depends_on_the_mapping_and_the_region() -> None:
    mappings = load_mappings(MAPPINGS)
    record = pylon_record("c1")
    pylon_us = staged_digest(mapping_fingerprint(mappings["pylon"], "US"), record)
    assert pylon_us == staged_digest(mapping_fingerprint(mappings["pylon"], "US"), record)
    assert pylon_us != staged_digest(mapping_fingerprint(mappings["pylon"], "GB"), record)
    assert pylon_us != staged_digest(mapping_fingerprint(mappings["trackops"], "US"), record)
