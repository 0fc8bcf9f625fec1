"""The simulated users' hand edits: a reformatted phone is still the same number."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from contactsync_sandbox._user_edits import reformat_phone


@pytest.mark.parametrize(
    "written", ["503-555-1135 x841", "(503) 555-1135", "+1 503 555 1135 ext. 12", "5035551135"]
)
def test_a_reformatted_phone_keeps_its_number_and_extension(written: str) -> None:
    before = phonenumbers.parse(written, "US")
    for seed in range(20):
        again = reformat_phone(written, random.Random(seed))
        assert again != written
        after = phonenumbers.parse(again, "US")
        assert (after.national_number, after.extension) == (
            before.national_number,
            before.extension,
        ), again
