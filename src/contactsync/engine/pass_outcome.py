"""What one pass keeps about itself: its outcome, and how a failing system is kept
from stopping the others.

A pass works system by system (extract, recover, load) and person by person (plan).
Whatever one of them raises, a vendor's error or a bug, is caught where it happened
(:func:`isolated`), reported for that system in the pass's errors, and the pass goes
on with the rest and ends ``partial``: one system's outage or one person's odd data
never makes a pass, or every later pass, fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from contactsync.adapters.base import Adapter, AdapterContext
from contactsync.adapters.registry import adapter_class
from contactsync.config.settings import Settings, SystemSettings
from contactsync.engine.golden_agreement import written_keys
from contactsync.engine.load import Loader
from contactsync.engine.ports import LoadingState
from contactsync.engine.targets import TargetSystem
from contactsync.http.client import SystemClient
from contactsync.http.errors import SyncError
from contactsync.http.token_file import token_file_for
from contactsync.logs import redact, register_secret
from contactsync.mapping.mapper import Mapping as FieldMapping
from contactsync.model.contact import Action, ActionKind, OrgChannel
from contactsync.model.run_summary import RunSummary, SystemCounts
from contactsync.state.types import OutboxStatus

log = structlog.get_logger(__name__)


class DryRun(Exception):
    """Raised inside the plan transaction so that everything it did is rolled back."""


def queued_actions(state: LoadingState, systems: Sequence[str]) -> list[Action]:
    """What earlier runs or commands (``review merge``, a failed write to retry) left in
    these systems' outboxes: the next sync sends it, so ``plan`` shows it too."""
    waiting = [*state.list_actions(OutboxStatus.PENDING), *state.list_actions(OutboxStatus.FAILED)]
    return [entry.action for entry in waiting if entry.action.system in systems]


#: the steps whose failure fails the system for the pass (the others cost a part of it)
WHOLE_STEPS = frozenset({"extract", "load", "recovering interrupted writes"})


@dataclass
class RunOutcome:
    summary: RunSummary
    actions: list[Action] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queued: list[Action] = field(default_factory=list)  # plan: queued before this pass
    #: the systems this pass read in full, and when: their watermarks, moved after load
    read_at: dict[str, datetime] = field(default_factory=dict)

    def keep_queued(self, waiting: Iterable[Action]) -> None:
        """``waiting`` minus what this pass planned anew (the same key: one write)."""
        planned = {action.key for action in self.actions}
        self.queued = [action for action in waiting if action.key not in planned]

    def system_failed(self, where: str, step: str, exc: BaseException) -> None:
        """Report that ``step`` failed for ``where`` (a system, or a person); the pass
        goes on and ends ``partial``."""
        if isinstance(exc, SyncError):
            message = str(exc)  # names the system, operation and record already
        else:  # not a vendor's answer: a bug or a broken state, named by its type
            message = f"{where}: {step} failed: {type(exc).__name__}: {exc}"
        self.errors.append(redact(message))
        counts = self.summary.systems.get(where)
        if counts is not None:  # a system: this step failed for it as a whole, or in part
            counts.failed_with(redact(message), "failed" if step in WHOLE_STEPS else "partial")
        if self.summary.status == "ok":
            self.summary.status = "partial"
        log.error(f"{step} failed", where=where, error=redact(message))


@dataclass
class Attempt:
    """Whether an :func:`isolated` block failed (and was reported)."""

    failed: bool = False


@contextmanager
def isolated(outcome: RunOutcome, where: str, step: str) -> Iterator[Attempt]:
    """Run the block; an exception in it is reported for ``where`` (a system, or a
    person) and not raised: the ``Attempt`` it yields says whether it failed."""
    attempt = Attempt()
    try:
        yield attempt
    except Exception as exc:  # one system's failure, whatever it is, stops only itself
        attempt.failed = True
        outcome.system_failed(where, step, exc)


def adapter_context(
    name: str,
    system: SystemSettings,
    credentials: dict[str, str],
    *,
    token_file: Path | None = None,
) -> AdapterContext:
    defaults = system.defaults.model_dump() if system.defaults is not None else {}
    auth = system.auth.model_dump() if system.auth is not None else {}
    if "token_url" in auth:
        defaults.setdefault("token_url", auth["token_url"])
    return AdapterContext(
        system=name,
        base_url=system.base_url or "",
        page_size=getattr(system, "page_size", None) or 100,
        timeout=system.timeout,
        concurrency=system.concurrency,
        overlap=system.overlap,
        rate_scale=system.rate_limit_scale,
        rate_limit=system.client_budget(),
        defaults=defaults,
        credentials=credentials,
        credentials_hint=credentials_hint(system),
        token_file=token_file,
    )


def credentials_hint(system: SystemSettings) -> str | None:
    """``TRACKOPS_USERNAME, TRACKOPS_TOKEN``: the variables a refused login points to."""
    return ", ".join(system.auth.env_fields().values()) or None


def build_adapters(settings: Settings, env: dict[str, str] | None) -> dict[str, Adapter]:
    """One adapter per enabled system."""
    adapters: dict[str, Adapter] = {}
    for name, system in settings.enabled_systems().items():
        context = adapter_context(
            name,
            system,
            settings.credentials(name, env),
            token_file=token_file_for(settings.state_path),
        )
        adapter = adapter_class(name)(context)
        if hasattr(adapter, "on_new_token"):  # tokens learned at run time (Rhythm OAuth)
            adapter.on_new_token = register_secret
        adapters[name] = adapter
    return adapters


def read_org_channels(
    adapters: Mapping[str, Adapter], systems: Iterable[str], outcome: RunOutcome
) -> dict[tuple[str, str], list[OrgChannel]]:
    """Organizations' own channels (a snapshot) from ``systems``, those that keep them."""
    found: dict[tuple[str, str], list[OrgChannel]] = {}
    for name in systems:
        with isolated(outcome, name, "reading organization channels"):
            by_org = adapters[name].canonical_channels()
            found.update({(name, org_id): chans for org_id, chans in by_org.items()})
    return found


def run_loads(loads: Sequence[tuple[str, Loader, int]], outcome: RunOutcome) -> None:
    """Each ``(system, loader, concurrency)`` load on its own thread, side by side (their
    vendors limit each system's requests on their own, so one system's waits never
    hold up another's); one that fails is reported and the others go on."""
    if not loads:
        return
    with ThreadPoolExecutor(max_workers=len(loads), thread_name_prefix="load") as pool:
        futures = [pool.submit(_load_system, loader, workers) for _, loader, workers in loads]
    for (name, _loader, _workers), future in zip(loads, futures, strict=True):
        error = future.exception()
        if error is not None:
            outcome.system_failed(name, "load", error)
        elif (counts := outcome.summary.systems[name]).failed:
            counts.failed_with(f"{name}: {counts.failed} write(s) failed (see status)", "partial")
            if outcome.summary.status == "ok":
                outcome.summary.status = "partial"


def _load_system(loader: Loader, concurrency: int) -> None:
    loader.recover_interrupted()
    loader.run(concurrency)


def target_systems(
    settings: Settings, adapters: Mapping[str, Adapter], mappings: Mapping[str, FieldMapping]
) -> list[TargetSystem]:
    """What planning needs to know of each system it may write to."""
    targets = []
    for name, adapter in adapters.items():
        system = settings.systems[name]
        org_setting = type(adapter).default_org_setting
        default_org = getattr(system.defaults, org_setting, None) if org_setting else None
        targets.append(
            TargetSystem(
                system=name,
                outbound=mappings[name].outbound,
                writable=system.is_target,
                required_for_create=type(adapter).required_for_create,
                deletes_propagate=type(adapter).supports_delete,
                default_org_ref=None if default_org is None else str(default_org),
                duplicates=system.duplicates,
                written=written_keys(
                    source.field
                    for rule in mappings[name].outbound_rules
                    for source in rule.sources
                ),
            )
        )
    return targets


def finish_systems(
    adapters: Mapping[str, Adapter], requests_before: Mapping[str, int], outcome: RunOutcome
) -> None:
    """Count each system's requests of the pass, and close each circuit that opened in it
    (:mod:`contactsync.http.circuit`), reported: its writes wait, unblamed, for the next
    pass, which tries the system again."""
    for name, adapter in adapters.items():
        counts = outcome.summary.systems.get(name)
        if counts is not None:
            counts.requests = adapter.request_count - requests_before[name]
        client = adapter.client
        reason = client.circuit.reset() if isinstance(client, SystemClient) else None
        if reason is not None:
            message = redact(f"{name}: no more requests in this pass: {reason}; its writes wait")
            outcome.errors.append(message)
            if counts is not None:
                counts.circuit = redact(reason)
                counts.failed_with(message)
            if outcome.summary.status == "ok":
                outcome.summary.status = "partial"
            log.error("circuit open", system=name, reason=redact(reason))


def count_planned(counts: SystemCounts, action: Action) -> None:
    if action.kind is ActionKind.CREATE:
        counts.created += 1
    elif action.kind is ActionKind.UPDATE:
        counts.updated += 1
    else:
        counts.deleted += 1
