"""APScheduler wiring for ``contactsync run``: one sync job per system, one at a time.

* A lease row in SQLite makes sure only one scheduler runs against a state file;
  a second one refuses and names the holder. The lease is renewed by a heartbeat
  and on every pass; if the holder dies (even by SIGKILL) another may take over
  once it expires.
* Each system's job runs on its own interval or cron (UTC). All jobs share a
  one-thread executor, so passes never overlap; misfires are coalesced.
* SIGTERM/SIGINT stop the scheduler after the pass in progress.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from contactsync.config import Settings
from contactsync.state import StateStore

log = structlog.get_logger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=20)


class LeaseHeld(Exception):
    """Another scheduler holds the lease on this state file."""


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    """Runs ``run_system(name)`` for each enabled source system on its schedule."""

    def __init__(
        self,
        settings: Settings,
        run_system: Callable[[str], None],
        *,
        lease_ttl: timedelta = LEASE_TTL,
        heartbeat: timedelta = HEARTBEAT,
    ) -> None:
        self.settings = settings
        self.run_system = run_system
        self.lease_ttl = lease_ttl
        self.heartbeat = heartbeat
        self.holder = holder_name()
        self.state = StateStore.open(settings.state_path)
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone="UTC",
        )
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.state.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl):
            current = self.state.lease_holder(LEASE_NAME)
            who = f"{current.holder} until {current.expires_at.isoformat()}" if current else "?"
            raise LeaseHeld(f"another contactsync run holds the lease on this state: {who}")

    def _renew(self) -> None:
        with self._lock:
            if not self.state.renew_lease(LEASE_NAME, self.holder, self.lease_ttl):
                log.error("lease lost; stopping", holder=self.holder)
                self.scheduler.shutdown(wait=False)

    def _job(self, system: str) -> None:
        self._renew()
        try:
            self.run_system(system)
        except Exception as exc:  # one failed pass must not stop the scheduler
            log.error("scheduled pass failed", system=system, error=str(exc))

    def add_jobs(self) -> list[str]:
        names = []
        for name, system in self.settings.enabled_systems().items():
            if not system.is_source:
                continue
            trigger = system.schedule.trigger()
            if isinstance(trigger, timedelta):
                trigger = IntervalTrigger(seconds=trigger.total_seconds(), timezone="UTC")
            self.scheduler.add_job(self._job, trigger, args=[name], id=f"sync:{name}", name=name)
            names.append(name)
        self.scheduler.add_job(
            self._renew,
            IntervalTrigger(seconds=self.heartbeat.total_seconds()),
            id="lease-heartbeat",
            executor="default",
        )
        return names

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("stopping after the current pass", signal=signal.Signals(signum).name)
        threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}).start()

    def serve(self) -> None:
        """Block until stopped; the lease must be held (call :meth:`acquire` first)."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        names = self.add_jobs()
        log.info("scheduler started", systems=names, holder=self.holder)
        for name in names:
            self.scheduler.add_job(self._job, args=[name], id=f"first:{name}")
        try:
            self.scheduler.start()
        finally:
            self.state.release_lease(LEASE_NAME, self.holder)
            self.state.close()
            log.info("scheduler stopped", holder=self.holder)
