"""The client factory: retries, write safety, auth, OAuth caching, counters (MockTransport only)."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from contactsync.adapters.registry import vendor
from contactsync.adapters.trackops.client import TrackopsBasicAuth
from contactsync.adapters.xurrent.client import XurrentAuth
from contactsync.http.client import (
    READ_ONLY,
    AccessToken,
    BearerAuth,
    InMemoryTokenCache,
    OAuthClientCredentials,
    RetryPolicy,
    SystemClient,
    build_client,
)
from contactsync.http.errors import FatalError, RetriableError, classify, expect_json

START = 1_750_000_000.0
Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Wall clock that only moves when someone sleeps."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class Recorder:
    """A MockTransport handler replaying scripted answers and recording requests."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    system: str = "growcrm",
    **kwargs: Any,
) -> SystemClient:
    kwargs.setdefault("auth", BearerAuth("tok-grow-123"))
    kwargs.setdefault("base_url", "https://vendor.test/api")
    return build_client(
        system,
        vendor=vendor(system).http,  # what the vendor's adapter declares
        transport=httpx.MockTransport(handler),
        clock=clock.time,
        sleep=clock.sleep,
        rng=random.Random(7),
        **kwargs,
    )


def test_429_retry_after_seconds_is_honoured() -> None:
    clock = FakeClock()
    server = Recorder(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200))
    client = make_client(server, clock)
    response = client.get("/contacts")
    assert response.status_code == 200
    assert len(server.requests) == 2
    assert clock.sleeps == [7.0]
    assert client.stats.snapshot()["by_status"] == {200: 1, 429: 1}


def test_429_retry_after_http_date_is_honoured() -> None:
    clock = FakeClock()
    when = format_datetime(datetime.fromtimestamp(START + 20, tz=UTC), usegmt=True)
    server = Recorder(httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200))
    response = make_client(server, clock).get("/contacts")
    assert response.status_code == 200
    assert clock.sleeps == [pytest.approx(20.0)]


def test_get_is_retried_on_503_with_growing_backoff() -> None:
    clock = FakeClock()
    server = Recorder(httpx.Response(503), httpx.Response(502), httpx.Response(200, json=[]))
    client = make_client(server, clock, retry=RetryPolicy(backoff_base=1.0))
    assert client.get("/contacts").status_code == 200
    assert len(server.requests) == 3
    first, second = clock.sleeps
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0
    assert client.stats.snapshot()["retries"] == 2


def test_attempts_and_total_wait_are_capped() -> None:
    clock = FakeClock()
    server = Recorder(httpx.Response(503))
    client = make_client(server, clock, retry=RetryPolicy(max_attempts=3))
    assert client.get("/contacts").status_code == 503
    assert len(server.requests) == 3

    long_wait = Recorder(httpx.Response(429, headers={"Retry-After": "600"}))
    client = make_client(long_wait, clock, retry=RetryPolicy(max_total_wait=60))
    response = client.get("/contacts")
    assert len(long_wait.requests) == 1
    error = classify("growcrm", "list", response)
    assert getattr(error, "retry_after", None) == 600.0


def test_post_is_not_retried_on_500_and_may_have_been_applied() -> None:
    clock = FakeClock()
    server = Recorder(httpx.Response(500, json={"message": "oops"}))
    client = make_client(server, clock)
    response = client.post("/contacts", json={"first_name": "Ada"})
    assert len(server.requests) == 1
    with pytest.raises(RetriableError) as caught:
        expect_json(response, "growcrm", "create contact", "p-1")
    assert caught.value.maybe_applied is True
    assert clock.sleeps == []


def test_post_read_timeout_raises_maybe_applied_without_resending() -> None:
    clock = FakeClock()
    server = Recorder(httpx.ReadTimeout("timed out"))
    client = make_client(server, clock)
    with pytest.raises(RetriableError) as caught:
        client.post("/contacts", json={}, extensions={"operation": "create contact"})
    assert caught.value.maybe_applied is True
    assert "growcrm create contact" in str(caught.value)
    assert len(server.requests) == 1


def test_patch_5xx_and_timeouts_are_never_resent() -> None:
    clock = FakeClock()
    server = Recorder(httpx.RemoteProtocolError("peer closed"))
    with pytest.raises(RetriableError) as caught:
        make_client(server, clock).patch("/contacts/1", json={})
    assert caught.value.maybe_applied is True
    assert len(server.requests) == 1


def test_post_is_retried_after_a_connect_error() -> None:
    clock = FakeClock()
    server = Recorder(httpx.ConnectError("refused"), httpx.Response(201, json={"id": 5}))
    response = make_client(server, clock).post("/contacts", json={"first_name": "Ada"})
    assert response.status_code == 201
    assert len(server.requests) == 2


def test_get_is_retried_on_read_timeout_and_gives_up_cleanly() -> None:
    clock = FakeClock()
    server = Recorder(httpx.ReadTimeout("slow"), httpx.Response(200, json=[]))
    assert make_client(server, clock).get("/contacts").status_code == 200
    assert len(server.requests) == 2

    down = Recorder(httpx.ConnectError("refused"))
    client = make_client(down, clock, retry=RetryPolicy(max_attempts=4))
    with pytest.raises(RetriableError) as caught:
        client.get("/contacts/9", extensions={"record_id": "9"})
    assert caught.value.maybe_applied is False
    assert "[record 9]" in str(caught.value)
    assert len(down.requests) == 4


def test_read_only_post_search_is_retried_on_500() -> None:
    clock = FakeClock()
    server = Recorder(httpx.Response(500), httpx.Response(200, json={"Items": []}))
    client = make_client(server, clock, system="rhythm")
    response = client.post("/contacts/t1/search", json={}, extensions=READ_ONLY)
    assert response.status_code == 200
    assert len(server.requests) == 2


def test_post_429_is_retried_unless_disabled() -> None:
    clock = FakeClock()
    server = Recorder(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(201))
    assert make_client(server, clock).post("/contacts", json={}).status_code == 201
    assert len(server.requests) == 2

    strict = Recorder(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(201))
    client = make_client(strict, clock, retry=RetryPolicy(retry_unsafe_on_429=False))
    assert client.post("/contacts", json={}).status_code == 429
    assert len(strict.requests) == 1


def test_trackops_basic_auth_header_shape() -> None:
    server = Recorder(httpx.Response(200, json=[]))
    auth = TrackopsBasicAuth("alice@example.com", "api-token-xyz")
    make_client(server, FakeClock(), system="trackops", auth=auth).get("/client/contacts")
    scheme, _, blob = server.requests[0].headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(blob).decode() == "alice@example.com/token:api-token-xyz"


def test_bearer_and_xurrent_headers() -> None:
    server = Recorder(httpx.Response(200, json=[]))
    auth = XurrentAuth("xu-token-1", "wdc")
    make_client(server, FakeClock(), system="xurrent", auth=auth).get("/people")
    sent = server.requests[0].headers
    assert sent["Authorization"] == "Bearer xu-token-1"
    assert sent["X-Xurrent-Account"] == "wdc"


def test_auth_reprs_hide_secrets() -> None:
    auths = [
        BearerAuth("zq-bearer"),
        XurrentAuth("zq-xurrent", "acct"),
        TrackopsBasicAuth("bob", "zq-trackops"),
        OAuthClientCredentials("https://auth.test/token", "cid", "zq-oauth"),
    ]
    for auth in auths:
        assert "zq-" not in repr(auth)
        assert "***" in repr(auth)
    assert "zq-jwt" not in repr(AccessToken("zq-jwt", START))


class TokenServer:
    """An OAuth token endpoint plus an API that accepts only tokens it considers valid."""

    def __init__(self, reject_all: bool = False) -> None:
        self.issued: list[str] = []
        self.forms: list[dict[str, list[str]]] = []
        self.api_calls: list[str] = []
        self.reject_all = reject_all

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            self.forms.append(parse_qs(request.content.decode()))
            token = f"jwt-{len(self.issued) + 1}"
            self.issued.append(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": 86400})
        header = request.headers.get("Authorization", "")
        self.api_calls.append(header)
        if self.reject_all or header.removeprefix("Bearer ") not in self.issued:
            return httpx.Response(401)
        return httpx.Response(200, json={"Items": []})


def oauth_client(
    server: TokenServer, clock: FakeClock, cache: InMemoryTokenCache | None = None
) -> SystemClient:
    auth = OAuthClientCredentials(
        "https://auth.rhythm.test/oauth2/token", "client-1", "s3cret-value", cache, clock=clock.time
    )
    return make_client(server, clock, system="rhythm", auth=auth, base_url="https://api.test")


def test_oauth_token_is_fetched_once_and_reused() -> None:
    server, clock = TokenServer(), FakeClock()
    client = oauth_client(server, clock)
    for _ in range(3):
        assert client.get("/contacts/t1/c1").status_code == 200
    assert server.issued == ["jwt-1"]
    assert server.forms[0]["grant_type"] == ["client_credentials"]
    assert server.forms[0]["client_id"] == ["client-1"]
    assert server.api_calls == ["Bearer jwt-1"] * 3


def test_oauth_token_is_renewed_shortly_before_expiry() -> None:
    server, clock = TokenServer(), FakeClock()
    client = oauth_client(server, clock)
    client.get("/contacts/t1/c1")
    clock.now += 86400 - 600  # ten minutes left: still used
    client.get("/contacts/t1/c1")
    assert server.issued == ["jwt-1"]
    clock.now += 400  # under the five-minute margin: renewed
    client.get("/contacts/t1/c1")
    assert server.issued == ["jwt-1", "jwt-2"]


def test_oauth_cache_is_shared_across_clients() -> None:
    server, clock, cache = TokenServer(), FakeClock(), InMemoryTokenCache()
    oauth_client(server, clock, cache).get("/contacts/t1/c1")
    oauth_client(server, clock, cache).get("/contacts/t1/c1")
    assert server.issued == ["jwt-1"]


def test_oauth_refreshes_once_on_401() -> None:
    server, clock, cache = TokenServer(), FakeClock(), InMemoryTokenCache()
    cache.set(
        "oauth:https://auth.rhythm.test/oauth2/token:client-1", AccessToken("revoked", START + 9e4)
    )
    response = oauth_client(server, clock, cache).get("/contacts/t1/c1")
    assert response.status_code == 200
    assert server.api_calls == ["Bearer revoked", "Bearer jwt-1"]

    hopeless = TokenServer(reject_all=True)
    response = oauth_client(hopeless, clock).get("/contacts/t1/c1")
    assert response.status_code == 401
    assert hopeless.issued == ["jwt-1", "jwt-2"]
    assert len(hopeless.api_calls) == 2


def test_oauth_refusal_never_shows_the_client_secret() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": f"bad secret {request.content.decode()}"})

    auth = OAuthClientCredentials("https://auth.test/token", "client-1", "s3cret-value")
    client = make_client(refuse, FakeClock(), system="rhythm", auth=auth)
    with pytest.raises(FatalError) as caught:
        client.get("/contacts/t1/c1")
    assert "rhythm fetch OAuth token" in str(caught.value)
    assert "s3cret-value" not in str(caught.value)
    assert "s3cret-value" not in repr(caught.value.__dict__)


def test_echoed_bearer_token_is_not_in_the_error() -> None:
    server = Recorder(httpx.Response(500, text="<pre>Authorization: Bearer tok-grow-123</pre>"))
    response = make_client(server, FakeClock()).get("/contacts")
    with pytest.raises(RetriableError) as caught:
        expect_json(response, "growcrm", "list contacts")
    assert "tok-grow-123" not in str(caught.value)
    assert "tok-grow-123" not in (caught.value.body or "")


def test_stats_count_every_attempt() -> None:
    clock = FakeClock()
    server = Recorder(httpx.ConnectError("x"), httpx.Response(503), httpx.Response(200))
    client = make_client(server, clock)
    client.get("/a")
    client.delete("/a/1")
    stats = client.stats.snapshot()
    assert stats["sent"] == 4
    assert stats["transport_errors"] == 1
    assert stats["retries"] == 2
    assert stats["by_status"] == {200: 2, 503: 1}


class CutBody(httpx.SyncByteStream):
    """A body the connection drops part way through (what the sandbox's drop fault does)."""

    def __iter__(self) -> Any:
        yield b'{"data": [{"id": '
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def cut_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Length": "5000"}, stream=CutBody())


def test_a_body_cut_mid_stream_is_retried_for_a_read() -> None:
    clock = FakeClock()
    server = Recorder(cut_answer, httpx.Response(200, json={"data": []}))
    client = make_client(server, clock)
    response = client.get("/contacts")
    assert response.json() == {"data": []}
    assert len(server.requests) == 2
    assert client.stats.snapshot()["transport_errors"] == 1


def test_every_transport_error_of_a_read_is_retried() -> None:
    for error in (
        httpx.ReadError("reset by peer"),
        httpx.ReadTimeout("slow"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("bad status line"),
        httpx.ProxyError("proxy refused"),
    ):
        server = Recorder(error, httpx.Response(200, json=[]))
        assert make_client(server, FakeClock()).get("/contacts").json() == [], error
        assert len(server.requests) == 2, error


def test_a_write_whose_answer_is_cut_mid_body_is_not_resent_and_may_have_landed() -> None:
    server = Recorder(cut_answer, httpx.Response(201, json={"id": 5}))
    client = make_client(server, FakeClock())
    with pytest.raises(RetriableError) as caught:
        client.post("/contacts", json={"first_name": "Ada"})
    assert caught.value.maybe_applied is True
    assert "RemoteProtocolError" in str(caught.value)
    assert len(server.requests) == 1


def test_a_request_that_cannot_be_sent_as_it_is_fails_at_once() -> None:
    server = Recorder(httpx.UnsupportedProtocol("no such scheme"), httpx.Response(200))
    with pytest.raises(FatalError) as caught:
        make_client(server, FakeClock()).get("/contacts")
    assert "UnsupportedProtocol" in str(caught.value)
    assert len(server.requests) == 1
