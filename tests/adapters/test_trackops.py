"""Trackops against the adapter contract, live on the sandbox and from cassettes.

Re-record: ``CONTACTSYNC_RECORD=1 .venv/bin/pytest tests/adapters/test_trackops.py``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from contactsync.http.errors import DuplicateError, FatalError
from tests.adapter_contract import PERSON_ID, AdapterContract, Harness


class TestTrackops(AdapterContract):
    system: ClassVar[str] = "trackops"
    updated_field: ClassVar[str | None] = "updated"

    def new_payload(self, n: int) -> dict[str, Any]:
        return {
            "first_name": f"Contract{n}",
            "last_name": "Quixwell",
            "title": "Claims Adjuster",
            "email": f"contract{n}.quixwell@example.com",
            "phone_mobile": "+14045550100",
            "account_code": PERSON_ID,
        }

    def changed_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        # What the planner sends to Trackops: only the changed fields (partial PUT).
        return {"title": f"{payload['title']} II"}

    def invalid_payload(self) -> dict[str, Any]:
        return {"first_name": "Broken", "last_name": "Birthday", "birthday": "1979-13-45"}

    def assert_updated(self, record: dict[str, Any], changed: dict[str, Any]) -> None:
        assert record["title"] == changed["title"]
        assert record["last_name"] == "Quixwell", "a partial update must keep the other fields"
        assert record["account_code"] == PERSON_ID

    # Trackops documents no DELETE: the round trip ends in a clear refusal instead.
    def test_create_update_delete_round_trip(self, harness: Harness) -> None:
        payload = self.new_payload(1)
        created = harness.adapter.create(payload)
        assert created.record["account_code"] == PERSON_ID
        assert created.record["client_id"] == harness.adapter.context.defaults["client_location_id"]
        changed = self.changed_payload(payload)
        result = harness.adapter.update(created.external_id, changed, current=created.record)
        assert result.record["title"] == changed["title"]
        after = {str(r["id"]): r for r in harness.admin.live_records()}
        self.assert_updated(after[created.external_id], changed)
        with pytest.raises(FatalError, match="no delete API") as info:
            harness.adapter.delete(created.external_id)
        assert info.value.record_id == created.external_id
        assert created.external_id in {str(r["id"]) for r in harness.admin.live_records()}

    def test_same_name_is_a_duplicate_unless_allowed(self, harness: Harness) -> None:
        existing = harness.admin.live_records()[0]
        payload = {
            "first_name": existing["first_name"],
            "last_name": existing["last_name"],
            "email": "namesake.contract@example.com",
            "account_code": PERSON_ID,
        }
        with pytest.raises(DuplicateError) as info:
            harness.adapter.create(payload)
        assert info.value.existing_id is None, "a namesake is not assumed to be the same person"
        assert "trackops" in str(info.value)
        created = harness.adapter.create(payload, allow_duplicates=True)
        assert created.external_id != str(existing["id"])
        assert harness.adapter.find_existing(payload, PERSON_ID) == created.external_id
