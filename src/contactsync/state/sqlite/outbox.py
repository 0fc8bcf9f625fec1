"""The durable outbox of planned writes (the log of runs: :mod:`contactsync.state.sqlite.runs`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from contactsync.model.contact import Action, ActionKind
from contactsync.state.sqlite.database import (
    Row,
    from_iso,
    from_json,
    json_object,
    to_iso,
    to_json,
)
from contactsync.state.sqlite.records import RecordsMixin
from contactsync.state.types import (
    OutboxEntry,
    OutboxStatus,
    StateError,
)

_MAX_ERROR_CHARS = 2000
_REARMABLE = (OutboxStatus.FAILED.value, OutboxStatus.SKIPPED.value)


@dataclass(frozen=True)
class _Completing:
    """What completing an action checks of it (not its payload)."""

    kind: ActionKind
    system: str
    person_id: str
    external_id: str | None


def _entry(row: Row) -> OutboxEntry:
    action = Action.model_validate(
        {
            "kind": row["kind"],
            "system": row["system"],
            "person_id": row["person_id"],
            "external_id": row["external_id"],
            "changes": from_json(row["changes"]) or [],
            "payload": json_object(row["payload"]),
            "allow_duplicates": bool(row["allow_duplicates"]),
        }
    )
    return OutboxEntry(
        id=row["id"],
        run_id=row["run_id"],
        action=action,
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
    )


class OutboxMixin(RecordsMixin):
    # --- outbox ----------------------------------------------------------------------

    def enqueue(self, actions: Iterable[Action], run_id: str) -> int:
        """Queue actions; returns how many were queued (new or re-armed).

        An action whose key is already queued is not queued again, with two
        exceptions that a new plan legitimately asks for: an earlier attempt that
        ended ``failed`` or ``skipped`` is re-armed, and a ``done`` update or
        delete is re-armed once a later write of ours to the same record has
        overwritten it (content A, then B, then A again). A ``done`` create is
        never repeated.
        """
        queued = 0
        now = to_iso(self._now())
        with self.transaction():
            for action in actions:
                queued += self._enqueue_one(action, run_id, now)
        return queued

    def _enqueue_one(self, action: Action, run_id: str, now: str) -> int:
        values = {
            "run_id": run_id,
            "payload": to_json(action.payload),
            "changes": to_json([change.model_dump(mode="json") for change in action.changes]),
            "allow_duplicates": int(action.allow_duplicates),
            "now": now,
            "key": action.key,
        }
        existing = self._one("SELECT * FROM outbox WHERE action_key = ?", (action.key,))
        if existing is None:
            self._write(
                """
                INSERT INTO outbox (run_id, action_key, system, kind, person_id, external_id,
                                    payload, changes, allow_duplicates, status, attempts,
                                    created_at, updated_at)
                VALUES (:run_id, :key, :system, :kind, :person_id, :external_id, :payload,
                        :changes, :allow_duplicates, 'pending', 0, :now, :now)
                """,
                {
                    **values,
                    "system": action.system,
                    "kind": action.kind.value,
                    "person_id": action.person_id,
                    "external_id": action.external_id,
                },
            )
            return 1
        if not self._rearmable(existing):
            return 0
        self._write(
            """
            UPDATE outbox SET run_id = :run_id, payload = :payload, changes = :changes,
                allow_duplicates = :allow_duplicates, status = 'pending', last_error = NULL,
                updated_at = :now
            WHERE action_key = :key
            """,
            values,
        )
        return 1

    def _rearmable(self, row: Row) -> bool:
        if row["status"] in _REARMABLE:
            return True
        if row["status"] != OutboxStatus.DONE.value or row["kind"] == ActionKind.CREATE.value:
            return False
        overwritten = self._scalar(
            """
            SELECT 1 FROM outbox WHERE system = ? AND external_id = ? AND id != ?
                AND status = 'done' AND updated_at > ?
            """,
            (row["system"], row["external_id"], row["id"], row["updated_at"]),
        )
        if overwritten is not None:
            return True
        # A user's edit there since our write (content A, a user's B, A again because a
        # newer edit elsewhere says A): writing A again is real work, never a repeat.
        seen = self._scalar(
            "SELECT seen_at FROM records WHERE system = ? AND external_id = ?",
            (row["system"], row["external_id"]),
        )
        return seen is not None and from_iso(seen) > from_iso(row["updated_at"])

    def get_action(self, action_id: int) -> OutboxEntry | None:
        row = self._one("SELECT * FROM outbox WHERE id = ?", (action_id,))
        return None if row is None else _entry(row)

    def list_actions(
        self,
        status: OutboxStatus | str,
        system: str | None = None,
        *,
        except_run: str | None = None,
    ) -> list[OutboxEntry]:
        """Actions with that status (queued by another run than ``except_run``, if
        given), in the order they were queued."""
        rows = self._all(
            "SELECT * FROM outbox WHERE status = :status "
            "AND (:system IS NULL OR system = :system) "
            "AND (:run IS NULL OR run_id != :run) ORDER BY id",
            {"status": OutboxStatus(status).value, "system": system, "run": except_run},
        )
        return [_entry(row) for row in rows]

    def pending_page(
        self, system: str, *, creates: bool, after_id: int, limit: int
    ) -> list[OutboxEntry]:
        """Up to ``limit`` pending creates (or other actions) of ``system`` queued after
        the action ``after_id``, in queue order: a loader reads its outbox a page at a
        time, not all of it at once."""
        rows = self._all(
            "SELECT * FROM outbox WHERE system = ? AND status = 'pending' AND id > ? "
            "AND (kind = 'create') = ? ORDER BY id LIMIT ?",
            (system, after_id, int(creates), limit),
        )
        return [_entry(row) for row in rows]

    def allow_duplicates(self, keys: Iterable[str], run_id: str) -> int:
        """Send these actions queued by ``run_id`` with ``allow_duplicates``."""
        changed = 0
        with self.transaction():
            for key in keys:
                changed += self._write(
                    "UPDATE outbox SET allow_duplicates = 1 "
                    "WHERE action_key = ? AND run_id = ? AND status = 'pending'",
                    (key, run_id),
                )
        return changed

    def pending_actions(self, system: str | None = None) -> list[OutboxEntry]:
        return self.list_actions(OutboxStatus.PENDING, system)

    def in_flight_actions(self, system: str | None = None) -> list[OutboxEntry]:
        """Actions started but never finished: after a crash, check before retrying."""
        return self.list_actions(OutboxStatus.IN_FLIGHT, system)

    def mark_in_flight(self, action_id: int) -> bool:
        """Claim a pending action (counts an attempt); False if it was not pending."""
        return bool(
            self._write(
                "UPDATE outbox SET status = 'in_flight', attempts = attempts + 1, "
                "updated_at = ? WHERE id = ? AND status = 'pending'",
                (to_iso(self._now()), action_id),
            )
        )

    def complete_create(
        self,
        action_id: int,
        system: str,
        external_id: str,
        person_id: str,
        pushed_hash: str,
        *,
        payload: Mapping[str, Any] | BaseModel | None = None,
    ) -> None:
        """A create succeeded: in ONE transaction, link the new record to the person
        in the crosswalk, remember the push, and mark the action done.

        ``payload`` is the canonical contact now held there (default: the
        action's payload); a record already staged keeps its own payload. Any
        status but ``done`` can complete: a write that really happened is always
        recorded, even if a merge skipped the action meanwhile (the record then
        goes to the person that absorbed the action's person).
        """
        at = self._now()
        now = to_iso(at)
        with self.transaction():
            action = self._pending_completion(action_id)
            if action.kind is not ActionKind.CREATE:
                raise StateError(
                    f"outbox action {action_id}: is a {action.kind.value}, not a create"
                )
            if (action.system, action.person_id) != (system, person_id):
                raise StateError(
                    f"outbox action {action_id}: creates {action.system} for "
                    f"{action.person_id}, not {system} for {person_id}"
                )
            if payload is None:
                payload = json_object(
                    self._scalar("SELECT payload FROM outbox WHERE id = ?", (action_id,))
                )
            live = self._live_person(person_id, system, external_id)
            linked = self.person_for(system, external_id)
            if linked is not None and linked != live:
                raise StateError(
                    f"{system} record {external_id!r}: already belongs to person {linked!r}"
                )
            self._write(
                """
                INSERT INTO records (system, external_id, person_id, hash, payload, seen_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (system, external_id)
                DO UPDATE SET person_id = excluded.person_id, deleted_at = NULL
                """,
                (
                    system,
                    external_id,
                    live,
                    pushed_hash,
                    to_json(payload),
                    now,
                ),
            )
            self.remember_push(system, external_id, pushed_hash, at)
            self._write(
                "UPDATE outbox SET status = 'done', external_id = ?, last_error = NULL, "
                "updated_at = ? WHERE id = ?",
                (external_id, now, action_id),
            )

    def complete(self, action_id: int, pushed_hash: str | None = None) -> None:
        """An update or delete succeeded: mark it done, remember the pushed hash,
        and for a delete mark the record deleted, all in one transaction."""
        at = self._now()
        now = to_iso(at)
        with self.transaction():
            action = self._pending_completion(action_id)
            if action.kind is ActionKind.CREATE:
                raise StateError(
                    f"outbox action {action_id}: a create completes via complete_create"
                )
            if action.external_id is not None:
                if pushed_hash is not None:
                    self.remember_push(action.system, action.external_id, pushed_hash, at)
                if action.kind is ActionKind.DELETE:
                    self._write(
                        "UPDATE records SET deleted_at = ? "
                        "WHERE system = ? AND external_id = ? AND deleted_at IS NULL",
                        (now, action.system, action.external_id),
                    )
            self._write(
                "UPDATE outbox SET status = 'done', last_error = NULL, updated_at = ? WHERE id = ?",
                (now, action_id),
            )

    def fail(self, action_id: int, error: str) -> None:
        """Record a failed attempt (the error must not contain secrets)."""
        self._set_outcome(action_id, OutboxStatus.FAILED, error)

    def skip(self, action_id: int, reason: str) -> None:
        """Give up on an action on purpose (e.g. the system cannot hold the person)."""
        self._set_outcome(action_id, OutboxStatus.SKIPPED, reason)

    def release(self, action_id: int) -> bool:
        """Put a claimed action back to pending, its attempt uncounted: it was never
        sent (the system's circuit is open: :mod:`contactsync.http.circuit`)."""
        return bool(
            self._write(
                "UPDATE outbox SET status = 'pending', attempts = max(attempts - 1, 0), "
                "updated_at = ? WHERE id = ? AND status = 'in_flight'",
                (to_iso(self._now()), action_id),
            )
        )

    def requeue(self, action_id: int) -> bool:
        """Put a failed, skipped or stuck in-flight action back to pending."""
        return bool(
            self._write(
                "UPDATE outbox SET status = 'pending', updated_at = ? "
                "WHERE id = ? AND status IN ('failed', 'skipped', 'in_flight')",
                (to_iso(self._now()), action_id),
            )
        )

    def counts_by_status(self, system: str | None = None) -> dict[str, int]:
        """status -> number of actions (every status present, zero if none)."""
        rows = self._all(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE (:system IS NULL OR system = :system) "
            "GROUP BY status",
            {"system": system},
        )
        counts = {status.value: 0 for status in OutboxStatus}
        counts.update({row["status"]: int(row["n"]) for row in rows})
        return counts

    def _pending_completion(self, action_id: int) -> _Completing:
        """What completing an action needs to know of it (not its payload, which can be
        large); a ``StateError`` if it does not exist or is already done."""
        row = self._one(
            "SELECT kind, system, person_id, external_id, status FROM outbox WHERE id = ?",
            (action_id,),
        )
        if row is None:
            raise StateError(f"outbox action {action_id}: no such action")
        if row["status"] == OutboxStatus.DONE.value:
            raise StateError(f"outbox action {action_id}: already {row['status']}")
        return _Completing(
            ActionKind(row["kind"]), row["system"], row["person_id"], row["external_id"]
        )

    def _set_outcome(self, action_id: int, status: OutboxStatus, message: str) -> None:
        changed = self._write(
            "UPDATE outbox SET status = ?, last_error = ?, updated_at = ? "
            "WHERE id = ? AND status != 'done'",
            (status.value, message[:_MAX_ERROR_CHARS], to_iso(self._now()), action_id),
        )
        if not changed:
            raise StateError(f"outbox action {action_id}: no such action, or already done")
