"""The circuit breaker in the transport: a 401 opens it at once, a run of 403s or server
errors past the limit too; once open no request is sent until the pass ends."""

from __future__ import annotations

import httpx
import pytest

from contactsync.http.auth import EXT_RENEWS_ON_401
from contactsync.http.circuit import Circuit, CircuitOpen
from contactsync.http.ratelimit import RateLimiter
from contactsync.http.retry import NO_RETRY, RequestStats, RetryingTransport


def _client(status: int, circuit: Circuit) -> tuple[httpx.Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status, json={})

    transport = RetryingTransport(
        "trackops",
        httpx.MockTransport(answer),
        policy=NO_RETRY,
        limiter=RateLimiter("trackops", budgets={}),
        stats=RequestStats("trackops"),
        sleep=lambda _: None,
        circuit=circuit,
    )
    return httpx.Client(transport=transport, base_url="http://sandbox.test"), sent


def test_a_401_opens_the_circuit_and_no_further_request_is_sent() -> None:
    circuit = Circuit("trackops", credentials_hint="TRACKOPS_TOKEN")
    client, sent = _client(401, circuit)
    assert client.get("/people").status_code == 401
    with pytest.raises(CircuitOpen, match=r"credentials refused .*check TRACKOPS_TOKEN"):
        client.post("/people", json={})
    assert len(sent) == 1


def test_server_errors_open_it_only_past_the_limit() -> None:
    circuit = Circuit("trackops", failure_limit=3)
    client, sent = _client(503, circuit)
    for _ in range(3):
        client.get("/people")
    with pytest.raises(CircuitOpen, match="3 consecutive failures"):
        client.get("/people")
    assert len(sent) == 3


def test_one_403_does_not_open_it_a_run_of_them_does() -> None:
    """A vendor may forbid one record and allow the next: only a run of 403s says the
    credentials lack the rights for this system."""
    circuit = Circuit("trackops", failure_limit=3, credentials_hint="TRACKOPS_TOKEN")
    client, sent = _client(403, circuit)
    client.get("/people/1")
    client.get("/people/2")
    assert not circuit.is_open
    client.get("/people/3")
    with pytest.raises(CircuitOpen, match="HTTP 403: check TRACKOPS_TOKEN and its scopes"):
        client.get("/people/4")
    assert len(sent) == 3


def test_an_answer_in_between_starts_the_count_again_and_reset_closes_it() -> None:
    circuit = Circuit("trackops", failure_limit=2)
    circuit.observe_status(503)
    circuit.observe_status(200)
    circuit.observe_status(503)
    assert not circuit.is_open
    circuit.observe_failure()
    assert circuit.is_open
    assert circuit.reset() == "2 consecutive failures (timeouts or connection failures)"
    assert not circuit.is_open
    circuit.check()  # a new pass may send again


def test_a_401_the_auth_answers_with_a_new_token_does_not_open_it() -> None:
    """An expired OAuth token: the auth fetches a new one and sends the request again;
    only a 401 to that second request says the credentials are refused."""
    circuit = Circuit("rhythm")
    client, sent = _client(401, circuit)
    client.get("/contacts", extensions={EXT_RENEWS_ON_401: True})
    assert not circuit.is_open
    client.get("/contacts", extensions={EXT_RENEWS_ON_401: False})
    assert circuit.is_open
    assert len(sent) == 2
