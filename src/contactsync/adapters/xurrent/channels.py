"""Xurrent organization contacts: validation, canonical form and the minimal diff. No I/O.

An organization contact (api-docs/xurrent-organization-contacts.txt) is one of an
organization's own channels: ``{"id", "label", one of "telephone"|"email"|"website",
"integration"}``. ``label`` is required and one of general, service_desk, fax,
service_desk_fax; the two fax labels are for a telephone only; values are strings of
at most 255 characters.

:func:`plan_channels` decides the fewest writes that turn an organization's current
channels into a desired list of canonical :class:`~contactsync.model.contact.OrgChannel`;
two values that differ only in formatting (``+1 (203) 413 4880`` and
``+12034134880``, ``Info@Best-IT.com`` and ``info@best-it.com``) are the same channel
and cost no write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from contactsync.adapters.base import OrgChannelRecord
from contactsync.http.errors import RecordError
from contactsync.model.contact import ChannelLabel, OrgChannel, normalize_phone

SYSTEM = "xurrent"
CHANNEL_KINDS: tuple[str, ...] = ("telephone", "email", "website")
CHANNEL_LABELS: tuple[str, ...] = tuple(label.value for label in ChannelLabel)
TELEPHONE_ONLY_LABELS = frozenset({ChannelLabel.FAX.value, ChannelLabel.SERVICE_DESK_FAX.value})
WRITABLE_FIELDS = frozenset({"label", *CHANNEL_KINDS, "integration"})
MAX_TEXT = 255

log = logging.getLogger(__name__)


# --- validation ----------------------------------------------------------------------


def channel_problems(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for everything Xurrent would refuse in a full channel body.

    A key holding None counts as absent (an update sends None to clear a value).
    """
    problems: list[tuple[str, str]] = [
        (key, "is not a writable attribute") for key in payload if key not in WRITABLE_FIELDS
    ]
    label = payload.get("label")
    if label is None:
        problems.append(("label", "is required"))
    elif label not in CHANNEL_LABELS:
        problems.append(("label", f"must be one of {', '.join(CHANNEL_LABELS)} (got {label!r})"))
    kinds = [kind for kind in CHANNEL_KINDS if payload.get(kind) is not None]
    for kind in kinds:
        value = payload[kind]
        if not isinstance(value, str) or not value.strip():
            problems.append((kind, "must be a non-empty string"))
        elif len(value) > MAX_TEXT:
            problems.append((kind, f"is too long (maximum is {MAX_TEXT} characters)"))
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        problems.append(("telephone/email/website", f"exactly one must be set (got {found})"))
    elif label in TELEPHONE_ONLY_LABELS and kinds != ["telephone"]:
        problems.append(("label", f"{label!r} is for a telephone only"))
    if not isinstance(payload.get("integration", False), bool):
        problems.append(("integration", "must be a boolean"))
    return problems


def checked_channel_body(
    payload: Mapping[str, Any], *, operation: str, record_id: str
) -> dict[str, Any]:
    """The body to send for a full channel: label, its one value, and None for the other
    kinds (so an update that changes the kind clears the old value). Raises
    :class:`RecordError` naming every problem before anything is sent."""
    problems = channel_problems(payload)
    if problems:
        detail = "; ".join(f"{name}: {message}" for name, message in problems)
        raise RecordError(
            f"invalid organization contact: {detail}",
            system=SYSTEM,
            operation=operation,
            record_id=record_id,
            fields=[name for name, _ in problems],
        )
    body: dict[str, Any] = {"label": payload["label"]}
    for kind in CHANNEL_KINDS:
        value = payload.get(kind)
        body[kind] = value.strip() if isinstance(value, str) else None
    if "integration" in payload:
        body["integration"] = payload["integration"]
    return body


def channel_body(channel: OrgChannel) -> dict[str, Any]:
    """A canonical channel as a Xurrent body: ``{"label": ..., "<kind>": value}``."""
    kind, value = channel_value(channel)
    return {"label": channel.label.value, kind: value}


def channel_value(channel: OrgChannel) -> tuple[str, str]:
    """``(kind, value)`` of a canonical channel (the model guarantees exactly one)."""
    for kind in CHANNEL_KINDS:
        value = getattr(channel, kind)
        if value:
            return kind, str(value)
    raise ValueError("an organization channel needs one of telephone, email, website")


# --- canonical form ------------------------------------------------------------------


def channel_from_payload(payload: Mapping[str, Any]) -> OrgChannel:
    """A Xurrent channel as a canonical :class:`OrgChannel`; raises ``ValueError`` naming
    what is wrong (the id is kept as ``external_id``)."""
    values = {kind: payload.get(kind) for kind in CHANNEL_KINDS}
    raw_id = payload.get("id")
    try:
        return OrgChannel.model_validate(
            {
                "label": payload.get("label"),
                **{kind: value for kind, value in values.items() if value not in (None, "")},
                "external_id": None if raw_id is None else str(raw_id),
            }
        )
    except ValidationError as exc:
        reasons = "; ".join(
            str(err.get("msg", "invalid")).removeprefix("Value error, ")
            for err in exc.errors(include_url=False)
        )
        raise ValueError(reasons) from None


def channels_to_canonical(records: Iterable[OrgChannelRecord]) -> list[OrgChannel]:
    """Extracted organization contacts as canonical channels, in order.

    A channel Xurrent should never have returned (no label, two values) is skipped
    with a warning naming the organization and the channel, never raised.
    """
    channels: list[OrgChannel] = []
    for record in records:
        try:
            channels.append(channel_from_payload(record.payload))
        except ValueError as exc:
            log.warning(
                "xurrent: skipped organization %s contact %s: %s",
                record.organization_id,
                record.external_id,
                exc,
            )
    return channels


def channels_by_organization(records: Iterable[OrgChannelRecord]) -> dict[str, list[OrgChannel]]:
    """:func:`channels_to_canonical` grouped by organization id (every organization seen)."""
    grouped: dict[str, list[OrgChannelRecord]] = {}
    for record in records:
        grouped.setdefault(record.organization_id, []).append(record)
    return {org_id: channels_to_canonical(rows) for org_id, rows in grouped.items()}


# --- the minimal diff ----------------------------------------------------------------


def comparable(kind: str, value: str) -> str:
    """A value with its formatting removed: E.164 for a telephone when it parses,
    lower case for an email, lower case without a trailing slash for a website."""
    text = " ".join(value.split())
    if kind == "telephone":
        try:
            number, extension = normalize_phone(text)
        except ValueError:
            return text.casefold()
        return f"{number}x{extension}" if extension else number
    if kind == "website":
        return text.casefold().rstrip("/")
    return text.casefold()


@dataclass(frozen=True)
class _Current:
    """One channel Xurrent holds, reduced to what the diff compares."""

    id: str
    label: str | None
    kind: str | None
    value: str | None
    raw: dict[str, Any]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> _Current:
        kinds = [k for k in CHANNEL_KINDS if isinstance(raw.get(k), str) and raw[k].strip()]
        kind = kinds[0] if len(kinds) == 1 else None
        value = comparable(kind, raw[kind]) if kind else None
        label = raw.get("label") if isinstance(raw.get("label"), str) else None
        return cls(str(raw.get("id")), label, kind, value, raw)

    def same_as(self, channel: OrgChannel) -> bool:
        kind, value = channel_value(channel)
        return (
            self.label == channel.label.value
            and self.kind == kind
            and self.value == comparable(kind, value)
        )


@dataclass
class ChannelPlan:
    """The writes that turn the current channels into the desired ones.

    ``keep``, ``update`` and ``create`` are keyed by the desired channel's position;
    ``delete`` lists current channel ids; ``delete_all`` means one
    ``DELETE /organizations/{id}/contacts/`` instead of the single deletes.
    """

    keep: dict[int, dict[str, Any]] = field(default_factory=dict)
    update: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    create: dict[int, dict[str, Any]] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    delete_all: bool = False

    @property
    def writes(self) -> int:
        deletes = 1 if self.delete_all else len(self.delete)
        return len(self.update) + len(self.create) + deletes


def plan_channels(current: Iterable[dict[str, Any]], desired: list[OrgChannel]) -> ChannelPlan:
    """The fewest writes from ``current`` (Xurrent's channels) to ``desired``.

    1. A desired channel naming a current id (``external_id``) keeps that channel,
       updated when its label or value differs.
    2. Other desired channels reuse a current channel with the same label and value.
    3. The rest take over the remaining current channels by update (same label and
       kind first, then same kind, then any), so ids survive where they can.
    4. What is left is created (desired) or deleted (current); an empty desired list
       with several current channels is one remove-all.
    """
    plan = ChannelPlan()
    unused = {row.id: row for row in (_Current.of(raw) for raw in current)}
    waiting: list[int] = []
    for index, channel in enumerate(desired):
        row = unused.pop(channel.external_id, None) if channel.external_id else None
        if row is None:
            waiting.append(index)
        elif row.same_as(channel):
            plan.keep[index] = row.raw
        else:
            plan.update[index] = (row.id, channel_body(channel))
    unmatched: list[int] = []
    for index in waiting:
        row = next((r for r in unused.values() if r.same_as(desired[index])), None)
        if row is None:
            unmatched.append(index)
        else:
            plan.keep[index] = unused.pop(row.id).raw
    for rank in (_same_label_and_kind, _same_kind, _anything):
        for index in list(unmatched):
            row = next((r for r in unused.values() if rank(r, desired[index])), None)
            if row is not None:
                unused.pop(row.id)
                plan.update[index] = (row.id, channel_body(desired[index]))
                unmatched.remove(index)
    for index in unmatched:
        plan.create[index] = channel_body(desired[index])
    plan.delete = list(unused)
    plan.delete_all = not desired and len(plan.delete) > 1
    return plan


def _same_label_and_kind(row: _Current, channel: OrgChannel) -> bool:
    return row.label == channel.label.value and row.kind == channel_value(channel)[0]


def _same_kind(row: _Current, channel: OrgChannel) -> bool:
    return row.kind == channel_value(channel)[0]


def _anything(row: _Current, channel: OrgChannel) -> bool:
    return True
