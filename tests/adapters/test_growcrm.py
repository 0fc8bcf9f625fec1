"""Grow CRM against the adapter contract, live on the sandbox and from cassettes.

Re-record: ``CONTACTSYNC_RECORD=1 .venv/bin/pytest tests/adapters/test_growcrm.py``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from contactsync.http.errors import DuplicateError
from tests.adapter_contract import AdapterContract, Harness


class TestGrowcrm(AdapterContract):
    system: ClassVar[str] = "growcrm"

    def new_payload(self, n: int) -> dict[str, Any]:
        # No field can hold the person id: find_existing goes by the (unique) email.
        return {
            "first_name": f"Contract{n}",
            "last_name": "Quixwell",
            "email": f"contract{n}.quixwell@example.com",
            "phone": "+14155550132",
            "position": "Head of Procurement",
        }

    def changed_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        # What the planner sends: only the changed field; the adapter adds the names
        # and email Grow CRM requires on every update.
        return {"position": f"{payload['position']} (EMEA)"}

    def invalid_payload(self) -> dict[str, Any]:
        return {"first_name": "Broken", "last_name": "Address", "email": "not-an-address"}

    def assert_updated(self, record: dict[str, Any], changed: dict[str, Any]) -> None:
        assert record["job_position"] == changed["position"]
        assert record["first_name"] == "Contract1"
        assert record["email"] == "contract1.quixwell@example.com"

    def test_taken_email_is_a_duplicate_naming_the_holder(self, harness: Harness) -> None:
        holder = harness.admin.live_records()[0]
        payload = {**self.new_payload(4), "email": holder["email"].upper()}
        with pytest.raises(DuplicateError) as info:
            harness.adapter.create(payload)
        assert info.value.existing_id == str(holder["id"])
        assert "growcrm" in str(info.value)
        assert "email" in info.value.fields

    def test_update_without_current_reads_the_required_fields(self, harness: Harness) -> None:
        target = harness.admin.live_records()[1]
        result = harness.adapter.update(str(target["id"]), {"phone": "+14155550199"})
        assert result.record["phone"] == "+14155550199"
        after = {str(r["id"]): r for r in harness.admin.live_records()}[str(target["id"])]
        assert (after["first_name"], after["last_name"], after["email"]) == (
            target["first_name"],
            target["last_name"],
            target["email"],
        )

    def test_deleting_twice_is_done_twice(self, harness: Harness) -> None:
        created = harness.adapter.create(self.new_payload(5))
        harness.adapter.delete(created.external_id)
        harness.adapter.delete(created.external_id)  # 404: already gone, not an error
        assert created.external_id not in {str(r["id"]) for r in harness.admin.live_records()}
        assert harness.adapter.find_existing(self.new_payload(5), "p_any") is None
