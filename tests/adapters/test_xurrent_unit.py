"""Xurrent adapter logic on ``httpx.MockTransport``: requests sent, answers read, errors typed."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactsync.adapters.base import AdapterContext, ChangeStrategy, OrgChannelRecord, Window
from contactsync.adapters.xurrent.adapter import (
    XurrentAdapter,
    channels_by_organization,
    channels_to_canonical,
    filter_time,
    parse_updated_at,
    plan_channels,
)
from contactsync.adapters.xurrent.channels import channel_value, comparable
from contactsync.http.errors import (
    DuplicateError,
    FatalError,
    NotFoundError,
    RecordError,
    RetriableError,
)
from contactsync.model.contact import ChannelLabel, OrgChannel
from tests.adapters.helpers import Handler, RecordingVendor

BASE = "https://api.example.test/v1"
TOKEN = "tok-unit-secret-123"
END = datetime(2100, 1, 1, tzinfo=UTC)


class Recorder(RecordingVendor):
    """A MockTransport handler that records requests and answers from a routing function."""

    def query(self, index: int = -1) -> dict[str, list[str]]:
        return parse_qs(urlsplit(str(self.requests[index].url)).query, keep_blank_values=True)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def make_adapter(
    route: Handler, *, page_size: int = 2, defaults: dict[str, Any] | None = None
) -> tuple[XurrentAdapter, Recorder]:
    recorder = Recorder(route)
    context = AdapterContext(
        system="xurrent",
        base_url=BASE,
        page_size=page_size,
        defaults={"account_id": "acme", "organization_ids": [201, "202"], **(defaults or {})},
        credentials={"token": TOKEN},
        transport=httpx.MockTransport(recorder),
    )
    return XurrentAdapter(context), recorder


def person(pid: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"Person {pid}",
        "primary_email": f"p{pid}@example.com",
        "updated_at": "2016-03-14T03:10:31-06:00",
        **fields,
    }


def paged(people: list[dict[str, Any]], size: int | None = None) -> Handler:
    """A list answering pages of ``per_page`` (or a fixed ``size``, a server ignoring
    ``per_page``) with Link headers, like Xurrent."""
    fixed = size

    def route(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        size = fixed or int(request.url.params.get("per_page", "20"))
        chunk = people[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(people):
            headers["Link"] = f'<{request.url.copy_merge_params({"page": page + 1})}>; rel="next"'
        return httpx.Response(200, json=chunk, headers=headers)

    return route


def error(status: int, message: str, errors: list[list[str]] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body)


# --- configuration and auth ---------------------------------------------------------------


def test_declares_window_strategy_sourceid_and_required_email() -> None:
    assert XurrentAdapter.strategy is ChangeStrategy.WINDOW
    assert XurrentAdapter.foreign_id_field == "sourceID"
    assert XurrentAdapter.required_for_create == ("emails",)


def test_every_request_carries_the_bearer_token_and_the_account() -> None:
    adapter, recorder = make_adapter(paged([], 2))
    list(adapter.extract(Window(None, END)))
    request = recorder.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Xurrent-Account"] == "acme"


@pytest.mark.parametrize(
    ("credentials", "defaults", "missing"),
    [({}, {"account_id": "acme"}, "token"), ({"token": TOKEN}, {}, "account")],
)
def test_missing_token_or_account_is_fatal(
    credentials: dict[str, str], defaults: dict[str, Any], missing: str
) -> None:
    context = AdapterContext(
        system="xurrent", base_url=BASE, credentials=credentials, defaults=defaults
    )
    with pytest.raises(FatalError, match=missing):
        XurrentAdapter(context)


def test_bad_token_is_fatal_and_never_shows_the_token() -> None:
    adapter, _ = make_adapter(lambda r: error(401, f"Unauthorized token {TOKEN}"))
    with pytest.raises(FatalError) as info:
        list(adapter.extract(Window(None, END)))
    assert TOKEN not in str(info.value)
    assert "xurrent" in str(info.value)


# --- extract --------------------------------------------------------------------------------


def test_extract_follows_the_link_header_to_the_last_page() -> None:
    people = [person(i) for i in range(1, 6)]
    adapter, recorder = make_adapter(paged(people, 2), page_size=2)
    records = list(adapter.extract(Window(None, END)))
    assert [r.external_id for r in records] == ["1", "2", "3", "4", "5"]
    assert len(recorder.requests) == 3  # ceil(5 / 2), no probe for an empty page
    first = recorder.query(0)
    assert first["per_page"] == ["2"]
    assert first["sort"] == ["id"]
    assert "primary_email" in first["fields"][0].split(",")
    assert "updated_at" not in first  # no start: everyone


def test_extract_sends_the_window_start_in_utc_seconds_and_reads_offsets() -> None:
    adapter, recorder = make_adapter(paged([person(7)], 2))
    start = datetime(2016, 3, 14, 3, 10, 31, 700_000, tzinfo=timezone(timedelta(hours=-6)))
    [record] = adapter.extract(Window(start, END))
    assert recorder.query(0)["updated_at"] == [">=2016-03-14T09:10:31Z"]
    assert record.updated_at == datetime(2016, 3, 14, 9, 10, 31, tzinfo=UTC)
    assert record.payload["primary_email"] == "p7@example.com"


def test_extract_hands_on_a_person_without_id_and_keeps_an_unreadable_timestamp(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [{"name": "No Id"}, person(3, updated_at="yesterday")]
    adapter, _ = make_adapter(paged(rows, 5), page_size=5)
    with caplog.at_level(logging.WARNING):
        records = list(adapter.extract(Window(None, END)))
    good = [(r.external_id, r.updated_at) for r in records if r.problem is None]
    assert good == [("3", None)]
    (bad,) = [r for r in records if r.problem is not None]
    assert bad.external_id.startswith("?")


def test_page_size_is_capped_at_the_vendor_maximum() -> None:
    adapter, recorder = make_adapter(paged([], 100), page_size=500)
    list(adapter.extract(Window(None, END)))
    assert recorder.query(0)["per_page"] == ["100"]


def test_a_list_that_is_not_an_array_is_a_malformed_envelope() -> None:
    adapter, _ = make_adapter(lambda r: httpx.Response(200, json={"people": []}))
    with pytest.raises(FatalError, match="malformed envelope"):
        list(adapter.extract(Window(None, END)))


def test_filter_time_floors_the_start_to_its_second_in_utc() -> None:
    moment = datetime(2026, 1, 1, 23, 59, 59, 500_000, tzinfo=UTC)
    assert filter_time(moment) == "2026-01-01T23:59:59Z"
    assert filter_time(moment.astimezone(timezone(timedelta(hours=2)))) == "2026-01-01T23:59:59Z"
    assert filter_time(datetime(2026, 1, 1)) == "2026-01-01T00:00:00Z"  # naive = UTC
    assert parse_updated_at("2016-03-14T03:10:31-06:00") == datetime(
        2016, 3, 14, 9, 10, 31, tzinfo=UTC
    )
    assert parse_updated_at(None) is None


# --- person writes ---------------------------------------------------------------------------


def test_create_stamps_the_source_next_to_our_sourceid() -> None:
    adapter, recorder = make_adapter(lambda r: httpx.Response(201, json=person(42)))
    result = adapter.create({"name": "Ann Lee", "primary_email": "ann@x.com", "sourceID": "p_1"})
    assert result.external_id == "42"
    assert result.record["primary_email"] == "p42@example.com"
    assert recorder.calls() == ["POST /v1/people"]
    assert recorder.body() == {
        "name": "Ann Lee",
        "primary_email": "ann@x.com",
        "sourceID": "p_1",
        "source": "contactsync",
    }


@pytest.mark.parametrize(
    "payload", [{"name": "Ann Lee"}, {"primary_email": "a@x.com", "name": " "}]
)
def test_create_without_name_or_primary_email_is_refused_before_sending(
    payload: dict[str, Any],
) -> None:
    adapter, recorder = make_adapter(lambda r: httpx.Response(201, json=person(1)))
    assert adapter.cannot_hold(payload) is not None
    with pytest.raises(RecordError) as info:
        adapter.create(payload)
    assert "xurrent" in str(info.value)
    assert recorder.requests == []


def test_cannot_hold_accepts_a_named_person_with_an_email() -> None:
    adapter, _ = make_adapter(paged([], 2))
    assert adapter.cannot_hold({"name": "Ann", "primary_email": "a@x.com"}) is None


def test_taken_primary_email_is_a_duplicate_with_the_holders_id() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return error(422, "Validation failed", [["primary_email", "has already been taken"]])
        assert request.url.params["primary_email"] == "ann@x.com"
        return httpx.Response(200, json=[{"id": 9, "primary_email": "ANN@x.com"}])

    adapter, recorder = make_adapter(route)
    with pytest.raises(DuplicateError) as info:
        adapter.create({"name": "Ann", "primary_email": "ann@x.com"})
    assert info.value.existing_id == "9"
    assert info.value.fields == ("primary_email",)
    assert recorder.calls() == ["POST /v1/people", "GET /v1/people"]


def test_other_validation_errors_are_record_errors_naming_the_field() -> None:
    adapter, recorder = make_adapter(
        lambda r: error(422, "Validation failed", [["job_title", "is too long"]])
    )
    with pytest.raises(RecordError) as info:
        adapter.create({"name": "Ann", "primary_email": "ann@x.com", "job_title": "x" * 300})
    assert not isinstance(info.value, DuplicateError)
    assert info.value.fields == ("job_title",)
    assert len(recorder.requests) == 1


def test_a_server_error_on_create_is_never_resent() -> None:
    adapter, recorder = make_adapter(lambda r: error(500, "boom"))
    with pytest.raises(RetriableError) as info:
        adapter.create({"name": "Ann", "primary_email": "ann@x.com"})
    assert info.value.maybe_applied
    assert len(recorder.requests) == 1


def test_update_patches_the_person_with_the_subset() -> None:
    adapter, recorder = make_adapter(lambda r: httpx.Response(200, json=person(5, job_title="CEO")))
    result = adapter.update("5", {"job_title": "CEO"}, current=person(5))
    assert (result.external_id, result.record["job_title"]) == ("5", "CEO")
    assert recorder.calls() == ["PATCH /v1/people/5"]
    assert recorder.body() == {"job_title": "CEO"}


def test_update_of_a_missing_person_is_not_found_naming_it() -> None:
    adapter, _ = make_adapter(lambda r: error(404, "Not Found"))
    with pytest.raises(NotFoundError, match=r"\[record 77\]"):
        adapter.update("77", {"job_title": "CEO"})


@pytest.mark.parametrize("bad_id", ["../organizations", "12a", ""])
def test_a_non_numeric_id_is_refused_before_sending(bad_id: str) -> None:
    adapter, recorder = make_adapter(lambda r: httpx.Response(200, json={}))
    with pytest.raises(RecordError, match="numeric"):
        adapter.update(bad_id, {"job_title": "CEO"})
    with pytest.raises(RecordError):
        adapter.delete(bad_id)
    assert recorder.requests == []


def test_blanking_a_required_field_on_update_is_refused() -> None:
    adapter, recorder = make_adapter(lambda r: httpx.Response(200, json=person(5)))
    with pytest.raises(RecordError, match="primary_email"):
        adapter.update("5", {"primary_email": ""})
    assert recorder.requests == []


def test_delete_archives_the_person() -> None:
    adapter, recorder = make_adapter(lambda r: httpx.Response(200, json=person(5)))
    adapter.delete("5")
    assert recorder.calls() == ["POST /v1/people/5/archive"]


def test_archiving_a_missing_person_is_not_found() -> None:
    adapter, _ = make_adapter(lambda r: error(404, "Not Found"))
    with pytest.raises(NotFoundError):
        adapter.delete("5")


# --- find_existing ---------------------------------------------------------------------------


def lookups(by_stamp: list[dict[str, Any]], by_email: list[dict[str, Any]]) -> Handler:
    def route(request: httpx.Request) -> httpx.Response:
        if "sourceID" in request.url.params:
            assert request.url.params["source"] == "contactsync"
            return httpx.Response(200, json=by_stamp)
        return httpx.Response(200, json=by_email)

    return route


def test_find_existing_by_our_stamp_first() -> None:
    adapter, recorder = make_adapter(lookups([{"id": 12}], []))
    assert adapter.find_existing({"primary_email": "a@x.com"}, "p_1") == "12"
    assert recorder.query(0)["sourceID"] == ["p_1"]
    assert len(recorder.requests) == 1


def test_find_existing_falls_back_to_an_unstamped_person_with_the_email() -> None:
    unstamped = {"id": 13, "source": "import", "sourceID": "HR-1"}
    adapter, recorder = make_adapter(lookups([], [unstamped]))
    assert adapter.find_existing({"primary_email": "a@x.com"}, "p_1") == "13"
    assert recorder.query(1)["primary_email"] == ["a@x.com"]


def test_find_existing_ignores_a_person_stamped_for_someone_else() -> None:
    other = {"id": 14, "source": "contactsync", "sourceID": "p_OTHER"}
    adapter, _ = make_adapter(lookups([], [other]))
    assert adapter.find_existing({"primary_email": "a@x.com"}, "p_1") is None


def test_find_existing_never_sends_a_filter_operator() -> None:
    adapter, recorder = make_adapter(lookups([], [{"id": 1}]))
    assert adapter.find_existing({"primary_email": "!a@x.com"}, ">p") is None
    assert recorder.requests == []


# --- organization contacts -------------------------------------------------------------------

CHANNELS = {
    "201": [
        {"id": 68, "label": "general", "telephone": "+1 (203) 413 4880"},
        {"id": 65, "label": "general", "email": "info@best-it.com"},
        {"id": 66, "label": "general", "website": "www.best-it.com"},
    ],
    "202": [{"id": 70, "label": "fax", "telephone": "+1 (203) 413 4881"}],
}


def org_route(channels: dict[str, list[dict[str, Any]]]) -> Handler:
    def route(request: httpx.Request) -> httpx.Response:
        org = request.url.path.split("/")[3]
        if request.method == "GET":
            return paged(channels.get(org, []))(request)
        if request.method == "POST":
            return httpx.Response(201, json={"id": 900, **json.loads(request.content)})
        if request.method == "PATCH":
            body = {k: v for k, v in json.loads(request.content).items() if v is not None}
            return httpx.Response(200, json={"id": int(request.url.path.split("/")[-1]), **body})
        return httpx.Response(204)

    return route


def test_organization_channels_pages_each_configured_organization() -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS), page_size=2)
    records = list(adapter.organization_channels())
    assert [(r.organization_id, r.external_id) for r in records] == [
        ("201", "68"),
        ("201", "65"),
        ("201", "66"),
        ("202", "70"),
    ]
    assert recorder.calls() == [
        "GET /v1/organizations/201/contacts",
        "GET /v1/organizations/201/contacts",
        "GET /v1/organizations/202/contacts",
    ]


def test_an_unknown_organization_is_fatal_and_named() -> None:
    adapter, _ = make_adapter(lambda r: error(404, "Not Found"))
    with pytest.raises(FatalError, match="organization 201"):
        list(adapter.organization_channels())


@pytest.mark.parametrize("bad", [["x1"], [True], "abc"])
def test_bad_configured_organization_ids_are_fatal(bad: Any) -> None:
    adapter, _ = make_adapter(paged([], 2), defaults={"organization_ids": bad})
    with pytest.raises(FatalError, match="organization_ids"):
        list(adapter.organization_channels())


def test_no_configured_organization_means_no_channels() -> None:
    adapter, recorder = make_adapter(paged([], 2), defaults={"organization_ids": []})
    assert list(adapter.organization_channels()) == []
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"telephone": "1"}, "label"),
        ({"label": "main", "telephone": "1"}, "label"),
        ({"label": "general"}, "telephone/email/website"),
        ({"label": "general", "telephone": "1", "email": "a@x.com"}, "telephone/email/website"),
        ({"label": "fax", "email": "a@x.com"}, "label"),
        ({"label": "service_desk_fax", "website": "x.com"}, "label"),
        ({"label": "general", "email": "a" * 256}, "email"),
        ({"label": "general", "email": 5}, "email"),
        ({"label": "general", "email": "a@x.com", "id": 3}, "id"),
        ({"label": "general", "email": "a@x.com", "integration": "yes"}, "integration"),
    ],
)
def test_invalid_channels_are_refused_before_sending(payload: dict[str, Any], field: str) -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS))
    with pytest.raises(RecordError) as info:
        adapter.create_channel(201, payload)
    assert field in info.value.fields
    assert "organization 201" in str(info.value)
    with pytest.raises(RecordError):
        adapter.update_channel(201, 68, payload)
    assert recorder.requests == []


def test_create_channel_posts_label_and_value() -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS))
    result = adapter.create_channel("201", {"label": "service_desk", "email": " desk@x.com "})
    assert recorder.calls() == ["POST /v1/organizations/201/contacts"]
    assert recorder.body() == {"label": "service_desk", "email": "desk@x.com"}
    assert (result.external_id, result.record["email"]) == ("900", "desk@x.com")


def test_update_channel_clears_the_other_kinds() -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS))
    result = adapter.update_channel(201, "65", {"label": "fax", "telephone": "+1 203 413 4889"})
    assert recorder.calls() == ["PATCH /v1/organizations/201/contacts/65"]
    assert recorder.body() == {
        "label": "fax",
        "telephone": "+1 203 413 4889",
        "email": None,
        "website": None,
    }
    assert result.external_id == "65"


def test_delete_channel_and_delete_all_use_their_paths() -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS))
    adapter.delete_channel(201, 68)
    adapter.delete_all_channels(201)
    assert recorder.calls() == [
        "DELETE /v1/organizations/201/contacts/68",
        "DELETE /v1/organizations/201/contacts/",
    ]


def test_deleting_a_missing_channel_is_not_found() -> None:
    adapter, _ = make_adapter(lambda r: error(404, "Not Found"))
    with pytest.raises(NotFoundError, match="contact 68"):
        adapter.delete_channel(201, 68)


def test_replace_channels_keeps_reformatted_values_and_writes_the_rest() -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS), page_size=10)
    desired = [
        OrgChannel(label=ChannelLabel.GENERAL, email="INFO@best-it.com"),  # same as 65
        OrgChannel(label=ChannelLabel.GENERAL, telephone="+12034134880"),  # same as 68
        OrgChannel(label=ChannelLabel.SERVICE_DESK, email="desk@best-it.com"),  # new
    ]
    results = adapter.replace_channels(201, desired)
    assert [r.external_id for r in results] == ["65", "68", "66"]
    assert recorder.calls() == [
        "GET /v1/organizations/201/contacts",
        "PATCH /v1/organizations/201/contacts/66",  # the website takes the new value
    ]
    assert results[2].record["email"] == "desk@best-it.com"
    assert results[0].record["email"] == "info@best-it.com"  # Xurrent's own formatting


def test_replace_channels_creates_and_deletes_what_cannot_be_reused() -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS), page_size=10)
    desired = [
        OrgChannel(label=ChannelLabel.GENERAL, website="www.best-it.com", external_id="66"),
        OrgChannel(label=ChannelLabel.SERVICE_DESK, website="help.best-it.com"),
        OrgChannel(label=ChannelLabel.FAX, telephone="+1 203 413 4881"),
        OrgChannel(label=ChannelLabel.SERVICE_DESK_FAX, telephone="+1 203 413 4882"),
    ]
    results = adapter.replace_channels(201, desired)
    assert [r.external_id for r in results[:3]] == ["66", "65", "68"]
    assert results[3].external_id == "900"
    assert sorted(recorder.calls()[1:]) == [
        "PATCH /v1/organizations/201/contacts/65",
        "PATCH /v1/organizations/201/contacts/68",
        "POST /v1/organizations/201/contacts",
    ]


def test_replace_channels_with_nothing_removes_all_at_once_only_when_several() -> None:
    adapter, recorder = make_adapter(org_route(CHANNELS), page_size=10)
    assert adapter.replace_channels(201, []) == []
    assert adapter.replace_channels(202, []) == []
    assert recorder.calls() == [
        "GET /v1/organizations/201/contacts",
        "DELETE /v1/organizations/201/contacts/",
        "GET /v1/organizations/202/contacts",
        "DELETE /v1/organizations/202/contacts/70",
    ]


def test_replace_channels_tolerates_a_channel_already_deleted() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return error(404, "Not Found")
        return org_route(CHANNELS)(request)

    adapter, recorder = make_adapter(route, page_size=10)
    kept = OrgChannel(label=ChannelLabel.GENERAL, website="www.best-it.com")
    assert [r.external_id for r in adapter.replace_channels(201, [kept])] == ["66"]
    assert sum(r.method == "DELETE" for r in recorder.requests) == 2


# --- canonical channels ----------------------------------------------------------------------


def test_channels_to_canonical_keeps_ids_and_skips_what_xurrent_should_not_hold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = [
        OrgChannelRecord("201", "68", CHANNELS["201"][0]),
        OrgChannelRecord("201", "99", {"id": 99, "label": "fax", "email": "f@x.com"}),
        OrgChannelRecord("202", "70", CHANNELS["202"][0]),
    ]
    with caplog.at_level(logging.WARNING):
        channels = channels_to_canonical(records)
    assert channels == [
        OrgChannel(label=ChannelLabel.GENERAL, telephone="+1 (203) 413 4880", external_id="68"),
        OrgChannel(label=ChannelLabel.FAX, telephone="+1 (203) 413 4881", external_id="70"),
    ]
    assert "organization 201 contact 99" in caplog.text
    grouped = channels_by_organization(records)
    assert {org: [c.external_id for c in chans] for org, chans in grouped.items()} == {
        "201": ["68"],
        "202": ["70"],
    }


# --- the plan is minimal ---------------------------------------------------------------------

LABELS = [label.value for label in ChannelLabel]
VALUES = {
    "telephone": ["+1 203 413 4880", "(203) 413-4881", "+44 161 496 0000"],
    "email": ["info@x.com", "Desk@X.com"],
    "website": ["www.x.com", "help.x.com/"],
}


@st.composite
def channel_dicts(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(VALUES)))
    labels = LABELS if kind == "telephone" else ["general", "service_desk"]
    return {"label": draw(st.sampled_from(labels)), kind: draw(st.sampled_from(VALUES[kind]))}


def identity(channel: dict[str, Any]) -> tuple[str, str, str]:
    """What makes two channels the same for Xurrent (formatting aside)."""
    canonical = channels_to_canonical([OrgChannelRecord("1", "1", channel)])[0]
    kind, value = channel_value(canonical)
    return canonical.label.value, kind, comparable(kind, value)


@settings(max_examples=150, deadline=None)
@given(st.lists(channel_dicts(), max_size=5), st.lists(channel_dicts(), max_size=5))
def test_plan_reaches_the_desired_channels_with_the_fewest_writes(
    current_rows: list[dict[str, Any]], desired_rows: list[dict[str, Any]]
) -> None:
    current = [{"id": 100 + i, **row} for i, row in enumerate(current_rows)]
    desired = [OrgChannel(**row) for row in desired_rows]
    plan = plan_channels(current, desired)
    # apply the plan to a copy of the current channels
    held = {str(row["id"]): row for row in current}
    if plan.delete_all:
        held.clear()
    for channel_id in [] if plan.delete_all else plan.delete:
        held.pop(channel_id)
    for channel_id, body in plan.update.values():
        held[channel_id] = {"id": channel_id, **body}
    for index, body in plan.create.items():
        held[f"new{index}"] = body
    assert sorted(identity(row) for row in held.values()) == sorted(
        identity(row) for row in desired_rows
    )
    # minimal: every channel that can be kept is kept
    remaining = [identity(row) for row in current_rows]
    shared = 0
    for wanted in (identity(row) for row in desired_rows):
        if wanted in remaining:
            remaining.remove(wanted)
            shared += 1
    fewest = max(len(desired_rows), len(current_rows)) - shared
    if not desired_rows and len(current_rows) > 1:
        fewest = 1
    assert plan.writes == fewest


def test_the_burst_budget_leaves_slack_for_network_jitter() -> None:
    adapter, _ = make_adapter(paged([]))
    limiter = adapter.client.limiter
    [(name, budget)] = limiter.budgets.items()
    assert name == "*"
    assert (budget.requests, budget.per_seconds) == (20, 2.0)  # the documented burst limit
    assert 0.0 < limiter.budget_margin <= 0.1  # the http layer's slack for jitter
