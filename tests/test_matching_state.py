"""The sync engine's weights: fitted on what the state holds, kept there, refitted
when the records have grown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contactsync.matching.matcher import MatchConfig, PersonIndex
from contactsync.matching.stored_weights import fit_or_load, weights_from_json, weights_to_json
from contactsync.model.contact import Contact
from contactsync.state.sqlite.store import StateStore

SYSTEMS = ("trackops", "growcrm")


def person(number: int, system: str) -> Contact:
    fields: dict[str, Any] = {
        "first_name": ["Ann", "Tom", "Maria", "Kenji", "Priya", "Lucas"][number % 6],
        "last_name": f"Family{number}",
        "emails": [{"address": f"p{number}@example.com"}],
        "phones": [{"number": f"404-555-{1000 + number:04d}", "type": "mobile"}],
    }
    if system == "growcrm" and number % 3 == 0:
        fields["emails"] = []  # some copies lack the email: evidence varies
    return Contact.model_validate(fields, context={"default_region": "US"})


def index_of(people: int) -> PersonIndex:
    index = PersonIndex(MatchConfig())
    for number in range(people):
        for system in SYSTEMS:
            index.add((system, str(number)), person(number, system), f"P{number}")
    return index


def stored_count(state: StateStore) -> int | None:
    stored = state.stored_match_weights()
    return None if stored is None else stored[1]


def test_weights_are_fitted_once_kept_and_refitted_when_the_records_grew(
    tmp_path: Path,
) -> None:
    with StateStore.open(tmp_path / "state.db") as state:
        assert fit_or_load(index_of(150), state) == "fitted"
        assert stored_count(state) == 300
        loaded = index_of(150)
        assert fit_or_load(loaded, state) == "stored"
        assert loaded.weights.fitted  # scores with the stored weights, not the defaults
        assert fit_or_load(index_of(170), state) == "stored"  # grown by 13 %: kept
        assert fit_or_load(index_of(185), state) == "fitted"  # grown by 23 %: refitted
        assert stored_count(state) == 370
    with StateStore.open(tmp_path / "state.db") as state:  # kept across runs
        assert fit_or_load(index_of(185), state) == "stored"


def test_stored_weights_score_as_the_fitted_ones(tmp_path: Path) -> None:
    fitted = index_of(150)
    assert fitted.fit()
    loaded = index_of(150)
    weights = weights_from_json(weights_to_json(fitted.weights))
    assert weights is not None
    loaded.use_weights(weights)
    a, b = person(7, "trackops"), person(7, "growcrm")
    assert loaded.score(a, b).score == fitted.score(a, b).score


def test_stored_weights_keep_whether_a_birthday_is_personal() -> None:
    fitted = index_of(150)
    assert fitted.fit()
    for personal in (True, False):
        fitted.weights.birthday_personal = personal
        weights = weights_from_json(weights_to_json(fitted.weights))
        assert weights is not None
        assert weights.birthday_personal is personal


def test_damaged_or_outdated_weights_are_fitted_again(tmp_path: Path) -> None:
    assert weights_from_json("not json") is None
    assert weights_from_json('{"m": {"first": {"exact": 0.9}}, "u": {}, "identifier_u": {},'
                             ' "matches_per_record": 1, "partners": 1,'
                             ' "prior_measured": false}') is None  # fmt: skip
    with StateStore.open(tmp_path / "state.db") as state:
        state.store_match_weights("garbage", 10000)
        assert fit_or_load(index_of(150), state) == "fitted"
        assert fit_or_load(PersonIndex(MatchConfig()), state) == "stored"
    with StateStore.open(tmp_path / "empty.db") as empty:
        assert fit_or_load(PersonIndex(MatchConfig()), empty) == "defaults"
