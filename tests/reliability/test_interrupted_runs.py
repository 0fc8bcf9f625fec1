"""Runs that died: a backfill killed (SIGKILL) mid-load stays ``running`` in the runs
table only until the next run, which closes it as ``interrupted``; ``status`` lists it.
"""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest

from contactsync.state.sqlite.store import RunStatus, StateStore
from contactsync.state.types import LAST_READ_STREAM
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


def test_a_pass_killed_in_its_load_leaves_the_watermark_where_it_was(tmp_path: Path) -> None:
    # the watermark (where the next pass resumes) moves only after load; the time of
    # the read, which dates a snapshot's changes, is kept as soon as the read is done
    with sandbox(tmp_path, SandboxOptions(people=20, seed=4)) as box:
        env = {**box.env, "CONTACTSYNC_LEASE_TTL": "2"}
        assert contactsync("backfill", config=box.config, env=env).returncode == 0
        with StateStore.open(box.state_path) as store:
            resumed_from = store.get_watermark("trackops")
        assert resumed_from is not None
        simulator = box.server.simulators["trackops"]
        rng = random.Random(5)
        with simulator.store.lock:  # users' edits: something for the next pass to write
            for key in list(simulator.store.records)[:10]:
                simulator.mutate_record(key, rng)
        killed = contactsync("sync", config=box.config, env=env, crash_at="load:1")
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        with StateStore.open(box.state_path) as store:
            assert store.get_watermark("trackops") == resumed_from
            read_at = store.get_watermark("trackops", LAST_READ_STREAM)
        assert read_at is not None
        assert read_at > resumed_from

        done = contactsync("sync", "--wait", config=box.config, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        with StateStore.open(box.state_path) as store:
            moved = store.get_watermark("trackops")
        assert moved is not None
        assert moved > read_at
