"""Crash safety: a backfill killed with SIGKILL at seeded points, restarted each time,
ends exactly where an uninterrupted backfill of the same seed ends.

The kills come from ``contactsync.faultpoints``: the subprocess runs with
``CONTACTSYNC_CRASH_AT=<point>:<n>`` and SIGKILLs itself the n-th time it passes
the point (during extract, while planning, with an action claimed but not sent,
and between a vendor's answer to a write and the commit that records it). The n
are drawn from a seeded generator, so a failure replays.
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from contactsync import faultpoints
from contactsync.sandbox.common import SandboxOptions
from contactsync.state import StateStore
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
        for spec in crash_plan(CRASH_SEED):
            run = contactsync(
                "backfill", "--json", config=crashed.config, env=crashed.env, crash_at=spec
            )
            assert run.returncode == -signal.SIGKILL, (
                f"{spec}: the run was not killed (exit {run.returncode}); "
                f"the crash point was never reached\n{run.stderr[-2000:]}"
            )
        final = contactsync("backfill", "--json", config=crashed.config, env=crashed.env)
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
