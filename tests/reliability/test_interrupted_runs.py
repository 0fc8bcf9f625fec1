"""Runs that died: a backfill killed (SIGKILL) mid-load stays ``running`` in the runs
table only until the next run, which closes it as ``interrupted``; ``status`` lists it.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from contactsync.state.sqlite.store import RunStatus, StateStore
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import contactsync, sandbox

pytestmark = pytest.mark.slow


def test_the_next_run_closes_a_killed_run_as_interrupted(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=20, seed=4)) as box:
        env = {**box.env, "CONTACTSYNC_LEASE_TTL": "2"}  # the dead run's lease lapses soon
        killed = contactsync("backfill", config=box.config, env=env, crash_at="load:3")
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        with StateStore.open(box.state_path) as store:
            (dead,) = store.list_runs(10)
            assert dead.status is RunStatus.RUNNING
        done = contactsync("sync", "--wait", config=box.config, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        with StateStore.open(box.state_path) as store:
            runs = {run.run_id: run for run in store.list_runs(10)}
        assert runs[dead.run_id].status is RunStatus.INTERRUPTED
        assert runs[dead.run_id].finished_at is not None
        assert [r.status for r in runs.values() if r.run_id != dead.run_id] == [RunStatus.OK]

        shown = contactsync("status", "--json", config=box.config, env=box.env)
        assert shown.returncode == 0, shown.stderr
        listed = json.loads(shown.stdout)["interrupted_runs"]
        assert [(item["run_id"], item["kind"]) for item in listed] == [(dead.run_id, "backfill")]
        text = contactsync("status", config=box.config, env=box.env)
        assert "interrupted runs (died while running): 1" in text.stdout
