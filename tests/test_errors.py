"""Error classification: each vendor's error body, odd bodies, redaction, one-line messages."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactsync.adapters.registry import vendor
from contactsync.http.errors import (
    BODY_LIMIT,
    DuplicateError,
    FatalError,
    NotFoundError,
    RateLimitedError,
    RecordError,
    RetriableError,
    SyncError,
    classify,
    expect_array,
    expect_json,
    expect_object,
    raise_for_status,
    set_default_redactor,
)

NOW = 1_750_000_000.0


def respond(
    status: int,
    *,
    method: str = "POST",
    json_body: Any = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
    request_headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request(
        method,
        "https://vendor.test/contacts",
        headers=request_headers,
        extensions=extensions or {},
    )
    if json_body is not None:
        return httpx.Response(status, json=json_body, headers=headers, request=request)
    return httpx.Response(status, text=text or "", headers=headers, request=request)


@pytest.fixture(autouse=True)
def _reset_redactor() -> Iterator[None]:
    yield
    set_default_redactor(None)


def test_growcrm_validation_names_fields_and_messages() -> None:
    body = {
        "message": "The given data was invalid.",
        "errors": {"first_name": ["The first name field is required."], "phone": ["Too long."]},
    }
    error = classify("growcrm", "create contact", respond(422, json_body=body), "p-1")
    assert type(error) is RecordError
    assert error.fields == ("first_name", "phone")
    assert "first_name: The first name field is required." in (error.vendor_message or "")
    line = str(error)
    assert line.startswith("growcrm create contact [record p-1]: HTTP 422: record rejected")
    assert "The given data was invalid." in line
    assert "fields: first_name, phone" in line


def test_growcrm_duplicate_email_is_a_duplicate_without_id() -> None:
    body = {"message": "invalid", "errors": {"email": ["The email has already been taken."]}}
    error = classify("growcrm", "create contact", respond(422, json_body=body), "p-2")
    assert isinstance(error, DuplicateError)
    assert error.existing_id is None
    assert error.fields == ("email",)


def test_pylon_duplicate_carries_existing_id_and_request_id() -> None:
    body = {"errors": ["contact with this email exists"], "exists_id": "c_77", "request_id": "r-9"}
    error = classify("pylon", "create contact", respond(400, json_body=body), "p-3")
    assert isinstance(error, DuplicateError)
    assert error.existing_id == "c_77"
    assert error.request_id == "r-9"
    assert "existing id c_77" in str(error)


def test_pylon_plain_error_list_is_a_record_error() -> None:
    body = {"errors": ["name is required", "phone must be digits"], "request_id": "r-1"}
    error = classify("pylon", "update contact", respond(400, method="PATCH", json_body=body), "c1")
    assert type(error) is RecordError
    assert error.vendor_message == "name is required; phone must be digits"


def test_xurrent_pairs_name_fields() -> None:
    body = {
        "message": "Validation failed",
        "errors": [["primary_email", "has already been taken"], ["name", "can't be blank"]],
    }
    error = classify("xurrent", "create person", respond(422, json_body=body), "p-4")
    assert isinstance(error, DuplicateError)
    assert error.fields == ("primary_email", "name")
    assert "primary_email: has already been taken" in str(error)


def test_trackops_assumed_message_body() -> None:
    body = {"message": "role_id is invalid"}
    error = classify("trackops", "create contact", respond(400, json_body=body), "p-5")
    assert type(error) is RecordError
    assert error.vendor_message == "role_id is invalid"


def test_rhythm_status_only_gets_a_hint() -> None:
    hints = vendor("rhythm").error_hints  # declared by Rhythm's adapter
    error = classify("rhythm", "update contact", respond(409, method="PUT"), "r-1", hints=hints)
    assert type(error) is RecordError
    assert "missing object" in str(error)
    limited = classify("rhythm", "create contact", respond(429), "r-2", hints=hints)
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after is None
    assert "tenant limit" in str(limited)


def test_html_error_page_never_crashes_and_is_trimmed() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    error = classify(
        "trackops",
        "list contacts",
        respond(502, method="GET", text=page, headers={"Content-Type": "text/html"}),
    )
    assert isinstance(error, RetriableError)
    assert error.maybe_applied is False
    assert error.vendor_message == "502 Bad Gateway"
    assert error.body is not None
    assert len(error.body) <= BODY_LIMIT


@pytest.mark.parametrize(
    "text",
    ['{"message": "trunc', "null", "[1, 2]", '"just a string"', "\x00\xff garbage", "42"],
)
def test_odd_json_bodies_do_not_crash(text: str) -> None:
    error = classify("pylon", "create contact", respond(400, text=text), "p-6")
    assert isinstance(error, RecordError)
    assert "pylon create contact [record p-6]" in str(error)


@given(
    status=st.integers(min_value=400, max_value=599),
    body=st.binary(max_size=300),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    record_id=st.none() | st.text(min_size=1, max_size=8),
)
def test_classify_never_raises_and_is_one_line(
    status: int, body: bytes, method: str, record_id: str | None
) -> None:
    request = httpx.Request(method, "https://vendor.test/x")
    response = httpx.Response(status, content=body, request=request)
    error = classify("growcrm", "op", response, record_id)
    assert isinstance(error, SyncError)
    assert "\n" not in str(error)
    assert str(error).startswith("growcrm op")


def test_auth_and_not_found() -> None:
    assert isinstance(classify("pylon", "list", respond(401, method="GET")), FatalError)
    assert isinstance(classify("pylon", "list", respond(403, method="GET")), FatalError)
    listing = classify("pylon", "list contacts", respond(404, method="GET"))
    assert type(listing) is FatalError
    record = classify("pylon", "get contact", respond(404, method="GET"), "c9")
    assert isinstance(record, NotFoundError)
    assert isinstance(record, RecordError)


def test_bad_query_on_a_read_is_fatal_not_a_record_error() -> None:
    error = classify("growcrm", "list contacts", respond(400, method="GET", json_body={}))
    assert type(error) is FatalError
    search = respond(400, json_body={"errors": ["bad filter"]}, extensions={"idempotent": True})
    assert type(classify("pylon", "search contacts", search)) is FatalError


def test_server_error_on_a_write_may_have_been_applied() -> None:
    post = classify("pylon", "create contact", respond(500, json_body={"errors": ["boom"]}))
    assert isinstance(post, RetriableError)
    assert post.maybe_applied is True
    assert "look the record up" in str(post)
    get = classify("pylon", "list", respond(503, method="GET"))
    assert isinstance(get, RetriableError)
    assert get.maybe_applied is False
    search = classify("pylon", "search", respond(500, extensions={"idempotent": True}))
    assert isinstance(search, RetriableError)
    assert search.maybe_applied is False


def test_retry_after_seconds_and_http_date() -> None:
    seconds = classify("xurrent", "list", respond(429, headers={"Retry-After": "12"}), now=NOW)
    assert isinstance(seconds, RateLimitedError)
    assert seconds.retry_after == 12.0
    when = format_datetime(datetime.fromtimestamp(NOW + 30, tz=UTC), usegmt=True)
    dated = classify("xurrent", "list", respond(429, headers={"Retry-After": when}), now=NOW)
    assert isinstance(dated, RateLimitedError)
    assert dated.retry_after == pytest.approx(30.0)
    junk = classify("xurrent", "list", respond(429, headers={"Retry-After": "soon"}), now=NOW)
    assert isinstance(junk, RateLimitedError)
    assert junk.retry_after is None


def test_redactor_passed_in_and_registered() -> None:
    body = {"message": "bad key sk_live_123456 for tenant"}
    passed = classify(
        "growcrm",
        "create",
        respond(422, json_body=body),
        "p",
        redact=lambda text: text.replace("sk_live_123456", "[secret]"),
    )
    assert "sk_live_123456" not in str(passed)
    assert "sk_live_123456" not in (passed.body or "")
    assert "[secret]" in str(passed)
    set_default_redactor(lambda text: text.replace("sk_live_123456", "[reg]"))
    registered = classify("growcrm", "create", respond(422, json_body=body), "p")
    assert "sk_live_123456" not in str(registered)
    assert "[reg]" in str(registered)


def test_request_credentials_echoed_by_the_vendor_are_masked() -> None:
    token = "tok-very-secret-42"
    echoed = {"message": f"invalid token Bearer {token}"}
    error = classify(
        "pylon",
        "list",
        respond(
            401,
            method="GET",
            json_body=echoed,
            request_headers={"Authorization": f"Bearer {token}"},
        ),
    )
    assert token not in str(error)
    assert token not in (error.body or "")
    basic = base64.b64encode(b"alice/token:pw-trackops-99").decode()
    page = f"<p>bad credentials pw-trackops-99 / {basic}</p>"
    trackops = classify(
        "trackops",
        "list",
        respond(500, method="GET", text=page, request_headers={"Authorization": f"Basic {basic}"}),
    )
    assert "pw-trackops-99" not in str(trackops)
    assert basic not in (trackops.body or "")


def test_vendor_message_with_newlines_stays_one_line() -> None:
    body = {"message": "line one\nline two\r\n\tline three"}
    error = classify("trackops", "create", respond(400, json_body=body), "p")
    assert "\n" not in str(error)
    assert "line one line two line three" in str(error)


def test_expect_json_returns_data_and_checks_shape() -> None:
    ok = respond(200, method="GET", json_body={"data": [1]})
    assert expect_object(ok, "growcrm", "list") == {"data": [1]}
    assert expect_json(ok, "growcrm", "list") == {"data": [1]}
    with pytest.raises(FatalError, match="expected an array, got dict"):
        expect_array(ok, "trackops", "list")


def test_expect_json_on_html_200_is_a_clear_fatal_error() -> None:
    page = respond(
        200, method="GET", text="<html>Login</html>", headers={"Content-Type": "text/html"}
    )
    with pytest.raises(FatalError) as caught:
        expect_json(page, "trackops", "list contacts")
    assert "malformed envelope: expected JSON, got text/html" in str(caught.value)
    assert "trackops list contacts" in str(caught.value)
    with pytest.raises(FatalError, match="empty body"):
        expect_json(respond(200, method="GET", text=""), "xurrent", "list")


def test_expect_json_and_raise_for_status_classify_errors() -> None:
    failed = respond(422, json_body={"message": "nope"})
    with pytest.raises(RecordError):
        expect_json(failed, "xurrent", "create person", "p-1")
    with pytest.raises(RetriableError):
        raise_for_status(respond(503, method="GET"), "xurrent", "list")
    fine = respond(204, method="DELETE")
    assert raise_for_status(fine, "pylon", "delete", "c1") is fine
