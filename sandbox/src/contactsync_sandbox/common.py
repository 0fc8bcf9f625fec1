"""What every vendor simulator shares: options, clock, store, rate limits, faults, admin routes.

A simulator is a :class:`VendorSimulator` subclass that supplies its routes, its
auth check, its error shapes and its rate-limit buckets; :func:`build_app` wraps
it in one ASGI middleware that counts every request (``/_sandbox/stats``), injects
seeded faults, enforces rate limits and checks auth, in that order, and adds the
admin routes (``/_sandbox/records|truth|stats|mutate|reset``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

# The simulators import these from here: ``X as X`` re-exports them.
from contactsync_sandbox._admin import ADMIN_PREFIX as ADMIN_PREFIX
from contactsync_sandbox._admin import admin_routes
from contactsync_sandbox._key_index import KeyIndex as KeyIndex
from contactsync_sandbox._limits import FAULT_KINDS as FAULT_KINDS
from contactsync_sandbox._limits import Bucket as Bucket
from contactsync_sandbox._limits import BucketState as BucketState
from contactsync_sandbox._limits import FaultInjector as FaultInjector
from contactsync_sandbox._limits import RateLimiter as RateLimiter

RateMode = Literal["vendor", "fast", "off"]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAST_FACTOR = 100.0


@dataclass(frozen=True)
class SandboxOptions:
    """How a sandbox instance behaves. ``rate_scale`` multiplies the vendor limits."""

    people: int = 200
    seed: int = 1
    rate_limits: RateMode = "off"
    rate_scale: float | None = None
    faults: float = 0.0
    slow_seconds: float = 3.0
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def limit_factor(self) -> float | None:
        """How much the documented limits are multiplied by; None means no limits."""
        if self.rate_limits == "off":
            return None
        if self.rate_scale is not None:
            return self.rate_scale
        return FAST_FACTOR if self.rate_limits == "fast" else 1.0

    def credential(self, name: str, default: str) -> str:
        return self.credentials.get(name, default)


class SandboxClock:
    """UTC server time that strictly increases on every call (timestamps move on every write)."""

    def __init__(self) -> None:
        self._last = datetime.fromtimestamp(0, UTC)
        self._lock = threading.Lock()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            current = datetime.now(UTC) + self.offset
            if current <= self._last:
                current = self._last + timedelta(microseconds=1)
            self._last = current
            return current


class VendorStore:
    """One simulator's records: id -> vendor-shaped dict, soft deletes, ground truth."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.truth: dict[str, str] = {}
        self._seed_state: tuple[dict[str, dict[str, Any]], set[str], dict[str, str]] | None = None
        self.lock = threading.RLock()

    def live(self) -> list[dict[str, Any]]:
        return [r for key, r in self.records.items() if key not in self.deleted]

    def freeze_seed(self) -> None:
        """Remember the current state as the seeded state that ``reset`` returns to."""
        self._seed_state = (copy.deepcopy(self.records), set(self.deleted), dict(self.truth))

    def reset(self) -> None:
        if self._seed_state is None:
            return
        records, deleted, truth = self._seed_state
        self.records, self.deleted, self.truth = copy.deepcopy(records), set(deleted), dict(truth)


def json_body_error(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


class VendorSimulator(ABC):
    """One vendor's API. Subclasses fill the store from seed data and define routes."""

    name: ClassVar[str]

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.clock = SandboxClock()
        self.store = VendorStore()
        factor = options.limit_factor
        self.limiter = RateLimiter(factor) if factor is not None else None
        self.faults = FaultInjector(options.faults, options.seed)
        self.stats: Counter[tuple[str, str, int]] = Counter()
        self._stats_lock = threading.Lock()

    # --- what each vendor supplies ---------------------------------------------------

    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The vendor's API routes (paths as the vendor has them)."""

    @abstractmethod
    def authenticate(self, request: Request) -> Response | None:
        """None when the request carries valid credentials, else the vendor's 401."""

    @abstractmethod
    def mutate_record(self, record_id: str, rng: random.Random) -> None:
        """Edit one live record as a user would (and move its server timestamps)."""

    def buckets(self, method: str, path_template: str) -> list[Bucket]:
        """Rate-limit buckets a request counts against (none by default)."""
        return []

    def rate_headers(self, states: list[BucketState]) -> dict[str, str]:
        """Headers advertising the remaining quota on every answer (none by default)."""
        return {}

    def too_many_requests(self, state: BucketState) -> Response:
        retry_after = max(1, int(state.reset_at - time.time() + 0.999))
        return JSONResponse(
            {"message": "Too Many Requests"},
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )

    def server_error(self, status: int) -> Response:
        return JSONResponse({"message": "Internal Server Error"}, status_code=status)

    def public_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as the API shows it (default: as stored)."""
        return record

    def extra_admin_info(self) -> dict[str, Any]:
        """Anything a simulator adds to /_sandbox/records (e.g. Xurrent org contacts)."""
        return {}

    # --- shared behaviour ------------------------------------------------------------

    def count(self, method: str, template: str, status: int) -> None:
        with self._stats_lock:
            self.stats[(method, template, status)] += 1

    def stats_payload(self) -> dict[str, Any]:
        with self._stats_lock:
            rows = [
                {"method": m, "path": p, "status": s, "count": c}
                for (m, p, s), c in sorted(self.stats.items())
            ]
        return {"system": self.name, "requests": rows, "total": sum(r["count"] for r in rows)}

    def mutate(self, count: int, seed: int) -> list[str]:
        rng = random.Random(seed)
        with self.store.lock:
            candidates = sorted(k for k in self.store.records if k not in self.store.deleted)
            chosen = rng.sample(candidates, min(count, len(candidates)))
            for record_id in chosen:
                self.mutate_record(record_id, rng)
        return chosen

    def admin_routes(self) -> list[BaseRoute]:
        return admin_routes(self)

    def reset_all(self) -> None:
        """Back to the seeded records, with no requests counted."""
        with self.store.lock:
            self.store.reset()
        with self._stats_lock:
            self.stats.clear()


class SandboxMiddleware:
    """Stats, faults, rate limits and auth around a simulator's routes (pure ASGI)."""

    def __init__(self, app: ASGIApp, sim: VendorSimulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        status_seen: list[int] = []

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)

        try:
            await self._handle(scope, receive, counting_send)
        finally:
            template = _route_template(scope)
            self.sim.count(scope["method"], template, status_seen[0] if status_seen else 0)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        template = _match_template(self.app, scope)
        fault = self.sim.faults.pick()
        if fault in ("error_500", "error_503"):
            await self.sim.server_error(500 if fault == "error_500" else 503)(scope, receive, send)
            return
        extra_headers: dict[str, str] = {}
        if self.sim.limiter is not None:
            states = [self.sim.limiter.hit(b) for b in self.sim.buckets(scope["method"], template)]
            refused = next((s for s in states if not s.allowed), None)
            if refused is not None:
                response = self.sim.too_many_requests(refused)
                response.headers.update(self.sim.rate_headers(states))
                await response(scope, receive, send)
                return
            extra_headers = self.sim.rate_headers(states)
        denied = self.sim.authenticate(request)
        if denied is not None:
            await denied(scope, receive, send)
            return
        if fault == "slow":
            await asyncio.sleep(self.sim.options.slow_seconds)
        send_with_headers = _add_headers(send, extra_headers)
        if fault == "drop_after":
            await self.app(scope, receive, _dropping(send_with_headers))
            return
        await self.app(scope, receive, send_with_headers)


class DroppedConnection(Exception):
    """Raised after the app ran, so the server closes the connection mid-response."""


def _dropping(send: Send) -> Send:
    async def dropping_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", b"1000000"))
            await send({**message, "headers": headers})
            return
        if message["type"] == "http.response.body":
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise DroppedConnection("sandbox fault: connection dropped after the write")

    return dropping_send


def _add_headers(send: Send, headers: dict[str, str]) -> Send:
    if not headers:
        return send
    encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def send_with(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *encoded]}
        await send(message)

    return send_with


def _match_template(app: ASGIApp, scope: Scope) -> str:
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match.name == "FULL":
            return str(getattr(route, "path", scope["path"]))
    return str(scope["path"])


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", None) or scope["path"])


class SandboxApp:
    """A simulator's ASGI app: its routes and the admin routes behind the middleware."""

    def __init__(self, sim: VendorSimulator) -> None:
        self.sim = sim
        self.inner = Starlette(routes=[*sim.admin_routes(), *sim.routes()])
        self.router = self.inner.router
        self._wrapped = SandboxMiddleware(self.inner, sim)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.inner(scope, receive, send)
            return
        await self._wrapped(scope, receive, send)


def build_app(sim: VendorSimulator) -> SandboxApp:
    return SandboxApp(sim)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
