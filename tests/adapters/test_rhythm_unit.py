"""The Rhythm adapter's own logic on ``httpx.MockTransport`` (no sandbox, no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonpatch
import pytest

from contactsync.adapters.base import AdapterContext, Window
from contactsync.adapters.registry import adapter_class
from contactsync.adapters.rhythm.adapter import (
    RhythmAdapter,
    dumps,
    parse_timestamp,
    plan_update,
    stamped_person_id,
)
from contactsync.http.errors import (
    FatalError,
    NotFoundError,
    RateLimitedError,
    RecordError,
    RetriableError,
)

BASE = "https://rolodex.test"
TOKEN_URL = "https://auth.test/oauth2/token"
SECRET = "s3cret-client-secret"
TOKEN = "eyJ.token.value"
PERSON = "p_01UNIT000000000000000000001"
EVERYTHING = Window(None, datetime(2100, 1, 1, tzinfo=UTC))

Handler = Callable[[httpx.Request], httpx.Response]


def contact(record_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": record_id,
        "first_name": "Ana",
        "last_name": "Berg",
        "status": "active",
        "sys_version": 1,
        "sys_created_at": "2026-01-01T00:00:00.000Z",
        "sys_last_modified_at": "2026-06-15T09:30:00.123Z",
        "sys_created_by_id": "u-1",
        "sys_last_modified_by_id": "u-1",
        **fields,
    }


class FakeRhythm:
    """Answers the token call itself and hands every API call to ``api``."""

    def __init__(self, api: Handler) -> None:
        self.api = api
        self.calls: list[httpx.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            self.tokens += 1
            form = dict(pair.split("=", 1) for pair in request.content.decode().split("&"))
            if form.get("client_secret") != SECRET:
                return httpx.Response(401, json={"error": "invalid_client"})
            return httpx.Response(200, json={"access_token": TOKEN, "expires_in": 86400})
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        self.calls.append(request)
        return self.api(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.calls]


def make_adapter(
    api: Handler, *, secret: str = SECRET, sleeps: list[float] | None = None
) -> tuple[RhythmAdapter, FakeRhythm]:
    fake = FakeRhythm(api)
    clock = [1_000_000.0]
    waits = sleeps if sleeps is not None else []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    context = AdapterContext(
        system="rhythm",
        base_url=BASE,
        defaults={"tenant_id": "acme", "token_url": TOKEN_URL},
        credentials={"client_id": "cid", "client_secret": secret},
        transport=httpx.MockTransport(fake),
    )
    return RhythmAdapter(context, sleep=sleep, clock=lambda: clock[0]), fake


# --- extract ------------------------------------------------------------------------------


def test_extract_follows_last_evaluated_key_until_none() -> None:
    pages = {
        None: {"Items": [contact("a"), contact("b")], "LastEvaluatedKey": "k1"},
        "k1": {"Items": [], "LastEvaluatedKey": "k2"},  # a scan page may be empty
        "k2": {"Items": [contact("c", sys_last_modified_at="2026-07-01T08:00:00+02:00")]},
    }

    def api(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.path == "/contacts/acme/search"
        return httpx.Response(200, json=pages[request.url.params.get("exclusiveStartKey")])

    adapter, fake = make_adapter(api)
    records = list(adapter.extract(EVERYTHING))
    assert [r.external_id for r in records] == ["a", "b", "c"]
    assert records[0].updated_at == datetime(2026, 6, 15, 9, 30, 0, 123000, tzinfo=UTC)
    assert records[2].updated_at == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    assert records[0].payload["first_name"] == "Ana"
    assert fake.bodies() == [{}, {}, {}], "no status filter: every status is in the snapshot"
    assert [r.url.params.get("exclusiveStartKey") for r in fake.calls] == [None, "k1", "k2"]
    assert "limit" not in str(fake.calls[0].url), "Rhythm has no page-size parameter"
    assert adapter.request_count == 4  # three pages and the token


def test_extract_drops_a_record_repeated_across_pages() -> None:
    pages = {
        None: {"Items": [contact("a")], "LastEvaluatedKey": "k1"},
        "k1": {"Items": [contact("a"), contact("b")]},
    }
    adapter, _ = make_adapter(
        lambda r: httpx.Response(200, json=pages[r.url.params.get("exclusiveStartKey")])
    )
    assert [r.external_id for r in adapter.extract(EVERYTHING)] == ["a", "b"]


def test_a_record_without_id_is_handed_on_for_quarantine_naming_where() -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(200, json={"Items": [{"first_name": "X"}]}))
    (bad,) = list(adapter.extract(EVERYTHING))
    assert bad.external_id.startswith("?")
    assert bad.problem is not None
    assert "page 1 item 0 has no usable id" in bad.problem


def test_an_unreadable_timestamp_gives_no_updated_at() -> None:
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None
    assert parse_timestamp("2026-06-15T09:30:00") == datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


def test_one_token_for_many_requests_and_the_hook_sees_it_once() -> None:
    adapter, fake = make_adapter(lambda r: httpx.Response(200, json={"Items": []}))
    seen: list[str] = []
    adapter.on_new_token = seen.append
    for _ in range(3):
        list(adapter.extract(EVERYTHING))
    assert fake.tokens == 1
    assert seen == [TOKEN]


def test_wrong_client_secret_is_fatal_and_never_shows_the_secret() -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(200, json={"Items": []}), secret="wrong-1")
    with pytest.raises(FatalError) as info:
        list(adapter.extract(EVERYTHING))
    assert "rhythm" in str(info.value)
    assert "wrong-1" not in str(info.value)
    assert "wrong-1" not in repr(adapter.auth)


def test_missing_settings_are_named_without_values() -> None:
    context = AdapterContext(
        system="rhythm", base_url=BASE, credentials={"client_secret": SECRET}, defaults={}
    )
    with pytest.raises(FatalError, match="tenant_id, token_url, client_id") as info:
        RhythmAdapter(context)
    assert SECRET not in str(info.value)


def test_the_registry_finds_the_adapter() -> None:
    assert adapter_class("rhythm") is RhythmAdapter
    assert RhythmAdapter.foreign_id_field == "origin_service_record_id"


# --- plan_update: full PUT or JSON Patch ------------------------------------------------------


def test_a_small_change_to_a_big_record_is_a_patch() -> None:
    current = contact("c1", job_title="Adjuster", notes="x" * 200, email_address="a@b.example")
    plan = plan_update("c1", current, {"job_title": "Senior Adjuster", "first_name": "Ana"})
    assert plan is not None
    assert plan.method == "PATCH"
    assert json.loads(plan.body) == [
        {"op": "replace", "path": "/job_title", "value": "Senior Adjuster"}
    ]
    assert plan.patch_size == len(plan.body) < plan.put_size
    assert jsonpatch.apply_patch(current, json.loads(plan.body))["job_title"] == "Senior Adjuster"


def test_many_new_fields_on_a_small_record_is_a_full_put() -> None:
    current = {"id": "c2", "first_name": "A", "sys_version": 3, "sys_created_by_id": "u-1"}
    payload = {f"field_{i}": i for i in range(20)}
    plan = plan_update("c2", current, payload)
    assert plan is not None
    assert plan.method == "PUT"
    body = json.loads(plan.body)
    assert body == {**current, **payload}, "the whole record, sys_* fields as read"
    assert plan.put_size == len(plan.body) < plan.patch_size


def test_the_put_body_id_matches_the_path_and_the_patch_never_touches_id() -> None:
    current = {"first_name": "A"}  # e.g. a stored raw without its id
    plan = plan_update("c3", current, {f"f{i}": "v" for i in range(12)})
    assert plan is not None
    assert plan.method == "PUT"
    assert json.loads(plan.body)["id"] == "c3"
    small = plan_update("c3", contact("other"), {"first_name": "B"})
    assert small is not None
    assert all(op["path"] != "/id" for op in json.loads(small.body))


def test_an_address_is_replaced_whole_and_nothing_changes_means_no_plan() -> None:
    current = contact("c4", home_address={"line1": "1 Old Rd", "line2": "Apt 2", "city": "X"})
    plan = plan_update("c4", current, {"home_address": {"line1": "9 New St", "city": "X"}})
    assert plan is not None
    patched = jsonpatch.apply_patch(current, json.loads(plan.body))
    assert patched["home_address"] == {"line1": "9 New St", "city": "X"}
    assert plan_update("c4", current, {"first_name": "Ana", "id": "ignored"}) is None


def test_body_sizes_are_the_bytes_sent() -> None:
    assert dumps({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()


# --- writes over HTTP -----------------------------------------------------------------------


def test_update_sends_the_planned_patch_and_returns_the_answer() -> None:
    current = contact("c1", job_title="Adjuster", notes="long " * 40)
    answer = {**current, "job_title": "Lead", "sys_version": 2}
    adapter, fake = make_adapter(lambda r: httpx.Response(200, json=answer))
    result = adapter.update("c1", {"job_title": "Lead"}, current=current)
    (call,) = fake.calls
    assert call.method == "PATCH"
    assert call.url.path == "/contacts/acme/c1"
    assert json.loads(call.content) == [{"op": "replace", "path": "/job_title", "value": "Lead"}]
    assert call.headers["Content-Type"] == "application/json"
    assert result.external_id == "c1"
    assert result.record == answer


def test_update_sends_a_put_when_it_is_smaller() -> None:
    current = {"id": "c2", "first_name": "A", "sys_last_modified_at": "2026-01-01T00:00:00Z"}
    payload = {f"field_{i}": "v" for i in range(15)}

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**json.loads(request.content), "sys_version": 2})

    adapter, fake = make_adapter(api)
    result = adapter.update("c2", payload, current=current)
    (call,) = fake.calls
    assert call.method == "PUT"
    assert json.loads(call.content) == {**current, **payload}
    assert result.record["field_14"] == "v"


def test_update_without_current_reads_it_first_and_a_partial_answer_is_read_back() -> None:
    stored = contact("c5", nickname="Old")

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=stored)
        stored.update(nickname="New")
        return httpx.Response(200, json={"id": "c5"})  # no full record in the answer

    adapter, fake = make_adapter(api)
    result = adapter.update("c5", {"nickname": "New"})
    assert [c.method for c in fake.calls] == ["GET", "PATCH", "GET"]
    assert result.record["nickname"] == "New"


def test_update_of_a_locked_contact_sends_nothing() -> None:
    adapter, fake = make_adapter(lambda r: httpx.Response(200, json={}))
    with pytest.raises(RecordError, match="locked") as info:
        adapter.update("c6", {"job_title": "X"}, current=contact("c6", sys_locked=True))
    assert info.value.record_id == "c6"
    assert fake.calls == []


def test_update_with_nothing_to_change_sends_nothing() -> None:
    adapter, fake = make_adapter(lambda r: httpx.Response(500))
    current = contact("c7")
    assert adapter.update("c7", {"first_name": "Ana"}, current=current).record == current
    assert fake.calls == []


def test_create_sends_no_id_and_returns_the_server_record() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/contacts/acme"
        return httpx.Response(200, json=contact("new-1", **json.loads(request.content)))

    adapter, fake = make_adapter(api)
    payload = {"id": "mine", "first_name": "Ana", "origin_service": "contactsync"}
    result = adapter.create(payload)
    assert fake.bodies() == [{"first_name": "Ana", "origin_service": "contactsync"}]
    assert result.external_id == "new-1"
    assert result.record["sys_version"] == 1


def test_a_create_answer_without_id_is_fatal() -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(200, json={"ok": True}))
    with pytest.raises(FatalError, match="no contact id"):
        adapter.create({"first_name": "Ana"})


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (400, RecordError, "record rejected"),
        (409, RecordError, "refers to a missing object \\(organization_id 'org-x'\\)"),
        (403, FatalError, "access forbidden"),
    ],
)
def test_status_only_errors_are_classified(status: int, error: type[Exception], text: str) -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(status, json={"message": "x"}))
    with pytest.raises(error, match=text) as info:
        adapter.create({"first_name": "Ana", "organization_id": "org-x"})
    assert str(info.value).startswith("rhythm create contact")


def test_a_server_error_on_create_may_have_been_applied() -> None:
    adapter, fake = make_adapter(lambda r: httpx.Response(500))
    with pytest.raises(RetriableError) as info:
        adapter.create({"first_name": "Ana"})
    assert info.value.maybe_applied
    assert len(fake.calls) == 1, "a create is never sent twice"


def test_a_429_holds_the_tenant_for_the_assumed_pause_then_retries_once() -> None:
    answers = iter([httpx.Response(429, json={"message": "Limit exceeded"})])

    def api(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json={"Items": [contact("a")]}))

    sleeps: list[float] = []
    adapter, fake = make_adapter(api, sleeps=sleeps)
    assert [r.external_id for r in adapter.extract(EVERYTHING)] == ["a"]
    assert len(fake.calls) == 2
    assert sum(sleeps) == pytest.approx(10.0)


def test_a_429_that_persists_is_rate_limited() -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(429), sleeps=[])
    with pytest.raises(RateLimitedError, match="tenant limit"):
        list(adapter.extract(EVERYTHING))


def test_delete_ok_and_a_contact_already_gone_is_quiet() -> None:
    adapter, fake = make_adapter(lambda r: httpx.Response(404 if "gone" in r.url.path else 200))
    adapter.delete("d1")
    adapter.delete("gone-1")
    assert [(c.method, c.url.path) for c in fake.calls] == [
        ("DELETE", "/contacts/acme/d1"),
        ("DELETE", "/contacts/acme/gone-1"),
    ]


def test_delete_refused_because_others_refer_to_it() -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(409, json={"message": "Conflict"}))
    with pytest.raises(RecordError, match="other records refer to this contact") as info:
        adapter.delete("d2")
    assert info.value.record_id == "d2"


def test_a_malformed_id_is_not_found_without_a_request() -> None:
    adapter, fake = make_adapter(lambda r: httpx.Response(200))
    with pytest.raises(NotFoundError):
        adapter.delete("../../etc")
    assert fake.calls == []


# --- find_existing -------------------------------------------------------------------------


def stamped(record_id: str, person_id: str | None, **fields: Any) -> dict[str, Any]:
    stamp = {} if person_id is None else {"origin_service": "contactsync"}
    if person_id is not None:
        stamp["origin_service_record_id"] = person_id
    return contact(record_id, **stamp, **fields)


def search_answer(*items: dict[str, Any]) -> Handler:
    return lambda request: httpx.Response(200, json={"Items": list(items)})


def test_find_existing_searches_by_email_and_matches_the_stamp() -> None:
    adapter, fake = make_adapter(
        search_answer(
            stamped("x1", "p_someone_else", email_address="ana@example.com"),
            stamped("x2", PERSON, email_address="ana@example.com"),
        )
    )
    payload = {"first_name": "Ana", "email_address": "ana@example.com"}
    assert adapter.find_existing(payload, PERSON) == "x2"
    assert fake.bodies() == [{"email_address": "ana@example.com"}]


def test_find_existing_falls_back_to_the_one_unstamped_contact_with_that_email() -> None:
    adapter, _ = make_adapter(
        search_answer(
            stamped("x1", "p_someone_else", email_address="ana@example.com"),
            stamped("x3", None, email_address2="ANA@example.com"),
        )
    )
    assert adapter.find_existing({"email_address": "ana@example.com"}, PERSON) == "x3"


def test_find_existing_does_not_guess_between_two_unstamped_contacts() -> None:
    adapter, _ = make_adapter(
        search_answer(
            stamped("x3", None, email_address="ana@example.com"),
            stamped("x4", None, email_address="ana@example.com"),
        )
    )
    assert adapter.find_existing({"email_address": "ana@example.com"}, PERSON) is None


def test_find_existing_without_email_searches_by_name_and_needs_the_stamp() -> None:
    adapter, fake = make_adapter(search_answer(stamped("x5", None), stamped("x6", PERSON)))
    assert adapter.find_existing({"first_name": "Ana", "last_name": "Berg"}, PERSON) == "x6"
    assert fake.bodies() == [{"first_name": "Ana", "last_name": "Berg"}]
    nameless, none_sent = make_adapter(search_answer())
    assert nameless.find_existing({"job_title": "X"}, PERSON) is None
    assert none_sent.calls == []


def test_only_a_contactsync_origin_counts_as_our_stamp() -> None:
    assert stamped_person_id(stamped("x", PERSON)) == PERSON
    other = {"origin_service": "crm-import", "origin_service_record_id": PERSON}
    assert stamped_person_id(other) is None
    assert stamped_person_id({"sys_external_id": PERSON}) is None


def test_cannot_hold_a_contact_without_any_name() -> None:
    adapter, _ = make_adapter(search_answer())
    assert adapter.cannot_hold({"email_address": "a@b.example"})
    assert adapter.cannot_hold({"last_name": "Berg"}) is None


def test_a_409_on_update_names_the_references_it_carried() -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(409))
    payload = {"organization_id": "org-gone", "job_title": "X"}
    with pytest.raises(RecordError) as info:
        adapter.update("c8", payload, current=contact("c8", notes="n" * 300))
    assert info.value.fields == ("organization_id",)
    assert info.value.record_id == "c8"
    assert "rhythm update contact (PATCH) [record c8]: HTTP 409" in str(info.value)
    assert "org-gone" in str(info.value)


def test_a_conditional_patch_tests_every_field_also_those_it_leaves_alone() -> None:
    """A user's edit of any field since the read refuses the patch (Rhythm applies all
    or nothing); a moved email would otherwise be written back into its old slot."""
    from contactsync.adapters.rhythm.patch import conditional_patch

    current = {
        "id": "c1",
        "first_name": "Ann",
        "email_address": "ann@x.io",
        "email_address2": None,
        "sys_version": 4,
    }
    tested, body = conditional_patch("c1", current, {"job_title": "Clerk"})
    assert tested == ["email_address", "email_address2", "first_name"]  # not id, not sys_*
    assert body is not None
    operations = json.loads(body)
    tests = [op for op in operations if op["op"] == "test"]
    assert {op["path"] for op in tests} == {"/email_address", "/email_address2", "/first_name"}
    moved = {**current, "email_address": "ann@new.io", "email_address2": "ann@x.io"}
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(moved, operations)
    assert jsonpatch.apply_patch(current, operations)["job_title"] == "Clerk"
