"""A stand-in adapter for engine tests that talk to no vendor.

:class:`FakeAdapter` is a real :class:`~contactsync.adapters.base.Adapter` (the
loader, the change feed and staging take it as one, no ``type: ignore``): a fake
subclasses it, sets ``system`` (and the capability flags it declares) and overrides
the methods its test uses. Every other vendor call is a test failure, and it has no
HTTP client to close.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import httpx

from contactsync.adapters.base import (
    Adapter,
    AdapterContext,
    ChangeStrategy,
    RawRecord,
    Window,
    WriteResult,
)


class FakeAdapter(Adapter):
    """An adapter whose every vendor call fails the test unless a subclass overrides it."""

    system: ClassVar[str] = "fake"
    strategy: ClassVar[ChangeStrategy] = ChangeStrategy.WINDOW

    def __init__(self, context: AdapterContext | None = None) -> None:
        super().__init__(context or AdapterContext(system=self.system, base_url="http://fake.test"))

    def _unexpected(self, call: str) -> AssertionError:
        return AssertionError(f"{type(self).__name__}: {call} was not expected in this test")

    @property
    def client(self) -> httpx.Client:
        raise self._unexpected("client")

    def extract(self, window: Window) -> Iterator[RawRecord]:
        raise self._unexpected("extract")

    def create(self, payload: dict[str, Any], *, allow_duplicates: bool = False) -> WriteResult:
        raise self._unexpected("create")

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        raise self._unexpected("update")

    def delete(self, external_id: str) -> None:
        raise self._unexpected("delete")

    def find_existing(self, payload: dict[str, Any], person_id: str) -> str | None:
        raise self._unexpected("find_existing")

    def close(self) -> None:
        pass
