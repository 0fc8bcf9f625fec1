"""Crash safety: a backfill killed with SIGKILL at seeded points, restarted each time,
ends exactly where an uninterrupted backfill of the same seed ends.

The kills come from ``contactsync.engine.faultpoints``: the subprocess runs with
``CONTACTSYNC_CRASH_AT=<point>:<n>`` and SIGKILLs itself the n-th time it passes
the point (during extract, while planning, with an action claimed but not sent,
and between a vendor's answer to a write and the commit that records it). The n
are drawn from a seeded generator, so a failure replays.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from contactsync.adapters.base import Adapter
from contactsync.adapters.registry import adapter_class
from contactsync.config.settings import load_settings
from contactsync.engine import faultpoints
from contactsync.engine.sync import adapter_context
from contactsync.state.sqlite.store import StateStore
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import (
    SYSTEMS,
    Sandbox,
    contactsync,
    describe_difference,
    sandbox,
)

pytestmark = pytest.mark.slow

PEOPLE = 60
SEED = 3
CRASH_SEED = 20260607
#: a killed run's lease (one-shot commands hold one too) lapses this fast here
LEASE_SECONDS = 1.0
SHORT_LEASE = {"CONTACTSYNC_LEASE_TTL": str(LEASE_SECONDS)}


def after_a_kill() -> None:
    """Wait until the lease of a run killed by SIGKILL has lapsed.

    A real wait: the next run is another process that reads the wall clock (a lease
    takes a clock only in-process, ``StateStore.open(clock=...)``)."""
    time.sleep(LEASE_SECONDS + 0.3)


def crash_plan(seed: int) -> list[str]:
    """The kills, in order: where and on which pass (each run starts counting afresh)."""
    rng = random.Random(seed)
    return [
        f"extract:{rng.randint(35, 110)}",  # after Trackops staged, inside a later system
        f"plan:{rng.randint(5, 40)}",  # records linked, part of the persons planned
        f"after_vendor_answer:{rng.randint(5, 25)}",  # writes done, not yet committed
        f"load:{rng.randint(20, 60)}",  # an action claimed, never sent
        f"after_vendor_answer:{rng.randint(20, 60)}",
        f"after_vendor_answer:{rng.randint(1, 10)}",
    ]


def created(box: Sandbox) -> Counter[str]:
    """Successful create requests per system, as the sandbox counted them."""
    counts: Counter[str] = Counter()
    for system in SYSTEMS:
        for row in box.admin(system, "stats")["requests"]:
            is_create = row["method"] == "POST" and not row["path"].endswith(("/search", "/token"))
            if is_create and 200 <= row["status"] < 300:
                counts[system] += row["count"]
    return counts


def test_a_backfill_killed_at_seeded_points_ends_like_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    options = SandboxOptions(people=PEOPLE, seed=SEED, rate_limits="fast")
    with sandbox(tmp_path / "reference", options) as reference:
        clean = contactsync("backfill", "--json", config=reference.config, env=reference.env)
        assert clean.returncode == 0, clean.stderr[-2000:]
        expected = reference.end_state()
        expected_creates = created(reference)

    with sandbox(tmp_path / "crashed", options) as crashed:
        env = {**crashed.env, **SHORT_LEASE}
        for spec in crash_plan(CRASH_SEED):
            run = contactsync("backfill", "--json", config=crashed.config, env=env, crash_at=spec)
            assert run.returncode == -signal.SIGKILL, (
                f"{spec}: the run was not killed (exit {run.returncode}); "
                f"the crash point was never reached\n{run.stderr[-2000:]}"
            )
            after_a_kill()
        final = contactsync("backfill", "--json", config=crashed.config, env=env)
        assert final.returncode == 0, final.stderr[-2000:]
        actual = crashed.end_state()
        actual_creates = created(crashed)
        with StateStore.open(crashed.state_path) as state:
            stuck = {
                status: state.counts_by_status()[status]
                for status in ("pending", "in_flight", "failed")
            }

    if actual != expected:
        pytest.fail(describe_difference(expected, actual))
    assert actual_creates == expected_creates, "a record was created twice"
    assert stuck == {"pending": 0, "in_flight": 0, "failed": 0}


@pytest.mark.parametrize("spec", ["load:0", "nowhere:3", "extract", "load:x"])
def test_a_malformed_crash_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="CONTACTSYNC_CRASH_AT"):
        faultpoints.parse(spec)


def test_crash_specs_name_points_and_passes() -> None:
    assert faultpoints.parse("load:7, extract:3") == {"load": 7, "extract": 3}
    assert faultpoints.parse("") == {}


#: where a person's job title is read and written by a user, per system
TITLE_READ = {"trackops": "title", "rhythm": "job_title", "xurrent": "job_title"}


def _adapters(box: Sandbox) -> dict[str, Adapter]:
    """The vendors' APIs, as a user's client (no state, no engine)."""
    settings = load_settings(box.config, env=box.env)
    return {
        name: adapter_class(name)(
            adapter_context(name, settings.systems[name], settings.credentials(name, box.env))
        )
        for name in TITLE_READ
    }


def _user_sets_title(adapter: Adapter, external_id: str, title: str) -> None:
    current = adapter.read_record(external_id).payload
    adapter.update(external_id, {TITLE_READ[adapter.system]: title}, current=current)


def test_an_update_in_flight_at_a_crash_never_undoes_a_later_user_edit(tmp_path: Path) -> None:
    options = SandboxOptions(people=30, seed=SEED, rate_limits="off")
    with sandbox(tmp_path / "inflight", options) as box:
        env = {**box.env, **SHORT_LEASE}
        assert contactsync("backfill", config=box.config, env=env).returncode == 0
        with StateStore.open(box.state_path) as state:
            held: dict[str, dict[str, str]] = {}
            for record in state.iter_records():
                if record.person_id and not record.deleted and record.system in TITLE_READ:
                    person = state.resolve_person(record.person_id)
                    held.setdefault(person, {})[record.system] = record.external_id
        ids = next(found for _, found in sorted(held.items()) if found.keys() == TITLE_READ.keys())
        users = _adapters(box)
        try:
            _user_sets_title(users["xurrent"], ids["xurrent"], "Head of Planning")
            time.sleep(1.1)  # vendor timestamps: the later edit is later to the second
            # Xurrent's title goes to Trackops; the run dies with that update answered but
            # not recorded (in flight).
            crashed = contactsync(
                "sync",
                "--systems",
                "xurrent,trackops",
                config=box.config,
                env=env,
                crash_at="after_vendor_answer:1",
            )
            assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
            with StateStore.open(box.state_path) as state:
                in_flight = state.in_flight_actions("trackops")
            assert [entry.action.external_id for entry in in_flight] == [ids["trackops"]]
            after_a_kill()  # (longer than a second: the edit is later to the second, too)
            _user_sets_title(users["trackops"], ids["trackops"], "Chief Listener")

            for _ in range(2):  # the recovery, then whatever it queued for the others
                synced = contactsync("sync", config=box.config, env=env)
                assert synced.returncode == 0, synced.stderr[-2000:]
            titles = {
                system: users[system].read_record(external_id).payload.get(TITLE_READ[system])
                for system, external_id in ids.items()
            }
        finally:
            for adapter in users.values():
                adapter.close()
    assert titles == dict.fromkeys(TITLE_READ, "Chief Listener")
