"""One circuit per system and pass: once credentials are refused (a 401), or the
vendor keeps failing (``failure_limit`` consecutive 403s, 5xx or transport failures
after retries), no more requests go to that system for the rest of the pass. The
engine closes it again when the pass ends (:func:`contactsync.engine.pass_outcome.close_circuits`).

A single 403 does not open it: a vendor may forbid one record and allow the next.

Why: a wrong token otherwise costs one 401 per queued write, and every one of them
would be marked failed with an attempt counted; the writes are not at fault and
must stay queued for the pass after the credentials are fixed.
"""

from __future__ import annotations

import threading

#: consecutive failed answers (after retries) that open the circuit
DEFAULT_FAILURE_LIMIT = 5


class CircuitOpen(Exception):
    """Raised instead of sending a request to a system whose circuit is open.

    Not a :class:`~contactsync.http.errors.SyncError` on purpose: the action it stopped
    did not fail and must be put back to pending, not counted as an attempt."""

    def __init__(self, system: str, reason: str) -> None:
        self.system = system
        self.reason = reason
        super().__init__(f"{system}: circuit open for the rest of the pass: {reason}")


class Circuit:
    """Whether ``system`` may still be called in this pass (thread-safe)."""

    def __init__(
        self,
        system: str,
        *,
        credentials_hint: str | None = None,
        failure_limit: int = DEFAULT_FAILURE_LIMIT,
    ) -> None:
        self.system = system
        self.credentials_hint = credentials_hint or "the system's credentials"
        self.failure_limit = failure_limit
        self.reason: str | None = None
        self._consecutive_failures = 0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self.reason is not None

    def check(self) -> None:
        """Raise :class:`CircuitOpen` when no request may be sent."""
        reason = self.reason
        if reason is not None:
            raise CircuitOpen(self.system, reason)

    def observe_status(self, status: int) -> None:
        """Trip on refused credentials or too many server errors in a row."""
        with self._lock:
            if status == 401:
                self._open(f"credentials refused (HTTP 401): check {self.credentials_hint}")
            elif status == 403:
                self._count_failure(f"HTTP 403: check {self.credentials_hint} and its scopes")
            elif status >= 500:
                self._count_failure(f"HTTP {status}")
            else:
                self._consecutive_failures = 0

    def observe_failure(self) -> None:
        """A transport failure (timeout, connection) that retries did not cure."""
        with self._lock:
            self._count_failure("timeouts or connection failures")

    def reset(self) -> str | None:
        """Close the circuit for the next pass; the reason it was open, if it was."""
        with self._lock:
            reason, self.reason = self.reason, None
            self._consecutive_failures = 0
            return reason

    def _count_failure(self, what: str) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.failure_limit:
            self._open(f"{self._consecutive_failures} consecutive failures ({what})")

    def _open(self, reason: str) -> None:
        if self.reason is None:  # the first reason is the one worth reading
            self.reason = reason
