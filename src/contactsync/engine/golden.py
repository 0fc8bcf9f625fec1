"""Survivorship: one golden record per person, built field by field from its records.

Each record brings, per field, the time that field last changed there
(:mod:`contactsync.model.field_changes`): a record's change time dates only the fields
that changed in it. For every field:

* the newest change wins. Two vendor timestamps compare as times. A change in a
  system without timestamps is dated by an interval (between two snapshots): it
  wins over a timestamped change made before the interval began and loses to one
  made after it ended (a timestamp in whole seconds stands for that second: some
  vendors truncate); a timestamped change *inside* the interval is a conflict,
  decided by ``untimed_conflicts`` (``"timestamped_wins"``, the default, or
  ``"priority"``). A value only known from the first snapshot of an untimed system
  (``first_seen``) loses to every dated value. A value contactsync wrote itself
  loses to every value a user made;
* every tie is decided by the configured system priority (lower number wins; a
  system without one comes last), then system name, then record id, so the result
  is a function of the records and their field times, never of their order;
* an empty value never overwrites a filled one;
* emails and phones are merged item by item: an item is in the golden record when
  the newest opinion about it, across the records, is that it is there (a removal
  at time t beats an older copy elsewhere; a re-add after t brings it back), and
  the newest choice of primary comes first;
* the address is one value (its lines, city and postal code belong together);
* the organization's refs and channels are unioned, newest record first.

Every golden field keeps its provenance: which system and record said it, when, and
how that time was known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from contactsync.engine.displaced import restore_displaced
from contactsync.engine.sources import SourceContact
from contactsync.model.contact import Contact, Organization, OrgChannel, Phone
from contactsync.model.field_changes import (
    ORGANIZATION_NAME,
    SCALAR_FIELDS,
    FieldTime,
    How,
)

UntimedRule = Literal["timestamped_wins", "priority"]
UNTIMED_RULES: tuple[UntimedRule, ...] = ("timestamped_wins", "priority")
_NEVER = datetime.min.replace(tzinfo=UTC)
_LAST_PRIORITY = 1 << 30


@dataclass(frozen=True)
class Provenance:
    """Where a golden value came from (``removed``: the winning opinion about an
    email or phone was its removal)."""

    system: str
    external_id: str
    at: datetime | None
    how: How = "vendor"
    since: datetime | None = None
    removed: bool = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "system": self.system,
            "external_id": self.external_id,
            "at": self.at.isoformat() if self.at else None,
            "how": self.how,
        }
        if self.since is not None:
            data["since"] = self.since.isoformat()
        if self.removed:
            data["removed"] = True
        return data

    @classmethod
    def of(cls, source: SourceContact, key: str | None = None, removed: bool = False) -> Provenance:
        time = source.time_of(key) if key is not None else source.time_of("")
        return cls(source.system, source.external_id, time.at, time.how, time.since, removed)


@dataclass(frozen=True)
class Opinion:
    """What one record says about one field: its value (None: removed) and when."""

    source: SourceContact
    time: FieldTime
    value: Any


class Judge:
    """Decides which of two opinions about the same field is the newer one."""

    def __init__(
        self, priority: Mapping[str, int], untimed: UntimedRule, own_counts: bool = False
    ) -> None:
        if untimed not in UNTIMED_RULES:
            raise ValueError(f"untimed_conflicts must be one of {UNTIMED_RULES}, not {untimed!r}")
        self.priority = priority
        self.untimed = untimed
        self.own_counts = own_counts

    def rank(self, source: SourceContact) -> tuple[int, str, str]:
        return (priority_of(self.priority, source.system), source.system, source.external_id)

    def ordered(self, sources: Sequence[SourceContact]) -> list[SourceContact]:
        return sorted(sources, key=self.rank)

    def beats(self, challenger: Opinion, incumbent: Opinion) -> bool:
        newer = self._newer(challenger.time, incumbent.time)
        if newer is not None:
            return newer
        return self.rank(challenger.source) < self.rank(incumbent.source)

    def _newer(self, left: FieldTime, right: FieldTime) -> bool | None:
        """True if ``left`` is the newer change, False if ``right`` is, None for a tie."""
        if left.own != right.own:
            return right.own  # a user's value beats contactsync's own copy
        left_dated = left.how != "first_seen" and left.at is not None
        right_dated = right.how != "first_seen" and right.at is not None
        if left_dated != right_dated:
            return left_dated
        if not left_dated:
            return None
        assert left.at is not None
        assert right.at is not None
        if left.how == right.how == "vendor":
            return None if left.at == right.at else left.at > right.at
        left_start, left_end = _span(left.at, left)
        right_start, right_end = _span(right.at, right)
        if left_start > right_end:
            return True  # entirely after
        if right_start > left_end:
            return False
        if "vendor" in (left.how, right.how) and self.untimed == "timestamped_wins":
            return left.how == "vendor"
        return None  # overlapping intervals, or the rule says priority

    def winner(self, opinions: Sequence[Opinion]) -> Opinion | None:
        """The newest opinion. contactsync's own copies have none: they are derived from
        the golden record, and a system that cannot express a detail, or fills in a
        default, would otherwise change the golden record it came from."""
        best: Opinion | None = None
        for opinion in opinions:  # callers pass them in rank order: ties stay put
            if opinion.time.own and not self.own_counts:
                continue
            if best is None or self.beats(opinion, best):
                best = opinion
        return best


#: Some vendors keep change times to the second (Trackops), others finer: a
#: timestamp in whole seconds stands for the second it names when it is set against
#: a snapshot interval, so a change truncated to just before an interval began is
#: not taken for one made before it.
VENDOR_RESOLUTION = timedelta(seconds=1)


def _span(at: datetime, time: FieldTime) -> tuple[datetime, datetime]:
    """When a dated change may have happened, earliest and latest."""
    if time.how == "interval":
        return (time.since or at, at)
    return (at, at + VENDOR_RESOLUTION if at.microsecond == 0 else at)


def priority_of(priority: Mapping[str, int], system: str) -> int:
    return priority.get(system, _LAST_PRIORITY)


def precedence(
    sources: Sequence[SourceContact], priority: Mapping[str, int]
) -> list[SourceContact]:
    """Sources from the newest record (by its own change time) to the oldest, ties by
    priority, system and id: the order of the organization's refs and channels."""

    def rank(source: SourceContact) -> tuple[Any, ...]:
        moment = source.changed_at or _NEVER
        return (-moment.timestamp(), priority_of(priority, source.system), source.system,
                source.external_id)  # fmt: skip

    return sorted(sources, key=rank)


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if hasattr(value, "is_empty"):
        return not value.is_empty()
    return True


def provenance_of(opinion: Opinion, removed: bool = False) -> Provenance:
    time = opinion.time
    return Provenance(
        opinion.source.system, opinion.source.external_id, time.at, time.how, time.since, removed
    )


def merge(
    sources: Sequence[SourceContact],
    priority: Mapping[str, int],
    untimed: UntimedRule = "timestamped_wins",
) -> tuple[Contact, dict[str, Provenance]]:
    """The golden contact of one person, and the provenance of each of its fields.

    Only when what the users made is no contact on its own (every record holds only
    contactsync's writes, or the users' values name nobody) do contactsync's own
    copies count, as the users' would: a person is never left without a record."""
    if not sources:
        raise ValueError("merge needs at least one source record")
    sources = restore_displaced(sources)
    provenance: dict[str, Provenance] = {}
    try:
        values = _merged(sources, Judge(priority, untimed), provenance)
        return Contact.model_validate(values), provenance
    except ValidationError:
        provenance = {}
        values = _merged(sources, Judge(priority, untimed, own_counts=True), provenance)
        return Contact.model_validate(values), provenance


def _merged(
    sources: Sequence[SourceContact], judge: Judge, provenance: dict[str, Provenance]
) -> dict[str, Any]:
    ordered = judge.ordered(sources)
    values: dict[str, Any] = {}
    for name in SCALAR_FIELDS:
        opinions = [
            Opinion(s, s.time_of(name), getattr(s.contact, name))
            for s in ordered
            if _filled(getattr(s.contact, name))
        ]
        best = judge.winner(opinions)
        if best is not None:
            values[name] = best.value
            provenance[name] = provenance_of(best)
    values["emails"] = _items(judge, ordered, "emails", lambda c: c.emails, lambda e: e.address,
                              provenance)  # fmt: skip
    phones = _items(judge, ordered, "phones", lambda c: c.phones, lambda p: p.number, provenance)
    values["phones"] = _with_extensions(phones, ordered)
    newest_first = precedence(sources, judge.priority)
    organization = _organization(judge, ordered, newest_first, provenance)
    if organization is not None:
        values["organization"] = organization
    moments = [s.changed_at for s in ordered if s.changed_at is not None]
    values["updated_at"] = max(moments) if moments else None
    return values


def _items(
    judge: Judge,
    ordered: Sequence[SourceContact],
    field: str,
    items_of: Callable[[Contact], Sequence[Any]],
    identity: Callable[[Any], str],
    provenance: dict[str, Provenance],
) -> list[Any]:
    """The items the newest opinion about each keeps, the newest primary first."""
    held = [{identity(item): item for item in reversed(items_of(s.contact))} for s in ordered]
    known: list[str] = []
    for source in ordered:
        known += [identity(i) for i in items_of(source.contact)]
        if source.field_times is not None:
            known += sorted(
                k.split(":", 1)[1] for k in source.field_times if k.startswith(field + ":")
            )
    kept: dict[str, Any] = {}
    for item_id in dict.fromkeys(known):
        key = f"{field}:{item_id}"
        opinions = [
            Opinion(source, source.time_of(key), items.get(item_id))
            for source, items in zip(ordered, held, strict=True)
            if item_id in items or source.has_opinion(key)
        ]
        best = judge.winner(opinions)
        if best is None:
            continue
        provenance[key] = provenance_of(best, removed=best.value is None)
        if best.value is not None:
            kept[item_id] = best.value.model_copy()
    primaries = [
        Opinion(source, source.time_of(f"{field}.primary"), identity(items_of(source.contact)[0]))
        for source in ordered
        if items_of(source.contact) and identity(items_of(source.contact)[0]) in kept
    ]
    primary = judge.winner(primaries)
    if primary is None:
        return list(kept.values())
    provenance[f"{field}.primary"] = provenance_of(primary)
    first = kept.pop(primary.value)
    return [first, *kept.values()]


def _with_extensions(phones: list[Phone], ordered: Sequence[SourceContact]) -> list[Phone]:
    """A number's extension from the first source that has one (empty never overwrites)."""
    for phone in phones:
        if phone.extension:
            continue
        for source in ordered:
            known = next(
                (p.extension for p in source.contact.phones if p.number == phone.number), None
            )
            if known:
                phone.extension = known
                break
    return phones


def _organization(
    judge: Judge,
    ordered: Sequence[SourceContact],
    newest_first: Sequence[SourceContact],
    provenance: dict[str, Provenance],
) -> Organization | None:
    holders = [s for s in newest_first if s.contact.organization is not None and s.made_by_users]
    if not holders:
        return None
    names = [
        Opinion(s, s.time_of(ORGANIZATION_NAME), org.name)
        for s in ordered
        if (org := s.contact.organization) is not None and _filled(org.name)
    ]
    best = judge.winner(names)
    name = best.value if best is not None else None
    if best is not None:
        provenance[ORGANIZATION_NAME] = provenance_of(best)
    refs: dict[str, str] = {}
    for source in holders:
        org = source.contact.organization
        for system, ref in (org.refs if org else {}).items():
            if system not in refs and ref:
                refs[system] = ref
                provenance[f"organization.refs.{system}"] = Provenance.of(source)
    seen: set[Any] = set()
    channels: list[OrgChannel] = []
    for source in holders:
        for channel in source.contact.organization.channels if source.contact.organization else []:
            key = (channel.label, channel.telephone, channel.email, channel.website)
            if key not in seen:
                seen.add(key)
                provenance[f"organization.channels[{len(channels)}]"] = Provenance.of(source)
                channels.append(channel.model_copy())
    if name is None and not refs and not channels:
        return None
    return Organization(name=name, refs=refs, channels=channels)


__all__ = [
    "UNTIMED_RULES",
    "Judge",
    "Opinion",
    "Provenance",
    "SourceContact",
    "UntimedRule",
    "merge",
    "precedence",
    "provenance_of",
]
