"""Rhythm Rolodex against the adapter contract, live on the sandbox and from cassettes.

Re-record: ``CONTACTSYNC_RECORD=1 .venv/bin/pytest tests/adapters/test_rhythm.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest

from contactsync.adapters.base import ChangeStrategy, Window
from contactsync.adapters.rhythm.adapter import RhythmAdapter, plan_update
from contactsync.http.errors import RecordError
from contactsync_sandbox.rhythm import RhythmSimulator
from tests.adapter_contract import FAR_FUTURE, PERSON_ID, AdapterContract, Harness


def sandbox_stats(harness: Harness) -> dict[str, Any]:
    response = harness.admin.client.get(f"{harness.admin.admin_url}/_sandbox/stats")
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


def requests_of(stats: dict[str, Any], method: str, path_end: str = "") -> int:
    return sum(
        row["count"]
        for row in stats["requests"]
        if row["method"] == method and row["path"].endswith(path_end)
    )


class TestRhythm(AdapterContract):
    system: ClassVar[str] = "rhythm"
    updated_field: ClassVar[str | None] = "sys_last_modified_at"

    def server_page_size(self, harness: Harness) -> int:
        return RhythmSimulator.PAGE_SIZE  # fixed by the server: no page-size parameter

    def extra_list_requests(self, n: int, size: int) -> int:
        return 0  # the last page carries no LastEvaluatedKey, whatever N is

    def new_payload(self, n: int) -> dict[str, Any]:
        return {
            "first_name": f"Contract{n}",
            "last_name": "Quixwell",
            "job_title": "Claims Adjuster",
            "email_address": f"contract{n}.quixwell@example.com",
            "mobile_phone_number": "+14045550100",
            "home_address": {
                "line1": "1 Peachtree St",
                "city": "Atlanta",
                "state": "GA",
                "postal_code": "30303",
                "country": "US",
            },
            "status": "active",
            "origin_service": "contactsync",
            "origin_service_record_id": PERSON_ID,
        }

    def changed_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        # What the planner sends: the whole mapped payload, one field changed.
        return {**payload, "job_title": f"{payload['job_title']} II"}

    def invalid_payload(self) -> dict[str, Any]:
        # 409: "refers to/depends on a non-existent object"
        return {"first_name": "Broken", "last_name": "Reference", "organization_id": "org-nowhere"}

    def assert_updated(self, record: dict[str, Any], changed: dict[str, Any]) -> None:
        assert record["job_title"] == changed["job_title"]
        assert record["last_name"] == "Quixwell"
        assert record["origin_service"] == "contactsync"
        assert record["origin_service_record_id"] == PERSON_ID

    # --- Rhythm specifics ---------------------------------------------------------------

    def test_one_token_serves_the_whole_adapter_lifetime(self, harness: Harness) -> None:
        adapter = harness.adapter
        assert isinstance(adapter, RhythmAdapter)
        announced: list[str] = []
        adapter.on_new_token = announced.append
        issued_before = sandbox_stats(harness)["tokens_issued"]
        records = self._extract_all(adapter)
        created = adapter.create(self.new_payload(4))
        adapter.update(created.external_id, self.changed_payload(self.new_payload(4)))
        assert adapter.find_existing(self.new_payload(4), PERSON_ID) == created.external_id
        adapter.delete(created.external_id)
        stats = sandbox_stats(harness)
        assert stats["tokens_issued"] - issued_before == 1
        assert requests_of(stats, "POST", "/oauth2/token") == 1
        assert len(announced) == 1, "the engine's hook sees the token once"
        assert records

    def test_update_sends_a_patch_or_a_full_put_whichever_is_smaller(
        self, harness: Harness
    ) -> None:
        adapter = harness.adapter
        small = adapter.create({"first_name": "Tiny", "last_name": "Record"})
        # Many new fields onto a small record: the whole record is the smaller body.
        many = {
            "job_title": "Director",
            "nickname": "Tee",
            "middle_name": "Q",
            "maiden_name": "Small",
            "notes": "n",
            "email_address": "tiny.record@example.com",
            "email_address2": "t.r@example.net",
            "mobile_phone_number": "+14045550111",
            "home_phone_number": "+14045550112",
            "work_phone_number": "+14045550113",
            "fax_phone_number": "+14045550114",
            "home_address": {"line1": "2 Main St", "line2": "Unit 4", "city": "Macon"},
            "prefix": "Dr.",
            "suffix": "Jr.",
            "salutation": "T",
            "credentials": "MBA",
            "pronouns": "they",
            "gender": "female",
            "do_not_mail": True,
            "do_not_call": True,
            "email_opt_out": False,
            "twitter": "t",
            "facebook": "f",
            "instagram": "i",
        }
        plan = plan_update(small.external_id, small.record, many)
        assert plan is not None
        assert plan.method == "PUT", plan
        put = adapter.update(small.external_id, many, current=small.record)
        # One changed field on the (now bigger) record: the patch is smaller.
        patch = adapter.update(small.external_id, {"job_title": "CEO"}, current=put.record)
        stats = sandbox_stats(harness)
        assert requests_of(stats, "PUT") == 1
        assert requests_of(stats, "PATCH") == 1
        assert put.record["home_address"]["city"] == "Macon"
        assert put.record["sys_created_at"] == small.record["sys_created_at"]
        live = {r["id"]: r for r in harness.admin.live_records()}[small.external_id]
        assert live["job_title"] == "CEO" == patch.record["job_title"]
        assert live["fax_phone_number"] == "+14045550114"
        assert live["sys_version"] == small.record["sys_version"] + 2

    def test_update_without_current_reads_the_record_first(self, harness: Harness) -> None:
        created = harness.adapter.create(self.new_payload(5))
        result = harness.adapter.update(created.external_id, {"nickname": "Five"})
        assert result.record["nickname"] == "Five"
        assert result.record["job_title"] == "Claims Adjuster"
        assert requests_of(sandbox_stats(harness), "GET", "/{id}") == 1

    def test_snapshot_keeps_inactive_contacts(self, harness: Harness) -> None:
        created = harness.adapter.create({**self.new_payload(6), "status": "inactive"})
        records = {r.external_id: r for r in self._extract_all(harness.adapter)}
        assert records[created.external_id].payload["status"] == "inactive"
        assert records[created.external_id].updated_at is not None

    def test_window_edges_are_inclusive(self, harness: Harness) -> None:
        """Replaces the contract's window test (it skips SNAPSHOT systems only once the
        harness is up, so its cassette run has no cassette): the search has no change
        filter, so any window, however narrow, yields every contact."""
        assert RhythmAdapter.strategy is ChangeStrategy.SNAPSHOT
        everything = self._extract_all(harness.adapter)
        narrow = Window(FAR_FUTURE - timedelta(seconds=1), FAR_FUTURE)
        windowed = list(harness.adapter.extract(narrow))
        assert [r.external_id for r in windowed] == [r.external_id for r in everything]
        assert len(everything) == len(harness.admin.live_records())

    def test_a_nameless_contact_is_a_record_error(self, harness: Harness) -> None:
        payload = {"email_address": "nameless@example.com"}
        assert harness.adapter.cannot_hold(payload)
        with pytest.raises(RecordError) as info:
            harness.adapter.create(payload)
        assert info.value.status == 400
        assert "rhythm create contact" in str(info.value)

    def test_deleting_twice_is_quiet(self, harness: Harness) -> None:
        created = harness.adapter.create(self.new_payload(7))
        harness.adapter.delete(created.external_id)
        harness.adapter.delete(created.external_id)
        assert created.external_id not in {r["id"] for r in harness.admin.live_records()}
