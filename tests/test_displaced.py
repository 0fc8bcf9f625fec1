"""Items our writes displaced from a record stay its users' word (contactsync.engine.displaced)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contactsync.engine.displaced import restore_displaced
from contactsync.engine.golden import SourceContact
from contactsync.model.contact import Contact
from contactsync.model.field_changes import FieldTime

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def contact(*emails: str, phones: tuple[str, ...] = ()) -> Contact:
    return Contact.model_validate(
        {
            "first_name": "Sergei",
            "emails": [{"address": a} for a in emails],
            "phones": [{"number": n} for n in phones],
        }
    )


def source(system: str, held: Contact, users: Contact | None, own: tuple[str, ...] = ()) -> Any:
    times = {
        f"emails:{e.address}": FieldTime(T0, "vendor", own=e.address in own) for e in held.emails
    }
    content = None if users is None else users.model_dump(mode="json")
    return SourceContact(system, "1", held, T0, field_times=times, users_content=content)


def test_an_address_our_write_replaced_in_a_single_slot_is_added_back_after_the_payloads() -> None:
    ours, theirs = "gupta.sergei@example.com", "sergeigupta@crescentrealty.com.au"
    xurrent = source(
        "xurrent", contact(ours), contact(theirs, phones=("+14045550100",)), own=(ours,)
    )
    rhythm = source("rhythm", contact(ours, theirs), None, own=(ours, theirs))
    restored = {s.system: s for s in restore_displaced([xurrent, rhythm])}
    # the payload's primary stays the primary
    assert [e.address for e in restored["xurrent"].contact.emails] == [ours, theirs]
    assert [p.number for p in restored["xurrent"].contact.phones] == ["+14045550100"]
    assert restored["rhythm"] is rhythm


def test_an_address_another_record_holds_as_its_users_word_is_left_to_survivorship() -> None:
    grow = source("growcrm", contact("jose59@x.example"), contact("jf@x.example"),
                  own=("jose59@x.example",))  # fmt: skip
    xurrent = source("xurrent", contact("jf@x.example"), contact("jf@x.example"))
    assert restore_displaced([grow, xurrent]) == [grow, xurrent]


def test_no_users_content_or_nothing_displaced_leaves_the_sources_as_they_are() -> None:
    plain = source("trackops", contact("a@x.example"), None)
    same = source("pylon", contact("a@x.example"), contact("a@x.example"))
    broken = source("growcrm", contact("a@x.example"), None)
    broken = SourceContact("growcrm", "1", broken.contact, T0, users_content={"emails": 5})
    assert restore_displaced([plain, same, broken]) == [plain, same, broken]
