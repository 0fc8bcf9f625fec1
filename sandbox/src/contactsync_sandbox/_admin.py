"""The sandbox's own admin routes (``/_sandbox/records|truth|stats|mutate|reset``).

They are not part of any vendor's API: tests, benchmarks and the demo use them to
look inside a simulator and to edit records the way a user would.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from contactsync_sandbox.common import VendorSimulator

ADMIN_PREFIX = "/_sandbox"
MAX_MUTATIONS = 100_000


class MutateRequest(BaseModel):
    """``POST /_sandbox/mutate`` body: how many records to edit, and the edits' seed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    count: int = Field(default=1, ge=0, le=MAX_MUTATIONS)
    seed: int = 0


def _bad_request(reason: str) -> Response:
    return JSONResponse({"error": "bad request", "reason": reason}, status_code=400)


async def _mutate_request(request: Request) -> MutateRequest | Response:
    body = await request.body()
    if not body.strip():
        return MutateRequest()
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _bad_request(f"the body is not JSON: {exc}")
    try:
        return MutateRequest.model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return _bad_request(f"{where}: {first['msg']}")


def admin_routes(sim: VendorSimulator) -> list[BaseRoute]:
    async def records(_: Request) -> Response:
        with sim.store.lock:
            rows = [
                {**sim.public_record(r), "_deleted": key in sim.store.deleted}
                for key, r in sim.store.records.items()
            ]
        return JSONResponse({"system": sim.name, "records": rows, **sim.extra_admin_info()})

    async def truth(_: Request) -> Response:
        return JSONResponse(dict(sim.store.truth))

    async def stats(_: Request) -> Response:
        return JSONResponse(sim.stats_payload())

    async def mutate(request: Request) -> Response:
        wanted = await _mutate_request(request)
        if isinstance(wanted, Response):
            return wanted
        return JSONResponse({"mutated": sim.mutate(wanted.count, wanted.seed)})

    async def reset(_: Request) -> Response:
        sim.reset_all()
        return JSONResponse({"reset": True})

    return [
        Route(f"{ADMIN_PREFIX}/records", records, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/truth", truth, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/mutate", mutate, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/reset", reset, methods=["POST"]),
    ]
