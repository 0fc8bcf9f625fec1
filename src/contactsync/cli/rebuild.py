"""``contactsync rebuild [--dry-run]``: a new state filled from what the systems hold.

The linking itself is the ordinary pass's (:mod:`contactsync.engine.rebuild`): every
record's stamped person id is adopted, the matcher links the rest. This command only
makes sure the state is new, and reports how the records were linked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from contactsync.cli.run import console, engine_for, fail, report, run_pass
from contactsync.config.settings import Settings
from contactsync.engine.preflight import unreachable
from contactsync.engine.rebuild import LinkCounts, link_counts, persons_held
from contactsync.state.sqlite.store import StateError, StateStore


def refuse_filled_state(path: Path) -> None:
    """A state that holds persons is never rebuilt over: it may be the only record of
    merges and review decisions the systems do not hold."""
    if not path.exists():
        return
    try:
        with StateStore.open(path) as state:
            held = persons_held(state)
    except StateError as exc:
        raise fail(str(exc)) from None
    if held:
        raise fail(
            f"{path}: the state holds {held} persons; rebuild only fills a new state "
            "(move the file aside first to rebuild it from the systems)"
        )


def run_rebuild(settings: Settings, *, dry_run: bool, wait: bool) -> None:
    refuse_filled_state(settings.state_path)
    problem = unreachable(settings, None)
    if problem is not None:
        raise fail(problem)
    if dry_run:
        # the same pass as a plan on a throwaway state: nothing is written anywhere. A
        # plan rolls its links back, so the split by stamp is shown after a rebuild only.
        with (
            tempfile.TemporaryDirectory(prefix="contactsync-rebuild-") as folder,  # mode 0700
            engine_for(settings, Path(folder) / "state.sqlite") as engine,
        ):
            outcome = engine.run("plan")
        report(outcome, "plan", as_json=False)
        raise typer.Exit(outcome.summary.exit_code)
    outcome = run_pass(settings, "backfill", as_json=False, wait=wait)
    with StateStore.open(settings.state_path) as state:
        counts = link_counts(state)
    report(outcome, "backfill", as_json=False)
    console.print(describe(counts))
    raise typer.Exit(outcome.summary.exit_code)


def describe(counts: LinkCounts) -> str:
    return (
        f"records linked: {counts.stamped} by their stamped person id, "
        f"{counts.matched} by the matcher to a stamped person, {counts.new} to new persons"
    )
