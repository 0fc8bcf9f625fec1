"""A sync closes the review items whose question went away (both records one person
now), with a note, and counts only the open ones (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import sandbox
from tests.reliability.test_pylon_job_title import records_by_person

pytestmark = pytest.mark.slow


def test_a_sync_closes_an_item_whose_records_became_one_person(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=20, seed=5)) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            people = [ids for _, ids in sorted(records_by_person(engine).items())
                      if {"trackops", "rhythm"} <= set(ids)]  # fmt: skip
            one, other = people[0], people[1]
            stale = engine.state.add_review(
                "trackops", one["trackops"], "rhythm", one["rhythm"], 0.6
            )
            open_ = engine.state.add_review(
                "trackops", one["trackops"], "rhythm", other["rhythm"], 0.6
            )
            outcome = engine.run("sync")
            assert outcome.summary.persons.review == 1
            closed = engine.state.get_review(stale.id)
            assert closed is not None
            assert closed.status.value == "closed"
            assert closed.note is not None
            assert closed.note.startswith("both records are now person p_")
            still = engine.state.get_review(open_.id)
            assert still is not None
            assert still.status.value == "open"
        finally:
            engine.close()
