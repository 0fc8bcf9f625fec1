"""Per-field change times of a stored record: what changed, when, and how we know.

A record's own timestamp says when *something* in it changed, not what. Survivorship
(:mod:`contactsync.engine.golden`) needs the time of each field, so staging diffs each
record against its last stored version, field by field, and only the fields that
differ take the record's change time; the others keep the time they had.

A record's fields, as *field keys*:

* each scalar field by name (``job_title``, ``address``, ...) and
  ``organization.name``;
* each email and phone as an item: ``emails:<address>``, ``phones:<E.164>``; an
  item a user removed keeps its key (a *tombstone*: a time without the item), so
  that the removal can beat an older copy of the value in another system;
* ``emails.primary`` and ``phones.primary``: which item is first.

How a time was known (:class:`FieldTime.how`):

* ``vendor``: the system's own change timestamp of the record;
* ``interval``: a system without timestamps (Pylon, any snapshot whose records carry
  none): the change happened between the previous snapshot (``since``) and this one
  (``at``);
* ``first_seen``: the first snapshot of an untimed record: when its content was made
  is unknown, so it loses to any dated value.

Values contactsync wrote itself (``own``) carry the time of the edit they came from
(the golden record's provenance), never the time of the write, and lose to every
value a user made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any, Literal

from contactsync.model.time import opt_as_utc

How = Literal["vendor", "interval", "first_seen"]

SCALAR_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "nickname",
    "maiden_name",
    "job_title",
    "birthday",
    "language",
    "notes",
    "reference",
    "status",
    "address",
)
ORGANIZATION_NAME = "organization.name"
#: multi-valued fields: the item list's name and the key that identifies an item
ITEM_FIELDS: tuple[tuple[str, str], ...] = (("emails", "address"), ("phones", "number"))


@dataclass(frozen=True, slots=True)
class FieldTime:
    """When one field of one record last changed, and how that time is known."""

    at: datetime | None
    how: How = "vendor"
    since: datetime | None = None  # an interval's start
    own: bool = False  # contactsync's own write: the time is the origin edit's
    #: the record's time when contactsync first saw it, not a change it saw: the field
    #: has no history (see :mod:`contactsync.engine.golden_agreement`); not part of equality,
    #: the time is the same
    first: bool = dataclass_field(default=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"at": _iso(self.at), "how": self.how}
        if self.since is not None:
            data["since"] = _iso(self.since)
        if self.own:
            data["own"] = True
        if self.first:
            data["first"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldTime:
        how = data.get("how")
        return cls(
            at=_parse(data.get("at")),
            how=how if how in ("vendor", "interval", "first_seen") else "first_seen",
            since=_parse(data.get("since")),
            own=bool(data.get("own", False)),
            first=bool(data.get("first", False)),
        )

    def as_own(self) -> FieldTime:
        return FieldTime(self.at, self.how, self.since, own=True)


FieldTimes = dict[str, FieldTime]


aware = opt_as_utc


def _iso(moment: datetime | None) -> str | None:
    moment = aware(moment)
    return moment.isoformat() if moment is not None else None


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:  # a damaged entry costs that entry's time, not the record
        return None


def times_from_json(data: Any) -> FieldTimes | None:
    """Stored JSON -> field times (None when nothing usable is stored)."""
    if not isinstance(data, dict):
        return None
    return {
        key: FieldTime.from_dict(value) for key, value in data.items() if isinstance(value, dict)
    }


def times_to_json(times: Mapping[str, FieldTime]) -> dict[str, Any]:
    return {key: times[key].as_dict() for key in sorted(times)}


def record_stamp(updated_at: datetime | None, seen_at: datetime | None) -> FieldTime:
    """The time of every field of a record whose fields were never dated one by one."""
    if updated_at is not None:
        return FieldTime(aware(updated_at), "vendor")
    return FieldTime(aware(seen_at), "first_seen")


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, dict | list):
        return any(_filled(item) for item in (value.values() if isinstance(value, dict) else value))
    return True


def field_values(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """A canonical contact (as JSON) -> field key -> comparable value (filled keys only)."""
    if not payload:
        return {}
    values: dict[str, Any] = {}
    for name in SCALAR_FIELDS:
        value = payload.get(name)
        if _filled(value):
            values[name] = value
    organization = payload.get("organization")
    if isinstance(organization, dict) and _filled(organization.get("name")):
        values[ORGANIZATION_NAME] = organization["name"]
    for field, identity in ITEM_FIELDS:
        items = [i for i in payload.get(field) or [] if isinstance(i, dict) and i.get(identity)]
        for item in items:
            values.setdefault(f"{field}:{item[identity]}", item)
        if items:
            values[f"{field}.primary"] = items[0][identity]
    return values


def is_item_key(key: str) -> bool:
    return any(key.startswith(f"{field}:") for field, _ in ITEM_FIELDS)


def next_times(
    before: Mapping[str, Any] | None,
    before_times: Mapping[str, FieldTime] | None,
    after: Mapping[str, Any],
    stamp: FieldTime | Callable[[str], FieldTime | None],
) -> FieldTimes:
    """The field times of ``after``, a new version of the record stored as ``before``.

    ``stamp`` dates a changed field: one time for a user's edit (the record's), or
    per field key for contactsync's own write (the origin edit's, see
    :func:`own_stamp`; None keeps no time for that key). On the first sight of a
    record (``before`` None) every field takes the stamp, marked ``first``: no change
    of that field was seen.

    A user's removal of an email or phone leaves a tombstone; contactsync's own
    removal (a system holding fewer items than the golden record) leaves none, so it
    never reads as a user's removal."""
    own = callable(stamp)
    if before is None and not callable(stamp):
        stamp = FieldTime(stamp.at, stamp.how, stamp.since, first=True)
    old = field_values(before)
    new = field_values(after)
    result: FieldTimes = {}
    kept = dict(before_times or {})
    for key in sorted(set(old) | set(new) | set(kept)):
        changed = before is None or old.get(key) != new.get(key)
        if not changed and key in kept:
            result[key] = kept[key]
            continue
        if not changed and key not in old and key not in new:
            continue
        if own and key not in new and is_item_key(key):
            # An item our own write dropped (a one-email slot now holding the golden
            # primary): the users' word on it, and its time, stand (contactsync.engine.displaced).
            if key in kept:
                result[key] = kept[key]
            continue
        time = stamp(key) if callable(stamp) else stamp
        if time is not None:
            result[key] = time
    if not callable(stamp) and before is not None:
        for field, _identity in ITEM_FIELDS:
            primary = new.get(f"{field}.primary")
            if primary is not None and old.get(f"{field}.primary") != primary:
                # Making a value primary is the user's word on that value too: an address
                # contactsync once wrote there would otherwise stay "our own copy", which
                # has no say, and the user's new primary would vanish from the golden record.
                result[f"{field}:{primary}"] = stamp
    return result


def own_stamp(golden_provenance: Mapping[str, Any]) -> Callable[[str], FieldTime | None]:
    """Dates a field contactsync wrote by the golden record's provenance of it: the
    edit the value came from."""

    def stamp(key: str) -> FieldTime | None:
        entry = golden_provenance.get(key)
        if not isinstance(entry, dict):
            return FieldTime(None, "first_seen", own=True)
        return FieldTime.from_dict(entry).as_own()

    return stamp


def baseline_times(
    payload: Mapping[str, Any] | None,
    source_payload: Mapping[str, Any] | None,
    stamp: FieldTime,
) -> FieldTimes:
    """Field times of a record stored before fields were dated one by one: what its
    users last left (``source_payload``) carries the record's time, the rest of what
    it holds was contactsync's own write."""
    users = field_values(source_payload)
    times: FieldTimes = {}
    for key, value in field_values(payload).items():
        if users.get(key) == value:
            times[key] = stamp
        else:
            times[key] = FieldTime(None, "first_seen", own=True)
    return times


__all__ = [
    "FieldTime",
    "FieldTimes",
    "baseline_times",
    "field_values",
    "next_times",
    "own_stamp",
    "record_stamp",
    "times_from_json",
    "times_to_json",
]
