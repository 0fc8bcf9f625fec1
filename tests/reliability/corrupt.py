"""Malformed vendor answers for the bad-input tests: a corrupting transport and strategies.

:class:`CorruptingTransport` sits between an adapter and the sandbox (real HTTP on
loopback) and rewrites the first list page it sees, either one record in it
(:class:`RecordCorruption`) or the whole answer (:class:`PageCorruption`). The
hypothesis strategies generate both kinds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import strategies as st

#: Where each system's list answers keep their records (None: a bare JSON array).
RECORDS_KEY: dict[str, str | None] = {
    "trackops": None,
    "growcrm": "data",
    "rhythm": "Items",
    "pylon": "data",
    "xurrent": None,
}

IMPOSSIBLE_DATES = (
    "2026-02-30",
    "2025-13-01",
    "0000-00-00",
    "2026-06-31T25:61:00Z",
    "yesterday",
    "30/02/2026",
    "",
)
WRONG_TYPES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
CONTROL = st.text(st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=5)
SURROGATES = st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)


@dataclass(frozen=True)
class RecordCorruption:
    """Change one record of a list page: ``how`` names the change, for messages."""

    index: int
    how: str
    key: str | None = None
    value: Any = None

    def apply(self, records: list[Any]) -> None:
        if not records:
            return
        position = self.index % len(records)
        record = records[position]
        if self.how == "not_an_object":
            records[position] = self.value
            return
        if not isinstance(record, dict):
            return
        key = self.key if self.key is not None else ""
        if self.how == "drop":
            record.pop(key, None)
        elif self.how == "set":
            record[key] = self.value
        elif self.how == "splice":  # characters inserted inside a text field
            before = record.get(key)
            text = before if isinstance(before, str) and before else "Text"
            record[key] = text[:1] + str(self.value) + text[1:]


@dataclass(frozen=True)
class PageCorruption:
    """Replace a whole list answer: status 200, this body and content type."""

    how: str
    body: bytes
    content_type: str = "application/json"


Corruption = RecordCorruption | PageCorruption


def record_corruptions(text_keys: list[str], date_keys: list[str]) -> st.SearchStrategy[Corruption]:
    """Every kind of broken record: missing and wrong-typed fields, huge strings,
    control characters, lone surrogates, impossible dates, an item that is no object."""
    index = st.integers(min_value=0, max_value=50)
    any_key = st.sampled_from(sorted({"id", *text_keys, *date_keys}))
    text_key = st.sampled_from(text_keys)
    kinds: list[st.SearchStrategy[Corruption]] = [
        st.builds(RecordCorruption, index, st.just("drop"), any_key),
        st.builds(RecordCorruption, index, st.just("set"), any_key, WRONG_TYPES),
        st.builds(
            RecordCorruption,
            index,
            st.just("set"),
            text_key,
            st.integers(min_value=70_000, max_value=1_500_000).map(lambda n: "Ж" * n),
        ),
        st.builds(RecordCorruption, index, st.just("splice"), text_key, CONTROL),
        st.builds(RecordCorruption, index, st.just("splice"), text_key, SURROGATES),
        st.builds(
            RecordCorruption,
            index,
            st.just("not_an_object"),
            value=WRONG_TYPES.filter(lambda value: not isinstance(value, dict)),
        ),
    ]
    if date_keys:
        kinds.append(
            st.builds(
                RecordCorruption,
                index,
                st.just("set"),
                st.sampled_from(date_keys),
                st.sampled_from(IMPOSSIBLE_DATES),
            )
        )
    return st.one_of(kinds)


HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
    b"<body><form action='/login'>Session expired</form></body></html>"
)


def page_corruptions(real_page: bytes) -> st.SearchStrategy[PageCorruption]:
    """Whole answers that are not a list page: truncated JSON, an HTML page, another
    envelope, bytes that are not UTF-8."""
    cut = st.integers(min_value=1, max_value=max(1, len(real_page) - 1))
    envelopes = st.one_of(
        st.dictionaries(st.sampled_from(["error", "items", "result"]), WRONG_TYPES, max_size=2),
        st.sampled_from([{"data": "x"}, {"Items": {"a": 1}}, {"data": [1, 2]}, "ok", 42]),
    )
    return st.one_of(
        cut.map(lambda n: PageCorruption("truncated", real_page[:n])),
        st.just(PageCorruption("html", HTML_PAGE, "text/html; charset=utf-8")),
        envelopes.map(lambda v: PageCorruption("envelope", json.dumps(v).encode())),
        cut.map(lambda n: PageCorruption("not_utf8", real_page[:n] + b"\xff\xfe" + real_page[n:])),
    )


def is_list_answer(request: httpx.Request, system: str) -> bool:
    path = request.url.path
    if system == "rhythm":
        return request.method == "POST" and path.endswith("/search")
    if system == "pylon":
        return request.method == "GET" and path.endswith("/contacts")
    if system == "xurrent":
        return request.method == "GET" and path.endswith("/people")
    return request.method == "GET" and path.endswith("/contacts")


class CorruptingTransport(httpx.BaseTransport):
    """Forwards to the sandbox; rewrites the first list answer once ``corruption`` is set."""

    def __init__(self, system: str, inner: httpx.BaseTransport | None = None) -> None:
        self.system = system
        self.inner = inner or httpx.HTTPTransport(retries=0)
        self.corruption: Corruption | None = None
        self.applied = False
        self.on_page: Callable[[bytes], None] | None = None

    def arm(self, corruption: Corruption | None) -> None:
        self.corruption, self.applied = corruption, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.applied or not is_list_answer(request, self.system):
            return response
        body = response.read()
        response.close()
        if self.on_page is not None:
            self.on_page(body)
        if self.corruption is None or response.status_code != 200:
            return _rebuilt(response, body)
        self.applied = True
        if isinstance(self.corruption, PageCorruption):
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            headers["content-type"] = self.corruption.content_type
            return httpx.Response(200, headers=headers, content=self.corruption.body)
        data = json.loads(body)
        key = RECORDS_KEY[self.system]
        records = data if key is None else data.get(key)
        if isinstance(records, list):
            self.corruption.apply(records)
        return _rebuilt(response, json.dumps(data).encode())


def _rebuilt(response: httpx.Response, body: bytes) -> httpx.Response:
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
    }
    return httpx.Response(response.status_code, headers=headers, content=body)
