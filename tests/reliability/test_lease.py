"""Lease: two ``contactsync run --wait`` started together against one state: exactly one
runs passes, the other stands by; SIGKILL the runner and the other takes over once the
lease has expired (``CONTACTSYNC_LEASE_TTL`` makes it two seconds here). Also: the
heartbeat keeps the lease through a pass longer than the lease, and a second state
store opened in one process (the scheduler's, beside the engine's) keeps SQLite's locks.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TypeVar

import pytest

from contactsync.config.settings import load_settings
from contactsync.scheduler import Scheduler
from contactsync.state.sqlite import lease
from contactsync.state.sqlite.store import LeaseHolder, StateStore
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import BASE_PATHS
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config
from tests.reliability.helpers import Sandbox, sandbox

pytestmark = pytest.mark.slow

#: Real time throughout: the lease's heartbeat is a thread (and the runners are
#: processes) on the wall clock, with no clock to inject, so lifetimes are short and
#: the waits below poll or sample the state while they pass.
TTL_SECONDS = 2.0
PASS_LOG = "pass finished"
STANDBY_LOG = "standing by for the lease"
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Runner:
    """One ``contactsync run --wait`` subprocess, its log in a file."""

    def __init__(self, box: Sandbox, log: Path, env: dict[str, str]) -> None:
        self.log = log
        self._out: IO[str] = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "contactsync", "--config", str(box.config), "run", "--wait"],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def holder(state: Path) -> LeaseHolder | None:
    if not state.exists():
        return None
    with StateStore.open(state) as store:
        return store.lease_holder("scheduler")


def runs_started_after(state: Path, moment: datetime) -> int:
    with StateStore.open(state) as store:
        return sum(1 for run in store.list_runs(100) if run.started_at > moment)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=19)) as served:
        yield served


def test_one_runs_and_the_other_takes_over_after_a_sigkill(box: Sandbox, tmp_path: Path) -> None:
    env = {**box.env, "CONTACTSYNC_LEASE_TTL": str(TTL_SECONDS)}
    with ExitStack() as stack:
        runners = [Runner(box, tmp_path / f"run{i}.log", env) for i in range(2)]
        for runner in runners:
            stack.callback(runner.stop)
        first_holder = wait_for(lambda: holder(box.state_path), 90, "a lease holder")
        pids = {runner.pid: runner for runner in runners}
        running = pids[int(first_holder.holder.rsplit(":", 1)[1])]
        standby = next(runner for runner in runners if runner is not running)

        # Through the first passes (longer than the lease) and a few lifetimes more,
        # the lease never changes hands and only the holder runs passes.
        wait_for(lambda: running.text().count(PASS_LOG) >= 3, 90, "the holder's passes")
        until = time.monotonic() + 3 * TTL_SECONDS
        while time.monotonic() < until:
            current = holder(box.state_path)
            assert current is not None, "the lease lapsed while its holder was alive"
            assert current.holder == first_holder.holder
            time.sleep(0.2)
        assert PASS_LOG not in standby.text()
        assert STANDBY_LOG in standby.text()
        assert standby.process.poll() is None, standby.text()[-2000:]

        lapses = wait_for(lambda: holder(box.state_path), 5, "the lease").expires_at
        running.process.send_signal(signal.SIGKILL)
        running.process.wait(timeout=30)
        killed = datetime.now(UTC)

        taken = wait_for(
            lambda: (h := holder(box.state_path)) and h.holder != first_holder.holder and h,
            TTL_SECONDS + 30,
            "the standby to take the lease",
        )
        assert taken.holder.endswith(f":{standby.pid}")
        taken_at = taken.expires_at - timedelta(seconds=TTL_SECONDS)  # (or renewed since)
        assert taken_at >= lapses, "the standby took the lease before it expired"
        wait_for(lambda: PASS_LOG in standby.text(), 90, "the standby's first pass")
        assert runs_started_after(box.state_path, killed) > 0
        standby.stop()
    assert standby.process.returncode == 0, standby.text()[-2000:]


def test_a_second_store_in_one_process_keeps_the_first_ones_writes_visible(
    tmp_path: Path,
) -> None:
    """The scheduler and the engine each open the state. Opening must not drop the SQLite
    locks of the store already open, or another process closing its connection takes the
    WAL away from under it, and what it writes next (a lease renewal) is lost."""
    path = tmp_path / "state.sqlite"
    with StateStore.open(path) as engine_store:
        assert engine_store.acquire_lease("scheduler", "host:1", timedelta(seconds=60))
        with StateStore.open(path):  # the scheduler's own store
            peek = (
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "c.execute('SELECT COUNT(*) FROM lease').fetchall(); c.close()"
            )
            subprocess.run([sys.executable, "-c", peek, str(path)], check=True, timeout=60)
            assert engine_store.renew_lease("scheduler", "host:1", timedelta(days=1))
            fresh = sqlite3.connect(path)
            try:
                (expires,) = fresh.execute("SELECT expires_at FROM lease").fetchone()
            finally:
                fresh.close()
    assert datetime.fromisoformat(expires) > datetime.now(UTC) + timedelta(hours=12)


def test_the_heartbeat_keeps_the_lease_through_a_pass_longer_than_the_lease(
    tmp_path: Path,
) -> None:
    """A first sync of a big system takes far longer than the lease: the heartbeat must
    renew it meanwhile, or a standby would take over and two schedulers would run."""
    options = SandboxOptions(people=5, seed=1)
    urls = {name: f"http://127.0.0.1:9{BASE_PATHS[name]}" for name in BASE_PATHS}
    config = tmp_path / "slow.toml"
    env = read_env_file(write_sandbox_config(config, urls, options))
    settings = load_settings(config, env=env)
    ttl = timedelta(seconds=1)
    passes: list[str] = []

    def slow_pass(system: str) -> None:
        passes.append(system)
        time.sleep(4 * ttl.total_seconds())

    scheduler = Scheduler(settings, slow_pass, lease_ttl=ttl)
    scheduler.acquire()
    lapses: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + 3 * ttl.total_seconds()
        while time.monotonic() < deadline:
            current = holder(settings.state_path)
            if current is None or current.holder != scheduler.holder:
                lapses.append(f"{datetime.now(UTC).isoformat()}: {current}")
            time.sleep(0.05)
        scheduler.scheduler.shutdown(wait=False)

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        scheduler.serve()
    finally:
        watcher.join()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert passes, "no pass started"
    assert not lapses, f"the lease lapsed during a long pass: {lapses[:3]}"


def contactsync_sync(box: Sandbox, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "contactsync", "--config", str(box.config), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _SlowAtFirst:
    """A fault injector that answers the first ``count`` requests slowly."""

    def __init__(self, count: int) -> None:
        self.left = count

    def pick(self) -> str | None:
        self.left -= 1
        return "slow" if self.left >= 0 else None


def test_two_one_shot_syncs_at_once_the_second_refuses_naming_the_holder_or_waits(
    box: Sandbox,
) -> None:
    env = {**box.env, "CONTACTSYNC_LEASE_TTL": str(TTL_SECONDS)}
    trackops = box.server.simulators["trackops"]
    # the backfill's first read (Trackops' first page) takes 8 s: the backfill holds the
    # lease while the second command starts
    trackops.options = dataclasses.replace(trackops.options, slow_seconds=8.0)
    trackops.faults = _SlowAtFirst(1)  # type: ignore[assignment]
    started = datetime.now(UTC)
    first = contactsync_sync(box, "backfill", env=env)
    try:
        held = wait_for(lambda: holder(box.state_path), 60, "the backfill's lease")
        assert held.holder.endswith(f":{first.pid}")
        second = contactsync_sync(box, "sync", env=env)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1, err
        assert f"holds the lease on this state: {held.holder}" in err, err
        assert "--wait" in err
        waiting = contactsync_sync(box, "sync", "--wait", "--json", env=env)
        assert first.wait(timeout=180) == 0, first.communicate()[1][-2000:]
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err[-2000:]
        assert json.loads(out)["status"] == "ok"
        assert STANDBY_LOG in err, "the --wait sync never stood by: it did not wait"
    finally:
        for process in (first,):
            if process.poll() is None:
                process.kill()
    with StateStore.open(box.state_path) as store:
        runs = [run for run in store.list_runs(10) if run.started_at > started]
        assert len(runs) == 2, "exactly the backfill and the waiting sync ran"
        backfill, sync = sorted(runs, key=lambda run: run.started_at)
        assert backfill.finished_at is not None
        assert sync.started_at >= backfill.finished_at, "the two passes overlapped"
        assert store.lease_holder("scheduler") is None, "a one-shot kept the lease"


def test_plan_runs_while_another_run_holds_the_lease_and_changes_nothing(box: Sandbox) -> None:
    assert contactsync_sync(box, "backfill", env=box.env).wait(timeout=180) == 0
    with StateStore.open(box.state_path) as store:
        assert store.acquire_lease("scheduler", "elsewhere:42", timedelta(minutes=5))
        runs_before = [run.run_id for run in store.list_runs(100)]
    plan = contactsync_sync(box, "plan", "--json", env=box.env)
    out, err = plan.communicate(timeout=120)
    assert plan.returncode == 0, err[-2000:]
    assert "actions" in json.loads(out) or json.loads(out), out[:300]
    with StateStore.open(box.state_path) as store:
        assert [run.run_id for run in store.list_runs(100)] == runs_before, "plan wrote a run"
        current = store.lease_holder("scheduler")
        assert current is not None
        assert current.holder == "elsewhere:42"


def test_a_one_shot_lease_is_renewed_through_a_pass_longer_than_it_and_given_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    ttl = timedelta(seconds=0.5)
    with lease.held(path, ttl, heartbeat=timedelta(seconds=0.1)) as ours:
        assert ours
        mine = holder(path)
        assert mine is not None
        for _ in range(10):  # 1.5 s: three lifetimes of the lease
            time.sleep(0.15)
            current = holder(path)
            assert current is not None, "the lease lapsed during the pass"
            assert current.holder == mine.holder
    assert holder(path) is None, "the lease was not given back"
    with StateStore.open(path) as store:
        assert store.acquire_lease("scheduler", "elsewhere:1", timedelta(minutes=1))
    with pytest.raises(lease.LeaseHeld, match="elsewhere:1"), lease.held(path, ttl):
        pytest.fail("the block ran while another process held the lease")
