"""Pylon: the adapter, its client (auth, limits, error hints), its settings; one VENDOR."""

from contactsync.adapters.profile import VendorProfile
from contactsync.adapters.pylon.adapter import PylonAdapter
from contactsync.adapters.pylon.client import HTTP
from contactsync.adapters.pylon.settings import PylonSettings

VENDOR = VendorProfile(name="pylon", adapter=PylonAdapter, settings=PylonSettings, http=HTTP)

__all__ = ["VENDOR", "PylonAdapter", "PylonSettings"]
