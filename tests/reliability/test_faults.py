"""Faults: against a sandbox failing 5% of requests (500, 503, answers dropped after the
write, slow answers) under the fast rate limits, repeated ``sync`` runs converge to the
end state of a fault-free run: nobody duplicated, no update lost, and every failed
action is retried on a later run and shown by ``status`` until it succeeds. At 10%, a
backfill of 300 people and the syncs after it reach the fault-free result within 10
passes (20%: ``bench/faults.py``).
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from contactsync.adapters.base import Adapter
from contactsync.adapters.registry import adapter_class
from contactsync.cli import run as commands
from contactsync.config.settings import load_settings
from contactsync.engine.sync import Engine, adapter_context
from contactsync.state.sqlite.store import OutboxStatus
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import converge
from tests.reliability.helpers import Sandbox, describe_difference, sandbox
from tests.reliability.test_crash import created

pytestmark = pytest.mark.slow

PEOPLE = 80
SEED = 7
FAULTS = 0.05
MAX_RUNS = 8


def engine_for(box: Sandbox) -> Engine:
    return open_engine(load_settings(box.config, env=box.credentials), box.credentials)


def status_json(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """What ``contactsync status --json`` prints for this sandbox's state."""
    capsys.readouterr()
    commands.show_status(load_settings(box.config, env=box.credentials), as_json=True)
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def test_repeated_syncs_under_faults_converge_to_the_fault_free_end_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_options = SandboxOptions(people=PEOPLE, seed=SEED, rate_limits="fast")
    with sandbox(tmp_path / "clean", clean_options) as clean:
        engine = engine_for(clean)
        try:
            assert engine.run("sync").summary.status == "ok"
        finally:
            engine.close()
        expected, expected_creates = clean.end_state(), created(clean)

    faulty_options = SandboxOptions(people=PEOPLE, seed=SEED, rate_limits="fast", faults=FAULTS)
    failed_once: dict[str, int] = {}  # action key -> the run it first failed in
    with sandbox(tmp_path / "faulty", faulty_options) as faulty:
        engine = engine_for(faulty)
        try:
            for run in range(1, MAX_RUNS + 1):
                outcome = engine.run("sync")
                failed = engine.state.list_actions(OutboxStatus.FAILED)
                for entry in failed:
                    failed_once.setdefault(entry.key, run)
                report = status_json(faulty, capsys)
                shown = {
                    (item["system"], item["action"], item["error"])
                    for item in report["failed_actions"]  # type: ignore[attr-defined]
                }
                for entry in failed:
                    assert (entry.action.system, entry.key, entry.last_error) in shown
                    assert entry.last_error, f"{entry.key} failed without a reason"
                counts = engine.state.counts_by_status()
                settled = counts["failed"] == counts["pending"] == counts["in_flight"] == 0
                if settled and outcome.summary.status == "ok":
                    break
            else:
                pytest.fail(f"not converged after {MAX_RUNS} sync runs: {counts}")
            settled_as = {
                entry.key: entry
                for status in ("done", "skipped")
                for entry in engine.state.list_actions(status)
            }
        finally:
            engine.close()
        actual, actual_creates = faulty.end_state(), created(faulty)

    assert failed_once, "no write failed: the faults were never exercised"
    assert run >= 2, "a failed action must have needed a later run"
    # Each failed action was settled by a later run: sent again, found to have landed
    # after all (its answer was lost), or replaced by a newer plan for the person.
    unsettled = [key for key in failed_once if key not in settled_as]
    assert not unsettled, f"failed, and never settled: {unsettled}"
    assert any(settled_as[key].status is OutboxStatus.DONE for key in failed_once), (
        "no failed action was retried to success"
    )
    if actual != expected:
        pytest.fail(describe_difference(expected, actual))
    assert actual_creates == expected_creates, "a record was created twice"


def test_a_backfill_of_300_people_at_10_percent_faults_converges_within_10_passes(
    tmp_path: Path,
) -> None:
    result = converge(tmp_path, people=300, seed=SEED, faults=0.10, max_passes=10)
    passes = [(p.kind, p.status, p.open_actions) for p in result.passes]
    assert result.settled, f"not settled within 10 passes: {passes}"
    assert all(p.status != "failed" for p in result.passes), passes
    first = result.passes[0]
    assert first.status != "ok" or first.open_actions, "the faults were never exercised"
    if result.actual != result.expected:
        pytest.fail(result.difference)


class _Outage:
    """A fault injector that fails every request with a 503 (a vendor outage)."""

    def pick(self) -> str:
        return "error_503"


def _user_adapter(box: Sandbox, system: str) -> Adapter:
    """The vendor's API as a user's other tool would write to it (not contactsync's state)."""
    settings = load_settings(box.config, env=box.credentials)
    context = adapter_context(system, settings.systems[system], settings.credentials(system))
    return adapter_class(system)(context)


def _raw(box: Sandbox, system: str, external_id: str) -> dict[str, Any]:
    return next(r for r in box.records(system) if str(r["id"]) == external_id)


def test_a_failed_update_never_overwrites_a_newer_edit_by_a_user(tmp_path: Path) -> None:
    options = SandboxOptions(people=40, seed=SEED, rate_limits="fast")
    with sandbox(tmp_path / "edit", options) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            trackops_id, rhythm_id = _person_in_both(engine)
            with closing(_user_adapter(box, "trackops")) as trackops_user:
                trackops_user.update(
                    trackops_id,
                    {"title": "Chief Tester"},
                    current=_raw(box, "trackops", trackops_id),
                )
            outage = box.server.simulators["rhythm"]
            healthy, outage.faults = outage.faults, _Outage()  # type: ignore[assignment]
            engine.run("sync")
            stuck = [
                e
                for e in engine.state.list_actions("failed", "rhythm")
                if e.action.external_id == rhythm_id
            ]
            assert stuck, "the update of the person's Rhythm record should have failed"
            outage.faults = healthy
            with closing(_user_adapter(box, "rhythm")) as rhythm_user:
                rhythm_user.update(
                    rhythm_id, {"job_title": "Head of QA"}, current=_raw(box, "rhythm", rhythm_id)
                )
            engine.run("sync")
            engine.run("sync")
        finally:
            engine.close()
        assert _raw(box, "rhythm", rhythm_id).get("job_title") == "Head of QA"
        assert _raw(box, "trackops", trackops_id).get("title") == "Head of QA"


def _person_in_both(engine: Engine) -> tuple[str, str]:
    """A Trackops and a Rhythm record of one person, both its users' own (not ours)."""
    by_person: dict[str, dict[str, str]] = {}
    for record in engine.state.iter_records():
        if record.person_id and record.source_payload is not None:
            by_person.setdefault(record.person_id, {})[record.system] = record.external_id
    return next(
        (held["trackops"], held["rhythm"])
        for _, held in sorted(by_person.items())
        if {"trackops", "rhythm"} <= set(held)
    )
