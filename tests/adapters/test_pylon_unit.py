"""The Pylon adapter's own logic on ``httpx.MockTransport`` (no sandbox, no network)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactsync.adapters.base import AdapterContext, ChangeStrategy, Window
from contactsync.adapters.pylon.adapter import PylonAdapter
from contactsync.adapters.pylon.payload import (
    create_body,
    merge_external_ids,
    stamp_of,
    update_body,
)
from contactsync.adapters.registry import adapter_class
from contactsync.http.errors import (
    DuplicateError,
    FatalError,
    NotFoundError,
    RecordError,
    RetriableError,
)
from tests.adapters.helpers import Handler, RecordingVendor

TOKEN = "unit-pylon-token-123"
BASE = "https://api.usepylon.test"
EVERYTHING = Window(None, datetime(2100, 1, 1, tzinfo=UTC))
PERSON = "p_01UNIT0000000000000000001"
STAMP = {"label": "contactsync", "external_id": PERSON}


def adapter_for(
    fake: RecordingVendor,
    *,
    page_size: int = 100,
    token: str | None = TOKEN,
    rate_scale: float = 1.0,
    **kwargs: Any,
) -> PylonAdapter:
    context = AdapterContext(
        system="pylon",
        base_url=BASE,
        page_size=page_size,
        rate_scale=rate_scale,
        credentials={"token": token} if token else {},
        transport=httpx.MockTransport(fake),
    )
    return PylonAdapter(context, **kwargs)


def contact(contact_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": contact_id, "name": f"Name {contact_id}", "external_ids": [], **fields}


def answer(data: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"data": data, "request_id": "req-1"})


def error(status: int, message: str, exists_id: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"errors": [message], "request_id": "req-2"}
    if exists_id is not None:
        body["exists_id"] = exists_id
    return httpx.Response(status, json=body)


# --- extract ---------------------------------------------------------------------------


def paged_contacts(count: int, size_seen: list[int]) -> Handler:
    rows = [contact(f"c{i:03d}") for i in range(count)]

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        size_seen.append(limit)
        start = int(request.url.params.get("cursor", "cur-0").removeprefix("cur-"))
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        pagination = {"cursor": f"cur-{start + limit}" if more else "", "has_next_page": more}
        return httpx.Response(200, json={"data": page, "pagination": pagination})

    return handler


def test_extract_follows_the_cursor_to_the_last_page() -> None:
    sizes: list[int] = []
    fake = RecordingVendor(paged_contacts(5, sizes))
    records = list(adapter_for(fake, page_size=2).extract(EVERYTHING))
    assert [r.external_id for r in records] == ["c000", "c001", "c002", "c003", "c004"]
    assert all(r.updated_at is None and r.stream == "people" for r in records)
    assert records[0].payload == contact("c000")
    assert [r.url.params.get("cursor") for r in fake.requests] == [None, "cur-2", "cur-4"]
    assert sizes == [2, 2, 2]
    assert fake.calls() == ["GET /contacts"] * 3


def test_an_exact_multiple_needs_no_extra_page() -> None:
    fake = RecordingVendor(paged_contacts(4, []))
    assert len(list(adapter_for(fake, page_size=2).extract(EVERYTHING))) == 4
    assert len(fake.requests) == 2


def test_the_window_does_not_narrow_a_snapshot() -> None:
    assert PylonAdapter.strategy is ChangeStrategy.SNAPSHOT
    fake = RecordingVendor(paged_contacts(3, []))
    narrow = Window(datetime(2099, 12, 31, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert len(list(adapter_for(fake).extract(narrow))) == 3
    assert "updated" not in str(fake.requests[0].url)


def test_page_size_is_clamped_to_pylons_range() -> None:
    sizes: list[int] = []
    list(adapter_for(RecordingVendor(paged_contacts(1, sizes)), page_size=5000).extract(EVERYTHING))
    list(adapter_for(RecordingVendor(paged_contacts(1, sizes)), page_size=0).extract(EVERYTHING))
    assert sizes == [999, 1]


def test_a_contact_without_an_id_is_handed_on_for_quarantine(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = {"data": [{"name": "No Id"}, contact("c1")], "pagination": {"has_next_page": False}}
    fake = RecordingVendor(lambda request: httpx.Response(200, json=page))
    with caplog.at_level(logging.WARNING):
        bad, good = list(adapter_for(fake).extract(EVERYTHING))
    assert good.external_id == "c1"
    assert good.problem is None
    assert bad.external_id.startswith("?")
    assert bad.problem is not None


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"id": "c1"}, "pagination": {"has_next_page": False}},
        {"data": ["c1"], "pagination": {"has_next_page": False}},
        {"data": [contact("c1")], "pagination": {"has_next_page": True, "cursor": ""}},
    ],
)
def test_a_malformed_list_answer_is_fatal(body: dict[str, Any]) -> None:
    fake = RecordingVendor(lambda request: httpx.Response(200, json=body))
    with pytest.raises(FatalError) as info:
        list(adapter_for(fake).extract(EVERYTHING))
    assert str(info.value).startswith("pylon list contacts")
    assert "malformed envelope" in str(info.value)


def test_a_refused_token_is_fatal_and_never_shown() -> None:
    fake = RecordingVendor(lambda request: error(401, "unauthorized: invalid API token"))
    with pytest.raises(FatalError) as info:
        list(adapter_for(fake).extract(EVERYTHING))
    assert "authentication failed" in str(info.value)
    assert TOKEN not in str(info.value)
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_missing_token_is_fatal_at_construction() -> None:
    with pytest.raises(FatalError, match="missing credential 'token'"):
        adapter_for(RecordingVendor(lambda request: answer([])), token=None)


def test_the_registry_knows_the_adapter() -> None:
    assert adapter_class("pylon") is PylonAdapter


# --- single GET ---------------------------------------------------------------------------


def test_get_sends_the_limit_the_spec_requires() -> None:
    fake = RecordingVendor(lambda request: answer(contact("c1")))
    assert adapter_for(fake).get("c1") == contact("c1")
    assert fake.requests[0].url.path == "/contacts/c1"
    assert dict(fake.requests[0].url.params) == {"limit": "1"}


def test_get_of_a_missing_contact_is_not_found() -> None:
    fake = RecordingVendor(lambda request: error(404, "contact c9 not found"))
    with pytest.raises(NotFoundError) as info:
        adapter_for(fake).get("c9")
    assert info.value.record_id == "c9"
    assert "contact c9 not found" in str(info.value)


# --- create -----------------------------------------------------------------------------


def echo_create(request: httpx.Request) -> httpx.Response:
    return answer({"id": "new-1", **json.loads(request.content)})


def test_create_posts_the_cleaned_payload_and_returns_the_answer() -> None:
    fake = RecordingVendor(echo_create)
    payload = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone_numbers": ["+44 20 7946 0958"],
        "primary_phone_number": "+44 20 7946 0958",
        "external_ids": [STAMP],
    }
    result = adapter_for(fake).create(payload)
    sent = {**payload, "phone_numbers": ["442079460958"], "primary_phone_number": "442079460958"}
    assert fake.bodies() == [sent]
    assert fake.calls() == ["POST /contacts"]
    assert result.external_id == "new-1"
    assert result.record == {"id": "new-1", **sent}


def test_create_without_a_name_is_refused_without_a_request() -> None:
    fake = RecordingVendor(echo_create)
    adapter = adapter_for(fake)
    assert (
        adapter.cannot_hold({"email": "a@b.example"}) == "Pylon requires a name to create a contact"
    )
    assert adapter.cannot_hold({"name": "A"}) is None
    with pytest.raises(RecordError) as info:
        adapter.create({"name": "  ", "email": "a@b.example"})
    assert "pylon create contact" in str(info.value)
    assert info.value.fields == ("name",)
    assert fake.requests == []


def test_a_duplicate_answer_carries_the_existing_id() -> None:
    fake = RecordingVendor(lambda request: error(400, "contact with email exists", exists_id="c7"))
    with pytest.raises(DuplicateError) as info:
        adapter_for(fake).create({"name": "A", "email": "a@b.example"}, allow_duplicates=True)
    assert info.value.existing_id == "c7"
    assert "contact with email exists" in str(info.value)
    assert TOKEN not in str(info.value)


def test_a_refused_field_is_a_record_error() -> None:
    fake = RecordingVendor(lambda request: error(400, "invalid email: 'nope'"))
    with pytest.raises(RecordError) as info:
        adapter_for(fake).create({"name": "A", "email": "nope"})
    assert not isinstance(info.value, DuplicateError)
    assert "invalid email" in str(info.value)


def test_a_create_that_may_have_landed_is_never_resent() -> None:
    fake = RecordingVendor(lambda request: error(500, "internal server error"))
    with pytest.raises(RetriableError) as info:
        adapter_for(fake).create({"name": "A"})
    assert info.value.maybe_applied
    assert len(fake.requests) == 1


def test_a_create_answer_without_a_contact_is_fatal() -> None:
    fake = RecordingVendor(lambda request: httpx.Response(200, json={"request_id": "r"}))
    with pytest.raises(FatalError, match="malformed envelope"):
        adapter_for(fake).create({"name": "A"})


# --- update -----------------------------------------------------------------------------


class Store:
    """A one-contact Pylon: GET answers the contact, PATCH applies the body."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.record = {**self.record, **json.loads(request.content)}
        return answer(self.record)


def test_update_skips_external_ids_the_contact_already_has() -> None:
    current = contact("c1", external_ids=[{"label": "zendesk", "external_id": "z1"}, STAMP])
    fake = RecordingVendor(Store(current))
    result = adapter_for(fake).update(
        "c1", {"name": "New Name", "external_ids": [STAMP]}, current=current
    )
    assert fake.calls() == ["PATCH /contacts/c1"]
    assert fake.bodies() == [{"name": "New Name"}]
    assert result.external_id == "c1"
    assert result.record["name"] == "New Name"


def test_stamping_merges_the_other_labels_from_a_fresh_read() -> None:
    stale = contact("c1", external_ids=[{"label": "zendesk", "external_id": "z1"}])
    fresh = contact(
        "c1",
        external_ids=[
            {"label": "zendesk", "external_id": "z1"},
            {"label": "contactsync", "external_id": "p_OLD"},
            {"label": "hubspot", "external_id": "h1"},
        ],
    )
    fake = RecordingVendor(Store(fresh))
    result = adapter_for(fake).update("c1", {"external_ids": [STAMP]}, current=stale)
    assert fake.calls() == ["GET /contacts/c1", "PATCH /contacts/c1"]
    assert dict(fake.requests[0].url.params) == {"limit": "1"}
    merged = [
        {"label": "zendesk", "external_id": "z1"},
        STAMP,
        {"label": "hubspot", "external_id": "h1"},
    ]
    assert fake.bodies()[1] == {"external_ids": merged}
    assert result.record["external_ids"] == merged


def test_stamping_without_current_reads_first_and_sends_nothing_already_there() -> None:
    fake = RecordingVendor(Store(contact("c1", external_ids=[STAMP])))
    adapter_for(fake).update("c1", {"name": "X", "external_ids": [STAMP]}, current=None)
    assert fake.calls() == ["GET /contacts/c1", "PATCH /contacts/c1"]
    assert fake.bodies()[1] == {"name": "X"}


def test_stamping_after_a_listing_merges_the_listed_labels_without_a_read() -> None:
    listed = contact(
        "c1",
        external_ids=[
            {"label": "zendesk", "external_id": "z1"},
            {"label": "hubspot", "external_id": "h1"},
        ],
    )
    store = Store(listed)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/contacts":
            return httpx.Response(200, json={"data": [store.record], "pagination": {}})
        return store(request)

    fake = RecordingVendor(handler)
    adapter = adapter_for(fake)
    assert [r.external_id for r in adapter.extract(EVERYTHING)] == ["c1"]
    stale = contact("c1", external_ids=[{"label": "zendesk", "external_id": "z1"}])
    adapter.update("c1", {"external_ids": [STAMP]}, current=stale)
    assert fake.calls() == ["GET /contacts", "PATCH /contacts/c1"]
    merged = [*listed["external_ids"], STAMP]
    assert fake.bodies()[1] == {"external_ids": merged}
    # A second stamp in the same run starts from what the first write left.
    other = {"label": "contactsync", "external_id": "p_01UNIT0000000000000000002"}
    adapter.update("c1", {"external_ids": [other]}, current=stale)
    assert fake.calls()[2:] == ["PATCH /contacts/c1"]
    assert fake.bodies()[2] == {"external_ids": [*listed["external_ids"], other]}


def test_update_of_a_missing_contact_is_not_found() -> None:
    fake = RecordingVendor(lambda request: error(404, "contact c9 not found"))
    with pytest.raises(NotFoundError) as info:
        adapter_for(fake).update("c9", {"name": "X"}, current=contact("c9"))
    assert info.value.record_id == "c9"
    assert "pylon update contact [record c9]" in str(info.value)


# --- delete -----------------------------------------------------------------------------


def test_delete_sends_one_delete() -> None:
    fake = RecordingVendor(lambda request: httpx.Response(200, json={"request_id": "r"}))
    adapter_for(fake).delete("c1")
    assert fake.calls() == ["DELETE /contacts/c1"]


def test_deleting_a_contact_already_gone_is_done() -> None:
    fake = RecordingVendor(lambda request: error(404, "contact c1 not found"))
    adapter_for(fake).delete("c1")
    assert len(fake.requests) == 1


def test_a_forbidden_delete_is_fatal() -> None:
    fake = RecordingVendor(lambda request: error(403, "forbidden"))
    with pytest.raises(FatalError, match="access forbidden"):
        adapter_for(fake).delete("c1")


# --- find_existing ----------------------------------------------------------------------


def searching(pages: list[list[dict[str, Any]]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        cursor = json.loads(request.content).get("cursor")
        index = int(cursor) if cursor else 0
        more = index + 1 < len(pages)
        pagination = {"cursor": str(index + 1) if more else "", "has_next_page": more}
        return httpx.Response(200, json={"data": pages[index], "pagination": pagination})

    return handler


def test_find_existing_searches_by_email_and_checks_the_stamp() -> None:
    fake = RecordingVendor(searching([[contact("c1", external_ids=[STAMP])]]))
    found = adapter_for(fake).find_existing({"name": "A", "email": "a@b.example"}, PERSON)
    assert found == "c1"
    assert fake.calls() == ["POST /contacts/search"]
    flt = {"field": "email", "operator": "equals", "value": "a@b.example"}
    assert fake.bodies() == [{"filter": flt, "limit": 100}]


def test_find_existing_pages_through_the_search() -> None:
    other = contact("c1", external_ids=[{"label": "contactsync", "external_id": "p_OTHER"}])
    fake = RecordingVendor(searching([[other], [contact("c2", external_ids=[STAMP])]]))
    assert adapter_for(fake).find_existing({"email": "a@b.example"}, PERSON) == "c2"
    assert fake.bodies()[1]["cursor"] == "1"


def test_find_existing_ignores_contacts_of_other_people() -> None:
    unstamped = contact("c1")
    other = contact("c2", external_ids=[{"label": "contactsync", "external_id": "p_OTHER"}])
    fake = RecordingVendor(searching([[unstamped, other]]))
    assert adapter_for(fake).find_existing({"email": "a@b.example"}, PERSON) is None


def test_find_existing_without_an_email_sends_nothing() -> None:
    fake = RecordingVendor(searching([[]]))
    assert adapter_for(fake).find_existing({"name": "A", "external_ids": [STAMP]}, PERSON) is None
    assert fake.requests == []


# --- budgets ----------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pylons_per_endpoint_budgets_pace_the_search_not_the_reads() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/contacts/search":
            return searching([[]])(request)
        return answer(contact("c1"))

    time = FakeTime()
    adapter = adapter_for(RecordingVendor(handler), clock=time.clock, sleep=time.sleep)
    for _ in range(21):
        adapter.get("c1")
    assert time.slept == []  # 21 GETs fit the 60 a minute
    for _ in range(20):
        adapter.find_existing({"email": "a@b.example"}, PERSON)
    assert time.slept == []  # 20 searches fit the 20 a minute
    adapter.find_existing({"email": "a@b.example"}, PERSON)
    assert time.slept == [pytest.approx(61.0)]  # a minute and the http layer's margin (1 s)
    buckets = {view.name for view in adapter.client.limiter.view()}
    assert buckets == {"GET /contacts/{id}", "POST /contacts/search"}
    assert adapter.request_count == 42


def test_the_configured_rate_scale_scales_the_budgets() -> None:
    time = FakeTime()
    fake = RecordingVendor(lambda request: httpx.Response(200, json={"request_id": "r"}))
    adapter = adapter_for(fake, rate_scale=0.5, clock=time.clock, sleep=time.sleep)
    for number in range(5):
        adapter.delete(f"c{number}")
    assert time.slept == []  # half of the 10 deletes a minute
    adapter.delete("c5")
    assert time.slept == [pytest.approx(61.0)]  # a minute and the http layer's margin (1 s)


# --- request bodies ---------------------------------------------------------------------


def test_create_body_keeps_only_writable_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        body = create_body({"id": "c1", "name": "A", "account": {"id": "x"}, "account_id": "x"})
    assert body == {"name": "A", "account_id": "x"}
    assert "not writable, left out: account, id" in caplog.text


def test_create_body_takes_the_primary_of_an_emails_list() -> None:
    body = create_body(
        {"name": "A", "emails": ["b@x.example", {"email": "p@x.example", "is_primary": True}]}
    )
    assert body == {"name": "A", "email": "p@x.example"}


def test_bad_phones_are_left_out_and_the_primary_follows(caplog: pytest.LogCaptureFixture) -> None:
    payload = {
        "name": "A",
        "phone_numbers": ["+1 (404) 555-0100 x12", "1234567890123456", "+1 404.555.0101"],
        "primary_phone_number": "+1 (404) 555-0100 x12",
    }
    with caplog.at_level(logging.WARNING):
        body = create_body(payload)
    assert body == {"name": "A", "phone_numbers": ["14045550101"]}
    assert caplog.text.count("is not 1-15 digits") == 2


def test_no_usable_phone_leaves_the_contacts_phones_alone() -> None:
    assert update_body({"phone_numbers": ["call me"], "primary_phone_number": "call me"}) == {}


@pytest.mark.parametrize("cleared", [None, []])
def test_numbers_a_user_removed_elsewhere_are_cleared(cleared: list[str] | None) -> None:
    # the planner empties phone_numbers when the golden record lost its last number
    body = update_body({"phone_numbers": cleared, "primary_phone_number": None, "name": "A"})
    assert body == {"name": "A", "phone_numbers": []}


def test_update_body_never_sends_email_with_emails() -> None:
    body = update_body({"email": "P@x.example", "emails": ["a@x.example", "p@x.example"]})
    assert body == {
        "emails": [{"email": "P@x.example", "is_primary": True}, {"email": "a@x.example"}]
    }
    assert update_body({"name": " ", "email": "p@x.example"}) == {"email": "p@x.example"}


def test_merge_external_ids_replaces_our_label_in_place() -> None:
    existing = [{"label": "a", "external_id": "1"}, {"label": "contactsync", "external_id": "old"}]
    assert merge_external_ids(existing, [STAMP]) == [existing[0], STAMP]
    assert merge_external_ids(None, [STAMP]) == [STAMP]
    assert merge_external_ids(["junk", existing[0]], [STAMP]) == [existing[0], STAMP]


def test_stamp_of_reads_our_label_only() -> None:
    assert (
        stamp_of(contact("c", external_ids=[{"label": "x", "external_id": "1"}, STAMP])) == PERSON
    )
    assert stamp_of(contact("c")) is None
    assert stamp_of({"external_ids": "garbage"}) is None


_DIGITS = re.compile(r"[0-9]{1,15}")
phone_text = st.text(alphabet="0123456789 +-().x", max_size=22)
email_text = st.emails() | st.text(max_size=5)


@given(
    phones=st.lists(phone_text, max_size=4),
    primary=st.none() | phone_text,
    email=st.none() | email_text,
    emails=st.none() | st.lists(email_text, max_size=3),
)
def test_any_update_body_keeps_pylons_rules(
    phones: list[str], primary: str | None, email: str | None, emails: list[str] | None
) -> None:
    payload: dict[str, Any] = {"phone_numbers": phones, "primary_phone_number": primary}
    payload |= {"email": email, "emails": emails}
    body = update_body(payload)
    assert not ("email" in body and "emails" in body)
    assert all(_DIGITS.fullmatch(number) for number in body.get("phone_numbers", []))
    if "primary_phone_number" in body:
        assert _DIGITS.fullmatch(body["primary_phone_number"])
        if "phone_numbers" in body:
            assert body["primary_phone_number"] in body["phone_numbers"]
    if "emails" in body:
        assert [e.get("is_primary") for e in body["emails"]].count(True) == 1
