"""Vendor and user text in status tables is shown as it is, never read as Rich markup
("update contact [record 1007]: HTTP 401" used to lose its "[record 1007]")."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from contactsync.cli.render import quarantine_table
from contactsync.state.sqlite.store import QuarantineEntry


def test_a_reason_with_brackets_is_printed_whole() -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    entry = QuarantineEntry(
        "trackops", "1007", "update contact [record 1007]: HTTP 401 [bold]x", {}, "h", at, at
    )
    console = Console(width=200, record=True)
    console.print(quarantine_table([entry]))
    shown = console.export_text()
    assert "update contact [record 1007]: HTTP 401 [bold]x" in shown
