"""Paginators against simulated vendors: exact request counts, loop guards, edge pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contactsync.http.client import BearerAuth, SystemClient
from contactsync.http.errors import FatalError
from contactsync.http.pagination import (
    CursorPaginator,
    KeyPaginator,
    LinkHeaderPaginator,
    PageMetaPaginator,
    PageNumberPaginator,
    RequestSpec,
    total_from_header,
)
from tests.adapters.helpers import RecordingVendor

Handler = Callable[[httpx.Request], httpx.Response]


def people(count: int) -> list[dict[str, Any]]:
    return [{"id": number, "name": f"person {number}"} for number in range(1, count + 1)]


class Vendor(RecordingVendor):
    """Records requests; ``answer`` builds the response from the request."""

    def client(self, system: str = "trackops") -> SystemClient:  # type: ignore[override]
        return super().client(system, "https://vendor.test/api", BearerAuth("tok-page-1"))


def page_slice(rows: list[dict[str, Any]], page: int, size: int) -> list[dict[str, Any]]:
    return rows[(page - 1) * size : page * size]


def trackops(rows: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["per_page"])
        return httpx.Response(200, json=page_slice(rows, page, size), headers=headers)

    return Vendor(answer)


def ids(items: Any) -> list[int]:
    return [item["id"] for item in items]


LIST = RequestSpec("GET", "/client/contacts", operation="list contacts")


@pytest.mark.parametrize(("count", "requests"), [(250, 3), (200, 3), (99, 1), (0, 1)])
def test_page_number_stops_on_a_short_page(count: int, requests: int) -> None:
    rows = people(count)
    vendor = trackops(rows)
    items = list(PageNumberPaginator(size=100).items(vendor.client(), LIST))
    assert ids(items) == ids(rows)
    assert len(vendor.requests) == requests
    assert [r.url.params["page"] for r in vendor.requests] == [
        str(n) for n in range(1, requests + 1)
    ]
    assert {r.url.params["per_page"] for r in vendor.requests} == {"100"}


def test_page_number_with_a_total_needs_no_extra_request() -> None:
    vendor = trackops(people(200), headers={"X-Pagination-Total-Entries": "200"})
    pager = PageNumberPaginator(size=100, total=total_from_header("X-Pagination-Total-Entries"))
    assert len(list(pager.items(vendor.client(), LIST))) == 200
    assert len(vendor.requests) == 2


def test_page_number_loop_guard_when_the_page_parameter_is_ignored() -> None:
    vendor = Vendor(lambda request: httpx.Response(200, json=people(100)))
    with pytest.raises(FatalError, match="pagination loop: page 2 repeats page 1"):
        list(PageNumberPaginator(size=100).items(vendor.client(), LIST))
    assert len(vendor.requests) == 2


def test_max_pages_cap_raises_instead_of_truncating() -> None:
    vendor = trackops(people(500))
    with pytest.raises(FatalError, match="more than 3 pages"):
        list(PageNumberPaginator(size=100, max_pages=3).items(vendor.client(), LIST))
    assert len(vendor.requests) == 3


def test_stopping_early_sends_nothing_more() -> None:
    vendor = trackops(people(1000))
    pages = PageNumberPaginator(size=100).pages(vendor.client(), LIST)
    first = next(pages)
    assert ids(first.items) == list(range(1, 101))
    assert first.number == 1
    assert len(vendor.requests) == 1


def growcrm(rows: list[dict[str, Any]], with_meta: bool = True) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["limit"])
        body: dict[str, Any] = {"data": page_slice(rows, page, size), "message": "ok"}
        if with_meta:
            last = max(1, -(-len(rows) // size))
            body["meta"] = {"current_page": page, "last_page": last, "per_page": size}
        return httpx.Response(200, json=body)

    return Vendor(answer)


@pytest.mark.parametrize(
    ("count", "with_meta", "requests"),
    [(200, True, 2), (250, True, 3), (200, False, 3), (0, True, 1)],
)
def test_page_meta_stops_at_last_page(count: int, with_meta: bool, requests: int) -> None:
    vendor = growcrm(people(count), with_meta)
    spec = RequestSpec("GET", "/contacts", params={"sort": "updated", "order": "desc"})
    items = list(PageMetaPaginator(size=100).items(vendor.client("growcrm"), spec))
    assert ids(items) == list(range(1, count + 1))
    assert len(vendor.requests) == requests
    assert all(r.url.params["sort"] == "updated" for r in vendor.requests)


def rhythm(rows: list[dict[str, Any]], server_size: int = 100) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("exclusiveStartKey", "0"))
        chunk = [row for row in rows if row["id"] > start][:server_size]
        body: dict[str, Any] = {"Items": chunk}
        if chunk and chunk[-1]["id"] != rows[-1]["id"]:
            body["LastEvaluatedKey"] = str(chunk[-1]["id"])
        return httpx.Response(200, json=body)

    return Vendor(answer)


SEARCH = RequestSpec("POST", "/contacts/t1/search", json={"status": ["active"]})


@pytest.mark.parametrize(("count", "requests"), [(250, 3), (200, 2), (0, 1)])
def test_key_paginator_follows_last_evaluated_key(count: int, requests: int) -> None:
    vendor = rhythm(people(count))
    items = list(KeyPaginator().items(vendor.client("rhythm"), SEARCH))
    assert ids(items) == list(range(1, count + 1))
    assert len(vendor.requests) == requests
    assert all(json.loads(r.content) == {"status": ["active"]} for r in vendor.requests)
    keys = [r.url.params.get("exclusiveStartKey") for r in vendor.requests]
    assert keys == [None, "100", "200"][:requests]


def test_key_paginator_loop_guard() -> None:
    body = {"Items": people(3), "LastEvaluatedKey": "same"}
    vendor = Vendor(lambda request: httpx.Response(200, json=body))
    with pytest.raises(FatalError, match="pagination loop: LastEvaluatedKey 'same'"):
        list(KeyPaginator().items(vendor.client("rhythm"), SEARCH))
    assert len(vendor.requests) == 2


def test_search_pages_are_retried_as_reads() -> None:
    answers = [httpx.Response(500), httpx.Response(200, json={"Items": people(2)})]
    vendor = Vendor(lambda request: answers.pop(0))
    assert len(list(KeyPaginator().items(vendor.client("rhythm"), SEARCH))) == 2
    assert len(vendor.requests) == 2


def pylon(rows: list[dict[str, Any]], in_body: bool) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        values = json.loads(request.content) if in_body else dict(request.url.params)
        start, limit = int(values.get("cursor", 0)), int(values["limit"])
        chunk = rows[start : start + limit]
        more = start + limit < len(rows)
        pagination = {"cursor": str(start + limit) if more else "", "has_next_page": more}
        return httpx.Response(200, json={"data": chunk, "pagination": pagination})

    return Vendor(answer)


@pytest.mark.parametrize(("count", "requests"), [(250, 3), (200, 2), (0, 1)])
def test_cursor_in_query(count: int, requests: int) -> None:
    vendor = pylon(people(count), in_body=False)
    spec = RequestSpec("GET", "/contacts")
    items = list(CursorPaginator(limit=100).items(vendor.client("pylon"), spec))
    assert ids(items) == list(range(1, count + 1))
    assert len(vendor.requests) == requests


def test_cursor_in_body_keeps_the_filter() -> None:
    vendor = pylon(people(150), in_body=True)
    spec = RequestSpec("POST", "/contacts/search", json={"filter": {"field": "email"}})
    items = list(CursorPaginator("body", limit=100).items(vendor.client("pylon"), spec))
    assert len(items) == 150
    bodies = [json.loads(r.content) for r in vendor.requests]
    assert bodies == [
        {"filter": {"field": "email"}, "limit": 100},
        {"filter": {"field": "email"}, "limit": 100, "cursor": "100"},
    ]


def test_cursor_loop_guard_and_missing_cursor() -> None:
    body = {"data": people(2), "pagination": {"cursor": "abc", "has_next_page": True}}
    vendor = Vendor(lambda request: httpx.Response(200, json=body))
    with pytest.raises(FatalError, match="pagination loop: cursor 'abc'"):
        list(CursorPaginator().items(vendor.client("pylon"), RequestSpec("GET", "/contacts")))
    broken = {"data": [], "pagination": {"cursor": "", "has_next_page": True}}
    vendor = Vendor(lambda request: httpx.Response(200, json=broken))
    with pytest.raises(FatalError, match="no cursor"):
        list(CursorPaginator().items(vendor.client("pylon"), RequestSpec("GET", "/contacts")))


def xurrent(rows: list[dict[str, Any]], loop: bool = False) -> Vendor:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        size = int(request.url.params["per_page"])
        headers = {}
        if page * size < len(rows) or loop:
            target = page if loop else page + 1
            headers["Link"] = f'</api/people?page={target}&per_page={size}>; rel="next"'
        return httpx.Response(200, json=page_slice(rows, page, size), headers=headers)

    return Vendor(answer)


@pytest.mark.parametrize(("count", "requests"), [(250, 3), (200, 2), (0, 1)])
def test_link_header_follows_next(count: int, requests: int) -> None:
    vendor = xurrent(people(count))
    spec = RequestSpec("GET", "/people", params={"sort": "updated_at"})
    items = list(LinkHeaderPaginator(size=100).items(vendor.client("xurrent"), spec))
    assert ids(items) == list(range(1, count + 1))
    assert len(vendor.requests) == requests
    assert str(vendor.requests[-1].url.host) == "vendor.test"


def test_link_header_loop_guard() -> None:
    vendor = xurrent(people(300), loop=True)
    spec = RequestSpec("GET", "/people", params={"page": 1})
    with pytest.raises(FatalError, match="pagination loop: next link"):
        list(LinkHeaderPaginator(size=100).items(vendor.client("xurrent"), spec))
    assert len(vendor.requests) == 1


def test_malformed_pages_are_fatal() -> None:
    html = Vendor(lambda r: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(FatalError, match="malformed envelope: expected JSON"):
        list(PageNumberPaginator().items(html.client(), LIST))
    wrong = Vendor(lambda r: httpx.Response(200, json={"data": {"id": 1}}))
    with pytest.raises(FatalError, match="page 1 items are dict"):
        list(PageMetaPaginator().items(wrong.client("growcrm"), LIST))
    scalars = Vendor(lambda r: httpx.Response(200, json=[1, 2]))
    with pytest.raises(FatalError, match="item 0 is int"):
        list(PageNumberPaginator().items(scalars.client(), LIST))
    missing = Vendor(lambda r: httpx.Response(404, json={"message": "Not Found"}))
    with pytest.raises(FatalError, match="trackops list contacts: HTTP 404"):
        list(PageNumberPaginator().items(missing.client(), LIST))
