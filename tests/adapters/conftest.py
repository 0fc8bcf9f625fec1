"""Runs every adapter contract test live against the sandbox and from its cassette.

* ``live``: a session sandbox on loopback (reset to its seed before each test).
  With ``CONTACTSYNC_RECORD=1`` (``make cassettes``) the live run also records
  the test's cassette.
* ``cassette``: the same test replayed from ``tests/adapters/cassettes/<system>/``
  with ``record_mode="none"``; no sandbox is running, so any request the
  cassette does not hold fails the test.

Credentials never reach a cassette: auth headers, the OAuth form fields and
token answers are scrubbed before anything is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr  # type: ignore[import-untyped]

from contactsync.adapters.base import AdapterContext
from contactsync.adapters.registry import adapter_class
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer, build_simulators
from contactsync_sandbox.write_config import sandbox_credentials, sandbox_defaults
from tests.adapter_contract import Harness, SandboxAdmin

CASSETTES = Path(__file__).parent / "cassettes"
RECORDING = os.environ.get("CONTACTSYNC_RECORD") == "1"
REPLAY_HOST = "http://127.0.0.1:18700"
SANDBOX_PEOPLE = 150
SANDBOX_SEED = 11
SCRUBBED = "<scrubbed>"


def _scrub_request(request: Any) -> Any:
    for header in ("Authorization", "X-Xurrent-Account", "Cookie"):
        if header in request.headers:
            request.headers[header] = SCRUBBED
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and b"access_token" in body:
        try:
            data = json.loads(body)
        except ValueError:
            return response
        data["access_token"] = "sandbox-access-token"
        response["body"]["string"] = json.dumps(data).encode()
    return response


def make_vcr(record_mode: str) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode,
        match_on=("method", "path", "query", "body"),
        filter_headers=["authorization", "x-xurrent-account", "cookie"],
        filter_post_data_parameters=["client_id", "client_secret"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


OPTIONS = SandboxOptions(people=SANDBOX_PEOPLE, seed=SANDBOX_SEED)


@pytest.fixture(scope="session")
def sandbox_for_adapters() -> Iterator[SandboxServer]:
    server = SandboxServer(OPTIONS, port_base=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sandbox_setup() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]]]:
    """Per system: the adapter credentials and create defaults of the sandbox (as
    ``--write-config`` writes them), computed without serving anything."""
    env = sandbox_credentials(OPTIONS)
    credentials: dict[str, dict[str, str]] = {}
    for variable, value in env.items():
        system, _, key = variable.lower().partition("_")
        credentials.setdefault(system, {})[key] = value
    defaults = sandbox_defaults(OPTIONS, build_simulators(OPTIONS))
    return credentials, defaults


def sandbox_context(
    system: str, base_url: str, credentials: dict[str, str], defaults: dict[str, Any]
) -> AdapterContext:
    return AdapterContext(
        system=system,
        base_url=base_url,
        page_size=50,
        timeout=10.0,
        defaults=defaults,
        credentials=credentials,
    )


@pytest.fixture(params=["live", "cassette"])
def harness(
    request: pytest.FixtureRequest,
    sandbox_setup: tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]]],
) -> Iterator[Harness]:
    system: str = request.cls.system
    cassette = f"{system}/{request.node.originalname}.yaml"
    mode = request.param
    if mode == "live":
        server: SandboxServer = request.getfixturevalue("sandbox_for_adapters")
        for admin_url in server.admin_urls.values():
            httpx.post(f"{admin_url}/_sandbox/reset").raise_for_status()
        base_url, admin_url = server.urls[system], server.admin_urls[system]
    else:
        if not (CASSETTES / cassette).exists():
            pytest.fail(f"missing cassette {cassette}: run `make cassettes`")
        base_url = REPLAY_HOST + BASE_PATHS.get(system, "")
        admin_url = REPLAY_HOST
    credentials = dict(sandbox_setup[0][system])
    defaults = dict(sandbox_setup[1][system])
    if system == "rhythm":
        defaults["token_url"] = base_url.rstrip("/") + "/oauth2/token"
    adapter = adapter_class(system)(sandbox_context(system, base_url, credentials, defaults))
    bad = {key: "wrong-secret" for key in credentials}
    bad_adapter = adapter_class(system)(sandbox_context(system, base_url, bad, defaults))
    admin_client = httpx.Client(timeout=10.0)
    try:
        if mode == "live" and not RECORDING:
            yield Harness(adapter, SandboxAdmin(admin_client, admin_url), bad_adapter)
        else:
            record_mode = "all" if mode == "live" else "none"
            with make_vcr(record_mode).use_cassette(cassette):
                yield Harness(adapter, SandboxAdmin(admin_client, admin_url), bad_adapter)
    finally:
        adapter.close()
        bad_adapter.close()
        admin_client.close()


BASE_PATHS = {"trackops": "/api/v1", "growcrm": "/api", "xurrent": "/v1"}
