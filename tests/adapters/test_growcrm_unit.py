"""GrowcrmAdapter's own logic on ``httpx.MockTransport``: the scan, the write bodies."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contactsync.adapters.base import AdapterContext, ChangeStrategy, Window
from contactsync.adapters.growcrm.adapter import GrowcrmAdapter, parse_timestamp
from contactsync.http.client import BearerAuth
from contactsync.http.errors import DuplicateError, FatalError, NotFoundError, RecordError
from tests.adapters.helpers import RecordingVendor

BASE = "https://crm.example.com/api"
TOKEN = "tok-growcrm-unit-secret"
END = datetime(2026, 6, 30, 12, 0, 0, tzinfo=UTC)
TAKEN = {
    "message": "The given data was invalid.",
    "errors": {"email": ["The email has already been taken."]},
}


class Vendor(RecordingVendor):
    """Records every request and answers with ``answer``."""

    def adapter(self, page_size: int = 2, defaults: dict[str, Any] | None = None) -> GrowcrmAdapter:
        context = AdapterContext(
            system="growcrm",
            base_url=BASE,
            page_size=page_size,
            defaults={"client_id": 1} if defaults is None else defaults,
            credentials={"token": TOKEN},
        )
        return GrowcrmAdapter(context, client=self.client("growcrm", BASE, BearerAuth(TOKEN)))


def contact(
    contact_id: int, updated: str | None = "2026-06-15T09:30:00.000000Z", **fields: Any
) -> dict[str, Any]:
    return {
        "id": contact_id,
        "first_name": "Maria",
        "last_name": f"Okafor{contact_id}",
        "name": f"Maria Okafor{contact_id}",
        "email": f"maria{contact_id}@example.com",
        "phone": None,
        "job_position": None,
        "client": {"id": 1, "company_name": "Acme"},
        "dates": {"created": "2025-01-01T00:00:00.000000Z", "updated": updated},
        **fields,
    }


def stamp(day: int, hour: int = 0) -> str:
    return f"2026-06-{day:02d}T{hour:02d}:00:00.000000Z"


def paged(rows: list[dict[str, Any]]) -> Vendor:
    """A Grow CRM list: rows already in the order asked for, Laravel meta."""

    def answer(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["limit"])
        chunk = rows[(page - 1) * size : page * size]
        meta = {
            "current_page": page,
            "last_page": max(1, math.ceil(len(rows) / size)),
            "per_page": size,
            "total": len(rows),
        }
        return httpx.Response(200, json={"data": chunk, "meta": meta, "message": "ok"})

    return Vendor(answer)


# --- the sorted scan -----------------------------------------------------------------------


def test_declares_the_sorted_scan_and_no_foreign_id_field() -> None:
    assert GrowcrmAdapter.strategy is ChangeStrategy.SORTED_SCAN
    assert GrowcrmAdapter.foreign_id_field is None
    assert "emails" in GrowcrmAdapter.required_for_create


def test_scan_asks_newest_first_and_pages_with_limit() -> None:
    vendor = paged([])
    list(vendor.adapter(page_size=25).extract(Window(None, END)))
    params = vendor.requests[0].url.params
    assert dict(params) == {"sort": "updated", "order": "desc", "page": "1", "limit": "25"}


def test_scan_stops_at_the_first_record_older_than_the_window() -> None:
    rows = [contact(n, stamp(30 - n)) for n in range(1, 9)]  # days 29, 28, ... 22
    vendor = paged(rows)
    window = Window(datetime(2026, 6, 27, tzinfo=UTC), END)
    records = list(vendor.adapter(page_size=2).extract(window))
    assert [r.external_id for r in records] == ["1", "2", "3"]  # day 27 itself is inclusive
    assert records[2].updated_at == datetime(2026, 6, 27, tzinfo=UTC)
    assert len(vendor.requests) == 2, "no page is fetched past the watermark"


def test_scan_skips_records_newer_than_the_window_end_without_stopping() -> None:
    rows = [
        contact(1, "2026-07-01T00:00:00.000000Z"),
        contact(2, "2026-06-30T12:00:00.000000Z"),
        contact(3, "2026-06-29T00:00:00.000000Z"),
    ]
    records = list(paged(rows).adapter(page_size=10).extract(Window(None, END)))
    assert [r.external_id for r in records] == ["2", "3"]


def test_a_record_without_a_readable_timestamp_is_kept_and_does_not_end_the_scan() -> None:
    rows = [contact(1, stamp(29)), contact(2, None), contact(3, "garbage"), contact(4, stamp(28))]
    window = Window(datetime(2026, 6, 28, tzinfo=UTC), END)
    records = list(paged(rows).adapter(page_size=10).extract(window))
    assert [r.external_id for r in records] == ["1", "2", "3", "4"]
    assert records[1].updated_at is None


@pytest.mark.parametrize(("count", "requests"), [(5, 3), (4, 2), (1, 1), (0, 1)])
def test_full_scan_makes_exactly_the_pages_meta_announces(count: int, requests: int) -> None:
    vendor = paged([contact(n) for n in range(1, count + 1)])
    records = list(vendor.adapter(page_size=2).extract(Window(None, END)))
    assert len(records) == count
    assert len(vendor.requests) == requests


def test_limit_is_capped_at_the_documented_maximum() -> None:
    vendor = paged([])
    list(vendor.adapter(page_size=250).extract(Window(None, END)))
    assert vendor.requests[0].url.params["limit"] == "100"


def test_a_listed_record_without_an_id_is_handed_on_for_quarantine_naming_where() -> None:
    vendor = paged([contact(1), {"first_name": "x", "dates": {"updated": stamp(1)}}])
    good, bad = list(vendor.adapter(page_size=10).extract(Window(None, END)))
    assert good.problem is None
    assert bad.external_id.startswith("?")
    assert bad.problem is not None
    assert "page 1 item 1 has no usable id" in bad.problem


def test_a_list_answer_without_the_data_envelope_is_malformed() -> None:
    vendor = Vendor(lambda r: httpx.Response(200, json=[contact(1)]))
    with pytest.raises(FatalError, match="malformed envelope"):
        list(vendor.adapter().extract(Window(None, END)))


def test_bad_token_is_fatal_and_secret_free() -> None:
    vendor = Vendor(lambda r: httpx.Response(401, json={"message": "Unauthenticated."}))
    with pytest.raises(FatalError) as info:
        list(vendor.adapter().extract(Window(None, END)))
    assert "growcrm" in str(info.value)
    assert TOKEN not in str(info.value)


def test_parse_timestamp_reads_the_laravel_form() -> None:
    expected = datetime(2026, 6, 15, 9, 30, 0, 123456, tzinfo=UTC)
    assert parse_timestamp("2026-06-15T09:30:00.123456Z") == expected
    assert parse_timestamp("yesterday") is None


# --- create ----------------------------------------------------------------------------------


def created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    record = contact(
        50, first_name=body["first_name"], last_name=body["last_name"], email=body["email"]
    )
    return httpx.Response(201, json={"data": record, "message": "Contact created successfully."})


def test_create_posts_the_payload_with_the_default_client() -> None:
    vendor = Vendor(created)
    payload = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    result = vendor.adapter().create(payload)
    assert result.external_id == "50"
    assert result.record["email"] == "ann@example.com"
    assert vendor.calls() == ["POST /api/contacts"]
    assert vendor.bodies()[0] == {**payload, "clientid": 1}


def test_create_keeps_the_mapped_client() -> None:
    vendor = Vendor(created)
    vendor.adapter().create(
        {"first_name": "A", "last_name": "L", "email": "a@x.com", "clientid": 7}
    )
    assert vendor.bodies()[0]["clientid"] == 7


def test_create_without_a_configured_client_sends_nothing() -> None:
    vendor = Vendor(created)
    with pytest.raises(FatalError, match="client_id must be a positive integer"):
        vendor.adapter(defaults={}).create(
            {"first_name": "A", "last_name": "L", "email": "a@x.com"}
        )
    assert vendor.requests == []


def duplicate_vendor(listed: list[dict[str, Any]]) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(422, json=TAKEN)
        meta = {"current_page": 1, "last_page": 1, "total": len(listed)}
        return httpx.Response(200, json={"data": listed, "meta": meta})

    return Vendor(answer)


def test_a_taken_email_is_a_duplicate_naming_the_exact_holder() -> None:
    decoy = contact(8, email="xann@example.com")  # a substring match of the search
    holder = contact(9, email="Ann@Example.com")
    vendor = duplicate_vendor([decoy, holder])
    with pytest.raises(DuplicateError) as info:
        vendor.adapter().create({"first_name": "A", "last_name": "L", "email": "ann@example.com"})
    assert info.value.existing_id == "9"
    assert info.value.fields == ("email",)
    assert info.value.status == 422
    assert vendor.requests[1].url.params["search"] == "ann@example.com"


def test_a_taken_email_held_by_no_listed_contact_keeps_no_existing_id() -> None:
    vendor = duplicate_vendor([contact(8, email="xann@example.com")])
    with pytest.raises(DuplicateError) as info:
        vendor.adapter().create({"first_name": "A", "last_name": "L", "email": "ann@example.com"})
    assert info.value.existing_id is None


def test_a_failing_holder_lookup_still_raises_the_duplicate() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(422, json=TAKEN)
        return httpx.Response(403, json={"message": "Forbidden."})

    with pytest.raises(DuplicateError) as info:
        Vendor(answer).adapter().create({"first_name": "A", "last_name": "L", "email": "a@x.com"})
    assert info.value.existing_id is None


def test_other_validation_errors_are_record_errors() -> None:
    body = {"message": "The given data was invalid.", "errors": {"email": ["must be valid"]}}
    vendor = Vendor(lambda r: httpx.Response(422, json=body))
    with pytest.raises(RecordError) as info:
        vendor.adapter().create({"first_name": "A", "last_name": "L", "email": "nope"})
    assert not isinstance(info.value, DuplicateError)
    assert len(vendor.requests) == 1


def test_cannot_hold_a_contact_without_email_or_names() -> None:
    adapter = Vendor(created).adapter()
    assert "email" in (adapter.cannot_hold({"first_name": "A", "last_name": "L"}) or "")
    assert "last_name" in (adapter.cannot_hold({"first_name": "A", "email": "a@x.com"}) or "")
    assert adapter.cannot_hold({"first_name": "A", "last_name": "L", "email": "a@x.com"}) is None


# --- update ----------------------------------------------------------------------------------


def updated(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":
        return httpx.Response(200, json={"data": contact(5), "message": "ok"})
    body = json.loads(request.content)
    return httpx.Response(200, json={"data": contact(5, **body), "message": "ok"})


def test_update_fills_the_required_fields_from_current() -> None:
    vendor = Vendor(updated)
    current = contact(5, first_name="Old", last_name="Name", email="old@example.com")
    result = vendor.adapter().update("5", {"position": "CFO", "clientid": 3}, current=current)
    assert vendor.calls() == ["PUT /api/contacts/5"]
    assert vendor.bodies()[0] == {
        "position": "CFO",
        "first_name": "Old",
        "last_name": "Name",
        "email": "old@example.com",
    }
    assert result.record["position"] == "CFO"


def test_update_sends_a_changed_email_over_the_current_one() -> None:
    vendor = Vendor(updated)
    vendor.adapter().update("5", {"email": "new@example.com"}, current=contact(5))
    assert vendor.bodies()[0]["email"] == "new@example.com"
    assert vendor.bodies()[0]["last_name"] == "Okafor5"


@pytest.mark.parametrize("current", [None, {"id": 5, "first_name": "Only"}])
def test_update_without_a_usable_current_reads_the_contact_first(
    current: dict[str, Any] | None,
) -> None:
    vendor = Vendor(updated)
    vendor.adapter().update("5", {"phone": "+14155550100"}, current=current)
    assert vendor.calls() == ["GET /api/contacts/5", "PUT /api/contacts/5"]
    assert vendor.bodies()[1] == {
        "phone": "+14155550100",
        "first_name": "Maria",
        "last_name": "Okafor5",
        "email": "maria5@example.com",
    }


def test_update_reads_back_when_the_answer_is_not_a_record() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(200, json={"message": "Contact updated successfully."})
        return httpx.Response(200, json={"data": contact(5, job_position="CFO")})

    vendor = Vendor(answer)
    result = vendor.adapter().update("5", {"position": "CFO"}, current=contact(5))
    assert result.record["job_position"] == "CFO"
    assert vendor.calls()[-1] == "GET /api/contacts/5"


def test_update_of_a_deleted_contact_is_not_found() -> None:
    vendor = Vendor(lambda r: httpx.Response(404, json={"message": "Contact not found."}))
    with pytest.raises(NotFoundError) as info:
        vendor.adapter().update("5", {"position": "CFO"})
    assert info.value.record_id == "5"


def test_a_malformed_id_is_refused_before_any_request() -> None:
    vendor = Vendor(updated)
    with pytest.raises(NotFoundError, match="not a Grow CRM contact id"):
        vendor.adapter().delete("5/account-owner")
    assert vendor.requests == []


# --- delete, find_existing ------------------------------------------------------------------


def test_delete_sends_delete_and_counts_a_404_as_done() -> None:
    statuses = iter([200, 404])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), json={"message": "..."})

    vendor = Vendor(answer)
    adapter = vendor.adapter()
    adapter.delete("5")
    adapter.delete("5")
    assert vendor.calls() == ["DELETE /api/contacts/5"] * 2


def test_delete_refused_is_an_error() -> None:
    vendor = Vendor(lambda r: httpx.Response(403, json={"message": "Forbidden."}))
    with pytest.raises(FatalError, match="forbidden"):
        vendor.adapter().delete("5")


def test_find_existing_goes_by_exact_email() -> None:
    listed = [contact(1, email="bob.smith@example.com"), contact(2, email="SMITH@example.com")]
    vendor = paged(listed)
    assert vendor.adapter(page_size=10).find_existing({"email": "smith@example.com"}, "p") == "2"
    assert vendor.requests[0].url.params["search"] == "smith@example.com"


def test_find_existing_without_email_asks_nothing() -> None:
    vendor = paged([contact(1)])
    assert vendor.adapter().find_existing({"first_name": "Maria"}, "p") is None
    assert vendor.requests == []
