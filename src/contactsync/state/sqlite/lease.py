"""The one lease on a state file: whoever holds it is the only contactsync writing there.

``contactsync run`` holds it for as long as it serves; the one-shot ``sync`` and
``backfill`` hold it for their pass (:func:`held`). A second one refuses and names the
holder, or with ``--wait`` stands by until the lease is free. The lease is a row in
the state (``StateStore.acquire_lease``) with an expiry: a heartbeat renews it while
its holder works, and a holder that died (even by SIGKILL) loses it once it lapses.

The lease is read and renewed through a state connection of its own, so a renewal
never queues behind the engine's lock for the length of a planning transaction.
``plan`` takes no lease: it works on a copy of the state (see ``commands``).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import structlog

from contactsync.state.sqlite.store import StateError, StateStore

log = structlog.get_logger(__name__)

#: the lease row's name (the scheduler's, from before one-shot commands took it too)
LEASE_NAME = "scheduler"
MAX_STANDBY_POLL = 5.0
MAX_HEARTBEAT = timedelta(seconds=20)


class LeaseHeld(Exception):
    """Another contactsync process holds the lease on this state file."""


def holder_name() -> str:
    """``host:pid`` of this process: what a refused second run is told."""
    return f"{socket.gethostname()}:{os.getpid()}"


def take(state: StateStore, holder: str, ttl: timedelta) -> None:
    """Take (or extend our own) lease; :class:`LeaseHeld` naming the holder if it is not free."""
    if not state.acquire_lease(LEASE_NAME, holder, ttl):
        current = state.lease_holder(LEASE_NAME)
        who = f"{current.holder} until {current.expires_at.isoformat()}" if current else "?"
        raise LeaseHeld(f"another contactsync run holds the lease on this state: {who}")


def take_when_free(
    state: StateStore,
    holder: str,
    ttl: timedelta,
    stop: threading.Event,
    on_standby: Callable[[str], None] | None = None,
) -> bool:
    """Stand by until the lease is ours (True) or ``stop`` is set (False); ``on_standby``
    is told once why we wait."""
    poll = min(MAX_STANDBY_POLL, ttl.total_seconds() / 4)
    told = False
    while not stop.is_set():
        try:
            take(state, holder, ttl)
            return True
        except LeaseHeld as exc:
            if not told:
                log.info("standing by for the lease", holder=holder, reason=str(exc))
                if on_standby is not None:
                    on_standby(str(exc))
                told = True
        stop.wait(poll)
    return False


@contextmanager
def held(
    path: Path,
    ttl: timedelta,
    *,
    wait: bool = False,
    stop: threading.Event | None = None,
    heartbeat: timedelta | None = None,
) -> Iterator[bool]:
    """Hold the lease on the state at ``path`` for the block, renewed by a heartbeat.

    Without ``wait`` a held lease raises :class:`LeaseHeld`; with it, the block waits
    for the lease. Yields False (and the block should do nothing) when ``stop`` was
    set while standing by. A broken state file raises ``StateError``.
    """
    store = StateStore.open(path)
    holder = holder_name()
    beat = heartbeat if heartbeat is not None else min(MAX_HEARTBEAT, ttl / 3)
    try:
        if wait:
            if not take_when_free(store, holder, ttl, stop or threading.Event()):
                yield False
                return
        else:
            take(store, holder, ttl)
        done = threading.Event()
        renewer = threading.Thread(
            target=_renew_until, args=(store, holder, ttl, beat, done), name="lease", daemon=True
        )
        renewer.start()
        try:
            yield True
        finally:
            done.set()
            renewer.join()
            store.release_lease(LEASE_NAME, holder)
    finally:
        store.close()


def _renew_until(
    store: StateStore, holder: str, ttl: timedelta, beat: timedelta, done: threading.Event
) -> None:
    while not done.wait(beat.total_seconds()):
        try:
            if not store.renew_lease(LEASE_NAME, holder, ttl):
                log.error("lease lost: another run may now start", holder=holder)
                return
        except StateError as exc:  # the state busy past its timeout: try again next beat
            log.warning("lease renewal failed; retrying", holder=holder, error=str(exc))
