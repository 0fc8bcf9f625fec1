"""Staging's side of "a bad value costs that value, not the record".

The mapping leaves out each value it cannot use and says why (see
:meth:`contactsync.mapping.mapper.Mapping.inbound`); here those reasons become the
:class:`~contactsync.state.sqlite.store.ValueProblem` rows ``status`` lists, and text that must not
be passed on to other systems (longer than :data:`MAX_TEXT`, control characters,
lone surrogates) is left out the same way, value by value.

A value shown in the state or in ``status`` is redacted (configured secrets) and
shortened to :data:`SHOWN_VALUE_LIMIT` characters: enough to recognise it, never a
whole note pasted into a phone field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from contactsync.http.errors import default_redactor
from contactsync.mapping.values import drop_value
from contactsync.model.contact import Contact, ContactStatus, FieldError
from contactsync.state.types import ValueProblem

#: longest text a mapped field may hold (a name, an address line, a note)
MAX_TEXT = 20_000
#: characters of a bad value kept to show it
SHOWN_VALUE_LIMIT = 60
_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0 controls but tab, line feed and carriage return; DEL and C1 controls; surrogates
_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def shown_value(value: str | None) -> str | None:
    """``value`` redacted and cut to :data:`SHOWN_VALUE_LIMIT` characters (with "…")."""
    if value is None:
        return None
    text = default_redactor()(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= SHOWN_VALUE_LIMIT else text[: SHOWN_VALUE_LIMIT - 1] + "…"


def problems_of(errors: Iterable[FieldError]) -> list[ValueProblem]:
    """The mapping's field errors as value problems, ready for the state."""
    return [
        ValueProblem(
            field=error.field,
            reason=error.message,
            value=shown_value(error.value),
            moved_to=error.moved_to,
        )
        for error in errors
    ]


def text_problem(value: str) -> str | None:
    """Why a text cannot be passed on to other systems, or None: longer than
    :data:`MAX_TEXT`, control characters, or lone surrogates (not Unicode)."""
    if len(value) > MAX_TEXT:
        return f"{len(value)} characters (at most {MAX_TEXT})"
    bad = _BAD_CHARACTER.search(value)
    if bad is None:
        return None
    kind = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
    return f"{kind} (U+{ord(bad.group()):04X}) at position {bad.start()}"


def bad_texts(value: Any, path: str = "") -> list[tuple[str, str, str]]:
    """(path, text, why) of every text in a dumped contact that :func:`text_problem` refuses."""
    found: list[tuple[str, str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += bad_texts(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += bad_texts(item, f"{path}[{index}]")
    elif isinstance(value, str):
        why = text_problem(value)
        if why is not None:
            found.append((path, value, why))
    return found


def without_bad_texts(contact: Contact) -> tuple[Contact | None, list[ValueProblem]]:
    """``contact`` without the texts :func:`text_problem` refuses, and a problem for each;
    None when what is left identifies nobody."""
    dumped = contact.model_dump(mode="json")
    found = bad_texts(dumped)
    if not found:
        return contact, []
    problems = []
    for path, text, why in reversed(found):  # the last first: list indexes stay right
        drop_value(dumped, path)
        problems.append(ValueProblem(field=path, reason=why, value=shown_value(text)))
    try:
        return Contact.model_validate(dumped), problems[::-1]
    except ValidationError:
        return None, problems[::-1]


def needs_writable_raw(problems: Iterable[ValueProblem], raw: Any) -> bool:
    """Whether a record's raw copy holds text no vendor can be sent (a lone surrogate);
    only looked for in a record some value of which was left out."""
    return any(True for _ in problems) and _has_surrogate(raw)


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_surrogate(key) or _has_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def writable_raw(value: Any) -> Any:
    """``value`` with every lone surrogate replaced by U+FFFD: text that cannot be
    encoded as UTF-8 would make a write sending the record back fail for ever."""
    if isinstance(value, dict):
        return {writable_raw(key): writable_raw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [writable_raw(item) for item in value]
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    return value


def keeps_stored_status(problems: Iterable[ValueProblem]) -> bool:
    """Whether the record's status was left out (a value its mapping cannot read)."""
    return any(problem.field.endswith("-> status") for problem in problems)


def with_stored_status(contact: Contact, stored_payload: Any) -> Contact:
    """``contact`` with the status last staged for its record. An unreadable status is
    left out like any bad value, but the model's default ("active") would then speak
    for the record: a person made inactive there, then given a status contactsync does
    not know, would come back to life everywhere. The status last known stands instead."""
    status = stored_payload.get("status") if isinstance(stored_payload, dict) else None
    if not isinstance(status, str) or status not in set(ContactStatus):
        return contact  # nothing known before: the default stands
    return contact.model_copy(update={"status": ContactStatus(status)})
