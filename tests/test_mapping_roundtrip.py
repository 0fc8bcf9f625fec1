"""Acceptance: each system's documented example record maps in and back out intact.

Each fixture in tests/fixtures/vendor_examples/ holds a vendor-shaped ``record``, the
``canonical`` fields it must map to, ``normalised`` outbound values where the mapping
documents a normalisation (E.164 phones), and ``read_back_as`` where a field is written
under another name than it is read (Grow CRM's position / job_position).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contactsync.adapters.registry import SYSTEMS
from contactsync.mapping.mapper import Mapping, load_mappings
from contactsync.mapping.paths import MISSING, parse_path, read_path

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "mappings"
EXAMPLES = Path(__file__).parent / "fixtures" / "vendor_examples"


@pytest.fixture(scope="module")
def mappings() -> dict[str, Mapping]:
    return load_mappings(MAPPINGS)


def example(system: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{system}.json").read_text())
    return loaded


def test_every_system_has_a_mapping_and_an_example(mappings: dict[str, Mapping]) -> None:
    assert sorted(mappings) == sorted(SYSTEMS)
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(SYSTEMS)


@pytest.mark.parametrize("system", SYSTEMS)
def test_example_maps_in_to_the_expected_contact(mappings: dict[str, Mapping], system: str) -> None:
    fixture = example(system)
    contact, errors = mappings[system].inbound(fixture["record"])
    assert errors == []
    assert contact is not None
    dumped = contact.model_dump(mode="json")
    for field, expected in fixture["canonical"].items():
        assert dumped[field] == expected, field


@pytest.mark.parametrize("system", SYSTEMS)
def test_example_maps_back_out_with_every_outbound_field_preserved(
    mappings: dict[str, Mapping], system: str
) -> None:
    mapping = mappings[system]
    fixture = example(system)
    record = fixture["record"]
    contact, errors = mapping.inbound(record)
    assert contact is not None, errors
    payload = mapping.outbound(contact)

    assert mapping.outbound_rules, "a mapping with nothing to write"
    for rule in mapping.outbound_rules:
        read_as = fixture["read_back_as"].get(rule.target, rule.target)
        original = read_path(record, parse_path(read_as))
        assert original is not MISSING, f"the {system} example lacks {read_as}: add it"
        expected = fixture["normalised"].get(rule.target, original)
        written = read_path(payload, parse_path(rule.target))
        assert written == expected, f"{system}: {rule.target}"


@pytest.mark.parametrize("system", SYSTEMS)
def test_outbound_writes_only_mapped_fields(mappings: dict[str, Mapping], system: str) -> None:
    mapping = mappings[system]
    contact, _ = mapping.inbound(example(system)["record"])
    assert contact is not None
    mapped_roots = {parse_path(target)[0] for target in mapping.outbound_fields}
    assert {parse_path(key)[0] for key in mapping.outbound(contact)} <= mapped_roots


@pytest.mark.parametrize("system", SYSTEMS)
def test_second_round_trip_is_stable(mappings: dict[str, Mapping], system: str) -> None:
    """Reading what we wrote gives the same person (no drift between syncs)."""
    mapping = mappings[system]
    first, _ = mapping.inbound(example(system)["record"])
    assert first is not None
    payload = mapping.outbound(first)
    # give the read side what the vendor would echo back under its read names (a field
    # written in another shape than it is read, Pylon's custom_fields, keeps its read form)
    read_back_as = example(system)["read_back_as"]
    reshaped = {target.split("[")[0] for target in read_back_as if "[" in target}
    echoed = {
        **example(system)["record"],
        **{key: value for key, value in payload.items() if key not in reshaped},
    }
    second, errors = mapping.inbound(echoed)
    assert errors == []
    assert second is not None
    assert second.content_hash() == first.content_hash()
