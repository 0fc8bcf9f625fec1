"""APScheduler wiring for ``contactsync run``: one sync job per system, one at a time.

* A lease row in SQLite (:mod:`contactsync.state.sqlite.lease`, the same one-shot ``sync`` and
  ``backfill`` take) makes sure only one scheduler runs against a state file; a
  second one refuses and names the holder, or with ``--wait`` stands by and takes
  over once the lease expires. The lease is renewed by a heartbeat on its own
  thread (so a pass longer than the lease never loses it) and on every pass; if the
  holder dies (even by SIGKILL) the lease expires after ``LEASE_TTL`` (60 s;
  ``CONTACTSYNC_LEASE_TTL`` seconds overrides it, e.g. for tests).
* Each system's job runs on its own interval or cron (UTC). All jobs share a
  one-thread executor, so passes never overlap; misfires are coalesced.
* SIGTERM/SIGINT stop the scheduler after the pass in progress.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import FrameType

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from contactsync.config.settings import Settings
from contactsync.state.sqlite.lease import LEASE_NAME, LeaseHeld, holder_name, take, take_when_free
from contactsync.state.sqlite.store import StateStore

log = structlog.get_logger(__name__)

__all__ = ["LEASE_NAME", "LeaseHeld", "Scheduler", "holder_name", "lease_ttl"]

LEASE_TTL = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=20)
LEASE_TTL_ENV = "CONTACTSYNC_LEASE_TTL"


def lease_ttl(environ: Mapping[str, str] | None = None) -> timedelta:
    """The lease's lifetime: ``CONTACTSYNC_LEASE_TTL`` seconds if set, else ``LEASE_TTL``."""
    text = (os.environ if environ is None else environ).get(LEASE_TTL_ENV, "").strip()
    if not text:
        return LEASE_TTL
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 86400:
        raise ValueError(f"{LEASE_TTL_ENV}: expected seconds between 0 and 86400, got {text!r}")
    return timedelta(seconds=seconds)


class Scheduler:
    """Runs ``run_system(name)`` for each enabled source system on its schedule."""

    def __init__(
        self,
        settings: Settings,
        run_system: Callable[[str], None],
        *,
        lease_ttl: timedelta = LEASE_TTL,
        heartbeat: timedelta | None = None,
    ) -> None:
        self.settings = settings
        self.run_system = run_system
        self.lease_ttl = lease_ttl
        self.heartbeat = heartbeat if heartbeat is not None else min(HEARTBEAT, lease_ttl / 3)
        self.holder = holder_name()
        self.state = StateStore.open(settings.state_path)
        self.scheduler = BlockingScheduler(
            # passes one at a time; the heartbeat on its own thread, never behind a pass
            executors={"default": ThreadPoolExecutor(1), "lease": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone="UTC",
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._closed = False  # the lease given back and the state closed: no more passes

    def acquire(self) -> None:
        """Take the lease, or :class:`LeaseHeld` naming the holder."""
        take(self.state, self.holder, self.lease_ttl)

    def wait_for_lease(self) -> bool:
        """Stand by until the lease is ours (True) or SIGTERM/SIGINT came (False)."""
        signal.signal(signal.SIGTERM, self._stop_waiting)
        signal.signal(signal.SIGINT, self._stop_waiting)
        if take_when_free(self.state, self.holder, self.lease_ttl, self._stopping):
            return True
        self.state.close()
        return False

    def _stop_waiting(self, signum: int, frame: FrameType | None) -> None:
        self._stopping.set()

    def _renew(self) -> bool:
        """Extend the lease; False (and the scheduler stopping) when it is no longer ours."""
        with self._lock:
            if self._closed:
                return False
            if not self.state.renew_lease(LEASE_NAME, self.holder, self.lease_ttl):
                log.error("lease lost; stopping", holder=self.holder)
                self.scheduler.shutdown(wait=False)
                return False
            return True

    def _job(self, system: str) -> None:
        if not self._renew():
            return  # stopping: a pass queued before the stop does not start
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
            executor="lease",
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
            with self._lock:
                self._closed = True
                self.state.release_lease(LEASE_NAME, self.holder)
                self.state.close()
            log.info("scheduler stopped", holder=self.holder)
