"""Small paginator objects, one per paging style of the five APIs.

Each paginator turns a :class:`RequestSpec` (the first request, without paging
parameters) into a lazy iterator of :class:`Page` objects::

    pager = PageMetaPaginator(size=100)  # Grow CRM
    spec = RequestSpec("GET", "/contacts", params={"sort": "updated", "order": "desc"},
                       operation="list contacts")
    for page in pager.pages(client, spec):
        ...  # page.items, page.response, page.data; break to stop early (sorted scans)

Requests are made only as the iterator is consumed, so stopping early (a sorted
scan past its watermark) sends nothing more. Page-based paginators send exactly
``ceil(N / size)`` requests when the last page is short or the envelope says it is
the last, and one more (an empty page) only when ``N`` is an exact multiple of
``size`` and nothing else marks the last page.

Guards: the same cursor, key or next URL twice, or a full page identical to the
one before (a server ignoring the page parameter), raises
``FatalError("pagination loop ...")``; more than ``max_pages`` pages raises too,
rather than silently truncating (a truncated snapshot would look like deletions).
Every page request carries ``idempotent=True`` (paging only reads), so a POST
search is retried like a GET.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from contactsync.http.errors import FatalError, expect_json
from contactsync.http.headers import EXT_IDEMPOTENT, EXT_OPERATION

ItemsGetter = Callable[[Any], Any]
TotalGetter = Callable[[Any, httpx.Response], int | None]
DEFAULT_MAX_PAGES = 100_000


@dataclass(frozen=True)
class RequestSpec:
    """The first request of a listing, before any paging parameter is added."""

    method: str = "GET"
    url: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    operation: str = "list"
    extensions: Mapping[str, Any] = field(default_factory=dict)

    def build(
        self,
        client: httpx.Client,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        url: str | None = None,
    ) -> httpx.Request:
        """The request with ``params`` merged into the query and ``json`` into the body.

        With ``url`` (a next link), the spec's own params are not added again.
        """
        query = dict(params or {}) if url is not None else {**self.params, **(params or {})}
        body = None
        if self.json is not None or json:
            body = {**(self.json or {}), **(json or {})}
        extensions = {EXT_IDEMPOTENT: True, EXT_OPERATION: self.operation, **self.extensions}
        return client.build_request(
            self.method,
            url or self.url,
            params=query or None,
            json=body,
            headers=dict(self.headers),
            extensions=extensions,
        )


@dataclass(frozen=True)
class Page:
    """One page: its items (JSON objects), the parsed body and the raw response."""

    items: list[dict[str, Any]]
    response: httpx.Response
    data: Any
    number: int


def dig(data: Any, path: str) -> Any:
    """``dig(data, "pagination.cursor")``; None when any step is missing."""
    current = data
    for key in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def total_from_header(name: str) -> TotalGetter:
    """A total-count reader for headers such as Xurrent's ``X-Pagination-Total-Entries``."""

    def read(data: Any, response: httpx.Response) -> int | None:
        raw = response.headers.get(name)
        return int(raw) if raw is not None and raw.strip().isdigit() else None

    return read


def _system_of(client: httpx.Client) -> str:
    system = getattr(client, "system", None)
    return system if isinstance(system, str) else (client.base_url.host or "unknown")


class _Run:
    """One pass over the pages: fetching, item extraction and the loop guards."""

    def __init__(self, pager: Paginator, client: httpx.Client, spec: RequestSpec) -> None:
        self.pager = pager
        self.client = client
        self.spec = spec
        self.system = _system_of(client)
        self.number = 0
        self.seen_tokens: set[str] = set()
        self.previous_fingerprint: str | None = None

    def fail(self, message: str, response: httpx.Response | None = None) -> FatalError:
        return FatalError(
            message,
            system=self.system,
            operation=self.spec.operation,
            status=None if response is None else response.status_code,
        )

    def fetch(self, request: httpx.Request) -> Page:
        if self.number >= self.pager.max_pages:
            raise self.fail(f"pagination stopped: more than {self.pager.max_pages} pages")
        self.number += 1
        response = self.client.send(request)
        data = expect_json(response, self.system, self.spec.operation)
        return Page(self.extract(data, response), response, data, self.number)

    def extract(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        getter = self.pager.items_getter
        raw = data if getter is None else getter(data)
        where = f"page {self.number}"
        if raw is None and getter is not None:
            raw = []
        if not isinstance(raw, list):
            kind = type(raw).__name__
            raise self.fail(f"malformed envelope: {where} items are {kind}, not a list", response)
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                kind = type(item).__name__
                raise self.fail(
                    f"malformed envelope: {where} item {index} is {kind}, not an object", response
                )
        return raw

    def remember_token(self, token: str, what: str) -> None:
        if token in self.seen_tokens:
            raise self.fail(f"pagination loop: {what} {token!r} came back twice")
        self.seen_tokens.add(token)

    def check_not_repeated(self, page: Page) -> None:
        """A full page identical to the previous one means the page parameter is ignored."""
        if not page.items:
            return
        text = json.dumps(page.items, sort_keys=True, default=str)
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        if fingerprint == self.previous_fingerprint:
            raise self.fail(
                f"pagination loop: page {page.number} repeats page {page.number - 1}",
                page.response,
            )
        self.previous_fingerprint = fingerprint


class Paginator(ABC):
    """Base: item extraction (``items``: None for a bare array, a dotted key, or a callable)."""

    def __init__(
        self, *, items: str | ItemsGetter | None = None, max_pages: int = DEFAULT_MAX_PAGES
    ) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.max_pages = max_pages
        if isinstance(items, str):
            path = items
            self.items_getter: ItemsGetter | None = lambda data: dig(data, path)
        else:
            self.items_getter = items

    def pages(self, client: httpx.Client, spec: RequestSpec) -> Iterator[Page]:
        """The pages of the listing ``spec`` describes, fetched lazily."""
        return self._pages(_Run(self, client, spec))

    def items(self, client: httpx.Client, spec: RequestSpec) -> Iterator[dict[str, Any]]:
        """Every item of every page, lazily."""
        for page in self.pages(client, spec):
            yield from page.items

    @abstractmethod
    def _pages(self, run: _Run) -> Iterator[Page]: ...


def _check_size(size: int) -> int:
    if size < 1:
        raise ValueError(f"page size must be at least 1, got {size}")
    return size


class PageNumberPaginator(Paginator):
    """``?page=N&per_page=S`` (Trackops): stops on a short page, or at ``total`` when known."""

    def __init__(
        self,
        page_param: str = "page",
        size_param: str = "per_page",
        size: int = 100,
        start: int = 1,
        *,
        items: str | ItemsGetter | None = None,
        total: TotalGetter | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(items=items, max_pages=max_pages)
        self.page_param, self.size_param = page_param, size_param
        self.size, self.start, self.total = _check_size(size), start, total

    def _is_last(self, page: Page, fetched: int) -> bool:
        if len(page.items) < self.size:
            return True
        total = self.total(page.data, page.response) if self.total else None
        return total is not None and fetched >= total

    def _pages(self, run: _Run) -> Iterator[Page]:
        number, fetched = self.start, 0
        while True:
            params = {self.page_param: number, self.size_param: self.size}
            page = run.fetch(run.spec.build(run.client, params=params))
            run.check_not_repeated(page)
            fetched += len(page.items)
            yield page
            if self._is_last(page, fetched):
                return
            number += 1


class PageMetaPaginator(PageNumberPaginator):
    """``?page=N&limit=S`` with a ``{"data": [...], "meta": {...}}`` envelope (Grow CRM).

    *(assumed)* meta carries ``current_page``, ``last_page``, ``per_page``, ``total``;
    stops at ``last_page``, at ``total``, or on a short page, whichever comes first.
    """

    def __init__(
        self,
        page_param: str = "page",
        size_param: str = "limit",
        size: int = 100,
        start: int = 1,
        *,
        items: str | ItemsGetter | None = "data",
        meta: str = "meta",
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(
            page_param, size_param, size, start, items=items, total=None, max_pages=max_pages
        )
        self.meta = meta

    def _is_last(self, page: Page, fetched: int) -> bool:
        if len(page.items) < self.size:
            return True
        meta = dig(page.data, self.meta)
        if not isinstance(meta, dict):
            return False
        current, last, total = meta.get("current_page"), meta.get("last_page"), meta.get("total")
        if isinstance(current, int) and isinstance(last, int) and current >= last:
            return True
        return isinstance(total, int) and fetched >= total


class KeyPaginator(Paginator):
    """Rhythm search: send ``LastEvaluatedKey`` back as ``?exclusiveStartKey=``; none = last.

    A key that is not a string (a DynamoDB-style map) is sent as compact JSON.
    """

    def __init__(
        self,
        key_param: str = "exclusiveStartKey",
        key_field: str = "LastEvaluatedKey",
        *,
        items: str | ItemsGetter | None = "Items",
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(items=items, max_pages=max_pages)
        self.key_param, self.key_field = key_param, key_field

    def _pages(self, run: _Run) -> Iterator[Page]:
        key: str | None = None
        while True:
            params = {self.key_param: key} if key is not None else {}
            page = run.fetch(run.spec.build(run.client, params=params))
            yield page
            raw = dig(page.data, self.key_field)
            if raw in (None, "", {}, []):
                return
            key = (
                raw
                if isinstance(raw, str)
                else json.dumps(raw, sort_keys=True, separators=(",", ":"))
            )
            run.remember_token(key, self.key_field)


class CursorPaginator(Paginator):
    """Cursor + limit, in the query (Pylon ``GET /contacts``) or the JSON body (its search).

    Stops when ``has_more_path`` is false, or when no cursor comes back.
    """

    def __init__(
        self,
        cursor_in: Literal["query", "body"] = "query",
        cursor_param: str = "cursor",
        limit_param: str = "limit",
        limit: int = 100,
        *,
        items: str | ItemsGetter | None = "data",
        cursor_path: str = "pagination.cursor",
        has_more_path: str | None = "pagination.has_next_page",
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(items=items, max_pages=max_pages)
        self.cursor_in, self.cursor_param, self.limit_param = cursor_in, cursor_param, limit_param
        self.limit, self.cursor_path, self.has_more_path = (
            _check_size(limit),
            cursor_path,
            has_more_path,
        )

    def _request(self, run: _Run, cursor: str | None) -> httpx.Request:
        values: dict[str, Any] = {self.limit_param: self.limit}
        if cursor is not None:
            values[self.cursor_param] = cursor
        if self.cursor_in == "body":
            return run.spec.build(run.client, json=values)
        return run.spec.build(run.client, params=values)

    def _pages(self, run: _Run) -> Iterator[Page]:
        cursor: str | None = None
        while True:
            page = run.fetch(self._request(run, cursor))
            yield page
            has_more = dig(page.data, self.has_more_path) if self.has_more_path else None
            raw = dig(page.data, self.cursor_path)
            if has_more is False or (has_more is None and not raw):
                return
            if not isinstance(raw, str | int) or raw == "":
                raise run.fail("malformed envelope: more pages announced but no cursor given")
            cursor = str(raw)
            run.remember_token(cursor, "cursor")


class LinkHeaderPaginator(Paginator):
    """``Link: <...>; rel="next"`` (Xurrent); the first request sets ``per_page``."""

    def __init__(
        self,
        size_param: str = "per_page",
        size: int = 100,
        *,
        items: str | ItemsGetter | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        super().__init__(items=items, max_pages=max_pages)
        self.size_param, self.size = size_param, _check_size(size)

    def _pages(self, run: _Run) -> Iterator[Page]:
        request = run.spec.build(run.client, params={self.size_param: self.size})
        run.remember_token(str(request.url), "next link")
        while True:
            page = run.fetch(request)
            yield page
            link = page.response.links.get("next", {}).get("url")
            if not link:
                return
            next_url = str(page.response.url.join(link))
            run.remember_token(next_url, "next link")
            request = run.spec.build(run.client, url=next_url)
