"""Shared sandbox fixtures: the five simulators served over HTTP, and a tiny fake simulator."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from contactsync_sandbox.common import Bucket, SandboxOptions, VendorSimulator
from contactsync_sandbox.server import SandboxServer
from tests.sandbox.helpers import FAKE_TOKEN


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """All five simulators on five free loopback ports, 120 people, seed 7."""
    server = SandboxServer(SandboxOptions(people=120, seed=7), port_base=0)
    server.start()
    yield server
    server.stop()


AdminGet = Callable[..., Any]


@pytest.fixture
def admin_get() -> AdminGet:
    """``admin_get(server, system, "stats")`` -> the JSON of ``GET /_sandbox/stats``."""

    def get(server: SandboxServer, system: str, what: str = "stats") -> Any:
        response = httpx.get(server.admin_url(system, what), timeout=10.0)
        response.raise_for_status()
        return response.json()

    return get


class FakeSimulator(VendorSimulator):
    """A minimal vendor: bearer auth, one bucket of 5 requests a minute, items under /api."""

    name = "fake"

    def __init__(self, options: SandboxOptions, seed: object = None) -> None:
        super().__init__(options)
        self.store.records["1"] = {
            "id": "1",
            "name": "Ada",
            "updated": self.clock.now().isoformat(),
        }
        self.store.truth["1"] = "P000001"
        self.store.freeze_seed()

    def routes(self) -> list[BaseRoute]:
        async def list_items(_: Request) -> Response:
            with self.store.lock:
                return JSONResponse(self.store.live())

        async def create_item(request: Request) -> Response:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                return JSONResponse({"errors": {"name": ["required"]}}, status_code=422)
            with self.store.lock:
                new_id = str(len(self.store.records) + 1)
                record = {
                    "id": new_id,
                    "name": body["name"],
                    "updated": self.clock.now().isoformat(),
                }
                self.store.records[new_id] = record
            return JSONResponse(record, status_code=201)

        return [
            Route("/api/items", list_items, methods=["GET"]),
            Route("/api/items", create_item, methods=["POST"]),
        ]

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("authorization") == f"Bearer {FAKE_TOKEN}":
            return None
        return JSONResponse({"message": "Unauthenticated."}, status_code=401)

    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        record = self.store.records[record_id]
        record["name"] = record["name"] + rng.choice("xyz")
        record["updated"] = self.clock.now().isoformat()

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        return [Bucket("fake", 5, 60.0)]


@pytest.fixture
def fake_simulator() -> Callable[..., FakeSimulator]:
    """``fake_simulator(rate_limits="vendor", faults=0.2, ...)`` -> a FakeSimulator."""

    def make(**options: Any) -> FakeSimulator:
        return FakeSimulator(SandboxOptions(**options))

    return make
