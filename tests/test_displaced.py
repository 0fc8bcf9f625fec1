"""Items our writes displaced from a record stay its users' word (contactsync.displaced)."""

from __future__ import annotations

from contactsync.displaced import with_displaced_items
from contactsync.models import Contact


def contact(*emails: str, phones: tuple[str, ...] = ()) -> Contact:
    return Contact.model_validate(
        {
            "first_name": "Sergei",
            "emails": [{"address": a} for a in emails],
            "phones": [{"number": n} for n in phones],
        }
    )


def test_an_address_our_write_replaced_in_a_single_slot_is_kept_after_the_payloads() -> None:
    ours = contact("gupta.sergei@example.com")
    theirs = contact("sergeigupta@crescentrealty.com.au", phones=("+14045550100",))
    kept = with_displaced_items(ours, theirs.model_dump(mode="json"))
    assert [e.address for e in kept.emails] == [
        "gupta.sergei@example.com",  # the payload's primary stays the primary
        "sergeigupta@crescentrealty.com.au",
    ]
    assert [p.number for p in kept.phones] == ["+14045550100"]


def test_nothing_displaced_or_no_users_content_leaves_the_payload_as_it_is() -> None:
    ours = contact("a@x.example")
    assert with_displaced_items(ours, None) is ours
    assert with_displaced_items(ours, ours.model_dump(mode="json")) is ours
    assert with_displaced_items(ours, {"emails": "not a list"}) is ours
