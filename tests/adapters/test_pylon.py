"""Pylon adapter: the shared contract plus Pylon's own rules, live and from cassettes.

Payloads are produced the way the engine produces them: a canonical ``Contact``
mapped outbound through ``mappings/pylon.toml``. Re-record the cassettes with
``CONTACTSYNC_RECORD=1 .venv/bin/pytest tests/adapters/test_pylon.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contactsync.adapters.base import ChangeStrategy, Window
from contactsync.adapters.pylon.adapter import PylonAdapter
from contactsync.http.errors import DuplicateError
from contactsync.model.contact import Contact
from tests.adapter_contract import FAR_FUTURE, PERSON_ID, AdapterContract, Harness
from tests.adapters.helpers import contract_person, load_mapping, outbound

MAPPING = load_mapping("pylon")
OTHER_PERSON = "p_01OTHERPERSON0000000000001"


def mapped(contact: Contact) -> dict[str, Any]:
    return outbound(MAPPING, contact)


def person(n: int, sync_id: str | None = PERSON_ID, **changes: Any) -> Contact:
    phones = [{"number": f"+1 404 555 {1000 + n:04d}", "type": "mobile"}]
    return contract_person(n, sync_id, **{"phones": phones, **changes})


class TestPylon(AdapterContract):
    system = "pylon"

    def new_payload(self, n: int) -> dict[str, Any]:
        return mapped(person(n))

    def changed_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "name": payload["name"] + " Jr", "phone_numbers": ["14045559999"]}

    def invalid_payload(self) -> dict[str, Any]:
        return {"name": "Invalid Email", "email": "not-an-email"}

    def assert_updated(self, record: dict[str, Any], changed: dict[str, Any]) -> None:
        assert record["name"] == changed["name"]
        assert record["phone_numbers"] == ["14045559999"]
        assert record["primary_phone_number"] == "14045559999"
        assert {"label": "contactsync", "external_id": PERSON_ID} in record["external_ids"]

    def extra_list_requests(self, n: int, size: int) -> int:
        return 0  # `pagination.has_next_page` marks the last page, even an exact multiple

    def test_window_edges_are_inclusive(self, harness: Harness) -> None:
        """Replaces the contract's window test, which skips SNAPSHOT systems only once the
        harness is up (so its cassette run has no cassette): a snapshot has no server-side
        change filter, so any window, however narrow, yields every contact."""
        assert PylonAdapter.strategy is ChangeStrategy.SNAPSHOT
        everything = {r.external_id for r in self._extract_all(harness.adapter)}
        narrow = Window(FAR_FUTURE - timedelta(seconds=1), FAR_FUTURE)
        assert {r.external_id for r in harness.adapter.extract(narrow)} == everything
        assert len(everything) == len(harness.admin.live_records())

    # --- Pylon's own rules ----------------------------------------------------------------

    def test_snapshot_records_have_no_timestamp_and_the_vendor_shape(
        self, harness: Harness
    ) -> None:
        live = {r["id"]: r for r in harness.admin.live_records()}
        records = list(harness.adapter.extract(Window(None, FAR_FUTURE)))
        assert all(r.updated_at is None for r in records)
        sample = records[0]
        expected = {k: v for k, v in live[sample.external_id].items() if k != "_deleted"}
        assert sample.payload == expected

    def test_stamping_keeps_the_other_external_ids(self, harness: Harness) -> None:
        unstamped = mapped(person(4, sync_id=None))
        unstamped["external_ids"] = [{"label": "zendesk", "external_id": "zd-4"}]
        created = harness.adapter.create(unstamped)
        result = harness.adapter.update(created.external_id, mapped(person(4)), current=None)
        expected = [
            {"label": "zendesk", "external_id": "zd-4"},
            {"label": "contactsync", "external_id": PERSON_ID},
        ]
        assert result.record["external_ids"] == expected
        live = {r["id"]: r for r in harness.admin.live_records()}
        assert live[created.external_id]["external_ids"] == expected

    def test_a_duplicate_create_names_the_existing_contact(self, harness: Harness) -> None:
        first = harness.adapter.create(mapped(person(5, sync_id=OTHER_PERSON)))
        with pytest.raises(DuplicateError) as info:
            harness.adapter.create(mapped(person(5, first_name="Other")))
        assert info.value.existing_id == first.external_id
        assert "pylon" in str(info.value)

    def test_find_existing_ignores_a_same_email_contact_of_another_person(
        self, harness: Harness
    ) -> None:
        harness.adapter.create(mapped(person(6, sync_id=OTHER_PERSON)))
        assert harness.adapter.find_existing(mapped(person(6)), PERSON_ID) is None

    def test_deleting_a_contact_already_gone_succeeds(self, harness: Harness) -> None:
        created = harness.adapter.create(self.new_payload(7))
        harness.adapter.delete(created.external_id)
        harness.adapter.delete(created.external_id)
        assert created.external_id not in {r["id"] for r in harness.admin.live_records()}

    def test_get_reads_one_contact(self, harness: Harness) -> None:
        assert isinstance(harness.adapter, PylonAdapter)
        created = harness.adapter.create(self.new_payload(8))
        assert harness.adapter.get(created.external_id) == created.record
