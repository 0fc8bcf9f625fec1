"""A run's counts add up, and its table is whole at 80 columns (issue 17)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from contactsync.cli.render import summary_table
from contactsync.config.settings import load_settings
from contactsync.model.run_summary import RunSummary, SystemCounts
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import sandbox

SORTED = ("unchanged", "staged", "echoes", "quarantined")


def _each_record_counted_once(summary: RunSummary) -> None:
    for system, counts in summary.systems.items():
        parts = sum(getattr(counts, name) for name in SORTED)
        assert counts.extracted == parts, (system, counts)


def test_every_extracted_record_is_unchanged_staged_an_echo_or_quarantined(
    tmp_path: Path,
) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=4)) as box:
        settings = load_settings(box.config, env=box.credentials)
        engine = open_engine(settings, box.credentials)
        try:
            backfill = engine.run("backfill").summary
            edited = box.http.post(box.server.admin_url("trackops", "mutate"), json={"count": 3})
            assert len(edited.json()["mutated"]) == 3
            sync = engine.run("sync").summary
            settled = engine.run("sync").summary  # full pulls read the same records again
        finally:
            engine.close()
    _each_record_counted_once(backfill)
    _each_record_counted_once(sync)
    _each_record_counted_once(settled)
    assert sum(c.unchanged for c in sync.systems.values()) > 0  # backfill's writes, read back
    assert sync.systems["trackops"].staged >= 3  # the three edits


def test_the_run_table_is_not_cut_at_80_columns() -> None:
    counts = SystemCounts(extracted=123456, unchanged=120000, staged=3456, requests=98765)
    systems = ("trackops", "growcrm", "rhythm", "pylon", "xurrent")
    summary = RunSummary(
        run_id="r_01M8WB2SSDWB44KZG7WWPP8205", systems=dict.fromkeys(systems, counts)
    )
    console = Console(width=80, record=True)
    console.print(summary_table(summary, "backfill"))
    text = console.export_text()
    assert "…" not in text
    for word in (*systems, "unchanged", "quarantined", "requests", "123456", "98765"):
        assert word in text
