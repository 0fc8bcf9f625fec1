"""What a pass reports about itself: per system its counts, how it went and why, and the
persons it touched. Stored with the run (``runs.summary``), so ``status`` reports from
these facts, not from assumptions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["ok", "partial", "failed"]
_WORSE: dict[str, int] = {"ok": 0, "partial": 1, "failed": 2}


def worst(outcomes: list[Outcome]) -> Outcome:
    """The worst of ``outcomes`` ("ok" for none)."""
    return max(outcomes, key=_WORSE.__getitem__, default="ok")


class _Summary(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


class SystemCounts(_Summary):
    """One system in one pass. Each record extracted is counted once: unchanged, staged,
    echo or quarantined. ``status``: ``failed`` when a step of the system failed as a
    whole (its extract or load, or its circuit opened: :mod:`contactsync.http.circuit`),
    ``partial`` when some of its writes failed; ``error`` is the first error reported
    for it in the pass, ``circuit`` why its circuit opened, if it did."""

    extracted: int = 0
    unchanged: int = 0
    staged: int = 0
    echoes: int = 0
    quarantined: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    failed: int = 0
    requests: int = 0
    status: Outcome = "ok"
    error: str | None = None
    circuit: str | None = None

    def failed_with(self, message: str, outcome: Outcome = "failed") -> None:
        """Record a failure of the system in this pass (the first message is kept)."""
        self.status = worst([self.status, outcome])
        if self.error is None:
            self.error = message

    def add(self, part: SystemCounts) -> SystemCounts:
        """These counts plus ``part``'s (how it went: the worse of the two)."""
        merged = {key: getattr(self, key) + getattr(part, key) for key in COUNT_FIELDS}
        return SystemCounts(
            **merged,
            status=worst([self.status, part.status]),
            error=self.error or part.error,
            circuit=self.circuit or part.circuit,
        )


#: the counters of :class:`SystemCounts` (the rest say how the pass went)
COUNT_FIELDS: tuple[str, ...] = tuple(
    name for name, info in SystemCounts.model_fields.items() if info.annotation in (int, "int")
)


class PersonCounts(_Summary):
    total: int = 0
    new: int = 0
    merged: int = 0
    review: int = 0


class RunSummary(_Summary):
    status: Outcome = "ok"
    run_id: str
    systems: dict[str, SystemCounts] = Field(default_factory=dict)
    persons: PersonCounts = Field(default_factory=PersonCounts)

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "ok" else 1
