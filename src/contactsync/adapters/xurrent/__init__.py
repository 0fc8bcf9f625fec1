"""Xurrent: the adapter, its client (auth, limits, error hints), its settings; one VENDOR."""

from contactsync.adapters.profile import VendorProfile
from contactsync.adapters.xurrent.adapter import XurrentAdapter
from contactsync.adapters.xurrent.client import HTTP
from contactsync.adapters.xurrent.settings import XurrentSettings

VENDOR = VendorProfile(name="xurrent", adapter=XurrentAdapter, settings=XurrentSettings, http=HTTP)

__all__ = ["VENDOR", "XurrentAdapter", "XurrentSettings"]
