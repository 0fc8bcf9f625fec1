"""Convergence under injected faults, shared by the fault tests and ``bench/faults.py``.

One sandbox without faults gives the expected end state: a backfill, then a sync
(which must find nothing left to do). A second sandbox with the same seed fails a
share of all requests (500, 503, a connection cut mid-body after the write, slow
answers): a backfill, then syncs until a pass ends ``ok`` with the outbox empty. The
end states must be equal: same records, same values, in every system.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from contactsync.config.settings import load_settings
from contactsync.engine.sync import Engine
from contactsync.wiring import open_engine
from contactsync_sandbox.common import RateMode, SandboxOptions
from tests.reliability.helpers import EndState, Sandbox, describe_difference, sandbox


@dataclass
class Pass:
    kind: str
    status: str
    open_actions: int  # pending, in flight or failed after the pass
    seconds: float
    errors: list[str]


@dataclass
class Convergence:
    passes: list[Pass] = field(default_factory=list)
    expected: EndState = field(default_factory=dict)
    actual: EndState = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        last = self.passes[-1] if self.passes else None
        return last is not None and last.status == "ok" and last.open_actions == 0

    @property
    def passes_needed(self) -> int | None:
        """Passes (the backfill included) until the first settled one, or None."""
        return len(self.passes) if self.settled else None

    @property
    def difference(self) -> str:
        return describe_difference(self.expected, self.actual)


def engine_for(box: Sandbox) -> Engine:
    return open_engine(load_settings(box.config, env=box.credentials), box.credentials)


def _open_actions(engine: Engine) -> int:
    counts = engine.state.counts_by_status()
    return counts["pending"] + counts["in_flight"] + counts["failed"]


def _run(engine: Engine, kind: str) -> Pass:
    started = time.monotonic()
    outcome = engine.run("backfill" if kind == "backfill" else "sync")
    return Pass(
        kind,
        outcome.summary.status,
        _open_actions(engine),
        time.monotonic() - started,
        list(outcome.errors),
    )


def fault_free_end_state(folder: Path, options: SandboxOptions) -> EndState:
    with sandbox(folder, options) as clean:
        engine = engine_for(clean)
        try:
            for kind in ("backfill", "sync"):
                done = _run(engine, kind)
                assert done.status == "ok", f"fault-free {kind}: {done.errors[:3]}"
            assert done.open_actions == 0, "the fault-free sync left actions open"
        finally:
            engine.close()
        return clean.end_state()


def converge(
    folder: Path,
    *,
    people: int,
    seed: int,
    faults: float,
    max_passes: int,
    rate_limits: RateMode = "fast",
) -> Convergence:
    """Backfill and sync the faulty sandbox until it settles (at most ``max_passes``
    passes, the backfill included), and both end states."""
    clean = SandboxOptions(people=people, seed=seed, rate_limits=rate_limits)
    result = Convergence(expected=fault_free_end_state(folder / "clean", clean))
    faulty = SandboxOptions(people=people, seed=seed, rate_limits=rate_limits, faults=faults)
    with sandbox(folder / "faulty", faulty) as box:
        engine = engine_for(box)
        try:
            result.passes.append(_run(engine, "backfill"))
            while not result.settled and len(result.passes) < max_passes:
                result.passes.append(_run(engine, "sync"))
        finally:
            engine.close()
        result.actual = box.end_state()
    return result
