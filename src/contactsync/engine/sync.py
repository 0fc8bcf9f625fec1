"""One run, end to end: extract, stage, match, merge, plan, load, commit.

A ``plan`` run goes as far as the outbox in a transaction that is rolled back, on a
copy of the state, so it changes nothing anywhere; ``backfill`` and ``sync`` differ
only in their windows. Failures are isolated per system and per person
(:mod:`contactsync.engine.pass_outcome`). Watermarks move after load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

import structlog

from contactsync.adapters.base import Adapter
from contactsync.config.settings import Settings
from contactsync.engine import faultpoints
from contactsync.engine.claims import (
    UniqueHolders,
    claim_names,
    claim_unique_values,
    names_by_system,
    unique_values_by_system,
)
from contactsync.engine.field_fit import install_refusals
from contactsync.engine.foreign_state import refuse_foreign_state
from contactsync.engine.link import build_index, link_stages, needs_matching
from contactsync.engine.load import Loader
from contactsync.engine.outbox_rules import guard_deletes, retry_or_supersede
from contactsync.engine.pass_outcome import (
    DryRun,
    RunOutcome,
    adapter_context,
    count_planned,
    finish_systems,
    isolated,
    queued_actions,
    read_org_channels,
    run_loads,
    target_systems,
)
from contactsync.engine.ports import EngineState
from contactsync.engine.queue import NamesTaken, PerSystem, PlanQueue, allow_shared_names
from contactsync.engine.resolve import ResolveResult, plan_for_person, rebuild_golden
from contactsync.engine.stage import (
    StageResult,
    extract_window,
    handed_on_keys,
    stage_records,
    unplanned_leftovers,
    vanished,
)
from contactsync.engine.targets import TargetSystem
from contactsync.logs import redact
from contactsync.mapping.mapper import Mapping
from contactsync.matching.matcher import MatchConfig
from contactsync.model.contact import Action, Contact, OrgChannel
from contactsync.model.run_summary import PersonCounts, RunSummary, SystemCounts
from contactsync.state.types import LAST_READ_STREAM

log = structlog.get_logger(__name__)

RunKindName = Literal["backfill", "sync", "plan"]
Progress = Callable[[str], None]
__all__ = ["Engine", "Progress", "RunKindName", "RunOutcome", "adapter_context"]


#: the state backend an engine runs on (any object with the ports' methods)
State = TypeVar("State", bound=EngineState)


class Engine(Generic[State]):
    """Runs passes for the enabled systems of one config against one state file.

    Generic in its state so that a caller who opened a particular backend
    (:func:`contactsync.wiring.open_engine`: SQLite) keeps that type for what lies
    outside a run (review, history); the engine itself uses only the ports."""

    def __init__(
        self,
        settings: Settings,
        state: State,
        adapters: dict[str, Adapter],
        mappings: dict[str, Mapping],
    ) -> None:
        self.settings = settings
        self.state = state
        self.adapters = adapters
        self.mappings = mappings
        install_refusals(state, mappings)  # values a system refused stay out of its writes
        self.org_channels: dict[tuple[str, str], list[OrgChannel]] = {}

    def close(self) -> None:
        for adapter in self.adapters.values():
            adapter.close()
        self.state.close()

    # --- one pass ------------------------------------------------------------------------

    def run(
        self,
        kind: RunKindName,
        *,
        since: datetime | None = None,
        systems: Sequence[str] | None = None,
        force_deletes: bool = False,
        progress: Progress | None = None,
    ) -> RunOutcome:
        chosen = [s for s in self.adapters if systems is None or s in systems]
        run_id = self.state.start_run(kind, chosen)
        started = datetime.now(UTC)
        counts = {name: SystemCounts() for name in chosen}
        requests_before = {name: a.request_count for name, a in self.adapters.items()}
        outcome = RunOutcome(RunSummary(run_id=run_id, systems=counts))
        if kind != "plan":
            for dead in self.state.close_interrupted_runs(run_id):
                log.warning("an earlier run died while running; closed as interrupted", run=dead)
        try:
            if kind == "plan":
                with suppress(DryRun), self.state.transaction():
                    waiting = queued_actions(self.state, chosen)  # e.g. from `review merge`
                    self._read_and_plan(kind, chosen, started, since, outcome, progress)
                    outcome.keep_queued(waiting)
                    raise DryRun
            else:
                chosen = self._recover(chosen, outcome)
                self._read_and_plan(kind, chosen, started, since, outcome, progress)
                self._load(chosen, outcome, force_deletes)
                # only now, after load: a pass that dies earlier reads the window again
                for name, read_at in outcome.read_at.items():
                    self.state.set_watermark(name, read_at)
        except Exception as exc:  # what no system's isolation caught: the state itself
            outcome.errors.append(redact(f"run failed: {exc}"))
            outcome.summary.status = "failed"
            log.error("run failed", run_id=run_id, error=redact(str(exc)))
        finish_systems(self.adapters, requests_before, outcome)
        self._finish(outcome)
        return outcome

    def _read_and_plan(
        self,
        kind: RunKindName,
        chosen: list[str],
        started: datetime,
        since: datetime | None,
        outcome: RunOutcome,
        progress: Progress | None,
    ) -> None:
        staged: list[StageResult] = []
        for name in chosen:
            if not self.settings.systems[name].is_source:
                continue
            result = self._extract(name, kind, started, since, outcome, progress)
            if result is not None:
                staged.append(result)
                outcome.read_at[name] = started
        sources = [name for name in chosen if self.settings.systems[name].is_source]
        self.org_channels = read_org_channels(self.adapters, sources, outcome)
        staged += unplanned_leftovers(self.state, staged)
        # Matching, merging, planning and queueing commit together, and only then are
        # the records marked planned: a run killed on the way leaves them for the next.
        with self.state.transaction():
            queue = PlanQueue(self.state, outcome.summary.run_id, keep=kind == "plan")
            unfinished: set[tuple[str, str]] = set()
            resolved = self._resolve(staged, outcome, queue, unfinished)
            outcome.actions = resolved.actions = queue.kept
            if kind != "plan":
                retry_or_supersede(self.state, resolved.touched, queue)
            self.state.mark_planned(k for k in handed_on_keys(staged) if k not in unfinished)
        for action in resolved.actions:
            counts = outcome.summary.systems.get(action.system)
            if counts is not None and kind == "plan":
                count_planned(counts, action)

    def _extract(
        self,
        name: str,
        kind: RunKindName,
        started: datetime,
        since: datetime | None,
        outcome: RunOutcome,
        progress: Progress | None,
    ) -> StageResult | None:
        adapter = self.adapters[name]
        system = self.settings.systems[name]
        watermark = None if kind == "backfill" else self.state.get_watermark(name)
        if kind == "backfill" and since is not None:
            watermark = since
        start = (
            watermark - system.overlap
            if watermark is not None and kind != "backfill"
            else watermark
        )
        window = extract_window(adapter, watermark, start, started)
        tick = (lambda: progress(name)) if progress is not None else None
        result: StageResult | None = None
        with isolated(outcome, name, "extract"):
            result = stage_records(
                self.state,
                name,
                adapter.extract(window),
                self.mappings[name],
                self.settings.default_region,
                on_record=tick,
            )
        if result is None:  # what was staged before the failure is planned next time
            return None
        if window.start is None and (since is None or kind != "backfill"):
            result.deleted_ids = vanished(self.state, name, result.seen_ids)
            for external_id in result.deleted_ids:
                self.state.mark_deleted(name, external_id, started)
        outcome.summary.systems[name] = outcome.summary.systems[name].add(result.counts)
        refuse_foreign_state(self.state, name, result.staged)  # before its watermark moves
        if kind != "plan":  # the snapshot's time (its watermark moves after load)
            self.state.set_watermark(name, started, LAST_READ_STREAM)
        return result

    def _resolve(
        self,
        staged: list[StageResult],
        outcome: RunOutcome,
        queue: PlanQueue,
        unfinished: set[tuple[str, str]],
    ) -> ResolveResult:
        """Match and merge what was staged, then plan every touched person into ``queue``
        (which writes the actions to the outbox as they come). The records of a system
        whose matching failed, and of a person whose planning failed, go in
        ``unfinished``: they stay unplanned, for the next pass."""
        config = MatchConfig(
            merge_threshold=self.settings.merge_threshold,
            review_threshold=self.settings.review_threshold,
            default_region=self.settings.default_region,
        )
        result = ResolveResult()
        matching = any(needs_matching(self.state, stage.staged) for stage in staged)
        index = build_index(self.state, config) if matching else None
        link_stages(self.state, index, staged, outcome, result, unfinished)
        targets = self._targets()
        systems = [t.system for t in targets] if result.touched else []
        taken = names_by_system(self.state, systems)
        held = unique_values_by_system(self.state, self._unique_fields(systems))
        failed_persons: set[str] = set()
        for person_id in sorted(result.touched):
            faultpoints.hit("plan")
            with isolated(outcome, f"person {person_id}", "planning") as planning:
                self._plan_person(person_id, targets, taken, held, queue)
            if planning.failed:
                failed_persons.add(person_id)
        if failed_persons:  # their records stay unplanned: the next pass tries them again
            for key in handed_on_keys(staged):
                owner = self.state.person_for(*key)
                if owner is not None and self.state.resolve_person(owner) in failed_persons:
                    unfinished.add(key)
        queue.finish(taken)
        outcome.summary.persons = PersonCounts(new=result.new_persons, merged=result.merged_persons)
        return result

    def _plan_person(
        self,
        person_id: str,
        targets: list[TargetSystem],
        taken: NamesTaken,
        held: PerSystem[UniqueHolders],
        queue: PlanQueue,
    ) -> None:
        """Rebuild one person's golden record and queue what each system needs."""
        with self.state.transaction():  # a savepoint: a person that fails leaves no trace
            golden = self._golden(person_id, targets)
            if golden is None:
                return
            actions, unholdable = plan_for_person(
                self.state, person_id, golden, targets, taken, unique_held=held
            )
        claim_names(actions, golden, taken)
        claim_unique_values(actions, held)
        queue.add(actions)
        for system, reason in unholdable:
            if self.state.mark_unholdable(system, person_id, reason):
                log.debug("person cannot be held", system=system, person=person_id, reason=reason)

    def replan(self, person_ids: Sequence[str]) -> list[Action]:
        """Rebuild these persons' golden records and queue what they need (after a
        human merged or split them); the next pass loads the queued actions."""
        targets = self._targets()
        taken = names_by_system(self.state, [t.system for t in targets])
        held = unique_values_by_system(self.state, self._unique_fields(t.system for t in targets))
        actions: list[Action] = []
        for person_id in dict.fromkeys(self.state.resolve_person(p) for p in person_ids):
            golden = self._golden(person_id, targets)
            if golden is not None:
                planned = plan_for_person(
                    self.state, person_id, golden, targets, taken, unique_held=held
                )[0]
                claim_names(planned, golden, taken)
                claim_unique_values(planned, held)
                actions.extend(planned)
        allow_shared_names(actions, taken)
        self.state.enqueue(actions, "review")
        return actions

    def _unique_fields(self, systems: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The vendor fields each system keeps unique (creates are checked against them)."""
        return {name: type(self.adapters[name]).unique_fields for name in systems}

    def _golden(self, person_id: str, targets: Sequence[TargetSystem]) -> Contact | None:
        """The person's golden record, rebuilt and saved: the same for a run and a replan
        (deletions that propagate, organizations' own channels from the last read)."""
        priority = {n: s.priority for n, s in self.settings.systems.items()}
        propagating = frozenset(
            n for n, s in self.settings.systems.items() if s.enabled and s.deletes == "propagate"
        )
        return rebuild_golden(
            self.state,
            person_id,
            priority,
            propagating,
            self.org_channels,
            untimed_conflicts=self.settings.untimed_conflicts,
            targets=targets,
        )

    def _targets(self) -> list[TargetSystem]:
        return target_systems(self.settings, self.adapters, self.mappings)

    # --- load ------------------------------------------------------------------------------

    def _loader(self, name: str, outcome: RunOutcome, read_at: datetime | None = None) -> Loader:
        return Loader(
            self.state,
            self.adapters[name],
            self.mappings[name],
            self.settings.default_region,
            outcome.summary.systems[name],
            redact,
            replan=self.replan,
            read_at=read_at,
        )

    def _recover(self, chosen: list[str], outcome: RunOutcome) -> list[str]:
        """Writes a killed run left in flight are finished before anything is read. A
        system whose recovery fails is left out of this pass (returned without it):
        read now, its unfinished writes could pass for somebody else's records."""
        recovered = []
        for name in chosen:
            if self.settings.systems[name].is_target:
                with isolated(outcome, name, "recovering interrupted writes") as recovery:
                    self._loader(name, outcome).recover_interrupted()
                if recovery.failed:
                    continue
            recovered.append(name)
        return recovered

    def _load(self, chosen: list[str], outcome: RunOutcome, force_deletes: bool) -> None:
        """Each system's outbox, the systems side by side (their vendors limit each
        system's requests on their own, so one system's waits never hold up another's);
        within a system, ``concurrency`` writes at a time."""
        loads: list[tuple[str, Loader, int]] = []
        for name in chosen:
            system = self.settings.systems[name]
            if not system.is_target:
                continue
            with isolated(outcome, name, "checking deletes") as guarding:
                refused = guard_deletes(self.state, name, system.max_delete_share, force_deletes)
                if refused is not None:
                    outcome.errors.append(refused)
                    outcome.summary.status = "partial"
            if not guarding.failed:
                loader = self._loader(name, outcome, outcome.read_at.get(name))
                loads.append((name, loader, system.concurrency))
        run_loads(loads, outcome)

    def _finish(self, outcome: RunOutcome) -> None:
        self.state.close_stale_reviews()  # both records one person now, or one gone: logged
        report = self.state.status_counts()
        outcome.summary.persons.total = report.persons_total
        outcome.summary.persons.review = report.review_open
        self.state.finish_run(
            outcome.summary.run_id, outcome.summary.status, outcome.summary.model_dump(mode="json")
        )
