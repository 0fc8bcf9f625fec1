"""The registry is the one list of systems: everything that lists them derives from it."""

from __future__ import annotations

import pytest

from contactsync.adapters.registry import SYSTEMS, VENDORS, VendorProfile, adapter_class, vendor
from contactsync.config.settings import Settings
from contactsync.config.systems import SYSTEM_MODELS, SystemsTable


def test_systems_come_from_the_registry_in_the_canonical_order() -> None:
    assert SYSTEMS == ("trackops", "growcrm", "rhythm", "pylon", "xurrent")
    assert tuple(profile.name for profile in VENDORS) == SYSTEMS
    assert tuple(SYSTEM_MODELS) == SYSTEMS
    assert tuple(SystemsTable().as_dict()) == SYSTEMS
    assert tuple(Settings().systems) == SYSTEMS


@pytest.mark.parametrize("profile", VENDORS, ids=lambda p: p.name)
def test_each_profile_names_one_system_throughout(profile: VendorProfile) -> None:
    found = vendor(profile.name)
    assert found is profile
    assert adapter_class(found.name) is found.adapter
    assert found.adapter.system == found.settings.name == found.name
    assert found.unique_fields == found.adapter.unique_fields


def test_the_vendors_http_facts_live_in_their_profiles() -> None:
    assert vendor("pylon").bucket_for("GET", "/contacts/abc") == "GET /contacts/{id}"
    assert vendor("pylon").budgets["DELETE /contacts/{id}"].requests == 10
    assert vendor("xurrent").budgets["*"].per_seconds == 2.0
    assert vendor("growcrm").quota_window == 60.0
    assert "tenant limit" in vendor("rhythm").error_hints[429]
    assert not vendor("trackops").budgets
    assert vendor("trackops").quota_window is None


def test_an_unknown_system_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: trackops, growcrm, rhythm, pylon, xurrent"):
        vendor("nope")
