"""What several adapter tests share: a recording fake vendor and contract payloads."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from contactsync.adapters.registry import vendor
from contactsync.http.client import SystemClient, build_client
from contactsync.mapping.mapper import Mapping
from contactsync.model.contact import Contact
from tests.adapter_contract import PERSON_ID

Handler = Callable[[httpx.Request], httpx.Response]
MAPPINGS = Path(__file__).parents[2] / "mappings"


class RecordingVendor:
    """An ``httpx.MockTransport`` handler: keeps every request, answers with ``answer``."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def calls(self) -> list[str]:
        """``"METHOD /path"`` of every request, in order."""
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def bodies(self) -> list[Any]:
        """Every request's JSON body (None for a request without one)."""
        return [json.loads(r.content) if r.content else None for r in self.requests]

    def client(self, system: str, base_url: str, auth: httpx.Auth) -> SystemClient:
        """A client for ``system`` sending to this vendor: no budgets, no real sleeps,
        a seeded retry jitter."""
        return build_client(
            system,
            base_url=base_url,
            auth=auth,
            vendor=vendor(system).http,
            transport=httpx.MockTransport(self),
            budgets={},
            sleep=lambda seconds: None,
            rng=random.Random(1),
        )


def load_mapping(system: str) -> Mapping:
    return Mapping.load(MAPPINGS / f"{system}.toml")


def outbound(mapping: Mapping, contact: Contact) -> dict[str, Any]:
    """``contact`` mapped out the way the engine maps it (no mapping errors allowed)."""
    payload, errors = mapping.outbound_checked(contact)
    assert errors == []
    return payload


def contract_person(n: int, sync_id: str | None = PERSON_ID, **fields: Any) -> Contact:
    """Contract person ``n`` (name and work email) with ``fields`` added or replaced."""
    return Contact(
        **{
            "first_name": "Contract",
            "last_name": f"Person{n}",
            "emails": [{"address": f"contract.person{n}@contract.example", "type": "work"}],
            "sync_id": sync_id,
            **fields,
        }
    )
