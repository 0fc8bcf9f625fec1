"""Named crash points for the crash-safety tests; a no-op unless asked for.

A test starts ``contactsync`` with ``CONTACTSYNC_CRASH_AT=<point>:<n>`` (several
separated by commas) and the process kills itself with SIGKILL the ``n``-th time
it passes ``point``: no cleanup, no ``finally``, exactly what a power cut or the
OOM killer does. The points:

``extract``
    one raw record extracted from a vendor, before it is staged;
``plan``
    one person's golden record rebuilt and planned, before the outbox is written;
``load``
    one outbox action claimed (``in_flight``), before it is sent to the vendor;
``after_vendor_answer``
    the vendor answered a write, before the outcome is committed to the state.

Unset (the normal case) the check is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading

ENV_VAR = "CONTACTSYNC_CRASH_AT"
POINTS = ("extract", "plan", "load", "after_vendor_answer")

_lock = threading.Lock()
_hits: dict[str, int] = {}
_targets: dict[str, int] | None = None


def parse(spec: str) -> dict[str, int]:
    """``"load:7,extract:3"`` -> ``{"load": 7, "extract": 3}``; a bad spec is a ``ValueError``."""
    targets: dict[str, int] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        point, sep, count = part.strip().partition(":")
        if point not in POINTS or not sep or not count.isdigit() or int(count) < 1:
            raise ValueError(
                f"{ENV_VAR}: expected <point>:<n> with point one of {', '.join(POINTS)} "
                f"and n >= 1, got {part.strip()!r}"
            )
        targets[point] = int(count)
    return targets


def _configured() -> dict[str, int]:
    global _targets
    if _targets is None:
        _targets = parse(os.environ.get(ENV_VAR, ""))
    return _targets


def hit(point: str) -> None:
    """Count one pass through ``point``; SIGKILL this process on the configured pass."""
    target = _configured().get(point)
    if target is None:
        return
    with _lock:
        _hits[point] = _hits.get(point, 0) + 1
        if _hits[point] == target:
            os.kill(os.getpid(), signal.SIGKILL)
