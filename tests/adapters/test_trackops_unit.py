"""TrackopsAdapter's own logic on ``httpx.MockTransport``: requests sent, answers read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contactsync.adapters.base import AdapterContext, ChangeStrategy, Window
from contactsync.adapters.trackops.adapter import TrackopsAdapter, parse_timestamp
from contactsync.adapters.trackops.client import TrackopsBasicAuth
from contactsync.http.errors import DuplicateError, FatalError, NotFoundError, RecordError
from tests.adapters.helpers import RecordingVendor

BASE = "https://acme.viewcases.com/api/v1"
TOKEN = "tok-trackops-unit-secret"
DEFAULTS = {"client_location_id": 12345, "role_id": 6}
END = datetime(2026, 6, 30, 12, 0, 0, tzinfo=UTC)


class Vendor(RecordingVendor):
    """Records every request and answers with ``answer``."""

    def adapter(
        self, page_size: int = 2, defaults: dict[str, Any] | None = None
    ) -> TrackopsAdapter:
        context = AdapterContext(
            system="trackops",
            base_url=BASE,
            page_size=page_size,
            defaults=DEFAULTS if defaults is None else defaults,
            credentials={"username": "api-user", "token": TOKEN},
        )
        auth = TrackopsBasicAuth("api-user", TOKEN)
        return TrackopsAdapter(context, client=self.client("trackops", BASE, auth))


def contact(contact_id: int, updated: str = "2026-06-15 09:30:00", **fields: Any) -> dict[str, Any]:
    return {
        "id": contact_id,
        "client_id": 12345,
        "role_id": 6,
        "first_name": "Susie",
        "last_name": f"Smith{contact_id}",
        "email": f"susie{contact_id}@example.com",
        "account_code": None,
        "updated": updated,
        **fields,
    }


def paged(rows: list[dict[str, Any]]) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["per_page"])
        return httpx.Response(200, json=rows[(page - 1) * size : page * size])

    return Vendor(answer)


# --- extract ----------------------------------------------------------------------------


def test_declares_the_window_strategy_and_the_foreign_id_field() -> None:
    assert TrackopsAdapter.strategy is ChangeStrategy.WINDOW
    assert TrackopsAdapter.foreign_id_field == "account_code"
    assert TrackopsAdapter.required_for_create == ("last_name",)


def test_extract_sends_the_window_in_utc_seconds_with_rounded_bounds() -> None:
    vendor = paged([])
    start = datetime(2026, 6, 1, 8, 0, 5, 250_000, tzinfo=UTC)
    end = datetime(2026, 6, 30, 14, 0, 0, 1, tzinfo=UTC).astimezone()  # local zone: converted
    list(vendor.adapter().extract(Window(start, end)))
    params = vendor.requests[0].url.params
    assert params["updated_from"] == "2026-06-01 08:00:05"  # floored
    assert params["updated_to"] == "2026-06-30 14:00:01"  # ceiled
    assert (params["page"], params["per_page"]) == ("1", "2")


def test_extract_of_everything_sends_no_lower_bound() -> None:
    vendor = paged([])
    list(vendor.adapter().extract(Window(None, END)))
    assert "updated_from" not in vendor.requests[0].url.params
    assert vendor.requests[0].url.params["updated_to"] == "2026-06-30 12:00:00"


@pytest.mark.parametrize(("count", "requests"), [(5, 3), (4, 3), (1, 1), (0, 1)])
def test_extract_stops_on_a_short_page(count: int, requests: int) -> None:
    rows = [contact(n) for n in range(1, count + 1)]
    vendor = paged(rows)
    records = list(vendor.adapter(page_size=2).extract(Window(None, END)))
    assert [r.external_id for r in records] == [str(n) for n in range(1, count + 1)]
    assert len(vendor.requests) == requests
    assert [r.url.params["page"] for r in vendor.requests] == [
        str(n) for n in range(1, requests + 1)
    ]


def test_page_size_is_capped_at_one_hundred() -> None:
    vendor = paged([])
    list(vendor.adapter(page_size=500).extract(Window(None, END)))
    assert vendor.requests[0].url.params["per_page"] == "100"


def test_extract_reads_updated_as_utc_and_applies_the_exact_window() -> None:
    rows = [
        contact(1, "2026-06-01 08:00:05"),  # inside the rounded bound, before the exact start
        contact(2, "2026-06-01 08:00:06"),
        contact(3, "2026-06-30T12:00:00Z"),  # the end itself: inclusive
        contact(4, "not a time"),  # unreadable: kept, the server filtered it
    ]
    vendor = paged(rows)
    window = Window(datetime(2026, 6, 1, 8, 0, 5, 500_000, tzinfo=UTC), END)
    records = list(vendor.adapter(page_size=10).extract(window))
    assert [r.external_id for r in records] == ["2", "3", "4"]
    assert records[0].updated_at == datetime(2026, 6, 1, 8, 0, 6, tzinfo=UTC)
    assert records[1].updated_at == END
    assert records[2].updated_at is None
    assert records[0].payload["last_name"] == "Smith2"


def test_a_listed_record_without_an_id_is_handed_on_for_quarantine_naming_where() -> None:
    vendor = paged([contact(1), {"first_name": "Nobody"}])
    good, bad = list(vendor.adapter(page_size=10).extract(Window(None, END)))
    assert good.problem is None
    assert bad.external_id.startswith("?")
    assert bad.problem is not None
    assert "page 1 item 1 has no usable id" in bad.problem


def test_a_non_array_list_answer_is_a_malformed_envelope() -> None:
    vendor = Vendor(lambda r: httpx.Response(200, json={"contacts": []}))
    with pytest.raises(FatalError, match="malformed envelope"):
        list(vendor.adapter().extract(Window(None, END)))


def test_bad_credentials_are_fatal_and_do_not_leak_the_token() -> None:
    vendor = Vendor(lambda r: httpx.Response(401, json={"message": "Authentication failed."}))
    with pytest.raises(FatalError) as info:
        list(vendor.adapter().extract(Window(None, END)))
    assert "trackops" in str(info.value)
    assert TOKEN not in str(info.value)
    assert "Basic" not in str(info.value)


def test_missing_credentials_are_named_without_values() -> None:
    context = AdapterContext(system="trackops", base_url=BASE, credentials={"token": TOKEN})
    with pytest.raises(FatalError, match=r"missing credential.*username") as info:
        TrackopsAdapter(context)
    assert TOKEN not in str(info.value)


def test_parse_timestamp_reads_naive_as_utc_and_offsets_as_instants() -> None:
    assert parse_timestamp("2026-06-15 09:30:00") == datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
    assert parse_timestamp("2026-06-15T11:30:00+02:00") == datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
    assert parse_timestamp("") is None
    assert parse_timestamp(None) is None
    assert parse_timestamp("15/06/2026") is None


# --- create -----------------------------------------------------------------------------


def test_create_wraps_the_payload_and_adds_the_required_defaults() -> None:
    answer = contact(77, account_code="p_1")
    vendor = Vendor(lambda r: httpx.Response(200, json=answer))
    result = vendor.adapter().create({"last_name": "Smith", "account_code": "p_1"})
    assert result.external_id == "77"
    assert result.record == answer
    request = vendor.requests[0]
    assert (request.method, request.url.path) == ("POST", "/api/v1/client/contacts")
    assert vendor.bodies()[0] == {
        "contact": {"last_name": "Smith", "account_code": "p_1", "client_id": 12345, "role_id": 6},
        "allow_duplicates": False,
    }


def test_create_keeps_the_mapped_client_location_and_passes_allow_duplicates() -> None:
    vendor = Vendor(lambda r: httpx.Response(200, json=contact(78)))
    vendor.adapter().create({"last_name": "Smith", "client_id": 22345}, allow_duplicates=True)
    body = vendor.bodies()[0]
    assert body["contact"]["client_id"] == 22345
    assert body["allow_duplicates"] is True


def test_create_reads_the_contact_back_when_the_answer_is_partial() -> None:
    full = contact(79)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"contact": {"id": 79}})
        return httpx.Response(200, json=full)

    vendor = Vendor(answer)
    result = vendor.adapter().create({"last_name": "Smith"})
    assert (result.external_id, result.record) == ("79", full)
    assert [(r.method, r.url.path) for r in vendor.requests][1] == (
        "GET",
        "/api/v1/client/contacts/79",
    )


def test_create_answer_without_an_id_is_fatal() -> None:
    vendor = Vendor(lambda r: httpx.Response(200, json={"message": "ok"}))
    with pytest.raises(FatalError, match="no contact id"):
        vendor.adapter().create({"last_name": "Smith"})


def test_create_without_configured_defaults_sends_nothing() -> None:
    vendor = Vendor(lambda r: httpx.Response(200, json=contact(1)))
    with pytest.raises(FatalError, match="role_id must be a positive integer"):
        vendor.adapter(defaults={"client_location_id": 12345}).create({"last_name": "Smith"})
    assert vendor.requests == []


def test_same_name_refusal_is_a_duplicate_without_an_existing_id() -> None:
    body = {
        "message": "Duplicate client contact.",
        "errors": {"last_name": ["a client contact with the same name already exists (id 5)"]},
    }
    vendor = Vendor(lambda r: httpx.Response(422, json=body))
    with pytest.raises(DuplicateError) as info:
        vendor.adapter().create({"first_name": "Susie", "last_name": "Smith"})
    assert info.value.existing_id is None
    assert "last_name" in info.value.fields


def test_validation_refusal_is_a_record_error_naming_the_field() -> None:
    body = {"message": "The client contact could not be saved.", "errors": {"email": ["invalid"]}}
    vendor = Vendor(lambda r: httpx.Response(422, json=body))
    with pytest.raises(RecordError) as info:
        vendor.adapter().create({"last_name": "Smith", "email": "nope"})
    assert not isinstance(info.value, DuplicateError)
    assert info.value.fields == ("email",)


# --- update, delete -----------------------------------------------------------------------


def test_update_sends_only_the_changed_fields() -> None:
    answer = contact(5, title="Boss")
    vendor = Vendor(lambda r: httpx.Response(200, json=answer))
    result = vendor.adapter().update("5", {"title": "Boss"}, current=contact(5))
    request = vendor.requests[0]
    assert (request.method, request.url.path) == ("PUT", "/api/v1/client/contacts/5")
    assert vendor.bodies() == [{"contact": {"title": "Boss"}, "allow_duplicates": True}]
    assert result.record == answer


def test_update_of_a_missing_contact_is_not_found_naming_it() -> None:
    vendor = Vendor(lambda r: httpx.Response(404, json={"message": "Client contact not found."}))
    with pytest.raises(NotFoundError) as info:
        vendor.adapter().update("404404", {"title": "Boss"})
    assert info.value.record_id == "404404"
    assert "404404" in str(info.value)


def test_a_malformed_id_is_refused_before_any_request() -> None:
    vendor = Vendor(lambda r: httpx.Response(200, json=contact(1)))
    with pytest.raises(NotFoundError, match="not a Trackops contact id"):
        vendor.adapter().update("../../admin", {"title": "x"})
    assert vendor.requests == []


def test_delete_is_refused_without_sending_anything() -> None:
    vendor = Vendor(lambda r: httpx.Response(200, json={}))
    with pytest.raises(FatalError, match="no delete API") as info:
        vendor.adapter().delete("5")
    assert info.value.record_id == "5"
    assert vendor.requests == []


def test_cannot_hold_a_contact_without_a_last_name() -> None:
    adapter = Vendor(lambda r: httpx.Response(200, json=[])).adapter()
    assert adapter.cannot_hold({"first_name": "Cher", "last_name": "  "}) is not None
    assert adapter.cannot_hold({"last_name": "Smith"}) is None


# --- find_existing ----------------------------------------------------------------------


def listing(rows: list[dict[str, Any]]) -> Vendor:
    return Vendor(lambda r: httpx.Response(200, json=rows))


def test_find_existing_matches_the_stamped_person_id_among_same_email_contacts() -> None:
    rows = [contact(1, account_code="p_other"), contact(2, account_code="p_me")]
    vendor = listing(rows)
    found = vendor.adapter(page_size=10).find_existing({"email": "a@example.com"}, "p_me")
    assert found == "2"
    assert vendor.requests[0].url.params["email"] == "a@example.com"


def test_find_existing_falls_back_to_an_unstamped_contact_with_the_email() -> None:
    rows = [
        contact(1, email="A@Example.com", account_code="p_other"),
        contact(2, email="a@example.COM"),
    ]
    found = listing(rows).adapter(page_size=10).find_existing({"email": "a@example.com"}, "p_me")
    assert found == "2"


def test_find_existing_ignores_contacts_stamped_for_another_person() -> None:
    rows = [contact(1, email="a@example.com", account_code="p_other")]
    assert (
        listing(rows).adapter(page_size=10).find_existing({"email": "a@example.com"}, "p_me")
        is None
    )


def test_find_existing_without_email_lists_by_name() -> None:
    vendor = listing([contact(3, account_code="p_me")])
    payload = {"first_name": "Susie", "last_name": "Smith"}
    assert vendor.adapter(page_size=10).find_existing(payload, "p_me") == "3"
    params = vendor.requests[0].url.params
    assert (params["first_name"], params["last_name"]) == ("Susie", "Smith")
    assert "email" not in params
