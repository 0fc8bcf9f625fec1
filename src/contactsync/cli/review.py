"""``contactsync review``: work the queue of uncertain matches.

A pair scored between the thresholds waits here, kept apart. ``merge`` joins the
two records' persons (the older id survives) and queues the writes that follow;
``split`` confirms they are different people (and separates them if they had
been joined); ``dismiss`` closes the item without a decision; ``undo`` takes a merge or
split back (the persons as before it, the writes that followed restored). An item whose
question went away (both records became one person, by a merge or by the matcher; a
record was deleted) is closed by contactsync with a note, and said so once.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from contactsync.cli.render import plain_row
from contactsync.cli.revert import queue_restore
from contactsync.cli.run import console, engine_for, fail, load
from contactsync.state.sqlite.store import (
    PersonEventKind,
    ReviewItem,
    ReviewStatus,
    StateError,
    StateStore,
)

review_app = typer.Typer(help="Work the queue of uncertain matches.", no_args_is_help=True)


def _open_state(path: Path) -> StateStore:
    """The state, or one line and exit 2 when the file cannot be used (never a traceback)."""
    try:
        return StateStore.open(path)
    except StateError as exc:
        raise fail(str(exc)) from None


def _describe(store: StateStore, system: str, external_id: str) -> str:
    record = store.get_record(system, external_id)
    if record is None:
        return f"{system}:{external_id} (gone)"
    payload = record.payload
    name = payload.get("full_name") or " ".join(
        p for p in (payload.get("first_name"), payload.get("last_name")) if p
    )
    emails = [e.get("address") for e in payload.get("emails") or []]
    return f"{system}:{external_id} {name} {' '.join(e for e in emails if e)}".strip()


def _close_stale(store: StateStore) -> None:
    """Close the items whose question went away, one line each on stderr."""
    for item in store.close_stale_reviews():
        typer.echo(f"review item {item.id} closed: {item.note}", err=True)


def _item(store: StateStore, review_id: int) -> ReviewItem:
    _close_stale(store)
    item = store.get_review(review_id)
    if item is None:
        raise fail(f"no review item {review_id}")
    if item.status is not ReviewStatus.OPEN:
        why = f" ({item.note})" if item.note else ""
        raise fail(f"review item {review_id} is already {item.status.value}{why}")
    return item


@review_app.command("list")
def list_items(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Open items, most likely matches first."""
    settings = load(ctx.obj.config, ctx.obj.log_format)
    with _open_state(settings.state_path) as store:
        _close_stale(store)
        items = sorted(store.list_review(), key=lambda i: -i.score)
        rows = [
            (
                i,
                _describe(store, i.left_system, i.left_id),
                _describe(store, i.right_system, i.right_id),
            )
            for i in items
        ]
    if as_json:
        payload = [
            {
                "id": i.id,
                "left": left,
                "right": right,
                "score": round(i.score, 4),
                "evidence": i.evidence,
            }
            for i, left, right in rows
        ]
        typer.echo(json.dumps(payload, sort_keys=True))
        return
    table = Table(title=f"review queue: {len(rows)} open")
    for column in ("id", "score", "left", "right", "evidence"):
        table.add_column(column)
    for item, left, right in rows:
        evidence = ", ".join(f"{k}={v:.2f}" for k, v in sorted(item.evidence.items()))
        plain_row(table, str(item.id), f"{item.score:.3f}", left, right, evidence)
    console.print(table)


@review_app.command("merge")
def merge_item(ctx: typer.Context, review_id: int) -> None:
    """The two records are one person: merge them (older id survives)."""
    settings = load(ctx.obj.config, ctx.obj.log_format)
    with engine_for(settings) as engine:
        store = engine.state
        item = _item(store, review_id)
        left = store.person_for(item.left_system, item.left_id)
        right = store.person_for(item.right_system, item.right_id)
        if left is None or right is None:
            raise fail(f"review item {review_id}: a record is no longer linked to a person")
        survivor = store.merge_persons(left, right)
        store.decide_review(review_id, ReviewStatus.MERGED)
        _close_stale(store)  # other items whose two records are now this one person
        actions = engine.replan([survivor])
    console.print(f"merged into {survivor}; {len(actions)} action(s) queued for the next sync")


@review_app.command("split")
def split_item(ctx: typer.Context, review_id: int) -> None:
    """The two records are different people: keep (or make) them apart."""
    settings = load(ctx.obj.config, ctx.obj.log_format)
    with engine_for(settings) as engine:
        store = engine.state
        item = _item(store, review_id)
        left = store.person_for(item.left_system, item.left_id)
        right = store.person_for(item.right_system, item.right_id)
        touched = [p for p in (left, right) if p]
        if left is not None and left == right:
            touched.append(store.split_record(item.right_system, item.right_id))
        store.decide_review(review_id, ReviewStatus.SPLIT)
        actions = engine.replan(touched)
    console.print(f"kept apart; {len(actions)} action(s) queued for the next sync")


@review_app.command("dismiss")
def dismiss_item(ctx: typer.Context, review_id: int) -> None:
    """Close the item without a decision."""
    settings = load(ctx.obj.config, ctx.obj.log_format)
    with _open_state(settings.state_path) as store:
        _item(store, review_id)
        store.decide_review(review_id, ReviewStatus.DISMISSED)
    console.print(f"dismissed review item {review_id}")


@review_app.command("undo")
def undo_item(ctx: typer.Context, review_id: int) -> None:
    """Take a merge or split back: the persons as before it, the writes that followed it
    restored (queued for the next sync; `plan` shows them), the item open again."""
    settings = load(ctx.obj.config, ctx.obj.log_format)
    with engine_for(settings) as engine:
        store = engine.state
        item = store.get_review(review_id)
        if item is None:
            raise fail(f"no review item {review_id}")
        if item.status is ReviewStatus.MERGED:
            persons, since = _unmerge(store, item)
        elif item.status is ReviewStatus.SPLIT:
            persons, since = _unsplit(store, item)
        else:
            raise fail(f"review item {review_id} is {item.status.value}: only a merge or a split "
                       "can be undone")  # fmt: skip
        queued = queue_restore(engine, f"review-{review_id}-undo", persons, since)
        store.reopen_review(review_id)
    console.print(
        f"review item {review_id} is open again; {queued} write(s) queued for the next sync"
    )


def _unmerge(store: StateStore, item: ReviewItem) -> tuple[list[str], datetime]:
    """Undo the merge this item's decision made; the persons involved and its time."""
    sides = {(item.left_system, item.left_id), (item.right_system, item.right_id)}
    owner = store.person_for(item.left_system, item.left_id)
    if owner is None:
        raise fail(f"review item {item.id}: a record is no longer linked to a person")
    for event in reversed(store.person_events(owner)):
        moved = {(system, record) for system, record in event.detail.get("records", [])}
        if event.kind is PersonEventKind.MERGE and event.person_id == owner and moved & sides:
            store.unmerge(event)
            return [event.person_id, event.other_person_id or ""], event.at
    raise fail(f"review item {item.id}: its merge is not in the history")


def _unsplit(store: StateStore, item: ReviewItem) -> tuple[list[str], datetime]:
    """Undo the split this item's decision made (if it separated anyone)."""
    left = store.person_for(item.left_system, item.left_id)
    right = store.person_for(item.right_system, item.right_id)
    if left is None or right is None:
        raise fail(f"review item {item.id}: a record is no longer linked to a person")
    split = next(
        (e for e in reversed(store.person_events(right))
         if e.kind is PersonEventKind.SPLIT and e.person_id == right and e.other_person_id == left),
        None,
    )  # fmt: skip
    decided = item.decided_at or item.created_at
    if split is None:  # they were apart already: nothing was separated
        return [left, right], decided
    store.merge_persons(left, right)
    return [left, right], split.at
